// test_conv3x3.c: the 3x3 kernels (Winograd forward, data and weight gradients, and the
// direct kernels with Winograd off) against a double-precision loop and
// against the GEMM path, which test_layers.c checks by finite differences, and conv_pick's
// choice of kernel. Shapes cover every ResNet plane width (32, 16, 8), a non-square plane,
// the 3-channel stem, odd batches, accumulation into din, and 1-3 threads.
#include "conv.h"
#include "fixture.h"
#include "layers.h"
#include "rng.h"
#include "test.h"
#include "testdata.h"
#include <omp.h>
#include <stdlib.h>

static Rng rng;

static float *rnd(long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = (float)rng_normal(&rng);
    return p;
}

static long at(const ConvShape *s, int c, int b, int y, int x) {
    return (((long)c * s->B + b) * s->H + y) * s->W + x;
}

// out, din, dw in double: forward, and the backward of the probe loss sum(out * g).
static void naive(double *out, double *din, double *dw, const float *in, const float *w, const float *g,
                  const ConvShape *s) {
    long nin = (long)s->Cin * s->B * s->H * s->W, nw = (long)s->Cout * s->Cin * 9;
    for (long i = 0; i < nin; i++) din[i] = 0;
    for (long i = 0; i < nw; i++) dw[i] = 0;
    for (int co = 0; co < s->Cout; co++)
        for (int b = 0; b < s->B; b++)
            for (int y = 0; y < s->H; y++)
                for (int x = 0; x < s->W; x++) {
                    double acc = 0, go = g[at(s, co, b, y, x)];
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int t = 0; t < 9; t++) {
                            int yi = y + t / 3 - 1, xi = x + t % 3 - 1;
                            if (yi < 0 || yi >= s->H || xi < 0 || xi >= s->W) continue;
                            long ii = at(s, ci, b, yi, xi), wi = ((long)co * s->Cin + ci) * 9 + t;
                            acc += (double)in[ii] * w[wi];
                            din[ii] += go * w[wi];
                            dw[wi] += go * in[ii];
                        }
                    out[at(s, co, b, y, x)] = acc;
                }
}

// Forward and backward (probe gradient g) through whichever path is enabled now.
static void run_both(float *out, float *din, float *dw, const float *in, const float *w, const float *g,
                     const ConvShape *s, float *col) {
    conv_forward(out, in, w, s, col);
    conv_backward(din, dw, g, in, w, s, col);
}

