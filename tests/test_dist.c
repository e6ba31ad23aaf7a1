// test_dist.c: data-parallel training (dist.h). In every build: the world of one process
// (reductions are no-ops, agreement passes the outcome through). In the MPI build (make
// mpi-test, CI) the binary under mpirun, 2 ranks on loopback: N ranks train what one
// process trains (the equivalence test), a 2-rank run stopped by SIGTERM on rank 1 resumes
// with 2 ranks and with 1 and ends where a straight run does, and a failure on one rank
// ends both ranks with that rank's message. Without MPI, or without mpirun or the CIFAR-10 files,
// those record a skip.
#include "checkpoint.h"
#include "cifar.h"
#include "dist.h"
#include "fixture.h"
#include "resnet.h"
#include "test.h"
#include "testdata.h"
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static void test_world_of_one(void) {
    test_begin("dist: a process not started by mpirun is a world of one");
    CHECK_EQ_INT(dist_world(), 1);
    CHECK_EQ_INT(dist_rank(), 0);
    float f[3] = {1.5f, -2.0f, 3.25f};
    double d[2] = {0.1, 7.0};
    dist_sum_float(f, 3);
    dist_sum_double(d, 2);
    CHECK(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.25f);
    CHECK(d[0] == 0.1 && d[1] == 7.0);
    CHECK_EQ_INT(dist_any(0), 0);
    CHECK_EQ_INT(dist_any(5), 1);
    Err e = {0};
    CHECK_EQ_INT(dist_agree(ERR_OK, &e), ERR_OK);
    err_set(&e, ERR_INPUT, "bad file");
    CHECK_EQ_INT(dist_agree(ERR_INPUT, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "bad file");
    CHECK(!strstr(e.msg, "rank")); // one process names no rank
}

static void test_info_says(void) {
    test_begin("dist: onecycle info says whether MPI is compiled in");
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "i.cfg", "[data]\ntrain_images = 500\n[model]\ndepth = 8\n[schedule]\nepochs = 1\n");
    char args[600];
    snprintf(args, sizeof args, "info %s", cfg);
    const char *out = testdata_expect("dist: info", 0, "MPI: ", args);
    if (dist_compiled())
        CHECK_STR_CONTAINS(out, "Open MPI");
    else
        CHECK_STR_CONTAINS(out, "not compiled in");
}

// ---- under mpirun (MPI build only) ----------------------------------------------------

#define MPIRUN "mpirun --allow-run-as-root --oversubscribe"

// Why the mpirun tests cannot run here, or NULL.
static const char *mpi_skip_reason(void) {
    if (!dist_compiled()) return "not the MPI build (make mpi-test)";
    char out[256];
    if (testdata_run("command -v mpirun", out, sizeof out) != 0) return "no mpirun (apt-get install openmpi-bin)";
    if (!testdata_cifar_dir()) return "no CIFAR-10 files (make data)";
    return NULL;
}

// The largest |a - b| of the parameters of two checkpoints relative to their largest |b|,
// and the same of the running statistics: the larger of the two (max_rel_diff); the worst
// single tensor, relative to its own largest value, in *per_tensor (BN shifts and biases
// start at 0, so after a few steps theirs is float noise over a small scale). -1 when one
// cannot be read.
static double ckpt_rel_diff(const char *a, const char *b, double *per_tensor) {
    ModelOptions mo = {.arch = ARCH_RESNET, .depth = 8};
    model_options_set_input(&mo, &cifar10_shape);
    ResNet ma, mb;
    Err e = {0};
    if (resnet_create(&ma, &mo, 1, &e)) return -1;
    if (resnet_create(&mb, &mo, 1, &e)) {
        resnet_free(&ma);
        return -1;
    }
    double worst = -1;
    if (!checkpoint_load_weights(&ma, a, &e) && !checkpoint_load_weights(&mb, b, &e)) {
        worst = fmax(max_rel_diff(ma.stats, mb.stats, ma.nstats), max_rel_diff(ma.params, mb.params, ma.nparams));
        *per_tensor = 0;
        for (int i = 0; i < ma.ntensors; i++) {
            const ParamTensor *t = &ma.tensors[i];
            *per_tensor = fmax(*per_tensor, max_rel_diff(ma.params + t->off, mb.params + t->off, t->n));
        }
    } else {
        printf("  %s\n", e.msg);
    }
    resnet_free(&ma);
    resnet_free(&mb);
    return worst;
}

