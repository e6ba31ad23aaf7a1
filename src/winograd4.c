// winograd4.c: Winograd F(4x4, 3x3) convolution and its weight gradient, see winograd4.h.
//
// The forward pass, per chunk of images (sized so V and M stay in L2), in each thread:
//   X[y][x][c]      16 channels of one image, one vector per pixel, zero-padded (a 16x16
//                   transpose of the CBHW planes) to whole 4x4 tiles and the conv's border
//                   (a plane that is not a multiple of 4 has partial tiles at its right
//                   and bottom edges: their outputs beyond the plane are computed and dropped)
//   V[e][t][ci]     (B^T d B)[e] of tile t, from X
//   M[e][t][co]     sum_ci V[e][t][ci] U[e][ci][co]                   (36 GEMMs)
//   out             A^T M A per tile into X (as pixels), transposed back to CBHW
// with U[e][ci][co] = (G g G^T)[e] computed once per call. The 1-D transforms (Lavin and
// Gray's points 0, +-1, +-2):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
#include "winograd4.h"
#include "common.h"
#include <omp.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>

enum { VEC = 16, NE = 36 };

typedef struct Plan {
    int cp, cq; // Cin, Cout rounded up to VEC: the lanes of V and M
    int th, tw; // 4x4 tiles down and across an image (the last ones partial when H or W % 4)
    int xw;     // pixels per row of X: 4 tw + 2
    int tpi;    // 4x4 tiles per image
    int tcap;   // tiles of a chunk, nb x tpi rounded up to whole GEMM steps of 4
    int nb;     // images per chunk
    long xfl;   // floats of X: (H+2) x (W+2) pixel vectors
    long vst;   // floats per element e of V (T x cp, and a spare vector)
    long mst;   // floats per element e of M (T x cq, and a spare vector)
    long ufl;   // floats of U: 36 x cp x cq
} Plan;

// The spare vector after each element's block keeps one tile's 36 stores off a single L1 set
// when a block is a multiple of 4 KB (as in winograd.c).
static Plan plan_of(const ConvShape *s) {
    Plan p;
    p.cp = (s->Cin + VEC - 1) / VEC * VEC;
    p.cq = (s->Cout + VEC - 1) / VEC * VEC;
    p.th = (s->H + 3) / 4;
    p.tw = (s->W + 3) / 4;
    p.xw = 4 * p.tw + 2;
    p.tpi = p.th * p.tw;
    // V and M of a chunk, and U (read whole by every chunk), in 896 KB of the 1 MB L2.
    long per_image = (long)NE * p.tpi * (p.cp + p.cq), u = (long)NE * p.cp * p.cq;
    p.nb = (int)(((224L << 10) - u) / per_image);
    if (p.nb < 1) p.nb = 1;
    p.tcap = (p.nb * p.tpi + 3) / 4 * 4;
    long T = p.tcap;
    p.xfl = (long)floats_to_lines((size_t)(4 * p.th + 2) * (size_t)p.xw * VEC);
    p.vst = T * p.cp + VEC;
    p.mst = T * p.cq + VEC;
    p.ufl = (long)floats_to_lines((size_t)NE * (size_t)p.cp * (size_t)p.cq);
    return p;
}

static size_t thread_floats(const Plan *p) {
    return (size_t)p->xfl + floats_to_lines((size_t)NE * (size_t)p->vst) + floats_to_lines((size_t)NE * (size_t)p->mst);
}

size_t wino4_work_floats(const ConvShape *s) {
    Plan p = plan_of(s);
    return (size_t)p.ufl + thread_floats(&p) * (size_t)s->threads;
}

// G, the filter's transform (the header comment's).
static const float G[6][3] = {{1.0f / 4, 0, 0},
                              {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                              {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                              {1.0f / 24, 1.0f / 12, 1.0f / 6},
                              {1.0f / 24, -1.0f / 12, 1.0f / 6},
                              {0, 0, 1}};

// U[e][ci][co] = (G g G^T)[e] for input channel ci, 16 output channels at a time (their taps
// gathered at stride Cin * 9), zero in the padding lanes.
static void transform_weights(float *U, const float *w, int ci, const ConvShape *s, const Plan *p) {
    const long est = (long)p->cp * p->cq;
    const __m512i idx = _mm512_mullo_epi32(_mm512_set1_epi32(s->Cin * 9),
                                           _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    for (int co = 0; co < p->cq; co += VEC) {
        int nc = ci < s->Cin ? (s->Cout - co < VEC ? s->Cout - co : VEC) : 0;
        __mmask16 live = (__mmask16)((1u << nc) - 1);
        const float *g0 = w + ((long)co * s->Cin + ci) * 9;
        __m512 g[9], t[6][3];
        for (int k = 0; k < 9; k++) g[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, idx, g0 + k, 4);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++)
                t[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(G[i][0]), g[j],
                                          _mm512_fmadd_ps(_mm512_set1_ps(G[i][1]), g[3 + j],
                                                          _mm512_mul_ps(_mm512_set1_ps(G[i][2]), g[6 + j])));
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                __m512 u = _mm512_fmadd_ps(t[i][0], _mm512_set1_ps(G[j][0]),
                                           _mm512_fmadd_ps(t[i][1], _mm512_set1_ps(G[j][1]),
                                                           _mm512_mul_ps(t[i][2], _mm512_set1_ps(G[j][2]))));
                _mm512_storeu_ps(U + (i * 6 + j) * est + (long)ci * p->cq + co, u);
            }
    }
}

// r[j] = column j of the 16x16 matrix whose rows were r[0..15] (as in winograd_wgrad.c).
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int m = 0; m < 4; m++) {
        __m512 a = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88), b = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xdd);
        __m512 c = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88), d = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xdd);
        t[m] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + m] = _mm512_shuffle_f32x4(a, c, 0xdd);
        t[4 + m] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + m] = _mm512_shuffle_f32x4(b, d, 0xdd);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

