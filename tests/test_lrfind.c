// test_lrfind.c: the LR range test (sequences, smoothing, stop rule, advice, a run on a
// model with a known divergence LR, the lr-find command end to end, the bit-identity guard).
#include "cli.h"
#include "cmd.h"
#include "cpu.h"
#include "common.h"
#include "conv.h"
#include "curves.h"
#include "lrfind.h"
#include "pngio.h"
#include "rng.h"
#include "test.h"
#include "testdata.h"
#include <omp.h>
#include <strings.h>
#include <zlib.h>
#include <stdlib.h>

static void test_lr_sequences(void) {
    test_begin("lr sequences: exponential and linear match their formulas");
    const double s = 1e-5, e = 10;
    const int N = 200;
    int exact = 1;
    for (int i = 0; i < N; i++) {
        exact &= lrfind_lr_at(s, e, N, i, 0) == s * pow(e / s, (double)i / (N - 1));
        exact &= lrfind_lr_at(s, e, N, i, 1) == s + (e - s) * ((double)i / (N - 1));
    }
    CHECK(exact);
    CHECK(lrfind_lr_at(s, e, N, 0, 0) == s);
    CHECK(lrfind_lr_at(s, e, N, 0, 1) == s);
    CHECK_CLOSE(lrfind_lr_at(s, e, N, N - 1, 0), e, 0, 1e-12);
    CHECK_CLOSE(lrfind_lr_at(s, e, N, N - 1, 1), e, 0, 1e-12);
    // Equal ratios (exponential) and equal steps (linear) between neighbours.
    CHECK_CLOSE(lrfind_lr_at(s, e, N, 101, 0) / lrfind_lr_at(s, e, N, 100, 0),
                lrfind_lr_at(s, e, N, 1, 0) / lrfind_lr_at(s, e, N, 0, 0), 0, 1e-12);
    CHECK_CLOSE(lrfind_lr_at(s, e, N, 101, 1) - lrfind_lr_at(s, e, N, 100, 1), (e - s) / (N - 1), 0, 1e-9);
    CHECK(lrfind_lr_at(0.1, 1, 1, 0, 0) == 0.1);
}

static void test_smoothing(void) {
    test_begin("smoothing: EMA beta 0.98 debiased, against hand-computed values");
    LrFindSmoother s;
    lrfind_smoother_init(&s);
    double sm;
    // avg1 = 0.02 -> 0.02/0.02 = 1; avg2 = 0.0196 + 0.04 = 0.0596 -> /0.0396;
    // avg3 = 0.058408 + 0.06 = 0.118408 -> /0.058808.
    CHECK_EQ_INT(lrfind_smoother_feed(&s, 1, &sm), LRFIND_GO);
    CHECK_CLOSE(sm, 1.0, 0, 1e-12);
    CHECK_EQ_INT(lrfind_smoother_feed(&s, 2, &sm), LRFIND_GO);
    CHECK_CLOSE(sm, 0.0596 / 0.0396, 0, 1e-12);
    CHECK_EQ_INT(lrfind_smoother_feed(&s, 3, &sm), LRFIND_GO);
    CHECK_CLOSE(sm, 0.118408 / 0.058808, 0, 1e-12);
    CHECK_CLOSE(sm, 2.0134675554346346, 0, 1e-12);
    CHECK_EQ_INT(s.n, 3);
    // A constant loss stays exactly itself after debiasing.
    lrfind_smoother_init(&s);
    int ok = 1;
    for (int i = 0; i < 50; i++) {
        lrfind_smoother_feed(&s, 2.5, &sm);
        ok &= fabs(sm - 2.5) < 1e-12;
    }
    CHECK(ok);
}

