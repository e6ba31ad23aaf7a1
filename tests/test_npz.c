// test_npz.c: .npz writing and reading: round trips (stored and deflated), the .npy header
// layout NumPy expects, archives written by NumPy itself, and damaged files.
#include "npz.h"
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>

static void sample(NpzArray a[3], float *f, int64_t *i) {
    memset(a, 0, 3 * sizeof *a);
    for (int k = 0; k < 6; k++) f[k] = (float)k / 4;
    *i = 7;
    snprintf(a[0].name, sizeof a[0].name, "layer1.0.conv1.weight");
    a[0].dtype = NPZ_F32, a[0].ndim = 2, a[0].shape[0] = 2, a[0].shape[1] = 3, a[0].n = 6, a[0].data = f;
    snprintf(a[1].name, sizeof a[1].name, "bn1.num_batches_tracked");
    a[1].dtype = NPZ_I64, a[1].ndim = 0, a[1].n = 1, a[1].data = i;
    snprintf(a[2].name, sizeof a[2].name, "empty");
    a[2].dtype = NPZ_F32, a[2].ndim = 2, a[2].shape[0] = 0, a[2].shape[1] = 4, a[2].n = 0, a[2].data = f;
}

static long file_size(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

static void round_trip(int compress) {
    test_begin(compress ? "round trip, deflated" : "round trip, stored");
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/a.npz", dir);
    NpzArray a[3];
    float f[6];
    int64_t i;
    sample(a, f, &i);
    Err e = {0};
    CHECK(npz_write(path, a, 3, compress, &e) == ERR_OK);
    NpzArray *r;
    int n;
    CHECK_MSG(npz_read(path, &r, &n, &e) == ERR_OK, "%s", e.msg);
    CHECK_EQ_INT(n, 3);
    if (n != 3) return;
    for (int k = 0; k < 3; k++) {
        CHECK(!strcmp(r[k].name, a[k].name));
        CHECK_EQ_INT(r[k].dtype, a[k].dtype);
        CHECK_EQ_INT(r[k].ndim, a[k].ndim);
        CHECK_EQ_INT(r[k].n, a[k].n);
        for (int d = 0; d < a[k].ndim; d++) CHECK_EQ_INT(r[k].shape[d], a[k].shape[d]);
    }
    CHECK(!memcmp(r[0].data, f, sizeof f));
    CHECK_EQ_INT(*(int64_t *)r[1].data, 7);
    CHECK(npz_find(r, n, "empty") == &r[2]);
    CHECK(npz_find(r, n, "nope") == NULL);
    npz_free(r, n);
    // The same arrays give the same bytes (a fixed timestamp).
    static unsigned char b1[4096], b2[4096];
    long n1 = file_size(path, b1, sizeof b1);
    CHECK(npz_write(path, a, 3, compress, &e) == ERR_OK);
    long n2 = file_size(path, b2, sizeof b2);
    CHECK(n1 > 0 && n1 == n2 && !memcmp(b1, b2, (size_t)n1));
    if (compress) return;
    // Stored entries show the .npy headers: NumPy's dict, the data 64-byte aligned.
    const char want[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    int found = 0;
    for (long k = 0; k + 10 < n1; k++)
        if (!memcmp(b1 + k, "\x93NUMPY\x01\x00", 8)) {
            long hlen = b1[k + 8] | b1[k + 9] << 8;
            CHECK_MSG((10 + hlen) % 64 == 0, "header of %ld bytes", hlen);
            CHECK(b1[k + 10 + hlen - 1] == '\n');
            if (!memcmp(b1 + k + 10, want, sizeof want - 1)) found++;
            if (!memcmp(b1 + k + 10, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", 55)) found++;
        }
    CHECK_EQ_INT(found, 2);
}

static void numpy_written(const char *path) {
    test_begin(path);
    NpzArray *r;
    int n;
    Err e = {0};
    CHECK_MSG(npz_read(path, &r, &n, &e) == ERR_OK, "%s", e.msg);
    CHECK_EQ_INT(n, 4);
    const NpzArray *a = npz_find(r, n, "a"), *b = npz_find(r, n, "b"), *c = npz_find(r, n, "c"),
                   *d = npz_find(r, n, "d");
    CHECK(a && b && c && d);
    if (!(a && b && c && d)) return;
    CHECK(a->dtype == NPZ_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
    CHECK_CLOSE(((float *)a->data)[5], 1.25, 0, 0);
    CHECK(b->dtype == NPZ_I64 && b->ndim == 0 && b->n == 1 && *(int64_t *)b->data == 7);
    CHECK(c->ndim == 2 && c->shape[0] == 0 && c->shape[1] == 4 && c->n == 0);
    CHECK(d->ndim == 1 && d->n == 100 && ((float *)d->data)[99] == -1.5f);
    npz_free(r, n);
}

static void expect_read_error(const char *name, const char *path, const char *fragment) {
    test_begin(name);
    NpzArray *r;
    int n;
    Err e = {0};
    CHECK_EQ_INT(npz_read(path, &r, &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, fragment);
    CHECK(r == NULL && n == 0);
}

static void damaged(void) {
    const char *dir = test_tmpdir();
    char path[400], bad[400];
    snprintf(path, sizeof path, "%s/a.npz", dir);
    NpzArray a[3];
    float f[6];
    int64_t i;
    sample(a, f, &i);
    Err e = {0};
    CHECK(npz_write(path, a, 3, 0, &e) == ERR_OK);
    static unsigned char b[4096];
    long n = file_size(path, b, sizeof b);
    expect_read_error("missing file", "/nonexistent/x.npz", "cannot open");
    expect_read_error("a directory", dir, "is a directory");
    snprintf(bad, sizeof bad, "%s/trunc.npz", dir);
    FILE *o = fopen(bad, "wb");
    fwrite(b, 1, (size_t)n / 2, o);
    fclose(o);
    expect_read_error("truncated", bad, "not an .npz");
    // A flipped bit in the first array's data (stored: the float bytes follow its header).
    long at = -1;
    for (long k = 0; k < n && at < 0; k++)
        if (!memcmp(b + k, "\x93NUMPY", 6)) at = k + 64 + 4;
    b[at] ^= 1;
    snprintf(bad, sizeof bad, "%s/flip.npz", dir);
    o = fopen(bad, "wb");
    fwrite(b, 1, (size_t)n, o);
    fclose(o);
    expect_read_error("flipped bit", bad, "CRC mismatch");
    snprintf(bad, sizeof bad, "%s/text.npz", dir);
    o = fopen(bad, "w");
    fputs("not a zip at all, just some text that is long enough to be searched", o);
    fclose(o);
    expect_read_error("not a zip", bad, "not an .npz");

    test_begin("bad arrays are refused when writing");
    snprintf(a[2].name, sizeof a[2].name, "%s", a[0].name);
    CHECK_EQ_INT(npz_write(path, a, 3, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "appears twice");
    snprintf(a[2].name, sizeof a[2].name, "empty");
    a[0].n = 5;
    CHECK_EQ_INT(npz_write(path, a, 3, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "shape holds 6 elements");
    a[0].n = 6;
    snprintf(a[1].name, sizeof a[1].name, "a/b");
    CHECK_EQ_INT(npz_write(path, a, 3, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "bad array name");
    snprintf(bad, sizeof bad, "%s/nodir/x.npz", dir);
    snprintf(a[1].name, sizeof a[1].name, "b");
    CHECK_EQ_INT(npz_write(bad, a, 3, 1, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "cannot write");
}

// Issue 35, item 1: the temporary name was built in 1,100 bytes. For DIR/weights.npz with
// DIR/weights exactly 1,099 characters long, the temporary file was DIR/weights itself: an
// unrelated file there was truncated, written and renamed away. Now every length up to
// 4,032 characters writes its own file and nothing beside it.
static void long_paths(void) {
    test_begin("npz_write at 1,099 and 4,032 characters: the whole name, nothing else touched");
    static char base[4200], path[4300];
    const char *dir = test_tmpdir();
    int n = snprintf(base, sizeof base, "%s", dir);
    while (n + 201 + 8 <= 1099) {
        n += snprintf(base + n, sizeof base - (size_t)n, "/%0200d", 0);
        mkdir(base, 0755);
    }
    // base + "/" + name + "weights" is 1,099 characters
    snprintf(base + n, sizeof base - (size_t)n, "/%0*dweights", 1099 - n - 1 - 7, 0);
    CHECK_EQ_INT(strlen(base), 1099);
    FILE *f = fopen(base, "w");
    if (f) fputs("unrelated", f), fclose(f);
    snprintf(path, sizeof path, "%s.npz", base);
    NpzArray a[3];
    float fl[6];
    int64_t i;
    sample(a, fl, &i);
    Err e = {0};
    CHECK_MSG(npz_write(path, a, 3, 1, &e) == ERR_OK, "%s", e.msg);
    unsigned char buf[64];
    long got = file_size(base, buf, sizeof buf);
    CHECK_MSG(got == 9 && !memcmp(buf, "unrelated", 9), "%s was overwritten or removed", base);
    NpzArray *r;
    int nr;
    CHECK_MSG(npz_read(path, &r, &nr, &e) == ERR_OK, "%s", e.msg);
    if (!e.code) npz_free(r, nr);
    // 4,032 characters in all.
    base[n] = 0;
    while (n + 201 + 20 <= 4032) {
        n += snprintf(base + n, sizeof base - (size_t)n, "/%0200d", 0);
        mkdir(base, 0755);
    }
    snprintf(base + n, sizeof base - (size_t)n, "/%0*d.npz", 4032 - n - 5, 0);
    CHECK_EQ_INT(strlen(base), 4032);
    CHECK_MSG(npz_write(base, a, 3, 0, &e) == ERR_OK, "%s", e.msg);
    CHECK_MSG(npz_read(base, &r, &nr, &e) == ERR_OK, "%s", e.msg);
    if (!e.code) npz_free(r, nr);
}

void suite_npz(void) {
    long_paths();
    round_trip(0);
    round_trip(1);
    numpy_written("tests/fixtures/numpy_savez.npz");
    numpy_written("tests/fixtures/numpy_savez_compressed.npz");
    damaged();
}
