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

static void test_smoothing_centred(void) {
    test_begin("advice smoothing: centred median + mean, zero lag, width from the length");
    CHECK_EQ_INT(lrfind_smooth_halfwidth(10), 2);
    CHECK_EQ_INT(lrfind_smooth_halfwidth(60), 2);
    CHECK_EQ_INT(lrfind_smooth_halfwidth(80), 3);
    CHECK_EQ_INT(lrfind_smooth_halfwidth(200), 8);
    CHECK_EQ_INT(lrfind_smooth_halfwidth(1000000), 100);
    enum { N = 60 };
    double x[N], y[N];
    // A constant stays itself, and one wild batch does not move it (the median).
    for (int i = 0; i < N; i++) x[i] = 2.5;
    x[30] = 40;
    CHECK_EQ_INT(lrfind_smooth(x, N, y), N);
    int same = 1;
    for (int i = 0; i < N; i++) same &= y[i] == 2.5;
    CHECK_MSG(same, "a single spike survives the median");
    // A symmetric V keeps its lowest point where it is: no lag (an EMA's would move right).
    for (int i = 0; i < N; i++) x[i] = fabs(i - 37.0);
    lrfind_smooth(x, N, y);
    int imin = 0;
    for (int i = 1; i < N; i++)
        if (y[i] < y[imin]) imin = i;
    CHECK_EQ_INT(imin, 37);
    // A straight line stays straight inside (the window slides at the ends, keeping its width).
    for (int i = 0; i < N; i++) x[i] = 3 - 0.01 * i;
    lrfind_smooth(x, N, y);
    CHECK_CLOSE(y[30], x[30], 1e-12, 0);
    // The first window is points 0..4: medians x2 x2 x2 x3 x4, their mean 3 - 0.01 * 13/5.
    CHECK_CLOSE(y[0], 3 - 0.01 * 13 / 5, 1e-12, 0);
    // Only the finite prefix is used; the rest is NaN.
    x[50] = NAN;
    CHECK_EQ_INT(lrfind_smooth(x, N, y), 50);
    CHECK(isnan(y[50]) && isnan(y[59]) && isfinite(y[49]));
    x[0] = INFINITY;
    CHECK_EQ_INT(lrfind_smooth(x, N, y), 0);
    CHECK(isnan(y[0]));
}

// A synthetic range test: n steps from 1e-4 to 10 (exponential), loss = base(log10 lr) plus
// noise of standard deviation `noise` (seeded).
typedef double (*CurveFn)(double x);
static void synth(double *lr, double *loss, int n, double start, double end, int linear, CurveFn f, double noise,
                  uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        lr[i] = lrfind_lr_at(start, end, n, i, linear);
        loss[i] = f(log10(lr[i])) + noise * rng_normal(&r);
    }
}

// Falls from 2.3 to 1.0 around lr 1e-2 (logistic), flat, then explodes past lr 1 (a loss
// of 2.3 again, the start level, at lr 10^0.5).
static double fall_then_blow(double x) {
    double fall = 2.3 - 1.3 / (1 + exp(-4 * (x + 2)));
    return x <= 0 ? fall : fall + 1.3 * (pow(10, 2 * x) - 1) / 9;
}
// The same descent, flat to the end of any range: nothing diverges.
static double fall_only(double x) { return 2.3 - 1.3 / (1 + exp(-4 * (x + 2))); }
static double flat(double x) {
    (void)x;
    return 2.3;
}

