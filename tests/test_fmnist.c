// test_fmnist.c: the gzip IDX reader on files written here with zlib (good ones and every
// kind of damage), the set loader, and, where Debian's dataset-fashion-mnist is installed,
// the real files: counts, known labels and pixels, and the normalisation constants.
#include "fmnist.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

// Deterministic content. The pixel pattern is not very compressible, so a cut in the
// middle of a .gz file lands inside the deflate data.
static uint8_t gen_label(int i) { return (uint8_t)((i * 3 + 1) % 10); }
static uint8_t gen_pixel(int i, int k) { return (uint8_t)((i * 31 + k * 7 + (k * k >> 3)) ^ (k * 131 >> 5)); }

static void put_be32(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static void write_raw(const char *path, const void *buf, size_t n, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!CHECK_MSG(f != NULL, "cannot create %s", path)) return;
    fwrite(buf, 1, n, f);
    fclose(f);
}

// Writes buf gzip-compressed, with zlib's gzip writer as a user's gzip would.
static void write_gz(const char *path, const void *buf, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!CHECK_MSG(g != NULL, "cannot create %s", path)) return;
    if (n) CHECK_EQ_INT(gzwrite(g, buf, (unsigned)n), (long long)n);
    CHECK_EQ_INT(gzclose(g), Z_OK);
}

// An IDX images file: header (magic, count, rows, cols) then `images` images of the
// pattern (count may differ from images) and `extra` more bytes; returns its length.
static size_t make_images(uint8_t **out, uint32_t magic, uint32_t count, uint32_t rows, uint32_t cols,
                          int images, int extra) {
    size_t item = (size_t)rows * cols, n = 16 + (size_t)images * item + (size_t)extra;
    uint8_t *b = calloc(n, 1);
    put_be32(b, magic);
    put_be32(b + 4, count);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (int i = 0; i < images; i++)
        for (size_t k = 0; k < item; k++) b[16 + i * item + k] = gen_pixel(i, (int)k);
    *out = b;
    return n;
}

// An IDX labels file of `labels` labels under a header saying `count`; bad_at >= 0 puts
// bad_label there.
static size_t make_labels(uint8_t **out, uint32_t count, int labels, int bad_at, int bad_label) {
    size_t n = 8 + (size_t)labels;
    uint8_t *b = calloc(n, 1);
    put_be32(b, FMNIST_IDX_LABELS);
    put_be32(b + 4, count);
    for (int i = 0; i < labels; i++) b[8 + i] = i == bad_at ? (uint8_t)bad_label : gen_label(i);
    *out = b;
    return n;
}

static void write_images(const char *path, uint32_t magic, uint32_t count, uint32_t side, int images, int extra) {
    uint8_t *b;
    size_t n = make_images(&b, magic, count, side, side, images, extra);
    write_gz(path, b, n);
    free(b);
}