static void conv_case(int B, int Cin, int H, int W, int Cout) {
    char name[96];
    snprintf(name, sizeof name, "conv3x3 B%d Cin%d %dx%d Cout%d threads%d", B, Cin, H, W, Cout, omp_get_max_threads());
    test_begin(name);
    ConvShape s;
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    ConvKernel wk = conv_pick(&s, CONV_BACKWARD_WEIGHTS);
    CHECK_MSG(wk == (conv_fits(&s, CONV_WINOGRAD) ? CONV_WINOGRAD_WGRAD : CONV_DIRECT),
              "%s: the weight gradient should go to %s", name, conv_fits(&s, CONV_WINOGRAD) ? "Winograd" : "direct");
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *w = rnd(nw), *g = rnd(nout), *col = malloc(sizeof(float) * conv_col_floats(&s));
    float *out = rnd(nout), *din = rnd(nin), *dw = rnd(nw);
    float *out2 = rnd(nout), *din2 = rnd(nin), *dw2 = rnd(nw), *base = rnd(nin);
    double *rout = malloc(sizeof(double) * nout), *rdin = malloc(sizeof(double) * nin),
           *rdw = malloc(sizeof(double) * nw);
    naive(rout, rdin, rdw, in, w, g, &s);

    // The direct path through conv_forward/conv_backward, against double precision: float
    // sums of Cin*9 (forward, data gradient: Cout*9) and B*H*W*9 (weights) products.
    conv_forward(out, in, w, &s, col);
    conv_backward(NULL, dw, g, in, w, &s, col); // the weight gradient alone (the stem's case)
    conv_backward(din, dw2, g, in, w, &s, col);
    CHECK_MSG(max_rel_diff(dw2, dw, nw) < 1e-6, "%s: dw with and without din", name);
    CHECK_MSG(testdata_rel_err(out, rout, nout) < 1e-5, "%s: forward vs double %.3g", name, testdata_rel_err(out, rout, nout));
    CHECK_MSG(testdata_rel_err(dw, rdw, nw) < 1e-5, "%s: dw vs double %.3g", name, testdata_rel_err(dw, rdw, nw));
    if (Cin % 4 == 0) CHECK_MSG(testdata_rel_err(din, rdin, nin) < 1e-5, "%s: din vs double %.3g", name, testdata_rel_err(din, rdin, nin));
    // Accumulating: din = base + dL/din.
    if (Cin % 4 == 0) {
        memcpy(din2, base, sizeof(float) * nin);
        conv_backward_acc(din2, dw2, g, in, w, &s, col);
        double md = 0;
        for (long i = 0; i < nin; i++) md = fmax(md, fabs(din2[i] - (base[i] + rdin[i])));
        CHECK_MSG(md < 1e-4, "%s: din accumulate: max diff %.3g", name, md);
    }

    // With the Winograd weight gradient off, the direct kernel's dw is the same to float noise,
    // and din does not change (the data gradient does not depend on it).
    if (wk == CONV_WINOGRAD_WGRAD) {
        unsigned wwas = conv_set_kernels(CONV_KERNELS_F2X2 & ~CONV_USE_WINOGRAD_WGRAD);
        CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_DIRECT);
        conv_backward(din2, dw2, g, in, w, &s, col);
        conv_set_kernels(wwas);
        CHECK_MSG(max_rel_diff(dw2, dw, nw) < 1e-5, "%s: dw Winograd vs direct %.3g", name, max_rel_diff(dw2, dw, nw));
        CHECK_MSG(testdata_rel_err(dw2, rdw, nw) < 1e-5, "%s: direct dw vs double %.3g", name, testdata_rel_err(dw2, rdw, nw));
        if (Cin % 4 == 0) CHECK_MSG(max_rel_diff(din2, din, nin) == 0, "%s: din with the direct dw", name);
    }

    // F(4x4, 3x3) (in the default kernels) where it applies: the forward and the data
    // gradient against double precision, within its own bound (2e-5, test_winograd4.c).
    if (conv_fits(&s, CONV_DIRECT) && conv_fits(&s, CONV_WINOGRAD4)) {
        ConvShape ts = conv_shape_transposed(&s);
        unsigned wwas = conv_set_kernels(CONV_KERNELS_ALL);
        CHECK(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD4 && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD4_WGRAD);
        int dgrad4 = conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD4;
        CHECK(dgrad4 == conv_fits(&ts, CONV_DIRECT));
        run_both(out2, din2, dw2, in, w, g, &s, col);
        float *acc2 = rnd(nin);
        memcpy(acc2, base, sizeof(float) * nin);
        conv_backward_acc(acc2, dw2, g, in, w, &s, col);
        conv_set_kernels(wwas);
        CHECK_MSG(testdata_rel_err(out2, rout, nout) < 2e-5, "%s: F(4x4) forward vs double %.3g", name, testdata_rel_err(out2, rout, nout));
        CHECK_MSG(testdata_rel_err(dw2, rdw, nw) < 1e-5, "%s: F(4x4) dw vs double %.3g", name, testdata_rel_err(dw2, rdw, nw));
        if (dgrad4) {
            CHECK_MSG(testdata_rel_err(din2, rdin, nin) < 2e-5, "%s: F(4x4) din vs double %.3g", name, testdata_rel_err(din2, rdin, nin));
            double md = 0, mx = 0;
            for (long i = 0; i < nin; i++) {
                md = fmax(md, fabs(acc2[i] - (base[i] + rdin[i])));
                mx = fmax(mx, fabs(base[i] + rdin[i]));
            }
            CHECK_MSG(md < 2e-5 * mx, "%s: F(4x4) din accumulate: max diff %.3g (max %.3g)", name, md, mx);
        }
        free(acc2);
    }

    // With Winograd off (where it applies) the direct kernel gives the same to float noise.
    if (conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD) {
        unsigned wwas = conv_set_kernels(CONV_KERNELS_F2X2 & ~CONV_USE_WINOGRAD);
        CHECK(conv_pick(&s, CONV_FORWARD) == CONV_DIRECT);
        run_both(out2, din2, dw2, in, w, g, &s, col);
        conv_set_kernels(wwas);
        CHECK_MSG(max_rel_diff(out2, out, nout) < 1e-5, "%s: forward Winograd vs direct", name);
        CHECK_MSG(testdata_rel_err(out2, rout, nout) < 1e-5, "%s: direct forward vs double %.3g", name, testdata_rel_err(out2, rout, nout));
        if (Cin % 4 == 0) CHECK_MSG(max_rel_diff(din2, din, nin) < 1e-5, "%s: din Winograd vs direct", name);
    }

    // The GEMM path on the same data agrees to float noise.
    unsigned was = conv_set_kernels(0);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD) == CONV_GEMM);
    run_both(out2, din2, dw2, in, w, g, &s, col);
    conv_set_kernels(was);
    CHECK_MSG(max_rel_diff(out, out2, nout) < 1e-5, "%s: forward direct vs GEMM", name);
    CHECK_MSG(max_rel_diff(dw, dw2, nw) < 1e-5, "%s: dw direct vs GEMM", name);
    CHECK_MSG(max_rel_diff(din, din2, nin) < 1e-5, "%s: din direct vs GEMM", name);
    free(in), free(w), free(g), free(col), free(out), free(din), free(dw), free(out2), free(din2), free(dw2);
    free(base), free(rout), free(rdin), free(rdw);
}

