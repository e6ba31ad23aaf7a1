// bench_conv.c: the timer of `onecycle bench`, and `bench --layers`: GFLOP/s of each ResNet
// stage's 3x3 convolution (forward, weight gradient, data + weight gradient, and the data
// gradient alone as the difference) next to two ceilings measured on the same threads:
// OpenBLAS sgemm 2048^3, what plain GEMM gives on this machine, and the peak fp32 FMA rate,
// what the machine gives at all.
#include "cmd.h"
#include "common.h"
#include "layers.h"
#include "winograd4.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

double bench_seconds_per_call(void (*fn)(void *), void *ctx, double seconds) {
    fn(ctx); // warm-up: first touch, caches
    int n = 0;
    double t0 = now_seconds(), dt;
    do {
        fn(ctx);
        n++;
    } while ((dt = now_seconds() - t0) < seconds || n < 3);
    return dt / n;
}

typedef struct ConvBench {
    ConvShape s;
    float *in, *w, *out, *din, *dw, *col;
    int which; // 0 forward, 1 weight gradient, 2 data + weight gradients
} ConvBench;

static void conv_call(void *p) {
    ConvBench *c = p;
    if (c->which == 0)
        conv_forward(c->out, c->in, c->w, &c->s, c->col);
    else
        conv_backward(c->which == 2 ? c->din : NULL, c->dw, c->out, c->in, c->w, &c->s, c->col);
}

typedef struct GemmBench {
    int n;
    float *a, *b, *c;
} GemmBench;

static void gemm_call(void *p) {
    GemmBench *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b, g->n, 0.0f, g->c,
                g->n);
}

// The peak: each thread runs NCHAIN independent chains of fused multiply-adds on registers
// (more than the FMA latency times the FMA pipes, on any x86 core so far), 2 flops per lane.
enum { NCHAIN = 16, FMA_STEPS = 1 << 16 };

typedef struct FmaBench {
    double flops; // per call, all threads
    float sink;   // the chains' sum, so they are not optimised away
} FmaBench;

#ifdef __AVX512F__
typedef __m512 FmaVec;
#define FMA_LANES 16
#define FMA_SET1 _mm512_set1_ps
#define FMA_FMADD _mm512_fmadd_ps
#define FMA_SUM _mm512_reduce_add_ps
#elif defined(__FMA__)
#include <immintrin.h>
typedef __m256 FmaVec;
#define FMA_LANES 8
#define FMA_SET1 _mm256_set1_ps
#define FMA_FMADD _mm256_fmadd_ps
static float fma_sum8(__m256 v) {
    float f[8], a = 0;
    _mm256_storeu_ps(f, v);
    for (int i = 0; i < 8; i++) a += f[i];
    return a;
}
#define FMA_SUM fma_sum8
#else
typedef float FmaVec;
#define FMA_LANES 1
#define FMA_SET1(x) (x)
#define FMA_FMADD fmaf
#define FMA_SUM(x) (x)
#endif

static void fma_call(void *p) {
    FmaBench *f = p;
    float total = 0;
    int nt = 1;
#pragma omp parallel reduction(+ : total)
    {
#pragma omp single
        nt = omp_get_num_threads();
        FmaVec a[NCHAIN];
        const FmaVec m = FMA_SET1(0.9999999f), c = FMA_SET1(1e-7f);
        for (int k = 0; k < NCHAIN; k++) a[k] = FMA_SET1((float)k);
        for (int i = 0; i < FMA_STEPS; i++)
            for (int k = 0; k < NCHAIN; k++) a[k] = FMA_FMADD(a[k], m, c);
        for (int k = 0; k < NCHAIN; k++) total += FMA_SUM(a[k]);
    }
    f->sink = total;
    f->flops = 2.0 * FMA_LANES * NCHAIN * (double)FMA_STEPS * nt;
}

