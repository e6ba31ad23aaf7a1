// test_checkpoint.c: saving and restoring a run: a resume mid-epoch is bit-identical (weights,
// optimiser, log), and defective checkpoints (truncated, corrupt, another version, not a
// checkpoint, missing, another model) are refused with a clear message; the tensor table
// tells variants of the same size apart, and checkpoints without one (older) still load;
// Smith's Caffe ResNet with ghost batch-norm resumes bit-identically, and its checkpoints
// and the other archs' are refused for each other.
#include "checkpoint.h"
#include "test.h"
#include "testdata.h"
#include "train.h"
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

// Drops the last two columns (seconds, images_per_sec): wall time differs between runs.
static void strip_timing(char *csv) {
    char *out = csv;
    for (char *line = csv; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int commas = 0;
        size_t keep = len;
        for (size_t i = len; i > 0; i--)
            if (line[i - 1] == ',' && ++commas == 2) {
                keep = i - 1;
                break;
            }
        memmove(out, line, keep);
        out += keep;
        *out++ = '\n';
        line += len + (nl ? 1 : 0);
    }
    *out = 0;
}

static void test_resume_exact(const char *data) {
    test_begin("resume mid-epoch is bit-identical");
    static Config c1, c2, c3;
    Trainer a, b;
    Err e = {0};
    char dira[400], dirb[400], ckpt[500];
    snprintf(dira, sizeof dira, "%s", test_tmpdir());
    snprintf(dirb, sizeof dirb, "%s", test_tmpdir());
    const char *text = testdata_tiny_config(data, 8);
    static char dump[65536];
    if (testdata_trainer(&a, &c1, text)) return;
    config_dump(&c1, dump, sizeof dump);
    EvalResult ra, rb;
    CHECK_EQ_INT(trainer_run(&a, dira, dump, &ra, &e), ERR_OK);
    // Same run, stopped after 5 of 16 steps (inside epoch 1), then resumed in a new trainer.
    if (testdata_trainer(&b, &c2, text)) return;
    b.stop_at_step = 5;
    int rc = trainer_run(&b, dirb, dump, NULL, &e);
    CHECK_EQ_INT(rc, ERR_INTERRUPTED);
    CHECK_STR_CONTAINS(e.msg, "resume with: onecycle train --resume");
    trainer_free(&b);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", dirb);
    char *saved;
    CHECK_EQ_INT(checkpoint_read_config(ckpt, &saved, &e), ERR_OK);
    if (testdata_trainer(&b, &c3, saved)) return;
    free(saved);
    CHECK_EQ_INT(checkpoint_load(&b, ckpt, &e), ERR_OK);
    CHECK_EQ_INT(b.step, 5);
    CHECK_EQ_INT(trainer_run(&b, dirb, dump, &rb, &e), ERR_OK);
    CHECK_EQ_INT(a.step, b.step);
    CHECK_MSG(!memcmp(a.net.params, b.net.params, sizeof(float) * a.net.nparams), "weights differ after resume");
    CHECK_MSG(!memcmp(a.net.stats, b.net.stats, sizeof(float) * a.net.nstats), "BN statistics differ after resume");
    CHECK_MSG(!memcmp(a.optim.v, b.optim.v, sizeof(float) * a.net.nparams), "momentum buffers differ after resume");
    CHECK(ra.acc == rb.acc && ra.loss == rb.loss);
    char pa[500], pb[500];
    snprintf(pa, sizeof pa, "%s/log.csv", dira);
    snprintf(pb, sizeof pb, "%s/log.csv", dirb);
    char *la = testdata_slurp(pa), *lb = testdata_slurp(pb);
    CHECK(la && lb);
    if (la && lb) {
        strip_timing(la);
        strip_timing(lb);
        CHECK_MSG(!strcmp(la, lb), "logs differ:\n%s\nvs\n%s", la, lb);
    }
    free(la);
    free(lb);
    trainer_free(&a);
    trainer_free(&b);
}

