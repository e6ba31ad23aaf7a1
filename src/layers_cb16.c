// layers_cb16.c: batchnorm (+add+ReLU), the option-A shortcut and the average pool on ACT_CB16
// tensors (act.h): the twins of layers.c's CBHW layers, with the same arguments and meaning
// (layers.h). A block's 16 channels are the 16 lanes of one vector, so every per-channel loop
// runs 16 channels at once over memory in order, and a pixel's channels never need gathering.
//
// Sums. A channel's N values are the pixels of its block in order (image, row, column), so a
// run of whole images (ghost batch-norm) or a share is a contiguous range of pixels. Per lane,
// the pixels of a run are summed in float over SUM_BLOCK pixels, those sums added in double
// over a chunk of CHUNK pixels, and the chunks' sums added in double in order. The chunks are
// set by the run's length alone, never by the threads, so the result is the same for any
// thread count; all the chunks of a call's runs are computed in parallel (a 16-channel layer
// has one block, so blocks alone would leave the other cores idle). The order differs from
// layers.c's (there, vector-wide partial sums along one channel), so the statistics and what
// depends on them agree with the CBHW twins to float rounding, not bit for bit. Everything
// else does the same float operations in the same order as layers.c: the evaluation
// batchnorm, the shortcut and the pool agree bit for bit.
//
// Lanes past C in the last block are zero on input and are written zero on output (masked),
// whatever the arithmetic gives there.
#include "act.h"
#include "layers.h"
#include "shares.h"
#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

enum {
    LANES = ACT_LANES,
    SUM_BLOCK = 256,          // pixels summed in float (as layers.c's SUM_BLOCK values)
    CHUNK = 4 * SUM_BLOCK,    // pixels whose block sums are added in double by one task
    RUNS = 64,                // runs handled per batch (bounded stack)
    WAVE = 256                // chunk tasks per parallel region
};

static int blocks_of(int C) {
    return (C + LANES - 1) / LANES;
}

// Channels of block k that exist (16 but in the last block).
static int lanes_of(int C, int k) {
    return C - k * LANES < LANES ? C - k * LANES : LANES;
}

// A run: n pixels of one block, its first pixel's lane 0 at float offset off; nc real lanes.
typedef struct Run {
    long off, n;
    int nc;
} Run;

// What a sum pass reads: x alone (sums of x - shift and its square), or the gradient sums
// (dy non-NULL: sum g and sum g * (x - shift), g = dy masked by y > 0 when relu).
typedef struct SumIn {
    const float *x, *dy, *y;
    int relu;
} SumIn;

// ---- per-chunk kernels: n <= CHUNK pixels from p (pixel i's lanes at p + 16 i) -----------

#ifdef __AVX512F__
// s[0..16) += the 16 float lanes of f, in double.
static inline void add_lanes(__m512d *lo, __m512d *hi, __m512 f) {
    *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(f)));
    *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1))));
}

