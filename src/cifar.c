// cifar.c: CIFAR-10 and CIFAR-100 binary files -> validated Dataset. One reader, two
// record layouts (cifar.h).
#include "cifar.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A record layout: the label bytes in front of the 3072 pixel bytes, what each is called
// in messages and its range, and where the files of the set come from.
typedef struct Layout {
    const char *title;         // "CIFAR-10"
    int label_bytes;           // 1 or 2
    const char *label_name[2]; // per label byte: "label"; "coarse label", "fine label"
    int classes[2];            // per label byte: labels are 0..classes-1
    const char *hint;          // ends the "not found" messages
} Layout;

static const Layout cifar10_layout = {
    "CIFAR-10", 1, {"label", NULL}, {CIFAR_CLASSES, 0},
    "run `make data` to fetch CIFAR-10, or point data.dir at a copy",
};
static const Layout cifar100_layout = {
    "CIFAR-100", 2, {"coarse label", "fine label"}, {CIFAR100_COARSE, CIFAR100_FINE},
    "download cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and point "
    "data.dir at its cifar-100-binary directory",
};

static int record_bytes(const Layout *l) {
    return l->label_bytes + CIFAR_IMAGE;
}

const DataShape cifar10_shape = {3, CIFAR_SIDE, CIFAR_SIDE, CIFAR_CLASSES, "cifar10"};

const char *const cifar_class_names[CIFAR_CLASSES] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                       "dog",      "frog",       "horse", "ship", "truck"};

const char *const cifar100_label_names[] = {"fine", "coarse", NULL};

// The true CIFAR-10 training-set statistics (not the ImageNet ones that many scripts reuse).
const float cifar10_mean[3] = {0.4914f, 0.4822f, 0.4465f};
const float cifar10_std[3] = {0.2470f, 0.2435f, 0.2616f};

// Not measured here (the real files are not reachable from this project's machines): the
// values widely published for the training set, computed as CIFAR-10's are (mean and
// population std of byte/255 per channel over the 50000 training images), e.g.
// CIFAR100_TRAIN_MEAN/STD in weiaicunzai/pytorch-cifar100. dataset_channel_stats on a
// loaded training set gives the same numbers to check them.
const float cifar100_mean[3] = {0.5070752f, 0.4865489f, 0.4409178f};
const float cifar100_std[3] = {0.2673343f, 0.2564385f, 0.2761505f};

// Opens a data file and checks its size: a positive multiple of the record and, when
// expected > 0, exactly that many records. *records gets the count.
static int open_checked(const Layout *l, const char *path, int expected, FILE **out, long *records, Err *e) {
    const int rec = record_bytes(l);
    int fd;
    long long size;
    // A FIFO or device is refused before it is opened (it would block, or never end).
    char what[64];
    snprintf(what, sizeof what, "a %s .bin file", l->title);
    if (dataset_open_file(path, what, l->hint, &fd, &size, e)) return e->code;
    long long n = size / rec;
    int rc = ERR_OK;
    if (size == 0)
        rc = err_set(e, ERR_INPUT, "%s: empty file; expected records of %d bytes; %s", path, rec, l->hint);
    else if (size % rec != 0)
        rc = err_set(e, ERR_INPUT,
                     "%s: size %lld bytes is not a multiple of the %d-byte record (%lld records + %lld bytes): "
                     "truncated, or not the %s binary version; %s",
                     path, size, rec, n, size % rec, l->title, l->hint);
    else if (expected > 0 && n != expected)
        rc = err_set(e, ERR_INPUT, "%s: holds %lld records (%lld bytes), expected %d; %s", path, n, size, expected,
                     l->hint);
    else if (n > 0x7fffffffLL / rec) // keeps every byte offset below in int range
        rc = err_set(e, ERR_INPUT, "%s: %lld records is too many for one file", path, n);
    FILE *f = rc ? NULL : fdopen(fd, "rb");
    if (!f) {
        int en = errno;
        close(fd);
        return rc ? rc : err_set(e, ERR_RUNTIME, "%s: %s", path, strerror(en));
    }
    *out = f;
    *records = (long)n;
    return ERR_OK;
}

// Reads records [0, want) of an open, size-checked file, checking every label byte. The
// label byte `keep` and the pixels go to labels/pixels when they are not NULL. Reads in
// chunks so that checking a file needs no file-sized buffer.
static int read_records(const Layout *l, FILE *f, const char *path, long want, int keep, uint8_t *labels,
                        uint8_t *pixels, Err *e) {
    enum { CHUNK = 256 };
    const int rsize = record_bytes(l);
    uint8_t *buf = xmalloc((size_t)CHUNK * (size_t)rsize);
    int rc = ERR_OK;
    for (long r0 = 0; r0 < want && rc == ERR_OK; r0 += CHUNK) {
        long m = want - r0 < CHUNK ? want - r0 : CHUNK;
        size_t got = fread(buf, (size_t)rsize, (size_t)m, f);
        if (got != (size_t)m) {
            // The size was checked, so a short read is an I/O error or a file changed under us.
            if (ferror(f))
                rc = err_set(e, ERR_INPUT, "%s: read error at record %ld: %s", path, r0 + (long)got, strerror(errno));
            else
                rc = err_set(e, ERR_INPUT, "%s: ended early at record %ld (file changed while reading?)", path,
                             r0 + (long)got);
            break;
        }
        for (long i = 0; i < m && rc == ERR_OK; i++) {
            const uint8_t *rec = buf + (size_t)i * (size_t)rsize;
            long r = r0 + i;
            for (int k = 0; k < l->label_bytes; k++)
                if (rec[k] >= l->classes[k]) {
                    rc = err_set(e, ERR_INPUT, "%s: record %ld (byte offset %lld) has %s %d, expected 0..%d", path, r,
                                 (long long)r * rsize + k, l->label_name[k], rec[k], l->classes[k] - 1);
                    break;
                }
            if (rc) break;
            if (labels) labels[r] = rec[keep];
            if (pixels) memcpy(pixels + (size_t)r * CIFAR_IMAGE, rec + l->label_bytes, CIFAR_IMAGE);
        }
    }
    free(buf);
    return rc;
}

