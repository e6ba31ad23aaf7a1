// winograd_wgrad.c: the weight gradient by Winograd F(2x2, 3x3), see winograd_wgrad.h.
//
// Per chunk of images (sized so the transformed tiles stay in L2), in each thread:
//   X[y][x][c]        16 channels of the input, one vector per pixel, zero-padded (a 16x16
//                     transpose of the CBHW planes)
//   V[e][t][ci]       (B^T d B)[e] of tile t: plain vector adds on X, the channels in the lanes
//   Z[e][tv][co][l]   (A dY A^T)[e] of tile 16 tv + l: the tiles in the lanes, from the rows
//                     of dout by the forward's output shuffles run backwards
//   U[e][co][ci]     += sum over the chunk's tiles t of Z[e][co][t] V[e][t][ci]
// The sum over t runs in registers: each Z value is broadcast against a vector of 16 input
// channels of V (the FMA's memory operand), so nothing is reduced across lanes. At the end
// the threads' U are added up and dw = G^T U G.
//
// Signs: row 3 and column 3 of A dY A^T are the negated gradient rows (-dY[1], -dY[.][1]);
// Z stores them unnegated, so U[e] comes out times sgn[e] (-1 on row 3 or column 3, +1 on
// both), which the final transform puts back.
#include "winograd_wgrad.h"
#include "common.h"
#include <omp.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>

enum { VEC = 16 };

typedef struct Plan {
    int cp;    // Cin rounded up to VEC: the lanes of V
    int tiles; // 2x2 tiles per image
    int nv;    // vectors of 16 tiles per image
    int nb;    // images per chunk
    long xfl;  // floats of X: (H+2) x (W+2) pixel vectors
    long vst;  // floats per element e of V (T x cp, and a spare vector)
    long zst;  // floats per element e of Z (Cout x T, and a spare vector)
    long ufl;  // floats of U: 16 x Cout x cp
} Plan;

// The chunk does not depend on B, so a workspace planned for one batch fits any smaller.
// The spare vector after each element's block keeps the 16 stores of one tile's elements
// off a single L1 set when a block is a multiple of 4 KB (as in winograd.c).
static Plan plan_of(const ConvShape *s) {
    Plan p;
    p.cp = (s->Cin + VEC - 1) / VEC * VEC;
    p.tiles = (s->H / 2) * (s->W / 2);
    p.nv = p.tiles / VEC;
    long per_image = 16L * p.tiles * (p.cp + s->Cout); // V and Z
    p.nb = (int)((128L << 10) / per_image);            // 512 KB of the 1 MB L2
    if (p.nb < 1) p.nb = 1;
    long T = (long)p.nb * p.tiles;
    p.xfl = (long)floats_to_lines((size_t)(s->H + 2) * (size_t)(s->W + 2) * VEC);
    p.vst = T * p.cp + VEC;
    p.zst = (long)s->Cout * T + VEC;
    p.ufl = (long)floats_to_lines((size_t)16 * (size_t)s->Cout * (size_t)p.cp);
    return p;
}

static size_t thread_floats(const Plan *p) {
    return (size_t)p->xfl + floats_to_lines((size_t)16 * (size_t)p->vst) + floats_to_lines((size_t)16 * (size_t)p->zst) +
           (size_t)p->ufl;
}

size_t wino_wgrad_floats(const ConvShape *s) {
    Plan p = plan_of(s);
    return thread_floats(&p) * (size_t)s->threads;
}

// r[j] = column j of the 16x16 matrix whose rows were r[0..15].
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) { // lane block k: (r_i, r_i+1) at 4k, 4k+1 | 4k+2, 4k+3
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { // r[i + m], lane block k: rows i..i+3 of column 4k + m
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int m = 0; m < 4; m++) { // gather the four row blocks of columns m, 4+m, 8+m, 12+m
        __m512 a = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88), b = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xdd);
        __m512 c = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88), d = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xdd);
        t[m] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + m] = _mm512_shuffle_f32x4(a, c, 0xdd);
        t[4 + m] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(b, d, 0xdd);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