// conv_forward_bn (the evaluation BN, residual and ReLU folded into the convolution's
// output) against conv_forward followed by the same arithmetic in double, through the
// default kernels (F(4x4, 3x3) where it fits), F(2x2, 3x3) and the fallback (Winograd off,
// or a stride-2 shape).
static void conv_bn_case(int B, int C, int H, int stride, int with_res, int relu) {
    char name[96];
    snprintf(name, sizeof name, "conv_forward_bn B%d C%d H%d stride %d res %d relu %d", B, C, H, stride, with_res, relu);
    test_begin(name);
    ConvShape s;
    conv_shape_init(&s, B, C, H, H, C, 3, stride, 1, (size_t)1 << 16);
    long nin = (long)C * B * H * H, nout = (long)C * B * s.Ho * s.Wo, nw = (long)C * C * 9;
    float *in = rnd(nin), *w = rnd(nw), *res = rnd(nout), *scale = rnd(C), *shift = rnd(C), *plain = rnd(nout);
    float *fused = rnd(nout), *col = malloc(sizeof(float) * conv_col_floats(&s));
    ConvEpilogue ep = {.scale = scale, .shift = shift, .res = with_res ? res : NULL, .relu = relu};
    static const unsigned masks[] = {CONV_KERNELS_DEFAULT, CONV_KERNELS_F2X2, CONV_KERNELS_F2X2 & ~CONV_USE_WINOGRAD};
    static const char *const mask_names[] = {"default (F(4x4))", "F(2x2)", "Winograd off"};
    for (int k = 0; k < 3; k++) {
        unsigned was = conv_set_kernels(masks[k]);
        conv_forward(plain, in, w, &s, col);
        conv_forward_bn(fused, in, w, &s, col, &ep);
        conv_set_kernels(was);
        double md = 0, mx = 0;
        for (long i = 0; i < nout; i++) {
            int c = (int)(i / (nout / C));
            double v = (double)plain[i] * scale[c] + shift[c] + (with_res ? res[i] : 0);
            if (relu && v < 0) v = 0;
            md = fmax(md, fabs(fused[i] - v));
            mx = fmax(mx, fabs(v));
        }
        CHECK_MSG(md <= 1e-5 * mx, "%s (%s): max diff %.3g (max %.3g)", name, mask_names[k], md, mx);
    }
    free(in), free(w), free(res), free(scale), free(shift), free(plain), free(fused), free(col);
}