// The pixels p0.. of a plane of hw that one vector holds: all 16, or the plane's tail.
static inline __mmask16 live_pixels(long p0, long hw) {
    return hw - p0 >= VEC ? (__mmask16)0xffff : (__mmask16)((1u << (hw - p0)) - 1);
}

// X's image pixels (rows 1..H, columns 1..W of xw) = channels ci0..ci0+nc-1 of one image
// (zeros above nc), x at the image's first pixel of channel 0, channel stride plane. The rest
// of X (the border and the partial tiles' overhang) stays zero.
static void to_pixels(float *X, const float *x, long plane, int ci0, int nc, int H, int W, int xw) {
    const long hw = (long)H * W;
    int y = 0, x0 = 0; // pixel p0 = y*W + x0
    for (long p0 = 0; p0 < hw; p0 += VEC) {
        const __mmask16 live = live_pixels(p0, hw);
        const int n = hw - p0 < VEC ? (int)(hw - p0) : VEC;
        __m512 r[VEC];
        for (int c = 0; c < VEC; c++)
            r[c] = c < nc ? _mm512_maskz_loadu_ps(live, x + (long)(ci0 + c) * plane + p0) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0, yy = y, xx = x0; j < n; j++) {
            _mm512_storeu_ps(X + ((long)(yy + 1) * xw + xx + 1) * VEC, r[j]);
            if (++xx == W) xx = 0, yy++;
        }
        for (x0 += VEC; x0 >= W; x0 -= W) y++;
    }
}

// X's image pixels (H, W, 16 channels) into channels co0..co0+nc-1 of one image of out
// (CBHW, channel stride plane), added to what is there when acc; with ep, through the
// evaluation batchnorm, residual (ep->res at out's offsets) and ReLU instead.
static void from_pixels(float *out, long plane, const float *X, int co0, int nc, int H, int W, int xw, int acc,
                        const ConvEpilogue *ep, const float *res) {
    const long hw = (long)H * W;
    int y = 0, x0 = 0;
    for (long p0 = 0; p0 < hw; p0 += VEC) {
        const __mmask16 live = live_pixels(p0, hw);
        const int n = hw - p0 < VEC ? (int)(hw - p0) : VEC;
        __m512 r[VEC];
        for (int j = 0, yy = y, xx = x0; j < VEC; j++) {
            r[j] = j < n ? _mm512_loadu_ps(X + ((long)(yy + 1) * xw + xx + 1) * VEC) : _mm512_setzero_ps();
            if (++xx == W) xx = 0, yy++;
        }
        for (x0 += VEC; x0 >= W; x0 -= W) y++;
        transpose16(r);
        for (int c = 0; c < nc; c++) {
            const long at = (long)(co0 + c) * plane + p0;
            float *o = out + at;
            __m512 z = acc ? _mm512_add_ps(_mm512_maskz_loadu_ps(live, o), r[c]) : r[c];
            if (ep) {
                z = _mm512_fmadd_ps(z, _mm512_set1_ps(ep->scale[co0 + c]), _mm512_set1_ps(ep->shift[co0 + c]));
                if (res) z = _mm512_add_ps(z, _mm512_maskz_loadu_ps(live, res + at));
                if (ep->relu) z = _mm512_max_ps(z, _mm512_setzero_ps());
            }
            _mm512_mask_storeu_ps(o, live, z);
        }
    }
}

