// fmnist.c: Fashion-MNIST's gzip-compressed IDX files -> validated Dataset.
//
// The gzip stream is decompressed with zlib's inflate rather than gzread: gzread passes a
// file that is not gzip through unchanged and silently ignores bytes after the end of the
// gzip stream, and both are signs of a wrong or damaged file that should be reported.
#include "fmnist.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

const char *const fmnist_class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

#define HINT "install Debian's dataset-fashion-mnist (`make deps`), or point data.dir at a directory " \
             "holding the four original .gz files"
#define MAX_IMAGES (1 << 22) // far above the 60000 of the real set; keeps sizes in range

// Measured once on the 47,040,000 pixels of the 60000 training images of Debian's
// dataset-fashion-mnist (whose decompressed files are upstream's, see scripts/get_data.sh):
// by dataset_channel_stats, mean 0.28604059698879547, std 0.3530242445149227, and by an
// independent Python count of each byte value in the gunzipped file (exact integer sums),
// 0.2860405969887955 and 0.3530242445149226. The std is the population one (numpy's
// x.std(), what torchvision recipes use). The test set alone gives 0.28685 and 0.35244.
// tests/test_fmnist.c recomputes them from the installed files.
const float fmnist_mean = 0.28604060f, fmnist_std = 0.35302424f;

const DataShape fmnist_shape = {1, FMNIST_SIDE, FMNIST_SIDE, FMNIST_CLASSES, "fashion-mnist"};

// One gzip file being decompressed.
typedef struct Gz {
    const char *path;
    int fd;
    long long size;    // of the compressed file
    z_stream z;
    int started;       // inflateInit2 succeeded (inflateEnd is due)
    int ended;         // the end of the gzip stream, trailer and checksum included, was read
    int eof;           // read() has returned 0
    // Of the members before this one (a gzip file may hold several, one after another, as
    // `cat a.gz b.gz` makes; gzip and zcat read them as one stream of their data): compressed
    // bytes consumed and bytes of data, as inflateReset zeroes total_in and total_out.
    unsigned long long in_before, out_before;
    unsigned char in[1 << 16];
} Gz;

static void gz_close(Gz *g) {
    if (g->started) inflateEnd(&g->z);
    if (g->fd >= 0) close(g->fd);
    free(g);
}

// Fills the input buffer. Leaves avail_in 0 at the end of the file.
static int gz_refill(Gz *g, Err *e) {
    ssize_t n;
    do n = read(g->fd, g->in, sizeof g->in);
    while (n < 0 && errno == EINTR);
    if (n < 0) return err_set(e, ERR_INPUT, "%s: read error: %s", g->path, strerror(errno));
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)n;
    return ERR_OK;
}

// Opens path and checks that it starts as a gzip file does. *out is NULL on error.
static int gz_open(Gz **out, const char *path, Err *e) {
    *out = NULL;
    int fd;
    long long size;
    if (dataset_open_file(path, "a gzip-compressed IDX file", HINT, &fd, &size, e)) return e->code;
    Gz *g = xcalloc(1, sizeof *g);
    g->path = path;
    g->fd = fd;
    g->size = size;
    if (gz_refill(g, e)) goto fail;
    const unsigned char *b = g->in;
    unsigned n = g->z.avail_in;
    if (n == 0) {
        err_set(e, ERR_INPUT, "%s: empty file, expected gzip-compressed IDX data", path);
        goto fail;
    }
    if (n < 2 || b[0] != 0x1f || b[1] != 0x8b) {
        if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08)
            err_set(e, ERR_INPUT, "%s: not a gzip file but an uncompressed IDX file (magic 0x%02x%02x%02x%02x); "
                    "expected the gzip-compressed file as distributed (gzip it again, or use the .gz)",
                    path, b[0], b[1], b[2], b[3]);
        else
            err_set(e, ERR_INPUT, "%s: not a gzip file: it starts with bytes %02x %02x, a gzip file with 1f 8b",
                    path, b[0], n > 1 ? b[1] : 0);
        goto fail;
    }
    // 16 + MAX_WBITS: a gzip wrapper only (no zlib or raw deflate), its CRC-32 checked.
    if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        err_set(e, ERR_RUNTIME, "%s: zlib: cannot start decompression", path);
        goto fail;
    }
    g->started = 1;
    *out = g;
    return ERR_OK;