static int check_file(const Layout *l, const char *path, int expected_records, Err *e) {
    FILE *f = NULL;
    long n = 0;
    if (open_checked(l, path, expected_records, &f, &n, e)) return e->code;
    int rc = read_records(l, f, path, n, 0, NULL, NULL, e);
    fclose(f);
    return rc;
}

int cifar_check_file(const char *path, int expected_records, Err *e) {
    return check_file(&cifar10_layout, path, expected_records, e);
}

int cifar100_check_file(const char *path, int expected_records, Err *e) {
    return check_file(&cifar100_layout, path, expected_records, e);
}

// Loads the first max_images (<= 0: all) of `total` images held in nfiles files of
// total/nfiles records each, named by names[], keeping label byte `keep`. Files past the
// ones needed are not opened, so a quick run on 5000 CIFAR-10 images reads 15 MB.
static int load(const Layout *l, Dataset *d, const char *dir, const char *const *names, int nfiles, int total,
                int keep, int max_images, const char *which, Err *e) {
    memset(d, 0, sizeof *d);
    if (max_images > total)
        return err_set(e, ERR_INPUT, "asked for %d %s images, but %s has %d", max_images, which, l->title, total);
    if (dataset_check_dir(dir, l->title, l->hint, e)) return e->code;
    int n = max_images > 0 ? max_images : total, done = 0;
    uint8_t *labels = xmalloc((size_t)n), *pixels = xmalloc((size_t)n * CIFAR_IMAGE);
    for (int k = 0; k < nfiles && done < n; k++) {
        char path[FS_PATH_MAX];
        FILE *f = NULL;
        long records = 0;
        if (fs_join(path, sizeof path, dir, names[k], e) ||
            open_checked(l, path, total / nfiles, &f, &records, e))
            goto fail;
        long want = n - done < records ? n - done : records;
        int rc = read_records(l, f, path, want, keep, labels + done, pixels + (size_t)done * CIFAR_IMAGE, e);
        fclose(f);
        if (rc) goto fail;
        done += (int)want;
    }
    d->n = n;
    d->channels = 3;
    d->height = d->width = CIFAR_SIDE;
    d->labels = labels;
    d->pixels = pixels;
    return ERR_OK;
fail:
    free(labels);
    free(pixels);
    return e->code;
}

int cifar_load(Dataset *d, const char *dir, int train, int max_images, Err *e) {
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                              "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    if (train ? load(&cifar10_layout, d, dir, train_files, 5, CIFAR10_TRAIN_IMAGES, 0, max_images, "training", e)
              : load(&cifar10_layout, d, dir, test_files, 1, CIFAR10_TEST_IMAGES, 0, max_images, "test", e))
        return e->code;
    d->name = "cifar10";
    d->classes = CIFAR_CLASSES;
    memcpy(d->mean, cifar10_mean, sizeof cifar10_mean);
    memcpy(d->std, cifar10_std, sizeof cifar10_std);
    return ERR_OK;
}

int cifar100_load(Dataset *d, const char *dir, int train, int labels, int max_images, Err *e) {
    memset(d, 0, sizeof *d);
    if (labels != CIFAR100_LABELS_FINE && labels != CIFAR100_LABELS_COARSE)
        return err_set(e, ERR_INPUT, "CIFAR-100 labels: %d is neither fine (%d) nor coarse (%d)", labels,
                       CIFAR100_LABELS_FINE, CIFAR100_LABELS_COARSE);
    static const char *const train_files[] = {"train.bin"}, *const test_files[] = {"test.bin"};
    int keep = labels == CIFAR100_LABELS_COARSE ? 0 : 1; // the coarse label byte comes first
    if (load(&cifar100_layout, d, dir, train ? train_files : test_files, 1,
             train ? CIFAR100_TRAIN_IMAGES : CIFAR100_TEST_IMAGES, keep, max_images, train ? "training" : "test", e))
        return e->code;
    d->name = "cifar100";
    d->classes = labels == CIFAR100_LABELS_COARSE ? CIFAR100_COARSE : CIFAR100_FINE;
    memcpy(d->mean, cifar100_mean, sizeof cifar100_mean);
    memcpy(d->std, cifar100_std, sizeof cifar100_std);
    return ERR_OK;
}
