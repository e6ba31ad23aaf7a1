// test_cifar100.c: the CIFAR-100 binary reader on synthetic files in the exact format (two
// label bytes, coarse then fine, then 3072 pixel bytes), good and malformed. The real files
// are not reachable from here. The reader is cifar.c's, with CIFAR-100's record layout;
// train_coarse runs a trainer on such files from a [data] dataset = cifar100 config.
#include "cifar.h"
#include "test.h"
#include "testdata.h"
#include "train.h"
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t gen_coarse(int i) { return (uint8_t)((i * 7 + 3) % 20); }
static uint8_t gen_fine(int i) { return (uint8_t)((i * 13 + 5) % 100); }
static uint8_t gen_pixel(int i, int k) { return (uint8_t)(i * 31 + k * 7 + 11); }

// Writes n records; bad_at >= 0 puts bad_coarse / bad_fine there (-1: keep the good one).
// total > n extends the file with zero records (coarse 0, fine 0, black pixels, all
// valid) as a sparse file, so a full-size set costs no disk and no time to write.
static void write_records(const char *path, int n, int total, int bad_at, int bad_coarse, int bad_fine) {
    FILE *f = fopen(path, "wb");
    if (!CHECK_MSG(f != NULL, "cannot create %s", path)) return;
    uint8_t rec[CIFAR100_RECORD];
    for (int i = 0; i < n; i++) {
        rec[0] = i == bad_at && bad_coarse >= 0 ? (uint8_t)bad_coarse : gen_coarse(i);
        rec[1] = i == bad_at && bad_fine >= 0 ? (uint8_t)bad_fine : gen_fine(i);
        for (int k = 0; k < CIFAR_IMAGE; k++) rec[2 + k] = gen_pixel(i, k);
        fwrite(rec, 1, sizeof rec, f);
    }
    fflush(f);
    if (total > n) CHECK(ftruncate(fileno(f), (off_t)total * CIFAR100_RECORD) == 0);
    fclose(f);
}

static void write_bytes(const char *path, size_t n) {
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++) fputc(1, f); // labels 1, 1 and pixels 1: valid where whole
    fclose(f);
}

static void test_check_file(void) {
    test_begin("check_file");
    const char *d = test_tmpdir();
    char p[400];
    Err e = {0};

    snprintf(p, sizeof p, "%s/good.bin", d);
    write_records(p, 5, 0, -1, -1, -1);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_OK);
    CHECK_EQ_INT(cifar100_check_file(p, 5, &e), ERR_OK);
    CHECK_EQ_INT(cifar100_check_file(p, 50000, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "good.bin: holds 5 records (15370 bytes), expected 50000");

    test_begin("wrong_size");
    snprintf(p, sizeof p, "%s/trunc.bin", d);
    write_bytes(p, 3 * CIFAR100_RECORD - 100);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "trunc.bin: size 9122 bytes is not a multiple of the 3074-byte record");
    CHECK_STR_CONTAINS(e.msg, "2 records + 2974 bytes");
    CHECK_STR_CONTAINS(e.msg, "not the CIFAR-100 binary version");
    // A CIFAR-10 file (3073-byte records) is not taken for a CIFAR-100 one.
    snprintf(p, sizeof p, "%s/data_batch_1.bin", d);
    write_bytes(p, 0);
    CHECK(truncate(p, 10000LL * 3073) == 0);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "size 30730000 bytes is not a multiple of the 3074-byte record");
    snprintf(p, sizeof p, "%s/small.bin", d);
    write_bytes(p, 100);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "small.bin: size 100 bytes");
    snprintf(p, sizeof p, "%s/empty.bin", d);
    write_bytes(p, 0);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "empty.bin: empty file");

    test_begin("bad_label");
    snprintf(p, sizeof p, "%s/badlabel.bin", d);
    write_records(p, 6, 0, 3, 20, -1);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "badlabel.bin: record 3 (byte offset 9222) has coarse label 20, expected 0..19");
    write_records(p, 6, 0, 5, -1, 100); // the fine label, in the last record
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "record 5 (byte offset 15371) has fine label 100, expected 0..99");
    write_records(p, 6, 0, 0, 19, 99); // the largest valid ones
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_OK);
    write_records(p, 6, 0, 0, 255, 255);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "record 0 (byte offset 0) has coarse label 255");

    test_begin("missing_file");
    snprintf(p, sizeof p, "%s/missing.bin", d);
    CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "missing.bin: not found; download cifar-100-binary.tar.gz");
    CHECK_EQ_INT(cifar100_check_file(d, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a directory");
    snprintf(p, sizeof p, "%s/fifo.bin", d);
    if (mkfifo(p, 0600) != 0) {
        test_skip("mkfifo failed: cannot test the FIFO case here");
    } else { // a hang here means the FIFO was opened
        CHECK_EQ_INT(cifar100_check_file(p, 0, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "fifo.bin: is a FIFO (named pipe)");
    }
}

static int check_loaded(const Dataset *s, int n, int labels) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int want = labels == CIFAR100_LABELS_COARSE ? gen_coarse(i) : gen_fine(i);
        bad += s->labels[i] != want;
        for (int k = 0; k < CIFAR_IMAGE; k++) bad += s->pixels[(size_t)i * CIFAR_IMAGE + k] != gen_pixel(i, k);
    }
    return bad;
}

