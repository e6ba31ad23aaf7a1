// winograd.c: Winograd F(2x2, 3x3) convolution, see winograd.h.
//
// Per chunk of images, three steps over buffers that stay in L2:
//   V[e][ci][tv] = (B^T d B)[e] of the 16 tiles of tile-vector tv     (input transform)
//   M[e][co][tv] = sum_ci U[e][co][ci] V[e][ci][tv]                    (16 GEMMs)
//   out          = A^T M A, written back as 2x2 pixels per tile         (output transform)
// with U[e][co][ci] = (G g G^T)[e] computed once per call. A tile-vector is 16 tiles in
// row-major tile order of one image: one tile row of a 32-wide plane, two of a 16-wide one,
// four of an 8-wide one. Shuffles (vpermt2ps) move between pixel rows and tile lanes.
#include "winograd.h"
#include "common.h"
#include <omp.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>

enum { VEC = 16, GC = 4, GT = 4 }; // GEMM register tile: GC output channels x GT tile-vectors

typedef struct Plan {
    int nv;  // tile-vectors per image
    int nb;  // images per chunk
    int ntv; // tile-vectors per chunk, a multiple of GT
} Plan;

static Plan plan_of(const ConvShape *s) {
    Plan p;
    p.nv = (s->H / 2) * (s->W / 2) / VEC;
    p.nb = p.nv >= GT ? 1 : GT / p.nv;
    p.ntv = p.nb * p.nv;
    return p;
}

// Per thread: V (16, Cin, ntv, 16) then M (16, Cout, ntv, 16), each element e's block
// followed by one spare vector: the blocks are multiples of 4 KB, and unpadded the 16
// stores of a tile's elements all fell in one L1 set (the transforms ran 2x slower).
static long vstride_of(const ConvShape *s, const Plan *p) {
    return (long)s->Cin * p->ntv * VEC + VEC;
}
static long mstride_of(const ConvShape *s, const Plan *p) {
    return (long)s->Cout * p->ntv * VEC + VEC;
}
static size_t thread_floats(const ConvShape *s) {
    Plan p = plan_of(s);
    return floats_to_lines((size_t)16 * (size_t)(vstride_of(s, &p) + mstride_of(s, &p)));
}

size_t wino_work_floats(const ConvShape *s) {
    return floats_to_lines((size_t)16 * s->Cout * s->Cin) + thread_floats(s) * (size_t)s->threads;
}

// U[e][co][ci] = (G g G^T)[e] for output channel co, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// 16 input channels at a time (their 9 taps gathered at stride 9), the rest one by one.
static void transform_weights(float *U, const float *w, int co, int Cout, int Cin) {
    const long estride = (long)Cout * Cin;
    float *u0 = U + (long)co * Cin;
    int ci = 0;
    const __m512i idx = _mm512_mullo_epi32(_mm512_set1_epi32(9), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                                                   4, 3, 2, 1, 0));
    const __m512 h = _mm512_set1_ps(0.5f);
    for (; ci + VEC <= Cin; ci += VEC) {
        const float *g = w + ((long)co * Cin + ci) * 9;
        __m512 k[9], t[4][3];
        for (int i = 0; i < 9; i++) k[i] = _mm512_i32gather_ps(idx, g + i, 4);
        for (int j = 0; j < 3; j++) {
            t[0][j] = k[j];
            t[1][j] = _mm512_mul_ps(h, _mm512_add_ps(_mm512_add_ps(k[j], k[3 + j]), k[6 + j]));
            t[2][j] = _mm512_mul_ps(h, _mm512_add_ps(_mm512_sub_ps(k[j], k[3 + j]), k[6 + j]));
            t[3][j] = k[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            float *u = u0 + ci + (long)(i * 4) * estride;
            _mm512_storeu_ps(u, t[i][0]);
            _mm512_storeu_ps(u + estride, _mm512_mul_ps(h, _mm512_add_ps(_mm512_add_ps(t[i][0], t[i][1]), t[i][2])));
            _mm512_storeu_ps(u + 2 * estride, _mm512_mul_ps(h, _mm512_add_ps(_mm512_sub_ps(t[i][0], t[i][1]), t[i][2])));
            _mm512_storeu_ps(u + 3 * estride, t[i][2]);
        }
    }
    for (; ci < Cin; ci++) {
        const float *g = w + ((long)co * Cin + ci) * 9;
        float t[4][3], u[4][4];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            u[i][0] = t[i][0];
            u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[i][3] = t[i][2];
        }
        for (int e = 0; e < 16; e++) u0[ci + e * estride] = u[e / 4][e % 4];
    }
}

// 16 floats of row y of plane p (W = 16, or half of a 32-wide row from column x0), zeros
// for rows outside [0, H): the padding above and below.
static inline __m512 rows16(const float *p, int y, int x0, int W, int H) {
    if (y < 0 || y >= H) return _mm512_setzero_ps();
    return _mm512_loadu_ps(p + (long)y * W + x0);
}