// "final test accuracy: 12.50% ..." line of an output, or "" (static).
static const char *final_line(const char *out) {
    static char line[128];
    line[0] = 0;
    const char *p = strstr(out, "final test accuracy:");
    if (p) snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
    return line;
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

// A few steps of the tiny run (ResNet-8, 255 images: 3 batches of 64 and one of 63, split
// 31/32 between 2 ranks; 1 epoch at a low LR, as training amplifies float differences
// step by step: at lr 0.3, 16 steps measured 3e-3 relative) one way and 2 ranks the other.
#define FEW_STEPS "--set data.train_images=255 --set schedule.epochs=1 --set schedule.lr=0.05"
static void test_equivalence(const char *why) {
    test_begin("dist: 2 ranks with sync_bn train what one process trains");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static char out1[65536], out2[65536];
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s train %s " FEW_STEPS " --threads 1 --out %s/one", testdata_bin(), cfg, dir);
    int rc1 = testdata_run(cmd, out1, sizeof out1);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s train %s " FEW_STEPS " --threads 1 --out %s/two", MPIRUN,
             testdata_bin(), cfg, dir);
    int rc2 = testdata_run(cmd, out2, sizeof out2);
    CHECK_MSG(rc1 == 0, "one process: %d\n%s", rc1, out1);
    CHECK_MSG(rc2 == 0, "2 ranks: %d\n%s", rc2, out2);
    if (rc1 || rc2) return;
    CHECK_STR_CONTAINS(out2, "2 ranks x 1 thread");
    // Rank 0 alone prints and writes: one final line, one set of files.
    CHECK_EQ_INT(count_of(out2, "final test accuracy:"), 1);
    CHECK_EQ_INT(count_of(out2, "epoch 1/1  train loss"), 1);
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/two/checkpoint.ckpt", dir);
    snprintf(b, sizeof b, "%s/one/checkpoint.ckpt", dir);
    double pt = -1, rel = ckpt_rel_diff(a, b, &pt);
    printf("  2 ranks against 1 process after 4 steps: largest difference relative to the largest weight %.3g "
           "(of a single tensor, relative to its own largest value: %.3g)\n",
           rel, pt);
    CHECK_MSG(rel >= 0 && rel <= 1e-5, "relative difference %g", rel);
    CHECK_MSG(!strcmp(final_line(out1), final_line(out2)), "'%s' vs '%s'", final_line(out1), final_line(out2));
    snprintf(a, sizeof a, "%s/two/log.csv", dir);
    char *log = testdata_slurp(a);
    CHECK(log && count_of(log, "\n") == 2); // the header and 1 epoch, not one set per rank
    free(log);
}

