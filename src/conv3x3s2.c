// conv3x3s2.c: direct 3x3 / stride-2 / pad-1 forward convolution (AVX-512, CBHW), for the
// first convolution of ResNet stages 2 and 3 (32x32 -> 16x16 and 16x16 -> 8x8).
//
// A vector holds 16 output pixels: one output row of a 16-wide output, two of an 8-wide one.
// Tap (ky, kx) of output pixel (yo, xo) reads input (2yo + ky - 1, 2xo + kx - 1): for a row of
// outputs that is every second pixel of one input row, which one vpermt2ps takes out of the
// two input vectors holding the row (or the two rows), the padding column masked off.
#include "conv3x3.h"

#ifdef __AVX512F__
#include <immintrin.h>

// Register tile: GC output channels x GV output vectors. conv_pick (conv.c) sends only
// shapes with W 32 or 16, Cout a multiple of GC and Ho*Wo a multiple of VEC * GV.
enum { VEC = 16, GC = 4, GV = 4 };

typedef struct Pick {
    __m512i idx[3];      // kx = 0, 1, 2: lanes' source in (first, second) input vector
    __mmask16 valid[3];  // lanes whose input column is inside the plane
} Pick;

static void pick_init(Pick *pk, int W) {
    const int wo = W / 2;
    for (int kx = 0; kx < 3; kx++) {
        int idx[VEC];
        unsigned m = 0;
        for (int l = 0; l < VEC; l++) {
            int x = 2 * (l % wo) + kx - 1;             // input column of lane l
            int src = W == 32 ? x : (l / 8) * 16 + x; // W = 16: lanes 8..15 from the second row
            idx[l] = x >= 0 && x < W ? src : 0;
            if (x >= 0 && x < W) m |= 1u << l;
        }
        pk->idx[kx] = _mm512_loadu_si512(idx);
        pk->valid[kx] = (__mmask16)m;
    }
}

// The two input vectors that output vector v's taps of row ky pick from: input row
// 2*yo + ky - 1 as (left half, right half) at W = 32; at W = 16 the rows for output rows
// yo = 2v and 2v + 1. Rows outside the plane read as zeros (the padding).
static inline void src_rows(const float *p, int v, int ky, int W, int H, __m512 *a, __m512 *b) {
    const __m512 z = _mm512_setzero_ps();
    if (W == 32) {
        int y = 2 * v + ky - 1;
        int ok = y >= 0 && y < H;
        *a = ok ? _mm512_loadu_ps(p + (long)y * W) : z;
        *b = ok ? _mm512_loadu_ps(p + (long)y * W + 16) : z;
    } else {
        int y = 4 * v + ky - 1;
        *a = y >= 0 && y < H ? _mm512_loadu_ps(p + (long)y * W) : z;
        *b = y + 2 >= 0 && y + 2 < H ? _mm512_loadu_ps(p + (long)(y + 2) * W) : z;
    }
}

// out[co0..co0+GC-1] vectors v0..v0+GV-1 of image plane offset `at`.
static void tile(float *out, const float *in, const float *w, const ConvShape *s, int co0, int b, int v0,
                 const Pick *pk) {
    const long ihw = (long)s->H * s->W, ohw = (long)s->Ho * s->Wo;
    const long iplane = (long)s->B * ihw, oplane = (long)s->B * ohw;
    __m512 acc[GC][GV];
    for (int c = 0; c < GC; c++)
        for (int p = 0; p < GV; p++) acc[c][p] = _mm512_setzero_ps();
    for (int ci = 0; ci < s->Cin; ci++) {
        const float *x = in + ci * iplane + b * ihw, *wc = w + ((long)co0 * s->Cin + ci) * 9;
        for (int ky = 0; ky < 3; ky++) {
            __m512 xv[GV][3];
            for (int p = 0; p < GV; p++) {
                __m512 a, bb;
                src_rows(x, v0 + p, ky, s->W, s->H, &a, &bb);
                for (int kx = 0; kx < 3; kx++) xv[p][kx] = _mm512_maskz_permutex2var_ps(pk->valid[kx], a, pk->idx[kx], bb);
            }
            for (int c = 0; c < GC; c++)
                for (int kx = 0; kx < 3; kx++) {
                    __m512 wv = _mm512_set1_ps(wc[(long)c * s->Cin * 9 + ky * 3 + kx]);
                    for (int p = 0; p < GV; p++) acc[c][p] = _mm512_fmadd_ps(wv, xv[p][kx], acc[c][p]);
                }
        }
    }
    for (int c = 0; c < GC; c++)
        for (int p = 0; p < GV; p++)
            _mm512_storeu_ps(out + (co0 + c) * oplane + b * ohw + (long)(v0 + p) * VEC, acc[c][p]);
}

void conv3x3s2_forward(float *out, const float *in, const float *w, const ConvShape *s) {
    Pick pk;
    pick_init(&pk, s->W);
    const int nv = s->Ho * s->Wo / VEC, groups = s->Cout / GC;
    const long ntasks = (long)s->B * groups;
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (long t = 0; t < ntasks; t++) {
        int b = (int)(t / groups), co = (int)(t % groups) * GC;
        for (int v = 0; v < nv; v += GV) tile(out, in, w, s, co, b, v, &pk);
    }
}

#else

void conv3x3s2_forward(float *out, const float *in, const float *w, const ConvShape *s) {
    (void)out, (void)in, (void)w, (void)s;
}
#endif
