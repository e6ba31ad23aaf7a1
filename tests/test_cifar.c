// test_cifar.c: CIFAR-10 file validation on crafted files, loading, and (when the shared
// copy exists) the real data set's counts. CIFAR-100, the same reader with the other record
// layout: test_cifar100.c. Normalisation and augmentation: test_batch.c.
#include "cifar.h"
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

// Deterministic content so loaded bytes can be checked anywhere in a file.
static uint8_t gen_label(int file, int i) { return (uint8_t)((i * 7 + file) % 10); }
static uint8_t gen_pixel(int file, int i, int k) { return (uint8_t)(i * 31 + k * 7 + file * 13); }

// Writes n records of file number `file`; bad_at >= 0 puts label bad_label at that record.
static void write_records(const char *path, int file, int n, int bad_at, int bad_label) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        CHECK_MSG(0, "cannot create %s", path);
        return;
    }
    uint8_t rec[CIFAR_RECORD];
    for (int i = 0; i < n; i++) {
        rec[0] = i == bad_at ? (uint8_t)bad_label : gen_label(file, i);
        for (int k = 0; k < CIFAR_IMAGE; k++) rec[1 + k] = gen_pixel(file, i, k);
        fwrite(rec, 1, sizeof rec, f);
    }
    fclose(f);
}

static void write_bytes(const char *path, size_t n) {
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++) fputc(1, f); // label 1, all pixels 1: valid where whole
    fclose(f);
}

static void set_label(const char *path, int record, int label) {
    FILE *f = fopen(path, "r+b");
    fseek(f, (long)record * CIFAR_RECORD, SEEK_SET);
    fputc(label, f);
    fclose(f);
}

static void test_check_file(void) {
    test_begin("check_file");
    const char *d = test_tmpdir();
    char p[400];
    Err e = {0};

    snprintf(p, sizeof p, "%s/good.bin", d);
    write_records(p, 0, 5, -1, 0);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_OK);
    CHECK_EQ_INT(cifar_check_file(p, 5, &e), ERR_OK);
    CHECK_EQ_INT(cifar_check_file(p, 10000, &e), ERR_INPUT); // wrong record count
    CHECK_STR_CONTAINS(e.msg, "good.bin");
    CHECK_STR_CONTAINS(e.msg, "holds 5 records");
    CHECK_STR_CONTAINS(e.msg, "expected 10000");

    snprintf(p, sizeof p, "%s/trunc.bin", d); // a record cut short
    write_bytes(p, 3 * CIFAR_RECORD - 100);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "trunc.bin");
    CHECK_STR_CONTAINS(e.msg, "not a multiple of the 3073-byte record");
    CHECK_STR_CONTAINS(e.msg, "2 records + 2973 bytes");

    snprintf(p, sizeof p, "%s/small.bin", d); // less than one record
    write_bytes(p, 100);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "size 100 bytes");

    snprintf(p, sizeof p, "%s/empty.bin", d);
    write_bytes(p, 0);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "empty.bin: empty file");

    snprintf(p, sizeof p, "%s/badlabel.bin", d);
    write_records(p, 0, 6, 3, 10);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "badlabel.bin");
    CHECK_STR_CONTAINS(e.msg, "record 3 ");
    CHECK_STR_CONTAINS(e.msg, "label 10");
    write_records(p, 0, 6, 5, 255); // the last record too
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "record 5 ");
    CHECK_STR_CONTAINS(e.msg, "label 255");

    snprintf(p, sizeof p, "%s/missing.bin", d);
    CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "missing.bin: not found");
    CHECK_STR_CONTAINS(e.msg, "make data");

    CHECK_EQ_INT(cifar_check_file(d, 0, &e), ERR_INPUT); // a directory
    CHECK_STR_CONTAINS(e.msg, "is a directory");

    snprintf(p, sizeof p, "%s/good.bin", d);
    if (geteuid() == 0) {
        test_skip("unreadable file: running as root, permissions are not enforced");
    } else {
        chmod(p, 0);
        CHECK_EQ_INT(cifar_check_file(p, 0, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "good.bin: cannot read");
        chmod(p, 0644);
    }
}