// Stopped by SIGTERM on rank 1 of 2, the checkpoint resumed on 2 ranks and on 1: the run
// continues and ends where a straight run ends (8 steps: 2 epochs of 255 images, at a low
// LR as above).
//
// Resumed on 2 ranks it must end bit for bit where the straight 2-rank run ends (the sum of
// two ranks is the same whichever adds it), so the checkpoint carries every piece of state:
// weights, running statistics, momentum, step, epoch order, augmentation stream. Resumed on
// 1 rank it can only end near the straight 1-process run: after the stop the gradients are
// summed in another order (one process's sums over the whole batch instead of two halves
// added), and training amplifies such rounding step by step (here from 1.5e-8 of the
// weights after one step to 8e-5 after eight). Measured after the 8 steps, as the largest
// difference relative to the largest weight or running statistic (ckpt_rel_diff): the
// straight 2-rank run against the straight 1-process run 3.3e-4 (8.1e-5 of the weights
// alone); one process with 2 threads against 1 thread (no MPI at all, only another order of
// the same sums) 2.0e-4 (8.5e-5); the 2-rank checkpoint resumed on 1 rank 2.0e-4 to 3.3e-4
// (8.1e-5 to 8.5e-5) for stops after steps 1, 2, 4 and 5. A resume on 1 rank that went
// wrong measures 100x more: the augmentation stream one draw off 3.0e-2, the momentum lost
// 2.9e-2. So 1e-3 bounds the rounding, and the bit-for-bit check on 2 ranks catches what
// rounding would hide.
#define RESUME_RUN "--set data.train_images=255 --set schedule.epochs=2 --set schedule.lr=0.05"
static void test_stop_and_resume(const char *why) {
    test_begin("dist: SIGTERM on rank 1 stops both ranks; the checkpoint resumes with 2 ranks and with 1");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static char out[65536], straight2[65536];
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train %s " RESUME_RUN " --threads 1 --out %s/straight", testdata_bin(), cfg, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "straight run: %d\n%s", rc, out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s train %s " RESUME_RUN " --threads 1 --out %s/straight2", MPIRUN,
             testdata_bin(), cfg, dir);
    rc = testdata_run(cmd, straight2, sizeof straight2);
    CHECK_MSG(rc == 0, "straight run on 2 ranks: %d\n%s", rc, straight2);
    // The ranks are mpirun's children; rank 1 is the one whose environment says so. The
    // signal goes after the first progress line, with 7 of 8 steps still to run.
    snprintf(cmd, sizeof cmd,
             "%s -np 2 %s train %s " RESUME_RUN " --threads 1 --out %s/run > %s/log 2>&1 & mp=$!\n"
             "for i in $(seq 1 1200); do grep -q 'batch 1/4' %s/log && break; sleep 0.05; done\n"
             "for p in $(pgrep -P $mp); do\n"
             "  if tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1; then kill -TERM $p; fi\n"
             "done\n"
             "wait $mp; rc=$?; cat %s/log; exit $rc",
             MPIRUN, testdata_bin(), cfg, dir, dir, dir, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INTERRUPTED, "2 ranks stopped: exit %d (want %d)\n%s", rc, ERR_INTERRUPTED, out);
    CHECK_EQ_INT(count_of(out, "stopped at step"), 1);
    char ck[700], a[700], b[700];
    snprintf(ck, sizeof ck, "%s/run/checkpoint.ckpt", dir);
    long step = -1;
    Err e = {0};
    CHECK_MSG(!checkpoint_read_step(ck, &step, &e) && step > 0 && step < 8, "checkpoint step %ld (%s)", step, e.msg);
    // Both resumes write elsewhere (--out), so each starts from the same checkpoint.
    snprintf(cmd, sizeof cmd, "%s -np 2 %s train --resume %s --threads 1 --out %s/resumed2", MPIRUN, testdata_bin(), ck,
             dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "resumed with 2 ranks: %d\n%s", rc, out);
    CHECK_MSG(!strcmp(final_line(out), final_line(straight2)), "'%s' vs '%s'", final_line(out), final_line(straight2));
    snprintf(a, sizeof a, "%s/resumed2/checkpoint.ckpt", dir);
    snprintf(b, sizeof b, "%s/straight2/checkpoint.ckpt", dir);
    double pt = -1, rel = ckpt_rel_diff(a, b, &pt);
    CHECK_MSG(rel == 0 && pt == 0, "stopped at step %ld and resumed on 2 ranks: %g from the straight 2-rank run", step,
              rel);
    snprintf(cmd, sizeof cmd, "%s train --resume %s --threads 1 --out %s/resumed1", testdata_bin(), ck, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "resumed with 1 rank: %d\n%s", rc, out);
    snprintf(a, sizeof a, "%s/straight2/checkpoint.ckpt", dir);
    snprintf(b, sizeof b, "%s/straight/checkpoint.ckpt", dir);
    double pt2 = -1, rel2 = ckpt_rel_diff(a, b, &pt2);
    snprintf(a, sizeof a, "%s/resumed1/checkpoint.ckpt", dir);
    rel = ckpt_rel_diff(a, b, &pt);
    printf("  stopped at step %ld on 2 ranks, resumed on 2: bit for bit the straight 2-rank run; resumed on 1, 8 "
           "steps: largest difference relative to the largest weight %.3g (single tensor %.3g), where the straight "
           "2-rank run differs by %.3g (%.3g)\n",
           step, rel, pt, rel2, pt2);
    CHECK_MSG(rel >= 0 && rel <= 1e-3, "relative difference %g", rel);
}

