// cifar.c: CIFAR-10 binary files -> validated in-memory sets -> normalised, augmented batches.
#include "cifar.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#define TRAIN_FILES 5
#define FILE_RECORDS 10000
#define HINT "run `make data` to fetch CIFAR-10, or point data.dir at a copy"

// The true CIFAR-10 training-set statistics (not the ImageNet ones that many scripts reuse).
const DataShape cifar10_shape = {3, CIFAR_SIDE, CIFAR_SIDE, CIFAR_CLASSES};

const char *const cifar_class_names[CIFAR_CLASSES] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                       "dog",      "frog",       "horse", "ship", "truck"};

static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
static const float cifar_std[3] = {0.2470f, 0.2435f, 0.2616f};

const ConfigKey cifar_config_keys[] = {
    {"dir", "data/cifar-10-batches-bin", "directory holding data_batch_1..5.bin and test_batch.bin (`make data`)"},
    {"train_images", "50000", "use the first N training images (1..50000); small N for quick runs"},
    {"test_images", "10000", "evaluate on the first N test images (1..10000)"},
    {"augment", "crop_flip", "training augmentation: crop_flip (pad + random 32x32 crop + flip), flip, or none"},
    {"pad", "4", "padding in pixels around the image before the random crop (0..16)"},
    {"pad_mode", "zero", "padding for the crop: zero (black pixels, as torchvision), reflect (mirror without "
     "the edge pixel, torch's reflect) or symmetric (mirror with it: cv2 BORDER_REFLECT, fastai 0.7)"},
    {NULL, NULL, NULL},
};

int cifar_options_from_config(CifarOptions *o, const Config *c, Err *e) {
    static const char *const augments[] = {"none", "flip", "crop_flip", NULL}; // index = AUG_*
    static const char *const pad_modes[] = {"zero", "reflect", "symmetric", NULL}; // index = PAD_*
    memset(o, 0, sizeof *o);
    const char *dir = config_str(c, "data", "dir");
    if (!dir[0])
        return err_set(e, ERR_INPUT, "%s: data.dir: must not be empty", config_where(c, "data", "dir"));
    if (strlen(dir) >= sizeof o->dir)
        return err_set(e, ERR_INPUT, "%s: data.dir: path longer than %zu characters",
                       config_where(c, "data", "dir"), sizeof o->dir - 1);
    strcpy(o->dir, dir);
    long train_n, test_n, pad;
    int aug, mode;
    if (config_int_in(c, "data", "train_images", 1, TRAIN_FILES * FILE_RECORDS, &train_n, e)) return e->code;
    if (config_int_in(c, "data", "test_images", 1, FILE_RECORDS, &test_n, e)) return e->code;
    if (config_choice(c, "data", "augment", augments, &aug, e)) return e->code;
    // 16 keeps reflect padding valid (it needs pad < 32) and is already far past useful.
    if (config_int_in(c, "data", "pad", 0, 16, &pad, e)) return e->code;
    if (config_choice(c, "data", "pad_mode", pad_modes, &mode, e)) return e->code;
    o->train_images = (int)train_n;
    o->test_images = (int)test_n;
    o->augment = aug;
    o->pad = (int)pad;
    o->pad_mode = mode;
    return ERR_OK;
}

// The message for a file or directory that cannot be opened; missing data gets the hint.
static int open_error(const char *path, int errnum, Err *e) {
    if (errnum == ENOENT) return err_set(e, ERR_INPUT, "%s: not found; " HINT, path);
    return err_set(e, ERR_INPUT, "%s: cannot read: %s", path, strerror(errnum));
}

// Opens a data file and checks its size: a positive multiple of 3073 bytes and, when
// expected > 0, exactly that many records. *records gets the count.
static int open_checked(const char *path, int expected, FILE **out, long *records, Err *e) {
    // A FIFO or device is refused before it is opened (it would block, or never end).
    struct stat st;
    if (stat(path, &st) != 0) return open_error(path, errno, e);
    long long size;
    FILE *f = fs_fopen_regular(path, "a CIFAR-10 .bin file", &size, e);
    if (!f) return e->code;
    if (size == 0) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: empty file; expected records of %d bytes; " HINT, path, CIFAR_RECORD);
    }
    if (size % CIFAR_RECORD != 0) {
        fclose(f);
        return err_set(e, ERR_INPUT,
                       "%s: size %lld bytes is not a multiple of the %d-byte record (%lld records + %lld "
                       "bytes): truncated, or not the CIFAR-10 binary version; " HINT,
                       path, size, CIFAR_RECORD, size / CIFAR_RECORD, size % CIFAR_RECORD);
    }
    long long n = size / CIFAR_RECORD;
    if (expected > 0 && n != expected) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: holds %lld records (%lld bytes), expected %d; " HINT, path, n, size,
                       expected);
    }
    if (n > 0x7fffffffLL / CIFAR_RECORD) { // keeps every record index below in int range
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: %lld records is too many for one file", path, n);
    }
    *out = f;
    *records = (long)n;
    return ERR_OK;
}