// v = B^T d over 6 points.
static inline __attribute__((always_inline)) void bt6(const __m512 d[6], __m512 v[6]) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), five = _mm512_set1_ps(5);
    __m512 t1 = _mm512_fnmadd_ps(four, d[2], d[4]); // d4 - 4 d2
    __m512 t2 = _mm512_fnmadd_ps(four, d[1], d[3]); // d3 - 4 d1
    __m512 t3 = _mm512_sub_ps(d[4], d[2]);
    __m512 t4 = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
    v[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    v[1] = _mm512_add_ps(t1, t2);
    v[2] = _mm512_sub_ps(t1, t2);
    v[3] = _mm512_add_ps(t3, t4);
    v[4] = _mm512_sub_ps(t3, t4);
    v[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

// y = A^T m over 6 points.
static inline __attribute__((always_inline)) void at6(const __m512 m[6], __m512 y[4]) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), eight = _mm512_set1_ps(8);
    __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]);
    __m512 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
    y[1] = _mm512_fmadd_ps(two, d, b);
    y[2] = _mm512_fmadd_ps(four, c, a);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(eight, d, b), m[5]);
}

// A patch's 6 rows transformed along the rows (t), then down its columns into V at v.
static inline __attribute__((always_inline)) void patch_columns(float *v, long vst, __m512 t[6][6]) {
    for (int j = 0; j < 6; j++) {
        __m512 d[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]}, o[6];
        bt6(d, o);
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(v + (i * 6 + j) * vst, o[i]);
    }
}

// V[e][t0 + t][cb*16 ..] for the image's tiles t (row-major), from X.
static void input_tiles(float *V, long vst, int cp, const float *X, int t0, int cb, const Plan *p) {
    const long row = (long)p->xw * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const float *x0 = X + 4 * ty * row + 4 * tx * VEC;
            __m512 t[6][6];
            for (int r = 0; r < 6; r++) { // along each patch row
                __m512 d[6];
                for (int c = 0; c < 6; c++) d[c] = _mm512_loadu_ps(x0 + r * row + c * VEC);
                bt6(d, t[r]);
            }
            patch_columns(V + (long)(t0 + ty * p->tw + tx) * cp + cb * VEC, vst, t);
        }
}

// Prefetches 4 rows from row y0 of one image's block x of an ACT_CB16 tensor (H x W pixel
// vectors), tile column tx's 4 pixels of each: the rows past the plane are skipped, and when
// `more` is 0 (the image's last tile row) the next image's first 4 rows are fetched instead.
// write: for writing (prefetchw), else into L1 for reading.
static inline __attribute__((always_inline)) void prefetch_rows(const float *x, int y0, int more, int tx, int H, int W,
                                                                int write) {
    const long row = (long)W * VEC;
    for (int r = 0; r < 4; r++) {
        if (more && y0 + r >= H) break;
        const float *at = x + (more ? (long)(y0 + r) * row : (long)(H + r) * row) + 4L * tx * VEC;
        for (int c = 0; c < 4 && 4 * tx + c < W; c++) {
            if (write)
                _m_prefetchw((float *)(at + c * VEC));
            else
                _mm_prefetch((const char *)(at + c * VEC), _MM_HINT_T0);
        }
    }
}

// The same straight from one image's block of an ACT_CB16 tensor (x: its H x W pixel vectors):
// the patch's pixels outside the plane, the convolution's zero padding, are read as zeros.
static void input_tiles_cb16(float *V, long vst, int cp, const float *x, int t0, int cb, int H, int W,
                             const Plan *p) {
    const long row = (long)W * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const int y0 = 4 * ty - 1, x0 = 4 * tx - 1;
            const int inside = y0 >= 0 && x0 >= 0 && y0 + 6 <= H && x0 + 6 <= W;
            // The next tile row's 4 new rows, a tile's width of them per tile: the plane
            // streams in one tile row ahead.
            prefetch_rows(x, 4 * ty + 5, ty + 1 < p->th, tx, H, W, 0);
            __m512 t[6][6];
            for (int r = 0; r < 6; r++) {
                const int yy = y0 + r;
                const float *xr = x + yy * row + (long)x0 * VEC;
                __m512 d[6];
                if (inside)
                    for (int c = 0; c < 6; c++) d[c] = _mm512_loadu_ps(xr + c * VEC);
                else
                    for (int c = 0; c < 6; c++)
                        d[c] = yy >= 0 && yy < H && x0 + c >= 0 && x0 + c < W ? _mm512_loadu_ps(xr + c * VEC)
                                                                               : _mm512_setzero_ps();
                bt6(d, t[r]);
            }
            patch_columns(V + (long)(t0 + ty * p->tw + tx) * cp + cb * VEC, vst, t);
        }
}