static float *filled(long n, float v) {
    float *p = xalloc_aligned(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = v * (float)(i % 7 - 3);
    return p;
}

// F(4x4, 3x3) on named tensors (winograd4.h): the same stage in CBHW (through the kernel's
// transposes) and in CB16 (read and written in place), forward and weight gradient.
typedef struct LayoutBench {
    ConvShape s;
    Act in, out;
    float *w, *dw, *work;
    int wgrad;
} LayoutBench;

static void layout_call(void *p) {
    LayoutBench *l = p;
    if (l->wgrad)
        wino4_backward_weights_act(l->dw, &l->out, &l->in, &l->s, l->work);
    else
        wino4_forward_act(&l->out, &l->in, l->w, &l->s, l->work, 0, NULL);
}

static void bench_layouts(const ConvShape *s, double flops, double seconds) {
    if (!conv_fits(s, CONV_WINOGRAD4)) return;
    double t[2][2];
    LayoutBench l = {.s = *s};
    const long nw = (long)s->Cout * s->Cin * 9;
    l.w = filled(nw, 0.05f), l.dw = filled(nw, 0);
    size_t nwork = wino4_work_floats(s) > wino4_wgrad_floats(s) ? wino4_work_floats(s) : wino4_wgrad_floats(s);
    l.work = xalloc_aligned(sizeof(float) * nwork);
    for (int lay = 0; lay < 2; lay++) {
        ActLayout a = lay ? ACT_CB16 : ACT_CBHW;
        l.in = act_make(filled(act_floats(a, s->Cin, s->B, s->H, s->W), 0.1f), a, s->Cin, s->B, s->H, s->W);
        l.out = act_make(filled(act_floats(a, s->Cout, s->B, s->H, s->W), 0.1f), a, s->Cout, s->B, s->H, s->W);
        for (l.wgrad = 0; l.wgrad < 2; l.wgrad++) t[lay][l.wgrad] = bench_seconds_per_call(layout_call, &l, seconds);
        free(l.in.data), free(l.out.data);
    }
    for (int k = 0; k < 2; k++)
        printf("conv_c%d_%dx%d_winograd4_%s_gflops: CBHW %.1f, CB16 %.1f (%.2fx)\n", s->Cin, s->H, s->W,
               k ? "wgrad" : "fwd", flops / t[0][k] / 1e9, flops / t[1][k] / 1e9, t[0][k] / t[1][k]);
    free(l.w), free(l.dw), free(l.work);
}

void bench_conv_stages(int batch, double seconds) {
    GemmBench g = {.n = 2048};
    long nn = (long)g.n * g.n;
    g.a = filled(nn, 0.01f), g.b = filled(nn, 0.02f), g.c = filled(nn, 0);
    double peak = 2.0 * g.n * g.n * g.n / bench_seconds_per_call(gemm_call, &g, seconds) / 1e9;
    printf("sgemm_2048_gflops: %.1f\n", peak);
    free(g.a), free(g.b), free(g.c);
    FmaBench f = {0};
    double fma_t = bench_seconds_per_call(fma_call, &f, seconds);
    double fma = f.flops / fma_t / 1e9;
    printf("fma_peak_gflops: %.1f (fp32, %d lanes, %.0f%% of it reached by sgemm)\n", fma, FMA_LANES, 100 * peak / fma);
    static const int stage[3][2] = {{16, 32}, {32, 16}, {64, 8}}; // channels, plane side
    static const char *what[3] = {"fwd", "wgrad", "bwd"};
    for (int i = 0; i < 3; i++) {
        int C = stage[i][0], H = stage[i][1];
        ConvBench c;
        conv_shape_init(&c.s, batch, C, H, H, C, 3, 1, 1, (size_t)1 << 20);
        long nact = (long)C * batch * H * H, nw = (long)C * C * 9;
        c.in = filled(nact, 0.1f), c.out = filled(nact, 0.1f), c.din = filled(nact, 0);
        c.w = filled(nw, 0.05f), c.dw = filled(nw, 0);
        c.col = xalloc_aligned(sizeof(float) * conv_col_floats(&c.s));
        double flops = 2.0 * nw * H * H * batch; // one pass: forward, or one gradient
        double t[3];
        for (c.which = 0; c.which < 3; c.which++) {
            t[c.which] = bench_seconds_per_call(conv_call, &c, seconds);
            double gf = flops * (c.which == 2 ? 2 : 1) / t[c.which] / 1e9;
            printf("conv_c%d_%dx%d_%s_gflops: %.1f (%.0f%% of sgemm, %.0f%% of FMA peak)\n", C, H, H, what[c.which], gf,
                   100 * gf / peak, 100 * gf / fma);
        }
        // The data gradient alone: both gradients' time less the weight gradient's (bwd counts
        // the flops of both, so its rate sits between the two).
        if (t[2] > t[1]) {
            double gf = flops / (t[2] - t[1]) / 1e9;
            printf("conv_c%d_%dx%d_dgrad_gflops: %.1f (%.0f%% of sgemm, %.0f%% of FMA peak; bwd less wgrad)\n", C, H, H,
                   gf, 100 * gf / peak, 100 * gf / fma);
        }
        free(c.in), free(c.out), free(c.din), free(c.w), free(c.dw), free(c.col);
        bench_layouts(&c.s, flops, seconds);
    }
}