static void chunk_sums(const SumIn *in, long p, long n, const float *shift, double *s1, double *s2) {
    const __m512 sh = _mm512_loadu_ps(shift), zero = _mm512_setzero_ps();
    __m512d a_lo = _mm512_setzero_pd(), a_hi = a_lo, b_lo = a_lo, b_hi = a_lo;
    for (long i0 = 0; i0 < n; i0 += SUM_BLOCK) {
        const long m = n - i0 < SUM_BLOCK ? n - i0 : SUM_BLOCK;
        __m512 fa = zero, fb = zero;
        const float *x = in->x + p + i0 * LANES;
        if (!in->dy) {
            for (long i = 0; i < m; i++) {
                __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i * LANES), sh);
                fa = _mm512_add_ps(fa, d);
                fb = _mm512_add_ps(fb, _mm512_mul_ps(d, d));
            }
        } else {
            const float *dy = in->dy + p + i0 * LANES, *y = in->relu ? in->y + p + i0 * LANES : NULL;
            for (long i = 0; i < m; i++) {
                __m512 g = _mm512_loadu_ps(dy + i * LANES);
                if (y) g = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(y + i * LANES), zero, _CMP_GT_OQ), g);
                fa = _mm512_add_ps(fa, g);
                fb = _mm512_add_ps(fb, _mm512_mul_ps(g, _mm512_sub_ps(_mm512_loadu_ps(x + i * LANES), sh)));
            }
        }
        add_lanes(&a_lo, &a_hi, fa);
        add_lanes(&b_lo, &b_hi, fb);
    }
    _mm512_storeu_pd(s1, a_lo);
    _mm512_storeu_pd(s1 + 8, a_hi);
    _mm512_storeu_pd(s2, b_lo);
    _mm512_storeu_pd(s2 + 8, b_hi);
}
#else
// The same operations in the same order per lane as the AVX-512 kernel.
static void chunk_sums(const SumIn *in, long p, long n, const float *shift, double *s1, double *s2) {
    for (int l = 0; l < LANES; l++) s1[l] = s2[l] = 0;
    for (long i0 = 0; i0 < n; i0 += SUM_BLOCK) {
        const long m = n - i0 < SUM_BLOCK ? n - i0 : SUM_BLOCK;
        float fa[LANES] = {0}, fb[LANES] = {0};
        const float *x = in->x + p + i0 * LANES;
        if (!in->dy) {
            for (long i = 0; i < m; i++)
                for (int l = 0; l < LANES; l++) {
                    float d = x[i * LANES + l] - shift[l];
                    fa[l] += d;
                    fb[l] += d * d;
                }
        } else {
            const float *dy = in->dy + p + i0 * LANES, *y = in->relu ? in->y + p + i0 * LANES : NULL;
            for (long i = 0; i < m; i++)
                for (int l = 0; l < LANES; l++) {
                    float g = y && !(y[i * LANES + l] > 0.0f) ? 0.0f : dy[i * LANES + l];
                    fa[l] += g;
                    fb[l] += g * (x[i * LANES + l] - shift[l]);
                }
        }
        for (int l = 0; l < LANES; l++) {
            s1[l] += fa[l];
            s2[l] += fb[l];
        }
    }
}
#endif

// s1, s2 (16 per run) = the sums of each of nr runs (shift: 16 per run), in the order of the
// file's header: the chunks of every run in parallel, then added per run in chunk order.
static void runs_sums(const SumIn *in, const Run *runs, int nr, const float *shift, double *s1, double *s2) {
    memset(s1, 0, sizeof(double) * LANES * (size_t)nr);
    memset(s2, 0, sizeof(double) * LANES * (size_t)nr);
    int r = 0;
    long at = 0; // the next task: run r's chunk starting at pixel at
    while (r < nr) {
        int tr[WAVE], nt = 0;
        long tp[WAVE];
        while (r < nr && nt < WAVE) {
            if (at < runs[r].n) {
                tr[nt] = r;
                tp[nt++] = at;
                at += CHUNK;
            }
            if (at >= runs[r].n) r++, at = 0;
        }
        double part[WAVE][2][LANES];
#pragma omp parallel for schedule(static)
        for (int t = 0; t < nt; t++) {
            const Run *u = &runs[tr[t]];
            const long n = u->n - tp[t] < CHUNK ? u->n - tp[t] : CHUNK;
            chunk_sums(in, u->off + tp[t] * LANES, n, shift + (long)tr[t] * LANES, part[t][0], part[t][1]);
        }
        for (int t = 0; t < nt; t++)
            for (int l = 0; l < LANES; l++) {
                s1[tr[t] * LANES + l] += part[t][0][l];
                s2[tr[t] * LANES + l] += part[t][1][l];
            }
    }
}

// The chunks of nr runs as one list of tasks: *first = run r's first task (nr + 1 entries).
static long runs_tasks(const Run *runs, int nr, long *first) {
    long t = 0;
    for (int r = 0; r < nr; r++) {
        first[r] = t;
        t += (runs[r].n + CHUNK - 1) / CHUNK;
    }
    first[nr] = t;
    return t;
}

// Task t of runs_tasks: its run, first pixel and pixels.
static int task_at(const Run *runs, int nr, const long *first, long t, long *p, long *n) {
    int r = 0;
    while (r + 1 < nr && first[r + 1] <= t) r++;
    *p = (t - first[r]) * CHUNK;
    *n = runs[r].n - *p < CHUNK ? runs[r].n - *p : CHUNK;
    return r;
}

