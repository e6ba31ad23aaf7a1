// test_layers.c: every layer's backward against central finite differences, conv_forward
// against a naive loop, the convolution workspace plan, ghost batch-norm against each of
// its runs alone, and a convolution bias folded into the batchnorm after it.
//
// The probe loss is L = sum_i out[i] * r[i] with fixed random r, summed in double, so
// dL/dout = r and the analytic backward gets r as its incoming gradient. Central
// differences use the perturbation actually stored in float, (float)(p+h) - p.
//
// Tolerances: |fd - analytic| <= ATOL + RTOL * max|analytic| over the tensor. For the
// linear layers (conv, pool, shortcut, fc) central differences are exact up to float
// rounding of the forward, which with h = 1e-2 bounds the error near 1e-4 on gradients of
// order 1; nonlinear layers (BN, softmax) add an O(h^2) truncation term, small at h = 1e-2.
// RTOL = 2e-3 leaves a 10x margin over what we measured and still catches any wrong index,
// missed term or wrong scale (those are off by O(1)).
#include "fixture.h"
#include "conv.h"
#include "layers.h"
#include "rng.h"
#include "test.h"
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

#define RTOL 2e-3
#define ATOL 1e-4

static Rng rng;

static float *rnd(long n, double scale) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) p[i] = (float)(scale * rng_normal(&rng));
    return p;
}

// The layer under test: recompute ctx's output into out.
typedef void (*ForwardFn)(void *ctx, float *out);

static double probe(ForwardFn f, void *ctx, float *out, const float *r, long nout) {
    f(ctx, out);
    double s = 0;
    for (long i = 0; i < nout; i++) s += (double)out[i] * r[i];
    return s;
}

// Compares analytic (np values) with central differences of the probe loss over param.
// At most `limit` entries are probed (evenly spaced) to keep big tensors cheap.
static void check_grad(const char *what, ForwardFn f, void *ctx, float *param, long np, const float *analytic,
                       const float *r, long nout, double h, long limit) {
    float *out = malloc(sizeof(float) * (size_t)nout);
    double amax = 0, worst = 0;
    long worst_i = -1, step = np > limit ? np / limit : 1;
    for (long i = 0; i < np; i++)
        if (fabs(analytic[i]) > amax) amax = fabs(analytic[i]);
    for (long i = 0; i < np; i += step) {
        float p = param[i];
        param[i] = (float)(p + h);
        double hp = (double)param[i] - p, lp = probe(f, ctx, out, r, nout);
        param[i] = (float)(p - h);
        double hm = p - (double)param[i], lm = probe(f, ctx, out, r, nout);
        param[i] = p;
        double fd = (lp - lm) / (hp + hm), d = fabs(fd - analytic[i]);
        if (!(d <= worst)) {
            worst = d;
            worst_i = i;
        }
    }
    double tol = ATOL + RTOL * amax;
    CHECK_MSG(worst <= tol, "%s: %s: worst |fd - analytic| %.3g at %ld > %.3g (max |grad| %.3g)", test_current, what,
              worst, worst_i, tol, amax);
    free(out);
}

// ---- convolution ----------------------------------------------------------------------

typedef struct ConvCase {
    ConvShape s;
    float *in, *w, *col;
} ConvCase;

static void conv_fn(void *ctx, float *out) {
    ConvCase *c = ctx;
    conv_forward(out, c->in, c->w, &c->s, c->col);
}

// Double-precision reference convolution in the CBHW layout.
static void conv_naive(double *out, const float *in, const float *w, const ConvShape *s) {
    for (int co = 0; co < s->Cout; co++)
        for (int b = 0; b < s->B; b++)
            for (int yo = 0; yo < s->Ho; yo++)
                for (int xo = 0; xo < s->Wo; xo++) {
                    double acc = 0;
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int ky = 0; ky < s->k; ky++)
                            for (int kx = 0; kx < s->k; kx++) {
                                int yi = yo * s->stride + ky - s->pad, xi = xo * s->stride + kx - s->pad;
                                if (yi < 0 || yi >= s->H || xi < 0 || xi >= s->W) continue;
                                acc += (double)in[(((long)ci * s->B + b) * s->H + yi) * s->W + xi] *
                                       w[((co * s->Cin + ci) * s->k + ky) * s->k + kx];
                            }
                    out[(((long)co * s->B + b) * s->Ho + yo) * s->Wo + xo] = acc;
                }
}