// Row y of an 8-wide plane p, zeros outside [0, H).
static inline __m256 row8(const float *p, int y, int H) {
    return y >= 0 && y < H ? _mm256_loadu_ps(p + (long)y * 8) : _mm256_setzero_ps();
}

// Shuffle tables for plane width W. Input: column c (0..3) of the 4x4 patches of a
// tile-vector is the pixel at 2*tx + c - 1 of each tile's rows: gather[c] picks it from two
// row vectors (index >= 16: the second), colmask[c] zeroes the padding columns -1 and W.
// Output: spread[0], spread[1] interleave the 2 columns of 16 tiles into 32 pixels.
typedef struct Shuffles {
    __m512i gather[4], spread[2];
    __mmask16 colmask[4];
} Shuffles;

static void shuffles_init(Shuffles *sh, int W) {
    const int tx_n = W / 2; // tiles per tile row
    for (int c = 0; c < 4; c++) {
        int idx[VEC];
        unsigned m = 0;
        for (int l = 0; l < VEC; l++) {
            // W = 32: one row in two vectors (lo, hi). W = 16: tile row q = l/8 in vector q.
            // W = 8: tile row q = l/4 in the q-th run of 8 of the two vectors.
            int tx = l % tx_n, x = 2 * tx + c - 1, src;
            if (W == 32)
                src = x;
            else if (W == 16)
                src = (l / 8) * 16 + x;
            else
                src = (l / 4) * 8 + x;
            idx[l] = x < 0 || x >= W ? 0 : src;
            if (x >= 0 && x < W) m |= 1u << l;
        }
        sh->gather[c] = _mm512_loadu_si512(idx);
        sh->colmask[c] = (__mmask16)m;
    }
    for (int h = 0; h < 2; h++) {
        int idx[VEC];
        for (int l = 0; l < VEC; l++) idx[l] = (l % 2) * 16 + h * 8 + l / 2;
        sh->spread[h] = _mm512_loadu_si512(idx);
    }
}

// Column c of the patches' row r for tile-vector k of plane p: a vector over 16 tiles.
static inline __attribute__((always_inline)) __m512 patch_row_col(const float *p, int k, int r, int c, int W, int H, const Shuffles *sh) {
    if (W == 32) {
        int y = 2 * k + r - 1;
        __m512 lo = rows16(p, y, 0, W, H), hi = rows16(p, y, 16, W, H);
        return _mm512_maskz_permutex2var_ps(sh->colmask[c], lo, sh->gather[c], hi);
    }
    if (W == 16) {
        int y = 4 * k + r - 1; // tile rows 2k, 2k+1 read rows y and y+2
        __m512 a = rows16(p, y, 0, W, H), b = rows16(p, y + 2, 0, W, H);
        return _mm512_maskz_permutex2var_ps(sh->colmask[c], a, sh->gather[c], b);
    }
    int y = 8 * k + r - 1; // tile rows 4k..4k+3 read rows y, y+2, y+4, y+6, 8 pixels each
    __m512 ab = _mm512_insertf32x8(_mm512_castps256_ps512(row8(p, y, H)), row8(p, y + 2, H), 1);
    __m512 cd = _mm512_insertf32x8(_mm512_castps256_ps512(row8(p, y + 4, H)), row8(p, y + 6, H), 1);
    return _mm512_maskz_permutex2var_ps(sh->colmask[c], ab, sh->gather[c], cd);
}

// V[e][ci][tv] for the tile-vectors of one image plane p, tv = tv0 + k.
static inline __attribute__((always_inline)) void input_tiles(float *V, long estride, const float *p, int tv0, int nv, int W, int H,
                               const Shuffles *sh) {
    for (int k = 0; k < nv; k++) {
        __m512 t[4][4];
        for (int r = 0; r < 4; r++) {
            __m512 d0 = patch_row_col(p, k, r, 0, W, H, sh), d1 = patch_row_col(p, k, r, 1, W, H, sh),
                   d2 = patch_row_col(p, k, r, 2, W, H, sh), d3 = patch_row_col(p, k, r, 3, W, H, sh);
            // (d B) for row r: B^T applied along the columns
            t[r][0] = _mm512_sub_ps(d0, d2);
            t[r][1] = _mm512_add_ps(d1, d2);
            t[r][2] = _mm512_sub_ps(d2, d1);
            t[r][3] = _mm512_sub_ps(d1, d3);
        }
        float *v = V + (long)(tv0 + k) * VEC;
        for (int c = 0; c < 4; c++) {
            _mm512_storeu_ps(v + (0 * 4 + c) * estride, _mm512_sub_ps(t[0][c], t[2][c]));
            _mm512_storeu_ps(v + (1 * 4 + c) * estride, _mm512_add_ps(t[1][c], t[2][c]));
            _mm512_storeu_ps(v + (2 * 4 + c) * estride, _mm512_sub_ps(t[2][c], t[1][c]));
            _mm512_storeu_ps(v + (3 * 4 + c) * estride, _mm512_sub_ps(t[1][c], t[3][c]));
        }
    }
}

