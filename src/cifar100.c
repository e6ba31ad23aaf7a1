// cifar100.c: CIFAR-100 binary files -> validated Dataset, with fine or coarse labels.
#include "cifar100.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HINT "download cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpack " \
             "it and point data.dir at its cifar-100-binary directory"

const char *const cifar100_label_names[] = {"fine", "coarse", NULL};

// Not measured here (the real files are not reachable from this project's machines): the
// values widely published for the training set, computed as CIFAR-10's are (mean and
// population std of byte/255 per channel over the 50000 training images), e.g.
// CIFAR100_TRAIN_MEAN/STD in weiaicunzai/pytorch-cifar100. dataset_channel_stats on a
// loaded training set gives the same numbers to check them.
const float cifar100_mean[3] = {0.5070752f, 0.4865489f, 0.4409178f};
const float cifar100_std[3] = {0.2673343f, 0.2564385f, 0.2761505f};

// Opens a file and checks its size: a positive multiple of 3074 bytes and, when
// expected > 0, exactly that many records. *records gets the count.
static int open_checked(const char *path, int expected, FILE **out, long *records, Err *e) {
    int fd;
    long long size;
    if (dataset_open_file(path, HINT, &fd, &size, e)) return e->code;
    if (size == 0) {
        close(fd);
        return err_set(e, ERR_INPUT, "%s: empty file; expected records of %d bytes; " HINT, path, CIFAR100_RECORD);
    }
    if (size % CIFAR100_RECORD != 0) {
        close(fd);
        return err_set(e, ERR_INPUT,
                       "%s: size %lld bytes is not a multiple of the %d-byte record (%lld records + %lld bytes): "
                       "truncated, or not the CIFAR-100 binary version",
                       path, size, CIFAR100_RECORD, size / CIFAR100_RECORD, size % CIFAR100_RECORD);
    }
    long long n = size / CIFAR100_RECORD;
    if (expected > 0 && n != expected) {
        close(fd);
        return err_set(e, ERR_INPUT, "%s: holds %lld records (%lld bytes), expected %d", path, n, size, expected);
    }
    if (n > 0x7fffffffLL / CIFAR100_RECORD) { // keeps every byte offset below in int range
        close(fd);
        return err_set(e, ERR_INPUT, "%s: %lld records is too many for one file", path, n);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int en = errno;
        close(fd);
        return err_set(e, ERR_RUNTIME, "%s: %s", path, strerror(en));
    }
    *out = f;
    *records = (long)n;
    return ERR_OK;
}

// Reads records [0, want) of an open, size-checked file, checking both labels of each.
// The kept label and the pixels go to labels/pixels when they are not NULL.
static int read_records(FILE *f, const char *path, long want, int which, uint8_t *labels, uint8_t *pixels,
                        Err *e) {
    enum { CHUNK = 256 };
    uint8_t *buf = xmalloc((size_t)CHUNK * CIFAR100_RECORD);
    int rc = ERR_OK;
    for (long r0 = 0; r0 < want && rc == ERR_OK; r0 += CHUNK) {
        long m = want - r0 < CHUNK ? want - r0 : CHUNK;
        size_t got = fread(buf, CIFAR100_RECORD, (size_t)m, f);
        if (got != (size_t)m) {
            // The size was checked, so a short read is an I/O error or a file changed under us.
            if (ferror(f))
                rc = err_set(e, ERR_INPUT, "%s: read error at record %ld: %s", path, r0 + (long)got, strerror(errno));
            else
                rc = err_set(e, ERR_INPUT, "%s: ended early at record %ld (file changed while reading?)", path,
                             r0 + (long)got);
            break;
        }
        for (long i = 0; i < m; i++) {
            const uint8_t *rec = buf + (size_t)i * CIFAR100_RECORD;
            long r = r0 + i;
            if (rec[0] >= CIFAR100_COARSE) {
                rc = err_set(e, ERR_INPUT, "%s: record %ld (byte offset %ld) has coarse label %d, expected 0..%d",
                             path, r, r * CIFAR100_RECORD, rec[0], CIFAR100_COARSE - 1);
                break;
            }
            if (rec[1] >= CIFAR100_FINE) {
                rc = err_set(e, ERR_INPUT, "%s: record %ld (byte offset %ld) has fine label %d, expected 0..%d",
                             path, r, r * CIFAR100_RECORD + 1, rec[1], CIFAR100_FINE - 1);
                break;
            }
            if (labels) labels[r] = which == CIFAR100_LABELS_COARSE ? rec[0] : rec[1];
            if (pixels) memcpy(pixels + (size_t)r * CIFAR100_IMAGE, rec + 2, CIFAR100_IMAGE);
        }
    }
    free(buf);
    return rc;
}

int cifar100_check_file(const char *path, int expected_records, Err *e) {
    FILE *f;
    long n;
    if (open_checked(path, expected_records, &f, &n, e)) return e->code;
    int rc = read_records(f, path, n, CIFAR100_LABELS_FINE, NULL, NULL, e);
    fclose(f);
    return rc;
}

int cifar100_load(Dataset *d, const char *dir, int train, int labels, int max_images, Err *e) {
    memset(d, 0, sizeof *d);
    if (labels != CIFAR100_LABELS_FINE && labels != CIFAR100_LABELS_COARSE)
        return err_set(e, ERR_INPUT, "CIFAR-100 labels: %d is neither fine (%d) nor coarse (%d)", labels,
                       CIFAR100_LABELS_FINE, CIFAR100_LABELS_COARSE);
    int total = train ? CIFAR100_TRAIN_IMAGES : CIFAR100_TEST_IMAGES;
    if (max_images > total)
        return err_set(e, ERR_INPUT, "asked for %d %s images, but CIFAR-100 has %d", max_images,
                       train ? "training" : "test", total);
    if (dataset_check_dir(dir, "CIFAR-100", HINT, e)) return e->code;
    char path[FS_PATH_MAX];
    if (fs_join(path, sizeof path, dir, train ? "train.bin" : "test.bin", e)) return e->code;
    FILE *f;
    long records;
    if (open_checked(path, total, &f, &records, e)) return e->code;
    int n = max_images > 0 ? max_images : total;
    uint8_t *l = xmalloc((size_t)n), *p = xmalloc((size_t)n * CIFAR100_IMAGE);
    int rc = read_records(f, path, n, labels, l, p, e);
    fclose(f);
    if (rc) {
        free(l);
        free(p);
        return rc;
    }
    d->name = "cifar100";
    d->n = n;
    d->channels = 3;
    d->height = d->width = CIFAR100_SIDE;
    d->classes = labels == CIFAR100_LABELS_COARSE ? CIFAR100_COARSE : CIFAR100_FINE;
    d->labels = l;
    d->pixels = p;
    for (int c = 0; c < 3; c++) {
        d->mean[c] = cifar100_mean[c];
        d->std[c] = cifar100_std[c];
    }
    return ERR_OK;
}