// chunk_imgs: images per im2col chunk wanted (0: the whole batch in one chunk).
static void conv_case(int B, int Cin, int H, int Cout, int k, int stride, int chunk_imgs) {
    char name[96];
    snprintf(name, sizeof name, "conv %dx%d s%d B%d Cin%d H%d Cout%d chunk%d threads%d", k, k, stride, B, Cin, H,
             Cout, chunk_imgs, omp_get_max_threads());
    test_begin(name);
    ConvCase c;
    int pad = (k - 1) / 2, Ho = (H + 2 * pad - k) / stride + 1; // the model's conv_pad: 2x2 has none
    size_t per_image = (size_t)Cin * k * k * Ho * Ho;
    conv_shape_init(&c.s, B, Cin, H, H, Cout, k, stride, pad, chunk_imgs ? per_image * chunk_imgs : (size_t)1 << 30);
    // One thread takes the chunk asked for; more threads may get smaller, balanced chunks.
    if (omp_get_max_threads() == 1)
        CHECK_EQ_INT(c.s.chunk, chunk_imgs ? chunk_imgs : B);
    else
        CHECK(c.s.chunk >= 1 && c.s.chunk <= (chunk_imgs ? chunk_imgs : B));
    CHECK_EQ_INT(c.s.Ho, Ho);
    long nin = (long)Cin * B * H * H, nw = (long)Cout * Cin * k * k, nout = (long)Cout * B * Ho * Ho;
    c.in = rnd(nin, 1.0);
    c.w = rnd(nw, 0.5);
    c.col = malloc(sizeof(float) * conv_col_floats(&c.s));
    float *out = rnd(nout, 1.0), *r = rnd(nout, 1.0), *din = rnd(nin, 1.0), *dw = rnd(nw, 1.0);
    double *ref = malloc(sizeof(double) * (size_t)nout);

    // Forward against the naive loop: float32 sums of Cin*k*k products.
    conv_fn(&c, out);
    conv_naive(ref, c.in, c.w, &c.s);
    double md = 0, mx = 0;
    for (long i = 0; i < nout; i++) {
        md = fmax(md, fabs(out[i] - ref[i]));
        mx = fmax(mx, fabs(ref[i]));
    }
    CHECK_MSG(md <= 1e-5 * mx, "%s: forward vs naive: max diff %.3g (max |out| %.3g)", name, md, mx);

    conv_backward(din, dw, r, c.in, c.w, &c.s, c.col);
    check_grad("dw", conv_fn, &c, c.w, nw, dw, r, nout, 1e-2, 400);
    check_grad("din", conv_fn, &c, c.in, nin, din, r, nout, 1e-2, 400);
    // din == NULL computes the weight gradient alone, and the same one to rounding: with 3
    // input channels the data gradient sends both to GEMM, the weights alone go to
    // F(4x4, 3x3) (2e-5, test_winograd4.c).
    float *dw2 = rnd(nw, 1.0);
    conv_backward(NULL, dw2, r, c.in, c.w, &c.s, c.col);
    CHECK_MSG(max_rel_diff(dw2, dw, nw) <= 2e-5, "%s: dw without din differs: %.3g", name, max_rel_diff(dw2, dw, nw));
    free(dw2);
    free(c.in);
    free(c.w);
    free(c.col);
    free(out);
    free(r);
    free(din);
    free(dw);
    free(ref);
}

// ---- batchnorm (+ residual, ReLU) -------------------------------------------------------

typedef struct BnCase {
    BnArgs a;
    float *x, *res, *gamma, *beta, *mean, *rstd, *rm, *rv;
} BnCase;

static void bn_fn(void *ctx, float *out) {
    BnCase *c = ctx;
    bn_forward(out, c->x, c->res, c->gamma, c->beta, c->mean, c->rstd, c->rm, c->rv, &c->a);
}

// The training backward of bn_forward: dy -> dx, dres, dgamma, dbeta. The in-place form
// (dres == dy, as resnet.c uses it) must give the same dres.
static void bn_layer_backward(BnCase *c, float *dx, float *dres, float *dgamma, float *dbeta, const float *dy,
                              const float *y) {
    bn_backward(dx, dres, dgamma, dbeta, dy, y, c->x, c->gamma, c->mean, c->rstd, &c->a);
    if (!dres) return;
    long n = (long)c->a.C * c->a.N;
    float *g = malloc(sizeof(float) * (size_t)n), *dx2 = malloc(sizeof(float) * (size_t)n), dg[64], db[64];
    memcpy(g, dy, sizeof(float) * (size_t)n);
    bn_backward(dx2, g, dg, db, g, y, c->x, c->gamma, c->mean, c->rstd, &c->a);
    CHECK_MSG(max_rel_diff(g, dres, n) == 0 && max_rel_diff(dx2, dx, n) == 0, "%s: in-place dres differs",
              test_current);
    free(g);
    free(dx2);
}

// Smallest |pre-activation| of the ReLU, for inputs kept away from its kink.
static double bn_margin(BnCase *c, float *pre) {
    BnArgs a = c->a;
    a.relu = 0;
    bn_forward(pre, c->x, c->res, c->gamma, c->beta, c->mean, c->rstd, c->rm, c->rv, &a);
    double m = 1e30;
    for (long i = 0; i < (long)a.C * a.N; i++) m = fmin(m, fabs(pre[i]));
    return m;
}

static void bn_case(int C, long N, int with_res, int relu) {
    char name[64];
    snprintf(name, sizeof name, "bn train C%d N%ld res%d relu%d", C, N, with_res, relu);
    test_begin(name);
    BnCase c = {.a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1}};
    long n = (long)C * N;
    c.x = rnd(n, 1.5);
    for (long i = 0; i < n; i++) c.x[i] += 0.3f; // a nonzero mean
    c.res = with_res ? rnd(n, 1.0) : NULL;
    c.gamma = rnd(C, 0.5);
    c.beta = rnd(C, 0.5);
    for (int i = 0; i < C; i++) c.gamma[i] += 1.0f;
    c.mean = rnd(C, 1);
    c.rstd = rnd(C, 1);
    c.rm = rnd(C, 1);
    c.rv = rnd(C, 1);
    for (int i = 0; i < C; i++) c.rv[i] = 1.0f + fabsf(c.rv[i]);
    float *y = rnd(n, 1), *r = rnd(n, 1), *dx = rnd(n, 1), *dres = rnd(n, 1), *dg = rnd(C, 1), *db = rnd(C, 1);
    if (relu) {
        // Push pre-activations at least 0.05 from the kink: the probe moves them by
        // about h * gamma * rstd, far less. x moves the batch statistics, so iterate.
        for (int it = 0; it < 50 && bn_margin(&c, y) < 0.05; it++)
            for (long i = 0; i < n; i++)
                if (fabsf(y[i]) < 0.05f) {
                    float push = y[i] >= 0 ? 0.2f : -0.2f;
                    if (c.res)
                        c.res[i] += push;
                    else
                        c.x[i] += push / (c.gamma[i / N] * c.rstd[i / N]);
                }
        CHECK_MSG(bn_margin(&c, y) >= 0.05, "%s: could not move inputs off the ReLU kink", name);
    }
    bn_fn(&c, y);
    bn_layer_backward(&c, dx, c.res ? dres : NULL, dg, db, r, y);
    check_grad("dx", bn_fn, &c, c.x, n, dx, r, n, 1e-2, 300);
    check_grad("dgamma", bn_fn, &c, c.gamma, C, dg, r, n, 1e-2, 100);
    check_grad("dbeta", bn_fn, &c, c.beta, C, db, r, n, 1e-2, 100);
    if (c.res) check_grad("dres", bn_fn, &c, c.res, n, dres, r, n, 1e-2, 300);

    // Running statistics: PyTorch's update, unbiased variance.
    float rm0 = 0.25f, rv0 = 2.0f;
    for (int i = 0; i < C; i++) {
        c.rm[i] = rm0;
        c.rv[i] = rv0;
    }
    bn_fn(&c, y);
    double mu = 0, var = 0;
    for (long i = 0; i < N; i++) mu += c.x[i];
    mu /= N;
    for (long i = 0; i < N; i++) var += (c.x[i] - mu) * (c.x[i] - mu);
    CHECK_CLOSE(c.mean[0], mu, 1e-6, 1e-5);
    CHECK_CLOSE(c.rstd[0], 1 / sqrt(var / N + 1e-5), 1e-6, 1e-5);
    CHECK_CLOSE(c.rm[0], 0.9 * rm0 + 0.1 * mu, 1e-6, 1e-5);
    CHECK_CLOSE(c.rv[0], 0.9 * rv0 + 0.1 * var / (N - 1), 1e-6, 1e-5);

    free(c.x);
    free(c.res);
    free(c.gamma);
    free(c.beta);
    free(c.mean);
    free(c.rstd);
    free(c.rm);
    free(c.rv);
    free(y);
    free(r);
    free(dx);
    free(dres);
    free(dg);
    free(db);
}