// The stride-2 forward kernel against a double loop and the GEMM path.
static void s2_case(int B, int Cin, int H, int Cout) {
    char name[96];
    snprintf(name, sizeof name, "conv3x3 stride 2 B%d Cin%d %dx%d Cout%d threads%d", B, Cin, H, H, Cout,
             omp_get_max_threads());
    test_begin(name);
    ConvShape s;
    conv_shape_init(&s, B, Cin, H, H, Cout, 3, 2, 1, (size_t)1 << 16);
    CHECK_MSG(conv_pick(&s, CONV_FORWARD) == CONV_DIRECT_S2, "%s: the stride-2 kernel should take this shape", name);
    long nin = (long)Cin * B * H * H, nout = (long)Cout * B * s.Ho * s.Wo, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *w = rnd(nw), *out = rnd(nout), *out2 = rnd(nout), *col = malloc(sizeof(float) * conv_col_floats(&s));
    double *ref = malloc(sizeof(double) * nout);
    for (int co = 0; co < Cout; co++)
        for (int b = 0; b < B; b++)
            for (int yo = 0; yo < s.Ho; yo++)
                for (int xo = 0; xo < s.Wo; xo++) {
                    double a = 0;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int t = 0; t < 9; t++) {
                            int y = 2 * yo + t / 3 - 1, x = 2 * xo + t % 3 - 1;
                            if (y < 0 || y >= H || x < 0 || x >= H) continue;
                            a += (double)in[at(&s, ci, b, y, x)] * w[((long)co * Cin + ci) * 9 + t];
                        }
                    ref[(((long)co * B + b) * s.Ho + yo) * s.Wo + xo] = a;
                }
    conv_forward(out, in, w, &s, col);
    CHECK_MSG(testdata_rel_err(out, ref, nout) < 1e-5, "%s: forward vs double %.3g", name, testdata_rel_err(out, ref, nout));
    unsigned was = conv_set_kernels(0);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM);
    conv_forward(out2, in, w, &s, col);
    conv_set_kernels(was);
    CHECK_MSG(max_rel_diff(out, out2, nout) < 1e-5, "%s: stride-2 kernel vs GEMM", name);
    free(in), free(w), free(out), free(out2), free(col), free(ref);
}

static void wino_usable_case(void) {
    test_begin("conv_pick sends to Winograd only the shapes it handles");
    ConvShape s;
    conv_shape_init(&s, 4, 16, 32, 32, 16, 3, 1, 1, 1 << 20);
    CHECK(conv_fits(&s, CONV_WINOGRAD));
    CHECK(conv_fits(&s, CONV_WINOGRAD4));
#ifdef __AVX512F__
    // F(4x4, 3x3) by default where it fits, F(2x2, 3x3) when it is off.
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD4 && conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD4);
    unsigned was = conv_set_kernels(CONV_KERNELS_F2X2);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD && conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD);
    conv_set_kernels(was);
#endif
    // F(4x4, 3x3) takes any stride-1 plane, partial tiles included (Fashion-MNIST's 28, 14, 7).
    conv_shape_init(&s, 4, 16, 28, 28, 16, 3, 1, 1, 1 << 20); // 7x7 tiles of 4x4
    CHECK(conv_fits(&s, CONV_WINOGRAD4));
    conv_shape_init(&s, 4, 16, 7, 7, 16, 3, 1, 1, 1 << 20); // 2x2 tiles, partial at the edges
    CHECK(conv_fits(&s, CONV_WINOGRAD4));
    conv_shape_init(&s, 4, 16, 8, 8, 16, 3, 1, 1, 1 << 20); // 4 tiles of 4x4
    CHECK(conv_fits(&s, CONV_WINOGRAD4));
    conv_shape_init(&s, 4, 16, 8, 8, 16, 3, 2, 1, 1 << 20); // stride 2
    CHECK(!conv_fits(&s, CONV_WINOGRAD4));
    conv_shape_init(&s, 4, 16, 32, 24, 16, 3, 1, 1, 1 << 20); // width 24
    CHECK(!conv_fits(&s, CONV_WINOGRAD) && conv_pick(&s, CONV_FORWARD) != CONV_WINOGRAD);
    conv_shape_init(&s, 4, 16, 6, 32, 16, 3, 1, 1, 1 << 20); // 3 tile-vectors per image
    CHECK(!conv_fits(&s, CONV_WINOGRAD) && conv_pick(&s, CONV_FORWARD) != CONV_WINOGRAD);
    conv_shape_init(&s, 4, 16, 16, 16, 16, 3, 2, 1, 1 << 20); // stride 2
    CHECK(!conv_fits(&s, CONV_WINOGRAD) && conv_pick(&s, CONV_FORWARD) != CONV_WINOGRAD);
}