// Rank 1 cannot read its data (as on a node without the files): both ranks end, with
// rank 1's message, printed once, and the exit status of bad input.
static void test_error_on_one_rank(const char *why) {
    test_begin("dist: bad data on rank 1 ends both ranks with its message");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static char out[65536];
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "timeout 300 %s -np 1 %s train %s --threads 1 --out %s/run : -np 1 %s train %s --threads 1 --out %s/run "
             "--set data.dir=%s/missing",
             MPIRUN, testdata_bin(), cfg, dir, testdata_bin(), cfg, dir, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT, "exit %d (want %d; 124 is a hang)\n%s", rc, ERR_INPUT, out);
    CHECK_STR_CONTAINS(out, "onecycle: rank 1: ");
    CHECK_STR_CONTAINS(out, "missing");
    CHECK_EQ_INT(count_of(out, "onecycle: rank 1: "), 1);
    // A divergence is seen by every rank at the same step: one message, exit 1.
    snprintf(cmd, sizeof cmd, "timeout 300 %s -np 2 %s train %s --threads 1 --out %s/div --set schedule.lr=1e6",
             MPIRUN, testdata_bin(), cfg, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_RUNTIME, "diverging: exit %d (want %d)\n%s", rc, ERR_RUNTIME, out);
    CHECK_EQ_INT(count_of(out, "training diverged"), 1);
}

// Commands that are not data-parallel are refused under mpirun, once, with exit 2, rather
// than run side by side on every rank.
static void test_other_commands_refused(const char *why) {
    test_begin("dist: eval, bench and schedule under mpirun are refused once, exit 2");
    if (why) {
        test_skip(why);
        return;
    }
    static const char *const cmds[] = {"eval x.ckpt", "bench", "schedule configs/smoke.cfg"};
    for (int i = 0; i < 3; i++) {
        static char out[16384];
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "timeout 120 %s -np 2 %s %s", MPIRUN, testdata_bin(), cmds[i]);
        int rc = testdata_run(cmd, out, sizeof out);
        CHECK_MSG(rc == ERR_INPUT, "%s: exit %d (want %d)\n%s", cmds[i], rc, ERR_INPUT, out);
        CHECK_EQ_INT(count_of(out, "does not run under mpirun (2 ranks here)"), 1);
    }
}

// Ghost batch-norm (train.bn_group) is one process's: under mpirun it is refused once, exit
// 2, with sync_bn = false named as the way to the same statistics, and nothing is written.
static void test_bn_group_refused(const char *why) {
    test_begin("dist: train.bn_group under mpirun is refused once, exit 2");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    static char out[16384];
    char cmd[2048], run[1024];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cmd, sizeof cmd, "timeout 120 %s -np 2 %s train configs/smoke.cfg --set train.bn_group=64 --threads 1 --out %s",
             MPIRUN, testdata_bin(), run);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT, "exit %d (want %d)\n%s", rc, ERR_INPUT, out);
    CHECK_EQ_INT(count_of(out, "ghost batch-norm runs in one process only"), 1);
    CHECK_MSG(strstr(out, "sync_bn = false") != NULL, "names sync_bn = false:\n%s", out);
    CHECK_MSG(access(run, F_OK) != 0, "%s was created", run);
}