// Evaluation mode normalises with the running statistics.
static void bn_eval_case(void) {
    test_begin("bn eval");
    const int C = 2;
    const long N = 5;
    float x[10], y[10], g[2] = {1.5f, 0.5f}, b[2] = {0.1f, -0.2f}, rm[2] = {0.3f, -1.0f}, rv[2] = {4.0f, 0.25f};
    float mean[2] = {0}, rstd[2] = {0};
    for (int i = 0; i < 10; i++) x[i] = (float)(i - 4) * 0.7f;
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = 1, .train = 0};
    bn_forward(y, x, NULL, g, b, mean, rstd, rm, rv, &a);
    for (int i = 0; i < 10; i++) {
        int c = i / 5;
        double want = fmax(0.0, g[c] * (x[i] - rm[c]) / sqrt(rv[c] + 1e-5) + b[c]);
        CHECK_CLOSE(y[i], want, 1e-6, 1e-5);
    }
    CHECK(rm[0] == 0.3f && rv[1] == 0.25f); // untouched
}

// ---- ReLU, shortcut A, pool, fc, loss ---------------------------------------------------

typedef struct Simple {
    float *x, *w, *bias;
    int a, b, c, d, e; // shapes, per layer
} Simple;

static void relu_fn(void *ctx, float *out) {
    Simple *s = ctx;
    for (int i = 0; i < s->a; i++) out[i] = fmaxf(s->x[i], 0.0f);
}

static void relu_case(void) {
    test_begin("relu mask");
    const int n = 200;
    Simple s = {.x = rnd(n, 1.0), .a = n};
    for (int i = 0; i < n; i++) s.x[i] += s.x[i] >= 0 ? 0.1f : -0.1f; // away from the kink
    float *y = rnd(n, 1), *r = rnd(n, 1), *g = rnd(n, 1);
    relu_fn(&s, y);
    memcpy(g, r, sizeof(float) * n);
    relu_mask(g, y, n);
    check_grad("dx", relu_fn, &s, s.x, n, g, r, n, 1e-2, n);
    free(s.x);
    free(y);
    free(r);
    free(g);
}

static void shortcut_fn(void *ctx, float *out) {
    Simple *s = ctx;
    shortcut_a_forward(out, s->x, s->a, s->b, s->c, s->d, s->d);
}

// H odd: the output is ceil(H/2) wide, as x[:, :, ::2, ::2] (a 28x28 input's 7x7 stage).
static void shortcut_case(int H) {
    char name[40];
    snprintf(name, sizeof name, "shortcut A, %dx%d", H, H);
    test_begin(name);
    Simple s = {.a = 4, .b = 8, .c = 3, .d = H}; // Cin, Cout, B, H
    const int Ho = (H + 1) / 2;
    long nin = 4L * 3 * H * H, nout = 8L * 3 * Ho * Ho;
    s.x = rnd(nin, 1.0);
    float *r = rnd(nout, 1), *din = rnd(nin, 1), *out = rnd(nout, 1);
    memset(din, 0, sizeof(float) * nin);
    shortcut_a_backward_acc(din, r, s.a, s.b, s.c, s.d, s.d);
    check_grad("dx", shortcut_fn, &s, s.x, nin, din, r, nout, 1e-2, nin);
    // "acc": adds to what is there.
    float *din2 = rnd(nin, 1), *base = malloc(sizeof(float) * nin);
    memcpy(base, din2, sizeof(float) * nin);
    shortcut_a_backward_acc(din2, r, s.a, s.b, s.c, s.d, s.d);
    double md = 0;
    for (long i = 0; i < nin; i++) md = fmax(md, fabs(din2[i] - base[i] - din[i]));
    CHECK_MSG(md < 1e-6, "shortcut_a_backward_acc does not accumulate (%.3g)", md);
    // The padded channels are zero.
    shortcut_fn(&s, out);
    double pad = 0;
    for (long i = 0; i < 2L * 3 * Ho * Ho; i++) pad = fmax(pad, fabs(out[i]) + fabs(out[nout - 1 - i]));
    CHECK(pad == 0);
    // Output pixel (y, x) of channel 2 + ci is input pixel (2y, 2x) of channel ci.
    long last_in = (((long)3 * 3 - 1) * H + 2 * (Ho - 1)) * H + 2 * (Ho - 1); // ci 2, b 2
    long last_out = (((long)5 * 3 - 1) * Ho + Ho - 1) * Ho + Ho - 1;          // c 4, b 2
    CHECK(out[last_out] == s.x[last_in]);
    free(s.x);
    free(r);
    free(din);
    free(out);
    free(din2);
    free(base);
}