// ---- resume at every kind of step position --------------------------------------------
// Issue 13: a run stopped after the last step of an epoch logged that epoch with lr 0 and
// momentum 0 when resumed, and one stopped after the run's last step never logged its last
// epoch nor wrote its final checkpoint. An interrupted-and-resumed run must log exactly the
// rows of a straight run (timings aside), per epoch and per step, and end in the same state.

// images in batches of 32 for `epochs` epochs, per-step log, a cycling LR and momentum.
static const char *positions_config(const char *data, int images, int epochs) {
    static char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = %d\ntest_images = 64\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 32\nprogress = plain\nlog_iters = true\n"
             "[schedule]\nlr = 0.3\nepochs = %d\nuse_clr_beta = 10, 20, 0.95, 0.85\n",
             data, images, epochs);
    return text;
}

static int same_file_rows(const char *dira, const char *dirb, const char *name, int timing, const char *what) {
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%s", dira, name);
    snprintf(pb, sizeof pb, "%s/%s", dirb, name);
    char *la = testdata_slurp(pa), *lb = testdata_slurp(pb);
    int ok = CHECK_MSG(la && lb, "%s: %s missing", what, name);
    if (la && lb) {
        if (timing) {
            strip_timing(la);
            strip_timing(lb);
        }
        ok = CHECK_MSG(!strcmp(la, lb), "%s: %s differs from the straight run's:\n%s\nvs\n%s", what, name, lb, la);
    }
    free(la);
    free(lb);
    return ok;
}

// Trains the config straight in ref_dir (the reference), then for each stop position: a run
// stopped after that step, resumed in a new trainer from its checkpoint, must end with the
// straight run's weights, BN statistics, momentum, evaluation, log.csv and iters.csv.
static void resume_positions(const char *text, const long *stops, int nstops, const char *what) {
    static Config c1, c2, c3;
    static char dump[65536], refdir[400];
    Trainer a, b;
    Err e = {0};
    snprintf(refdir, sizeof refdir, "%s", test_tmpdir());
    if (testdata_trainer(&a, &c1, text)) return;
    config_dump(&c1, dump, sizeof dump);
    EvalResult ra, rb;
    CHECK_EQ_INT(trainer_run(&a, refdir, dump, &ra, &e), ERR_OK);
    for (int k = 0; k < nstops; k++) {
        char name[200], dir[400], ckpt[500];
        snprintf(name, sizeof name, "%s: stopped after step %ld of %ld, resumed", what, stops[k], a.step);
        test_begin(name);
        snprintf(dir, sizeof dir, "%s", test_tmpdir());
        if (testdata_trainer(&b, &c2, text)) return;
        b.stop_at_step = stops[k];
        CHECK_EQ_INT(trainer_run(&b, dir, dump, NULL, &e), ERR_INTERRUPTED);
        trainer_free(&b);
        snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", dir);
        char *saved = NULL;
        CHECK_EQ_INT(checkpoint_read_config(ckpt, &saved, &e), ERR_OK);
        int bad = !saved || testdata_trainer(&b, &c3, saved);
        free(saved);
        if (bad) return;
        CHECK_EQ_INT(checkpoint_load(&b, ckpt, &e), ERR_OK);
        CHECK_EQ_INT(b.step, stops[k]);
        CHECK_EQ_INT(trainer_run(&b, dir, dump, &rb, &e), ERR_OK);
        CHECK_EQ_INT(b.step, a.step);
        CHECK_EQ_INT(b.epoch, a.epoch);
        CHECK_MSG(!memcmp(a.net.params, b.net.params, sizeof(float) * a.net.nparams), "%s: weights differ", name);
        CHECK_MSG(!memcmp(a.net.stats, b.net.stats, sizeof(float) * a.net.nstats), "%s: BN statistics differ", name);
        CHECK_MSG(!memcmp(a.optim.v, b.optim.v, sizeof(float) * a.net.nparams), "%s: momentum buffers differ", name);
        CHECK_MSG(ra.acc == rb.acc && ra.loss == rb.loss, "%s: final evaluation differs", name);
        same_file_rows(refdir, dir, "log.csv", 1, name);
        same_file_rows(refdir, dir, "iters.csv", 0, name);
        // The final checkpoint is the end of the run, not the stop: resuming it again trains nothing.
        Trainer f;
        static Config cf;
        if (!testdata_trainer(&f, &cf, text)) {
            CHECK_EQ_INT(checkpoint_load(&f, ckpt, &e), ERR_OK);
            CHECK_MSG(f.step == a.step && !f.loader.in_epoch, "%s: final checkpoint at step %ld, in epoch %d", name,
                      f.step, f.loader.in_epoch);
            trainer_free(&f);
        }
        trainer_free(&b);
    }
    trainer_free(&a);
}