static void test_load(void) {
    test_begin("load_fine");
    const char *d = test_tmpdir();
    char p[400];
    Err e = {0};
    Dataset s;
    snprintf(p, sizeof p, "%s/train.bin", d);
    write_records(p, 200, CIFAR100_TRAIN_IMAGES, -1, -1, -1);
    snprintf(p, sizeof p, "%s/test.bin", d);
    write_records(p, 100, CIFAR100_TEST_IMAGES, -1, -1, -1);

    if (CHECK_MSG(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 150, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(s.n, 150);
        CHECK_EQ_INT(s.channels, 3);
        CHECK_EQ_INT(s.height, 32);
        CHECK_EQ_INT(s.width, 32);
        CHECK_EQ_INT(s.classes, 100);
        CHECK(s.name && strcmp(s.name, "cifar100") == 0);
        CHECK(s.mean[2] == cifar100_mean[2] && s.std[0] == cifar100_std[0]);
        CHECK_EQ_INT(check_loaded(&s, 150, CIFAR100_LABELS_FINE), 0);
        dataset_free(&s);
    }

    test_begin("load_coarse");
    if (CHECK_MSG(cifar100_load(&s, d, 1, CIFAR100_LABELS_COARSE, 150, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(s.classes, 20);
        CHECK_EQ_INT(check_loaded(&s, 150, CIFAR100_LABELS_COARSE), 0);
        dataset_free(&s);
    }
    CHECK(strcmp(cifar100_label_names[CIFAR100_LABELS_FINE], "fine") == 0);
    CHECK(strcmp(cifar100_label_names[CIFAR100_LABELS_COARSE], "coarse") == 0);
    CHECK(cifar100_label_names[2] == NULL);

    test_begin("load_test_all");
    if (CHECK_MSG(cifar100_load(&s, d, 0, CIFAR100_LABELS_FINE, 0, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(s.n, 10000);
        CHECK_EQ_INT(check_loaded(&s, 100, CIFAR100_LABELS_FINE), 0);
        int zeros = 0; // the sparse tail: zero records
        for (int i = 100; i < 10000; i++) zeros += s.labels[i] == 0 && s.pixels[(size_t)i * CIFAR_IMAGE + 5] == 0;
        CHECK_EQ_INT(zeros, 9900);
        dataset_free(&s);
    }

    test_begin("load_errors");
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 50001, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "asked for 50001 training images, but CIFAR-100 has 50000");
    CHECK_EQ_INT(cifar100_load(&s, d, 0, CIFAR100_LABELS_FINE, 10001, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "asked for 10001 test images, but CIFAR-100 has 10000");
    CHECK_EQ_INT(cifar100_load(&s, d, 1, 2, 10, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "neither fine (0) nor coarse (1)");
    snprintf(p, sizeof p, "%s/nope", d);
    CHECK_EQ_INT(cifar100_load(&s, p, 1, CIFAR100_LABELS_FINE, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "CIFAR-100 directory '");
    CHECK_STR_CONTAINS(e.msg, "nope' not found; download cifar-100-binary.tar.gz");
    CHECK_STR_CONTAINS(e.msg, "point data.dir at its cifar-100-binary directory");

    // A bad label in the records read: an error, and nothing to free.
    snprintf(p, sizeof p, "%s/train.bin", d);
    write_records(p, 200, CIFAR100_TRAIN_IMAGES, 120, -1, 150);
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_COARSE, 150, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "train.bin: record 120 ");
    CHECK_STR_CONTAINS(e.msg, "fine label 150"); // checked though the coarse ones are kept
    CHECK(s.labels == NULL && s.pixels == NULL && s.n == 0);
    // Past the records read, the file is only size-checked, as for CIFAR-10.
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_COARSE, 100, &e), ERR_OK);
    dataset_free(&s);

    // One record short, one too many: the set's record count is insisted on.
    write_records(p, 200, CIFAR100_TRAIN_IMAGES - 1, -1, -1, -1);
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 10, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "train.bin: holds 49999 records (153696926 bytes), expected 50000");
    write_records(p, 200, CIFAR100_TRAIN_IMAGES + 1, -1, -1, -1);
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 10, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "holds 50001 records");
    CHECK(truncate(p, (off_t)CIFAR100_TRAIN_IMAGES * CIFAR100_RECORD - 1) == 0);
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 10, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "49999 records + 3073 bytes): truncated");

    unlink(p);
    CHECK_EQ_INT(cifar100_load(&s, d, 1, CIFAR100_LABELS_FINE, 10, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "train.bin: not found; download cifar-100-binary.tar.gz");
    CHECK(s.labels == NULL && s.pixels == NULL);
    // test.bin alone still loads: each set needs only its own file.
    CHECK_EQ_INT(cifar100_load(&s, d, 0, CIFAR100_LABELS_FINE, 10, &e), ERR_OK);
    dataset_free(&s);
}

// A run on CIFAR-100 from its config: [data] dataset = cifar100, labels = coarse builds a
// model with 20 classes on synthetic train.bin/test.bin and trains a few steps.
static void test_train_run(void) {
    test_begin("train_coarse");
    const char *d = test_tmpdir();
    char p[400];
    static char text[1024];
    static Config c;
    Trainer t;
    Err e = {0};
    snprintf(p, sizeof p, "%s/train.bin", d);
    write_records(p, 128, CIFAR100_TRAIN_IMAGES, -1, -1, -1);
    snprintf(p, sizeof p, "%s/test.bin", d);
    write_records(p, 64, CIFAR100_TEST_IMAGES, -1, -1, -1);
    snprintf(text, sizeof text,
             "[data]\ndataset = cifar100\ndir = %s\nlabels = coarse\ntrain_images = 128\ntest_images = 64\n"
             "[model]\ndepth = 8\n[train]\nbatch_size = 64\nprogress = plain\n[schedule]\nlr = 0.1\nepochs = 1\n", d);
    if (testdata_trainer(&t, &c, text)) return;
    CHECK_EQ_INT(t.net.opt.classes, 20);
    CHECK(t.net.opt.dataset && !strcmp(t.net.opt.dataset, "cifar100"));
    CHECK_EQ_INT(t.train.n, 128);
    CHECK_EQ_INT(check_loaded(&t.train, 128, CIFAR100_LABELS_COARSE), 0);
    EvalResult r;
    CHECK_MSG(trainer_run(&t, test_tmpdir(), text, &r, &e) == ERR_OK, "%s", e.msg);
    CHECK_EQ_INT(t.step, 2);
    CHECK(isfinite(r.loss));
    trainer_free(&t);
}

void suite_cifar100(void) {
    test_check_file();
    test_load();
    test_train_run();
}