static void pool_fn(void *ctx, float *out) {
    Simple *s = ctx;
    avgpool_forward(out, s->x, s->a, s->b, s->c);
}

static void pool_case(void) {
    test_begin("avgpool");
    Simple s = {.a = 5, .b = 3, .c = 16}; // C, B, HW
    long nin = 5L * 3 * 16, nout = 15;
    s.x = rnd(nin, 1.0);
    float *r = rnd(nout, 1), *din = rnd(nin, 1);
    avgpool_backward(din, r, s.a, s.b, s.c);
    check_grad("dx", pool_fn, &s, s.x, nin, din, r, nout, 1e-2, nin);
    free(s.x);
    free(r);
    free(din);
}

static void fc_fn(void *ctx, float *out) {
    Simple *s = ctx;
    fc_forward(out, s->x, s->w, s->bias, s->a, s->b, s->c);
}

static void fc_case(void) {
    test_begin("fc");
    Simple s = {.a = 4, .b = 7, .c = 5}; // B, Din, Dout
    s.x = rnd(28, 1.0);
    s.w = rnd(35, 1.0);
    s.bias = rnd(5, 1.0);
    float *r = rnd(20, 1), *din = rnd(28, 1), *dw = rnd(35, 1), *db = rnd(5, 1);
    fc_backward(din, dw, db, r, s.x, s.w, s.a, s.b, s.c);
    check_grad("din", fc_fn, &s, s.x, 28, din, r, 20, 1e-2, 28);
    check_grad("dw", fc_fn, &s, s.w, 35, dw, r, 20, 1e-2, 35);
    check_grad("dbias", fc_fn, &s, s.bias, 5, db, r, 20, 1e-2, 5);
    free(s.x);
    free(s.w);
    free(s.bias);
    free(r);
    free(din);
    free(dw);
    free(db);
}

static const int ce_labels[4] = {3, 0, 4, 3};

static void ce_fn(void *ctx, float *out) {
    Simple *s = ctx;
    out[0] = (float)softmax_ce(NULL, s->x, ce_labels, s->a, s->a, s->b, NULL);
}

static void ce_case(void) {
    test_begin("softmax cross-entropy");
    Simple s = {.a = 4, .b = 6}; // B, K
    s.x = rnd(24, 2.0);
    float one = 1.0f, *dl = rnd(24, 1);
    int hits = -1;
    double loss = softmax_ce(dl, s.x, ce_labels, s.a, s.a, s.b, &hits);
    check_grad("dlogits", ce_fn, &s, s.x, 24, dl, &one, 1, 1e-2, 24);
    // The loss itself and the hit count, in double.
    double want = 0;
    int want_hits = 0;
    for (int b = 0; b < 4; b++) {
        double se = 0;
        int arg = 0;
        for (int k = 0; k < 6; k++) {
            se += exp(s.x[b * 6 + k]);
            if (s.x[b * 6 + k] > s.x[b * 6 + arg]) arg = k;
        }
        want += (log(se) - s.x[b * 6 + ce_labels[b]]) / 4;
        want_hits += arg == ce_labels[b];
    }
    CHECK_CLOSE(loss, want, 1e-9, 1e-9);
    CHECK_EQ_INT(hits, want_hits);
    free(s.x);
    free(dl);
}

// ---- the whole network --------------------------------------------------------------------

// Regression: the workspace planned for the largest batch must fit every smaller batch (the
// partial last batch, evaluation). It did not: ResNet-20's stage-2 conv at 2 threads put
// 128 images in chunks of 13 but 80 in chunks of 14, and the full CIFAR-10 run overran the
// im2col buffer on its last batch of 80 ("munmap_chunk(): invalid pointer" at exit).
static void workspace_case(void) {
    test_begin("conv workspace for the largest batch fits every smaller batch");
    static const int shapes[][4] = {{3, 32, 16, 1}, {16, 32, 16, 1}, {16, 32, 32, 2}, {32, 16, 32, 1},
                                    {32, 16, 64, 2}, {64, 8, 64, 1}};
    const size_t budgets[] = {(size_t)1 << 18, (size_t)1 << 20, (size_t)1 << 22};
    int threads0 = omp_get_max_threads(), bad = 0;
    for (int t = 1; t <= 4; t++) {
        omp_set_num_threads(t);
        for (int i = 0; i < 6; i++)
            for (int bi = 0; bi < 3; bi++) {
                ConvShape big, small;
                const int *sh = shapes[i];
                conv_shape_init(&big, 512, sh[0], sh[1], sh[1], sh[2], 3, sh[3], 1, budgets[bi]);
                for (int B = 1; B <= 512; B++) {
                    conv_shape_init(&small, B, sh[0], sh[1], sh[1], sh[2], 3, sh[3], 1, budgets[bi]);
                    if (conv_col_floats(&small) > conv_col_floats(&big) || small.chunk > small.chunk_cap) bad++;
                }
            }
    }
    omp_set_num_threads(threads0);
    CHECK_MSG(bad == 0, "%d (threads, shape, budget, batch) cases need more workspace than the largest batch", bad);
}

// ---- batchnorm synchronised across processes (BnArgs.sync, train.sync_bn) ---------------

// Two "processes" as two threads: each sum hands over its buffer, waits for the other's,
// and both get the total, as MPI_Allreduce does.
enum { SIM_MAXC = 8 };
static pthread_barrier_t sim_barrier;
static double *sim_slot[2];
static __thread int sim_rank;