// X (H+2, W+2, 16) = channels ci0..ci0+nc-1 of one image (zeros above nc), x (C, ., H, W)
// at the image's first pixel, channel stride plane. The border of X stays as it was (zero).
static inline __attribute__((always_inline)) void to_pixels(float *X, const float *x, long plane, int ci0, int nc, int H,
                                                            const int W) {
    const long hw = (long)H * W;
    for (long p0 = 0; p0 < hw; p0 += VEC) {
        __m512 r[VEC];
        for (int c = 0; c < VEC; c++)
            r[c] = c < nc ? _mm512_loadu_ps(x + (long)(ci0 + c) * plane + p0) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < VEC; j++) {
            long p = p0 + j, y = p / W, xx = p % W;
            _mm512_storeu_ps(X + ((y + 1) * (W + 2) + xx + 1) * VEC, r[j]);
        }
    }
}

// V[e][t0 + t][cb*16 ..] = (B^T d B)[e] for the image's tiles t (row-major), d from X.
static inline __attribute__((always_inline)) void input_tiles(float *V, long vstride, int cp, const float *X, int t0,
                                                              int cb, int H, const int W) {
    const long row = (long)(W + 2) * VEC;
    for (int ty = 0; ty < H / 2; ty++)
        for (int tx = 0; tx < W / 2; tx++) {
            const float *x0 = X + 2 * ty * row + 2 * tx * VEC;
            __m512 t[4][4];
            for (int r = 0; r < 4; r++) {
                const float *xr = x0 + r * row;
                __m512 d0 = _mm512_loadu_ps(xr), d1 = _mm512_loadu_ps(xr + VEC), d2 = _mm512_loadu_ps(xr + 2 * VEC),
                       d3 = _mm512_loadu_ps(xr + 3 * VEC);
                t[r][0] = _mm512_sub_ps(d0, d2);
                t[r][1] = _mm512_add_ps(d1, d2);
                t[r][2] = _mm512_sub_ps(d2, d1);
                t[r][3] = _mm512_sub_ps(d1, d3);
            }
            float *v = V + (long)(t0 + ty * (W / 2) + tx) * cp + cb * VEC;
            for (int c = 0; c < 4; c++) {
                _mm512_storeu_ps(v + (0 * 4 + c) * vstride, _mm512_sub_ps(t[0][c], t[2][c]));
                _mm512_storeu_ps(v + (1 * 4 + c) * vstride, _mm512_add_ps(t[1][c], t[2][c]));
                _mm512_storeu_ps(v + (2 * 4 + c) * vstride, _mm512_sub_ps(t[2][c], t[1][c]));
                _mm512_storeu_ps(v + (3 * 4 + c) * vstride, _mm512_sub_ps(t[1][c], t[3][c]));
            }
        }
}

// Z[e][tv0 + k][co] for the nv tile-vectors k of one output-gradient plane o (H, W). A
// tile-vector is 16 tiles in row-major order (one tile row at W = 32, two at 16, four at 8);
// its 2 pixel rows i are read as 32 pixels in tile order (lo, hi, as winograd.c writes them),
// and the even and odd pixels are each tile's columns 0 and 1.
static inline __attribute__((always_inline)) void grad_tiles(float *Z, long zstride, const float *o, int tv0, int nv,
                                                             int co, int Cout, const int W) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int k = 0; k < nv; k++) {
        const int ty0 = k * VEC / (W / 2); // first tile row of this tile-vector
        __m512 c0[2], c1[2];
        for (int i = 0; i < 2; i++) {
            __m512 lo, hi;
            if (W == 32) {
                lo = _mm512_loadu_ps(o + (long)(2 * ty0 + i) * W);
                hi = _mm512_loadu_ps(o + (long)(2 * ty0 + i) * W + 16);
            } else if (W == 16) {
                lo = _mm512_loadu_ps(o + (long)(2 * ty0 + i) * W);
                hi = _mm512_loadu_ps(o + (long)(2 * ty0 + 2 + i) * W);
            } else {
                lo = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(o + (long)(2 * ty0 + i) * W)),
                                        _mm256_loadu_ps(o + (long)(2 * ty0 + 2 + i) * W), 1);
                hi = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(o + (long)(2 * ty0 + 4 + i) * W)),
                                        _mm256_loadu_ps(o + (long)(2 * ty0 + 6 + i) * W), 1);
            }
            c0[i] = _mm512_permutex2var_ps(lo, ev, hi);
            c1[i] = _mm512_permutex2var_ps(lo, od, hi);
        }
        // A dY: rows dY0, dY0 + dY1, dY0 - dY1, (-)dY1; then the same along the columns.
        __m512 r[4][2] = {{c0[0], c1[0]},
                          {_mm512_add_ps(c0[0], c0[1]), _mm512_add_ps(c1[0], c1[1])},
                          {_mm512_sub_ps(c0[0], c0[1]), _mm512_sub_ps(c1[0], c1[1])},
                          {c0[1], c1[1]}};
        float *z = Z + ((long)(tv0 + k) * Cout + co) * VEC;
        for (int i = 0; i < 4; i++) {
            _mm512_storeu_ps(z + (i * 4 + 0) * zstride, r[i][0]);
            _mm512_storeu_ps(z + (i * 4 + 1) * zstride, _mm512_add_ps(r[i][0], r[i][1]));
            _mm512_storeu_ps(z + (i * 4 + 2) * zstride, _mm512_sub_ps(r[i][0], r[i][1]));
            _mm512_storeu_ps(z + (i * 4 + 3) * zstride, r[i][1]);
        }
    }
}

