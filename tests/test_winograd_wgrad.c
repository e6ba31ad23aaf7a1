// test_winograd_wgrad.c: the Winograd weight gradients, F(2x2, 3x3) (winograd_wgrad.c) and
// F(4x4, 3x3) (wino4_backward_weights, winograd4.c), called directly, against a
// double-precision sum and against the direct kernel (conv3x3.c), over ResNet's stages (C
// 16/32/64 on 32/16/8 planes), channel counts that are not multiples of 16 (the stem's 3,
// padded lanes), Cin != Cout, Cout not a multiple of 16, odd batches that leave a short last
// chunk, 1-3 threads, a workspace planned for a larger batch, and for F(4x4, 3x3) planes that
// are not a multiple of 4 (partial tiles). The kernels overwrite dw. test_conv3x3.c covers
// them again through conv_backward beside the data gradient.
#include "conv.h"
#include "conv3x3.h"
#include "fixture.h"
#include "rng.h"
#include "test.h"
#include "testdata.h"
#include "winograd4.h"
#include "winograd_wgrad.h"
#include <omp.h>
#include <stdlib.h>

static Rng rng;

static float *rnd(long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = (float)rng_normal(&rng);
    return p;
}

// dw[co][ci][t] = sum over images and pixels of g * (in shifted by tap t), in double.
static void naive_dw(double *dw, const float *in, const float *g, const ConvShape *s) {
    const long hw = (long)s->H * s->W, plane = (long)s->B * hw;
    for (int co = 0; co < s->Cout; co++)
        for (int ci = 0; ci < s->Cin; ci++)
            for (int t = 0; t < 9; t++) {
                double a = 0;
                for (int b = 0; b < s->B; b++)
                    for (int y = 0; y < s->H; y++)
                        for (int x = 0; x < s->W; x++) {
                            int yi = y + t / 3 - 1, xi = x + t % 3 - 1;
                            if (yi < 0 || yi >= s->H || xi < 0 || xi >= s->W) continue;
                            a += (double)g[co * plane + b * hw + (long)y * s->W + x] *
                                 in[ci * plane + b * hw + (long)yi * s->W + xi];
                        }
                dw[((long)co * s->Cin + ci) * 9 + t] = a;
            }
}

// A weight-gradient kernel under test, and the largest error it showed over all cases.
typedef struct WgradKernel {
    const char *name;
    ConvKernel kernel; // conv_fits's name for its shapes
    size_t (*floats)(const ConvShape *s);
    void (*run)(float *dw, const float *dout, const float *in, const ConvShape *s, float *work);
    double bound, worst;
} WgradKernel;

// The bounds, relative to the largest entry: float sums of B*H*W products, as the direct
// kernel's test allows (1e-5), and F(4x4, 3x3)'s 2e-5 (its transforms scale values by up to
// 20 on the way in and 8 on the way out, as in test_winograd4.c). Measured: at most 7.9e-7
// (F(2x2, 3x3)), 5.6e-6 (F(4x4, 3x3)), 3e-7 (direct).
static WgradKernel f2 = {"winograd wgrad", CONV_WINOGRAD_WGRAD, wino_wgrad_floats, wino_backward_weights, 1e-5, 0};
static WgradKernel f4 = {"winograd4 wgrad", CONV_WINOGRAD4_WGRAD, wino4_wgrad_floats, wino4_backward_weights, 2e-5, 0};
static double worst_direct;

