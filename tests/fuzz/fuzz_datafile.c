// fuzz_datafile.c: libFuzzer target for the data-set file readers (issue 17's formats).
//
// Input: byte 0 selects the reader, the rest is the file(s):
//  - byte0 % 4 == 0 or 3: a Fashion-MNIST pair for fmnist_read_files. Bytes 1-2 (little
//    endian) give the length L of the labels file, the next L bytes are the labels file,
//    the rest is the images file. Bit 2 of byte 0 set: the labels bytes are written as they
//    are; clear: gzip-compressed first. Bit 3 likewise for the images. So the seeds can be
//    plain IDX data, and the mutations reach the IDX header checks behind the gzip layer
//    (compressed by the harness) as well as the gzip layer itself (raw bytes). With
//    byte0 % 4 == 3 only the first image is kept (max_images 1) and exactly 2 are expected.
//  - byte0 % 4 == 1: a CIFAR-10 batch file for cifar_check_file; == 2: a CIFAR-100 file
//    for cifar100_check_file.
// Invariants: every call returns ERR_OK or ERR_INPUT with a message naming the file; on
// error the data set is left empty; on success it holds 1x28x28 images whose labels are
// all below its class count, and as many as asked.
//
// Built with -DFUZZ_MAIN as a libFuzzer binary (make fuzz), and #included by
// tests/test_fuzzreplay.c, which replays tests/fuzz/corpus/datafile/* and
// tests/fuzz/regressions/datafile/*.
#include "cifar.h"
#include "fmnist.h"
#include "imageset.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_assert.h"

typedef struct FuzzData {
    int ready;
    int fd[2];        // labels, images (memfds, or unlinked temporary files)
    char path[2][64]; // their /proc/self/fd names
    unsigned char *buf; // gzip scratch
    size_t cap;
} FuzzData;

static FuzzData fzd;

static void fuzz_data_setup(void) {
    if (fzd.ready) return;
    fzd.ready = 1;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 0; i < 2; i++) {
        fzd.fd[i] = memfd_create(i ? "fuzz-images" : "fuzz-labels", 0);
        if (fzd.fd[i] < 0) {
            char name[64];
            snprintf(name, sizeof name, "%.40s/fuzzdata-XXXXXX", tmp);
            fzd.fd[i] = mkstemp(name);
            FUZZ_ASSERT(fzd.fd[i] >= 0);
            unlink(name);
        }
        snprintf(fzd.path[i], sizeof fzd.path[i], "/proc/self/fd/%d", fzd.fd[i]);
    }
}

static void fuzz_data_write(int i, const unsigned char *data, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(fzd.fd[i], data + done, n - done, (off_t)done);
        FUZZ_ASSERT(k > 0);
        done += (size_t)k;
    }
    FUZZ_ASSERT(ftruncate(fzd.fd[i], (off_t)n) == 0);
}

// Writes data to file i, gzip-compressed (as gzip(1) would) unless raw.
static void fuzz_data_file(int i, const unsigned char *data, size_t n, int raw) {
    if (raw) {
        fuzz_data_write(i, data, n);
        return;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_ASSERT(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t need = deflateBound(&z, (uLong)n) + 64;
    if (need > fzd.cap) {
        free(fzd.buf);
        fzd.buf = malloc(need);
        FUZZ_ASSERT(fzd.buf);
        fzd.cap = need;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = fzd.buf;
    z.avail_out = (uInt)need;
    FUZZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t out = need - z.avail_out;
    deflateEnd(&z);
    fuzz_data_write(i, fzd.buf, out);
}

static void fuzz_data_check_err(int rc, const Err *e, const char *path) {
    FUZZ_ASSERT(rc == ERR_OK || rc == ERR_INPUT);
    if (rc) FUZZ_ASSERT(e->code == rc && e->msg[0] && memchr(e->msg, 0, sizeof e->msg) && strstr(e->msg, path));
}

// Returns what the reader returned (ERR_OK also for inputs too short to reach it).
static int fuzz_datafile_run(const uint8_t *data, size_t size) {
    fuzz_data_setup();
    if (size < 1) return 0;
    const int flags = data[0], mode = flags & 3;
    data++, size--;
    Err e = {0};
    if (mode == 1 || mode == 2) {
        fuzz_data_write(1, data, size);
        int rc = mode == 1 ? cifar_check_file(fzd.path[1], 0, &e) : cifar100_check_file(fzd.path[1], 0, &e);
        fuzz_data_check_err(rc, &e, fzd.path[1]);
        return rc;
    }
    if (size < 2) return 0;
    size_t nl = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2, size -= 2;
    if (nl > size) nl = size;
    fuzz_data_file(0, data, nl, flags & 4);
    fuzz_data_file(1, data + nl, size - nl, flags & 8);
    Dataset d;
    memset(&d, 0xa5, sizeof d);
    int keep = mode == 3 ? 1 : 0;
    int rc = fmnist_read_files(&d, fzd.path[1], fzd.path[0], mode == 3 ? 2 : 0, keep, &e);
    FUZZ_ASSERT(rc == ERR_OK || rc == ERR_INPUT);
    if (rc) {
        FUZZ_ASSERT(e.msg[0] && memchr(e.msg, 0, sizeof e.msg));
        FUZZ_ASSERT(strstr(e.msg, fzd.path[0]) || strstr(e.msg, fzd.path[1]));
        FUZZ_ASSERT(d.n == 0 && d.labels == NULL && d.pixels == NULL);
        return rc;
    }
    FUZZ_ASSERT(d.n >= 1 && (!keep || d.n == keep));
    FUZZ_ASSERT(d.channels == 1 && d.height == FMNIST_SIDE && d.width == FMNIST_SIDE);
    FUZZ_ASSERT(d.classes == FMNIST_CLASSES);
    unsigned sum = 0;
    for (int i = 0; i < d.n; i++) FUZZ_ASSERT(d.labels[i] < d.classes);
    for (size_t i = 0; i < dataset_image_bytes(&d) * (size_t)d.n; i++) sum += d.pixels[i]; // all readable
    (void)sum;
    dataset_free(&d);
    return ERR_OK;
}

static int fuzz_datafile_input(const uint8_t *data, size_t size) {
    (void)fuzz_datafile_run(data, size);
    return 0;
}

#ifdef FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_datafile_input(data, size); }
#endif