static void usable_case(void) {
    test_begin("conv_pick sends to the direct kernels only the shapes they handle");
    ConvShape s;
    conv_shape_init(&s, 4, 16, 32, 32, 16, 3, 1, 1, 1 << 20);
    int direct = conv_pick(&s, CONV_BACKWARD_WEIGHTS) != CONV_GEMM;
#ifdef __AVX512F__
    CHECK(direct);
#else
    CHECK(!direct);
#endif
    CHECK(conv_fits(&s, CONV_DIRECT) && conv_fits(&s, CONV_GEMM));
    conv_shape_init(&s, 4, 16, 32, 32, 32, 3, 2, 1, 1 << 20); // stride 2: the stride-2 kernel
    CHECK(!conv_fits(&s, CONV_DIRECT) && conv_pick(&s, CONV_BACKWARD) == CONV_GEMM);
    CHECK((conv_pick(&s, CONV_FORWARD) == CONV_DIRECT_S2) == direct);
    conv_shape_init(&s, 4, 16, 8, 8, 32, 3, 2, 1, 1 << 20); // stride 2, 8-wide: not whole vectors
    CHECK(!conv_fits(&s, CONV_DIRECT_S2) && conv_pick(&s, CONV_FORWARD) == CONV_GEMM);
    conv_shape_init(&s, 4, 16, 32, 32, 32, 1, 1, 0, 1 << 20); // 1x1
    CHECK(!conv_fits(&s, CONV_DIRECT) && conv_pick(&s, CONV_FORWARD) == CONV_GEMM);
    conv_shape_init(&s, 4, 16, 6, 6, 16, 3, 1, 1, 1 << 20); // 36 pixels: not whole vectors
    CHECK(conv_fits(&s, CONV_DIRECT) &&
          conv_pick(&s, CONV_BACKWARD_WEIGHTS) == (direct ? CONV_WINOGRAD4_WGRAD : CONV_GEMM));
    unsigned was = conv_set_kernels(CONV_KERNELS_F2X2); // the direct forward takes whole groups of 64 pixels
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD) == CONV_GEMM);
    CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == (direct ? CONV_DIRECT : CONV_GEMM));
    conv_set_kernels(was);
    conv_shape_init(&s, 4, 16, 65, 64, 16, 3, 1, 1, 1 << 20); // more than 4096 pixels
    CHECK(!conv_fits(&s, CONV_DIRECT) && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_GEMM);
    conv_shape_init(&s, 4, 16, 8, 8, 6, 3, 1, 1, 1 << 20); // Cout not a multiple of 4
    CHECK(!conv_fits(&s, CONV_DIRECT) && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_GEMM);
    // 28x28 (Fashion-MNIST), 784 pixels: all three on F(4x4, 3x3) (partial tiles); without
    // it, the direct weight gradient (its last vector partial).
    conv_shape_init(&s, 4, 16, 28, 28, 16, 3, 1, 1, 1 << 20);
    CHECK(conv_fits(&s, CONV_DIRECT) &&
          conv_pick(&s, CONV_BACKWARD_WEIGHTS) == (direct ? CONV_WINOGRAD4_WGRAD : CONV_GEMM));
    CHECK(conv_pick(&s, CONV_FORWARD) == (direct ? CONV_WINOGRAD4 : CONV_GEMM));
    CHECK(conv_pick(&s, CONV_BACKWARD) == (direct ? CONV_WINOGRAD4 : CONV_GEMM));
    was = conv_set_kernels(CONV_KERNELS_F2X2);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD) == CONV_GEMM);
    CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == (direct ? CONV_DIRECT : CONV_GEMM));
    conv_set_kernels(was);
}