// ---- elementwise passes over runs ----------------------------------------------------------

// y = act(x * scale + shift + res) over the runs (scale, shift: 16 per run; res may be NULL;
// y may be x), as layers.c's affine_act lane by lane; lanes past nc written 0.
static void runs_affine(float *y, const float *x, const float *res, const Run *runs, int nr, const float *scale,
                        const float *shift, int relu) {
    long first[RUNS + 1];
    const long T = runs_tasks(runs, nr, first);
#pragma omp parallel for schedule(static)
    for (long t = 0; t < T; t++) {
        long p0, n;
        const int r = task_at(runs, nr, first, t, &p0, &n);
        const long o = runs[r].off + p0 * LANES;
        const float *sc = scale + (long)r * LANES, *sh = shift + (long)r * LANES;
        const int nc = runs[r].nc;
#ifdef __AVX512F__
        const __m512 vs = _mm512_loadu_ps(sc), vh = _mm512_loadu_ps(sh), zero = _mm512_setzero_ps();
        const __mmask16 valid = (__mmask16)((1u << nc) - 1);
        for (long i = 0; i < n; i++) {
            const long q = o + i * LANES;
            __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + q), vs), vh);
            if (res) v = _mm512_add_ps(v, _mm512_loadu_ps(res + q));
            if (relu) v = _mm512_max_ps(v, zero); // max(v, 0) is 0 for NaN and -0, as v > 0 ? v : 0
            _mm512_storeu_ps(y + q, _mm512_maskz_mov_ps(valid, v));
        }
#else
        for (long i = 0; i < n; i++) {
            const long q = o + i * LANES;
            for (int l = 0; l < LANES; l++) {
                float v = x[q + l] * sc[l] + sh[l];
                if (res) v = v + res[q + l];
                if (relu) v = v > 0.0f ? v : 0.0f;
                y[q + l] = l < nc ? v : 0.0f;
            }
        }
#endif
    }
}

// The per-lane constants of layers.c's bn_dx: dx = k1 * (g - k2 - (x - m) * k3).
typedef struct DxConst {
    float k1[LANES], k2[LANES], k3[LANES], m[LANES];
} DxConst;

static void dx_const(DxConst *k, int l, float gamma, float m, float r, float db, float dg, float Nt) {
    k->k1[l] = gamma * r;
    k->k2[l] = db / Nt;
    k->k3[l] = dg * r / Nt;
    k->m[l] = m;
}

// dx (and dres: g, may be dy itself) over the runs, each with its DxConst; lanes past nc 0.
static void runs_dx(float *dx, float *dres, const float *dy, const float *y, const float *x, int relu, const Run *runs,
                    int nr, const DxConst *k) {
    long first[RUNS + 1];
    const long T = runs_tasks(runs, nr, first);
#pragma omp parallel for schedule(static)
    for (long t = 0; t < T; t++) {
        long p0, n;
        const int r = task_at(runs, nr, first, t, &p0, &n);
        const long o = runs[r].off + p0 * LANES;
        const DxConst *c = &k[r];
        const int nc = runs[r].nc;
#ifdef __AVX512F__
        const __m512 k1 = _mm512_loadu_ps(c->k1), k2 = _mm512_loadu_ps(c->k2), k3 = _mm512_loadu_ps(c->k3),
                     m = _mm512_loadu_ps(c->m), zero = _mm512_setzero_ps();
        const __mmask16 valid = (__mmask16)((1u << nc) - 1);
        for (long i = 0; i < n; i++) {
            const long q = o + i * LANES;
            __mmask16 keep = valid;
            if (relu) keep &= _mm512_cmp_ps_mask(_mm512_loadu_ps(y + q), zero, _CMP_GT_OQ);
            __m512 g = _mm512_maskz_mov_ps(keep, _mm512_loadu_ps(dy + q));
            __m512 v = _mm512_sub_ps(_mm512_sub_ps(g, k2), _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + q), m), k3));
            _mm512_storeu_ps(dx + q, _mm512_maskz_mov_ps(valid, _mm512_mul_ps(k1, v)));
            if (dres) _mm512_storeu_ps(dres + q, g);
        }