static void test_stop_rule(void) {
    test_begin("stop rule: NaN/Inf loss");
    LrFindSmoother s;
    double sm;
    lrfind_smoother_init(&s);
    for (int i = 0; i < 5; i++) lrfind_smoother_feed(&s, 1, &sm);
    CHECK_EQ_INT(lrfind_smoother_feed(&s, NAN, &sm), LRFIND_STOP_NAN);
    CHECK(isnan(sm));
    CHECK_EQ_INT(s.n, 5); // the bad loss did not enter the average
    CHECK_EQ_INT(lrfind_smoother_feed(&s, INFINITY, &sm), LRFIND_STOP_NAN);
    CHECK_EQ_INT(lrfind_smoother_feed(&s, -INFINITY, &sm), LRFIND_STOP_NAN);

    test_begin("stop rule: smoothed loss above 4x the best");
    // 20 losses of 1 (smoothed 1, best 1), then one of 200: smoothed
    // (0.98 (1 - 0.98^20) + 4) / (1 - 0.98^21) = 12.5 > 4. One of 20 gives 2.1: go on.
    lrfind_smoother_init(&s);
    int go = 1;
    for (int i = 0; i < 20; i++) go &= lrfind_smoother_feed(&s, 1, &sm) == LRFIND_GO;
    CHECK(go);
    CHECK_CLOSE(s.best, 1, 0, 1e-12);
    LrFindSmoother t = s;
    CHECK_EQ_INT(lrfind_smoother_feed(&t, 20, &sm), LRFIND_GO);
    CHECK_CLOSE(sm, (0.98 * (1 - pow(0.98, 20)) + 0.4) / (1 - pow(0.98, 21)), 0, 1e-12);
    CHECK_EQ_INT(lrfind_smoother_feed(&s, 200, &sm), LRFIND_STOP_DIVERGED);
    CHECK_CLOSE(sm, (0.98 * (1 - pow(0.98, 20)) + 4) / (1 - pow(0.98, 21)), 0, 1e-12);

    test_begin("stop rule: the best is tracked only from the 11th iteration on");
    // Ten losses of 0.1 then 0.6: the smoothed loss climbs towards 0.6, over 4x the early
    // 0.1, but never over 4x the best seen from iteration 10 on (about 0.150).
    lrfind_smoother_init(&s);
    go = 1;
    for (int i = 0; i < 10; i++) {
        go &= lrfind_smoother_feed(&s, 0.1, &sm) == LRFIND_GO;
        go &= isnan(s.best);
    }
    CHECK_MSG(go, "no best and no stop during the first 10 iterations");
    double first;
    lrfind_smoother_feed(&s, 0.6, &first);
    CHECK_CLOSE(s.best, first, 0, 0);
    CHECK_CLOSE(first, (0.98 * 0.1 * (1 - pow(0.98, 10)) + 0.02 * 0.6) / (1 - pow(0.98, 11)), 0, 1e-12);
    go = 1;
    for (int i = 0; i < 200; i++) go &= lrfind_smoother_feed(&s, 0.6, &sm) == LRFIND_GO;
    CHECK_MSG(go, "no stop: smoothed %g stays under 4 x %g", sm, s.best);
    CHECK(sm > 0.4); // a best tracked from the start (0.1) would have stopped it
    // Wild losses during the first 10 iterations never stop the test.
    lrfind_smoother_init(&s);
    go = 1;
    for (int i = 0; i < 10; i++) go &= lrfind_smoother_feed(&s, pow(10, i), &sm) == LRFIND_GO;
    CHECK(go);
}

static void test_advice(void) {
    test_begin("advice: min, steepest descent and suggested max LR on a known curve");
    enum { N = 101 };
    double lr[N], sm[N];
    // x = log10(lr) from -4 to 1. Falling as a logistic centred on x = -2 (steepest there),
    // rising as a parabola after x = 0 (the minimum).
    for (int i = 0; i < N; i++) {
        lr[i] = lrfind_lr_at(1e-4, 10, N, i, 0);
        double x = -4 + 5.0 * i / (N - 1);
        sm[i] = x <= 0 ? 3 - 2 / (1 + exp(-3 * (x + 2))) : 3 - 2 / (1 + exp(-6.0)) + 5 * x * x;
    }
    LrFindAdvice a = lrfind_advise(lr, sm, N);
    CHECK(a.ok);
    CHECK_EQ_INT(a.i_min, 80);
    CHECK_EQ_INT(a.i_steep, 40);
    CHECK_CLOSE(a.lr_min, 1, 0, 1e-9);
    CHECK_CLOSE(a.lr_steep, 0.01, 0, 1e-9);
    CHECK_CLOSE(a.max_lr, a.lr_min / 10, 0, 0);
    // Points outside the window are ignored: a lower value in the last 5 changes nothing.
    sm[N - 2] = -100;
    a = lrfind_advise(lr, sm, N);
    CHECK_EQ_INT(a.i_min, 80);
    // NaN points are skipped.
    sm[80] = NAN;
    a = lrfind_advise(lr, sm, N);
    CHECK(a.i_min == 79 || a.i_min == 81);
    // A short curve uses every point; an all-NaN one gives no advice.
    double l2[4] = {0.1, 0.2, 0.4, 0.8}, s2[4] = {2, 1, 0.5, 3};
    a = lrfind_advise(l2, s2, 4);
    CHECK(a.ok && a.i_min == 2);
    double s3[4] = {NAN, NAN, NAN, NAN};
    a = lrfind_advise(l2, s3, 4);
    CHECK(!a.ok);
    int lo, hi;
    lrfind_window(200, &lo, &hi);
    CHECK(lo == 10 && hi == 195);
}