// Issue 35: ranks started with different configs trained silently (seed, LR, weight decay)
// or died in MPI_ERR_TRUNCATE (depth, batch); ranks resuming different checkpoints (a node
// with an older copy of the run directory) mixed gradients of different steps and hung.
// Now every rank compares its config, data and starting state with rank 0's at start-up:
// exit 2 on all, one message naming the ranks (and keys) that differ, nothing trained.
static void test_ranks_disagree(const char *why) {
    test_begin("dist: ranks with different configs are refused at start-up, naming ranks and keys");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static char out[65536];
    char cmd[4096];
    static const struct {
        const char *set, *want;
    } diffs[] = {
        {"--set train.seed=2 --set schedule.lr=0.07", "differs from rank 0's in train.seed, schedule.lr"},
        {"--set model.depth=14", "differs from rank 0's in model.depth"},
        {"--set train.batch_size=32", "differs from rank 0's in train.batch_size"},
    };
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd,
                 "timeout 120 %s -np 1 %s train %s " FEW_STEPS " --threads 1 --out %s/c%d : -np 1 %s train %s "
                 FEW_STEPS " --threads 1 --out %s/c%d %s",
                 MPIRUN, testdata_bin(), cfg, dir, i, testdata_bin(), cfg, dir, i, diffs[i].set);
        int rc = testdata_run(cmd, out, sizeof out);
        CHECK_MSG(rc == ERR_INPUT, "%s: exit %d (want %d; 124 is a hang)\n%s", diffs[i].set, rc, ERR_INPUT, out);
        CHECK_EQ_INT(count_of(out, "ranks disagree at start-up: the effective config of rank 1 "), 1);
        CHECK_STR_CONTAINS(out, diffs[i].want);
        CHECK_MSG(!strstr(out, "epoch 1/1"), "%s: trained:\n%s", diffs[i].set, out);
    }
    // lr-find under mpirun too.
    snprintf(cmd, sizeof cmd,
             "timeout 120 %s -np 1 %s lr-find %s --iters 4 --threads 1 --out %s/lf : -np 1 %s lr-find %s --iters 4 "
             "--threads 1 --out %s/lf --set train.seed=2",
             MPIRUN, testdata_bin(), cfg, dir, testdata_bin(), cfg, dir);
    int lrc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(lrc == ERR_INPUT, "lr-find: exit %d (want %d)\n%s", lrc, ERR_INPUT, out);
    CHECK_EQ_INT(count_of(out, "the effective config of rank 1 differs from rank 0's in train.seed"), 1);
    // What may differ per rank does not stop them: threads, and where the data lies.
    char abs[PATH_MAX];
    if (!CHECK(realpath(testdata_cifar_dir(), abs) != NULL)) return;
    snprintf(cmd, sizeof cmd,
             "timeout 300 %s -np 1 %s train %s " FEW_STEPS " --threads 1 --out %s/ok : -np 1 %s train %s " FEW_STEPS
             " --threads 2 --out %s/ok --set data.dir=%s",
             MPIRUN, testdata_bin(), cfg, dir, testdata_bin(), cfg, dir, abs);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "other threads and data.dir on rank 1: exit %d\n%s", rc, out);

    test_begin("dist: ranks resuming different checkpoints are refused at start-up, with each rank's step");
    // One run, two of its checkpoints: after epoch 1 (step 4, kept) and at the end (step 8).
    snprintf(cmd, sizeof cmd,
             "%s train %s --set data.train_images=255 --set schedule.epochs=2 --set schedule.lr=0.05 "
             "--set train.keep_checkpoints=1 --threads 1 --out %s/A",
             testdata_bin(), cfg, dir);
    rc = testdata_run(cmd, out, sizeof out);
    if (!CHECK_MSG(rc == 0, "run A: exit %d\n%s", rc, out)) return;
    snprintf(cmd, sizeof cmd,
             "timeout 120 %s -np 1 %s train --resume %s/A/checkpoint-epoch1.ckpt --threads 1 --out %s/R : -np 1 %s "
             "train --resume %s/A/checkpoint.ckpt --threads 1 --out %s/R",
             MPIRUN, testdata_bin(), dir, dir, testdata_bin(), dir, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INPUT, "exit %d (want %d; 124 is a hang)\n%s", rc, ERR_INPUT, out);
    CHECK_EQ_INT(count_of(out, "ranks disagree at start-up: they start from different states (rank 0: step 4, "), 1);
    CHECK_STR_CONTAINS(out, "rank 1: step 8, state ");
    CHECK_STR_CONTAINS(out, "rank 1 differs from rank 0; with --resume every rank must read the same checkpoint");
    CHECK_MSG(access(dir, F_OK) == 0 && !fs_exists_in(dir, "R/log.csv"), "R has a log");
    // The same checkpoint on both ranks resumes (test_stop_and_resume continues such runs).
    snprintf(cmd, sizeof cmd,
             "timeout 300 %s -np 2 %s train --resume %s/A/checkpoint-epoch1.ckpt --threads 1 --out %s/R2", MPIRUN,
             testdata_bin(), dir, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "the same checkpoint on 2 ranks: exit %d\n%s", rc, out);
}