static void write_labels(const char *path, uint32_t count, int labels, int bad_at, int bad_label) {
    uint8_t *b;
    size_t n = make_labels(&b, count, labels, bad_at, bad_label);
    write_gz(path, b, n);
    free(b);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

// Reads the pair and expects ERR_INPUT with a message containing want (and the Dataset
// left empty).
#define EXPECT_FAIL(img, lab, expected, max, want)                                             \
    do {                                                                                       \
        Dataset d_;                                                                            \
        Err e_ = {0};                                                                          \
        CHECK_EQ_INT(fmnist_read_files(&d_, img, lab, expected, max, &e_), ERR_INPUT);         \
        CHECK_STR_CONTAINS(e_.msg, want);                                                      \
        CHECK(d_.pixels == NULL && d_.labels == NULL && d_.n == 0);                            \
    } while (0)

static void test_read_good(void) {
    test_begin("read_good");
    const char *dir = test_tmpdir();
    char img[400], lab[400];
    snprintf(img, sizeof img, "%s/i.gz", dir);
    snprintf(lab, sizeof lab, "%s/l.gz", dir);
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    write_labels(lab, 5, 5, -1, 0);
    Dataset d;
    Err e = {0};
    if (!CHECK_MSG(fmnist_read_files(&d, img, lab, 0, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(d.n, 5);
    CHECK_EQ_INT(d.channels, 1);
    CHECK_EQ_INT(d.height, 28);
    CHECK_EQ_INT(d.width, 28);
    CHECK_EQ_INT(d.classes, 10);
    CHECK(d.name && strcmp(d.name, "fashion-mnist") == 0);
    CHECK(d.mean[0] == fmnist_mean && d.std[0] == fmnist_std);
    int bad = 0;
    for (int i = 0; i < 5; i++) {
        bad += d.labels[i] != gen_label(i);
        for (int k = 0; k < FMNIST_IMAGE; k++) bad += d.pixels[(size_t)i * FMNIST_IMAGE + k] != gen_pixel(i, k);
    }
    CHECK_EQ_INT(bad, 0);
    dataset_free(&d);

    CHECK_EQ_INT(fmnist_read_files(&d, img, lab, 5, 0, &e), ERR_OK); // the count it expects
    dataset_free(&d);
    EXPECT_FAIL(img, lab, 60000, 0, "i.gz: holds 5 images, expected 60000");

    test_begin("read_first_n");
    if (CHECK_MSG(fmnist_read_files(&d, img, lab, 0, 3, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(d.n, 3);
        CHECK_EQ_INT(d.labels[2], gen_label(2));
        CHECK_EQ_INT(d.pixels[2 * FMNIST_IMAGE + 783], gen_pixel(2, 783));
        dataset_free(&d);
    }
    EXPECT_FAIL(img, lab, 0, 6, "asked for 6 images, but it holds 5");
    // The rest of the file is still checked when only the first images are kept.
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 3);
    EXPECT_FAIL(img, lab, 0, 2, "i.gz: 3 bytes of trailing data after the 5 images the header announces");
}

// Appends buf as one more gzip member to path (gzopen "ab" writes a new member, as
// `cat a.gz b.gz > c.gz` joins two).
static void append_gz(const char *path, const void *buf, size_t n) {
    gzFile g = gzopen(path, "ab");
    if (!CHECK_MSG(g != NULL, "cannot append to %s", path)) return;
    if (n) CHECK_EQ_INT(gzwrite(g, buf, (unsigned)n), (long long)n);
    CHECK_EQ_INT(gzclose(g), Z_OK);
}

// A multi-member gzip file (what `cat a.gz b.gz` makes, which zcat reads as one stream) is
// valid: its data is the members' data in order. Members split anywhere, the IDX header
// included, and an empty member in between.
static void test_read_multi_member(void) {
    test_begin("read_multi_member");
    const char *dir = test_tmpdir();
    char img[400], lab[400];
    snprintf(img, sizeof img, "%s/i.gz", dir);
    snprintf(lab, sizeof lab, "%s/l.gz", dir);
    uint8_t *b, *l;
    size_t n = make_images(&b, FMNIST_IDX_IMAGES, 5, 28, 28, 5, 0), nl = make_labels(&l, 5, 5, -1, 0);
    static const size_t cuts[] = {1, 10, 16, 17, 784 * 2 + 16, 784 * 5 + 15};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        write_gz(img, b, cuts[c]);
        append_gz(img, b + cuts[c], n - cuts[c]);
        write_gz(lab, l, 3);
        append_gz(lab, l, 0);
        append_gz(lab, l + 3, nl - 3);
        Dataset d;
        Err e = {0};
        if (!CHECK_MSG(fmnist_read_files(&d, img, lab, 0, 0, &e) == ERR_OK, "cut at %zu: %s", cuts[c], e.msg))
            continue;
        CHECK_EQ_INT(d.n, 5);
        CHECK(!memcmp(d.pixels, b + 16, 5 * 784) && !memcmp(d.labels, l + 8, 5));
        dataset_free(&d);
    }
    // Garbage after the last member is still garbage; a member too many is data too many;
    // a last member cut short is truncated.
    write_gz(img, b, 100);
    append_gz(img, b + 100, n - 100);
    write_raw(img, "junk", 4, "ab");
    EXPECT_FAIL(img, lab, 0, 0, "i.gz: 4 bytes of trailing garbage after the end of the gzip stream");
    write_gz(img, b, n);
    append_gz(img, b + 16, 784);
    EXPECT_FAIL(img, lab, 0, 0, "i.gz: 784 bytes of trailing data after the 5 images");
    write_gz(img, b, 100);
    long long first = file_size(img);
    append_gz(img, b + 100, n - 100);
    long long whole = file_size(img);
    FILE *f = fopen(img, "rb");
    uint8_t *gz = malloc((size_t)whole);
    CHECK_EQ_INT(fread(gz, 1, (size_t)whole, f), whole);
    fclose(f);
    write_raw(img, gz, (size_t)(first + (whole - first) / 2), "wb");
    EXPECT_FAIL(img, lab, 0, 0, "ends inside its gzip stream");
    free(gz);
    free(b);
    free(l);
}

static void test_read_bad_content(void) {
    const char *dir = test_tmpdir();
    char img[400], lab[400];
    snprintf(img, sizeof img, "%s/img.gz", dir);
    snprintf(lab, sizeof lab, "%s/lab.gz", dir);
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);

    test_begin("bad_label");
    write_labels(lab, 5, 5, 2, 10);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: item 2 has label 10, expected 0..9");
    write_labels(lab, 5, 5, 4, 255);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: item 4 has label 255");

    test_begin("wrong_magic");
    write_labels(lab, 5, 5, -1, 0);
    write_images(img, 0x12345678u, 5, 28, 5, 0);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: wrong magic number 0x12345678, expected 0x00000803 (IDX images");
    write_images(img, 0x00000802u, 5, 28, 5, 0); // the type byte right, dimensions wrong
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: wrong magic number 0x00000802, expected 0x00000803");
    // The two files swapped: each is named as the other kind.
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    EXPECT_FAIL(lab, img, 0, 0, "img.gz: IDX magic 0x00000803 is an IDX images file, expected 0x00000801 (labels");

    test_begin("wrong_size");
    write_images(img, FMNIST_IDX_IMAGES, 5, 32, 5, 0);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: images are 32x32, expected 28x28");
    uint8_t *b;
    size_t n = make_images(&b, FMNIST_IDX_IMAGES, 5, 28, 27, 5, 0);
    write_gz(img, b, n);
    free(b);
    EXPECT_FAIL(img, lab, 0, 0, "images are 28x27");

    test_begin("count_mismatch");
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    write_labels(lab, 4, 4, -1, 0);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz holds 5 images but");
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz holds 4 labels: the files do not belong together");

    test_begin("no_items");
    write_labels(lab, 0, 0, -1, 0);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: the IDX header says it holds no items");
    write_labels(lab, 5, 5, -1, 0);

    test_begin("short_data");
    // A whole gzip stream whose data is shorter than its header says.
    n = make_images(&b, FMNIST_IDX_IMAGES, 5, 28, 28, 5, 0);
    write_gz(img, b, n - 400);
    EXPECT_FAIL(img, lab, 0, 0,
                "img.gz: truncated: the header announces 5 images (3920 bytes), the data stops after 3520 "
                "(inside item 4)");
    EXPECT_FAIL(img, lab, 0, 2, "the data stops after 3520"); // also when keeping fewer
    write_gz(img, b, 10);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: truncated: the data ends inside the IDX header (10 of its 16 bytes)");
    write_gz(img, b, 3);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: holds 3 bytes of data, too few for an IDX header");
    write_gz(img, b, 0);
    EXPECT_FAIL(img, lab, 0, 0, "img.gz: holds 0 bytes of data");

    test_begin("labels_short_data");
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    write_labels(lab, 5, 3, -1, 0);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: truncated: the header announces 5 labels (5 bytes), the data stops after 3");
    write_labels(lab, 5, 7, -1, 0);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: 2 bytes of trailing data after the 5 labels");
    // Much more data than announced: reported without decompressing all of it.
    write_labels(lab, 5, 3 << 20, -1, 0);
    EXPECT_FAIL(img, lab, 0, 0, "lab.gz: at least 1048576 bytes of trailing data after the 5 labels");
    free(b);
}

static void test_read_bad_gzip(void) {
    const char *dir = test_tmpdir();
    char img[400], lab[400], cut[400];
    snprintf(img, sizeof img, "%s/img.gz", dir);
    snprintf(lab, sizeof lab, "%s/lab.gz", dir);
    snprintf(cut, sizeof cut, "%s/cut.gz", dir);
    write_labels(lab, 5, 5, -1, 0);
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    long long size = file_size(img);
    FILE *f = fopen(img, "rb");
    uint8_t *gz = malloc((size_t)size);
    CHECK_EQ_INT(fread(gz, 1, (size_t)size, f), size);
    fclose(f);

    test_begin("truncated_file");
    CHECK_MSG(size > 1000, "the test file compressed to %lld bytes, expected incompressible data", size);
    write_raw(cut, gz, (size_t)size / 2, "wb"); // cut in the deflate data
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: truncated: the file");
    EXPECT_FAIL(cut, lab, 0, 0, "ends inside its gzip stream");
    EXPECT_FAIL(cut, lab, 0, 1, "ends inside its gzip stream"); // the cut is past image 1
    write_raw(cut, gz, (size_t)size - 4, "wb"); // all the data there, the trailer cut
    EXPECT_FAIL(cut, lab, 0, 0, "ends inside its gzip stream");
    write_raw(cut, gz, 8, "wb"); // inside the 10-byte gzip header
    EXPECT_FAIL(cut, lab, 0, 0, "ends inside its gzip stream, after 0 bytes of data");

    test_begin("corrupt");
    gz[size - 8] ^= 0x55; // the CRC-32 in the trailer
    write_raw(cut, gz, (size_t)size, "wb");
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: corrupt gzip data");
    EXPECT_FAIL(cut, lab, 0, 0, "incorrect data check");
    EXPECT_FAIL(cut, lab, 0, 1, "incorrect data check"); // checked even when keeping one image
    gz[size - 8] ^= 0x55;
    gz[size / 2] ^= 0xff; // inside the deflate data
    write_raw(cut, gz, (size_t)size, "wb");
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: corrupt gzip data");
    gz[size / 2] ^= 0xff;

    test_begin("trailing_garbage");
    write_raw(cut, gz, (size_t)size, "wb");
    write_raw(cut, "garbage", 7, "ab");
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: 7 bytes of trailing garbage after the end of the gzip stream");
    write_raw(cut, gz, (size_t)size, "wb");
    write_raw(cut, gz, (size_t)size, "ab"); // a second gzip member: more data, not garbage
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: 3936 bytes of trailing data after the 5 images");

    test_begin("not_gzip");
    uint8_t *raw;
    size_t n = make_images(&raw, FMNIST_IDX_IMAGES, 5, 28, 28, 5, 0);
    write_raw(cut, raw, n, "wb");
    free(raw);
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: not a gzip file but an uncompressed IDX file (magic 0x00000803)");
    write_raw(cut, "<html>Not Found</html>", 22, "wb"); // a failed download
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: not a gzip file: it starts with bytes 3c 68, a gzip file with 1f 8b");
    write_raw(cut, "\x1f", 1, "wb");
    EXPECT_FAIL(cut, lab, 0, 0, "not a gzip file");
    write_raw(cut, "", 0, "wb");
    EXPECT_FAIL(cut, lab, 0, 0, "cut.gz: empty file, expected gzip-compressed IDX data");
    // A zlib stream (not gzip) starts 78 9c: refused as not gzip too.
    write_raw(cut, "\x78\x9c\x03\x00\x00\x00\x00\x01", 8, "wb");
    EXPECT_FAIL(cut, lab, 0, 0, "it starts with bytes 78 9c");

    test_begin("not_a_file");
    snprintf(cut, sizeof cut, "%s/missing.gz", dir);
    EXPECT_FAIL(cut, lab, 0, 0, "missing.gz: not found");
    EXPECT_FAIL(cut, lab, 0, 0, "make deps");
    EXPECT_FAIL(img, cut, 0, 0, "missing.gz: not found");
    EXPECT_FAIL(dir, lab, 0, 0, "is a directory");
    snprintf(cut, sizeof cut, "%s/fifo.gz", dir);
    if (mkfifo(cut, 0600) != 0) {
        test_skip("mkfifo failed: cannot test the FIFO case here");
    } else { // a hang here means the FIFO was opened
        EXPECT_FAIL(cut, lab, 0, 0, "fifo.gz: is a FIFO (named pipe)");
        EXPECT_FAIL(img, cut, 0, 0, "fifo.gz: is a FIFO (named pipe)");
    }
    free(gz);
}

static void test_load(void) {
    test_begin("load");
    const char *dir = test_tmpdir();
    char p[400], img[400], lab[400];
    Dataset d;
    Err e = {0};
    snprintf(p, sizeof p, "%s/nope", dir);
    CHECK_EQ_INT(fmnist_load(&d, p, 1, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "Fashion-MNIST directory '");
    CHECK_STR_CONTAINS(e.msg, "nope' not found; install Debian's dataset-fashion-mnist (`make deps`)");
    CHECK_EQ_INT(fmnist_load(&d, dir, 0, 0, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "t10k-labels-idx1-ubyte.gz: not found");
    CHECK_EQ_INT(fmnist_load(&d, dir, 1, 60001, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "asked for 60001 training images, but Fashion-MNIST has 60000");
    CHECK_EQ_INT(fmnist_load(&d, dir, 0, 10001, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "asked for 10001 test images, but Fashion-MNIST has 10000");
    // The file names of each set, and its image count, are what the loader insists on.
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", dir);
    write_images(img, FMNIST_IDX_IMAGES, 5, 28, 5, 0);
    write_labels(lab, 5, 5, -1, 0);
    CHECK_EQ_INT(fmnist_load(&d, dir, 1, 3, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "train-images-idx3-ubyte.gz: holds 5 images, expected 60000");
    CHECK(d.pixels == NULL && d.n == 0);
}

// The installed Debian package, where there is one. Values checked against an independent
// Python reading of the same files.
static void test_realdata(void) {
    test_begin("realdata");
    if (access(FMNIST_DIR "/train-images-idx3-ubyte.gz", F_OK) != 0) {
        test_skip("Fashion-MNIST not installed in " FMNIST_DIR " (`make deps` installs dataset-fashion-mnist)");
        return;
    }
    Dataset d;
    Err e = {0};
    if (!CHECK_MSG(fmnist_load(&d, FMNIST_DIR, 0, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(d.n, 10000);
    int hist[10] = {0}, off = 0;
    for (int i = 0; i < d.n; i++) hist[d.labels[i]]++;
    for (int k = 0; k < 10; k++) off += hist[k] != 1000;
    CHECK_MSG(off == 0, "test class counts are not 1000 each");
    const uint8_t first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}; // ankle boot, pullover, trouser ...
    CHECK(memcmp(d.labels, first_test, 10) == 0);
    long sum0 = 0, sum_last = 0;
    for (int k = 0; k < FMNIST_IMAGE; k++) {
        sum0 += d.pixels[k];
        sum_last += d.pixels[(size_t)9999 * FMNIST_IMAGE + k];
    }
    CHECK_EQ_INT(sum0, 33456);
    CHECK_EQ_INT(sum_last, 24390);
    dataset_free(&d);

    if (!CHECK_MSG(fmnist_load(&d, FMNIST_DIR, 1, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(d.n, 60000);
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < d.n; i++) hist[d.labels[i]]++;
    off = 0;
    for (int k = 0; k < 10; k++) off += hist[k] != 6000;
    CHECK_MSG(off == 0, "training class counts are not 6000 each");
    const uint8_t first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    CHECK(memcmp(d.labels, first_train, 10) == 0);
    sum0 = 0;
    for (int k = 0; k < FMNIST_IMAGE; k++) sum0 += d.pixels[k];
    CHECK_EQ_INT(sum0, 76247);
    // The constants in fmnist.c are these statistics, rounded to float.
    double mean, std;
    dataset_channel_stats(&d, &mean, &std);
    CHECK_CLOSE(mean, 0.2860405969887955, 1e-12, 0);
    CHECK_CLOSE(std, 0.3530242445149226, 1e-12, 0);
    CHECK(fmnist_mean == (float)mean && fmnist_std == (float)std);
    dataset_free(&d);

    if (CHECK_MSG(fmnist_load(&d, FMNIST_DIR, 1, 100, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(d.n, 100);
        CHECK(memcmp(d.labels, first_train, 10) == 0);
        dataset_free(&d);
    }
}

void suite_fmnist(void) {
    test_read_good();
    test_read_multi_member();
    test_read_bad_content();
    test_read_bad_gzip();
    test_load();
    test_realdata();
}