// A noisy quadratic: loss 0.5 a (w - xi)^2 with xi ~ N(0,1) per step. Plain SGD on it is
// stable exactly for lr < 2/a, so the range test must stop past 2/a, not long after,
// and advise a max LR below it.
typedef struct Quad {
    double a, w;
    Rng rng;
    int steps;
} Quad;

static double quad_step(void *ctx, double lr, double momentum) {
    (void)momentum;
    Quad *q = ctx;
    double xi = rng_normal(&q->rng), loss = 0.5 * q->a * (q->w - xi) * (q->w - xi);
    q->w -= lr * q->a * (q->w - xi);
    q->steps++;
    return loss;
}

static double nan_at;
static double nan_step(void *ctx, double lr, double momentum) {
    (void)momentum;
    Quad *q = ctx;
    q->steps++;
    return lr >= nan_at ? NAN : 1.0;
}

static void test_drive_known_divergence(void) {
    test_begin("driver: a model with a known divergence LR stops just past it");
    for (int seed = 1; seed <= 3; seed++) {
        Quad q = {.a = 1.0, .w = 3};
        rng_seed(&q.rng, (uint64_t)seed);
        LrFindOptions o = {.start = 1e-3, .end = 1e3, .iters = 200};
        LrFindCurve c = {0};
        lrfind_drive(&o, quad_step, NULL, &q, &c);
        double lr_stop = c.lr[c.n - 1];
        CHECK_EQ_INT(c.stop, LRFIND_STOP_DIVERGED);
        CHECK_EQ_INT(q.steps, c.n);
        CHECK_MSG(lr_stop > 2.0 && lr_stop < 2.5 * 2.0, "seed %d: stopped at lr %g, divergence at 2", seed, lr_stop);
        int same = 1;
        for (int i = 0; i < c.n; i++) same &= c.lr[i] == lrfind_lr_at(o.start, o.end, o.iters, i, 0);
        CHECK(same);
        CHECK(isnan(c.test_loss[0]));
        LrFindAdvice a = lrfind_advise(c.lr, c.smooth, c.n);
        CHECK(a.ok);
        CHECK_MSG(a.max_lr < 2.0 && a.max_lr > 0.02, "seed %d: suggested %g for divergence at 2", seed, a.max_lr);
        CHECK(a.lr_steep < a.lr_min);
        lrfind_curve_free(&c);
    }
    test_begin("driver: stops on the first NaN loss and keeps that row");
    Quad q = {0};
    nan_at = 0.5;
    LrFindOptions o = {.start = 0.01, .end = 1, .iters = 11, .linear = 1};
    LrFindCurve c = {0};
    lrfind_drive(&o, nan_step, NULL, &q, &c);
    CHECK_EQ_INT(c.stop, LRFIND_STOP_NAN);
    CHECK_EQ_INT(c.n, 6); // lr 0.01, 0.109, ..., 0.505 is the 6th
    CHECK(isnan(c.loss[5]) && isnan(c.smooth[5]));
    CHECK_CLOSE(c.smooth[4], 1, 0, 1e-12);
    lrfind_curve_free(&c);
    nan_at = 1e9;
    lrfind_drive(&o, nan_step, NULL, &q, &c);
    CHECK_EQ_INT(c.stop, LRFIND_STOP_END);
    CHECK_EQ_INT(c.n, 11);
    lrfind_curve_free(&c);
}

// A CIFAR-format file of 10000 records whose class shows in the colour, plus noise.
static int write_cifar(const char *path, uint64_t seed) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    Rng r;
    rng_seed(&r, seed);
    static uint8_t rec[3073];
    for (int k = 0; k < 10000; k++) {
        int label = (int)rng_below(&r, 10);
        rec[0] = (uint8_t)label;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 1024; i++)
                rec[1 + c * 1024 + i] = (uint8_t)(25 * label * (c + 1) % 200 + rng_below(&r, 56));
        fwrite(rec, 1, sizeof rec, f);
    }
    return fclose(f) == 0;
}

