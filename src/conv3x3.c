// conv3x3.c: direct 3x3 / stride-1 / pad-1 convolution kernels (AVX-512), see conv3x3.h.
//
// An image plane of H*W floats is cut into vectors of 16 pixels. Tap t = (ky, kx) of the
// output vector at pixel p reads the input vector at p + (ky-1)*W + (kx-1), with the lanes
// whose source pixel lies outside the plane (the zero padding) masked off. Masked-off lanes
// are never read, so the loads may start before or end after a plane.
#include "conv3x3.h"
#include "common.h"
#include <omp.h>
#include <stdint.h>
#include <string.h>

static size_t wgrad_slice(const ConvShape *s) {
    return floats_to_lines((size_t)s->Cout * s->Cin * 9);
}

size_t conv3x3_wgrad_floats(const ConvShape *s) {
    return wgrad_slice(s) * (size_t)s->threads;
}

size_t conv3x3_flip_floats(const ConvShape *s) {
    return wgrad_slice(s);
}

void conv3x3_flip_weights(float *wt, const float *w, const ConvShape *s) {
    // din = conv(dout, w transposed in (co, ci) and flipped in (ky, kx)).
    for (int co = 0; co < s->Cout; co++)
        for (int ci = 0; ci < s->Cin; ci++)
            for (int t = 0; t < 9; t++) wt[((long)ci * s->Cout + co) * 9 + t] = w[((long)co * s->Cin + ci) * 9 + 8 - t];
}

#ifdef __AVX512F__
#include <immintrin.h>

// The shapes conv_pick sends here (conv.c) follow from these: at most 4096 pixels (the masks
// are on the stack), Cout a multiple of TILE_CO, and for the forward H*W a multiple of
// VEC * TILE_V (the weight gradient takes a plane's last vector partial: Fashion-MNIST's 784,
// 196 and 49 pixels).
enum { VEC = 16, TILE_CO = 4, TILE_V = 4, MAX_NVEC = 4096 / VEC };

// Tap offsets off[t] and masks mask[v*9 + t] for the nvec vectors of an H x W plane: bit l of
// mask[v*9 + t] is set when pixel 16v + l's tap t lies inside the plane. Built per call (the
// weight gradient's and the direct forward's), pixel by pixel without divisions.
static void taps_init(int off[9], uint16_t *mask, int H, int W) {
    for (int t = 0; t < 9; t++) off[t] = (t / 3 - 1) * W + t % 3 - 1;
    memset(mask, 0, sizeof(uint16_t) * (size_t)((H * W + VEC - 1) / VEC) * 9);
    for (int y = 0, p = 0; y < H; y++)
        for (int x = 0; x < W; x++, p++)
            for (int t = 0; t < 9; t++) {
                int yy = y + t / 3 - 1, xx = x + t % 3 - 1;
                if (yy >= 0 && yy < H && xx >= 0 && xx < W) mask[(p / VEC) * 9 + t] |= (uint16_t)(1u << (p % VEC));
            }
}

// One output tile: TILE_CO channels x TILE_V vectors of one image.
//   out: first channel's first vector; co stride ostride.  in: channel 0 of the same
//   pixels; ci stride istride.  w: (TILE_CO rows of Cin*9), row stride Cin*9.
//   mask: this tile's first vector's masks (TILE_V x 9).
static inline void fwd_tile(float *out, long ostride, const float *in, long istride, const float *w, int Cin,
                            const int off[9], const uint16_t *mask, int acc) {
    __m512 a[TILE_CO][TILE_V];
    const long wstride = (long)Cin * 9;
#pragma GCC unroll 4
    for (int c = 0; c < TILE_CO; c++)
#pragma GCC unroll 4
        for (int p = 0; p < TILE_V; p++)
            a[c][p] = acc ? _mm512_loadu_ps(out + c * ostride + p * VEC) : _mm512_setzero_ps();
    for (int ci = 0; ci < Cin; ci++) {
        const float *x = in + ci * istride, *wc = w + ci * 9;
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
            __m512 xv[TILE_V];
#pragma GCC unroll 4
            for (int p = 0; p < TILE_V; p++)
                xv[p] = _mm512_maskz_loadu_ps(mask[p * 9 + t], x + p * VEC + off[t]);
#pragma GCC unroll 4
            for (int c = 0; c < TILE_CO; c++) {
                __m512 wv = _mm512_set1_ps(wc[c * wstride + t]);
#pragma GCC unroll 4
                for (int p = 0; p < TILE_V; p++) a[c][p] = _mm512_fmadd_ps(wv, xv[p], a[c][p]);
            }
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < TILE_CO; c++)
#pragma GCC unroll 4
        for (int p = 0; p < TILE_V; p++) _mm512_storeu_ps(out + c * ostride + p * VEC, a[c][p]);
}

// Tasks are (image, group of TILE_CO output channels), image-major so that consecutive
// tasks on a thread reuse the image's input planes from cache.
void conv3x3_forward(float *out, const float *in, const float *w, const ConvShape *s, int acc) {
    int off[9];
    uint16_t mask[MAX_NVEC * 9];
    taps_init(off, mask, s->H, s->W);
    const long hw = (long)s->H * s->W, plane = (long)s->B * hw; // channel stride
    const int nvec = (int)(hw / VEC), groups = s->Cout / TILE_CO, Cin = s->Cin;
    const long ntasks = (long)s->B * groups;
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (long task = 0; task < ntasks; task++) {
        int b = (int)(task / groups), co = (int)(task % groups) * TILE_CO;
        float *o = out + (long)co * plane + (long)b * hw;
        const float *x = in + (long)b * hw, *wg = w + (long)co * Cin * 9;
        for (int v = 0; v < nvec; v += TILE_V)
            fwd_tile(o + v * VEC, plane, x + v * VEC, plane, wg, Cin, off, mask + v * 9, acc);
    }
}

