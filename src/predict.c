// predict.c: images in, classes out (include/predict.h).
#include "predict.h"
#include "cifar.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Per output index o: input pixels first..first+count-1 with their weights (summing to 1).
typedef struct Taps {
    int *first, *count;
    float *w; // (n_out, max_count)
    int max_count;
} Taps;

static void taps_make(Taps *t, int n_in, int n_out) {
    double scale = (double)n_in / n_out;
    t->max_count = n_in >= n_out ? (int)ceil(scale) + 1 : 2;
    t->first = xmalloc(sizeof(int) * (size_t)n_out);
    t->count = xmalloc(sizeof(int) * (size_t)n_out);
    t->w = xcalloc((size_t)n_out * (size_t)t->max_count, sizeof(float));
    for (int o = 0; o < n_out; o++) {
        float *w = t->w + (size_t)o * t->max_count;
        if (n_in >= n_out) { // area: the interval [o*scale, (o+1)*scale) of the input
            double a = o * scale, b = (o + 1) * scale;
            int i0 = (int)floor(a), i1 = (int)ceil(b) - 1;
            if (i1 > n_in - 1) i1 = n_in - 1;
            t->first[o] = i0;
            t->count[o] = i1 - i0 + 1;
            for (int i = i0; i <= i1; i++) {
                double lo = i > a ? i : a, hi = i + 1 < b ? i + 1 : b;
                w[i - i0] = (float)((hi - lo) / scale);
            }
        } else { // bilinear between pixel centres
            double s = (o + 0.5) * scale - 0.5;
            if (s < 0) s = 0;
            if (s > n_in - 1) s = n_in - 1;
            int i0 = (int)floor(s);
            double f = s - i0;
            t->first[o] = i0;
            t->count[o] = i0 + 1 < n_in ? 2 : 1;
            w[0] = (float)(1 - f);
            if (t->count[o] == 2) w[1] = (float)f;
        }
    }
}

static void taps_free(Taps *t) {
    free(t->first);
    free(t->count);
    free(t->w);
}

void predict_resize(const Image *src, Image *dst, int w, int h) {
    image_alloc(dst, w, h);
    Taps tx, ty;
    taps_make(&tx, src->w, w);
    taps_make(&ty, src->h, h);
    float *rows = xmalloc(sizeof(float) * (size_t)src->h * (size_t)w * 3); // (src->h, w, 3)
    for (int y = 0; y < src->h; y++)
        for (int o = 0; o < w; o++)
            for (int c = 0; c < 3; c++) {
                const uint8_t *in = src->rgb + ((size_t)y * src->w + tx.first[o]) * 3 + c;
                const float *wt = tx.w + (size_t)o * tx.max_count;
                float acc = 0;
                for (int k = 0; k < tx.count[o]; k++) acc += wt[k] * in[3 * k];
                rows[((size_t)y * w + o) * 3 + c] = acc;
            }
    for (int o = 0; o < h; o++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                const float *wt = ty.w + (size_t)o * ty.max_count;
                float acc = 0;
                for (int k = 0; k < ty.count[o]; k++) acc += wt[k] * rows[((size_t)(ty.first[o] + k) * w + x) * 3 + c];
                long v = lrintf(acc);
                dst->rgb[((size_t)o * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    free(rows);
    taps_free(&tx);
    taps_free(&ty);
}

int predict_read_png(const char *path, uint8_t *planes, Err *e) {
    Image img, small;
    if (png_read_rgb(path, &img, e)) return e->code;
    predict_resize(&img, &small, CIFAR_SIDE, CIFAR_SIDE);
    for (int i = 0; i < CIFAR_PLANE; i++)
        for (int c = 0; c < 3; c++) planes[c * CIFAR_PLANE + i] = small.rgb[i * 3 + c];
    image_free(&small);
    image_free(&img);
    return ERR_OK;
}

void predict_top(const float *logits, int K, int k, double *prob, int *top) {
    double mx = logits[0], sum = 0;
    for (int i = 1; i < K; i++)
        if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < K; i++) sum += prob[i] = exp(logits[i] - mx);
    for (int i = 0; i < K; i++) prob[i] /= sum;
    for (int r = 0; r < k && r < K; r++) {
        int best = -1;
        for (int i = 0; i < K; i++) {
            int taken = 0;
            for (int q = 0; q < r; q++) taken |= top[q] == i;
            if (!taken && (best < 0 || prob[i] > prob[best])) best = i;
        }
        top[r] = best;
    }
}