static void sim_sum(double *v, long n) {
    double total[2 * SIM_MAXC + 1];
    sim_slot[sim_rank] = v;
    pthread_barrier_wait(&sim_barrier);
    for (long i = 0; i < n; i++) total[i] = sim_slot[0][i] + sim_slot[1][i];
    pthread_barrier_wait(&sim_barrier);
    memcpy(v, total, sizeof(double) * (size_t)n);
}

static void one_sum(double *v, long n) { // one process: nothing to add
    (void)v;
    (void)n;
}

typedef struct BnPart {
    int rank, C;
    long N;
    float *x, *dy, *y, *dx, *gamma, *beta, *mean, *rstd, *rm, *rv, *dg, *db;
    double buf[2 * SIM_MAXC + 1];
} BnPart;

static void *bn_part_run(void *arg) {
    BnPart *p = arg;
    sim_rank = p->rank;
    BnSync sync = {sim_sum, p->buf};
    BnArgs a = {.C = p->C, .N = p->N, .eps = 1e-5f, .momentum = 0.1f, .relu = 1, .train = 1, .sync = &sync};
    bn_forward(p->y, p->x, NULL, p->gamma, p->beta, p->mean, p->rstd, p->rm, p->rv, &a);
    bn_backward(p->dx, NULL, p->dg, p->db, p->dy, p->y, p->x, p->gamma, p->mean, p->rstd, &a);
    return NULL;
}

// A batch split unevenly between two processes with synchronised statistics gives what the
// whole batch gives in one process (to float summation order), and a sync with one process
// gives exactly the unsynced result.
static void bn_shares_check(int C, long N0, long N1, long hw, BnPart part[2]);

static void bn_sync_case(int C, long N0, long N1, long hw) {
    test_begin("bn sync: two processes' parts of a batch train as the whole batch");
    const long N = N0 + N1;
    float *x = rnd((long)C * N, 1.2), *dy = rnd((long)C * N, 1.0), *gamma = rnd(C, 0.5), *beta = rnd(C, 0.5);
    for (long i = 0; i < (long)C * N; i++) x[i] += 0.7f;
    float *y = malloc(sizeof(float) * (size_t)(C * N)), *dx = malloc(sizeof(float) * (size_t)(C * N));
    float mean[SIM_MAXC], rstd[SIM_MAXC], rm[SIM_MAXC] = {0}, rv[SIM_MAXC], dg[SIM_MAXC], db[SIM_MAXC];
    for (int c = 0; c < C; c++) rv[c] = 1;
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = 1, .train = 1};
    bn_forward(y, x, NULL, gamma, beta, mean, rstd, rm, rv, &a);
    bn_backward(dx, NULL, dg, db, dy, y, x, gamma, mean, rstd, &a);

    BnPart part[2];
    pthread_t th[2];
    pthread_barrier_init(&sim_barrier, NULL, 2);
    for (int r = 0; r < 2; r++) {
        long n = r ? N1 : N0, off = r ? N0 : 0;
        BnPart *p = &part[r];
        *p = (BnPart){.rank = r, .C = C, .N = n, .gamma = gamma, .beta = beta};
        float **bufs[] = {&p->x, &p->dy, &p->y, &p->dx};
        for (int k = 0; k < 4; k++) *bufs[k] = malloc(sizeof(float) * (size_t)(C * n));
        for (int k = 0; k < 6; k++) {
            float **v[] = {&p->mean, &p->rstd, &p->rm, &p->rv, &p->dg, &p->db};
            *v[k] = calloc(SIM_MAXC, sizeof(float));
        }
        for (int c = 0; c < C; c++) {
            p->rv[c] = 1;
            memcpy(p->x + c * n, x + c * N + off, sizeof(float) * (size_t)n);
            memcpy(p->dy + c * n, dy + c * N + off, sizeof(float) * (size_t)n);
        }
        pthread_create(&th[r], NULL, bn_part_run, p);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&sim_barrier);
    double worst = 0;
    for (int r = 0; r < 2; r++) {
        long n = r ? N1 : N0, off = r ? N0 : 0;
        for (int c = 0; c < C; c++) {
            worst = fmax(worst, max_rel_diff(part[r].y + c * n, y + c * N + off, n));
            worst = fmax(worst, max_rel_diff(part[r].dx + c * n, dx + c * N + off, n));
        }
        worst = fmax(worst, max_rel_diff(part[r].mean, mean, C));
        worst = fmax(worst, max_rel_diff(part[r].rstd, rstd, C));
        worst = fmax(worst, max_rel_diff(part[r].rm, rm, C));
        worst = fmax(worst, max_rel_diff(part[r].rv, rv, C));
    }
    float sg[SIM_MAXC], sb[SIM_MAXC];
    for (int c = 0; c < C; c++) {
        sg[c] = part[0].dg[c] + part[1].dg[c]; // what the gradient sum across processes adds
        sb[c] = part[0].db[c] + part[1].db[c];
    }
    worst = fmax(worst, fmax(max_rel_diff(sg, dg, C), max_rel_diff(sb, db, C)));
    CHECK_MSG(worst <= 1e-5, "largest relative difference %g", worst);
    // One process through the synchronised path: the same bits as the plain one.
    float *y1 = malloc(sizeof(float) * (size_t)(C * N)), *dx1 = malloc(sizeof(float) * (size_t)(C * N));
    float mean1[SIM_MAXC], rstd1[SIM_MAXC], rm1[SIM_MAXC] = {0}, rv1[SIM_MAXC], dg1[SIM_MAXC], db1[SIM_MAXC];
    for (int c = 0; c < C; c++) rv1[c] = 1;
    double buf[2 * SIM_MAXC + 1];
    BnSync one = {one_sum, buf};
    a.sync = &one;
    bn_forward(y1, x, NULL, gamma, beta, mean1, rstd1, rm1, rv1, &a);
    bn_backward(dx1, NULL, dg1, db1, dy, y1, x, gamma, mean1, rstd1, &a);
    CHECK(!memcmp(y1, y, sizeof(float) * (size_t)(C * N)) && !memcmp(dx1, dx, sizeof(float) * (size_t)(C * N)));
    CHECK(!memcmp(rm1, rm, sizeof(float) * (size_t)C) && !memcmp(rv1, rv, sizeof(float) * (size_t)C) &&
          !memcmp(dg1, dg, sizeof(float) * (size_t)C) && !memcmp(db1, db, sizeof(float) * (size_t)C));
    bn_shares_check(C, N0, N1, hw, part);
    for (int r = 0; r < 2; r++) {
        float *v[] = {part[r].x, part[r].dy, part[r].y, part[r].dx, part[r].mean, part[r].rstd,
                      part[r].rm, part[r].rv, part[r].dg, part[r].db};
        for (int k = 0; k < 10; k++) free(v[k]);
    }
    free(x), free(dy), free(gamma), free(beta), free(y), free(dx), free(y1), free(dx1);
}