// Full-size crafted files: the loader insists on 10000 records per official file.
static void test_load(void) {
    test_begin("load");
    const char *d = test_tmpdir();
    char p[400];
    Err e = {0};
    Dataset s;
    for (int k = 1; k <= 2; k++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", d, k);
        write_records(p, k, 10000, -1, 0);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", d);
    write_records(p, 9, 10000, -1, 0);

    // Only the first two training files are needed for 15000 images, so 3..5 may be absent.
    CHECK_EQ_INT(cifar_load(&s, d, 1, 15000, &e), ERR_OK);
    CHECK_EQ_INT(s.n, 15000);
    int bad = 0;
    const int probe[] = {0, 1, 9999, 10000, 12345, 14999};
    for (int t = 0; t < 6; t++) {
        int i = probe[t], file = i < 10000 ? 1 : 2, r = i % 10000;
        if (s.labels[i] != gen_label(file, r)) bad++;
        for (int k = 0; k < CIFAR_IMAGE; k++)
            if (s.pixels[(size_t)i * CIFAR_IMAGE + k] != gen_pixel(file, r, k)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    dataset_free(&s);
    CHECK(s.labels == NULL && s.pixels == NULL && s.n == 0);

    CHECK_EQ_INT(cifar_load(&s, d, 1, 0, &e), ERR_INPUT); // all 50000: file 3 is missing
    CHECK_STR_CONTAINS(e.msg, "data_batch_3.bin: not found");
    CHECK_STR_CONTAINS(e.msg, "make data");
    CHECK(s.labels == NULL && s.pixels == NULL);

    CHECK_EQ_INT(cifar_load(&s, d, 1, 50001, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "50000");

    CHECK_EQ_INT(cifar_load(&s, d, 0, 0, &e), ERR_OK);
    CHECK_EQ_INT(s.n, 10000);
    CHECK_EQ_INT(s.labels[9999], gen_label(9, 9999));
    CHECK_EQ_INT(s.pixels[(size_t)9999 * CIFAR_IMAGE + 3071], gen_pixel(9, 9999, 3071));
    dataset_free(&s);

    // A bad label past the images asked for is not read; one within them is named.
    snprintf(p, sizeof p, "%s/test_batch.bin", d);
    set_label(p, 1234, 10);
    CHECK_EQ_INT(cifar_load(&s, d, 0, 1000, &e), ERR_OK);
    dataset_free(&s);
    CHECK_EQ_INT(cifar_load(&s, d, 0, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "test_batch.bin: record 1234 ");
    CHECK_STR_CONTAINS(e.msg, "label 10");
    set_label(p, 1234, 0);

    // A short official file is rejected even when fewer images are asked for.
    CHECK_EQ_INT(truncate(p, 5000L * CIFAR_RECORD), 0);
    CHECK_EQ_INT(cifar_load(&s, d, 0, 100, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "test_batch.bin: holds 5000 records");
    CHECK_STR_CONTAINS(e.msg, "expected 10000");
    CHECK_EQ_INT(truncate(p, 5000L * CIFAR_RECORD + 7), 0);
    CHECK_EQ_INT(cifar_load(&s, d, 0, 100, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "not a multiple of the 3073-byte record");

    char missing[450];
    snprintf(missing, sizeof missing, "%s/no-such-dir", d);
    CHECK_EQ_INT(cifar_load(&s, missing, 1, 100, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "no-such-dir' not found");
    CHECK_STR_CONTAINS(e.msg, "make data");

    snprintf(p, sizeof p, "%s/data_batch_1.bin", d); // a file where the directory should be
    CHECK_EQ_INT(cifar_load(&s, p, 1, 100, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is not a directory");
}

// The real data set, wherever the other real-data tests find it (data/ or ../shared/data).
static void test_realdata(void) {
    test_begin("realdata");
    const char *dir = testdata_cifar_dir();
    if (!dir) {
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    Dataset s;
    Err e = {0};
    if (!CHECK_MSG(cifar_load(&s, dir, 0, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(s.n, 10000);
    int hist[10] = {0};
    for (int i = 0; i < s.n; i++) hist[s.labels[i]]++;
    int off = 0;
    for (int k = 0; k < 10; k++) off += hist[k] != 1000;
    CHECK_MSG(off == 0, "test_batch class counts are not 1000 each");
    const uint8_t first[10] = {3, 8, 8, 0, 6, 6, 1, 6, 3, 1}; // cat ship ship airplane frog ...
    CHECK(memcmp(s.labels, first, 10) == 0);
    dataset_free(&s);

    if (!CHECK_MSG(cifar_load(&s, dir, 1, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(s.n, 50000);
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < s.n; i++) hist[s.labels[i]]++;
    off = 0;
    for (int k = 0; k < 10; k++) off += hist[k] != 5000;
    CHECK_MSG(off == 0, "training class counts are not 5000 each");
    const uint8_t first_train[5] = {6, 9, 9, 4, 1};
    CHECK(memcmp(s.labels, first_train, 5) == 0);
    dataset_free(&s);
}

void suite_cifar(void) {
    test_check_file();
    test_load();
    test_realdata();
}