// ---- train.shares: one process computes what the ranks compute -----------------------

// 1 when the two checkpoints hold the same parameters and running statistics, bit for bit.
static int ckpt_same_bits(const char *a, const char *b) {
    ModelOptions mo = {.arch = ARCH_RESNET, .depth = 8};
    model_options_set_input(&mo, &cifar10_shape);
    ResNet ma, mb;
    Err e = {0};
    int same = 0;
    if (resnet_create(&ma, &mo, 1, &e)) return 0;
    if (!resnet_create(&mb, &mo, 1, &e)) {
        if (!checkpoint_load_weights(&ma, a, &e) && !checkpoint_load_weights(&mb, b, &e))
            same = !memcmp(ma.params, mb.params, sizeof(float) * (size_t)ma.nparams) &&
                   !memcmp(ma.stats, mb.stats, sizeof(float) * (size_t)ma.nstats);
        else
            printf("  %s\n", e.msg);
        resnet_free(&mb);
    }
    resnet_free(&ma);
    return same;
}

// 8 steps (2 epochs of 255 images: batches of 64, 64, 64 and 63) at the tiny config's lr 0.3,
// where the auto runs of 1 process and 2 ranks drift apart by rounding (test_stop_and_resume).
#define SHARES_RUN "--set data.train_images=255 --set schedule.epochs=2"

// Runs `prefix onecycle train cfg SHARES_RUN extra --threads 1 --out dir/name`; 0 on success.
static int shares_train(const char *prefix, const char *cfg, const char *extra, const char *dir, const char *name,
                        char *out, int cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s train %s " SHARES_RUN " %s --threads 1 --out %s/%s", prefix, testdata_bin(), cfg,
             extra, dir, name);
    int rc = testdata_run(cmd, out, cap);
    CHECK_MSG(rc == 0, "%s %s: exit %d\n%s", prefix, extra, rc, out);
    return rc;
}

// The last two fields (valid_loss, valid_acc) of every row of a log.csv, one row per line;
// 0 when the log has no validation columns or no rows.
static int valid_columns(const char *log, char *out, size_t cap) {
    char *text = testdata_slurp(log);
    size_t n = 0;
    out[0] = 0;
    if (!text || !strstr(text, ",valid_loss,valid_acc\n")) {
        free(text);
        return 0;
    }
    int rows = 0;
    for (char *line = strchr(text, '\n') + 1; *line; rows++) {
        char *end = strchr(line, '\n');
        if (!end) break;
        *end = 0;
        char *c = strrchr(line, ','); // before valid_acc
        while (c > line && c[-1] != ',') c--; // back to the start of valid_loss
        n += (size_t)snprintf(out + n, cap > n ? cap - n : 0, "%s\n", c);
        line = end + 1;
    }
    free(text);
    return rows > 0;
}