static void test_lrfind_command(void) {
    test_begin("lr-find end to end: ResNet-8 on crafted data diverges, stops, writes CSV and PNG");
    const char *dir = test_tmpdir();
    char data[400], cfg[400], out[400], csv[500], png[500], set_dir[500];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(csv, sizeof csv, "%s/lr_find.csv", out);
    snprintf(png, sizeof png, "%s/lr_find.png", out);
    snprintf(set_dir, sizeof set_dir, "data.dir=%s", data);
    char path[500];
    char mk[500];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", data);
    CHECK(system(mk) == 0);
    snprintf(path, sizeof path, "%s/data_batch_1.bin", data);
    CHECK(write_cifar(path, 1));
    snprintf(path, sizeof path, "%s/test_batch.bin", data);
    CHECK(write_cifar(path, 2));
    testdata_put(cfg, "[data]\ntrain_images = 256\ntest_images = 32\naugment = none\n"
                    "[model]\ndepth = 8\n[train]\nbatch_size = 16\nthreads = 2\n"
                    "[optim]\nwd = 1e-4\n[schedule]\nepochs = 1\nlr = 0.1\n");
    char *argv[] = {cfg, "--set", set_dir, "--out", out, "--start", "1e-3", "--end", "1e5", "--iters", "40",
                    "--sweep", "momentum=0.5,0.9", "--eval-every", "5", NULL};
    int rc = cmd_lrfind(15, argv);
    CHECK_EQ_INT(rc, ERR_OK);
    char *text = testdata_slurp(csv);
    if (!CHECK_MSG(text != NULL, "%s written", csv)) return;
    CHECK(!strncmp(text, "curve,iteration,lr,loss,smoothed_loss,test_loss,test_acc\n", 57));
    int rows0 = 0, rows1 = 0;
    for (char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        rows0 += !strncmp(p + 1, "momentum=0.5,", 13);
        rows1 += !strncmp(p + 1, "momentum=0.9,", 13);
    }
    CHECK_MSG(rows0 > 12 && rows0 < 40, "momentum=0.5 curve has %d rows of 40: must stop early", rows0);
    CHECK_MSG(rows1 > 12 && rows1 < 40, "momentum=0.9 curve has %d rows of 40: must stop early", rows1);
    CHECK_STR_CONTAINS(text, "momentum=0.5,9,");   // the 10th step carries an evaluation...
    CHECK_STR_CONTAINS(text, "momentum=0.5,0,");
    char *row = strstr(text, "momentum=0.5,9,");
    if (row) {
        int commas = 0;
        for (char *p = row; *p && *p != '\n'; p++) commas += *p == ',';
        CHECK_EQ_INT(commas, 6);
        char *nl = strchr(row, '\n');
        CHECK(nl && nl[-1] != ','); // ...with both test fields filled
    }
    row = strstr(text, "momentum=0.5,3,");
    if (row) CHECK(!strncmp(strchr(row, '\n') - 2, ",,", 2)); // others leave them empty
    free(text);
    Image img = {0};
    Err e = {0};
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(img.w == 1800 && img.h == 500);
        // Curve 1 blue and curve 2 vermilion (plot.c's palette) in both panels.
        CHECK(testdata_count_color(&img, 0x0072B2, 0, 900) > 100);
        CHECK(testdata_count_color(&img, 0xD55E00, 0, 900) > 100);
        CHECK(testdata_count_color(&img, 0x0072B2, 900, 1800) > 100);
        CHECK(testdata_count_color(&img, 0xD55E00, 900, 1800) > 100);
        image_free(&img);
    }
    snprintf(path, sizeof path, "%s/lr_find.cfg", out);
    text = testdata_slurp(path);
    CHECK(text && strstr(text, "depth = 8"));
    free(text);

    test_begin("lr-find refuses to overwrite a range test without --force");
    text = testdata_slurp(csv);
    char *argv2[] = {cfg, "--set", set_dir, "--out", out, "--iters", "5", NULL};
    CHECK_EQ_INT(cmd_lrfind(7, argv2), ERR_INPUT);
    char *again = testdata_slurp(csv);
    CHECK(text && again && !strcmp(text, again));
    free(text);
    free(again);

    test_begin("lr-find usage errors");
    char *bad1[] = {cfg, "--sweep", "lr=1,2", NULL};
    CHECK_EQ_INT(cmd_lrfind(3, bad1), ERR_INPUT);
    char *bad2[] = {cfg, "--sweep", "momentum=0.9,1.5", NULL};
    CHECK_EQ_INT(cmd_lrfind(3, bad2), ERR_INPUT);
    char *bad3[] = {cfg, "--start", "1", "--end", "0.1", NULL};
    CHECK_EQ_INT(cmd_lrfind(5, bad3), ERR_INPUT);
    char *bad4[] = {cfg, "--iters", "1", NULL};
    CHECK_EQ_INT(cmd_lrfind(3, bad4), ERR_INPUT);
    char *bad5[] = {cfg, "--png", "x.png", NULL};
    CHECK_EQ_INT(cmd_lrfind(3, bad5), ERR_INPUT);
}