static void test_resume_positions(const char *data) {
    // 3 steps per epoch, 2 epochs: the first step of the run (and of epoch 1), a middle one,
    // the last of epoch 1, the first of epoch 2, the last of the run.
    static const long stops[] = {1, 2, 3, 4, 6};
    resume_positions(positions_config(data, 96, 2), stops, 5, "3 steps/epoch");
    // One step per epoch (where issue 13 saw lr 0 every time): every step is an epoch's last.
    static const long one[] = {1, 2, 3};
    resume_positions(positions_config(data, 32, 3), one, 3, "1 step/epoch");
    // Smith's Caffe ResNet-8 with ghost batch-norm in runs of 12 of the batches of 32 (12 +
    // 12 + 8), stopped mid-epoch and at an epoch's end.
    static char caffe[1200];
    snprintf(caffe, sizeof caffe,
             "[data]\ndir = %s\ntrain_images = 96\ntest_images = 64\n[model]\narch = caffe\ndepth = 8\n"
             "[train]\nbatch_size = 32\nbn_group = 12\nprogress = plain\nlog_iters = true\n"
             "[schedule]\nlr = 0.3\nepochs = 2\nuse_clr_beta = 10, 20, 0.95, 0.85\n",
             data);
    static const long mid[] = {2, 3};
    resume_positions(caffe, mid, 2, "caffe, bn_group 12");
}