// The 4x4 outputs of the image's tiles t (channels cb*16..) from M, into X's image pixels
// (a partial tile's outputs beyond the plane are dropped: X's overhang stays zero).
static void output_tiles(float *X, const float *M, long mst, int cq, int t0, int cb, int H, int W, const Plan *p) {
    const long row = (long)p->xw * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const float *m = M + (long)(t0 + ty * p->tw + tx) * cq + cb * VEC;
            const int ny = H - 4 * ty < 4 ? H - 4 * ty : 4, nx = W - 4 * tx < 4 ? W - 4 * tx : 4;
            __m512 s[4][6];
            for (int j = 0; j < 6; j++) { // A^T down each column
                __m512 d[6], y[4];
                for (int i = 0; i < 6; i++) d[i] = _mm512_loadu_ps(m + (i * 6 + j) * mst);
                at6(d, y);
                for (int i = 0; i < 4; i++) s[i][j] = y[i];
            }
            float *x0 = X + (4 * ty + 1) * row + (4 * tx + 1) * VEC;
            for (int i = 0; i < ny; i++) { // then along each row
                __m512 y[4];
                at6(s[i], y);
                for (int k = 0; k < nx; k++) _mm512_storeu_ps(x0 + i * row + k * VEC, y[k]);
            }
        }
}

// The 4x4 outputs of the image's tiles t (channels cb*16..) from M straight into one image's
// block y of an ACT_CB16 tensor, added to what is there when acc; with ep, through the
// evaluation batchnorm (scale, shift: this block's 16 channels, zero in padding lanes), the
// residual (res: the same block of ep->res) and the ReLU. A padding lane stays zero: M's is.
static void output_tiles_cb16(float *y, const float *M, long mst, int cq, int t0, int cb, int H, int W, const Plan *p,
                              int acc, const ConvEpilogue *ep, __m512 scale, __m512 shift, const float *res) {
    const long row = (long)W * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const float *m = M + (long)(t0 + ty * p->tw + tx) * cq + cb * VEC;
            const int ny = H - 4 * ty < 4 ? H - 4 * ty : 4, nx = W - 4 * tx < 4 ? W - 4 * tx : 4;
            __m512 s[4][6];
            for (int j = 0; j < 6; j++) {
                __m512 d[6], o[4];
                for (int i = 0; i < 6; i++) d[i] = _mm512_loadu_ps(m + (i * 6 + j) * mst);
                at6(d, o);
                for (int i = 0; i < 4; i++) s[i][j] = o[i];
            }
            const long at0 = (4L * ty) * row + (4L * tx) * VEC;
            prefetch_rows(y, 4 * ty + 4, ty + 1 < p->th, tx, H, W, 1); // the next tile row's outputs, owned ahead
            for (int i = 0; i < ny; i++) {
                __m512 o[4];
                at6(s[i], o);
                for (int k = 0; k < nx; k++) {
                    const long at = at0 + i * row + k * VEC;
                    __m512 z = acc ? _mm512_add_ps(_mm512_loadu_ps(y + at), o[k]) : o[k];
                    if (ep) {
                        z = _mm512_fmadd_ps(z, scale, shift);
                        if (res) z = _mm512_add_ps(z, _mm512_loadu_ps(res + at));
                        if (ep->relu) z = _mm512_max_ps(z, _mm512_setzero_ps());
                    }
                    _mm512_storeu_ps(y + at, z);
                }
            }
        }
}

// M (RT tiles, NV vectors of output channels; row stride cq) = V (RT tiles; row stride cp)
// . U (cp rows of cq). RT x NV = 16 accumulators.
#define W4GEMM(RT, NV)                                                                                     \
    static void w4gemm_##RT##_##NV(float *M, const float *V, const float *U, int cp, int cq) {           \
        __m512 a[RT][NV];                                                                                  \
        _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) \
            a[r][j] = _mm512_setzero_ps();                                                                 \
        _Pragma("GCC unroll 2") for (int ci = 0; ci < cp; ci++) {                                          \
            __m512 u[NV];                                                                                  \
            _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) {                                         \
                u[j] = _mm512_loadu_ps(U + (long)ci * cq + j * VEC);                                       \
                __asm__("" : "+v"(u[j])); /* a register: GCC otherwise folds the load into all RT FMAs */ \
            }                                                                                              \
            _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++) {                                        \
                __m512 x = _mm512_set1_ps(V[(long)r * cp + ci]);                                           \
                _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) a[r][j] = _mm512_fmadd_ps(x, u[j], a[r][j]); \
            }                                                                                              \
        }                                                                                                  \
        _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) \
            _mm512_storeu_ps(M + (long)r * cq + j * VEC, a[r][j]);                                         \
    }
W4GEMM(16, 1)
W4GEMM(8, 2)
W4GEMM(4, 4)
W4GEMM(4, 1)
W4GEMM(4, 2)