static void test_advice(void) {
    enum { N = 200 };
    double lr[N], loss[N], S[N];
    test_begin("advice: a descent then divergence gives max LR = a tenth of where it diverges");
    synth(lr, loss, N, 1e-4, 10, 0, fall_then_blow, 0.05, 1);
    LrFindAdvice a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, S);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK);
    CHECK_EQ_INT(a.lo, LRFIND_SKIP_START);
    CHECK_EQ_INT(a.hi, N);
    // The smoothed loss is back above its start level (about 2.28 at lr 1.6e-4) near
    // 10^0.5 = 3.2, where the noiseless curve crosses 2.3.
    CHECK_MSG(a.lr_div > 2 && a.lr_div < 4.5, "diverges at %g, expected about 3.2", a.lr_div);
    CHECK_CLOSE(a.max_lr, a.lr_div / 10, 0, 0);
    CHECK_CLOSE(a.suggest, a.max_lr, 0, 0);
    CHECK(!a.from_test);
    CHECK(a.loss_min < 1.05 && a.loss_min > 0.95);
    CHECK(a.lr_min > 0.01 && a.lr_min < 1.5);
    CHECK(S[a.i_min] == a.loss_min && S[a.lo] == a.loss_start);
    CHECK(a.test == LRFIND_TEST_NONE && isnan(a.lr_acc));

    test_begin("advice: no divergence in the range gives no number, whatever the range (regression)");
    // Before: the minimum was wherever the range ended (--end 10 gave 0.31, --end 3 0.27).
    for (int k = 0; k < 3; k++) {
        double end = k == 0 ? 10 : k == 1 ? 3 : 30;
        synth(lr, loss, N, 1e-4, end, k == 1, fall_only, 0.05, 2);
        a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, NULL);
        // Linear to 3, the first 10 points skipped already lie past the descent.
        CHECK_MSG(a.status == (k == 1 ? LRFIND_ADVICE_NO_DESCENT : LRFIND_ADVICE_NO_DIVERGENCE), "--end %g: status %d",
                  end, a.status);
        CHECK_MSG(isnan(a.max_lr) && isnan(a.suggest) && a.i_div < 0, "--end %g: suggested %g", end, a.suggest);
    }
    // The same descent with the explosion in a wider range: now it has a number.
    synth(lr, loss, N, 1e-4, 30, 0, fall_then_blow, 0.05, 3);
    a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK);

    test_begin("advice: a flat curve has no descent, so no number");
    synth(lr, loss, N, 1e-4, 10, 0, flat, 0.05, 4);
    a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_NO_DESCENT);
    CHECK(isnan(a.suggest));
    // Even when it was stopped: a loss that only rises gives no max LR either.
    a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_DIVERGED, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_NO_DESCENT);

    test_begin("advice: a stopped test diverged where it stopped, a NaN on its own row");
    synth(lr, loss, N, 1e-4, 10, 0, fall_only, 0.02, 5);
    loss[150] = NAN; // the driver keeps the non-finite row and stops there
    a = lrfind_advise(lr, loss, NULL, 151, LRFIND_STOP_NAN, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK);
    CHECK_EQ_INT(a.hi, 150);
    CHECK_EQ_INT(a.i_div, 150);
    CHECK_CLOSE(a.lr_div, lr[150], 0, 0);
    a = lrfind_advise(lr, loss, NULL, 150, LRFIND_STOP_DIVERGED, NULL);
    CHECK_EQ_INT(a.i_div, 149);
    a = lrfind_advise(lr, loss, NULL, 150, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_NO_DIVERGENCE);

    test_begin("advice: too short, and short curves keep their first points");
    double l2[4] = {0.1, 0.2, 0.4, 0.8}, s2[4] = {2, 1.5, 1, 3};
    a = lrfind_advise(l2, s2, NULL, 4, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.lo, 0);
    CHECK(a.status != LRFIND_ADVICE_TOO_SHORT);
    double s3[4] = {1, 2, NAN, NAN};
    a = lrfind_advise(l2, s3, NULL, 4, LRFIND_STOP_NAN, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_TOO_SHORT);
    CHECK(isnan(a.suggest));
    a = lrfind_advise(l2, s3, NULL, 0, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_TOO_SHORT);
}

// The loss of a sweep's curves: the same descent and divergence, one of them with a small
// dip in the early noise (and a momentum-like bump after it), over a short 60-step test.
static double dip_amount;
static double with_early_dip(double x) {
    double d = x + 3.3; // a dip of dip_amount around lr 5e-4, a bump around lr 1.5e-3
    return fall_then_blow(x) - dip_amount * exp(-d * d / 0.02) + 0.3 * exp(-(d - 0.5) * (d - 0.5) / 0.05);
}