// What happens to an output channel's pixels on the way out: added to what is there (acc),
// or the evaluation batchnorm, residual and ReLU of a ConvEpilogue applied.
typedef struct Epi {
    int acc, bn, relu;
    __m512 scale, shift;
    const float *res; // this channel's residual plane for the image, or NULL
} Epi;

// 16 output pixels at o (r: the same pixels of the residual plane, when there is one).
static inline __m512 finish(__m512 z, const float *o, const float *r, const Epi *ep) {
    if (ep->acc) z = _mm512_add_ps(z, _mm512_loadu_ps(o));
    if (ep->bn) {
        z = _mm512_fmadd_ps(z, ep->scale, ep->shift);
        if (r) z = _mm512_add_ps(z, _mm512_loadu_ps(r));
        if (ep->relu) z = _mm512_max_ps(z, _mm512_setzero_ps());
    }
    return z;
}
static inline void put(float *o, long at, __m512 z, const Epi *ep) {
    _mm512_storeu_ps(o + at, finish(z, o + at, ep->res ? ep->res + at : NULL, ep));
}
// Two runs of 8 pixels (8-wide planes): at a and b.
static inline void put8x2(float *o, long a, long b, __m512 z, const Epi *ep) {
    __m512 cur = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(o + a)), _mm256_loadu_ps(o + b), 1);
    if (ep->acc) z = _mm512_add_ps(z, cur);
    if (ep->bn) {
        z = _mm512_fmadd_ps(z, ep->scale, ep->shift);
        if (ep->res)
            z = _mm512_add_ps(z, _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(ep->res + a)),
                                                     _mm256_loadu_ps(ep->res + b), 1));
        if (ep->relu) z = _mm512_max_ps(z, _mm512_setzero_ps());
    }
    _mm256_storeu_ps(o + a, _mm512_castps512_ps256(z));
    _mm256_storeu_ps(o + b, _mm512_extractf32x8_ps(z, 1));
}

// The 2x2 outputs of tile-vector k of plane o from its 16 transformed elements m[e].
static inline __attribute__((always_inline)) void output_tiles(float *o, const float *M, long estride, int k, int W,
                                                               const Shuffles *sh, const Epi *ep) {
    __m512 s[2][4];
    for (int c = 0; c < 4; c++) { // A^T along the rows: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
        __m512 m0 = _mm512_loadu_ps(M + (0 * 4 + c) * estride), m1 = _mm512_loadu_ps(M + (1 * 4 + c) * estride),
               m2 = _mm512_loadu_ps(M + (2 * 4 + c) * estride), m3 = _mm512_loadu_ps(M + (3 * 4 + c) * estride);
        s[0][c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const int ty0 = k * VEC / (W / 2); // first tile row of this tile-vector
    for (int i = 0; i < 2; i++) {
        __m512 y0 = _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]);
        __m512 y1 = _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]);
        // 32 pixels in tile order: runs of W pixels, one per tile row q, on row 2(ty0+q)+i
        __m512 lo = _mm512_permutex2var_ps(y0, sh->spread[0], y1), hi = _mm512_permutex2var_ps(y0, sh->spread[1], y1);
        if (W == 32) {
            put(o, (long)(2 * ty0 + i) * W, lo, ep);
            put(o, (long)(2 * ty0 + i) * W + 16, hi, ep);
        } else if (W == 16) {
            put(o, (long)(2 * ty0 + i) * W, lo, ep);
            put(o, (long)(2 * ty0 + 2 + i) * W, hi, ep);
        } else {
            put8x2(o, (long)(2 * ty0 + i) * W, (long)(2 * ty0 + 2 + i) * W, lo, ep);
            put8x2(o, (long)(2 * ty0 + 4 + i) * W, (long)(2 * ty0 + 6 + i) * W, hi, ep);
        }
    }
}

