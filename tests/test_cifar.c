// test_cifar.c: file validation on crafted files, loading, normalisation, augmentation, and
// (when the shared copy exists) the real data set's counts.
#include "cifar.h"
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const double MEAN[3] = {0.4914, 0.4822, 0.4465};
static const double STD[3] = {0.2470, 0.2435, 0.2616};

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
    CifarSet s;
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
    cifar_free(&s);
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
    cifar_free(&s);

    // A bad label past the images asked for is not read; one within them is named.
    snprintf(p, sizeof p, "%s/test_batch.bin", d);
    set_label(p, 1234, 10);
    CHECK_EQ_INT(cifar_load(&s, d, 0, 1000, &e), ERR_OK);
    cifar_free(&s);
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

static void test_options(void) {
    test_begin("options");
    const ConfigSection schema[] = {{"data", cifar_config_keys}, {NULL, NULL}};
    static Config c;
    CifarOptions o;
    Err e = {0};
    config_init(&c, schema);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_OK);
    CHECK(!strcmp(o.dir, "data/cifar-10-batches-bin"));
    CHECK_EQ_INT(o.train_images, 50000);
    CHECK_EQ_INT(o.test_images, 10000);
    CHECK_EQ_INT(o.augment, AUG_CROP_FLIP);
    CHECK_EQ_INT(o.pad, 4);
    CHECK_EQ_INT(o.pad_mode, PAD_ZERO);

    const char *good[] = {"data.augment=flip", "data.pad_mode=reflect", "data.pad=0", "data.train_images=1",
                          "data.test_images=500", "data.dir=/x/y"};
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(config_set(&c, good[i], &e), ERR_OK);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.augment, AUG_FLIP);
    CHECK_EQ_INT(o.pad_mode, PAD_REFLECT);
    CHECK_EQ_INT(config_set(&c, "data.pad_mode=symmetric", &e), ERR_OK);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.pad_mode, PAD_SYMMETRIC);
    CHECK_EQ_INT(o.pad, 0);
    CHECK_EQ_INT(o.train_images, 1);
    CHECK_EQ_INT(o.test_images, 500);
    CHECK(!strcmp(o.dir, "/x/y"));
    CHECK_EQ_INT(config_set(&c, "data.augment=none", &e), ERR_OK);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.augment, AUG_NONE);

    struct {
        const char *set, *needle;
    } bad[] = {
        {"data.train_images=0", "train_images"},  {"data.train_images=50001", "train_images"},
        {"data.test_images=10001", "test_images"}, {"data.pad=17", "pad"},
        {"data.pad=-1", "pad"},                    {"data.augment=crop", "augment"},
        {"data.pad_mode=edge", "pad_mode"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_init(&c, schema);
        CHECK_EQ_INT(config_set(&c, bad[i].set, &e), ERR_OK);
        CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, bad[i].needle);
    }
    // An empty directory (from a file: an empty --set clears the key to its default).
    config_init(&c, schema);
    CHECK_EQ_INT(config_load_string(&c, "[data]\ndir =\n", "d.cfg", &e), ERR_OK);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "dir");
    config_init(&c, schema);
    CHECK_EQ_INT(config_set(&c, "data.dir=", &e), ERR_OK);
    CHECK_EQ_INT(cifar_options_from_config(&o, &c, &e), ERR_OK);
}

// The exact normalised value of byte v in channel c, the way the loader must compute it.
static double norm(int c, int v) { return ((double)v / 255.0 - MEAN[c]) / STD[c]; }

// Back from a normalised value to the byte (or -1 if it is not one).
static int denorm(int c, float x) {
    double v = ((double)x * STD[c] + MEAN[c]) * 255.0;
    int r = (int)lround(v);
    return fabs(v - r) < 1e-3 && r >= 0 && r <= 255 ? r : -1;
}

static CifarSet make_set(int n) {
    CifarSet s = {n, calloc((size_t)n, 1), calloc((size_t)n * CIFAR_IMAGE, 1)};
    return s;
}

