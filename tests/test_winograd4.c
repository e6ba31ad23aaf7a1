// test_winograd4.c: the Winograd F(4x4, 3x3) kernel (winograd4.c) called directly, against a
// double-precision sum and against F(2x2, 3x3) (winograd.c) on the same data, over ResNet's
// stages (C 16/32/64 on 32/16/8 planes), channel counts that are not multiples of 16 (padded
// lanes on both sides), Cin != Cout, non-square planes, odd batches that leave a short last
// chunk, accumulation into out, 1-3 threads and a workspace planned for a larger batch, and
// planes that are not a multiple of 4 (partial tiles: 28, 14, 7, 5x3, 1x1, 2x17).
// test_conv3x3.c covers it again through conv_forward / conv_backward (the data gradient);
// test_winograd_wgrad.c tests its weight gradient (wino4_backward_weights).
#include "conv.h"
#include "fixture.h"
#include "rng.h"
#include "test.h"
#include "testdata.h"
#include "winograd.h"
#include "winograd4.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static Rng rng;

static float *rnd(long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) p[i] = (float)rng_normal(&rng);
    return p;
}

static void naive_forward(double *out, const float *in, const float *w, const ConvShape *s) {
    const long hw = (long)s->H * s->W, iplane = (long)s->B * hw;
    for (int co = 0; co < s->Cout; co++)
        for (int b = 0; b < s->B; b++)
            for (int y = 0; y < s->H; y++)
                for (int x = 0; x < s->W; x++) {
                    double a = 0;
                    for (int ci = 0; ci < s->Cin; ci++)
                        for (int t = 0; t < 9; t++) {
                            int yi = y + t / 3 - 1, xi = x + t % 3 - 1;
                            if (yi < 0 || yi >= s->H || xi < 0 || xi >= s->W) continue;
                            a += (double)in[ci * iplane + b * hw + (long)yi * s->W + xi] *
                                 w[((long)co * s->Cin + ci) * 9 + t];
                        }
                    out[co * iplane + b * hw + (long)y * s->W + x] = a;
                }
}

// The largest errors over all cases (F(4x4, 3x3), and F(2x2, 3x3) where it takes the shape).
static double worst4, worst2;

// The bound, relative to the largest output: F(4x4, 3x3)'s transforms scale values by up to
// 4 * 5 on the way in and 8 on the way out, against F(2x2, 3x3)'s 2 and 2. Measured: at most
// 7.6e-6 here (F(2x2, 3x3) 4.6e-7); the direct kernels' tests allow 1e-5.
static const double BOUND = 2e-5;

