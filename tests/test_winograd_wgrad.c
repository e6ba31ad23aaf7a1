// test_winograd_wgrad.c: the Winograd F(2x2, 3x3) weight gradient (winograd_wgrad.c) called
// directly, against a double-precision sum and against the direct kernel (conv3x3.c), over
// ResNet's stages (C 16/32/64 on 32/16/8 planes), channel counts that are not multiples of 16
// (the stem's 3, padded lanes), Cin != Cout, Cout not a multiple of 16, odd batches that leave
// a short last chunk, 1-3 threads, and a workspace planned for a larger batch. The kernel
// overwrites dw. test_conv3x3.c covers it again through conv_backward beside the data gradient.
#include "conv.h"
#include "conv3x3.h"
#include "fixture.h"
#include "rng.h"
#include "test.h"
#include "testdata.h"
#include "winograd_wgrad.h"
#include <omp.h>
#include <stdlib.h>

static Rng rng;

static float *rnd(long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = (float)rng_normal(&rng);
    return p;
}

// The largest errors seen over all cases (Winograd, and the direct kernel on the same data),
// printed at the end.
static double worst, worst_direct;

// The bound: float sums of B*H*W products, as the direct kernel's test allows (1e-5 of the
// largest entry). Measured: at most 7e-7 (Winograd), 3e-7 (direct).
static const double BOUND = 1e-5;

static void wgrad_case(int B, int Cin, int H, int W, int Cout, int plan_B) {
    char name[112];
    snprintf(name, sizeof name, "winograd wgrad B%d Cin%d %dx%d Cout%d threads%d (planned for B%d)", B, Cin, H, W,
             Cout, omp_get_max_threads(), plan_B);
    test_begin(name);
    ConvShape s, ps;
    conv_shape_init(&ps, plan_B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    if (!CHECK_MSG(conv_fits(&s, CONV_WINOGRAD_WGRAD), "%s: the shape should fit", name)) return;
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *g = rnd(nout), *dw = rnd(nw), *dw2 = rnd(nw);
    size_t nwork = wino_wgrad_floats(&ps);
    CHECK_MSG(nwork == wino_wgrad_floats(&s) || plan_B != B, "%s: the workspace does not depend on B", name);
    size_t ndirect = conv3x3_wgrad_floats(&s);
    float *work = malloc(sizeof(float) * (nwork > ndirect ? nwork : ndirect));
    double *ref = malloc(sizeof(double) * nw);
    testdata_conv3x3_dw(ref, in, g, &s);
    wino_backward_weights(dw, g, in, &s, work);
    double r = testdata_rel_err(dw, ref, nw);
    if (r > worst) worst = r;
    CHECK_MSG(r < BOUND, "%s: dw vs double %.3g", name, r);
    // Called again on a dirty workspace, the same result: nothing carried over.
    wino_backward_weights(dw2, g, in, &s, work);
    CHECK_MSG(max_rel_diff(dw2, dw, nw) == 0, "%s: a second call differs", name);
    if (s.H * s.W % 64 == 0) {
        conv3x3_backward_weights(dw2, g, in, &s, work);
        if (testdata_rel_err(dw2, ref, nw) > worst_direct) worst_direct = testdata_rel_err(dw2, ref, nw);
        CHECK_MSG(max_rel_diff(dw, dw2, nw) < BOUND, "%s: Winograd vs direct %.3g", name, max_rel_diff(dw, dw2, nw));
    }
    free(in), free(g), free(dw), free(dw2), free(work), free(ref);
}

void suite_winograd_wgrad(void) {
#ifndef __AVX512F__
    test_skip("built without AVX-512: the Winograd weight gradient is not compiled in");
    return;
#endif
    rng_seed(&rng, 1515);
    int threads0 = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        wgrad_case(3, 16, 32, 32, 16, 3);  // stage 1 (a chunk is one image)
        wgrad_case(5, 32, 16, 16, 32, 5);  // stage 2, odd batch
        wgrad_case(9, 64, 8, 8, 64, 9);    // stage 3: chunks of 4 images, a short last one
        wgrad_case(2, 3, 32, 32, 16, 2);   // the stem: 3 channels in 16 lanes
        wgrad_case(3, 32, 16, 16, 64, 3);  // Cin != Cout
        wgrad_case(2, 48, 8, 8, 20, 2);    // 3 input vectors (a block of 2, then 1), Cout 20
        wgrad_case(3, 80, 8, 8, 12, 3);    // 5 input vectors, 12 output channels
        wgrad_case(3, 8, 4, 16, 12, 3);    // non-square plane
        wgrad_case(1, 4, 8, 8, 4, 1);      // one image, 4 channels
        wgrad_case(3, 4, 8, 32, 8, 3);     // 32-wide, 8 rows
        wgrad_case(3, 16, 16, 16, 16, 64); // a workspace planned for a larger batch
    }
    omp_set_num_threads(threads0);
    test_begin("winograd wgrad: the largest error against double precision");
    printf("  max |dw - double| / max |double| over all cases: Winograd %.3g, direct %.3g (bound %.0e)\n", worst,
           worst_direct, BOUND);
    CHECK(worst < BOUND);
}
