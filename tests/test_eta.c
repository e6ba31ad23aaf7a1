// test_eta.c: the time left of a run, from the median of its recent step times.
#include "eta.h"
#include "test.h"
#include <math.h>

static void test_empty_and_steady(void) {
    test_begin("eta: 0 before any step; steady steps times the steps left");
    Eta e;
    eta_init(&e);
    CHECK(eta_seconds(&e, 1000, 5) == 0);
    for (int i = 0; i < 10; i++) eta_step(&e, 1.5);
    CHECK_CLOSE(eta_seconds(&e, 1000, 0), 1500, 1e-9, 0);
    CHECK_CLOSE(eta_seconds(&e, 0, 0), 0, 1e-12, 0);
}

// The regression: a run paused for 300 s (SIGSTOP while measuring beside it) showed ETA
// 5:10 for 3:20 of work for hours, because the mean of every step time since the process
// started carried the pause.
static void test_pause(void) {
    test_begin("eta: one paused step does not move it (regression: the mean since the start did)");
    Eta e;
    eta_init(&e);
    double sum = 0;
    for (int i = 0; i < 100; i++) {
        double s = i == 90 ? 300.0 : 1.0;
        eta_step(&e, s);
        sum += s;
    }
    CHECK_CLOSE(eta_seconds(&e, 1000, 0), 1000, 1e-9, 0);
    CHECK(sum / 100 * 1000 > 3900); // what the old estimate said
    // Nor do 15 slow steps of the last 31, while 16 do: a lasting change shows within half the window.
    Eta f;
    eta_init(&f);
    for (int i = 0; i < 40; i++) eta_step(&f, 1.0);
    for (int i = 0; i < ETA_WINDOW / 2; i++) eta_step(&f, 2.0);
    CHECK_CLOSE(eta_seconds(&f, 10, 0), 10, 1e-9, 0);
    eta_step(&f, 2.0);
    CHECK_CLOSE(eta_seconds(&f, 10, 0), 20, 1e-9, 0);
}

static void test_window_and_evals(void) {
    test_begin("eta: the window keeps the last steps only; each evaluation to come counts the last one's time");
    Eta e;
    eta_init(&e);
    for (int i = 0; i < ETA_WINDOW; i++) eta_step(&e, 5.0);
    for (int i = 0; i < ETA_WINDOW; i++) eta_step(&e, 0.5 + 0.01 * (i % 7)); // the 5 s steps all pushed out
    CHECK_EQ_INT(e.n, ETA_WINDOW);
    CHECK(eta_seconds(&e, 1, 0) < 0.6);
    Eta g;
    eta_init(&g);
    eta_step(&g, 2.0);
    eta_step(&g, 4.0); // even count: the mean of the middle two
    CHECK_CLOSE(eta_seconds(&g, 3, 0), 9, 1e-9, 0);
    eta_eval(&g, 10.0);
    CHECK_CLOSE(eta_seconds(&g, 3, 2), 29, 1e-9, 0);
    eta_eval(&g, 7.0); // the latest evaluation's time, not a sum
    CHECK_CLOSE(eta_seconds(&g, 0, 1), 7, 1e-9, 0);
    CHECK(isfinite(eta_seconds(&g, 1L << 40, 1L << 30)));
}

void suite_eta(void) {
    test_empty_and_steady();
    test_pause();
    test_window_and_evals();
}