static void write_bytes(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

// The offset of a section's bytes (after its tag and length), or 0.
static size_t section_offset(const unsigned char *b, size_t n, const char *tag) {
    size_t off = 12;
    while (off + 12 <= n - 4) {
        uint64_t len;
        memcpy(&len, b + off + 4, 8);
        if (!memcmp(b + off, tag, 4)) return off + 12;
        off += 12 + len;
    }
    return 0;
}

static void test_bad_checkpoints(const char *data) {
    static Config c, c2;
    Trainer t;
    Err e = {0};
    const char *dir = test_tmpdir();
    if (testdata_trainer(&t, &c, testdata_tiny_config(data, 8))) return;
    t.stop_at_step = 1;
    trainer_run(&t, dir, "[model]\ndepth = 8\n", NULL, &e);
    char good[500], bad[500];
    snprintf(good, sizeof good, "%s/checkpoint.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    FILE *f = fopen(good, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(n);
    CHECK_EQ_INT(fread(buf, 1, n, f), n);
    fclose(f);

    test_begin("truncated checkpoint");
    write_bytes(bad, buf, n - 100);
    CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "truncated");
    test_begin("flipped byte");
    buf[n / 2] ^= 0x40;
    write_bytes(bad, buf, n);
    CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "corrupt");
    buf[n / 2] ^= 0x40;
    test_begin("wrong version");
    buf[8] = 99;
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(n - 4)); // a well-formed file of another version
    unsigned char saved_crc[4];
    memcpy(saved_crc, buf + n - 4, 4);
    memcpy(buf + n - 4, &crc, 4);
    write_bytes(bad, buf, n);
    memcpy(buf + n - 4, saved_crc, 4);
    CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "version 99");
    buf[8] = 1;
    test_begin("not a checkpoint");
    write_bytes(bad, (const unsigned char *)"hello, this is not a checkpoint file", 36);
    CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "not an onecycle checkpoint");
    // Issue 13: a huge file was read whole before its magic was checked (a 3 GB sparse file
    // took 3.1 GB and 19 s before "bad magic"; 100 GB: out of memory, exit 1).
    test_begin("a checkpoint with 1 MB appended is refused from its section headers");
    unsigned char *big = calloc(n + (1 << 20), 1);
    memcpy(big, buf, n);
    write_bytes(bad, big, n + (1 << 20));
    free(big);
    CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "section");
    test_begin("a sparse 256 MB file with a checkpoint header is refused without reading it");
    write_bytes(bad, buf, 12);
    CHECK_EQ_INT(truncate(bad, 256L << 20), 0);
    char *text = NULL;
    CHECK_EQ_INT(checkpoint_read_config(bad, &text, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "more than 64 sections");
    free(text);
    test_begin("a section longer than the file");
    {
        unsigned char *c = malloc(n);
        memcpy(c, buf, n);
        size_t off = section_offset(c, n, "PARM");
        uint64_t huge = (uint64_t)1 << 40;
        if (CHECK(off > 12)) memcpy(c + off - 8, &huge, 8);
        write_bytes(bad, c, n);
        CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "does not fit the file");
        free(c);
    }
    // Issue 13: a checkpoint with a valid CRC and NaN weights loaded and evaluated.
    static const char *const nan_sections[] = {"PARM", "STAT"};
    for (int k = 0; k < 2; k++) {
        char name[80];
        snprintf(name, sizeof name, "a NaN in the %s section under a valid CRC is refused", nan_sections[k]);
        test_begin(name);
        unsigned char *c = malloc(n);
        memcpy(c, buf, n);
        size_t off = section_offset(c, n, nan_sections[k]);
        float nan = NAN;
        if (CHECK(off > 12)) memcpy(c + off + 4 * 7, &nan, 4);
        uint32_t crc2 = (uint32_t)crc32(0, c, (uInt)(n - 4));
        memcpy(c + n - 4, &crc2, 4);
        write_bytes(bad, c, n);
        CHECK_EQ_INT(checkpoint_load_weights(&t.net, bad, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "non-finite weights");
        CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
        free(c);
    }
    // Issue 35: finite but absurd values under a valid CRC loaded (3e38 weights overflow the
    // forward pass, a negative running variance is no variance), as did a NaN momentum.
    {
        const BnLayer *bn = t.net.bns[0];
        static const struct {
            const char *name, *tag, *want;
            long at; // float index into the section (OPTM: after its record)
            float value;
        } cases[] = {
            {"a weight of 3e38 under a valid CRC is refused", "PARM", "conv1.weight[5] = 3e+38", 5, 3e38f},
            {"a weight of -2e6 under a valid CRC is refused", "PARM", "beyond any trained weight", 5, -2e6f},
            {"a negative running variance under a valid CRC is refused", "STAT",
             "negative batch-norm running variance (-0.5, channel 3 of batch-norm layer 1)", -1, -0.5f},
            {"a running mean of 1e30 under a valid CRC is refused", "STAT", "running mean of 1e+30", 2, 1e30f},
            {"a NaN momentum under a valid CRC is refused", "OPTM", "optimiser state is not finite", 7, NAN},
        };
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            test_begin(cases[k].name);
            unsigned char *c = malloc(n);
            memcpy(c, buf, n);
            size_t off = section_offset(c, n, cases[k].tag);
            long at = cases[k].at >= 0 ? cases[k].at : bn->run + bn->C + 3;
            if (!strcmp(cases[k].tag, "OPTM")) off += 24; // OptimRecord: kind, has_second, step, n
            if (CHECK(off > 12)) memcpy(c + off + 4 * at, &cases[k].value, 4);
            uint32_t crc2 = (uint32_t)crc32(0, c, (uInt)(n - 4));
            memcpy(c + n - 4, &crc2, 4);
            write_bytes(bad, c, n);
            CHECK_EQ_INT(checkpoint_load(&t, bad, &e), ERR_INPUT);
            CHECK_STR_CONTAINS(e.msg, cases[k].want);
            if (strcmp(cases[k].tag, "OPTM")) {
                CHECK_EQ_INT(checkpoint_load_weights(&t.net, bad, &e), ERR_INPUT);
                CHECK_STR_CONTAINS(e.msg, cases[k].want);
            }
            free(c);
        }
        // Within the bounds every value may be, and yet the forward overflows: weights of
        // 9e5 and running variances of 0 make ResNet-8's logits Inf. eval refuses the NaN
        // loss (it printed "test_loss: nan" and exit 0).
        test_begin("eval of a checkpoint whose model gives a non-finite loss exits 2");
        unsigned char *c = malloc(n);
        memcpy(c, buf, n);
        size_t po = section_offset(c, n, "PARM"), so = section_offset(c, n, "STAT");
        if (CHECK(po > 12 && so > 12)) {
            const float big = 9e5f, zero = 0;
            for (long i = 0; i < t.net.nparams; i++) memcpy(c + po + 4 * i, &big, 4);
            for (int l = 0; l < t.net.nbns; l++)
                for (int ch = 0; ch < t.net.bns[l]->C; ch++)
                    memcpy(c + so + 4 * (t.net.bns[l]->run + t.net.bns[l]->C + ch), &zero, 4);
        }
        uint32_t crc2 = (uint32_t)crc32(0, c, (uInt)(n - 4));
        memcpy(c + n - 4, &crc2, 4);
        write_bytes(bad, c, n);
        free(c);
        CHECK_EQ_INT(checkpoint_load_weights(&t.net, bad, &e), ERR_OK);
        char cmd[1200];
        static char out[8192];
        snprintf(cmd, sizeof cmd, "%s eval %s --threads 1", testdata_bin(), bad);
        int rc = testdata_run(cmd, out, sizeof out);
        CHECK_MSG(rc == ERR_INPUT, "exit %d (want %d)\n%s", rc, ERR_INPUT, out);
        CHECK_STR_CONTAINS(out, "non-finite test loss");
        CHECK(!strstr(out, "test_loss: nan"));
    }
    test_begin("missing checkpoint");
    CHECK_EQ_INT(checkpoint_load(&t, "/nonexistent/x.ckpt", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "cannot open checkpoint");
    trainer_free(&t);
    test_begin("model shape mismatch");
    if (testdata_trainer(&t, &c2, testdata_tiny_config(data, 14))) return;
    CHECK_EQ_INT(checkpoint_load(&t, good, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "ResNet-8");
    CHECK_STR_CONTAINS(e.msg, "ResNet-14");
    trainer_free(&t);
    free(buf);
}

// Issue 35: the first checkpoint of a run failing (a full disk; here the file-size limit,
// which fails the write the same way) said "the previous checkpoint is kept" when there was
// none, and running the command again advised --resume DIR/checkpoint.ckpt, which did not
// exist.
static void test_first_checkpoint_fails(const char *data) {
    test_begin("a first checkpoint that cannot be written promises no previous one, nor --resume");
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(data, 8));
    static char out[65536];
    char cmd[2048], run[600], ck[700];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.ckpt", run);
    // 400 blocks (200 or 400 KB, by the shell's block size): the logs and plots fit, the
    // 600 KB checkpoint does not; SIGXFSZ ignored, so the write fails with EFBIG.
    snprintf(cmd, sizeof cmd,
             "trap '' XFSZ; ulimit -f 400; %s train %s --set data.train_images=255 --set schedule.epochs=1 "
             "--set schedule.lr=0.05 --threads 1 --out %s",
             testdata_bin(), cfg, run);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_RUNTIME, "exit %d (want %d)\n%s", rc, ERR_RUNTIME, out);
    CHECK_STR_CONTAINS(out, "writing the checkpoint failed");
    CHECK_STR_CONTAINS(out, "no checkpoint has been written yet");
    CHECK_MSG(!strstr(out, "previous checkpoint is kept"), "promises a checkpoint that is not there:\n%s", out);
    CHECK(!fs_exists(ck));
    snprintf(cmd, sizeof cmd, "%s train %s --set data.train_images=255 --set schedule.epochs=1 --threads 1 --out %s",
             testdata_bin(), cfg, run);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT, "rerun: exit %d (want %d)\n%s", rc, ERR_INPUT, out);
    CHECK_STR_CONTAINS(out, "no checkpoint to resume");
    CHECK_MSG(!strstr(out, "--resume"), "advises a resume of nothing:\n%s", out);
}