#else
        for (long i = 0; i < n; i++) {
            const long q = o + i * LANES;
            for (int l = 0; l < LANES; l++) {
                float g = (relu && !(y[q + l] > 0.0f)) || l >= nc ? 0.0f : dy[q + l];
                dx[q + l] = l < nc ? c->k1[l] * (g - c->k2[l] - (x[q + l] - c->m[l]) * c->k3[l]) : 0.0f;
                if (dres) dres[q + l] = g;
            }
        }
#endif
    }
}

// ---- batchnorm -------------------------------------------------------------------------

// The shares of a call, as in layers.c: how many; share j's partial sums (2C+1 doubles);
// the partials added in the tree of shares.h, then across processes.
static int bn_nshares(const BnArgs *a) {
    return a->shares > 1 ? a->shares : 1;
}

static double *bn_parts(const BnArgs *a, int j) {
    return bn_nshares(a) > 1 ? a->parts + (long)j * (2 * a->C + 1) : a->sync->buf;
}

static void bn_sum(const BnArgs *a, long n) {
    shares_sum_double(bn_parts(a, 0), bn_nshares(a), n, 2L * a->C + 1);
    if (a->sync) a->sync->sum(bn_parts(a, 0), n);
}

// Block k of share j: its own CB16 tensor of n_j images at Cpad * hw * share_lo[j] floats
// (BnArgs.shares; one share: the whole tensor of N pixels).
static Run share_run(const BnArgs *a, int j, int k) {
    const long cp = (long)blocks_of(a->C) * LANES;
    if (a->shares <= 1) return (Run){.off = (long)k * a->N * LANES, .n = a->N, .nc = lanes_of(a->C, k)};
    const long n = a->hw * (a->share_lo[j + 1] - a->share_lo[j]);
    return (Run){.off = cp * a->hw * a->share_lo[j] + (long)k * n * LANES, .n = n, .nc = lanes_of(a->C, k)};
}

// Run i of the ghost runs of a call: (block, group) i / G, i % G, block-major; *g its group.
static Run group_run(const BnArgs *a, long i, long G, long *g) {
    const long N = a->N, group = G > 1 ? a->group : N;
    const int k = (int)(i / G);
    *g = i % G;
    return (Run){.off = ((long)k * N + *g * group) * LANES,
                 .n = N - *g * group < group ? N - *g * group : group,
                 .nc = lanes_of(a->C, k)};
}

// The training forward of one process (layers.c's bn_forward_groups): each run of group
// pixels of a block through its own statistics, RUNS runs at a time; the running statistics
// of a block from its runs' sums, taken in group order.
static void bn_forward_groups_cb16(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                                   float *mean, float *rstd, float *running_mean, float *running_var,
                                   const BnArgs *a) {
    const long G = bn_groups(a->N, a->group), R = (long)blocks_of(a->C) * G;
    const SumIn in = {.x = x};
    Run runs[RUNS];
    long grp[RUNS];
    float shift[RUNS * LANES], scale[RUNS * LANES], first[RUNS * LANES];
    double s1[RUNS * LANES], s2[RUNS * LANES], mu_sum[LANES] = {0}, var_sum[LANES] = {0};
    for (long r0 = 0; r0 < R; r0 += RUNS) {
        const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
        for (int r = 0; r < nr; r++) runs[r] = group_run(a, r0 + r, G, &grp[r]);
        memset(shift, 0, sizeof shift);
        runs_sums(&in, runs, nr, shift, s1, s2);
        for (int r = 0; r < nr; r++)
            for (int l = 0; l < LANES; l++)
                first[r * LANES + l] = l < runs[r].nc ? (float)(s1[r * LANES + l] / (double)runs[r].n) : 0.0f;
        runs_sums(&in, runs, nr, first, s1, s2);
        for (int r = 0; r < nr; r++) {
            const long n = runs[r].n, g = grp[r];
            const int k = (int)((r0 + r) / G), nc = runs[r].nc;
            for (int l = 0; l < LANES; l++) {
                const int i = r * LANES + l, c = k * LANES + l;
                scale[i] = shift[i] = 0;
                if (l >= nc) continue;
                // layers.c's run_stats, from these sums
                double d = s1[i] / (double)n, v = s2[i] / (double)n - d * d, mu = first[i] + d;
                float m = (float)mu, rs = (float)(1.0 / sqrt(v + a->eps));
                mean[c * G + g] = m;
                rstd[c * G + g] = rs;
                mu_sum[l] += mu;
                var_sum[l] += n > 1 ? v * (double)n / (double)(n - 1) : v;
                scale[i] = gamma[c] * rs;
                shift[i] = beta[c] - m * scale[i];
            }
            if (g < G - 1) continue;
            for (int l = 0; l < nc; l++) { // the block's last run: its running statistics
                const int c = k * LANES + l;
                double mu = mu_sum[l] / (double)G + (a->in_bias ? a->in_bias[c] : 0.0);
                running_mean[c] = (float)((1.0 - a->momentum) * running_mean[c] + a->momentum * mu);
                running_var[c] = (float)((1.0 - a->momentum) * running_var[c] + a->momentum * (var_sum[l] / (double)G));
                mu_sum[l] = var_sum[l] = 0;
            }
        }
        runs_affine(y, x, res, runs, nr, scale, shift, a->relu);
    }
}