static void test_normalise(void) {
    test_begin("normalise");
    // Image 0 has every byte value in every channel; image 1 is constant per channel.
    CifarSet s = make_set(2);
    s.labels[0] = 7;
    s.labels[1] = 2;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < CIFAR_PLANE; k++) {
            s.pixels[c * CIFAR_PLANE + k] = (uint8_t)(k + 85 * c);
            s.pixels[CIFAR_IMAGE + c * CIFAR_PLANE + k] = (uint8_t)(10 + c);
        }
    CifarOptions o = {.augment = AUG_CROP_FLIP, .pad = 4};
    const int idx[3] = {1, 0, 1};
    float *out = malloc(sizeof(float) * 3 * 3 * CIFAR_PLANE);
    int labels[3];
    cifar_make_batch(out, labels, &s, idx, 3, &o, 0, NULL); // eval: no augmentation, no rng
    CHECK(labels[0] == 2 && labels[1] == 7 && labels[2] == 2);
    int bad = 0;
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < CIFAR_PLANE; k++) {
                int v = idx[b] == 0 ? (uint8_t)(k + 85 * c) : 10 + c;
                double d = fabs(out[((size_t)c * 3 + b) * CIFAR_PLANE + k] - norm(c, v));
                if (d > worst) worst = d;
                if (d > 1e-6) bad++;
            }
    CHECK_EQ_INT(bad, 0);
    CHECK_MSG(worst < 1e-6, "worst normalisation error %g", worst);
    // Hand-computed anchors, layout (3, B, 32, 32): channel, then image.
    CHECK_CLOSE(out[0 * 3 * CIFAR_PLANE + 1 * CIFAR_PLANE + 0], -0.4914 / 0.2470, 1e-6, 0); // R byte 0
    CHECK_CLOSE(out[0 * 3 * CIFAR_PLANE + 1 * CIFAR_PLANE + 255], (1 - 0.4914) / 0.2470, 1e-6, 0);
    CHECK_CLOSE(out[1 * 3 * CIFAR_PLANE + 1 * CIFAR_PLANE + 170], (1 - 0.4822) / 0.2435, 1e-6, 0);
    CHECK_CLOSE(out[2 * 3 * CIFAR_PLANE + 1 * CIFAR_PLANE + 86], -0.4465 / 0.2616, 1e-6, 0); // B byte 0
    CHECK_CLOSE(out[2 * 3 * CIFAR_PLANE + 2 * CIFAR_PLANE + 0], (12 / 255.0 - 0.4465) / 0.2616, 1e-6, 0);
    // Bit-exact with a float32 torchvision pipeline: ToTensor (v/255) then Normalize.
    float r128 = (128.0f / 255.0f - 0.4914f) / 0.2470f;
    CHECK(out[1 * CIFAR_PLANE + 128] == r128);
    free(out);
    cifar_free(&s);
}

// The reference for one augmented output pixel: the source (sy, sx) or -1 for zero padding.
static int ref_src(int o, int pad, int mode) {
    int i = o - pad;
    if (mode == PAD_REFLECT) return i < 0 ? -i : i > 31 ? 62 - i : i;
    if (mode == PAD_SYMMETRIC) return i < 0 ? -1 - i : i > 31 ? 63 - i : i;
    return i < 0 || i > 31 ? -1 : i;
}