static void wgrad_case(WgradKernel *k, int B, int Cin, int H, int W, int Cout, int plan_B) {
    char name[112];
    snprintf(name, sizeof name, "%s B%d Cin%d %dx%d Cout%d threads%d (planned for B%d)", k->name, B, Cin, H, W, Cout,
             omp_get_max_threads(), plan_B);
    test_begin(name);
    ConvShape s, ps;
    conv_shape_init(&ps, plan_B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    if (!CHECK_MSG(conv_fits(&s, k->kernel), "%s: the shape should fit", name)) return;
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *g = rnd(nout), *dw = rnd(nw), *dw2 = rnd(nw);
    size_t nwork = k->floats(&ps);
    CHECK_MSG(nwork == k->floats(&s), "%s: the workspace does not depend on B", name);
    size_t ndirect = conv_fits(&s, CONV_DIRECT) ? conv3x3_wgrad_floats(&s) : 0;
    float *work = malloc(sizeof(float) * (nwork > ndirect ? nwork : ndirect));
    double *ref = malloc(sizeof(double) * nw);
    naive_dw(ref, in, g, &s);
    k->run(dw, g, in, &s, work);
    double r = testdata_rel_err(dw, ref, nw);
    if (r > k->worst) k->worst = r;
    CHECK_MSG(r < k->bound, "%s: dw vs double %.3g", name, r);
    // Called again on a dirty workspace, the same result: nothing carried over.
    k->run(dw2, g, in, &s, work);
    CHECK_MSG(max_rel_diff(dw2, dw, nw) == 0, "%s: a second call differs", name);
    if (s.H * s.W % 64 == 0) {
        conv3x3_backward_weights(dw2, g, in, &s, work);
        if (testdata_rel_err(dw2, ref, nw) > worst_direct) worst_direct = testdata_rel_err(dw2, ref, nw);
        CHECK_MSG(max_rel_diff(dw, dw2, nw) < k->bound, "%s: Winograd vs direct %.3g", name, max_rel_diff(dw, dw2, nw));
    }
    free(in), free(g), free(dw), free(dw2), free(work), free(ref);
}

void suite_winograd_wgrad(void) {
#ifndef __AVX512F__
    test_skip("built without AVX-512: the Winograd weight gradients are not compiled in");
    return;
#endif
    rng_seed(&rng, 1515);
    int threads0 = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        for (int i = 0; i < 2; i++) {
            WgradKernel *k = i ? &f4 : &f2;
            wgrad_case(k, 3, 16, 32, 32, 16, 3);  // stage 1 (a chunk is one image)
            wgrad_case(k, 5, 32, 16, 16, 32, 5);  // stage 2, odd batch
            wgrad_case(k, 9, 64, 8, 8, 64, 9);    // stage 3: chunks of 4 (F(4x4): 7) images, a short last one
            wgrad_case(k, 2, 3, 32, 32, 16, 2);   // the stem: 3 channels in 16 lanes
            wgrad_case(k, 3, 32, 16, 16, 64, 3);  // Cin != Cout
            wgrad_case(k, 2, 48, 8, 8, 20, 2);    // 3 input vectors (a block of 2, then 1), Cout 20
            wgrad_case(k, 3, 80, 8, 8, 12, 3);    // 5 input vectors, 12 output channels
            wgrad_case(k, 3, 8, 4, 16, 12, 3);    // non-square plane
            wgrad_case(k, 1, 4, 8, 8, 4, 1);      // one image, 4 channels
            wgrad_case(k, 3, 4, 8, 32, 8, 3);     // 32-wide, 8 rows
            wgrad_case(k, 3, 16, 16, 16, 16, 64); // a workspace planned for a larger batch
        }
        wgrad_case(&f4, 3, 16, 28, 28, 16, 3); // Fashion-MNIST's planes: 7x7 tiles of 4x4
        wgrad_case(&f4, 5, 32, 14, 14, 32, 5); // the last tile row and column partial
        wgrad_case(&f4, 9, 64, 7, 7, 64, 9);   // 2x2 tiles, 3 of 4 rows and columns live
        wgrad_case(&f4, 2, 20, 5, 3, 12, 2);   // one tile across, two down, both partial
        wgrad_case(&f4, 3, 8, 1, 1, 4, 3);     // one pixel
    }
    omp_set_num_threads(threads0);
    test_begin("winograd wgrad: the largest errors against double precision");
    printf("  max |dw - double| / max |double| over all cases: F(2x2,3x3) %.3g (bound %.0e), F(4x4,3x3) %.3g (bound "
           "%.0e), direct %.3g\n",
           f2.worst, f2.bound, f4.worst, f4.bound, worst_direct);
    CHECK(f2.worst < f2.bound && f4.worst < f4.bound);
}
