// fuzz_checkpoint.c: libFuzzer target for the checkpoint reader.
//
// Two kinds of input:
//  - a whole file (it starts with the magic "ONECYCKP"): loaded as it is, which exercises
//    the size/magic/version/CRC checks, then again with its CRC recomputed, so that the
//    section parser behind the CRC sees the mutations too;
//  - anything else is a patch to a valid checkpoint of ResNet-8 made at start-up (so no
//    300 kB file has to sit in the corpus): byte 0 holds flags (bit 0: keep the stale CRC),
//    then records `op, section, off16, n, n bytes`. The section (mod sections+1; 0 is the
//    magic+version header) and off (mod its length with the 12-byte tag/length header)
//    locate the edit; op & 3: 0/1 overwrite n bytes, 2 cut the file there, 3 insert n bytes.
//    The CRC is then recomputed. The empty patch is the valid checkpoint itself.
// Each file goes through what `train --resume` and `eval` do: checkpoint_read_config, the
// config parser on its text, checkpoint_load_weights, and checkpoint_load into an SGD and
// an Adam trainer (set up by hand, without data, to match the base checkpoint).
//
// Built with -DFUZZ_MAIN as a libFuzzer binary (make fuzz), and #included by
// tests/test_fuzzreplay.c, which replays tests/fuzz/regressions/checkpoint/*.
// With FUZZ_WRITE_CHECKPOINT=PATH set, start-up also writes the base checkpoint there.
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "config.h"
#include "optim.h"
#include "resnet.h"
#include "train.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_assert.h"

#define FUZZ_TRAIN_N 10

typedef struct FuzzCkpt {
    int ready;
    int fd;               // the file the input is written to (a memfd when available)
    char path[64];        // a name for it that fopen understands
    Trainer sgd, adam;    // hand-made trainers matching the base checkpoint
    unsigned char *base;  // the valid checkpoint
    size_t base_size;
    int nsec;             // sections of the base, and where each starts (its tag)
    size_t sec_start[16], sec_len[16];
    unsigned char *buf;   // scratch for patched files
    size_t buf_cap;
} FuzzCkpt;

static FuzzCkpt fz;

static const char fuzz_ckpt_config[] =
    "[data]\ntrain_images = 10\ntest_images = 10\n[model]\ndepth = 8\n[train]\nbatch_size = 4\n"
    "[schedule]\nlr = 0.1\nepochs = 2\n";

static void fuzz_ckpt_trainer(Trainer *t, int kind) {
    Err e = {0};
    memset(t, 0, sizeof *t);
    ModelOptions mo = {.depth = 8, .shortcut_b = 0};
    model_options_set_input(&mo, &cifar10_shape);
    FUZZ_ASSERT(resnet_create(&t->net, &mo, 1, &e) == ERR_OK);
    Rng r;
    rng_seed(&r, 1);
    resnet_init_weights(&t->net, &r);
    OptimOptions oo = {.kind = kind, .wd = 5e-4, .beta2 = 0.999, .eps = 1e-8};
    OptimRange range = {0, t->net.nparams, 1};
    optim_create(&t->optim, &oo, t->net.nparams, &range, 1);
    t->opt.batch_size = 4;
    t->train.n = FUZZ_TRAIN_N;
    t->steps_per_epoch = 3;
    t->sched.total = 6;
    t->sched.steps_per_epoch = 3;
    t->loader.perm = malloc(sizeof(int) * FUZZ_TRAIN_N);
    for (int i = 0; i < FUZZ_TRAIN_N; i++) t->loader.perm[i] = FUZZ_TRAIN_N - 1 - i;
    rng_seed(&t->rng_init, 2);
    rng_seed(&t->loader.shuffle, 3);
    rng_seed(&t->loader.aug, 4);
    t->step = 4;
    t->epoch = 1;
    t->loader.pos = 1;
    t->loader.in_epoch = 1;
    t->optim.step = 4;
}