// M[e] = V[e] . U[e] over T tiles (a multiple of 4): output channels 4 vectors at a time while
// they last, then 2, then 1; tiles 16 / NV at a time, then 4.
static void gemm_e(float *M, const float *V, const float *U, int T, int cp, int cq) {
    for (int co = 0; co < cq;) {
        int nv = (cq - co) / VEC >= 4 ? 4 : (cq - co) / VEC >= 2 ? 2 : 1, RT = 16 / nv, t = 0;
        for (; t + RT <= T; t += RT) {
            float *m = M + (long)t * cq + co;
            const float *v = V + (long)t * cp, *u = U + co;
            if (nv == 4)
                w4gemm_4_4(m, v, u, cp, cq);
            else if (nv == 2)
                w4gemm_8_2(m, v, u, cp, cq);
            else
                w4gemm_16_1(m, v, u, cp, cq);
        }
        for (; t < T; t += 4) {
            float *m = M + (long)t * cq + co;
            const float *v = V + (long)t * cp, *u = U + co;
            if (nv == 4)
                w4gemm_4_4(m, v, u, cp, cq);
            else if (nv == 2)
                w4gemm_4_2(m, v, u, cp, cq);
            else
                w4gemm_4_1(m, v, u, cp, cq);
        }
        co += nv * VEC;
    }
}

// The 16 lanes of a per-channel vector for channels c0.. of C (zero past C).
static inline __m512 lanes_of(const float *v, int c0, int C) {
    const int n = C - c0 < VEC ? C - c0 : VEC;
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), v + c0);
}

// One image's channels cb*16.. into V's tiles t0.., from `in` in its layout (CBHW: through
// X, transposed; CB16: read in place).
static void image_in(float *V, const Act *in, long img, int cb, int t0, float *X, const Plan *p) {
    const long hw = (long)in->H * in->W;
    if (in->layout == ACT_CB16) {
        input_tiles_cb16(V, p->vst, p->cp, in->data + ((long)cb * in->B * hw + img * hw) * VEC, t0, cb, in->H, in->W, p);
        return;
    }
    int nc = in->C - cb * VEC < VEC ? in->C - cb * VEC : VEC;
    to_pixels(X, in->data + img * hw, (long)in->B * hw, cb * VEC, nc, in->H, in->W, p->xw);
    input_tiles(V, p->vst, p->cp, X, t0, cb, p);
}

// One chunk of images: input transform, 36 GEMMs, output transform, in this thread's X, V, M.
static void chunk_run(const Act *out, const Act *in, const ConvShape *s, const Plan *p, const float *U, float *X,
                      float *V, float *M, int chunk, int acc, const ConvEpilogue *ep) {
    const int H = s->H, W = s->W;
    const long hw = (long)H * W, oplane = (long)s->B * hw;
    const int b0 = chunk * p->nb, nb = s->B - b0 < p->nb ? s->B - b0 : p->nb, T = nb * p->tpi;
    const int T4 = (T + 3) / 4 * 4; // the GEMMs' tiles: the last step's spare rows of V are zero
    for (int b = 0; b < nb; b++)
        for (int cb = 0; cb < p->cp / VEC; cb++) image_in(V, in, b0 + b, cb, b * p->tpi, X, p);
    if (T4 > T)
        for (int e = 0; e < NE; e++) memset(V + e * p->vst + (long)T * p->cp, 0, sizeof(float) * (size_t)(T4 - T) * (size_t)p->cp);
    for (int e = 0; e < NE; e++) gemm_e(M + e * p->mst, V + e * p->vst, U + (long)e * p->cp * p->cq, T4, p->cp, p->cq);
    for (int b = 0; b < nb; b++) {
        const long img = (long)(b0 + b) * hw;
        for (int cb = 0; cb < p->cq / VEC; cb++) {
            if (out->layout == ACT_CB16) {
                const long at = ((long)cb * oplane + img) * VEC;
                __m512 scale = _mm512_setzero_ps(), shift = scale;
                if (ep) scale = lanes_of(ep->scale, cb * VEC, s->Cout), shift = lanes_of(ep->shift, cb * VEC, s->Cout);
                output_tiles_cb16(out->data + at, M, p->mst, p->cq, b * p->tpi, cb, H, W, p, acc, ep, scale, shift,
                                  ep && ep->res ? ep->res + at : NULL);
                continue;
            }
            int nc = s->Cout - cb * VEC < VEC ? s->Cout - cb * VEC : VEC;
            output_tiles(X, M, p->mst, p->cq, b * p->tpi, cb, H, W, p);
            from_pixels(out->data + img, oplane, X, cb * VEC, nc, H, W, p->xw, acc, ep,
                        ep && ep->res ? ep->res + img : NULL);
        }
    }
}