static void test_advice_robust(void) {
    enum { N = 60 };
    double lr[N], loss[N], S[N];
    test_begin("advice: a dip in the early noise does not move a short test's suggestion (regression)");
    // Before: fastai's EMA (beta 0.98, 50 steps of lag on a 60-step test) and the steepest
    // descent made one curve of a momentum sweep 350x lower than the others.
    double sug[3];
    for (int k = 0; k < 3; k++) {
        dip_amount = 0.25 * k;
        synth(lr, loss, N, 1e-4, 10, 0, with_early_dip, 0.04, 10 + (uint64_t)k);
        LrFindAdvice a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, S);
        CHECK_MSG(a.status == LRFIND_ADVICE_OK, "dip %g: status %d", dip_amount, a.status);
        CHECK_MSG(a.lr_min > 0.005, "dip %g: minimum at lr %g, in the early noise", dip_amount, a.lr_min);
        sug[k] = a.suggest;
    }
    for (int k = 1; k < 3; k++)
        CHECK_MSG(sug[k] / sug[0] < 1.6 && sug[0] / sug[k] < 1.6, "suggestions %g and %g differ", sug[0], sug[k]);
    // No lag: the minimum of the centred curve lies within a few steps of the noiseless one.
    dip_amount = 0;
    synth(lr, loss, N, 1e-4, 10, 0, with_early_dip, 0.0, 20);
    LrFindAdvice a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, S);
    int true_min = LRFIND_SKIP_START;
    for (int i = LRFIND_SKIP_START; i < N; i++)
        if (loss[i] < loss[true_min]) true_min = i;
    CHECK_MSG(abs(a.i_min - true_min) <= 3, "minimum at step %d, noiseless at %d", a.i_min, true_min);

    test_begin("advice: the start-up transient is left out");
    // A loss that plunges in the first steps (a random network finding its feet) and then
    // only rises: no descent in the window, so no number from the transient.
    for (int i = 0; i < N; i++) {
        lr[i] = lrfind_lr_at(1e-4, 10, N, i, 0);
        loss[i] = i < 8 ? 6.0 - 0.5 * i : 2.0 + 0.01 * i;
    }
    a = lrfind_advise(lr, loss, NULL, N, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_NO_DESCENT);
}

static void test_advice_test_curve(void) {
    enum { N = 100 };
    double lr[N], loss[N], acc[N];
    synth(lr, loss, N, 1e-4, 10, 0, fall_then_blow, 0.03, 30);
    // Evaluations every 10 steps: accuracy rises, peaks at step 49, falls.
    static const double rising_then_falling[10] = {0.10, 0.15, 0.22, 0.30, 0.41, 0.45, 0.30, 0.20, 0.11, 0.10};
    static const double plateau[10] = {0.10, 0.15, 0.22, 0.30, 0.44, 0.449, 0.45, 0.445, 0.30, 0.10};
    static const double still_rising[10] = {0.10, 0.15, 0.22, 0.30, 0.32, 0.35, 0.37, 0.40, 0.42, 0.45};
    static const double no_rise[10] = {0.30, 0.25, 0.22, 0.20, 0.18, 0.15, 0.12, 0.11, 0.10, 0.10};
    const double *cases[4] = {rising_then_falling, plateau, still_rising, no_rise};
    const int want[4] = {LRFIND_TEST_OK, LRFIND_TEST_OK, LRFIND_TEST_STILL_RISING, LRFIND_TEST_NO_RISE};
    const int at[4] = {59, 49, -1, -1};
    test_begin("advice with --eval-every: the LR where test accuracy stops rising (Smith)");
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < N; i++) acc[i] = (i + 1) % 10 == 0 ? cases[c][i / 10] : NAN;
        LrFindAdvice a = lrfind_advise(lr, loss, acc, N, LRFIND_STOP_END, NULL);
        CHECK_EQ_INT(a.n_evals, 10);
        CHECK_MSG(a.test == want[c], "case %d: test verdict %d, want %d", c, a.test, want[c]);
        CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK); // the loss rule still runs, as the cross-check
        if (at[c] >= 0) {
            CHECK_EQ_INT(a.i_acc, at[c]);
            CHECK_CLOSE(a.suggest, lr[at[c]], 0, 0);
            CHECK(a.from_test);
        } else {
            CHECK_MSG(a.suggest == a.max_lr && !a.from_test, "case %d: falls back to the loss rule", c);
        }
    }
    // The plateau's start, not its highest point (0.45 at step 69), is where it stops rising.
    test_begin("advice with --eval-every: too few evaluations say nothing");
    for (int i = 0; i < N; i++) acc[i] = i == 49 || i == 99 ? 0.4 : NAN;
    LrFindAdvice a = lrfind_advise(lr, loss, acc, N, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.test, LRFIND_TEST_NONE);
    CHECK_EQ_INT(a.n_evals, 2);
    CHECK(!a.from_test);
}