static void w4_case(int B, int Cin, int H, int W, int Cout, int plan_B) {
    char name[112];
    snprintf(name, sizeof name, "winograd4 B%d Cin%d %dx%d Cout%d threads%d (planned for B%d)", B, Cin, H, W, Cout,
             omp_get_max_threads(), plan_B);
    test_begin(name);
    ConvShape s, ps;
    conv_shape_init(&ps, plan_B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    if (!CHECK_MSG(conv_fits(&s, CONV_WINOGRAD4), "%s: the shape should fit", name)) return;
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *w = rnd(nw), *out = rnd(nout), *out2 = rnd(nout), *base = rnd(nout);
    size_t nwork = wino4_work_floats(&ps), n2 = conv_fits(&s, CONV_WINOGRAD) ? wino_work_floats(&s) : 0;
    CHECK_MSG(nwork == wino4_work_floats(&s), "%s: the workspace does not depend on B", name);
    float *work = malloc(sizeof(float) * (nwork > n2 ? nwork : n2));
    double *ref = malloc(sizeof(double) * nout);
    naive_forward(ref, in, w, &s);
    wino4_forward(out, in, w, &s, work, 0, NULL);
    double r = testdata_rel_err(out, ref, nout);
    if (r > worst4) worst4 = r;
    CHECK_MSG(r < BOUND, "%s: forward vs double %.3g", name, r);
    // Accumulating: out2 = base + conv, on a dirty workspace.
    memcpy(out2, base, sizeof(float) * (size_t)nout);
    wino4_forward(out2, in, w, &s, work, 1, NULL);
    double md = 0, mx = 0;
    for (long i = 0; i < nout; i++) {
        md = fmax(md, fabs(out2[i] - (base[i] + ref[i])));
        mx = fmax(mx, fabs(base[i] + ref[i]));
    }
    CHECK_MSG(md < BOUND * mx, "%s: accumulate: max diff %.3g (max %.3g)", name, md, mx);
    if (conv_fits(&s, CONV_WINOGRAD)) {
        wino_forward(out2, in, w, &s, work, 0, NULL);
        if (testdata_rel_err(out2, ref, nout) > worst2) worst2 = testdata_rel_err(out2, ref, nout);
    }
    free(in), free(w), free(out), free(out2), free(base), free(work), free(ref);
}

// n floats of a CB16 tensor's padding lanes (past C in its last block) that are not zero.
static long pad_nonzero(const Act *a) {
    long bad = 0, n = act_floats(ACT_CB16, a->C, a->B, a->H, a->W);
    const long block = 16L * a->B * a->H * a->W, last = (a->C - 1) / 16;
    for (long i = last * block; i < n; i++) bad += i % 16 >= a->C - 16 * last && a->data[i] != 0;
    return bad;
}

// x (CBHW) in layout l, in fresh memory (the caller frees .data).
static Act in_layout(const float *x, ActLayout l, int C, int B, int H, int W) {
    Act src = act_make((float *)x, ACT_CBHW, C, B, H, W);
    Act a = act_make(malloc(sizeof(float) * (size_t)act_floats(l, C, B, H, W)), l, C, B, H, W);
    act_convert(&a, &src);
    return a;
}

// Whether the CBHW floats ref equal a's values bit for bit.
static long differ(const float *ref, const Act *a) {
    long n = act_floats(ACT_CBHW, a->C, a->B, a->H, a->W), bad = 0;
    float *back = malloc(sizeof(float) * (size_t)n);
    Act b = act_make(back, ACT_CBHW, a->C, a->B, a->H, a->W);
    act_convert(&b, a);
    for (long i = 0; i < n; i++) bad += memcmp(&back[i], &ref[i], sizeof(float)) != 0;
    free(back);
    return bad;
}

// The kernel on named tensors: CB16 read and written in place gives the CBHW path's bits
// (the same transforms and sums, without the transposes), every mix of layouts, with
// accumulation, the evaluation epilogue (residual, ReLU), and the weight gradient.
static void w4_layout_case(int B, int Cin, int H, int W, int Cout) {
    char name[112];
    snprintf(name, sizeof name, "winograd4 CB16 = CBHW bit for bit: B%d Cin%d %dx%d Cout%d threads%d", B, Cin, H, W,
             Cout, omp_get_max_threads());
    test_begin(name);
    ConvShape s;
    conv_shape_init(&s, B, Cin, H, W, Cout, 3, 1, 1, (size_t)1 << 16);
    long nin = (long)Cin * B * H * W, nout = (long)Cout * B * H * W, nw = (long)Cout * Cin * 9;
    float *in = rnd(nin), *w = rnd(nw), *base = rnd(nout), *res = rnd(nout), *dout = rnd(nout);
    float *scale = rnd(Cout), *shift = rnd(Cout), *ref = malloc(sizeof(float) * (size_t)nout);
    float *dw = malloc(sizeof(float) * (size_t)nw), *dw16 = malloc(sizeof(float) * (size_t)nw);
    size_t nwork = wino4_work_floats(&s) > wino4_wgrad_floats(&s) ? wino4_work_floats(&s) : wino4_wgrad_floats(&s);
    float *work = malloc(sizeof(float) * nwork);
    for (int l = 0; l < 4; l++) { // (in, out) layouts: CB16/CB16, CB16/CBHW, CBHW/CB16
        ActLayout li = l == 3 ? ACT_CBHW : ACT_CB16, lo = l == 2 ? ACT_CBHW : ACT_CB16;
        if (l == 0) continue;
        Act a = in_layout(in, li, Cin, B, H, W);
        for (int mode = 0; mode < 3; mode++) { // plain, accumulate, epilogue with residual + ReLU
            ConvEpilogue ep = {.scale = scale, .shift = shift, .res = res, .relu = 1};
            memcpy(ref, base, sizeof(float) * (size_t)nout);
            wino4_forward(ref, in, w, &s, work, mode == 1, mode == 2 ? &ep : NULL);
            Act o = in_layout(base, lo, Cout, B, H, W), r = in_layout(res, lo, Cout, B, H, W);
            ConvEpilogue ep16 = ep;
            ep16.res = r.data;
            wino4_forward_act(&o, &a, w, &s, work, mode == 1, mode == 2 ? &ep16 : NULL);
            long bad = differ(ref, &o);
            CHECK_MSG(bad == 0, "%s: in %s out %s mode %d: %ld outputs differ", name, act_layout_name(li),
                      act_layout_name(lo), mode, bad);
            if (lo == ACT_CB16) CHECK_MSG(pad_nonzero(&o) == 0, "%s: padding lanes written", name);
            free(o.data), free(r.data);
        }
        free(a.data);
    }
    wino4_backward_weights(dw, dout, in, &s, work);
    for (int l = 0; l < 3; l++) { // (dout, in): CB16/CB16, CB16/CBHW, CBHW/CB16
        Act d = in_layout(dout, l == 2 ? ACT_CBHW : ACT_CB16, Cout, B, H, W);
        Act a = in_layout(in, l == 1 ? ACT_CBHW : ACT_CB16, Cin, B, H, W);
        wino4_backward_weights_act(dw16, &d, &a, &s, work);
        CHECK_MSG(memcmp(dw, dw16, sizeof(float) * (size_t)nw) == 0, "%s: weight gradient (case %d) differs", name, l);
        free(d.data), free(a.data);
    }
    free(in), free(w), free(base), free(res), free(dout), free(scale), free(shift), free(ref), free(dw), free(dw16);
    free(work);
}

void suite_winograd4(void) {
#ifndef __AVX512F__
    test_skip("built without AVX-512: the F(4x4, 3x3) kernel is not compiled in");
    return;
#endif
    rng_seed(&rng, 4433);
    int threads0 = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        w4_case(3, 16, 32, 32, 16, 3);  // stage 1 (a chunk is one image)
        w4_case(5, 32, 16, 16, 32, 5);  // stage 2, odd batch
        w4_case(9, 64, 8, 8, 64, 9);    // stage 3: chunks of 7 images, a short last one
        w4_case(2, 3, 32, 32, 16, 2);   // the stem: 3 channels in 16 lanes
        w4_case(3, 32, 16, 16, 64, 3);  // Cin != Cout
        w4_case(2, 48, 8, 8, 20, 2);    // 3 input vectors; Cout 20 in 2 output vectors
        w4_case(3, 80, 8, 8, 12, 3);    // 5 input vectors; Cout 12 in one padded vector
        w4_case(3, 8, 4, 16, 12, 3);    // a plane of one tile row
        w4_case(2, 16, 16, 8, 16, 2);   // non-square plane
        w4_case(1, 4, 8, 8, 4, 1);      // one image, 4 channels
        w4_case(3, 4, 8, 32, 8, 3);     // 32-wide, 8 rows
        w4_case(3, 16, 16, 16, 16, 64); // a workspace planned for a larger batch
        w4_case(3, 16, 28, 28, 16, 3);  // Fashion-MNIST's planes: 7x7 tiles (49 per image)
        w4_case(5, 32, 14, 14, 32, 5);  // 4x4 tiles, the last row and column partial
        w4_case(9, 64, 7, 7, 64, 9);    // 2x2 tiles, 3 of 4 rows and columns live
        w4_case(2, 20, 5, 3, 12, 2);    // one tile across, two down, both partial
        w4_case(3, 8, 1, 1, 4, 3);      // one pixel
        w4_case(2, 16, 2, 17, 16, 7);   // a plane of one partial tile row, 17 wide
    }
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        w4_layout_case(3, 16, 32, 32, 16); // stage 1
        w4_layout_case(5, 32, 16, 16, 32); // stage 2, odd batch
        w4_layout_case(9, 64, 8, 8, 64);   // stage 3, a short last chunk
        w4_layout_case(2, 20, 8, 12, 12);  // padded lanes both sides, non-square
        w4_layout_case(3, 16, 14, 14, 16); // partial tiles
        w4_layout_case(2, 8, 7, 5, 4);     // partial tiles, one padded vector each side
        w4_layout_case(2, 16, 1, 1, 16);   // one pixel: every patch read is padding
    }
    omp_set_num_threads(threads0);
    test_begin("winograd4: the largest error against double precision");
    printf("  max |out - double| / max |double| over all cases: F(4x4,3x3) %.3g, F(2x2,3x3) %.3g (bound %.0e)\n",
           worst4, worst2, BOUND);
    CHECK(worst4 < BOUND);
}