void wino4_forward_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *work, int acc,
                       const ConvEpilogue *ep) {
    const Plan p = plan_of(s);
    const size_t per_thread = thread_floats(&p);
    const int nchunks = (s->B + p.nb - 1) / p.nb;
    float *U = work;
#pragma omp parallel num_threads(s->threads)
    {
        float *X = work + p.ufl + per_thread * (size_t)omp_get_thread_num(), *V = X + p.xfl;
        float *M = V + floats_to_lines((size_t)NE * (size_t)p.vst);
        // The border of X is the zero padding; the transforms write only its interior.
        memset(X, 0, sizeof(float) * (size_t)p.xfl);
#pragma omp for schedule(static)
        for (int ci = 0; ci < p.cp; ci++) transform_weights(U, w, ci, s, &p);
#pragma omp for schedule(static)
        for (int c = 0; c < nchunks; c++) chunk_run(out, in, s, &p, U, X, V, M, c, acc, ep);
    }
}

void wino4_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                   const ConvEpilogue *ep) {
    const Act o = act_make(out, ACT_CBHW, s->Cout, s->B, s->H, s->W);
    const Act i = act_make((float *)in, ACT_CBHW, s->Cin, s->B, s->H, s->W);
    wino4_forward_act(&o, &i, w, s, work, acc, ep);
}

// ---- the weight gradient -------------------------------------------------------------------
//
// Y = A^T [U .* V] A is linear in U, so with dY a tile's output gradient
//   dL/dU[e] = sum over images and tiles of (A dY A^T)[e] (B^T d B)[e],   dw = G^T dL/dU G.
// Per chunk of images, in each thread:
//   V[e][t][ci]   (B^T d B)[e] of tile t, as in the forward (to_pixels, input_tiles)
//   Z[e][t][co]   (A dY A^T)[e]: dout through to_pixels too (16 output channels in the lanes)
//   U[e][co][ci] += sum over the chunk's tiles t of Z[e][t][co] V[e][t][ci]      (36 GEMMs)
// each Z value broadcast against 16 input channels of V, summed over t in registers. At the end
// the threads' U are added up in thread order and dw = G^T U G. 36 multiply-adds per 4x4 tile
// and channel pair, against F(2x2, 3x3)'s 64 (winograd_wgrad.c) and the direct form's 144.
// Partial tiles need nothing more: the output gradient beyond the plane is X's zero overhang.

typedef struct WPlan {
    Plan p;    // cp, cq, th, tw, xw, tpi, nb, xfl, vst as the forward's; mst: Z's element block
    long ufl;  // floats of U: 36 x cq x cp
    long zoff; // U, X, V, then Z in each thread's slice: Z's offset
} WPlan;

// V and Z of a chunk in 512 KB of the 1 MB L2 (U[e] is read and written once per chunk).
static WPlan wplan_of(const ConvShape *s) {
    WPlan w;
    Plan *p = &w.p;
    *p = plan_of(s);
    long per_image = (long)NE * p->tpi * (p->cp + p->cq);
    p->nb = (int)((128L << 10) / per_image);
    if (p->nb < 1) p->nb = 1;
    p->tcap = p->nb * p->tpi;
    p->vst = (long)p->tcap * p->cp + VEC;
    p->mst = (long)p->tcap * p->cq + VEC;
    w.ufl = (long)floats_to_lines((size_t)NE * (size_t)p->cq * (size_t)p->cp);
    w.zoff = w.ufl + p->xfl + (long)floats_to_lines((size_t)NE * (size_t)p->vst);
    return w;
}

static size_t wthread_floats(const WPlan *w) {
    return (size_t)w->zoff + floats_to_lines((size_t)NE * (size_t)w->p.mst);
}

size_t wino4_wgrad_floats(const ConvShape *s) {
    WPlan w = wplan_of(s);
    return wthread_floats(&w) * (size_t)s->threads;
}

// z = A y over 4 points: y0, y0+y1+y2+y3, y0-y1+y2-y3, y0+2y1+4y2+8y3, y0-2y1+4y2-8y3, y3.
static inline __attribute__((always_inline)) void a6(const __m512 y[4], __m512 z[6]) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4);
    __m512 p = _mm512_add_ps(y[0], y[2]), q = _mm512_add_ps(y[1], y[3]);
    __m512 r = _mm512_fmadd_ps(four, y[2], y[0]), t = _mm512_mul_ps(two, _mm512_fmadd_ps(four, y[3], y[1]));
    z[0] = y[0];
    z[1] = _mm512_add_ps(p, q);
    z[2] = _mm512_sub_ps(p, q);
    z[3] = _mm512_add_ps(r, t);
    z[4] = _mm512_sub_ps(r, t);
    z[5] = y[3];
}

