// test_batch.c: batches from a data set's bytes: normalisation (bit-exact with a float32
// torchvision pipeline), the (C, B, H, W) layout, flip and crop with each padding mode
// against a reference, determinism of the draws, and the same on a 1 x 28 x 28 set.
#include "batch.h"
#include "cifar.h"
#include "fmnist.h"
#include "test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double MEAN[3] = {0.4914, 0.4822, 0.4465};
static const double STD[3] = {0.2470, 0.2435, 0.2616};

static uint8_t gen_pixel(int file, int i, int k) { return (uint8_t)(i * 31 + k * 7 + file * 13); }

// The exact normalised value of byte v in channel c, the way the loader must compute it.
static double norm(int c, int v) { return ((double)v / 255.0 - MEAN[c]) / STD[c]; }

// Back from a normalised value to the byte (or -1 if it is not one).
static int denorm(int c, float x) {
    double v = ((double)x * STD[c] + MEAN[c]) * 255.0;
    int r = (int)lround(v);
    return fabs(v - r) < 1e-3 && r >= 0 && r <= 255 ? r : -1;
}

// n black CIFAR-10-shaped images (3 x 32 x 32, CIFAR-10's normalisation), labels 0.
static Dataset make_set(int n) {
    Dataset s = {.n = n, .channels = 3, .height = 32, .width = 32, .classes = 10, .labels = calloc((size_t)n, 1),
                 .pixels = calloc((size_t)n * CIFAR_IMAGE, 1)};
    memcpy(s.mean, cifar10_mean, sizeof cifar10_mean);
    memcpy(s.std, cifar10_std, sizeof cifar10_std);
    return s;
}

static void test_normalise(void) {
    test_begin("normalise");
    // Image 0 has every byte value in every channel; image 1 is constant per channel.
    Dataset s = make_set(2);
    s.labels[0] = 7;
    s.labels[1] = 2;
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < CIFAR_PLANE; k++) {
            s.pixels[c * CIFAR_PLANE + k] = (uint8_t)(k + 85 * c);
            s.pixels[CIFAR_IMAGE + c * CIFAR_PLANE + k] = (uint8_t)(10 + c);
        }
    DataOptions o = {.augment = AUG_CROP_FLIP, .pad = 4};
    const int idx[3] = {1, 0, 1};
    float *out = malloc(sizeof(float) * 3 * 3 * CIFAR_PLANE);
    int labels[3];
    batch_make(out, labels, &s, idx, 3, &o, 0, NULL); // eval: no augmentation, no rng
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
    dataset_free(&s);
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
    Dataset s = make_set(1);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            s.pixels[0 * CIFAR_PLANE + y * 32 + x] = (uint8_t)(x + 1);
            s.pixels[1 * CIFAR_PLANE + y * 32 + x] = (uint8_t)(y + 1);
            s.pixels[2 * CIFAR_PLANE + y * 32 + x] = 200;
        }
    DataOptions o = {.augment = AUG_CROP_FLIP, .pad = PAD, .pad_mode = mode};
    int *idx = calloc(B, sizeof(int));
    float *out = malloc(sizeof(float) * 3 * B * CIFAR_PLANE);
    Rng r;
    rng_seed(&r, 1234);
    batch_make(out, NULL, &s, idx, B, &o, 1, &r);
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
    dataset_free(&s);
}

static void test_augment(void) {
    test_begin("augment_flip");
    {
        enum { B = 64 };
        Dataset s = make_set(1);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < CIFAR_PLANE; k++) s.pixels[c * CIFAR_PLANE + k] = (uint8_t)(k % 32 + 40 * c);
        DataOptions o = {.augment = AUG_FLIP, .pad = 4};
        int idx[B] = {0};
        float *out = malloc(sizeof(float) * 3 * B * CIFAR_PLANE);
        Rng r;
        rng_seed(&r, 7);
        batch_make(out, NULL, &s, idx, B, &o, 1, &r);
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
        dataset_free(&s);
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
    Dataset s = make_set(N);
    for (int i = 0; i < N; i++) {
        s.labels[i] = (uint8_t)(i % 10);
        for (int k = 0; k < CIFAR_IMAGE; k++) s.pixels[(size_t)i * CIFAR_IMAGE + k] = gen_pixel(3, i, k);
    }
    int idx[B], la[B], lb[B];
    for (int b = 0; b < B; b++) idx[b] = (b * 37) % N;
    DataOptions o = {.augment = AUG_CROP_FLIP, .pad = 4};
    size_t n = (size_t)3 * B * CIFAR_PLANE;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    Rng r1, r2;
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    batch_make(x, la, &s, idx, B, &o, 1, &r1);
    batch_make(y, lb, &s, idx, B, &o, 1, &r2);
    CHECK(memcmp(x, y, n * sizeof(float)) == 0);
    CHECK(memcmp(la, lb, sizeof la) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0); // and the generators end in the same state
    rng_seed(&r2, 43);
    batch_make(y, lb, &s, idx, B, &o, 1, &r2);
    CHECK(memcmp(x, y, n * sizeof(float)) != 0);
    // Eval batches ignore augmentation and leave the generator alone.
    Rng before = r1;
    batch_make(x, la, &s, idx, B, &o, 0, &r1);
    CHECK(memcmp(&before, &r1, sizeof r1) == 0);
    free(x);
    free(y);
    dataset_free(&s);
}

