// batch.c: bytes -> normalised, augmented batches in the network's (C, B, H, W) layout.
#include "batch.h"

// Mirror without repeating the edge: -1 -> 1, n -> n-2. Valid for |overhang| < n.
static inline int reflect_index(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

// Mirror repeating the edge: -1 -> 0, n -> n-1. Valid for |overhang| <= n.
static inline int symmetric_index(int i, int n) {
    if (i < 0) return -i - 1;
    if (i >= n) return 2 * n - 1 - i;
    return i;
}

// The source index, along an axis of length n, of position i of the padded image (-1: a
// zero-padding pixel).
static inline int source_index(int i, int n, int mode) {
    if (mode == PAD_REFLECT) return reflect_index(i, n);
    if (mode == PAD_SYMMETRIC) return symmetric_index(i, n);
    return i < 0 || i >= n ? -1 : i;
}

int batch_aug_draws(const DataOptions *o) {
    return o->augment == AUG_CROP_FLIP ? 3 : o->augment == AUG_FLIP ? 1 : 0;
}

void batch_make(float *out, int *labels, const Dataset *s, const int *idx, int B, const DataOptions *o, int train,
                Rng *rng) {
    const int C = s->channels, H = s->height, W = s->width;
    const size_t plane = (size_t)H * (size_t)W, image = (size_t)C * plane;
    // byte -> normalised value, one table per channel. Computed the way torchvision does
    // it in float32 (ToTensor's v/255, then Normalize's (x - mean)/std), so values match
    // a PyTorch pipeline bit for bit. 768 entries cost nothing next to a batch.
    float lut[DATASET_MAX_CHANNELS][256];
    for (int c = 0; c < C; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - s->mean[c]) / s->std[c];

    int augment = train ? o->augment : AUG_NONE;
    int pad = augment == AUG_CROP_FLIP ? o->pad : 0;
    for (int b = 0; b < B; b++) {
        const uint8_t *img = s->pixels + (size_t)idx[b] * image;
        if (labels) labels[b] = s->labels[idx[b]];
        // Draw order follows torchvision: crop top, crop left, then the flip coin.
        int oy = 0, ox = 0, flip = 0;
        if (augment == AUG_CROP_FLIP) {
            oy = (int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
            ox = (int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
        }
        if (augment != AUG_NONE) flip = (int)rng_below(rng, 2);

        if (oy == 0 && ox == 0 && !flip) { // the common eval path: a straight table lookup
            for (int c = 0; c < C; c++) {
                const uint8_t *src = img + c * plane;
                float *dst = out + ((size_t)c * B + b) * plane;
                const float *t = lut[c];
                for (size_t k = 0; k < plane; k++) dst[k] = t[src[k]];
            }
            continue;
        }
        // Source column for each output column and source row for each output row (-1:
        // zero padding), shared by all channels. Flipping the crop means output column j
        // reads crop column W-1-j.
        int xmap[BATCH_MAX_SIDE], ymap[BATCH_MAX_SIDE]; // every reader's images are at most 32 wide
        for (int j = 0; j < W; j++) xmap[j] = source_index(ox + (flip ? W - 1 - j : j), W, o->pad_mode);
        for (int i = 0; i < H; i++) ymap[i] = source_index(oy + i, H, o->pad_mode);
        for (int c = 0; c < C; c++) {
            const uint8_t *src = img + c * plane;
            float *dst = out + ((size_t)c * B + b) * plane;
            const float *t = lut[c];
            float zero = t[0]; // a black padding pixel, normalised
            for (int i = 0; i < H; i++) {
                float *drow = dst + (size_t)i * W;
                if (ymap[i] < 0) {
                    for (int j = 0; j < W; j++) drow[j] = zero;
                    continue;
                }
                const uint8_t *srow = src + (size_t)ymap[i] * W;
                for (int j = 0; j < W; j++) drow[j] = xmap[j] < 0 ? zero : t[srow[xmap[j]]];
            }
        }
    }
}
