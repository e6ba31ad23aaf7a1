// act.c: activation tensors with their layout (act.h).
#include "act.h"
#include <string.h>

Act act_make(float *data, ActLayout layout, int C, int B, int H, int W) {
    return (Act){.data = data, .C = C, .B = B, .H = H, .W = W, .layout = layout};
}

static long blocks_of(int C) {
    return (C + ACT_LANES - 1) / ACT_LANES;
}

long act_floats(ActLayout layout, int C, int B, int H, int W) {
    const long pixels = (long)B * H * W;
    return layout == ACT_CB16 ? blocks_of(C) * ACT_LANES * pixels : (long)C * pixels;
}

long act_index(const Act *a, int c, int b, int y, int x) {
    const long hw = (long)a->H * a->W, pixel = (long)b * hw + (long)y * a->W + x;
    if (a->layout == ACT_CB16)
        return ((long)(c / ACT_LANES) * a->B * hw + pixel) * ACT_LANES + c % ACT_LANES;
    return (long)c * a->B * hw + pixel;
}

Act act_part(const Act *a, int lo, int n) {
    return act_make(a->data + act_floats(a->layout, a->C, lo, a->H, a->W), a->layout, a->C, n, a->H, a->W);
}

const char *act_layout_name(ActLayout layout) {
    return layout == ACT_CB16 ? "CB16" : "CBHW";
}

// CBHW -> CB16 and back, one block of 16 channels and one run of pixels at a time: the inner
// loop walks 16 lanes of one pixel on one side and 16 planes at one offset on the other.
int act_convert(Act *dst, const Act *src) {
    if (dst->C != src->C || dst->B != src->B || dst->H != src->H || dst->W != src->W) return -1;
    const long n = act_floats(src->layout, src->C, src->B, src->H, src->W);
    if (dst->layout == src->layout) {
        memmove(dst->data, src->data, sizeof(float) * (size_t)n);
        return 0;
    }
    const long pixels = (long)src->B * src->H * src->W, nb = blocks_of(src->C);
    const int to_blocked = dst->layout == ACT_CB16;
#pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nb; blk++) {
        const int c0 = (int)blk * ACT_LANES, nc = src->C - c0 < ACT_LANES ? src->C - c0 : ACT_LANES;
        float *v = (to_blocked ? dst->data : (float *)src->data) + blk * pixels * ACT_LANES;
        float *planes = (to_blocked ? (float *)src->data : dst->data) + (long)c0 * pixels;
        for (long p = 0; p < pixels; p++) {
            float *lanes = v + p * ACT_LANES;
            if (to_blocked) {
                for (int c = 0; c < nc; c++) lanes[c] = planes[(long)c * pixels + p];
                for (int c = nc; c < ACT_LANES; c++) lanes[c] = 0;
            } else {
                for (int c = 0; c < nc; c++) planes[(long)c * pixels + p] = lanes[c];
            }
        }
    }
    return 0;
}