// A 1 x 28 x 28 set (Fashion-MNIST's shape and normalisation): every crop+flip output pixel
// against a reference computed from the same draws, for each padding mode; the image's
// bytes are all distinct along a row and a column, so any misplaced pixel shows.
static void test_gray28(void) {
    enum { B = 200, S = 28, PAD = 4 };
    static const char *const names[] = {"gray28_crop_zero", "gray28_crop_reflect", "gray28_crop_symmetric"};
    Dataset s = {.n = 1, .channels = 1, .height = S, .width = S, .classes = 10, .labels = calloc(1, 1),
                 .pixels = malloc(S * S)};
    s.mean[0] = fmnist_mean;
    s.std[0] = fmnist_std;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) s.pixels[y * S + x] = (uint8_t)(1 + (y * 29 + x * 3) % 251);
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - fmnist_mean) / fmnist_std;
    float *out = malloc(sizeof(float) * B * S * S);
    int idx[B] = {0};
    for (int mode = PAD_ZERO; mode <= PAD_SYMMETRIC; mode++) {
        test_begin(names[mode]);
        DataOptions o = {.augment = AUG_CROP_FLIP, .pad = PAD, .pad_mode = mode};
        Rng r, ref;
        rng_seed(&r, 99);
        ref = r;
        batch_make(out, NULL, &s, idx, B, &o, 1, &r);
        int bad = 0, flips = 0, moved = 0;
        for (int b = 0; b < B; b++) {
            int oy = (int)rng_below(&ref, 2 * PAD + 1) - PAD, ox = (int)rng_below(&ref, 2 * PAD + 1) - PAD;
            int f = (int)rng_below(&ref, 2);
            flips += f;
            moved += oy != 0 || ox != 0;
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) {
                    int sy = oy + i, sx = ox + (f ? S - 1 - j : j);
                    int in = sy >= 0 && sy < S && sx >= 0 && sx < S;
                    if (mode == PAD_REFLECT) {
                        sy = sy < 0 ? -sy : sy >= S ? 2 * S - 2 - sy : sy;
                        sx = sx < 0 ? -sx : sx >= S ? 2 * S - 2 - sx : sx;
                        in = 1;
                    } else if (mode == PAD_SYMMETRIC) {
                        sy = sy < 0 ? -sy - 1 : sy >= S ? 2 * S - 1 - sy : sy;
                        sx = sx < 0 ? -sx - 1 : sx >= S ? 2 * S - 1 - sx : sx;
                        in = 1;
                    }
                    float want = in ? lut[s.pixels[sy * S + sx]] : lut[0];
                    bad += out[(size_t)b * S * S + i * S + j] != want;
                }
        }
        CHECK_EQ_INT(bad, 0);
        CHECK(!memcmp(&r, &ref, sizeof r)); // three draws per image, as batch_aug_draws says
        CHECK_EQ_INT(batch_aug_draws(&o), 3);
        CHECK_MSG(flips > 60 && flips < 140 && moved > 150, "flips %d, moved %d of %d", flips, moved, B);
    }
    test_begin("gray28_eval");
    DataOptions o = {.augment = AUG_CROP_FLIP, .pad = PAD};
    batch_make(out, NULL, &s, idx, 1, &o, 0, NULL);
    int bad = 0;
    for (int k = 0; k < S * S; k++) bad += out[k] != lut[s.pixels[k]];
    CHECK_EQ_INT(bad, 0);
    free(out);
    dataset_free(&s);
}

void suite_batch(void) {
    test_normalise();
    test_augment();
    test_determinism();
    test_gray28();
}