// With train.shares = K, one process, K/2 shares on each of 2 ranks and one share on each of
// K ranks train the same bits: weights, running statistics and the printed accuracy. 2 ranks
// with shares unset (one share each) are shares = 2.
static void test_shares_equivalence(const char *why) {
    test_begin("dist: shares = K trains bit for bit alike on 1 process, 2 ranks and K ranks");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static char one[65536], out[65536];
    static const struct {
        const char *prefix, *extra, *name, *like;
    } runs[] = {
        {"", "--set train.shares=2", "one2", NULL},
        {MPIRUN " -np 2", "--set train.shares=2", "two2", "one2"},
        {MPIRUN " -np 2", "", "two_auto", "one2"},
        {"", "--set train.shares=4", "one4", NULL},
        {MPIRUN " -np 2", "--set train.shares=4", "two4", "one4"},
        {MPIRUN " -np 4", "--set train.shares=4", "four4", "one4"},
        // Issue 34: with a validation split (evaluated every epoch, its own shares of the split).
        {"", "--set train.shares=2 --set data.valid_images=55", "one2v", NULL},
        {MPIRUN " -np 2", "--set train.shares=2 --set data.valid_images=55", "two2v", "one2v"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char *o = runs[i].like ? out : one;
        if (shares_train(runs[i].prefix, cfg, runs[i].extra, dir, runs[i].name, o, 65536)) return;
        if (!runs[i].like) continue;
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/%s/checkpoint.ckpt", dir, runs[i].name);
        snprintf(b, sizeof b, "%s/%s/checkpoint.ckpt", dir, runs[i].like);
        double pt = -1, rel = ckpt_rel_diff(a, b, &pt);
        CHECK_MSG(ckpt_same_bits(a, b), "%s %s: %g from 1 process (%g of a single tensor)", runs[i].prefix,
                  runs[i].extra, rel, pt);
        CHECK_MSG(!strcmp(final_line(one), final_line(out)), "%s %s: '%s' vs '%s'", runs[i].prefix, runs[i].extra,
                  final_line(out), final_line(one));
        if (strstr(runs[i].extra, "valid_images")) { // the split's figures of every epoch, alike
            char la[700], lb[700], va[4096], vb[4096];
            snprintf(la, sizeof la, "%s/%s/log.csv", dir, runs[i].name);
            snprintf(lb, sizeof lb, "%s/%s/log.csv", dir, runs[i].like);
            int ok = valid_columns(la, va, sizeof va) && valid_columns(lb, vb, sizeof vb);
            CHECK_MSG(ok && !strcmp(va, vb), "%s: validation columns '%s' vs '%s'", runs[i].extra, va, vb);
        }
        printf("  %s %s: %s, as 1 process\n", runs[i].prefix, runs[i].extra[0] ? runs[i].extra : "(shares unset)",
               final_line(out));
    }
}

// A checkpoint of 2 ranks with shares = 2, stopped by SIGTERM on rank 1, resumed on 1
// process (the shares are in the checkpoint's config) ends bit for bit where the straight
// 2-rank run and the straight 1-process run of the same config end.
static void test_shares_resume(const char *why) {
    test_begin("dist: with shares = 2, a 2-rank checkpoint resumed on 1 process continues bit for bit");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    char text[2400];
    snprintf(text, sizeof text, "%s[train]\nshares = 2\n", testdata_tiny_config(testdata_cifar_dir(), 8));
    // testdata_tiny_config has [schedule] last: a second [train] section adds to the first.
    const char *cfg = testdata_write(dir, "t.cfg", text);
    static char out[65536];
    if (shares_train("", cfg, "", dir, "straight1", out, sizeof out)) return;
    if (shares_train(MPIRUN " -np 2", cfg, "", dir, "straight2", out, sizeof out)) return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s -np 2 %s train %s " SHARES_RUN " --threads 1 --out %s/run > %s/log 2>&1 & mp=$!\n"
             "for i in $(seq 1 1200); do grep -q 'batch 1/4' %s/log && break; sleep 0.05; done\n"
             "for p in $(pgrep -P $mp); do\n"
             "  if tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1; then kill -TERM $p; fi\n"
             "done\n"
             "wait $mp; rc=$?; cat %s/log; exit $rc",
             MPIRUN, testdata_bin(), cfg, dir, dir, dir, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == ERR_INTERRUPTED, "2 ranks stopped: exit %d (want %d)\n%s", rc, ERR_INTERRUPTED, out);
    char ck[700], a[700], b[700];
    snprintf(ck, sizeof ck, "%s/run/checkpoint.ckpt", dir);
    long step = -1;
    Err e = {0};
    CHECK_MSG(!checkpoint_read_step(ck, &step, &e) && step > 0 && step < 8, "checkpoint step %ld (%s)", step, e.msg);
    char *conf = NULL;
    CHECK(!checkpoint_read_config(ck, &conf, &e) && conf && strstr(conf, "shares = 2"));
    free(conf);
    snprintf(cmd, sizeof cmd, "%s train --resume %s --threads 1 --out %s/resumed1", testdata_bin(), ck, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "resumed on 1 process: %d\n%s", rc, out);
    snprintf(a, sizeof a, "%s/resumed1/checkpoint.ckpt", dir);
    snprintf(b, sizeof b, "%s/straight2/checkpoint.ckpt", dir);
    CHECK_MSG(ckpt_same_bits(a, b), "stopped at step %ld on 2 ranks, resumed on 1: not the straight 2-rank run", step);
    snprintf(b, sizeof b, "%s/straight1/checkpoint.ckpt", dir);
    CHECK_MSG(ckpt_same_bits(a, b), "stopped at step %ld on 2 ranks, resumed on 1: not the straight 1-process run",
              step);
    printf("  stopped after step %ld on 2 ranks, resumed on 1 process: bit for bit both straight runs\n", step);
}