// Reads one curve of an lr_find.csv (as lr-find writes it) into arrays of at most cap.
static int read_curve(const char *path, const char *label, double *lr, double *loss, double *acc, int cap) {
    char *text = testdata_slurp(path);
    if (!text) return -1;
    int n = 0;
    size_t ll = strlen(label);
    for (char *p = strchr(text, '\n'); p && p[1] && n < cap; p = strchr(p + 1, '\n')) {
        if (strncmp(p + 1, label, ll) || p[1 + ll] != ',') continue;
        char *f = p + 2 + ll;
        strtol(f, &f, 10); // iteration
        lr[n] = strtod(f + 1, &f);
        loss[n] = strtod(f + 1, &f);
        strtod(f + 1, &f); // fastai's smoothed loss
        acc[n] = NAN;
        if (*f == ',' && f[1] != ',' && f[1] != '\n') {
            strtod(f + 1, &f);
            if (*f == ',' && f[1] != '\n') acc[n] = strtod(f + 1, NULL);
        }
        n++;
    }
    free(text);
    return n;
}

static void test_advice_real_curves(void) {
    test_begin("advice on recorded range tests (results/lr-find): no number where nothing diverged");
    enum { CAP = 200 };
    double lr[CAP], loss[CAP], acc[CAP];
    // The momentum sweep (ResNet-20, 80 steps to LR 10): 0.85 and 0.9 never diverged (the
    // old rule suggested 0.5 and 0.25 from where the range ended); 0.95 and 0.99 do.
    static const char *const labels[4] = {"momentum=0.85", "momentum=0.9", "momentum=0.95", "momentum=0.99"};
    const int want[4] = {LRFIND_ADVICE_NO_DIVERGENCE, LRFIND_ADVICE_NO_DIVERGENCE, LRFIND_ADVICE_OK, LRFIND_ADVICE_OK};
    for (int k = 0; k < 4; k++) {
        int n = read_curve("tests/fixtures/lrfind_momentum.csv", labels[k], lr, loss, acc, CAP);
        if (!CHECK_MSG(n == 80, "%s: %d points", labels[k], n)) return;
        LrFindAdvice a = lrfind_advise(lr, loss, NULL, n, LRFIND_STOP_END, NULL);
        CHECK_MSG(a.status == want[k], "%s: status %d", labels[k], a.status);
        // Its lowest point is where the descent ends (about LR 0.06-0.08), not the range's end.
        if (k < 2) CHECK_MSG(a.lr_min > 0.03 && a.lr_min < 0.15, "%s: minimum at %g", labels[k], a.lr_min);
        if (k == 3) CHECK_MSG(a.lr_div > 0.8 && a.lr_div < 3, "%s: diverges at %g", labels[k], a.lr_div);
    }
    // ResNet-56 with the test curve: accuracy peaks at LR 0.038 (19.8% after 40 steps), the
    // loss never climbs back above its start level.
    int n = read_curve("tests/fixtures/lrfind_resnet56.csv", "momentum=0.9 wd=0.0001", lr, loss, acc, CAP);
    if (!CHECK_MSG(n == 100, "resnet56: %d points", n)) return;
    LrFindAdvice a = lrfind_advise(lr, loss, acc, n, LRFIND_STOP_END, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_NO_DIVERGENCE);
    CHECK_EQ_INT(a.n_evals, 5);
    CHECK_EQ_INT(a.test, LRFIND_TEST_OK);
    CHECK_CLOSE(a.suggest, 0.037649358, 0, 1e-9);
    CHECK(a.from_test);
}