// Augmentation on an image whose R byte is x+1 and G byte y+1 (0 only in zero padding):
// each output must be exactly one (crop top, crop left, flip) of the 81*2 possible, and
// every offset in [0, 2*pad] and both flips must occur.
static void check_crops(int mode) {
    enum { B = 2000, PAD = 4, NO = 2 * PAD + 1 };
    CifarSet s = make_set(1);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            s.pixels[0 * CIFAR_PLANE + y * 32 + x] = (uint8_t)(x + 1);
            s.pixels[1 * CIFAR_PLANE + y * 32 + x] = (uint8_t)(y + 1);
            s.pixels[2 * CIFAR_PLANE + y * 32 + x] = 200;
        }
    CifarOptions o = {.augment = AUG_CROP_FLIP, .pad = PAD, .pad_mode = mode};
    int *idx = calloc(B, sizeof(int));
    float *out = malloc(sizeof(float) * 3 * B * CIFAR_PLANE);
    Rng r;
    rng_seed(&r, 1234);
    cifar_make_batch(out, NULL, &s, idx, B, &o, 1, &r);
    int hist_y[NO] = {0}, hist_x[NO] = {0}, flips = 0, unmatched = 0, padded = 0;
    for (int b = 0; b < B; b++) {
        int found = 0;
        for (int oy = 0; oy < NO && !found; oy++)
            for (int ox = 0; ox < NO && !found; ox++)
                for (int f = 0; f < 2 && !found; f++) {
                    int ok = 1;
                    for (int i = 0; i < 32 && ok; i++)
                        for (int j = 0; j < 32 && ok; j++) {
                            int sy = ref_src(oy + i, PAD, mode);
                            int sx = ref_src(ox + (f ? 31 - j : j), PAD, mode);
                            int in = sy >= 0 && sx >= 0;
                            for (int c = 0; c < 3 && ok; c++) {
                                int want = !in ? 0 : c == 0 ? sx + 1 : c == 1 ? sy + 1 : 200;
                                ok = denorm(c, out[((size_t)c * B + b) * CIFAR_PLANE + i * 32 + j]) == want;
                            }
                        }
                    if (ok) {
                        found = 1;
                        hist_y[oy]++;
                        hist_x[ox]++;
                        flips += f;
                        padded += oy != PAD || ox != PAD;
                    }
                }
        unmatched += !found;
    }
    CHECK_EQ_INT(unmatched, 0);
    int lo = 1000, hi = 0;
    for (int k = 0; k < NO; k++) {
        lo = hist_y[k] < lo ? hist_y[k] : lo;
        lo = hist_x[k] < lo ? hist_x[k] : lo;
        hi = hist_y[k] > hi ? hist_y[k] : hi;
        hi = hist_x[k] > hi ? hist_x[k] : hi;
    }
    // B/9 = 222 expected per offset; 150..300 is more than 4 sigma either way.
    CHECK_MSG(lo > 150 && hi < 300, "crop offsets not uniform over [0, %d]: min %d max %d", 2 * PAD, lo, hi);
    CHECK_MSG(flips > 850 && flips < 1150, "flips %d of %d", flips, B);
    CHECK(padded > 0);
    free(idx);
    free(out);
    cifar_free(&s);
}

static void test_augment(void) {
    test_begin("augment_flip");
    {
        enum { B = 64 };
        CifarSet s = make_set(1);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < CIFAR_PLANE; k++) s.pixels[c * CIFAR_PLANE + k] = (uint8_t)(k % 32 + 40 * c);
        CifarOptions o = {.augment = AUG_FLIP, .pad = 4};
        int idx[B] = {0};
        float *out = malloc(sizeof(float) * 3 * B * CIFAR_PLANE);
        Rng r;
        rng_seed(&r, 7);
        cifar_make_batch(out, NULL, &s, idx, B, &o, 1, &r);
        int flipped = 0, bad = 0;
        for (int b = 0; b < B; b++) {
            int f = denorm(0, out[(size_t)b * CIFAR_PLANE]) == 31; // R at (0,0): x, or 31-x
            flipped += f;
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < CIFAR_PLANE; k++) {
                    int x = k % 32, want = (f ? 31 - x : x) + 40 * c;
                    bad += denorm(c, out[((size_t)c * B + b) * CIFAR_PLANE + k]) != want;
                }
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_MSG(flipped > 10 && flipped < 54, "%d of %d flipped", flipped, B);
        free(out);
        cifar_free(&s);
    }
    test_begin("augment_crop_zero");
    check_crops(PAD_ZERO);
    test_begin("augment_crop_reflect");
    check_crops(PAD_REFLECT);
    // The reference itself, by hand: reflect does not repeat the edge. Padded column 0 is
    // source -4 -> 4, padded 3 is -1 -> 1, padded 4 is 0; padded 36 is source 32 -> 30 and
    // padded 39 is 35 -> 27 (edge 31 appears once).
    CHECK_EQ_INT(ref_src(0, 4, 1), 4);
    CHECK_EQ_INT(ref_src(3, 4, 1), 1);
    CHECK_EQ_INT(ref_src(4, 4, 1), 0);
    CHECK_EQ_INT(ref_src(36, 4, 1), 30);
    CHECK_EQ_INT(ref_src(39, 4, 1), 27);
    CHECK_EQ_INT(ref_src(3, 4, 0), -1);
    test_begin("augment_crop_symmetric");
    check_crops(PAD_SYMMETRIC);
    // By hand: symmetric (cv2 BORDER_REFLECT, fastai 0.7) repeats the edge. Padded column 3
    // is source -1 -> 0, padded 0 is -4 -> 3; padded 36 is 32 -> 31, padded 39 is 35 -> 28.
    CHECK_EQ_INT(ref_src(3, 4, PAD_SYMMETRIC), 0);
    CHECK_EQ_INT(ref_src(0, 4, PAD_SYMMETRIC), 3);
    CHECK_EQ_INT(ref_src(36, 4, PAD_SYMMETRIC), 31);
    CHECK_EQ_INT(ref_src(39, 4, PAD_SYMMETRIC), 28);
}