// The same two parts as 2 shares of one process (BnArgs.shares: the parts side by side, no
// sync): every output bit for bit what the two processes computed, dgamma and dbeta the sum
// of the shares' blocks as the gradient sum across the processes adds them.
static void bn_shares_check(int C, long N0, long N1, long hw, BnPart part[2]) {
    test_begin("bn shares: 2 shares of one process compute what 2 synchronised processes compute, bit for bit");
    const long n = (long)C * (N0 + N1);
    float *x = malloc(sizeof(float) * (size_t)n), *dy = malloc(sizeof(float) * (size_t)n);
    float *y = malloc(sizeof(float) * (size_t)n), *dx = malloc(sizeof(float) * (size_t)n);
    memcpy(x, part[0].x, sizeof(float) * (size_t)(C * N0));
    memcpy(x + C * N0, part[1].x, sizeof(float) * (size_t)(C * N1));
    memcpy(dy, part[0].dy, sizeof(float) * (size_t)(C * N0));
    memcpy(dy + C * N0, part[1].dy, sizeof(float) * (size_t)(C * N1));
    float mean[SIM_MAXC], rstd[SIM_MAXC], rm[SIM_MAXC] = {0}, rv[SIM_MAXC], dg[2 * SIM_MAXC], db[2 * SIM_MAXC];
    for (int c = 0; c < C; c++) rv[c] = 1;
    const int lo[3] = {0, (int)(N0 / hw), (int)((N0 + N1) / hw)};
    double parts[2 * (2 * SIM_MAXC + 1)];
    BnArgs a = {.C = C, .N = N0 + N1, .eps = 1e-5f, .momentum = 0.1f, .relu = 1, .train = 1, .shares = 2,
                .share_lo = lo, .hw = hw, .parts = parts, .grad_stride = SIM_MAXC};
    bn_forward(y, x, NULL, part[0].gamma, part[0].beta, mean, rstd, rm, rv, &a);
    bn_backward(dx, NULL, dg, db, dy, y, x, part[0].gamma, mean, rstd, &a);
    int same = 1;
    for (int r = 0; r < 2; r++) {
        const long off = r ? C * N0 : 0, len = C * (r ? N1 : N0);
        same &= !memcmp(y + off, part[r].y, sizeof(float) * (size_t)len);
        same &= !memcmp(dx + off, part[r].dx, sizeof(float) * (size_t)len);
    }
    CHECK_MSG(same, "y or dx differ from the 2 processes'");
    CHECK(!memcmp(mean, part[0].mean, sizeof(float) * (size_t)C) && !memcmp(rstd, part[0].rstd, sizeof(float) * (size_t)C));
    CHECK(!memcmp(rm, part[0].rm, sizeof(float) * (size_t)C) && !memcmp(rv, part[0].rv, sizeof(float) * (size_t)C));
    float sg[SIM_MAXC], sb[SIM_MAXC];
    for (int c = 0; c < C; c++) {
        sg[c] = part[0].dg[c] + part[1].dg[c];
        sb[c] = part[0].db[c] + part[1].db[c];
        dg[c] += dg[SIM_MAXC + c]; // what the tree of 2 shares adds (shares.h)
        db[c] += db[SIM_MAXC + c];
    }
    CHECK(!memcmp(dg, sg, sizeof(float) * (size_t)C) && !memcmp(db, sb, sizeof(float) * (size_t)C));
    free(x), free(dy), free(y), free(dx);
}

// ---- ghost batch-norm (BnArgs.group) and a folded convolution bias (BnArgs.in_bias) --------

static float *copy_of(const float *x, long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    memcpy(p, x, sizeof(float) * (size_t)n);
    return p;
}