// Reads records [0, want) of an open, size-checked file, checking each label. Labels and
// pixels go to labels/pixels when they are not NULL. Reads in chunks so that checking a
// file needs no file-sized buffer.
static int read_records(FILE *f, const char *path, long want, uint8_t *labels, uint8_t *pixels, Err *e) {
    enum { CHUNK = 256 };
    uint8_t *buf = xmalloc((size_t)CHUNK * CIFAR_RECORD);
    int rc = ERR_OK;
    for (long r0 = 0; r0 < want && rc == ERR_OK; r0 += CHUNK) {
        long m = want - r0 < CHUNK ? want - r0 : CHUNK;
        size_t got = fread(buf, CIFAR_RECORD, (size_t)m, f);
        if (got != (size_t)m) {
            // The size was checked, so a short read is an I/O error or a file changed under us.
            if (ferror(f))
                rc = err_set(e, ERR_INPUT, "%s: read error at record %ld: %s", path, r0 + (long)got,
                             strerror(errno));
            else
                rc = err_set(e, ERR_INPUT, "%s: ended early at record %ld (file changed while reading?)", path,
                             r0 + (long)got);
            break;
        }
        for (long i = 0; i < m; i++) {
            const uint8_t *rec = buf + (size_t)i * CIFAR_RECORD;
            if (rec[0] >= CIFAR_CLASSES) {
                rc = err_set(e, ERR_INPUT, "%s: record %ld (byte offset %lld) has label %d, expected 0..9", path,
                             r0 + i, (long long)(r0 + i) * CIFAR_RECORD, rec[0]);
                break;
            }
            if (labels) labels[r0 + i] = rec[0];
            if (pixels) memcpy(pixels + (size_t)(r0 + i) * CIFAR_IMAGE, rec + 1, CIFAR_IMAGE);
        }
    }
    free(buf);
    return rc;
}

int cifar_check_file(const char *path, int expected_records, Err *e) {
    FILE *f;
    long n;
    if (open_checked(path, expected_records, &f, &n, e)) return e->code;
    int rc = read_records(f, path, n, NULL, NULL, e);
    fclose(f);
    return rc;
}

// A missing or unreadable directory gets its own message, rather than "data_batch_1.bin:
// not found" which would hide that the whole directory is wrong.
static int check_dir(const char *dir, Err *e) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return err_set(e, ERR_INPUT, "CIFAR-10 directory '%s' not found; " HINT, dir);
        return err_set(e, ERR_INPUT, "CIFAR-10 directory '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return err_set(e, ERR_INPUT, "CIFAR-10 directory '%s' is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, ERR_INPUT, "CIFAR-10 directory '%s' is unreadable: %s", dir, strerror(errno));
    closedir(d);
    return ERR_OK;
}

int cifar_load(CifarSet *s, const char *dir, int train, int max_images, Err *e) {
    memset(s, 0, sizeof *s);
    int nfiles = train ? TRAIN_FILES : 1;
    int total = nfiles * FILE_RECORDS;
    if (max_images > total)
        return err_set(e, ERR_INPUT, "asked for %d %s images, but CIFAR-10 has %d", max_images,
                       train ? "training" : "test", total);
    if (check_dir(dir, e)) return e->code;
    int n = max_images > 0 ? max_images : total;
    s->labels = xmalloc((size_t)n);
    s->pixels = xmalloc((size_t)n * CIFAR_IMAGE);
    int done = 0;
    // Files past the ones needed are not opened, so a quick run on 5000 images reads 15 MB.
    for (int k = 0; k < nfiles && done < n; k++) {
        char path[FS_PATH_MAX], name[32];
        if (train)
            snprintf(name, sizeof name, "data_batch_%d.bin", k + 1);
        else
            snprintf(name, sizeof name, "test_batch.bin");
        if (fs_join(path, sizeof path, dir, name, e)) goto fail;
        FILE *f;
        long records;
        if (open_checked(path, FILE_RECORDS, &f, &records, e)) goto fail;
        long want = n - done < records ? n - done : records;
        int rc = read_records(f, path, want, s->labels + done, s->pixels + (size_t)done * CIFAR_IMAGE, e);
        fclose(f);
        if (rc) goto fail;
        done += (int)want;
    }
    s->n = n;
    return ERR_OK;
fail:
    cifar_free(s);
    return e->code;
}