// M[e] (Cout, ntv vectors) = U[e] (Cout, Cin) . V[e] (Cin, ntv vectors), GC x GT tiles.
static void gemm_e(float *M, const float *U, const float *V, int Cout, int Cin, int ntv) {
    for (int co = 0; co < Cout; co += GC)
        for (int tv = 0; tv < ntv; tv += GT) {
            __m512 a[GC][GT];
            for (int c = 0; c < GC; c++)
                for (int p = 0; p < GT; p++) a[c][p] = _mm512_setzero_ps();
            const float *u = U + (long)co * Cin;
            for (int ci = 0; ci < Cin; ci++) {
                const float *v = V + ((long)ci * ntv + tv) * VEC;
                __m512 x[GT];
                for (int p = 0; p < GT; p++) {
                    x[p] = _mm512_loadu_ps(v + p * VEC);
                    __asm__("" : "+v"(x[p])); // a register: GCC otherwise folds the load into all GC FMAs
                }
                for (int c = 0; c < GC; c++) {
                    __m512 w = _mm512_set1_ps(u[(long)c * Cin + ci]);
                    for (int p = 0; p < GT; p++) a[c][p] = _mm512_fmadd_ps(w, x[p], a[c][p]);
                }
            }
            for (int c = 0; c < GC; c++)
                for (int p = 0; p < GT; p++) _mm512_storeu_ps(M + (((long)co + c) * ntv + tv + p) * VEC, a[c][p]);
        }
}

// One chunk of images: input transform, 16 GEMMs, output transform, in this thread's V, M.
static inline __attribute__((always_inline)) void chunk_w(float *out, const float *in, const ConvShape *s,
                                                          const float *U, float *work, int acc,
                                                          const ConvEpilogue *ep, const Shuffles *sh, int chunk,
                                                          const int W) {
    const Plan pl = plan_of(s);
    const int H = s->H, Cin = s->Cin, Cout = s->Cout;
    const long hw = (long)H * W, plane = (long)s->B * hw;
    const long vstride = vstride_of(s, &pl), mstride = mstride_of(s, &pl); // per element e
    float *V = work + thread_floats(s) * (size_t)omp_get_thread_num(), *M = V + 16 * vstride;
    const int b0 = chunk * pl.nb, nb = s->B - b0 < pl.nb ? s->B - b0 : pl.nb;
    if (nb < pl.nb) memset(V, 0, sizeof(float) * 16 * (size_t)vstride); // missing images: zero tiles
    for (int ci = 0; ci < Cin; ci++)
        for (int b = 0; b < nb; b++)
            input_tiles(V + (long)ci * pl.ntv * VEC, vstride, in + ci * plane + (b0 + b) * hw, b * pl.nv, pl.nv, W, H,
                        sh);
    for (int e = 0; e < 16; e++) gemm_e(M + e * mstride, U + (long)e * Cout * Cin, V + e * vstride, Cout, Cin, pl.ntv);
    for (int co = 0; co < Cout; co++) {
        Epi e = {.acc = acc, .bn = ep != NULL, .relu = ep && ep->relu};
        if (ep) e.scale = _mm512_set1_ps(ep->scale[co]), e.shift = _mm512_set1_ps(ep->shift[co]);
        for (int b = 0; b < nb; b++) {
            const long at = co * plane + (b0 + b) * hw;
            e.res = ep && ep->res ? ep->res + at : NULL;
            for (int k = 0; k < pl.nv; k++)
                output_tiles(out + at, M + ((long)co * pl.ntv + b * pl.nv + k) * VEC, mstride, k, W, sh, &e);
        }
    }
}

// One parallel region per plane width, each calling chunk_w with a literal W so that the
// width tests in the inner functions fold away (OpenMP outlines the loop body first).
#define FORWARD_W(W)                                                                                     \
    static void forward##W(float *out, const float *in, const float *w, const ConvShape *s, float *U,     \
                           float *work, int acc, const ConvEpilogue *ep) {                               \
        Shuffles sh;                                                                                     \
        shuffles_init(&sh, W);                                                                           \
        const Plan pl = plan_of(s);                                                                      \
        const int nchunks = (s->B + pl.nb - 1) / pl.nb;                                                  \
        _Pragma("omp parallel num_threads(s->threads)") {                                               \
            _Pragma("omp for schedule(static)") for (int co = 0; co < s->Cout; co++)                    \
                transform_weights(U, w, co, s->Cout, s->Cin);                                            \
            _Pragma("omp for schedule(static)") for (int c = 0; c < nchunks; c++)                       \
                chunk_w(out, in, s, U, work, acc, ep, &sh, c, W);                                            \
        }                                                                                                \
    }
FORWARD_W(32)
FORWARD_W(16)
FORWARD_W(8)

void wino_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                  const ConvEpilogue *ep) {
    float *U = work, *tiles = work + floats_to_lines((size_t)16 * s->Cout * s->Cin);
    if (s->W == 32)
        forward32(out, in, w, s, U, tiles, acc, ep);
    else if (s->W == 16)
        forward16(out, in, w, s, U, tiles, acc, ep);
    else
        forward8(out, in, w, s, U, tiles, acc, ep);
}

#else // no AVX-512

size_t wino_work_floats(const ConvShape *s) {
    (void)s;
    return 0;
}
void wino_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                  const ConvEpilogue *ep) {
    (void)out, (void)in, (void)w, (void)s, (void)work, (void)acc, (void)ep;
}
#endif