static void test_config_lines(void) {
    test_begin("advice: the config line fits the policy");
    char buf[600];
    lrfind_config_lines("onecycle", 0.43, 25, "  ", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "  [schedule]    # policy onecycle\n  max_lr = 0.43 ");
    CHECK_STR_CONTAINS(buf, "starts at 0.017 (peak / 25)");
    CHECK_STR_CONTAINS(buf, "--set schedule.max_lr=0.43");
    CHECK(!strstr(buf, "use_clr_beta") && !strstr(buf, "\n  lr ="));
    lrfind_config_lines("clr_beta", 0.43, 10, "", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "\nlr = 0.43 ");
    CHECK_STR_CONTAINS(buf, "starts at 0.043 (peak / 10)");
    CHECK(!strstr(buf, "max_lr"));
    lrfind_config_lines("triangular2", 0.4, 4, "", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "\nmax_lr = 0.4 ");
    CHECK_STR_CONTAINS(buf, "\nbase_lr = 0.1 ");
    CHECK_STR_CONTAINS(buf, "--set schedule.max_lr=0.4 --set schedule.base_lr=0.1");
    lrfind_config_lines("constant", 0.2, 1, "", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "\nlr = 0.2 ");
    CHECK(!strstr(buf, "starts at"));
    lrfind_config_lines("sgdr", 0.2, 1, "", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "\nlr = 0.2 ");
    lrfind_config_lines("phases", 0.2, 5, "", buf, sizeof buf);
    CHECK_STR_CONTAINS(buf, "the largest is 0.2");
    CHECK(!strstr(buf, "--set"));
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
        LrFindAdvice a = lrfind_advise_curve(&c, NULL);
        CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK);
        // Var(w) = lr / (2 - lr) grows without bound as lr nears 2: the loss is back above
        // its start level a little before.
        CHECK_MSG(a.lr_div > 1.0 && a.lr_div <= lr_stop, "seed %d: diverges at %g, stopped at %g", seed, a.lr_div,
                  lr_stop);
        CHECK_MSG(a.max_lr < 2.0 && a.max_lr > 0.02, "seed %d: suggested %g for divergence at 2", seed, a.max_lr);
        CHECK(a.lr_min < a.lr_div);
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

    test_begin("lr-find prints the config line of the config's policy (the binary)");
    // ResNet-8 on the crafted data from 1e-4 to 1e3: a clear descent, then it blows up.
    static char cmd[3000], outbuf[16384];
    snprintf(cmd, sizeof cmd,
             "%s lr-find %s --set %s --out %s/cli --start 1e-4 --end 1e3 --iters 60 --threads 1 --set "
             "schedule.policy=onecycle --set schedule.max_lr=0.1 --set schedule.lr= 2>/dev/null",
             testdata_bin(), cfg, set_dir, dir);
    rc = testdata_run(cmd, outbuf, sizeof outbuf);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, outbuf);
    CHECK_STR_CONTAINS(outbuf, "suggested max LR ");
    CHECK_STR_CONTAINS(outbuf, "    [schedule]    # policy onecycle\n    max_lr = ");
    CHECK_STR_CONTAINS(outbuf, "(peak / 25)");
    CHECK_STR_CONTAINS(outbuf, "or: --set schedule.max_lr=");
    CHECK_MSG(!strstr(outbuf, "use_clr_beta") && !strstr(outbuf, "\n    lr = "), "a line of another policy:\n%s",
              outbuf);
    snprintf(cmd, sizeof cmd,
             "%s lr-find %s --set %s --out %s/cli2 --start 1e-4 --end 1e3 --iters 60 --threads 1 --set "
             "schedule.use_clr_beta=10,13.68,0.95,0.85 2>/dev/null",
             testdata_bin(), cfg, set_dir, dir);
    rc = testdata_run(cmd, outbuf, sizeof outbuf);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, outbuf);
    CHECK_STR_CONTAINS(outbuf, "    [schedule]    # policy clr_beta\n    lr = ");
    CHECK_STR_CONTAINS(outbuf, "(peak / 10)");
    CHECK(!strstr(outbuf, "max_lr"));
    CHECK_MSG(!strstr(outbuf, "for adam/adamw"), "Adam's line for SGD:\n%s", outbuf);
    // Adam: the divergence rule's suggestion, and a tenth of the lowest loss's LR beside it.
    snprintf(cmd, sizeof cmd,
             "%s lr-find %s --set %s --out %s/cli4 --start 1e-4 --end 1e3 --iters 60 --threads 1 --set "
             "optim.name=adam 2>/dev/null",
             testdata_bin(), cfg, set_dir, dir);
    rc = testdata_run(cmd, outbuf, sizeof outbuf);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, outbuf);
    CHECK_STR_CONTAINS(outbuf, "suggested max LR ");
    CHECK_STR_CONTAINS(outbuf, "  for adam/adamw, a tenth of the lowest loss's LR, ");
    const char *low = strstr(outbuf, " lowest "), *tenth = strstr(outbuf, "lowest loss's LR, ");
    double lr_low = 0, lr_tenth = 0;
    CHECK(low && sscanf(low, " lowest %*f at lr %lf", &lr_low) == 1);
    CHECK(tenth && sscanf(tenth, "lowest loss's LR, %lf", &lr_tenth) == 1);
    CHECK_MSG(fabs(lr_tenth - lr_low / 10) <= 0.06 * lr_low / 10, "%g is not a tenth of %g", lr_tenth, lr_low);

    test_begin("lr-find without divergence in its range gives no number (the binary)");
    snprintf(cmd, sizeof cmd,
             "%s lr-find %s --set %s --out %s/cli3 --start 1e-5 --end 1e-3 --iters 40 --threads 1 2>/dev/null",
             testdata_bin(), cfg, set_dir, dir);
    rc = testdata_run(cmd, outbuf, sizeof outbuf);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, outbuf);
    CHECK_STR_CONTAINS(outbuf, "no divergence up to lr 0.001");
    CHECK_STR_CONTAINS(outbuf, "run again with --end 0.01");
    CHECK_STR_CONTAINS(outbuf, "no suggested max LR from this curve");
    CHECK(!strstr(outbuf, "[schedule]"));

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

    test_begin("lr_find.csv names the evaluation's set: test, or the validation split");
    c.test_loss[4] = 1.5;
    c.test_acc[4] = 0.25;
    CHECK_EQ_INT(lrfind_write_csv(csv, &c, 1, LRFIND_EVAL_TEST, &e), ERR_OK);
    text = testdata_slurp(csv);
    CHECK(text && !strncmp(text, "curve,iteration,lr,loss,smoothed_loss,test_loss,test_acc\n", 57));
    CHECK_STR_CONTAINS(text ? text : "", ",1.500000,0.250000\n");
    free(text);
    CHECK_EQ_INT(lrfind_write_csv(csv, &c, 1, LRFIND_EVAL_VALID, &e), ERR_OK);
    text = testdata_slurp(csv);
    CHECK(text && !strncmp(text, "curve,iteration,lr,loss,smoothed_loss,valid_loss,valid_acc\n", 59));
    CHECK_STR_CONTAINS(text ? text : "", ",1.500000,0.250000\n");
    free(text);
    lrfind_curve_free(&c);
}