static void test_determinism(void) {
    test_begin("same_seed_same_batch");
    enum { B = 256, N = 1000 };
    CifarSet s = make_set(N);
    for (int i = 0; i < N; i++) {
        s.labels[i] = (uint8_t)(i % 10);
        for (int k = 0; k < CIFAR_IMAGE; k++) s.pixels[(size_t)i * CIFAR_IMAGE + k] = gen_pixel(3, i, k);
    }
    int idx[B], la[B], lb[B];
    for (int b = 0; b < B; b++) idx[b] = (b * 37) % N;
    CifarOptions o = {.augment = AUG_CROP_FLIP, .pad = 4};
    size_t n = (size_t)3 * B * CIFAR_PLANE;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    Rng r1, r2;
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    cifar_make_batch(x, la, &s, idx, B, &o, 1, &r1);
    cifar_make_batch(y, lb, &s, idx, B, &o, 1, &r2);
    CHECK(memcmp(x, y, n * sizeof(float)) == 0);
    CHECK(memcmp(la, lb, sizeof la) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0); // and the generators end in the same state
    rng_seed(&r2, 43);
    cifar_make_batch(y, lb, &s, idx, B, &o, 1, &r2);
    CHECK(memcmp(x, y, n * sizeof(float)) != 0);
    // Eval batches ignore augmentation and leave the generator alone.
    Rng before = r1;
    cifar_make_batch(x, la, &s, idx, B, &o, 0, &r1);
    CHECK(memcmp(&before, &r1, sizeof r1) == 0);

    test_begin("batch_speed");
    enum { BIG = 512, REPS = 20 };
    int big[BIG];
    for (int b = 0; b < BIG; b++) big[b] = (b * 389) % N;
    float *z = malloc(sizeof(float) * 3 * BIG * CIFAR_PLANE);
    int lz[BIG];
    cifar_make_batch(z, lz, &s, big, BIG, &o, 1, &r1); // warm the pages
    double t0 = now_seconds();
    for (int i = 0; i < REPS; i++) cifar_make_batch(z, lz, &s, big, BIG, &o, 1, &r1);
    double ms = (now_seconds() - t0) * 1000.0 / REPS;
    printf("  cifar_make_batch B=512 crop_flip: %.2f ms\n", ms);
    CHECK_MSG(ms < 100, "cifar_make_batch B=512 took %.1f ms", ms); // a loose bound: sanitizers, noisy host
    free(z);
    free(x);
    free(y);
    cifar_free(&s);
}

// The real data set, wherever the other real-data tests find it (data/ or ../shared/data).
static void test_realdata(void) {
    test_begin("realdata");
    const char *dir = testdata_cifar_dir();
    if (!dir) {
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    CifarSet s;
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
    cifar_free(&s);

    if (!CHECK_MSG(cifar_load(&s, dir, 1, 0, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(s.n, 50000);
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < s.n; i++) hist[s.labels[i]]++;
    off = 0;
    for (int k = 0; k < 10; k++) off += hist[k] != 5000;
    CHECK_MSG(off == 0, "training class counts are not 5000 each");
    const uint8_t first_train[5] = {6, 9, 9, 4, 1};
    CHECK(memcmp(s.labels, first_train, 5) == 0);
    cifar_free(&s);
}

void suite_cifar(void) {
    test_check_file();
    test_load();
    test_options();
    test_normalise();
    test_augment();
    test_determinism();
    test_realdata();
}