// Runs of `group` of a channel's N values (the last shorter when group does not divide N)
// give, run by run, what bn_forward and bn_backward give on that run alone: the same code on
// the same floats, so y, dx, dres and the saved statistics match bit for bit; dgamma and
// dbeta are the runs' sums and the running statistics take the runs' averages (to
// rounding). group >= N is the whole-batch path, bit for bit.
static void bn_group_case(int C, long N, long group, int with_res, int relu) {
    char name[96];
    snprintf(name, sizeof name, "bn ghost: C%d N%ld in runs of %ld, res%d relu%d", C, N, group, with_res, relu);
    test_begin(name);
    const long n = (long)C * N, G = bn_groups(N, group);
    CHECK_EQ_INT(G, (N + group - 1) / group);
    float *x = rnd(n, 1.3), *res = with_res ? rnd(n, 1.0) : NULL, *dy = rnd(n, 1.0), *gamma = rnd(C, 0.3),
          *beta = rnd(C, 0.3);
    for (long i = 0; i < n; i++) x[i] += 0.4f + 0.1f * (float)((i % N) / group); // each run its own mean
    for (int c = 0; c < C; c++) gamma[c] += 1.0f;
    float *y = malloc(sizeof(float) * (size_t)n), *dx = malloc(sizeof(float) * (size_t)n),
          *dres = malloc(sizeof(float) * (size_t)n), *mean = malloc(sizeof(float) * (size_t)(C * G)),
          *rstd = malloc(sizeof(float) * (size_t)(C * G)), *rm = malloc(sizeof(float) * (size_t)C),
          *rv = malloc(sizeof(float) * (size_t)C), *dg = malloc(sizeof(float) * (size_t)C),
          *db = malloc(sizeof(float) * (size_t)C);
    for (int c = 0; c < C; c++) rm[c] = 0.2f, rv[c] = 1.5f;
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1, .group = group};
    bn_forward(y, x, res, gamma, beta, mean, rstd, rm, rv, &a);
    bn_backward(dx, res ? dres : NULL, dg, db, dy, y, x, gamma, mean, rstd, &a);
    int same = 1;
    double worst;
    float *sg = calloc((size_t)C, sizeof(float)), *sb = calloc((size_t)C, sizeof(float)),
          *srm = calloc((size_t)C, sizeof(float)), *srv = calloc((size_t)C, sizeof(float));
    for (long g = 0; g < G; g++) {
        const long m = N - g * group < group ? N - g * group : group;
        float *xg = malloc(sizeof(float) * (size_t)(C * m)), *rg = res ? malloc(sizeof(float) * (size_t)(C * m)) : NULL,
              *dyg = malloc(sizeof(float) * (size_t)(C * m)), *yg = malloc(sizeof(float) * (size_t)(C * m)),
              *dxg = malloc(sizeof(float) * (size_t)(C * m)), *drg = malloc(sizeof(float) * (size_t)(C * m)),
              *mg = malloc(sizeof(float) * (size_t)C), *rsg = malloc(sizeof(float) * (size_t)C),
              *rmg = malloc(sizeof(float) * (size_t)C), *rvg = malloc(sizeof(float) * (size_t)C),
              *dgg = malloc(sizeof(float) * (size_t)C), *dbg = malloc(sizeof(float) * (size_t)C);
        for (int c = 0; c < C; c++) {
            memcpy(xg + c * m, x + c * N + g * group, sizeof(float) * (size_t)m);
            memcpy(dyg + c * m, dy + c * N + g * group, sizeof(float) * (size_t)m);
            if (rg) memcpy(rg + c * m, res + c * N + g * group, sizeof(float) * (size_t)m);
            rmg[c] = 0.2f, rvg[c] = 1.5f;
        }
        BnArgs ag = {.C = C, .N = m, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1};
        bn_forward(yg, xg, rg, gamma, beta, mg, rsg, rmg, rvg, &ag);
        bn_backward(dxg, rg ? drg : NULL, dgg, dbg, dyg, yg, xg, gamma, mg, rsg, &ag);
        for (int c = 0; c < C; c++) {
            const long o = c * N + g * group;
            same &= !memcmp(y + o, yg + c * m, sizeof(float) * (size_t)m) &&
                    !memcmp(dx + o, dxg + c * m, sizeof(float) * (size_t)m) &&
                    (!res || !memcmp(dres + o, drg + c * m, sizeof(float) * (size_t)m)) &&
                    mean[c * G + g] == mg[c] && rstd[c * G + g] == rsg[c];
            sg[c] += dgg[c], sb[c] += dbg[c], srm[c] += rmg[c] / (float)G, srv[c] += rvg[c] / (float)G;
        }
        float *all[] = {xg, rg, dyg, yg, dxg, drg, mg, rsg, rmg, rvg, dgg, dbg};
        for (int k = 0; k < 12; k++) free(all[k]);
    }
    CHECK_MSG(same, "%s: a run differs from bn_forward/bn_backward on it alone", name);
    worst = fmax(fmax(max_rel_diff(dg, sg, C), max_rel_diff(db, sb, C)),
                 fmax(max_rel_diff(rm, srm, C), max_rel_diff(rv, srv, C)));
    CHECK_MSG(worst <= 1e-5, "%s: dgamma, dbeta or running statistics off by %g", name, worst);

    // group >= N (and 0): the whole batch, bit for bit.
    float *y2 = malloc(sizeof(float) * (size_t)n), *dx2 = malloc(sizeof(float) * (size_t)n), m2[64], r2[64], rm2[64],
          rv2[64], dg2[64], db2[64], m3[64], r3[64], rm3[64], rv3[64], dg3[64], db3[64];
    float *y3 = malloc(sizeof(float) * (size_t)n), *dx3 = malloc(sizeof(float) * (size_t)n);
    for (int c = 0; c < C; c++) rm2[c] = rm3[c] = 0.2f, rv2[c] = rv3[c] = 1.5f;
    BnArgs whole = a, big = a;
    whole.group = 0, big.group = N;
    bn_forward(y2, x, res, gamma, beta, m2, r2, rm2, rv2, &whole);
    bn_backward(dx2, NULL, dg2, db2, dy, y2, x, gamma, m2, r2, &whole);
    bn_forward(y3, x, res, gamma, beta, m3, r3, rm3, rv3, &big);
    bn_backward(dx3, NULL, dg3, db3, dy, y3, x, gamma, m3, r3, &big);
    CHECK(!memcmp(y2, y3, sizeof(float) * (size_t)n) && !memcmp(dx2, dx3, sizeof(float) * (size_t)n));
    CHECK(!memcmp(m2, m3, sizeof(float) * (size_t)C) && !memcmp(r2, r3, sizeof(float) * (size_t)C) &&
          !memcmp(rm2, rm3, sizeof(float) * (size_t)C) && !memcmp(rv2, rv3, sizeof(float) * (size_t)C) &&
          !memcmp(dg2, dg3, sizeof(float) * (size_t)C) && !memcmp(db2, db3, sizeof(float) * (size_t)C));
    float *all[] = {x, res, dy, gamma, beta, y, dx, dres, mean, rstd, rm, rv,
                    dg, db, sg, sb, srm, srv, y2, dx2, y3, dx3};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
}