// Run i of a call's (share, block) runs, share-major.
static Run sync_run(const BnArgs *a, long i, int *j) {
    const int nb = blocks_of(a->C);
    *j = (int)(i / nb);
    return share_run(a, *j, (int)(i % nb));
}

// The training forward with the sums over every share and process (layers.c's
// bn_forward_sync): the same passes, sums and arithmetic, the runs being (share, block).
static void bn_forward_sync_cb16(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                                 float *mean, float *rstd, float *running_mean, float *running_var,
                                 const BnArgs *a) {
    const int C = a->C, S = bn_nshares(a);
    const long R = (long)S * blocks_of(C);
    const SumIn in = {.x = x};
    double *buf = bn_parts(a, 0);
    Run runs[RUNS];
    int share[RUNS];
    float shift[RUNS * LANES], scale[RUNS * LANES];
    double s1[RUNS * LANES], s2[RUNS * LANES], Nt = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (long r0 = 0; r0 < R; r0 += RUNS) {
            const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
            for (int r = 0; r < nr; r++) {
                runs[r] = sync_run(a, r0 + r, &share[r]);
                const int c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
                for (int l = 0; l < LANES; l++) shift[r * LANES + l] = pass && l < runs[r].nc ? mean[c0 + l] : 0.0f;
            }
            runs_sums(&in, runs, nr, shift, s1, s2);
            for (int r = 0; r < nr; r++) {
                double *p = bn_parts(a, share[r]);
                const int c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
                for (int l = 0; l < runs[r].nc; l++) {
                    p[c0 + l] = s1[r * LANES + l];
                    if (pass) p[C + c0 + l] = s2[r * LANES + l];
                }
            }
        }
        if (pass) break;
        for (int j = 0; j < S; j++) bn_parts(a, j)[C] = (double)share_run(a, j, 0).n;
        bn_sum(a, C + 1);
        Nt = buf[C];
        for (int c = 0; c < C; c++) mean[c] = (float)(buf[c] / Nt); // the first mean, the shift
    }
    bn_sum(a, 2L * C);
    for (int c = 0; c < C; c++) bn_finish_stats(c, buf, Nt, mean, rstd, running_mean, running_var, a);
    for (long r0 = 0; r0 < R; r0 += RUNS) {
        const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
        for (int r = 0; r < nr; r++) {
            runs[r] = sync_run(a, r0 + r, &share[r]);
            const int c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
            for (int l = 0; l < LANES; l++) {
                const int i = r * LANES + l, c = c0 + l;
                scale[i] = l < runs[r].nc ? gamma[c] * rstd[c] : 0.0f;
                shift[i] = l < runs[r].nc ? beta[c] - mean[c] * scale[i] : 0.0f;
            }
        }
        runs_affine(y, x, res, runs, nr, scale, shift, a->relu);
    }
}