// U (R rows from co, NV vectors from ci; row stride cp) += Z (ntv tile-vectors, rows co..,
// of Cout x 16) . V (16 ntv rows of cp, columns ci..). R x NV = 16 accumulators.
#define WGEMM(R, NV)                                                                                       \
    static void wgemm_##R##_##NV(float *U, const float *Z, const float *V, int ntv, int Cout, int cp) {   \
        __m512 a[R][NV];                                                                                   \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) \
            a[r][j] = _mm512_setzero_ps();                                                                 \
        const float *v = V;                                                                                \
        for (int tv = 0; tv < ntv; tv++) {                                                                 \
            const float *z = Z + (long)tv * Cout * VEC;                                                    \
            _Pragma("GCC unroll 4") for (int l = 0; l < VEC; l++, v += cp) {                               \
                __m512 x[NV];                                                                              \
                _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) {                                     \
                    x[j] = _mm512_loadu_ps(v + j * VEC);                                                   \
                    __asm__("" : "+v"(x[j])); /* a register: GCC otherwise folds the load into all R FMAs */ \
                }                                                                                          \
                _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                     \
                    __m512 w = _mm512_set1_ps(z[r * VEC + l]);                                             \
                    _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) a[r][j] = _mm512_fmadd_ps(w, x[j], a[r][j]); \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) { \
            float *u = U + (long)r * cp + j * VEC;                                                         \
            _mm512_storeu_ps(u, _mm512_add_ps(_mm512_loadu_ps(u), a[r][j]));                               \
        }                                                                                                  \
    }
WGEMM(16, 1)
WGEMM(8, 2)
WGEMM(4, 4)
WGEMM(4, 2)
WGEMM(4, 1)

// U[e] += Z[e] . V[e]^T over ntv tile-vectors: 4 vectors of input channels at a time while
// they last, then 2, then 1; output channels 16 / NV at a time, then 4 (Cout is a multiple of 4).
static void gemm_e(float *U, const float *Z, const float *V, int ntv, int Cout, int cp) {
    for (int ci = 0; ci < cp;) {
        int nvc = (cp - ci) / VEC >= 4 ? 4 : (cp - ci) / VEC >= 2 ? 2 : 1, R = 16 / nvc, co = 0;
        for (; co + R <= Cout; co += R) {
            float *u = U + (long)co * cp + ci;
            const float *z = Z + (long)co * VEC, *v = V + ci;
            if (nvc == 4)
                wgemm_4_4(u, z, v, ntv, Cout, cp);
            else if (nvc == 2)
                wgemm_8_2(u, z, v, ntv, Cout, cp);
            else
                wgemm_16_1(u, z, v, ntv, Cout, cp);
        }
        for (; co < Cout; co += 4) {
            float *u = U + (long)co * cp + ci;
            const float *z = Z + (long)co * VEC, *v = V + ci;
            if (nvc == 4)
                wgemm_4_4(u, z, v, ntv, Cout, cp);
            else if (nvc == 2)
                wgemm_4_2(u, z, v, ntv, Cout, cp);
            else
                wgemm_4_1(u, z, v, ntv, Cout, cp);
        }
        ci += nvc * VEC;
    }
}