// Z[e][t0 + t][cb*16 ..] = (A dY A^T)[e] for the image's tiles t, dY from X's image pixels.
static void grad_tiles(float *Z, long zst, int cq, const float *X, int t0, int cb, const Plan *p) {
    const long row = (long)p->xw * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const float *x0 = X + (4 * ty + 1) * row + (4 * tx + 1) * VEC;
            __m512 t[4][6];
            for (int r = 0; r < 4; r++) { // along each gradient row
                __m512 y[4];
                for (int c = 0; c < 4; c++) y[c] = _mm512_loadu_ps(x0 + r * row + c * VEC);
                a6(y, t[r]);
            }
            float *z = Z + (long)(t0 + ty * p->tw + tx) * cq + cb * VEC;
            for (int j = 0; j < 6; j++) { // along each column
                __m512 y[4] = {t[0][j], t[1][j], t[2][j], t[3][j]}, o[6];
                a6(y, o);
                for (int i = 0; i < 6; i++) _mm512_storeu_ps(z + (i * 6 + j) * zst, o[i]);
            }
        }
}

// The same straight from one image's block y of an ACT_CB16 tensor (dY beyond the plane, a
// partial tile's overhang, read as zeros).
static void grad_tiles_cb16(float *Z, long zst, int cq, const float *y, int t0, int cb, int H, int W, const Plan *p) {
    const long row = (long)W * VEC;
    for (int ty = 0; ty < p->th; ty++)
        for (int tx = 0; tx < p->tw; tx++) {
            const int ny = H - 4 * ty < 4 ? H - 4 * ty : 4, nx = W - 4 * tx < 4 ? W - 4 * tx : 4;
            const float *y0 = y + 4L * ty * row + 4L * tx * VEC;
            prefetch_rows(y, 4 * ty + 4, ty + 1 < p->th, tx, H, W, 0); // the next tile row
            __m512 t[4][6];
            for (int r = 0; r < 4; r++) {
                __m512 d[4];
                for (int c = 0; c < 4; c++)
                    d[c] = r < ny && c < nx ? _mm512_loadu_ps(y0 + r * row + c * VEC) : _mm512_setzero_ps();
                a6(d, t[r]);
            }
            float *z = Z + (long)(t0 + ty * p->tw + tx) * cq + cb * VEC;
            for (int j = 0; j < 6; j++) {
                __m512 d[4] = {t[0][j], t[1][j], t[2][j], t[3][j]}, o[6];
                a6(d, o);
                for (int i = 0; i < 6; i++) _mm512_storeu_ps(z + (i * 6 + j) * zst, o[i]);
            }
        }
}

// U (R rows of output channels, NV vectors of input channels; row stride cp) += Z^T . V over
// T tiles (Z rows of cq, V rows of cp). R x NV = 16 accumulators.
#define W4WGEMM(R, NV)                                                                                     \
    static void w4wgemm_##R##_##NV(float *U, const float *Z, const float *V, int T, int cq, int cp) {     \
        __m512 a[R][NV];                                                                                   \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) \
            a[r][j] = _mm512_setzero_ps();                                                                 \
        _Pragma("GCC unroll 2") for (int t = 0; t < T; t++) {                                              \
            __m512 x[NV];                                                                                  \
            _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) {                                         \
                x[j] = _mm512_loadu_ps(V + (long)t * cp + j * VEC);                                        \
                __asm__("" : "+v"(x[j])); /* a register: GCC otherwise folds the load into all R FMAs */ \
            }                                                                                              \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                         \
                __m512 z = _mm512_set1_ps(Z[(long)t * cq + r]);                                            \
                _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) a[r][j] = _mm512_fmadd_ps(z, x[j], a[r][j]); \
            }                                                                                              \
        }                                                                                                  \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int j = 0; j < NV; j++) { \
            float *u = U + (long)r * cp + j * VEC;                                                         \
            _mm512_storeu_ps(u, _mm512_add_ps(_mm512_loadu_ps(u), a[r][j]));                               \
        }                                                                                                  \
    }
W4WGEMM(16, 1)
W4WGEMM(8, 2)
W4WGEMM(4, 4)

// U[e] += Z[e]^T . V[e] over T tiles: input channels 4 vectors at a time while they last, then
// 2, then 1; output channels 16 / NV at a time (cq is a multiple of 16).
static void wgemm_e(float *U, const float *Z, const float *V, int T, int cq, int cp) {
    for (int ci = 0; ci < cp;) {
        int nv = (cp - ci) / VEC >= 4 ? 4 : (cp - ci) / VEC >= 2 ? 2 : 1, R = 16 / nv;
        for (int co = 0; co < cq; co += R) {
            float *u = U + (long)co * cp + ci;
            const float *z = Z + co, *v = V + ci;
            if (nv == 4)
                w4wgemm_4_4(u, z, v, T, cq, cp);
            else if (nv == 2)
                w4wgemm_8_2(u, z, v, T, cq, cp);
            else
                w4wgemm_16_1(u, z, v, T, cq, cp);
        }
        ci += nv * VEC;
    }
}