void bn_forward_cb16(float *y, const float *x, const float *res, const float *gamma, const float *beta, float *mean,
                     float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    if (a->train && (a->sync || a->shares > 1)) {
        bn_forward_sync_cb16(y, x, res, gamma, beta, mean, rstd, running_mean, running_var, a);
        return;
    }
    if (a->train) {
        bn_forward_groups_cb16(y, x, res, gamma, beta, mean, rstd, running_mean, running_var, a);
        return;
    }
    const int nb = blocks_of(a->C);
    Run runs[RUNS];
    float scale[RUNS * LANES], shift[RUNS * LANES];
    for (int k0 = 0; k0 < nb; k0 += RUNS) {
        const int nr = nb - k0 < RUNS ? nb - k0 : RUNS;
        memset(scale, 0, sizeof scale);
        memset(shift, 0, sizeof shift);
        for (int r = 0; r < nr; r++) {
            const int k = k0 + r, c0 = k * LANES, nc = lanes_of(a->C, k);
            runs[r] = (Run){.off = (long)k * a->N * LANES, .n = a->N, .nc = nc};
            bn_eval_affine(scale + r * LANES, shift + r * LANES, gamma + c0, beta + c0, running_mean + c0,
                           running_var + c0, a->in_bias ? a->in_bias + c0 : NULL, nc, a->eps);
        }
        runs_affine(y, x, res, runs, nr, scale, shift, a->relu);
    }
}

// The backward of bn_forward_sync_cb16 (layers.c's bn_backward_sync).
static void bn_backward_sync_cb16(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                                  const float *x, const float *gamma, const float *mean, const float *rstd,
                                  const BnArgs *a) {
    const int C = a->C, S = bn_nshares(a);
    const long R = (long)S * blocks_of(C);
    const SumIn in = {.x = x, .dy = dy, .y = y, .relu = a->relu};
    double *buf = bn_parts(a, 0);
    Run runs[RUNS];
    int share[RUNS];
    float m[RUNS * LANES];
    double s1[RUNS * LANES], s2[RUNS * LANES];
    static const DxConst zero_k; // lanes past C: all zero
    for (long r0 = 0; r0 < R; r0 += RUNS) {
        const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
        for (int r = 0; r < nr; r++) {
            runs[r] = sync_run(a, r0 + r, &share[r]);
            const int c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
            for (int l = 0; l < LANES; l++) m[r * LANES + l] = l < runs[r].nc ? mean[c0 + l] : 0.0f;
        }
        runs_sums(&in, runs, nr, m, s1, s2);
        for (int r = 0; r < nr; r++) {
            const int j = share[r], c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
            double *p = bn_parts(a, j);
            float *dg = dgamma + j * a->grad_stride, *db = dbeta + j * a->grad_stride;
            for (int l = 0; l < runs[r].nc; l++) {
                const int c = c0 + l;
                p[c] = s1[r * LANES + l];
                p[C + c] = s2[r * LANES + l];
                db[c] = (float)p[c];
                dg[c] = (float)(p[C + c] * rstd[c]);
            }
        }
    }
    for (int j = 0; j < S; j++) bn_parts(a, j)[2 * C] = (double)share_run(a, j, 0).n;
    bn_sum(a, 2L * C + 1);
    const float Nt = (float)buf[2 * C];
    DxConst k[RUNS];
    for (long r0 = 0; r0 < R; r0 += RUNS) {
        const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
        for (int r = 0; r < nr; r++) {
            runs[r] = sync_run(a, r0 + r, &share[r]);
            const int c0 = (int)((r0 + r) % blocks_of(C)) * LANES;
            k[r] = zero_k;
            for (int l = 0; l < runs[r].nc; l++) {
                const int c = c0 + l;
                dx_const(&k[r], l, gamma[c], mean[c], rstd[c], (float)buf[c], (float)(buf[C + c] * rstd[c]), Nt);
            }
        }
        runs_dx(dx, dres, dy, y, x, a->relu, runs, nr, k);
    }
}