// One chunk of images b0.. into this thread's U.
static inline __attribute__((always_inline)) void chunk_w(const float *dout, const float *in, const ConvShape *s,
                                                          const Plan *p, float *X, float *V, float *Z, float *U,
                                                          int chunk, const int W) {
    const int H = s->H, Cin = s->Cin, Cout = s->Cout;
    const long hw = (long)H * W, plane = (long)s->B * hw;
    const int b0 = chunk * p->nb, nb = s->B - b0 < p->nb ? s->B - b0 : p->nb;
    for (int b = 0; b < nb; b++) {
        const long img = (long)(b0 + b) * hw;
        for (int cb = 0; cb < p->cp / VEC; cb++) {
            int nc = Cin - cb * VEC < VEC ? Cin - cb * VEC : VEC;
            to_pixels(X, in + img, plane, cb * VEC, nc, H, W);
            input_tiles(V, p->vst, p->cp, X, b * p->tiles, cb, H, W);
        }
        for (int co = 0; co < Cout; co++) grad_tiles(Z, p->zst, dout + co * plane + img, b * p->nv, p->nv, co, Cout, W);
    }
    for (int e = 0; e < 16; e++)
        gemm_e(U + (long)e * Cout * p->cp, Z + e * p->zst, V + e * p->vst, nb * p->nv, Cout, p->cp);
}

// dw[co][ci] = G^T (sgn .* sum of the threads' U) G, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
static void weights_out(float *dw, const float *work, size_t per_thread, int nt, const ConvShape *s, const Plan *p,
                        int co) {
    const long est = (long)s->Cout * p->cp;
    for (int ci = 0; ci < s->Cin; ci++) {
        float u[4][4];
        for (int e = 0; e < 16; e++) {
            float a = 0;
            for (int t = 0; t < nt; t++) a += work[per_thread * (size_t)t + (size_t)(e * est + (long)co * p->cp + ci)];
            u[e / 4][e % 4] = (e / 4 == 3) != (e % 4 == 3) ? -a : a;
        }
        float t[3][4], *g = dw + ((long)co * s->Cin + ci) * 9;
        for (int j = 0; j < 4; j++) {
            t[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
            t[1][j] = 0.5f * (u[1][j] - u[2][j]);
            t[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
        }
        for (int i = 0; i < 3; i++) {
            g[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
            g[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
            g[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
        }
    }
}

// One parallel region per plane width, with a literal W (as in winograd.c). U comes first in
// each thread's slice, so weights_out finds the threads' U at a fixed stride.
#define WGRAD_W(W)                                                                                      \
    static void wgrad##W(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) { \
        const Plan p = plan_of(s);                                                                      \
        const size_t per_thread = thread_floats(&p);                                                    \
        const int nchunks = (s->B + p.nb - 1) / p.nb;                                                   \
        const int used = s->threads < nchunks ? s->threads : nchunks;                                   \
        _Pragma("omp parallel num_threads(used)") {                                                     \
            float *U = work + per_thread * (size_t)omp_get_thread_num(), *X = U + p.ufl, *V = X + p.xfl;   \
            float *Z = V + floats_to_lines((size_t)16 * (size_t)p.vst);                                 \
            memset(U, 0, sizeof(float) * (size_t)p.ufl);                                                \
            memset(X, 0, sizeof(float) * (size_t)p.xfl);                                                \
            _Pragma("omp for schedule(static)") for (int c = 0; c < nchunks; c++)                      \
                chunk_w(dout, in, s, &p, X, V, Z, U, c, W);                                             \
            const int nt = omp_get_num_threads();                                                       \
            _Pragma("omp for schedule(static)") for (int co = 0; co < s->Cout; co++)                   \
                weights_out(dw, work, per_thread, nt, s, &p, co);                                       \
        }                                                                                               \
    }
WGRAD_W(32)
WGRAD_W(16)
WGRAD_W(8)

void wino_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    if (s->W == 32)
        wgrad32(dw, dout, in, s, work);
    else if (s->W == 16)
        wgrad16(dw, dout, in, s, work);
    else
        wgrad8(dw, dout, in, s, work);
}

#else // no AVX-512: conv_pick sends every shape to the GEMM path

size_t wino_wgrad_floats(const ConvShape *s) {
    (void)s;
    return 0;
}
void wino_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    (void)dw, (void)dout, (void)in, (void)s, (void)work;
}
#endif