fail:
    gz_close(g);
    return e->code;
}

static unsigned long long gz_data_bytes(const Gz *g) {
    return g->out_before + g->z.total_out;
}

// At the end of a gzip member: whether another member follows (it starts 1f 8b). If so
// inflate is reset to read it; if not, the stream has ended (and bytes after it, if any,
// are trailing garbage for gz_finish). A member's first byte may be the last of the buffer.
static int gz_next_member(Gz *g, int *more, Err *e) {
    *more = 0;
    if (g->z.avail_in < 2 && !g->eof) {
        unsigned char first = g->z.avail_in ? g->z.next_in[0] : 0;
        const unsigned kept = g->z.avail_in;
        ssize_t n;
        do n = read(g->fd, g->in + kept, sizeof g->in - kept);
        while (n < 0 && errno == EINTR);
        if (n < 0) return err_set(e, ERR_INPUT, "%s: read error: %s", g->path, strerror(errno));
        if (kept) g->in[0] = first;
        g->z.next_in = g->in;
        g->z.avail_in = kept + (uInt)n;
        g->eof = n == 0;
    }
    if (g->z.avail_in < 2 || g->z.next_in[0] != 0x1f || g->z.next_in[1] != 0x8b) return ERR_OK;
    g->in_before += g->z.total_in;
    g->out_before += g->z.total_out;
    if (inflateReset(&g->z) != Z_OK) return err_set(e, ERR_RUNTIME, "%s: zlib: cannot restart decompression", g->path);
    *more = 1;
    return ERR_OK;
}

// Decompresses up to n bytes into dst (NULL: into a scratch buffer, to skip them); *got
// is how many came before the gzip stream ended. A file that ends before its gzip stream
// does is an error (truncated), as is corrupt data.
static int gz_read(Gz *g, void *dst, size_t n, size_t *got, Err *e) {
    unsigned char scratch[1 << 14];
    size_t done = 0;
    while (done < n && !g->ended) {
        size_t want = n - done;
        if (!dst && want > sizeof scratch) want = sizeof scratch;
        if (want > (1u << 30)) want = 1u << 30; // avail_out is an unsigned int
        g->z.next_out = dst ? (unsigned char *)dst + done : scratch;
        g->z.avail_out = (uInt)want;
        while (g->z.avail_out > 0 && !g->ended) {
            if (g->z.avail_in == 0 && !g->eof) {
                if (gz_refill(g, e)) return e->code;
                g->eof = g->z.avail_in == 0;
            }
            // At the end of the file inflate may still have output pending; only when it
            // can make no progress at all (Z_BUF_ERROR) is the stream cut short.
            int r = inflate(&g->z, Z_NO_FLUSH), more;
            if (r == Z_STREAM_END) {
                if (gz_next_member(g, &more, e)) return e->code;
                g->ended = !more;
            } else if (r == Z_BUF_ERROR && g->eof)
                return err_set(e, ERR_INPUT,
                               "%s: truncated: the file (%lld bytes) ends inside its gzip stream, after %llu "
                               "bytes of data",
                               g->path, g->size, gz_data_bytes(g));
            else if (r == Z_MEM_ERROR)
                return err_set(e, ERR_RUNTIME, "%s: zlib: out of memory", g->path);
            else if (r != Z_OK)
                return err_set(e, ERR_INPUT, "%s: corrupt gzip data after %llu bytes of data (%s)", g->path,
                               gz_data_bytes(g), g->z.msg ? g->z.msg : "zlib error");
        }
        done += want - g->z.avail_out;
    }
    *got = done;
    return ERR_OK;
}