void cifar_free(CifarSet *s) {
    free(s->labels);
    free(s->pixels);
    memset(s, 0, sizeof *s);
}

// Mirror without repeating the edge: -1 -> 1, 32 -> 30. Valid for |overhang| < 32.
static inline int reflect_index(int i) {
    if (i < 0) return -i;
    if (i >= CIFAR_SIDE) return 2 * (CIFAR_SIDE - 1) - i;
    return i;
}

// Mirror repeating the edge: -1 -> 0, 32 -> 31. Valid for |overhang| <= 32.
static inline int symmetric_index(int i) {
    if (i < 0) return -i - 1;
    if (i >= CIFAR_SIDE) return 2 * CIFAR_SIDE - 1 - i;
    return i;
}

int cifar_aug_draws(const CifarOptions *o) {
    return o->augment == AUG_CROP_FLIP ? 3 : o->augment == AUG_FLIP ? 1 : 0;
}

void cifar_make_batch(float *out, int *labels, const CifarSet *s, const int *idx, int B, const CifarOptions *o,
                      int train, Rng *rng) {
    // byte -> normalised value, one table per channel. Computed the way torchvision does
    // it in float32 (ToTensor's v/255, then Normalize's (x - mean)/std), so values match
    // a PyTorch pipeline bit for bit. 768 entries cost nothing next to a batch.
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - cifar_mean[c]) / cifar_std[c];

    int augment = train ? o->augment : AUG_NONE;
    int pad = augment == AUG_CROP_FLIP ? o->pad : 0;
    for (int b = 0; b < B; b++) {
        const uint8_t *img = s->pixels + (size_t)idx[b] * CIFAR_IMAGE;
        if (labels) labels[b] = s->labels[idx[b]];
        // Draw order follows torchvision: crop top, crop left, then the flip coin.
        int oy = 0, ox = 0, flip = 0;
        if (augment == AUG_CROP_FLIP) {
            oy = (int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
            ox = (int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
        }
        if (augment != AUG_NONE) flip = (int)rng_below(rng, 2);

        if (oy == 0 && ox == 0 && !flip) { // the common eval path: a straight table lookup
            for (int c = 0; c < 3; c++) {
                const uint8_t *src = img + c * CIFAR_PLANE;
                float *dst = out + ((size_t)c * B + b) * CIFAR_PLANE;
                const float *t = lut[c];
                for (int k = 0; k < CIFAR_PLANE; k++) dst[k] = t[src[k]];
            }
            continue;
        }
        // Source column for each output column (-1: zero padding), shared by all rows and
        // channels. Flipping the crop means output column j reads crop column 31-j.
        int xmap[CIFAR_SIDE], ymap[CIFAR_SIDE];
        for (int j = 0; j < CIFAR_SIDE; j++) {
            int sx = ox + (flip ? CIFAR_SIDE - 1 - j : j);
            int sy = oy + j;
            if (o->pad_mode == PAD_REFLECT) {
                sx = reflect_index(sx);
                sy = reflect_index(sy);
            } else if (o->pad_mode == PAD_SYMMETRIC) {
                sx = symmetric_index(sx);
                sy = symmetric_index(sy);
            } else {
                if (sx < 0 || sx >= CIFAR_SIDE) sx = -1;
                if (sy < 0 || sy >= CIFAR_SIDE) sy = -1;
            }
            xmap[j] = sx;
            ymap[j] = sy;
        }
        for (int c = 0; c < 3; c++) {
            const uint8_t *src = img + c * CIFAR_PLANE;
            float *dst = out + ((size_t)c * B + b) * CIFAR_PLANE;
            const float *t = lut[c];
            float zero = t[0]; // a black padding pixel, normalised
            for (int i = 0; i < CIFAR_SIDE; i++) {
                float *drow = dst + i * CIFAR_SIDE;
                if (ymap[i] < 0) {
                    for (int j = 0; j < CIFAR_SIDE; j++) drow[j] = zero;
                    continue;
                }
                const uint8_t *srow = src + ymap[i] * CIFAR_SIDE;
                for (int j = 0; j < CIFAR_SIDE; j++) drow[j] = xmap[j] < 0 ? zero : t[srow[xmap[j]]];
            }
        }
    }
}