// dw[co0..co0+G-1][ci][ky*3 + 0..2] += sums over images b0..b0+nb-1 and all pixels: G x 3
// accumulators of 16 pixel lanes, reduced once at the end. Per vector the 3 shifted input
// loads (2 of them unaligned) serve 3G FMAs: with G = 8, 11 loads per 24 FMAs, where all 9
// taps of 2 channels at a time took 11 loads (6 unaligned) per 18.
#define WGRAD_TILE(G)                                                                                    \
    static void wgrad_tile##G(float *dw, const float *dout, const float *in, const ConvShape *s, int co0, \
                              int ci, int ky, int b0, int nb, const int off[9], const uint16_t *mask) {   \
        const long hw = (long)s->H * s->W, plane = (long)s->B * hw;                                      \
        const int nvec = (int)((hw + VEC - 1) / VEC);                                                    \
        /* The last vector's lanes beyond the plane: their taps are masked off, and their */            \
        /* output gradients (the next image's, or past the tensor) are not read either. */            \
        const __mmask16 tail = hw % VEC ? (__mmask16)((1u << (hw % VEC)) - 1) : (__mmask16)0xffff;      \
        __m512 a[G][3];                                                                                  \
        _Pragma("GCC unroll 8") for (int c = 0; c < G; c++) a[c][0] = a[c][1] = a[c][2] = _mm512_setzero_ps(); \
        const float *x = in + (long)ci * plane, *d = dout + (long)co0 * plane;                          \
        for (int b = b0; b < b0 + nb; b++) {                                                             \
            const float *xb = x + b * hw + off[ky * 3], *db = d + b * hw;                                \
            for (int v = 0; v < nvec; v++) {                                                             \
                const uint16_t *mv = mask + v * 9 + ky * 3;                                              \
                const float *xv = xb + v * VEC;                                                          \
                __m512 x0 = _mm512_maskz_loadu_ps(mv[0], xv), x1 = _mm512_maskz_loadu_ps(mv[1], xv + 1), \
                       x2 = _mm512_maskz_loadu_ps(mv[2], xv + 2);                                        \
                const float *dv = db + v * VEC;                                                          \
                const __mmask16 live = v == nvec - 1 ? tail : (__mmask16)0xffff;                         \
                _Pragma("GCC unroll 8") for (int c = 0; c < G; c++) {                                   \
                    __m512 g = _mm512_maskz_loadu_ps(live, dv + c * plane);                              \
                    /* Keep g in a register: GCC otherwise folds the load into all 3 FMAs. */          \
                    __asm__("" : "+v"(g));                                                               \
                    a[c][0] = _mm512_fmadd_ps(g, x0, a[c][0]);                                           \
                    a[c][1] = _mm512_fmadd_ps(g, x1, a[c][1]);                                           \
                    a[c][2] = _mm512_fmadd_ps(g, x2, a[c][2]);                                           \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        _Pragma("GCC unroll 8") for (int c = 0; c < G; c++) {                                           \
            float *w = dw + ((long)(co0 + c) * s->Cin + ci) * 9 + ky * 3;                                \
            w[0] += _mm512_reduce_add_ps(a[c][0]);                                                       \
            w[1] += _mm512_reduce_add_ps(a[c][1]);                                                       \
            w[2] += _mm512_reduce_add_ps(a[c][2]);                                                       \
        }                                                                                                \
    }
WGRAD_TILE(8)
WGRAD_TILE(4)

// Each thread sums a contiguous share of the images into its own dw slice of work, a few
// images at a time (so their planes stay in L2 across all (co, ci) pairs); the slices are
// then added into dw.
void conv3x3_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    int off[9];
    uint16_t mask[MAX_NVEC * 9];
    taps_init(off, mask, s->H, s->W);
    const long hw = (long)s->H * s->W, nw = (long)s->Cout * s->Cin * 9;
    const size_t slice = wgrad_slice(s);
    long per_image = (long)(s->Cin + s->Cout) * hw * (long)sizeof(float);
    int chunk = (int)((512 << 10) / per_image);
    if (chunk < 1) chunk = 1;
    int used = s->threads < s->B ? s->threads : s->B;
#pragma omp parallel num_threads(used)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *mine = work + slice * (size_t)t;
        memset(mine, 0, sizeof(float) * (size_t)nw);
        int lo = (int)((long)s->B * t / nt), hi = (int)((long)s->B * (t + 1) / nt);
        for (int b0 = lo; b0 < hi; b0 += chunk) {
            int nb = hi - b0 < chunk ? hi - b0 : chunk;
            for (int co = 0; co < s->Cout; co += 8)
                for (int ci = 0; ci < s->Cin; ci++)
                    for (int ky = 0; ky < 3; ky++) {
                        if (co + 8 <= s->Cout)
                            wgrad_tile8(mine, dout, in, s, co, ci, ky, b0, nb, off, mask);
                        else
                            wgrad_tile4(mine, dout, in, s, co, ci, ky, b0, nb, off, mask);
                    }
        }
#pragma omp barrier
        conv_sum_partials(dw, work, slice, nt, nw);
    }
}

#else // no AVX-512: conv_pick sends every shape to the GEMM path

void conv3x3_forward(float *out, const float *in, const float *w, const ConvShape *s, int acc) {
    (void)out, (void)in, (void)w, (void)s, (void)acc;
}
void conv3x3_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    (void)dw, (void)dout, (void)in, (void)s, (void)work;
}
#endif