// Reads to the end of the gzip stream (so its checksum is checked). *extra gets the bytes
// of data found past what was read so far; once there are a megabyte of them the reading
// stops (a wrong file should not take a gigabyte of decompression to report) and the
// stream is left unfinished (g->ended 0). Bytes in the file after the last gzip member
// (garbage appended) are an error; further members are data.
static int gz_finish(Gz *g, unsigned long long *extra, Err *e) {
    enum { EXTRA_CAP = 1 << 20 };
    *extra = 0;
    while (!g->ended && *extra < EXTRA_CAP) {
        size_t got;
        if (gz_read(g, NULL, EXTRA_CAP, &got, e)) return e->code;
        *extra += got;
    }
    if (!g->ended) return ERR_OK;
    long long after = g->size - (long long)(g->in_before + g->z.total_in);
    if (after > 0)
        return err_set(e, ERR_INPUT, "%s: %lld bytes of trailing garbage after the end of the gzip stream",
                       g->path, after);
    return ERR_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static const char *idx_kind(uint32_t magic) {
    return magic == FMNIST_IDX_IMAGES ? "images: unsigned bytes, 3 dimensions"
                                      : "labels: unsigned bytes, 1 dimension";
}

// Reads the IDX header: the magic (must be `magic`), then its dimensions into dims.
static int idx_header(Gz *g, uint32_t magic, uint32_t *dims, Err *e) {
    int ndims = (int)(magic & 0xff);
    unsigned char h[16];
    size_t got;
    if (gz_read(g, h, 4, &got, e)) return e->code;
    if (got < 4)
        return err_set(e, ERR_INPUT, "%s: holds %zu bytes of data, too few for an IDX header", g->path, got);
    uint32_t m = be32(h);
    if (m != magic) {
        if (m == FMNIST_IDX_IMAGES || m == FMNIST_IDX_LABELS)
            return err_set(e, ERR_INPUT, "%s: IDX magic 0x%08x is an IDX %s file, expected 0x%08x (%s)", g->path, m,
                           m == FMNIST_IDX_IMAGES ? "images" : "labels", magic, idx_kind(magic));
        return err_set(e, ERR_INPUT, "%s: wrong magic number 0x%08x, expected 0x%08x (IDX %s): not a Fashion-MNIST "
                       "file", g->path, m, magic, idx_kind(magic));
    }
    if (gz_read(g, h + 4, 4 * (size_t)ndims, &got, e)) return e->code;
    if (got < 4 * (size_t)ndims)
        return err_set(e, ERR_INPUT, "%s: truncated: the data ends inside the IDX header (%zu of its %d bytes)",
                       g->path, 4 + got, 4 + 4 * ndims);
    for (int k = 0; k < ndims; k++) dims[k] = be32(h + 4 + 4 * k);
    if (dims[0] == 0) return err_set(e, ERR_INPUT, "%s: the IDX header says it holds no items", g->path);
    if (dims[0] > MAX_IMAGES)
        return err_set(e, ERR_INPUT, "%s: the IDX header says %u items, more than the %d this reader accepts",
                       g->path, dims[0], MAX_IMAGES);
    return ERR_OK;
}

// Reads count items of `item` bytes each: the first `keep` into dst, the rest skipped.
static int idx_items(Gz *g, uint8_t *dst, uint32_t count, uint32_t keep, size_t item, const char *what,
                     Err *e) {
    size_t want = (size_t)count * item, head = (size_t)keep * item, got = 0, more = 0;
    if (gz_read(g, dst, head, &got, e)) return e->code;
    if (got == head && want > head && gz_read(g, NULL, want - head, &more, e)) return e->code;
    got += more;
    if (got < want)
        return err_set(e, ERR_INPUT,
                       "%s: truncated: the header announces %u %s (%zu bytes), the data stops after %zu "
                       "(inside item %zu)",
                       g->path, count, what, want, got, got / item);
    unsigned long long extra;
    if (gz_finish(g, &extra, e)) return e->code;
    if (extra > 0)
        return err_set(e, ERR_INPUT, "%s: %s%llu bytes of trailing data after the %u %s the header announces",
                       g->path, g->ended ? "" : "at least ", extra, count, what);
    return ERR_OK;
}

// Reads a labels file whole into *labels (count in *n), checking every label.
static int read_labels(const char *path, uint8_t **labels, uint32_t *n, Err *e) {
    *labels = NULL;
    Gz *g;
    if (gz_open(&g, path, e)) return e->code;
    uint32_t dims[1] = {0};
    int rc = idx_header(g, FMNIST_IDX_LABELS, dims, e);
    uint8_t *l = NULL;
    if (rc == ERR_OK) {
        l = xmalloc(dims[0]);
        rc = idx_items(g, l, dims[0], dims[0], 1, "labels", e);
    }
    for (uint32_t i = 0; rc == ERR_OK && i < dims[0]; i++)
        if (l[i] >= FMNIST_CLASSES)
            rc = err_set(e, ERR_INPUT, "%s: item %u has label %d, expected 0..%d", path, i, l[i], FMNIST_CLASSES - 1);
    gz_close(g);
    if (rc) {
        free(l);
        return rc;
    }
    *labels = l;
    *n = dims[0];
    return ERR_OK;
}

int fmnist_read_files(Dataset *d, const char *images_path, const char *labels_path, int expected,
                      int max_images, Err *e) {
    memset(d, 0, sizeof *d);
    uint8_t *labels;
    uint32_t nl = 0;
    if (read_labels(labels_path, &labels, &nl, e)) return e->code;
    Gz *g;
    if (gz_open(&g, images_path, e)) {
        free(labels);
        return e->code;
    }
    uint32_t dims[3] = {0};
    uint8_t *pixels = NULL;
    uint32_t keep = 0;
    if (idx_header(g, FMNIST_IDX_IMAGES, dims, e)) goto fail;
    if (dims[1] != FMNIST_SIDE || dims[2] != FMNIST_SIDE) {
        err_set(e, ERR_INPUT, "%s: images are %ux%u, expected %dx%d", images_path, dims[1], dims[2], FMNIST_SIDE,
                FMNIST_SIDE);
        goto fail;
    }
    if (dims[0] != nl) {
        err_set(e, ERR_INPUT, "%s holds %u images but %s holds %u labels: the files do not belong together",
                images_path, dims[0], labels_path, nl);
        goto fail;
    }
    if (expected > 0 && dims[0] != (uint32_t)expected) {
        err_set(e, ERR_INPUT, "%s: holds %u images, expected %d", images_path, dims[0], expected);
        goto fail;
    }
    if (max_images > 0 && (uint32_t)max_images > dims[0]) {
        err_set(e, ERR_INPUT, "%s: asked for %d images, but it holds %u", images_path, max_images, dims[0]);
        goto fail;
    }
    keep = max_images > 0 ? (uint32_t)max_images : dims[0];
    pixels = xmalloc((size_t)keep * FMNIST_IMAGE);
    if (idx_items(g, pixels, dims[0], keep, FMNIST_IMAGE, "images", e)) goto fail;
    gz_close(g);
    d->name = "fashion-mnist";
    d->n = (int)keep;
    d->channels = 1;
    d->height = d->width = FMNIST_SIDE;
    d->classes = FMNIST_CLASSES;
    d->labels = labels;
    d->pixels = pixels;
    d->mean[0] = fmnist_mean;
    d->std[0] = fmnist_std;
    return ERR_OK;
fail:
    gz_close(g);
    free(labels);
    free(pixels);
    return e->code;
}

int fmnist_load(Dataset *d, const char *dir, int train, int max_images, Err *e) {
    memset(d, 0, sizeof *d);
    int total = train ? FMNIST_TRAIN_IMAGES : FMNIST_TEST_IMAGES;
    if (max_images > total)
        return err_set(e, ERR_INPUT, "asked for %d %s images, but Fashion-MNIST has %d", max_images,
                       train ? "training" : "test", total);
    if (dataset_check_dir(dir, "Fashion-MNIST", HINT, e)) return e->code;
    const char *prefix = train ? "train" : "t10k";
    char images[FS_PATH_MAX], labels[FS_PATH_MAX], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    if (fs_join(images, sizeof images, dir, name, e)) return e->code;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    if (fs_join(labels, sizeof labels, dir, name, e)) return e->code;
    return fmnist_read_files(d, images, labels, total, max_images, e);
}
