// bench_conv.c: the timer of `onecycle bench`, and `bench --layers`: GFLOP/s of each ResNet
// stage's 3x3 convolution (forward, weight gradient, data + weight gradient) next to
// OpenBLAS sgemm 2048^3 on the same threads, the ceiling plain GEMM gives on this machine.
#include "cmd.h"
#include "common.h"
#include "layers.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

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

static float *filled(long n, float v) {
    float *p = xalloc_aligned(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = v * (float)(i % 7 - 3);
    return p;
}

void bench_conv_stages(int batch, double seconds) {
    GemmBench g = {.n = 2048};
    long nn = (long)g.n * g.n;
    g.a = filled(nn, 0.01f), g.b = filled(nn, 0.02f), g.c = filled(nn, 0);
    double peak = 2.0 * g.n * g.n * g.n / bench_seconds_per_call(gemm_call, &g, seconds) / 1e9;
    printf("sgemm_2048_gflops: %.1f\n", peak);
    free(g.a), free(g.b), free(g.c);
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
        for (c.which = 0; c.which < 3; c.which++) {
            double gf = flops * (c.which == 2 ? 2 : 1) / bench_seconds_per_call(conv_call, &c, seconds) / 1e9;
            printf("conv_c%d_%dx%d_%s_gflops: %.1f (%.0f%% of sgemm)\n", C, H, H, what[c.which], gf, 100 * gf / peak);
        }
        free(c.in), free(c.out), free(c.din), free(c.w), free(c.dw), free(c.col);
    }
}