// Columns of an image holding at least `len` pixels of colour rgb (the markers' dashed grey).
static int marker_columns(const Image *img, uint32_t rgb, int len) {
    int cols = 0;
    for (int x = 0; x < img->w; x++)
        cols += testdata_count_color(img, rgb, x, x + 1) >= len;
    return cols;
}

static double linear_curve(double lr) {
    double r = lr > 2.5 ? lr - 2.5 : 0;
    return 2.3 - 1.3 * (1 - exp(-lr / 0.5)) + 1.3 * r * r;
}

static void test_lrfind_plot_marks(void) {
    test_begin("lr_find.png: both marks inside the plotted range, also --linear (regression)");
    // Linear from 1e-4 to 8: the first 10 points (start-up) reach lr 0.4; the loss
    // diverges near 3.1, so the suggestion (0.31) lay left of the plotted points and
    // was silently not drawn, while the title said it was marked.
    enum { N = 200 };
    static double lr[N], loss[N], sm[N], tl[N], ta[N];
    for (int i = 0; i < N; i++) {
        lr[i] = lrfind_lr_at(1e-4, 8, N, i, 1);
        loss[i] = linear_curve(lr[i]);
        sm[i] = tl[i] = ta[i] = NAN;
    }
    LrFindCurve c = {.label = "momentum=0.9", .n = N, .cap = N, .lr = lr, .loss = loss, .smooth = sm,
                     .test_loss = tl, .test_acc = ta, .stop = LRFIND_STOP_END};
    LrFindAdvice a = lrfind_advise_curve(&c, NULL);
    CHECK_EQ_INT(a.status, LRFIND_ADVICE_OK);
    CHECK_MSG(a.max_lr < lr[a.lo], "the suggestion %g lies left of the first plotted point %g", a.max_lr, lr[a.lo]);
    const char *dir = test_tmpdir();
    char png[400];
    snprintf(png, sizeof png, "%s/marks.png", dir);
    Err e = {0};
    CHECK_EQ_INT(lrfind_write_png(png, &c, 1, 1, 0, &e), ERR_OK);
    Image img = {0};
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_MSG(marker_columns(&img, 0x9A9A9A, 40) == 2, "%d marker lines drawn, want 2",
                  marker_columns(&img, 0x9A9A9A, 40));
        image_free(&img);
    }
    // A curve that never diverges: no suggestion, so no mark at all.
    for (int i = 0; i < N; i++) loss[i] = 2.3 - 1.3 * (1 - exp(-lr[i] / 0.5));
    CHECK_EQ_INT(lrfind_write_png(png, &c, 1, 1, 0, &e), ERR_OK);
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(marker_columns(&img, 0x9A9A9A, 40), 0);
        image_free(&img);
    }
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
             "[train]\nbatch_size = 64\nseed = 5\nlayout = cbhw\n[optim]\nwd = 1e-4\n[schedule]\nlr = 0.1\nepochs = 1\n",
             data);
    static Config c;
    Trainer t;
    Err e = {0};
    if (testdata_trainer(&t, &c, text)) {
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

// `onecycle plot DIR/lr_find.csv` redraws a range test from its CSV (issue 34's re-plots):
// what lrfind_write_csv wrote reads back, with the LR spacing told apart.
static void test_read_csv(void) {
    test_begin("lr_find.csv read back for plot");
    enum { N = 6 };
    double lr[N], loss[N] = {2.3, 2.1, 1.9, 1.8, 2.5, NAN}, tl[N], ta[N];
    for (int i = 0; i < N; i++) lr[i] = 1e-3 * pow(10, i * 0.5), tl[i] = i == 2 ? 1.7 : NAN, ta[i] = i == 2 ? 0.4 : NAN;
    LrFindCurve c = {"momentum=0.9 wd=0.0001", 0.9, 1e-4, N, N, lr, loss, loss, tl, ta, 0, NAN};
    char csv[400], png[400];
    snprintf(csv, sizeof csv, "%s/lr_find.csv", test_tmpdir());
    snprintf(png, sizeof png, "%s/redrawn.png", test_tmpdir());
    Err e = {0};
    CHECK_EQ_INT(lrfind_write_csv(csv, &c, 1, 1, &e), ERR_OK);
    LrFindCurve *r = NULL;
    int n = 0, ev = 0;
    if (!CHECK_MSG(lrfind_read_csv(csv, &r, &n, &ev, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ev, 1);
    CHECK_EQ_INT(r[0].n, N);
    CHECK(!strcmp(r[0].label, c.label));
    CHECK(fabs(r[0].lr[3] - lr[3]) < 1e-9 && fabs(r[0].loss[1] - 2.1) < 1e-9 && isnan(r[0].loss[5]));
    CHECK(fabs(r[0].test_acc[2] - 0.4) < 1e-9 && isnan(r[0].test_loss[0]));
    CHECK(!lrfind_csv_is_linear(&r[0]));
    for (int i = 0; i < N; i++) r[0].lr[i] = 0.1 + 0.2 * i;
    CHECK(lrfind_csv_is_linear(&r[0]));
    lrfind_curve_free(&r[0]);
    free(r);
    char *argv[] = {csv, "--png", png, NULL};
    CHECK_EQ_INT(cmd_plot(3, argv), ERR_OK);
    CHECK(fs_exists(png));
    FILE *f = fopen(csv, "w");
    if (f) fputs("curve,iteration,lr,loss,smoothed_loss\nm,0,0.1,x,2\n", f), fclose(f);
    CHECK_EQ_INT(lrfind_read_csv(csv, &r, &n, &ev, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "lr_find.csv:2: field 4: expected a number, got 'x'");
}

void suite_lrfind(void) {
    test_read_csv();
    test_lr_sequences();
    test_smoothing();
    test_stop_rule();
    test_smoothing_centred();
    test_advice();
    test_advice_robust();
    test_advice_test_curve();
    test_advice_real_curves();
    test_config_lines();
    test_drive_known_divergence();
    test_lrfind_outputs();
    test_lrfind_plot_marks();
    test_lrfind_command();
    test_lrfind_guard();
}