static void test_lrfind_outputs(void) {
    test_begin("lr_find.csv and lr_find.png from curves (linear x, no evaluation)");
    const char *dir = test_tmpdir();
    char csv[400], png[400];
    snprintf(csv, sizeof csv, "%s/a.csv", dir);
    snprintf(png, sizeof png, "%s/a.png", dir);
    Quad q = {.a = 1, .w = 3};
    rng_seed(&q.rng, 7);
    LrFindOptions o = {.start = 0.01, .end = 5, .iters = 60, .linear = 1};
    LrFindCurve c = {0};
    snprintf(c.label, sizeof c.label, "wd=0.001");
    lrfind_drive(&o, quad_step, NULL, &q, &c);
    Err e = {0};
    CHECK_EQ_INT(lrfind_write_csv(csv, &c, 1, 0, &e), ERR_OK);
    char *text = testdata_slurp(csv);
    CHECK(text && !strncmp(text, "curve,iteration,lr,loss,smoothed_loss\nwd=0.001,0,0.01,", 54));
    free(text);
    CHECK_EQ_INT(lrfind_write_png(png, &c, 1, 1, 0, &e), ERR_OK);
    Image img = {0};
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(img.w == 900 && img.h == 500);
        CHECK(testdata_count_color(&img, 0x0072B2, 0, 900) > 100);
        image_free(&img);
    }
    CHECK_EQ_INT(lrfind_write_csv("/nonexistent-dir/x.csv", &c, 1, 0, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent-dir/x.csv");
    lrfind_curve_free(&c);
}

// Bit-identity guard for the LR range test (see test_train.c's guard): 12 steps of a fixed
// config on 2 threads, two curves in a row on one trainer (the second must start afresh), must
// reproduce tests/fixtures/guard_lrfind.txt exactly: every loss as a hex float, and a CRC32 of
// the final weights. ONECYCLE_WRITE_GUARD=1 rewrites it.
char *openblas_get_corename(void);

static void test_lrfind_guard(void) {
    test_begin("guard: lr-find losses and weights bit-identical to the fixture");
    const char *data = testdata_cifar_dir(), *why = testdata_guard_skip_reason();
    if (!data || why) {
        test_skip(why ? why : "needs CIFAR-10");
        return;
    }
    int threads = omp_get_max_threads();
    cpu_set_threads(2);
    unsigned kernels = conv_set_kernels(testdata_guard_kernels());
    static char text[1024], got[8192];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 200\ntest_images = 64\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nseed = 5\n[optim]\nwd = 1e-4\n[schedule]\nlr = 0.1\nepochs = 1\n",
             data);
    static Config c;
    Trainer t;
    Err e = {0};
    config_init(&c, cli_schema());
    if (config_load_string(&c, text, "guard.cfg", &e) || trainer_create(&t, &c, &e)) {
        CHECK_MSG(0, "setup: %s", e.msg);
        conv_set_kernels(kernels);
        cpu_set_threads(threads);
        return;
    }
    int len = 0;
    for (int k = 0; k < 2; k++) {
        LrFindOptions o = {.start = 1e-3, .end = 3, .iters = 12, .momentum = k ? 0.85 : 0.9, .wd = k ? 1e-3 : 1e-4};
        LrFindCurve cv = {0};
        CHECK_EQ_INT(lrfind_run(&t, &o, &cv, &e), ERR_OK);
        for (int i = 0; i < cv.n; i++) len += snprintf(got + len, sizeof got - (size_t)len, "%d %d %a\n", k, i, cv.loss[i]);
        unsigned long crc = crc32(0, (const unsigned char *)t.net.params, (uInt)(sizeof(float) * (size_t)t.net.nparams));
        len += snprintf(got + len, sizeof got - (size_t)len, "%d weights crc32 %08lx\n", k, crc);
        lrfind_curve_free(&cv);
    }
    trainer_free(&t);
    conv_set_kernels(kernels);
    cpu_set_threads(threads);
    const char *path = "tests/fixtures/guard_lrfind.txt", *w = getenv("ONECYCLE_WRITE_GUARD");
    if (w && *w && strcmp(w, "0")) {
        testdata_put(path, got);
        printf("    wrote %s\n", path);
        return;
    }
    char *want = testdata_slurp(path);
    CHECK_MSG(want && !strcmp(want, got), "lr-find differs from %s (the numbers changed):\n%s", path, got);
    free(want);
}

void suite_lrfind(void) {
    test_lr_sequences();
    test_smoothing();
    test_stop_rule();
    test_advice();
    test_drive_known_divergence();
    test_lrfind_outputs();
    test_lrfind_command();
    test_lrfind_guard();
}