// A stride-1 plane the direct forward does not take (Fashion-MNIST's 28x28, 14x14, 7x7; odd
// shapes): F(4x4, 3x3) forward, data and weight gradients with partial tiles (the default
// kernels), and the direct weight gradient with a partial last vector (F(4x4)'s off), through
// conv_forward / conv_backward(_acc), against double precision and against the GEMM path.
static void partial_tiles_case(int B, int Cin, int H, int W, int Cout) {
    char name[112];
    snprintf(name, sizeof name, "conv3x3 partial tiles B%d Cin%d %dx%d Cout%d threads%d", B, Cin, H, W, Cout,
             omp_get_max_threads());
    test_begin(name);
    ConvShape s;
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    CHECK_MSG(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD4 && conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD4 &&
                  conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD4_WGRAD,
              "%s: F(4x4) forward, data and weight gradients", name);
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *w = rnd(nw), *g = rnd(nout), *col = malloc(sizeof(float) * conv_col_floats(&s));
    float *out = rnd(nout), *din = rnd(nin), *dw = rnd(nw), *out2 = rnd(nout), *din2 = rnd(nin), *dw2 = rnd(nw);
    float *base = rnd(nin), *acc = malloc(sizeof(float) * (size_t)nin);
    double *rout = malloc(sizeof(double) * nout), *rdin = malloc(sizeof(double) * nin),
           *rdw = malloc(sizeof(double) * nw);
    naive(rout, rdin, rdw, in, w, g, &s);
    run_both(out, din, dw, in, w, g, &s, col);
    memcpy(acc, base, sizeof(float) * (size_t)nin);
    conv_backward_acc(acc, dw2, g, in, w, &s, col);
    CHECK_MSG(testdata_rel_err(out, rout, nout) < 2e-5, "%s: forward vs double %.3g", name, testdata_rel_err(out, rout, nout));
    CHECK_MSG(testdata_rel_err(din, rdin, nin) < 2e-5, "%s: din vs double %.3g", name, testdata_rel_err(din, rdin, nin));
    CHECK_MSG(testdata_rel_err(dw, rdw, nw) < 1e-5, "%s: dw vs double %.3g", name, testdata_rel_err(dw, rdw, nw));
    CHECK_MSG(max_rel_diff(dw2, dw, nw) == 0, "%s: dw with din accumulated", name);
    double md = 0, mx = 0;
    for (long i = 0; i < nin; i++) {
        md = fmax(md, fabs(acc[i] - (base[i] + rdin[i])));
        mx = fmax(mx, fabs(base[i] + rdin[i]));
    }
    CHECK_MSG(md < 2e-5 * mx, "%s: din accumulate: max diff %.3g (max %.3g)", name, md, mx);
    unsigned was = conv_set_kernels(CONV_KERNELS_DEFAULT & ~CONV_USE_WINOGRAD4_WGRAD);
    CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_DIRECT);
    conv_backward(din2, dw2, g, in, w, &s, col);
    conv_set_kernels(was);
    CHECK_MSG(testdata_rel_err(dw2, rdw, nw) < 1e-5, "%s: direct dw vs double %.3g", name, testdata_rel_err(dw2, rdw, nw));
    CHECK_MSG(max_rel_diff(din2, din, nin) == 0, "%s: din with the direct dw", name);
    was = conv_set_kernels(0); // the GEMM path
    run_both(out2, din2, dw2, in, w, g, &s, col);
    conv_set_kernels(was);
    CHECK_MSG(max_rel_diff(out, out2, nout) < 1e-4 && max_rel_diff(dw, dw2, nw) < 1e-5,
              "%s: against the GEMM path: out %.3g dw %.3g", name, max_rel_diff(out, out2, nout), max_rel_diff(dw, dw2, nw));
    free(in), free(w), free(g), free(col), free(out), free(din), free(dw), free(out2), free(din2), free(dw2);
    free(base), free(acc), free(rout), free(rdin), free(rdw);
}