// Issue 35: train --resume A/checkpoint.ckpt --out B of a finished run gave B a log and a
// "finished" summary but no checkpoint; resumed from another working directory, a relative
// data.dir was not found and the message advised data.dir, which --resume cannot set.
static void test_resume_finished_elsewhere(const char *data) {
    test_begin("--resume of a finished run --out B gives B the run's checkpoint");
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(data, 8));
    static char out[65536];
    char cmd[4096], bin[PATH_MAX], a[600], ck[700], bck[700];
    if (!CHECK(realpath(testdata_bin(), bin) != NULL)) return;
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.ckpt", a);
    snprintf(bck, sizeof bck, "%s/B/checkpoint.ckpt", dir);
    snprintf(cmd, sizeof cmd,
             "%s train %s --set data.train_images=255 --set schedule.epochs=1 --set schedule.lr=0.05 --threads 1 "
             "--out %s",
             bin, cfg, a);
    int rc = testdata_run(cmd, out, sizeof out);
    if (!CHECK_MSG(rc == 0, "run A: exit %d\n%s", rc, out)) return;
    snprintf(cmd, sizeof cmd, "%s train --resume %s --threads 1 --out %s/B", bin, ck, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "resume --out B: exit %d\n%s", rc, out);
    long sa = -1, sb = -2;
    Err e = {0};
    CHECK_EQ_INT(checkpoint_read_step(ck, &sa, &e), ERR_OK);
    CHECK_MSG(checkpoint_read_step(bck, &sb, &e) == ERR_OK, "B has no checkpoint: %s", e.msg);
    CHECK_EQ_INT(sb, sa);

    test_begin("--resume from another working directory: a relative data.dir says how, --data DIR resumes");
    CHECK_MSG(data[0] != '/', "the test data directory %s is not relative", data);
    char abs[PATH_MAX];
    if (!CHECK(realpath(data, abs) != NULL)) return;
    snprintf(cmd, sizeof cmd, "cd %s && %s train --resume %s --threads 1 --out %s/C", dir, bin, ck, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT, "exit %d (want %d)\n%s", rc, ERR_INPUT, out);
    CHECK_STR_CONTAINS(out, "relative to the directory the run was started in");
    CHECK_STR_CONTAINS(out, "--data DIR");
    snprintf(cmd, sizeof cmd, "cd %s && %s train --resume %s --threads 1 --out %s/C --data %s", dir, bin, ck, dir,
             abs);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "with --data: exit %d\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s train %s --data %s --out %s/D", bin, cfg, abs, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT && strstr(out, "--data goes with --resume"), "--data on a new run: exit %d\n%s", rc,
              out);
}