static void fuzz_ckpt_write(const unsigned char *data, size_t n) {
    // Overwrite, then cut to size: cheaper than emptying the file every time.
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(fz.fd, data + done, n - done, (off_t)done);
        FUZZ_ASSERT(k > 0);
        done += (size_t)k;
    }
    FUZZ_ASSERT(ftruncate(fz.fd, (off_t)n) == 0);
}

static void fuzz_ckpt_setup(void) {
    if (fz.ready) return;
    fz.ready = 1;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    fz.fd = memfd_create("fuzz-ckpt", 0);
    if (fz.fd >= 0) {
        snprintf(fz.path, sizeof fz.path, "/proc/self/fd/%d", fz.fd);
    } else {
        snprintf(fz.path, sizeof fz.path, "%.40s/fuzzckpt-XXXXXX", tmp);
        fz.fd = mkstemp(fz.path);
        FUZZ_ASSERT(fz.fd >= 0);
        unlink(fz.path); // reopened below by name: keep it until exit
        snprintf(fz.path, sizeof fz.path, "/proc/self/fd/%d", fz.fd);
    }
    fuzz_ckpt_trainer(&fz.sgd, OPTIM_SGD);
    fuzz_ckpt_trainer(&fz.adam, OPTIM_ADAM);
    // The base: saved by the real writer into a scratch directory, then read back.
    char dir[128], file[200];
    snprintf(dir, sizeof dir, "%.40s/fuzzckpt-dir-XXXXXX", tmp);
    FUZZ_ASSERT(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/base.ckpt", dir);
    Err e = {0};
    FUZZ_ASSERT(checkpoint_save(&fz.sgd, fuzz_ckpt_config, file, &e) == ERR_OK);
    FILE *f = fopen(file, "rb");
    FUZZ_ASSERT(f);
    fseek(f, 0, SEEK_END);
    fz.base_size = (size_t)ftell(f);
    rewind(f);
    fz.base = malloc(fz.base_size);
    FUZZ_ASSERT(fread(fz.base, 1, fz.base_size, f) == fz.base_size);
    fclose(f);
    const char *out = getenv("FUZZ_WRITE_CHECKPOINT");
    if (out && *out) {
        FILE *w = fopen(out, "wb");
        FUZZ_ASSERT(w && fwrite(fz.base, 1, fz.base_size, w) == fz.base_size && !fclose(w));
    }
    unlink(file);
    rmdir(dir);
    // Section layout of the base, for the patch records.
    fz.sec_start[0] = 0;
    fz.sec_len[0] = 12;
    fz.nsec = 1;
    for (size_t off = 12; off + 12 <= fz.base_size - 4 && fz.nsec < 16;) {
        uint64_t n;
        memcpy(&n, fz.base + off + 4, 8);
        fz.sec_start[fz.nsec] = off;
        fz.sec_len[fz.nsec] = 12 + (size_t)n;
        fz.nsec++;
        off += 12 + (size_t)n;
    }
}

static void fuzz_ckpt_reserve(size_t n) {
    if (n <= fz.buf_cap) return;
    fz.buf_cap = n * 2;
    fz.buf = realloc(fz.buf, fz.buf_cap);
    FUZZ_ASSERT(fz.buf);
}

static void fuzz_ckpt_fix_crc(unsigned char *p, size_t n) {
    uint32_t crc = (uint32_t)crc32(0, p, (uInt)(n - 4));
    memcpy(p + n - 4, &crc, 4);
}

// Runs what the commands do on the file now in fz.fd; checks that failures are well formed.
static void fuzz_ckpt_load_all(void) {
    Err e = {0};
    char *text = NULL;
    int rc = checkpoint_read_config(fz.path, &text, &e);
    if (rc) {
        FUZZ_ASSERT(rc == ERR_INPUT && e.code == rc && e.msg[0] && text == NULL);
    } else {
        FUZZ_ASSERT(text != NULL);
        static Config c;
        config_init(&c, cli_schema());
        if (!config_load_string(&c, text, "checkpoint", &e)) {
            ModelOptions mo;
            (void)model_options_from_config(&mo, &c, &cifar10_shape, &e);
        }
        free(text);
    }
    Trainer *ts[2] = {&fz.sgd, &fz.adam};
    for (int i = 0; i < 2; i++) {
        rc = checkpoint_load_weights(&ts[i]->net, fz.path, &e);
        if (rc) FUZZ_ASSERT(rc == ERR_INPUT && e.code == rc && e.msg[0]);
        rc = checkpoint_load(ts[i], fz.path, &e);
        if (rc) {
            FUZZ_ASSERT(rc == ERR_INPUT && e.code == rc && e.msg[0]);
            continue;
        }
        // What was accepted must be a state the training loop can continue from.
        Trainer *t = ts[i];
        FUZZ_ASSERT(t->step >= 0 && t->step <= t->sched.total);
        FUZZ_ASSERT(t->loader.pos >= 0 && t->loader.pos <= t->steps_per_epoch);
        FUZZ_ASSERT(t->epoch >= 0 && t->epoch <= (t->sched.total + t->steps_per_epoch - 1) / t->steps_per_epoch);
        FUZZ_ASSERT(t->optim.step >= 0);
        FUZZ_ASSERT(t->loader.in_epoch == 0 || t->loader.in_epoch == 1);
        FUZZ_ASSERT(t->seen >= 0 && t->correct >= 0 && t->correct <= t->seen);
        for (int k = 0; k < t->train.n; k++) FUZZ_ASSERT(t->loader.perm[k] >= 0 && t->loader.perm[k] < t->train.n);
    }
}

static void fuzz_ckpt_patch(const uint8_t *data, size_t size) {
    size_t n = fz.base_size;
    fuzz_ckpt_reserve(n + size);
    memcpy(fz.buf, fz.base, n);
    int keep_crc = size > 0 && (data[0] & 1);
    size_t body = n - 4; // the CRC is put back after the edits
    for (size_t i = 1; i + 5 <= size;) {
        int op = data[i] & 3;
        int sec = data[i + 1] % (fz.nsec + 1);
        unsigned off = (unsigned)data[i + 2] | (unsigned)data[i + 3] << 8;
        size_t len = data[i + 4];
        i += 5;
        if (len > size - i) len = size - i;
        const uint8_t *bytes = data + i;
        i += len;
        size_t pos = sec == fz.nsec ? body : fz.sec_start[sec] + off % fz.sec_len[sec];
        if (pos > body) pos = body;
        if (op <= 1) {
            size_t k = len < body - pos ? len : body - pos;
            memcpy(fz.buf + pos, bytes, k);
        } else if (op == 2) {
            body = pos;
        } else {
            memmove(fz.buf + pos + len, fz.buf + pos, body - pos);
            memcpy(fz.buf + pos, bytes, len);
            body += len;
        }
    }
    n = body + 4;
    if (keep_crc)
        memcpy(fz.buf + body, fz.base + fz.base_size - 4, 4);
    else
        fuzz_ckpt_fix_crc(fz.buf, n);
    fuzz_ckpt_write(fz.buf, n);
    fuzz_ckpt_load_all();
}

static int fuzz_checkpoint_input(const uint8_t *data, size_t size) {
    fuzz_ckpt_setup();
    if (size >= 8 && !memcmp(data, "ONECYCKP", 8)) {
        fuzz_ckpt_write(data, size);
        fuzz_ckpt_load_all();
        if (size >= 16) {
            fuzz_ckpt_reserve(size);
            memcpy(fz.buf, data, size);
            fuzz_ckpt_fix_crc(fz.buf, size);
            fuzz_ckpt_write(fz.buf, size);
            fuzz_ckpt_load_all();
        }
    } else {
        fuzz_ckpt_patch(data, size);
    }
    return 0;
}

#ifdef FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_checkpoint_input(data, size); }
#endif