// Shares the ranks cannot split in the shares' order are refused once, exit 2, before anything is written.
static void test_shares_refused(const char *why) {
    test_begin("dist: shares the ranks do not divide (or not by a power of two) are refused once, exit 2");
    if (why) {
        test_skip(why);
        return;
    }
    const char *dir = test_tmpdir();
    const char *cfg = testdata_write(dir, "t.cfg", testdata_tiny_config(testdata_cifar_dir(), 8));
    static const char *const bad[] = {"1", "3", "6"};
    for (int i = 0; i < 3; i++) {
        static char out[16384];
        char cmd[2048], run[1024];
        snprintf(run, sizeof run, "%s/run%d", dir, i);
        snprintf(cmd, sizeof cmd, "timeout 120 %s -np 2 %s train %s --set train.shares=%s --threads 1 --out %s", MPIRUN,
                 testdata_bin(), cfg, bad[i], run);
        int rc = testdata_run(cmd, out, sizeof out);
        CHECK_MSG(rc == ERR_INPUT, "shares %s: exit %d (want %d)\n%s", bad[i], rc, ERR_INPUT, out);
        char want[80];
        snprintf(want, sizeof want, "train.shares: %s shares on 2 ranks", bad[i]);
        CHECK_EQ_INT(count_of(out, want), 1);
        CHECK_MSG(access(run, F_OK) != 0 || !fs_exists_in(run, "log.csv"), "%s has a log", run);
    }
}

void suite_dist(void) {
    test_world_of_one();
    test_info_says();
    const char *why = mpi_skip_reason();
    test_equivalence(why);
    test_stop_and_resume(why);
    test_error_on_one_rank(why);
    test_other_commands_refused(why);
    test_bn_group_refused(why);
    test_shares_equivalence(why);
    test_shares_resume(why);
    test_shares_refused(why);
    test_ranks_disagree(why);
}