// The backward of bn_forward_groups_cb16 (layers.c's bn_backward_groups): dgamma and dbeta
// of a block add up over its runs in group order.
static void bn_backward_groups_cb16(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy,
                                    const float *y, const float *x, const float *gamma, const float *mean,
                                    const float *rstd, const BnArgs *a) {
    const long G = bn_groups(a->N, a->group), R = (long)blocks_of(a->C) * G;
    const SumIn in = {.x = x, .dy = dy, .y = y, .relu = a->relu};
    Run runs[RUNS];
    long grp[RUNS];
    float m[RUNS * LANES];
    double s1[RUNS * LANES], s2[RUNS * LANES], dg_sum[LANES] = {0}, db_sum[LANES] = {0};
    DxConst k[RUNS];
    static const DxConst zero_k; // lanes past C: all zero
    for (long r0 = 0; r0 < R; r0 += RUNS) {
        const int nr = R - r0 < RUNS ? (int)(R - r0) : RUNS;
        for (int r = 0; r < nr; r++) {
            runs[r] = group_run(a, r0 + r, G, &grp[r]);
            const int c0 = (int)((r0 + r) / G) * LANES;
            for (int l = 0; l < LANES; l++) m[r * LANES + l] = l < runs[r].nc ? mean[(c0 + l) * G + grp[r]] : 0.0f;
        }
        runs_sums(&in, runs, nr, m, s1, s2);
        for (int r = 0; r < nr; r++) {
            const long g = grp[r];
            const int c0 = (int)((r0 + r) / G) * LANES, nc = runs[r].nc;
            k[r] = zero_k;
            for (int l = 0; l < nc; l++) {
                const int i = r * LANES + l, c = c0 + l;
                const float rs = rstd[c * G + g], db = (float)s1[i], dg = (float)(s2[i] * rs);
                db_sum[l] += s1[i];
                dg_sum[l] += s2[i] * rs;
                dx_const(&k[r], l, gamma[c], m[i], rs, db, dg, (float)runs[r].n);
            }
            if (g < G - 1) continue;
            for (int l = 0; l < nc; l++) { // the block's last run
                dgamma[c0 + l] = (float)dg_sum[l];
                dbeta[c0 + l] = (float)db_sum[l];
                dg_sum[l] = db_sum[l] = 0;
            }
        }
        runs_dx(dx, dres, dy, y, x, a->relu, runs, nr, k);
    }
}

void bn_backward_cb16(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                      const float *x, const float *gamma, const float *mean, const float *rstd, const BnArgs *a) {
    if (a->sync || a->shares > 1)
        bn_backward_sync_cb16(dx, dres, dgamma, dbeta, dy, y, x, gamma, mean, rstd, a);
    else
        bn_backward_groups_cb16(dx, dres, dgamma, dbeta, dy, y, x, gamma, mean, rstd, a);
}

// ---- option-A shortcut ---------------------------------------------------------------------

// Lane l of a block of the destination is channel c0 + l of the source (c0 = the channel of
// lane 0, any integer): lanes sh.. of source block ka and lanes ..sh-1 of block ka + 1
// (one two-source permute); lanes whose source channel is outside [0, Cs) or whose own
// channel is past Cd are 0.
typedef struct LaneMap {
    int ka, sh;
    unsigned valid; // bit l: lane l takes a source channel
} LaneMap;

static LaneMap lane_map(int c0, int kd, int Cs, int Cd) {
    LaneMap m = {.ka = c0 >= 0 ? c0 / LANES : -((-c0 + LANES - 1) / LANES)};
    m.sh = c0 - m.ka * LANES;
    for (int l = 0; l < LANES; l++)
        if (c0 + l >= 0 && c0 + l < Cs && kd * LANES + l < Cd) m.valid |= 1u << l;
    return m;
}

// Pixel p's lanes mapped by m from the two source blocks at a and b (NULL: out of range).
static inline void map_pixel(float *out, const float *a, const float *b, long p, const LaneMap *m, int acc) {
#ifdef __AVX512F__
    const __m512 va = a ? _mm512_loadu_ps(a + p) : _mm512_setzero_ps(), vb = b ? _mm512_loadu_ps(b + p) : _mm512_setzero_ps();
    const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                         _mm512_set1_epi32(m->sh));
    __m512 v = _mm512_maskz_mov_ps((__mmask16)m->valid, _mm512_permutex2var_ps(va, idx, vb));
    if (acc) v = _mm512_add_ps(_mm512_loadu_ps(out), v);
    _mm512_storeu_ps(out, v);