// The direction matters: the stem's 3 input channels rule out the data gradient's direct
// kernel, so its backward with din goes to GEMM (weights too), without din to the direct
// kernel; and the mask switches each kernel on its own.
static void pick_case(void) {
    test_begin("conv_pick by direction, and conv_set_kernels");
    CHECK_EQ_INT(conv_kernels(), CONV_KERNELS_DEFAULT);
    unsigned was = conv_set_kernels(CONV_KERNELS_F2X2); // F(4x4, 3x3): wino_usable_case
    ConvShape s;
    conv_shape_init(&s, 4, 3, 32, 32, 16, 3, 1, 1, 1 << 20); // the stem
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_GEMM);
#ifdef __AVX512F__
    CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD_WGRAD);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD);
    conv_shape_init(&s, 4, 16, 32, 32, 16, 3, 1, 1, 1 << 20);
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD_WGRAD);
    conv_set_kernels(CONV_USE_WINOGRAD); // direct off, Winograd forward on
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_WINOGRAD);
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_GEMM); // no weight-gradient kernel on: both on GEMM
    conv_set_kernels(CONV_USE_WINOGRAD | CONV_USE_WINOGRAD_WGRAD); // Winograd both ways, direct off
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD_WGRAD);
    conv_set_kernels(CONV_USE_WINOGRAD_WGRAD); // the data gradient has no kernel on: both on GEMM
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD_WGRAD);
    conv_set_kernels(CONV_KERNELS_F2X2 & ~CONV_USE_WINOGRAD_WGRAD); // the kernels before issue 15
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_DIRECT);
    conv_set_kernels(CONV_USE_WINOGRAD4_WGRAD); // the F(4x4) weight gradient alone: data on GEMM
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD4_WGRAD);
    conv_set_kernels(CONV_KERNELS_DEFAULT); // F(4x4) every way, the stem's weights included
    CHECK(conv_pick(&s, CONV_BACKWARD) == CONV_WINOGRAD4 && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD4_WGRAD);
    conv_shape_init(&s, 4, 3, 32, 32, 16, 3, 1, 1, 1 << 20);
    CHECK(conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_WINOGRAD4_WGRAD);
    conv_shape_init(&s, 4, 16, 32, 32, 16, 3, 1, 1, 1 << 20);
    conv_set_kernels(CONV_USE_DIRECT);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_DIRECT && conv_pick(&s, CONV_BACKWARD) == CONV_DIRECT);
    conv_shape_init(&s, 4, 16, 32, 32, 32, 3, 2, 1, 1 << 20);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM); // stride 2 is its own switch
    CHECK_EQ_INT(conv_set_kernels(was), CONV_USE_DIRECT);
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_DIRECT_S2);
#else
    CHECK(conv_pick(&s, CONV_FORWARD) == CONV_GEMM && conv_pick(&s, CONV_BACKWARD_WEIGHTS) == CONV_GEMM);
    conv_set_kernels(was);
#endif
}

void suite_conv3x3(void) {
    rng_seed(&rng, 777);
    usable_case();
    wino_usable_case();
    pick_case();
#ifndef __AVX512F__
    test_skip("built without AVX-512: the direct kernels are not compiled in");
    return;
#endif
    int threads0 = omp_get_max_threads();
    // conv_case checks F(2x2, 3x3) and the direct kernels, and F(4x4, 3x3) inside it.
    unsigned kernels0 = conv_set_kernels(CONV_KERNELS_F2X2);
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        conv_case(3, 16, 32, 32, 16); // stage 1
        conv_case(5, 32, 16, 16, 32); // stage 2, odd batch
        conv_case(4, 64, 8, 8, 64);   // stage 3
        conv_case(2, 3, 32, 32, 16);  // stem: 3 input channels (no data gradient)
        conv_case(3, 8, 4, 16, 12);   // non-square plane, Cout 12
        conv_case(1, 4, 8, 8, 4);     // one image
        conv_case(6, 8, 8, 8, 8);     // 8x8 planes go 4 images to a Winograd chunk: a short last chunk
        conv_case(3, 4, 8, 32, 8);    // 32-wide, 8 rows
        s2_case(3, 16, 32, 32);       // stage 1 -> 2
        s2_case(2, 32, 16, 64);       // stage 2 -> 3
        s2_case(1, 4, 16, 8);
    }
    conv_set_kernels(kernels0);
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        partial_tiles_case(3, 16, 28, 28, 16); // Fashion-MNIST's stages
        partial_tiles_case(5, 32, 14, 14, 32);
        partial_tiles_case(4, 64, 7, 7, 64);
        partial_tiles_case(2, 12, 5, 3, 8);    // smaller than a tile across
        partial_tiles_case(3, 8, 1, 9, 4);     // one row
        partial_tiles_case(2, 16, 3, 5, 8);    // 15 pixels: less than one vector
    }
    omp_set_num_threads(threads0);
    conv_bn_case(3, 16, 32, 1, 1, 1);
    conv_bn_case(2, 32, 16, 1, 0, 1);
    conv_bn_case(5, 8, 8, 1, 1, 0);
    conv_bn_case(2, 8, 16, 2, 1, 1); // stride 2: conv_forward, then the epilogue pass
    conv_bn_case(3, 16, 7, 1, 1, 1); // partial F(4x4) tiles (Fashion-MNIST's last stage)
    conv_bn_case(2, 8, 14, 1, 0, 0);
}