// The tiny config with [model] arch = preact.
static const char *preact_config(const char *data, int depth) {
    static char text[2200];
    const char *base = testdata_tiny_config(data, depth), *at = strstr(base, "[model]\n");
    snprintf(text, sizeof text, "%.*s[model]\narch = preact\n%s", (int)(at - base), base, at + 8);
    return text;
}

static unsigned char *slurp_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*n);
    if (fread(buf, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return buf;
}

static void test_tensor_table(const char *data) {
    static Config cr, cp, cq;
    Trainer r, p;
    Err e = {0};
    char path[500], forged[500];
    snprintf(path, sizeof path, "%s/preact.ckpt", test_tmpdir());
    snprintf(forged, sizeof forged, "%s/forged.ckpt", test_tmpdir());

    test_begin("a preact checkpoint loads into preact, not into resnet of the same size");
    if (testdata_trainer(&r, &cr, testdata_tiny_config(data, 8))) return;
    if (testdata_trainer(&p, &cp, preact_config(data, 8))) return;
    CHECK_EQ_INT(p.net.nparams, r.net.nparams); // 75290 both: the size cannot tell them apart
    CHECK_EQ_INT(p.net.nstats, r.net.nstats);
    CHECK_EQ_INT(checkpoint_save(&p, preact_config(data, 8), path, &e), ERR_OK);
    CHECK_EQ_INT(checkpoint_load_weights(&r.net, path, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "checkpoint holds pre-activation ResNet-8 option A");
    CHECK_STR_CONTAINS(e.msg, "the config asks for ResNet-8 option A");
    CHECK_STR_CONTAINS(e.msg, "tensor 1 is layer1.0.bn1.weight (16) in the checkpoint, bn1.weight (16) in the model");
    Trainer q;
    if (testdata_trainer(&q, &cq, preact_config(data, 8))) return;
    CHECK_MSG(checkpoint_load_weights(&q.net, path, &e) == ERR_OK, "%s", e.msg);
    CHECK(!memcmp(q.net.params, p.net.params, sizeof(float) * (size_t)p.net.nparams));
    trainer_free(&q);

    // The same file with the model record's arch rewritten to resnet (CRC fixed): the
    // tensor table alone refuses it.
    test_begin("the tensor table alone tells the variants apart");
    size_t n = 0;
    unsigned char *buf = slurp_bytes(path, &n), *modl = buf && n ? memmem(buf, n, "MODL", 4) : NULL;
    CHECK(modl != NULL && memmem(buf, n, "TENS", 4) != NULL);
    if (modl) {
        int32_t arch = 0;
        memcpy(modl + 12 + 12, &arch, 4); // tag, length, then depth, shortcut_b, classes, arch
        uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
        memcpy(buf + n - 4, &crc, 4);
        FILE *f = fopen(forged, "wb");
        if (f) {
            fwrite(buf, 1, n, f);
            fclose(f);
        }
        CHECK_EQ_INT(checkpoint_load_weights(&r.net, forged, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "checkpoint holds ResNet-8 option A");
        CHECK_STR_CONTAINS(e.msg, "tensor 1 is layer1.0.bn1.weight");
    }
    free(buf);

    // tests/fixtures/guard_*.ckpt were written before the table (and arch) existed.
    test_begin("a checkpoint without a tensor table loads into resnet, and is refused for preact");
    buf = slurp_bytes("tests/fixtures/guard_sgd_end.ckpt", &n);
    CHECK(buf && n > 0 && memmem(buf, n, "TENS", 4) == NULL);
    free(buf);
    CHECK_EQ_INT(checkpoint_load_weights(&r.net, "tests/fixtures/guard_sgd_end.ckpt", &e), ERR_OK);
    CHECK_EQ_INT(checkpoint_load_weights(&p.net, "tests/fixtures/guard_sgd_end.ckpt", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "checkpoint holds ResNet-8 option A");
    CHECK_STR_CONTAINS(e.msg, "the config asks for pre-activation ResNet-8 option A");

    // Smith's Caffe ResNet ([model] arch = caffe) against the others, both ways, and an old
    // checkpoint (no table: resnet) refused for it.
    test_begin("a caffe checkpoint loads into caffe only; other checkpoints are refused for caffe");
    static Config cc, cd;
    Trainer k, k2;
    char caffe[2400];
    const char *tiny = testdata_tiny_config(data, 8), *at = strstr(tiny, "[model]\n");
    snprintf(caffe, sizeof caffe, "%.*s[model]\narch = caffe\n%s", (int)(at - tiny), tiny, at + 8);
    snprintf(forged, sizeof forged, "%s/caffe.ckpt", test_tmpdir());
    if (testdata_trainer(&k, &cc, caffe)) return;
    CHECK_EQ_INT(checkpoint_save(&k, caffe, forged, &e), ERR_OK);
    CHECK_EQ_INT(checkpoint_load_weights(&r.net, forged, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "checkpoint holds Caffe ResNet-8 (Smith) (81354 parameters, 10 classes) but the config "
                              "asks for ResNet-8 option A (75290 parameters");
    CHECK_EQ_INT(checkpoint_load_weights(&k.net, path, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "checkpoint holds pre-activation ResNet-8 option A");
    CHECK_STR_CONTAINS(e.msg, "the config asks for Caffe ResNet-8 (Smith)");
    CHECK_EQ_INT(checkpoint_load_weights(&k.net, "tests/fixtures/guard_sgd_end.ckpt", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "checkpoint holds ResNet-8 option A");
    if (testdata_trainer(&k2, &cd, caffe)) return;
    CHECK_MSG(checkpoint_load_weights(&k2.net, forged, &e) == ERR_OK, "%s", e.msg);
    CHECK(!memcmp(k2.net.params, k.net.params, sizeof(float) * (size_t)k.net.nparams));
    trainer_free(&k);
    trainer_free(&k2);
    trainer_free(&r);
    trainer_free(&p);
}

// A model does not carry over between data sets: a checkpoint records its data set (DATA),
// and loading it into a model built for another set is refused naming both, before the
// size comparison (which would only say that parameters differ, or nothing at all for a
// set of the same shape). Checkpoints without the section were trained on CIFAR-10.
static void test_dataset_record(const char *data) {
    static Config c;
    Trainer t;
    Err e = {0};
    char path[500];
    snprintf(path, sizeof path, "%s/cifar10.ckpt", test_tmpdir());
    test_begin("a checkpoint records its data set; another set's model refuses it");
    if (testdata_trainer(&t, &c, testdata_tiny_config(data, 8))) return;
    CHECK_EQ_INT(checkpoint_save(&t, testdata_tiny_config(data, 8), path, &e), ERR_OK);
    size_t n = 0;
    unsigned char *buf = slurp_bytes(path, &n);
    CHECK(buf && n > 0 && memmem(buf, n, "DATA", 4) != NULL && memmem(buf, n, "cifar10", 7) != NULL);
    free(buf);
    ModelOptions same = t.net.opt, gray = t.net.opt, renamed = t.net.opt;
    gray.channels = 1;
    gray.height = gray.width = 28;
    gray.dataset = "fashion-mnist";
    renamed.dataset = "cifar100"; // same shape, other images
    ResNet m;
    const struct {
        const ModelOptions *o;
        const char *ckpt;
        int rc;
        const char *msg;
    } cases[] = {
        {&same, path, ERR_OK, ""},
        {&gray, path, ERR_INPUT,
         "checkpoint was trained on cifar10 (3x32x32, 10 classes), but the config's data set is fashion-mnist "
         "(1x28x28, 10 classes); a model does not carry over between data sets"},
        {&renamed, path, ERR_INPUT, "trained on cifar10 (3x32x32, 10 classes), but the config's data set is cifar100"},
        {&same, "tests/fixtures/guard_sgd_end.ckpt", ERR_OK, ""}, // before the section: CIFAR-10
        {&gray, "tests/fixtures/guard_sgd_end.ckpt", ERR_INPUT, "checkpoint was trained on cifar10 (3x32x32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!CHECK_MSG(resnet_create(&m, cases[i].o, 8, &e) == ERR_OK, "%s", e.msg)) continue;
        e.msg[0] = 0;
        CHECK_MSG(checkpoint_load_weights(&m, cases[i].ckpt, &e) == cases[i].rc, "case %zu: %s", i, e.msg);
        CHECK_STR_CONTAINS(e.msg, cases[i].msg);
        resnet_free(&m);
    }
    trainer_free(&t);
}

void suite_checkpoint(void) {
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_begin("checkpoint");
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    test_resume_exact(data);
    test_resume_positions(data);
    test_bad_checkpoints(data);
    test_first_checkpoint_fails(data);
    test_resume_finished_elsewhere(data);
    test_tensor_table(data);
    test_dataset_record(data);
}