#else
    for (int l = 0; l < LANES; l++) {
        const int s = m->sh + l;
        const float *src = s < LANES ? a : b;
        float v = (m->valid >> l & 1) && src ? src[p + s % LANES] : 0.0f;
        out[l] = acc ? out[l] + v : v;
    }
#endif
}

void shortcut_a_forward_cb16(float *out, const float *x, int Cin, int Cout, int B, int H, int W) {
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2, off = (Cout - Cin) / 2, nbi = blocks_of(Cin), nbo = blocks_of(Cout);
    const long hwi = (long)H * W, hwo = (long)Ho * Wo;
#pragma omp parallel for collapse(2) schedule(static)
    for (int ko = 0; ko < nbo; ko++)
        for (int b = 0; b < B; b++) {
            const LaneMap m = lane_map(ko * LANES - off, ko, Cin, Cout);
            const float *xa = m.ka >= 0 && m.ka < nbi ? x + ((long)m.ka * B + b) * hwi * LANES : NULL;
            const float *xb = m.sh && m.ka + 1 >= 0 && m.ka + 1 < nbi ? x + ((long)(m.ka + 1) * B + b) * hwi * LANES : NULL;
            float *o = out + ((long)ko * B + b) * hwo * LANES;
            for (int yy = 0; yy < Ho; yy++)
                for (int xx = 0; xx < Wo; xx++)
                    map_pixel(o + ((long)yy * Wo + xx) * LANES, xa, xb, ((long)2 * yy * W + 2 * xx) * LANES, &m, 0);
        }
}

void shortcut_a_backward_acc_cb16(float *din, const float *dout, int Cin, int Cout, int B, int H, int W) {
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2, off = (Cout - Cin) / 2, nbi = blocks_of(Cin), nbo = blocks_of(Cout);
    const long hwi = (long)H * W, hwo = (long)Ho * Wo;
#pragma omp parallel for collapse(2) schedule(static)
    for (int ki = 0; ki < nbi; ki++)
        for (int b = 0; b < B; b++) {
            const LaneMap m = lane_map(ki * LANES + off, ki, Cout, Cin);
            const float *da = m.ka >= 0 && m.ka < nbo ? dout + ((long)m.ka * B + b) * hwo * LANES : NULL;
            const float *db = m.sh && m.ka + 1 >= 0 && m.ka + 1 < nbo ? dout + ((long)(m.ka + 1) * B + b) * hwo * LANES : NULL;
            float *d = din + ((long)ki * B + b) * hwi * LANES;
            for (int yy = 0; yy < Ho; yy++)
                for (int xx = 0; xx < Wo; xx++)
                    map_pixel(d + ((long)2 * yy * W + 2 * xx) * LANES, da, db, ((long)yy * Wo + xx) * LANES, &m, 1);
        }
}

// ---- global average pool ---------------------------------------------------------------

// Per lane the float sum in pixel order, then / HW: layers.c's avgpool_forward, 16 at once.
void avgpool_forward_cb16(float *out, const float *x, int C, int B, int HW) {
    const int nb = blocks_of(C);
#pragma omp parallel for collapse(2) schedule(static)
    for (int k = 0; k < nb; k++)
        for (int b = 0; b < B; b++) {
            const float *p = x + ((long)k * B + b) * HW * LANES;
            const int nc = lanes_of(C, k);
            float s[LANES] = {0};
            for (int i = 0; i < HW; i++)
                for (int l = 0; l < LANES; l++) s[l] += p[(long)i * LANES + l];
            for (int l = 0; l < nc; l++) out[(long)b * C + k * LANES + l] = s[l] / (float)HW;
        }
}

void avgpool_backward_cb16(float *dx, const float *dout, int C, int B, int HW) {
    const int nb = blocks_of(C);
#pragma omp parallel for collapse(2) schedule(static)
    for (int k = 0; k < nb; k++)
        for (int b = 0; b < B; b++) {
            float g[LANES] = {0};
            for (int l = 0; l < lanes_of(C, k); l++) g[l] = dout[(long)b * C + k * LANES + l] / (float)HW;
            float *p = dx + ((long)k * B + b) * HW * LANES;
            for (int i = 0; i < HW; i++) memcpy(p + (long)i * LANES, g, sizeof g);
        }
}