// A convolution bias b folded into the batchnorm that follows (BnArgs.in_bias): training
// output and backward bit for bit as without it (b cancels in x - mean), the running mean
// moved by momentum * b, and evaluation (bn_forward and bn_eval_affine) as the batchnorm of
// x + b.
static void bn_in_bias_case(void) {
    test_begin("bn with a folded convolution bias");
    const int C = 3;
    const long N = 40, n = C * N;
    float *x = rnd(n, 1.0), *gamma = rnd(C, 0.3), *beta = rnd(C, 0.3), *b = rnd(C, 0.7), *dy = rnd(n, 1.0);
    for (int c = 0; c < C; c++) gamma[c] += 1.0f;
    float y0[120], y1[120], dx0[120], dx1[120], m0[3], m1[3], r0[3], r1[3], rm0[3] = {0.1f, 0.2f, 0.3f},
          rv0[3] = {1, 2, 3}, rm1[3] = {0.1f, 0.2f, 0.3f}, rv1[3] = {1, 2, 3}, dg0[3], dg1[3], db0[3], db1[3];
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = 1, .train = 1};
    bn_forward(y0, x, NULL, gamma, beta, m0, r0, rm0, rv0, &a);
    bn_backward(dx0, NULL, dg0, db0, dy, y0, x, gamma, m0, r0, &a);
    a.in_bias = b;
    bn_forward(y1, x, NULL, gamma, beta, m1, r1, rm1, rv1, &a);
    bn_backward(dx1, NULL, dg1, db1, dy, y1, x, gamma, m1, r1, &a);
    CHECK(!memcmp(y0, y1, sizeof y0) && !memcmp(dx0, dx1, sizeof dx0) && !memcmp(dg0, dg1, sizeof dg0) &&
          !memcmp(db0, db1, sizeof db0) && !memcmp(rv0, rv1, sizeof rv0));
    for (int c = 0; c < C; c++) CHECK_CLOSE(rm1[c], rm0[c] + 0.1 * b[c], 1e-6, 1e-6);
    // Evaluation: y(x) with the bias folded = y(x + b) without it.
    float *xb = copy_of(x, n), ye0[120], ye1[120], scale[3], shift[3];
    for (long i = 0; i < n; i++) xb[i] += b[i / N];
    BnArgs e = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = 0, .train = 0};
    bn_forward(ye0, xb, NULL, gamma, beta, m0, r0, rm1, rv1, &e);
    e.in_bias = b;
    bn_forward(ye1, x, NULL, gamma, beta, m0, r0, rm1, rv1, &e);
    bn_eval_affine(scale, shift, gamma, beta, rm1, rv1, b, C, 1e-5f);
    for (long i = 0; i < n; i++) {
        CHECK_CLOSE(ye1[i], ye0[i], 1e-5, 1e-5);
        CHECK_CLOSE(x[i] * scale[i / N] + shift[i / N], ye0[i], 1e-5, 1e-5);
    }
    free(x), free(gamma), free(beta), free(b), free(dy), free(xb);
}

void suite_layers(void) {
    rng_seed(&rng, 12345);
    workspace_case();
    bn_sync_case(3, 700, 333, 1);                 // "images" of 1 value: shares at odd offsets
    bn_sync_case(SIM_MAXC, 64 * 64, 64 * 63, 64); // 64 and 63 images of 64 pixels
    // The batch dimension is folded into the GEMM in chunks of images: one chunk, several
    // even chunks, uneven chunks (the last one short) and one image per chunk.
    // Threads share the chunks, each with its own workspace and partial weight gradient:
    // 1 thread (chunks exactly as asked), 2, and 3 (more threads than some chunk counts).
    int threads0 = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        conv_case(3, 3, 6, 4, 3, 1, 0);
        conv_case(3, 3, 6, 4, 3, 1, 2);
        conv_case(4, 2, 6, 3, 3, 1, 1);
        conv_case(3, 4, 8, 6, 3, 2, 0);
        conv_case(3, 4, 8, 6, 3, 2, 2);
        conv_case(3, 4, 8, 8, 1, 2, 0);
        conv_case(5, 4, 8, 8, 1, 2, 2);
        conv_case(3, 4, 8, 6, 2, 2, 0); // caffe's 2x2 stride-2 projection, pad 0
        conv_case(5, 3, 8, 8, 2, 2, 2);
        conv_case(2, 16, 8, 32, 3, 2, 1);
        // 3x3 stride-1 shapes with whole 16-pixel vectors take the direct kernels of
        // conv3x3.c when built with AVX-512; check both paths by finite differences.
        for (int direct = 1; direct >= 0; direct--) {
            unsigned was = conv_set_kernels(direct ? CONV_KERNELS_DEFAULT : 0);
            conv_case(2, 16, 8, 16, 3, 1, 0); // 16 channels, 8x8 planes
            conv_case(3, 4, 16, 8, 3, 1, 1);
            conv_set_kernels(was);
        }
    }
    omp_set_num_threads(threads0);
    bn_case(3, 50, 0, 0);
    bn_case(3, 50, 0, 1);
    bn_case(3, 50, 1, 1);
    bn_case(2, 40, 1, 0);
    bn_eval_case();
    bn_group_case(3, 12 * 16, 4 * 16, 0, 1);  // 12 images of 16 pixels in runs of 4: 3 runs
    bn_group_case(2, 10 * 9, 4 * 9, 1, 1);    // 10 in runs of 4: 4 + 4 + 2, with a residual
    bn_group_case(4, 7 * 64, 3 * 64, 0, 0);   // 7 in runs of 3: 3 + 3 + 1, no ReLU
    bn_group_case(2, 6 * 64, 5 * 64, 1, 0);   // 6 in runs of 5: 5 + 1
    bn_in_bias_case();
    relu_case();
    shortcut_case(6);
    shortcut_case(7);
    pool_case();
    fc_case();
    ce_case();
}