// One chunk of images into this thread's U.
static void chunk_wgrad(const Act *dout, const Act *in, const ConvShape *s, const WPlan *w, float *U, float *X,
                        float *V, float *Z, int chunk) {
    const Plan *p = &w->p;
    const int H = s->H, W = s->W;
    const long hw = (long)H * W, plane = (long)s->B * hw;
    const int b0 = chunk * p->nb, nb = s->B - b0 < p->nb ? s->B - b0 : p->nb;
    for (int b = 0; b < nb; b++) {
        const long img = (long)(b0 + b) * hw;
        for (int cb = 0; cb < p->cp / VEC; cb++) image_in(V, in, b0 + b, cb, b * p->tpi, X, p);
        for (int cb = 0; cb < p->cq / VEC; cb++) {
            if (dout->layout == ACT_CB16) {
                grad_tiles_cb16(Z, p->mst, p->cq, dout->data + ((long)cb * plane + img) * VEC, b * p->tpi, cb, H, W, p);
                continue;
            }
            int nc = s->Cout - cb * VEC < VEC ? s->Cout - cb * VEC : VEC;
            to_pixels(X, dout->data + img, plane, cb * VEC, nc, H, W, p->xw);
            grad_tiles(Z, p->mst, p->cq, X, b * p->tpi, cb, p);
        }
    }
    for (int e = 0; e < NE; e++)
        wgemm_e(U + (long)e * p->cq * p->cp, Z + e * p->mst, V + e * p->vst, nb * p->tpi, p->cq, p->cp);
}

// dw[co][ci] = G^T (sum of the nt threads' U, in thread order) G.
static void weights_out(float *dw, const float *work, size_t per_thread, int nt, const ConvShape *s, const WPlan *w,
                        int co) {
    const long est = (long)w->p.cq * w->p.cp;
    for (int ci = 0; ci < s->Cin; ci++) {
        float u[6][6], t[3][6];
        for (int e = 0; e < NE; e++) {
            float a = 0;
            for (int k = 0; k < nt; k++) a += work[per_thread * (size_t)k + (size_t)(e * est + (long)co * w->p.cp + ci)];
            u[e / 6][e % 6] = a;
        }
        for (int i = 0; i < 3; i++) // G^T u
            for (int j = 0; j < 6; j++) {
                float a = 0;
                for (int k = 0; k < 6; k++) a += G[k][i] * u[k][j];
                t[i][j] = a;
            }
        float *g = dw + ((long)co * s->Cin + ci) * 9;
        for (int i = 0; i < 3; i++) // (G^T u) G
            for (int j = 0; j < 3; j++) {
                float a = 0;
                for (int k = 0; k < 6; k++) a += t[i][k] * G[k][j];
                g[i * 3 + j] = a;
            }
    }
}

void wino4_backward_weights_act(float *dw, const Act *dout, const Act *in, const ConvShape *s, float *work) {
    const WPlan w = wplan_of(s);
    const size_t per_thread = wthread_floats(&w);
    const int nchunks = (s->B + w.p.nb - 1) / w.p.nb;
    const int used = s->threads < nchunks ? s->threads : nchunks;
#pragma omp parallel num_threads(used)
    {
        float *U = work + per_thread * (size_t)omp_get_thread_num(), *X = U + w.ufl, *V = X + w.p.xfl,
              *Z = U + w.zoff;
        memset(U, 0, sizeof(float) * (size_t)w.ufl);
        memset(X, 0, sizeof(float) * (size_t)w.p.xfl);
#pragma omp for schedule(static)
        for (int c = 0; c < nchunks; c++) chunk_wgrad(dout, in, s, &w, U, X, V, Z, c);
        const int nt = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int co = 0; co < s->Cout; co++) weights_out(dw, work, per_thread, nt, s, &w, co);
    }
}

void wino4_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    const Act d = act_make((float *)dout, ACT_CBHW, s->Cout, s->B, s->H, s->W);
    const Act i = act_make((float *)in, ACT_CBHW, s->Cin, s->B, s->H, s->W);
    wino4_backward_weights_act(dw, &d, &i, s, work);
}

#else // no AVX-512: conv_pick sends every shape to the GEMM path

size_t wino4_work_floats(const ConvShape *s) {
    (void)s;
    return 0;
}
void wino4_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                   const ConvEpilogue *ep) {
    (void)out, (void)in, (void)w, (void)s, (void)work, (void)acc, (void)ep;
}
void wino4_forward_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *work, int acc,
                       const ConvEpilogue *ep) {
    (void)out, (void)in, (void)w, (void)s, (void)work, (void)acc, (void)ep;
}
size_t wino4_wgrad_floats(const ConvShape *s) {
    (void)s;
    return 0;
}
void wino4_backward_weights_act(float *dw, const Act *dout, const Act *in, const ConvShape *s, float *work) {
    (void)dw, (void)dout, (void)in, (void)s, (void)work;
}
void wino4_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work) {
    (void)dw, (void)dout, (void)in, (void)s, (void)work;
}
#endif
