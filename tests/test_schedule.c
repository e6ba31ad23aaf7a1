// test_schedule.c: every policy against values stated here, computed by hand from the
// published formulas (fastai 0.7 CircularLR / CircularLR_beta, PyTorch 1.13 schedulers), at
// the phase boundaries, just before and after them, mid-phase, and the first and last
// steps; then against fixtures written once by scripts/schedule_fixture.py from PyTorch
// itself; then the errors, the CSV and PNG output and the Smith configs.
#include "config.h"
#include "pngio.h"
#include "schedule.h"
#include "test.h"
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

static const ConfigSection schema[] = {{"schedule", schedule_config_keys}, {NULL, NULL}};

// Builds a schedule from the body of a [schedule] section loaded as "t.cfg": the body's
// first line is line 2 of the file.
static int make(Schedule *s, const char *body, long spe, Err *e) {
    Config *c = xmalloc(sizeof *c);
    config_init(c, schema);
    char text[4096];
    snprintf(text, sizeof text, "[schedule]\n%s", body);
    memset(s, 0, sizeof *s);
    int rc = config_load_string(c, text, "t.cfg", e);
    if (!rc) rc = schedule_from_config(s, c, spe, e);
    free(c);
    return rc;
}

// make() that must succeed.
static int make_ok(Schedule *s, const char *body, long spe, int line) {
    Err e = {0};
    int rc = make(s, body, spe, &e);
    test_check(rc == ERR_OK, __FILE__, line, "schedule from '%s': %s", body, e.msg);
    return rc == ERR_OK;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-12 + 1e-12 * fabs(b); }

typedef struct Row {
    long t;
    double lr, mom;
} Row;

static void check_rows(const Schedule *s, const Row *r, int n, int line) {
    for (int i = 0; i < n; i++) {
        double lr, mom;
        schedule_at(s, r[i].t, &lr, &mom);
        test_check(near(lr, r[i].lr), __FILE__, line, "%s: lr(%ld) = %.17g, expected %.17g", s->policy,
                   r[i].t, lr, r[i].lr);
        test_check(near(mom, r[i].mom), __FILE__, line, "%s: momentum(%ld) = %.17g, expected %.17g",
                   s->policy, r[i].t, mom, r[i].mom);
    }
}
#define CHECK_ROWS(s, rows) check_rows((s), (rows), (int)(sizeof(rows) / sizeof(rows)[0]), __LINE__)

// The body must be rejected with ERR_INPUT and a message holding each of the strings.
static void check_error(const char *body, long spe, const char *want1, const char *want2, int line) {
    Schedule s;
    Err e = {0};
    int rc = make(&s, body, spe, &e);
    test_check(rc == ERR_INPUT, __FILE__, line, "'%s' gives ERR_INPUT (rc %d: %s)", body, rc, e.msg);
    test_check(s.p == NULL && s.n == 0, __FILE__, line, "a failed build leaves no phases");
    if (want1) test_check(strstr(e.msg, want1) != NULL, __FILE__, line, "'%s' contains '%s'", e.msg, want1);
    if (want2) test_check(strstr(e.msg, want2) != NULL, __FILE__, line, "'%s' contains '%s'", e.msg, want2);
    schedule_free(&s);
}
#define CHECK_ERROR(body, spe, w1, w2) check_error((body), (spe), (w1), (w2), __LINE__)

// ---- fastai use_clr -----------------------------------------------------------------------

// nb = 20 steps, cut_div 3 does not divide it: cut = floor(20/3) = 6. With lr = 1, div = 4:
// LR = (1 + 3p)/4, p = t/6 up to t = 6, then p = 1 - (t-6)/14.
static void test_clr(void) {
    test_begin("use_clr 2- and 4-tuples, nb not divisible by cut_div");
    Schedule s;
    if (make_ok(&s, "cycle_len = 2\nlr = 1\nuse_clr = 4, 3\nmomentum = 0.9\n", 10, __LINE__)) {
        CHECK(!strcmp(s.policy, "clr")); // implied by use_clr
        CHECK_EQ_INT(s.total, 20);
        CHECK_EQ_INT(s.cycles_momentum, 0);
        const Row rows[] = {
            {0, 0.25, 0.9},          // first step: lr/div
            {1, 0.375, 0.9},         // (1 + 3/6)/4
            {3, 0.625, 0.9},         // mid-rise
            {5, 0.875, 0.9},         // just before the cut
            {6, 1.0, 0.9},           // cut: the peak
            {7, 53.0 / 56, 0.9},     // just after: (1 + 3*13/14)/4
            {13, 0.625, 0.9},        // mid-fall, p = 1/2
            {19, 17.0 / 56, 0.9},    // last step: (1 + 3/14)/4
            {20, 17.0 / 56, 0.9},    // past the end: the last value
            {1000, 17.0 / 56, 0.9},
            {-5, 0.25, 0.9},         // before the start: the first value
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // momentum = min + q (max - min), q = 1 - t/6, then (t-6)/14; max 0.95, min 0.85
    if (make_ok(&s, "cycle_len = 2\nlr = 1\nuse_clr = 4, 3, 0.95, 0.85\n", 10, __LINE__)) {
        CHECK_EQ_INT(s.cycles_momentum, 1);
        const Row rows[] = {
            {0, 0.25, 0.95},
            {1, 0.375, 0.95 - 0.1 / 6},
            {3, 0.625, 0.9},
            {5, 0.875, 0.85 + 0.1 / 6},
            {6, 1.0, 0.85}, // both evaluated at t: the LR peak meets the momentum low
            {7, 53.0 / 56, 0.85 + 0.1 / 14},
            {13, 0.625, 0.9},
            {19, 17.0 / 56, 0.85 + 1.3 / 14},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // cut_div = 1: cut = nb, the LR rises over the whole cycle and never quite peaks.
    if (make_ok(&s, "cycle_len = 1\nlr = 1\nuse_clr = 4, 1\n", 10, __LINE__)) {
        const Row rows[] = {{0, 0.25, 0.9}, {5, 0.625, 0.9}, {9, 0.925, 0.9}};
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.total, 10);
        schedule_free(&s);
    }
}

// fastai computes the cut as Python's nb // cut_div, the floor of the exact quotient; the
// rounded quotient nb / cut_div can land on the integer above. 37 // 3.7 = 9 (37 / 3.7 rounds
// to 10.0), 11 // 1.1 = 9, 3626 // 3.7 = 979 (the issue's case): the LR peaks at step cut.
static void test_clr_floor_division(void) {
    test_begin("use_clr cut point is Python's nb // cut_div");
    static const struct { long nb; const char *cut_div; long cut; } cases[] = {
        {37, "3.7", 9}, {11, "1.1", 9}, {3626, "3.7", 979}, {20, "3", 6}, {95, "2.3170731707317072", 41},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "cycle_len = 1\nlr = 1\nuse_clr = 4, %s\n", cases[i].cut_div);
        Schedule s;
        if (!make_ok(&s, body, cases[i].nb, __LINE__)) continue;
        long cut = cases[i].cut;
        double lr, mom, before, after;
        schedule_at(&s, cut, &lr, &mom);
        schedule_at(&s, cut - 1, &before, &mom);
        schedule_at(&s, cut + 1, &after, &mom);
        test_check(fabs(lr - 1.0) < 1e-14, __FILE__, __LINE__, "nb %ld, cut_div %s: LR %.17g at step %ld, the peak",
                   cases[i].nb, cases[i].cut_div, lr, cut);
        test_check(fabs(before - (1.0 + 3.0 * (double)(cut - 1) / (double)cut) / 4.0) < 1e-14, __FILE__, __LINE__,
                   "nb %ld, cut_div %s: LR %.17g at step %ld, on the way up", cases[i].nb, cases[i].cut_div, before,
                   cut - 1);
        test_check(after < lr, __FILE__, __LINE__, "nb %ld: the LR falls after step %ld", cases[i].nb, cut);
        schedule_free(&s);
    }
}

// ---- fastai use_clr_beta ------------------------------------------------------------------

// nb = 30, pct 13.68: c = floor(30 * 0.8632 / 2) = floor(12.948) = 12, 2c = 24.
// LR with lr = 1, div = 10: 0.1 + 0.075 t up to 12, back down to 0.1 at 24, then
// 0.1 (1 - 0.99 (t-24)/6).
static void test_clr_beta(void) {
    test_begin("use_clr_beta 2- and 4-tuples");
    Schedule s;
    if (make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68, 0.95, 0.85\n", 10, __LINE__)) {
        CHECK(!strcmp(s.policy, "clr_beta"));
        CHECK_EQ_INT(s.total, 30);
        CHECK_EQ_INT(schedule_epochs(&s), 3);
        const Row rows[] = {
            {0, 0.1, 0.95},
            {1, 0.175, 0.95 - 0.1 / 12},
            {6, 0.55, 0.9},
            {11, 0.925, 0.85 + 0.1 / 12},
            {12, 1.0, 0.85},                     // c: peak LR, lowest momentum
            {13, 0.925, 0.85 + 0.1 / 12},
            {18, 0.55, 0.9},
            {23, 0.175, 0.95 - 0.1 / 12},
            {24, 0.1, 0.95},                     // 2c: back to lr/div and max momentum
            {25, 0.1 * (1 - 0.99 / 6), 0.95},    // annihilation starts
            {27, 0.1 * (1 - 0.99 * 3 / 6), 0.95},
            {29, 0.1 * (1 - 0.99 * 5 / 6), 0.95}, // last step: 0.0175
            {30, 0.0175, 0.95},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    if (make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68\nmomentum = 0.85\n", 10, __LINE__)) {
        CHECK_EQ_INT(s.cycles_momentum, 0);
        const Row rows[] = {{0, 0.1, 0.85}, {12, 1.0, 0.85}, {24, 0.1, 0.85}, {29, 0.0175, 0.85}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }

    test_begin("use_clr_beta with pct = 0");
    // nb = 20 even: c = 10, 2c = nb, so the fall is cut at the cycle's end and there is no
    // annihilation part. LR 0.1 (1 + 9 t/10), then 0.1 (1 + 9 (1 - (t-10)/10)).
    if (make_ok(&s, "cycle_len = 2\nlr = 1\nuse_clr_beta = 10, 0, 0.95, 0.85\n", 10, __LINE__)) {
        const Row rows[] = {
            {0, 0.1, 0.95}, {9, 0.91, 0.86}, {10, 1.0, 0.85}, {11, 0.91, 0.86}, {19, 0.19, 0.94},
        };
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.total, 20);
        schedule_free(&s);
    }
    // nb = 21 odd: c = 10, the fall ends exactly at the last step t = 20 = 2c.
    if (make_ok(&s, "cycle_len = 1\nlr = 1\nuse_clr_beta = 10, 0, 0.95, 0.85\n", 21, __LINE__)) {
        const Row rows[] = {{10, 1.0, 0.85}, {19, 0.19, 0.94}, {20, 0.1, 0.95}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }

    test_begin("use_clr_beta with cycles of one epoch");
    // nb = 10, pct 10: c = floor(10 * 0.9 / 2) = 4; annihilation is step 9 alone.
    if (make_ok(&s, "cycle_len = 1\nn_cycles = 3\nlr = 1\nuse_clr_beta = 10, 10\n", 10, __LINE__)) {
        CHECK_EQ_INT(s.total, 30);
        CHECK_EQ_INT(schedule_epochs(&s), 3);
        const Row rows[] = {
            {0, 0.1, 0.9},  {4, 1.0, 0.9},   {5, 0.775, 0.9}, {8, 0.1, 0.9},
            {9, 0.0505, 0.9}, // 0.1 (1 - 0.99/2)
            {10, 0.1, 0.9}, // second cycle restarts
            {14, 1.0, 0.9}, {19, 0.0505, 0.9}, {20, 0.1, 0.9}, {24, 1.0, 0.9}, {29, 0.0505, 0.9},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }

    test_begin("use_clr_beta = 10, 13.68, 0.95, 0.8 over 95 epochs of 98 steps");
    // nb = 9310, c = floor(9310 * 0.8632 / 2) = floor(4018.196) = 4018, 2c = 8036.
    if (make_ok(&s, "lr = 0.8\ncycle_len = 95\nuse_clr_beta = 10, 13.68, 0.95, 0.8\n", 98, __LINE__)) {
        CHECK_EQ_INT(s.total, 9310);
        CHECK_EQ_INT(schedule_epochs(&s), 95);
        const Row rows[] = {
            {0, 0.08, 0.95},
            {4017, 0.08 * (1 + 9 * 4017.0 / 4018), 0.95 - 0.15 * 4017.0 / 4018},
            {4018, 0.8, 0.8},
            {4019, 0.08 * (1 + 9 * 4017.0 / 4018), 0.95 - 0.15 * 4017.0 / 4018},
            {8035, 0.08 * (1 + 9 / 4018.0), 0.8 + 0.15 * 4017.0 / 4018},
            {8036, 0.08, 0.95},
            {8037, 0.08 * (1 - 0.99 / 1274), 0.95},
            {9309, 0.08 * (1 - 0.99 * 1273 / 1274), 0.95},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- cycles -------------------------------------------------------------------------------

static void test_cycle_mult(void) {
    test_begin("several cycles with cycle_mult");
    // Cycles of 1, 2, 4 epochs = 10, 20, 40 steps starting at 0, 10, 30; cuts 3, 6, 13.
    Schedule s;
    if (make_ok(&s, "cycle_len = 1\nn_cycles = 3\ncycle_mult = 2\nepochs = 7\nlr = 1\nuse_clr = 4, 3\n", 10,
                __LINE__)) {
        CHECK_EQ_INT(s.total, 70);
        CHECK_EQ_INT(schedule_epochs(&s), 7);
        const Row rows[] = {
            {0, 0.25, 0.9},  {3, 1.0, 0.9},       {9, 2.5 / 7, 0.9}, // p = 1/7
            {10, 0.25, 0.9}, {16, 1.0, 0.9},      {29, 17.0 / 56, 0.9},
            {30, 0.25, 0.9}, {43, 1.0, 0.9},      {69, 5.0 / 18, 0.9}, // p = 1/27
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // Without cycle_len the cycles fill `epochs`: 7 = 1 + 2 + 4, so cycle_len = 1.
    if (make_ok(&s, "n_cycles = 3\ncycle_mult = 2\nepochs = 7\nlr = 1\nuse_clr = 4, 3\n", 10, __LINE__)) {
        const Row rows[] = {{3, 1.0, 0.9}, {16, 1.0, 0.9}, {43, 1.0, 0.9}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- SGDR ---------------------------------------------------------------------------------

// lr = 1, min_lr = 0.1; cycles of 4, 8, 16 steps. LR = 0.1 + 0.45 (1 + cos(pi i/nb)).
static void test_sgdr(void) {
    test_begin("sgdr restarts");
    Schedule s;
    if (make_ok(&s, "policy = sgdr\nlr = 1\nmin_lr = 0.1\ncycle_len = 1\ncycle_mult = 2\nn_cycles = 3\n", 4,
                __LINE__)) {
        CHECK_EQ_INT(s.total, 28);
        const Row rows[] = {
            {0, 1.0, 0.9},
            {1, 0.8681980515339464, 0.9},  // cos(pi/4)
            {2, 0.55, 0.9},                // mid-cycle
            {3, 0.23180194846605365, 0.9}, // cos(3pi/4): last step before the restart
            {4, 1.0, 0.9},                 // restart
            {8, 0.55, 0.9},
            {11, 0.13425421036992097, 0.9}, // cos(7pi/8)
            {12, 1.0, 0.9},
            {27, 0.10864662381854631, 0.9}, // cos(15pi/16): last step
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- OneCycleLR ---------------------------------------------------------------------------

// T = 100, max_lr = 1: initial 0.04, final 4e-6. pct_start*T - 1 = 29.000000000000004, so
// step 29 is the last of the rise (just short of 1) and step 30 is 1/70 into the fall.
static void test_onecycle(void) {
    test_begin("onecycle by hand");
    Schedule s;
    if (make_ok(&s, "policy = onecycle\nmax_lr = 1\nepochs = 10\n", 10, __LINE__)) {
        CHECK_EQ_INT(s.total, 100);
        const Row rows[] = {
            {0, 0.04, 0.95},
            {29, 1.0, 0.85},
            // 1/70 into the fall: (1 + cos(pi/70))/2 of the way back from the peak
            {30, 0.9994965352845243, 0.8500503466729342},
            {99, 4e-6, 0.95},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- CyclicLR -----------------------------------------------------------------------------

// base 0.1, max 1, step_size 0.5 epoch = 5 steps, cycles of 10 steps over 50.
static void test_cyclic(void) {
    test_begin("triangular, triangular2, exp_range by hand");
    Schedule s;
    const char *common = "epochs = 5\nbase_lr = 0.1\nmax_lr = 1\nstep_size = 0.5\n";
    char body[512];
    snprintf(body, sizeof body, "policy = triangular\n%scycle_momentum = false\nmomentum = 0.9\n", common);
    if (make_ok(&s, body, 10, __LINE__)) {
        CHECK_EQ_INT(s.total, 50);
        const Row rows[] = {
            {0, 0.1, 0.9}, {2, 0.46, 0.9}, {4, 0.82, 0.9}, {5, 1.0, 0.9}, {6, 0.82, 0.9},
            {9, 0.28, 0.9}, {10, 0.1, 0.9}, {15, 1.0, 0.9}, {49, 0.28, 0.9},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    snprintf(body, sizeof body, "policy = triangular2\n%s", common);
    if (make_ok(&s, body, 10, __LINE__)) {
        // amplitude 0.9 / 2^k in cycle k; momentum 0.9 -> 0.8 (CyclicLR defaults) scaled alike
        const Row rows[] = {
            {0, 0.1, 0.9},     {5, 1.0, 0.8},      {12, 0.28, 0.88},   {15, 0.55, 0.85},
            {25, 0.325, 0.875}, {35, 0.2125, 0.8875}, {45, 0.15625, 0.89375}, {49, 0.11125, 0.89875},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    snprintf(body, sizeof body, "policy = exp_range\n%sgamma = 0.9\n", common);
    if (make_ok(&s, body, 10, __LINE__)) {
        // amplitude scaled by 0.9^t at the global step t
        const Row rows[] = {
            {0, 0.1, 0.9},
            {5, 0.631441, 0.840951},                              // 0.9^5 = 0.59049
            {10, 0.1, 0.9},
            {15, 0.28530201888518414, 0.9 - 0.1 * 0.20589113209464907}, // 0.9^15
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- constant, step, multistep ------------------------------------------------------------

static void test_constant_step(void) {
    test_begin("constant, step, multistep");
    Schedule s;
    if (make_ok(&s, "epochs = 2.5\n", 10, __LINE__)) { // defaults: lr 0.1, momentum 0.9
        CHECK(!strcmp(s.policy, "constant"));
        CHECK_EQ_INT(s.total, 25);
        CHECK_EQ_INT(schedule_epochs(&s), 3); // rounded up
        const Row rows[] = {{0, 0.1, 0.9}, {24, 0.1, 0.9}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    if (make_ok(&s, "policy = step\nepochs = 5\nlr = 1\nstep_size = 2\nmomentum = 0.85\n", 10, __LINE__)) {
        const Row rows[] = {
            {0, 1, 0.85}, {19, 1, 0.85}, {20, 0.1, 0.85}, {39, 0.1, 0.85}, {40, 0.01, 0.85}, {49, 0.01, 0.85},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // A milestone past the end is never reached (as in MultiStepLR).
    if (make_ok(&s, "policy = multistep\nepochs = 4\nlr = 0.4\nmilestones = 1, 3, 10\ngamma = 0.5\n", 10,
                __LINE__)) {
        const Row rows[] = {{9, 0.4, 0.9}, {10, 0.2, 0.9}, {29, 0.2, 0.9}, {30, 0.1, 0.9}, {39, 0.1, 0.9}};
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.total, 40);
        schedule_free(&s);
    }
}

// ---- phases -------------------------------------------------------------------------------

static void test_phases(void) {
    test_begin("phases written by the user");
    Schedule s;
    // 10 steps at i/10, then a last phase of 5 steps at i/4 that ends on its end values.
    if (make_ok(&s, "phases = 1:0.1>1:linear:0.95>0.85, 0.5:1>0.01:cos:0.85>0.95\n", 10, __LINE__)) {
        CHECK(!strcmp(s.policy, "phases"));
        CHECK_EQ_INT(s.total, 15);
        CHECK_EQ_INT(s.n, 2);
        const Row rows[] = {
            {0, 0.1, 0.95}, {5, 0.55, 0.9}, {9, 0.91, 0.86},
            {10, 1.0, 0.85}, {12, 0.505, 0.9}, {14, 0.01, 0.95},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // exp: 0.1 (0.01)^(t/9); momentum from `momentum`
    if (make_ok(&s, "phases = 1:0.1>0.001:exp\nmomentum = 0.8\n", 10, __LINE__)) {
        const Row rows[] = {{0, 0.1, 0.8}, {3, 0.02154434690031884, 0.8}, {9, 0.001, 0.8}};
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.cycles_momentum, 0);
        schedule_free(&s);
    }
    // poly2: end + (start - end)(1 - f)^2, then a constant phase with its own momentum
    if (make_ok(&s, "phases = 2:1>0:poly2:0.9, 1 : 0.5 : const : 0.85\n", 5, __LINE__)) {
        const Row rows[] = {{0, 1, 0.9}, {5, 0.25, 0.9}, {9, 0.01, 0.9}, {10, 0.5, 0.85}, {14, 0.5, 0.85}};
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.cycles_momentum, 1);
        schedule_free(&s);
    }
    // Fractional lengths: boundaries at round(2.5) = 3 and 5 steps, not 2 + 2 + 5.
    if (make_ok(&s, "phases = 0.25:0.1, 0.25:0.2, 0.5:0.3\n", 10, __LINE__)) {
        const Row rows[] = {{2, 0.1, 0.9}, {3, 0.2, 0.9}, {4, 0.2, 0.9}, {5, 0.3, 0.9}, {9, 0.3, 0.9}};
        CHECK_ROWS(&s, rows);
        CHECK_EQ_INT(s.total, 10);
        schedule_free(&s);
    }
    // Cycles of the phase list: 2 then 4 epochs at 4 steps each.
    if (make_ok(&s, "phases = 1:0.1>1, 1:1>0.1\nn_cycles = 2\ncycle_mult = 2\nepochs = 6\n", 4, __LINE__)) {
        CHECK_EQ_INT(s.total, 24);
        const Row rows[] = {
            {0, 0.1, 0.9}, {2, 0.55, 0.9}, {4, 1.0, 0.9}, {7, 0.1, 0.9},
            {8, 0.1, 0.9}, {12, 0.55, 0.9}, {16, 1.0, 0.9}, {23, 0.1, 0.9},
        };
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
}

// ---- PyTorch fixtures ---------------------------------------------------------------------

// Reads tests/fixtures/schedule_NAME.txt (see scripts/schedule_fixture.py): the config that
// must reproduce it, then PyTorch's LR and momentum at every step.
static void check_fixture(const char *name) {
    char path[256], line[512];
    snprintf(path, sizeof path, "tests/fixtures/schedule_%s.txt", name);
    test_begin(path);
    FILE *f = fopen(path, "r");
    if (!CHECK_MSG(f != NULL, "cannot open %s (tests run from the repository root)", path)) return;
    Config *c = xmalloc(sizeof *c);
    config_init(c, schema);
    Schedule s = {0};
    Err e = {0};
    long spe = 0, rows = 0, bad_lr = 0, bad_mom = 0, first_bad = -1;
    int built = 0, ok = 1;
    double worst = 0;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        long t;
        double lr, mom, mylr, mymom;
        if (line[0] == '#' || !line[0]) continue;
        if (!strncmp(line, "steps_per_epoch ", 16)) {
            spe = atol(line + 16);
        } else if (!strncmp(line, "set ", 4)) {
            ok = CHECK_MSG(config_set(c, line + 4, &e) == ERR_OK, "%s: %s", path, e.msg);
        } else if (!strcmp(line, "data")) {
            ok = built = CHECK_MSG(schedule_from_config(&s, c, spe, &e) == ERR_OK, "%s: %s", path, e.msg);
        } else if (built && sscanf(line, "%ld %lf %lf", &t, &lr, &mom) == 3) {
            schedule_at(&s, t, &mylr, &mymom);
            double d = fabs(mylr - lr) / lr;
            worst = d > worst ? d : worst;
            bad_lr += !near(mylr, lr);
            bad_mom += !near(mymom, mom);
            if (first_bad < 0 && (!near(mylr, lr) || !near(mymom, mom))) {
                first_bad = t;
                printf("  %s step %ld: lr %.17g vs torch %.17g, momentum %.17g vs %.17g\n", name, t, mylr, lr,
                       mymom, mom);
            }
            rows++;
        } else {
            ok = CHECK_MSG(0, "%s: cannot read line '%s'", path, line);
        }
    }
    fclose(f);
    if (built) {
        CHECK_MSG(rows == s.total, "%s: %ld steps in the fixture, %ld in the schedule", path, rows, s.total);
        CHECK_MSG(bad_lr == 0, "%s: lr differs from PyTorch at %ld steps (worst rel. %.3g)", path, bad_lr, worst);
        CHECK_MSG(bad_mom == 0, "%s: momentum differs from PyTorch at %ld steps", path, bad_mom);
    }
    schedule_free(&s);
    free(c);
}

static void test_fixtures(void) {
    static const char *const names[] = {
        "onecycle_cos", "onecycle_linear", "onecycle_three_phase_cos", "onecycle_three_phase_linear",
        "onecycle_no_momentum", "onecycle_pct0", "triangular", "triangular2", "exp_range",
        "triangular_no_momentum", "sgdr",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) check_fixture(names[i]);
}

// ---- errors -------------------------------------------------------------------------------

static void test_errors(void) {
    test_begin("impossible parameters name the config line");
    // fastai tuples
    CHECK_ERROR("epochs = 1\nuse_clr = 0, 8\n", 10, "t.cfg:3: schedule.use_clr:", "div must be >= 1");
    CHECK_ERROR("epochs = 1\nuse_clr = -2, 8\n", 10, "t.cfg:3: schedule.use_clr:", "div must be >= 1");
    CHECK_ERROR("epochs = 1\nuse_clr = 0.5, 8\n", 10, "t.cfg:3", "got 0.5");
    CHECK_ERROR("epochs = 1\nuse_clr = 10, 0.5\n", 10, "t.cfg:3", "cut_div must be >= 1");
    CHECK_ERROR("epochs = 1\nuse_clr = 10\n", 10, "t.cfg:3", "expected 2 or 4 numbers");
    CHECK_ERROR("epochs = 1\nuse_clr = 10, 8, 0.95\n", 10, "t.cfg:3", "got 3");
    CHECK_ERROR("epochs = 1\nuse_clr = 10, 8, 0.95, 0.85, 1\n", 10, "t.cfg:3", "schedule.use_clr");
    CHECK_ERROR("epochs = 1\nuse_clr_beta = 10, 100\n", 10, "t.cfg:3: schedule.use_clr_beta:", "pct");
    CHECK_ERROR("epochs = 1\nuse_clr_beta = 10, -1\n", 10, "t.cfg:3", "must be in [0, 100)");
    CHECK_ERROR("epochs = 1\nuse_clr_beta = 10, 10, 1.2, 0.8\n", 10, "t.cfg:3", "must be in [0, 1)");
    CHECK_ERROR("epochs = 1\nuse_clr_beta = 10, 10, 0.95, -0.1\n", 10, "t.cfg:3", "must be in [0, 1)");
    CHECK_ERROR("epochs = 1\nuse_clr = 10, 8\nuse_clr_beta = 10, 10\n", 10, "t.cfg:4", "both use_clr (t.cfg:3)");
    // too short a cycle: c = floor(1 * 0.9 / 2) = 0, cut = floor(5 / 8) = 0
    CHECK_ERROR("cycle_len = 1\nuse_clr_beta = 10, 10\n", 1, "t.cfg:3", "too short");
    CHECK_ERROR("cycle_len = 1\nuse_clr = 10, 8\n", 5, "t.cfg:3", "too short");
    // plain values
    CHECK_ERROR("epochs = 1\nmomentum = 1\n", 10, "t.cfg:3: schedule.momentum:", "must be in [0, 1), got 1");
    CHECK_ERROR("epochs = 1\nmomentum = -0.5\n", 10, "t.cfg:3", "must be in [0, 1)");
    CHECK_ERROR("epochs = 1\nlr = 0\n", 10, "t.cfg:3: schedule.lr:", "must be > 0");
    CHECK_ERROR("epochs = 1\nlr = -1\n", 10, "t.cfg:3: schedule.lr:", "must be > 0");
    CHECK_ERROR("epochs = 1\nlr = abc\n", 10, "t.cfg:3: schedule.lr:", "expected a number");
    CHECK_ERROR("epochs = 0\n", 10, "t.cfg:2: schedule.epochs:", "must be > 0");
    CHECK_ERROR("lr = 0.1\n", 10, "schedule.epochs", "needs");
    CHECK_ERROR("cycle_len = 1\nn_cycles = 0\nuse_clr = 10, 8\n", 10, "t.cfg:3: schedule.n_cycles:", "[1, 4096]");
    CHECK_ERROR("cycle_len = 1\ncycle_mult = 0.5\nuse_clr = 10, 8\n", 10, "t.cfg:3: schedule.cycle_mult:", ">= 1");
    CHECK_ERROR("epochs = 10\ncycle_len = 3\nn_cycles = 3\nuse_clr = 10, 8\n", 10, "t.cfg:2: schedule.epochs:",
                "cycles take 9 epochs");
    CHECK_ERROR("policy = onecycles\nepochs = 1\n", 10, "t.cfg:2: schedule.policy:", "'onecycle'");
    CHECK_ERROR("policy = clr\nepochs = 1\n", 10, "schedule.use_clr", "needs");
    // keys that would be ignored
    CHECK_ERROR("epochs = 1\ndiv_factor = 10\n", 10, "t.cfg:3: schedule.div_factor:",
                "has no effect with policy 'constant'");
    CHECK_ERROR("epochs = 1\nuse_clr_beta = 10, 10, 0.95, 0.85\nmomentum = 0.8\n", 10,
                "t.cfg:4: schedule.momentum:", "has no effect");
    CHECK_ERROR("policy = onecycle\nmax_lr = 1\nepochs = 1\nlr = 0.5\n", 10, "t.cfg:5: schedule.lr:",
                "has no effect with policy 'onecycle'");
    CHECK_ERROR("policy = sgdr\nepochs = 1\nuse_clr = 10, 8\n", 10, "t.cfg:4: schedule.use_clr:", "has no effect");
    CHECK_ERROR("policy = triangular\nepochs = 1\nbase_lr = 0.1\nmax_lr = 1\nstep_size = 0.5\ngamma = 0.5\n", 10,
                "t.cfg:7: schedule.gamma:", "has no effect");
    // onecycle
    CHECK_ERROR("policy = onecycle\nepochs = 1\n", 10, "schedule.max_lr", "needs");
    CHECK_ERROR("policy = onecycle\nmax_lr = 1\nepochs = 1\npct_start = 1.5\n", 10, "t.cfg:5: schedule.pct_start:",
                "[0, 1]");
    CHECK_ERROR("policy = onecycle\nmax_lr = 1\nepochs = 1\npct_start = 0.1\n", 10, "t.cfg:5", "one-step warm-up");
    CHECK_ERROR("policy = onecycle\nmax_lr = 1\nepochs = 1\nanneal_strategy = cosine\n", 10, "t.cfg:5",
                "anneal_strategy");
    CHECK_ERROR("policy = onecycle\nmax_lr = 1\nepochs = 1\nbase_momentum = 1.1\n", 10, "t.cfg:5", "[0, 1)");
    // CyclicLR, step, multistep, sgdr
    CHECK_ERROR("policy = triangular\nepochs = 1\nbase_lr = 1\nmax_lr = 0.1\nstep_size = 0.5\n", 10,
                "t.cfg:5: schedule.max_lr:", ">= base_lr");
    CHECK_ERROR("policy = triangular\nepochs = 1\nbase_lr = 0.1\nmax_lr = 1\nstep_size = 0.01\n", 10,
                "t.cfg:6: schedule.step_size:", "shorter than one step");
    CHECK_ERROR("policy = exp_range\nepochs = 1\nbase_lr = 0.1\nmax_lr = 1\nstep_size = 0.5\ngamma = 1.5\n", 10,
                "t.cfg:7: schedule.gamma:", "(0, 1]");
    CHECK_ERROR("policy = triangular\nepochs = 10000\nbase_lr = 0.1\nmax_lr = 1\nstep_size = 1\n", 1,
                "policy 'triangular'", "more than 4096 phases");
    CHECK_ERROR("policy = step\nepochs = 3\n", 10, "schedule.step_size", "needs");
    CHECK_ERROR("policy = multistep\nepochs = 3\nmilestones = 2, 1\n", 10, "t.cfg:4: schedule.milestones:",
                "must increase");
    CHECK_ERROR("policy = sgdr\nepochs = 3\nlr = 0.1\nmin_lr = 0.2\n", 10, "t.cfg:5: schedule.min_lr:", "got 0.2");
    // phases
    CHECK_ERROR("phases = 1:0.1>1:cosine\n", 10, "t.cfg:2: schedule.phases: phase 1 '1:0.1>1:cosine'",
                "unknown curve");
    CHECK_ERROR("phases = 1\n", 10, "t.cfg:2", "expected LEN:LR");
    CHECK_ERROR("phases = 1:0.1>abc\n", 10, "t.cfg:2", "LR must be a value or start>end");
    CHECK_ERROR("phases = 0:0.1\n", 10, "t.cfg:2", "LEN must be");
    CHECK_ERROR("phases = 1:0.1, 0.01:0.2\n", 10, "phase 2", "shorter than one step");
    CHECK_ERROR("phases = 1:0.1:1.5\n", 10, "t.cfg:2", "momentum must be in [0, 1)");
    CHECK_ERROR("phases = 1:0.1>0.2:const\n", 10, "t.cfg:2", "const needs a single value");
    CHECK_ERROR("phases = 1:0>0.1:exp\n", 10, "t.cfg:2", "exp needs values > 0");
    CHECK_ERROR("phases = 1:0.1:linear:0.9:cos:0.8\n", 10, "t.cfg:2", "unexpected field");
    CHECK_ERROR("phases = 1:0.1:poly:0.9\n", 10, "t.cfg:2", "unknown curve");
    CHECK_ERROR("phases = 1:0.1, 1:0.2\nepochs = 3\n", 10, "t.cfg:3: schedule.epochs:", "cycles take 2 epochs");
    CHECK_ERROR("phases = 1:0.1\ncycle_len = 2\n", 10, "t.cfg:3: schedule.cycle_len:", "has no effect");
    CHECK_ERROR("epochs = 1\n", 0, "steps per epoch", NULL);
}

// A dumped config (every key written, defaults included) must reload to the same schedule
// and not trip the "has no effect" check.
static void test_dump_reload(void) {
    test_begin("a dumped config reloads to the same schedule");
    Config *c = xmalloc(sizeof *c), *d = xmalloc(sizeof *d);
    config_init(c, schema);
    config_init(d, schema);
    Err e = {0};
    char buf[8192];
    Schedule a = {0}, b = {0};
    int rc = config_load_string(c, "[schedule]\nlr = 0.8\ncycle_len = 3\nuse_clr_beta = 10, 13.68, 0.95, 0.85\n",
                                "t.cfg", &e);
    if (!rc) rc = schedule_from_config(&a, c, 10, &e);
    config_dump(c, buf, sizeof buf);
    if (!rc) rc = config_load_string(d, buf, "dump", &e);
    if (!rc) rc = schedule_from_config(&b, d, 10, &e);
    if (CHECK_MSG(rc == ERR_OK, "reload: %s", e.msg)) {
        CHECK(!strcmp(b.policy, "clr_beta"));
        CHECK_EQ_INT(a.total, b.total);
        int same = 1;
        for (long t = 0; t < a.total; t++) {
            double l1, m1, l2, m2;
            schedule_at(&a, t, &l1, &m1);
            schedule_at(&b, t, &l2, &m2);
            same &= l1 == l2 && m1 == m2;
        }
        CHECK(same);
    }
    schedule_free(&a);
    schedule_free(&b);
    free(c);
    free(d);
}

// ---- output -------------------------------------------------------------------------------

static void test_csv(void) {
    test_begin("schedule_write_csv");
    Schedule s;
    if (!make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68, 0.95, 0.85\n", 10, __LINE__)) return;
    char path[400];
    snprintf(path, sizeof path, "%s/lr.csv", test_tmpdir());
    Err e = {0};
    CHECK_MSG(schedule_write_csv(&s, path, &e) == ERR_OK, "%s", e.msg);
    FILE *f = fopen(path, "r");
    if (CHECK(f != NULL)) {
        char line[256];
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "iteration,epoch,lr,momentum\n"));
        long n = 0, ok = 0;
        while (fgets(line, sizeof line, f)) {
            long t;
            double ep, lr, mom, l2, m2;
            if (sscanf(line, "%ld,%lf,%lf,%lf", &t, &ep, &lr, &mom) != 4) break;
            schedule_at(&s, t, &l2, &m2);
            ok += t == n && ep == (double)t / 10 && lr == l2 && mom == m2; // exact round trip
            if (t == 12) CHECK(!strncmp(line, "12,1.2,", 7));
            n++;
        }
        CHECK_EQ_INT(n, 30);
        CHECK_EQ_INT(ok, 30);
        fclose(f);
    }
    Err e2 = {0};
    CHECK_EQ_INT(schedule_write_csv(&s, "/nonexistent-dir/lr.csv", &e2), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e2.msg, "/nonexistent-dir/lr.csv");
    schedule_free(&s);
}

// Issue 35: on a full disk `schedule --csv` left a truncated file and an .svg output an
// empty one. The file-size limit fails the writes as a full disk does (EFBIG, SIGXFSZ
// ignored): the message says the incomplete file is removed, and it is. /dev/full, not
// being a regular file, is refused and left alone.
static void test_write_fails(void) {
    test_begin("schedule: a CSV or SVG that cannot be written whole is removed, with a message");
    Schedule s;
    if (!make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68, 0.95, 0.85\n", 10, __LINE__)) return;
    char csv[400], svg[400];
    snprintf(csv, sizeof csv, "%s/lr.csv", test_tmpdir());
    snprintf(svg, sizeof svg, "%s/lr.svg", test_tmpdir());
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {1024, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    Err e1 = {0}, e2 = {0}, e3 = {0};
    int rc_csv = ERR_OK, rc_svg = ERR_OK;
    if (CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0)) {
        rc_csv = schedule_write_csv(&s, csv, &e1);
        rc_svg = schedule_write_png(&s, svg, 0, &e2);
        setrlimit(RLIMIT_FSIZE, &old);
    }
    signal(SIGXFSZ, prev);
    CHECK_EQ_INT(rc_csv, ERR_RUNTIME);
    CHECK_STR_CONTAINS(e1.msg, "lr.csv: cannot write: File too large; the incomplete file is removed");
    CHECK_MSG(access(csv, F_OK) != 0, "a truncated %s stays", csv);
    CHECK_EQ_INT(rc_svg, ERR_RUNTIME);
    CHECK_STR_CONTAINS(e2.msg, "lr.svg: cannot write: File too large; the incomplete file is removed");
    CHECK_MSG(access(svg, F_OK) != 0, "an empty %s stays", svg);
    // A device is no output (outfile.h): refused before it is opened, and left alone.
    if (access("/dev/full", W_OK) == 0) {
        CHECK_EQ_INT(schedule_write_csv(&s, "/dev/full", &e3), ERR_INPUT);
        CHECK_STR_CONTAINS(e3.msg, "/dev/full: is a character device; outputs are written only as regular files");
        CHECK(!strstr(e3.msg, "removed") && access("/dev/full", F_OK) == 0);
    }
    schedule_free(&s);
}

// Pixels within a few levels of rgb (line interiors are drawn at full coverage).
static long count_color(const Image *img, uint32_t rgb) {
    long n = 0;
    for (long i = 0; i < (long)img->w * img->h; i++) {
        const uint8_t *p = img->rgb + 3 * i;
        int d = abs(p[0] - (int)(rgb >> 16 & 255)) + abs(p[1] - (int)(rgb >> 8 & 255)) + abs(p[2] - (int)(rgb & 255));
        n += d <= 12;
    }
    return n;
}

static void test_png(void) {
    test_begin("schedule_write_png");
    // The colours schedule_io.c documents: LR in blue, momentum in vermillion.
    const uint32_t lr_color = 0x0072B2, mom_color = 0xD55E00;
    Schedule s;
    if (!make_ok(&s, "lr = 0.8\ncycle_len = 95\nuse_clr_beta = 10, 13.68, 0.95, 0.8\n", 98, __LINE__)) return;
    const char *dir = test_tmpdir();
    char path[400];
    for (int x_epochs = 0; x_epochs <= 1; x_epochs++) {
        snprintf(path, sizeof path, "%s/fastai_1cycle_%s.png", dir, x_epochs ? "epochs" : "iterations");
        Err e = {0};
        if (!CHECK_MSG(schedule_write_png(&s, path, x_epochs, &e) == ERR_OK, "%s", e.msg)) continue;
        Image img = {0};
        if (!CHECK_MSG(png_read_rgb(path, &img, &e) == ERR_OK, "%s", e.msg)) continue;
        CHECK_EQ_INT(img.w, 900);
        CHECK_EQ_INT(img.h, 500);
        long nl = count_color(&img, lr_color), nm = count_color(&img, mom_color);
        CHECK_MSG(nl > 200, "LR line drawn (%ld pixels)", nl);
        CHECK_MSG(nm > 200, "momentum line drawn (%ld pixels)", nm);
        // Side-by-side panels: the LR on the left half, the momentum on the right.
        long left = 0, right = 0;
        for (int y = 0; y < img.h; y++)
            for (int x = 0; x < img.w; x++) {
                const uint8_t *p = img.rgb + 3 * ((long)y * img.w + x);
                int d = abs(p[0] - 0xD5) + abs(p[1] - 0x5E) + abs(p[2] - 0x00);
                if (d <= 12) *(x < img.w / 2 ? &left : &right) += 1;
            }
        CHECK_MSG(right > 10 * (left + 1), "momentum in the right panel (%ld left, %ld right)", left, right);
        image_free(&img);
    }
    schedule_free(&s);
    // Constant momentum: one panel, no momentum line.
    if (make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68\n", 10, __LINE__)) {
        snprintf(path, sizeof path, "%s/constant_mom.png", dir);
        Err e = {0};
        Image img = {0};
        if (CHECK_MSG(schedule_write_png(&s, path, 0, &e) == ERR_OK, "%s", e.msg) &&
            CHECK_MSG(png_read_rgb(path, &img, &e) == ERR_OK, "%s", e.msg)) {
            CHECK(count_color(&img, lr_color) > 200);
            CHECK_EQ_INT(count_color(&img, mom_color), 0);
            image_free(&img);
        }
        schedule_free(&s);
    }
}

// ---- the Smith configs --------------------------------------------------------------------

// The sections the lead owns, with only the keys the Smith configs use, so that the files
// load here without the other modules.
static const ConfigKey data_keys[] = {{"dir", "", ""}, {"augment", "", ""}, {"pad_mode", "", ""}, {NULL, NULL, NULL}};
static const ConfigKey model_keys[] = {{"arch", "", ""}, {"depth", "", ""}, {"shortcut", "", ""}, {NULL, NULL, NULL}};
static const ConfigKey train_keys[] = {{"batch_size", "", ""}, {"seed", "", ""}, {"checkpoint_every", "", ""},
                                        {"log_iters", "", ""}, {"bn_group", "", ""}, {NULL, NULL, NULL}};
static const ConfigKey optim_keys[] = {
    {"name", "", ""}, {"wd", "", ""}, {"nesterov", "", ""}, {"momentum_form", "pytorch", ""}, {NULL, NULL, NULL}};
static const ConfigSection full_schema[] = {
    {"data", data_keys}, {"model", model_keys}, {"train", train_keys}, {"optim", optim_keys},
    {"schedule", schedule_config_keys}, {NULL, NULL},
};

// he_setup: the config follows He et al.'s training setup (crop + flip, plain momentum);
// smith_caffe_1cycle follows Smith's (flip only, Nesterov, his network, batch-norm over
// each GPU's 128 images).
static int load_smith(Schedule *s, const char *name, int he_setup, int line) {
    char path[256];
    snprintf(path, sizeof path, "configs/%s.cfg", name);
    Config *c = xmalloc(sizeof *c);
    config_init(c, full_schema);
    Err e = {0};
    memset(s, 0, sizeof *s);
    int rc = config_load(c, path, &e);
    if (!rc) rc = schedule_from_config(s, c, 98, &e); // 50000 / 512 rounded up
    if (!rc) {
        const char *want[][3] = {{"train", "batch_size", "512"}, {"optim", "wd", "1e-4"}, {"model", "depth", "56"},
                                 {"data", "augment", "crop_flip"}, {"optim", "nesterov", "false"},
                                 {"optim", "momentum_form", "pytorch"}};
        const char *caffe[][3] = {{"data", "augment", "flip"}, {"optim", "nesterov", "true"},
                                  {"optim", "momentum_form", "caffe"}};
        for (int i = 3; i < 6 && !he_setup; i++) memcpy(want[i], caffe[i - 3], sizeof want[i]);
        for (int i = 0; i < 6; i++)
            test_check(!strcmp(config_str(c, want[i][0], want[i][1]), want[i][2]), __FILE__, line, "%s: %s.%s = %s",
                       path, want[i][0], want[i][1], want[i][2]);
        if (!he_setup)
            test_check(!strcmp(config_str(c, "model", "arch"), "caffe") && !strcmp(config_str(c, "train", "bn_group"), "128"),
                       __FILE__, line, "%s: model.arch = caffe, train.bn_group = 128", path);
    }
    free(c);
    test_check(rc == ERR_OK, __FILE__, line, "%s: %s", path, e.msg);
    if (rc) return 0;
    test_check(s->total == 95 * 98, __FILE__, line, "%s: 95 epochs (%ld steps)", path, s->total);
    return 1;
}

static void test_smith_configs(void) {
    test_begin("configs/smith_*.cfg");
    Schedule s;
    // 1cycle 0.08-0.8: c = 4018, 2c = 8036 at 98 steps per epoch
    if (load_smith(&s, "smith_1cycle_cm", 1, __LINE__)) {
        const Row rows[] = {{0, 0.08, 0.95}, {4018, 0.8, 0.8}, {8036, 0.08, 0.95}, {9309, 0.08 * (1 - 0.99 * 1273 / 1274), 0.95}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // the forum's run: momentum 0.95 -> 0.85 (use_clr_beta = 10, 13.68, 0.95, 0.85)
    if (load_smith(&s, "smith_fastai_1cycle", 1, __LINE__)) {
        const Row rows[] = {{0, 0.08, 0.95}, {4018, 0.8, 0.85}, {8036, 0.08, 0.95}, {9309, 0.08 * (1 - 0.99 * 1273 / 1274), 0.95}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    // Smith's logged LR: 0.08 -> 0.8 over 41 epochs, 0.8 -> 0 over 41, then 8e-5 held
    if (load_smith(&s, "smith_caffe_1cycle", 0, __LINE__)) {
        const Row rows[] = {{0, 0.08, 0.95},  {4018, 0.8, 0.8},       {6027, 0.4, 0.875},
                            {8035, 0.8 / 4018, 0.95 - 0.15 / 4018}, {8036, 8e-5, 0.95}, {9309, 8e-5, 0.95}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    const char *cm[] = {"smith_1cycle_mom085", "smith_1cycle_mom090", "smith_1cycle_mom095"};
    const double mom[] = {0.85, 0.9, 0.95};
    for (int i = 0; i < 3; i++)
        if (load_smith(&s, cm[i], 1, __LINE__)) {
            const Row rows[] = {{0, 0.08, mom[i]}, {4018, 0.8, mom[i]}, {8036, 0.08, mom[i]}, {9309, 0.08 * (1 - 0.99 * 1273 / 1274), mom[i]}};
            CHECK_ROWS(&s, rows);
            CHECK_EQ_INT(s.cycles_momentum, 0);
            schedule_free(&s);
        }
    // constant LR 0.1; momentum 0.95 -> 0.85 over 41 epochs, back over 41, then 0.95
    if (load_smith(&s, "smith_const_lr_cm", 1, __LINE__)) {
        const Row rows[] = {{0, 0.1, 0.95}, {2009, 0.1, 0.9}, {4018, 0.1, 0.85}, {6027, 0.1, 0.9}, {8036, 0.1, 0.95}, {9309, 0.1, 0.95}};
        CHECK_ROWS(&s, rows);
        schedule_free(&s);
    }
    if (load_smith(&s, "smith_const_lr_mom090", 1, __LINE__)) {
        const Row rows[] = {{0, 0.1, 0.9}, {9309, 0.1, 0.9}};
        CHECK_ROWS(&s, rows);
        CHECK(!strcmp(s.policy, "constant"));
        schedule_free(&s);
    }
}

// Issue 34: schedule.png drew each phase line at the first step of the next phase, one step
// after the 1cycle peak, and wrote nothing beside it.
static void test_phase_marks(void) {
    test_begin("phase lines at the peak and the end of the way down, labelled (regression)");
    Schedule s;
    if (make_ok(&s, "cycle_len = 3\nlr = 1\nuse_clr_beta = 10, 13.68, 0.95, 0.85\n", 10, __LINE__)) {
        long m[8];
        int n = schedule_phase_marks(&s, m, 8);
        CHECK_EQ_INT(n, 2);
        long peak = 0;
        double best = -1, lr, mom;
        for (long t = 0; t < s.total; t++) {
            schedule_at(&s, t, &lr, &mom);
            if (lr > best) best = lr, peak = t;
        }
        CHECK_EQ_INT(m[0], peak); // 12, the step with LR 1.0 (the next phase starts at 13)
        CHECK_EQ_INT(m[1], 24);   // 2c: back at lr/div; the annihilation starts at 25
        char path[400];
        snprintf(path, sizeof path, "%s/marks.svg", test_tmpdir());
        Err e = {0};
        CHECK_MSG(schedule_write_png(&s, path, 0, &e) == ERR_OK, "%s", e.msg);
        FILE *f = fopen(path, "r");
        static char svg[1 << 20];
        size_t len = f ? fread(svg, 1, sizeof svg - 1, f) : 0;
        svg[len] = 0;
        if (f) fclose(f);
        CHECK_STR_CONTAINS(svg, ">step 12: lr 1</text>");
        CHECK_STR_CONTAINS(svg, ">step 24: momentum 0.95</text>");
        schedule_free(&s);
    }
    // A step drop is marked at the first step of the new LR.
    if (make_ok(&s, "policy = step\nepochs = 5\nlr = 1\nstep_size = 2\nmomentum = 0.85\n", 10, __LINE__)) {
        long m[8];
        CHECK_EQ_INT(schedule_phase_marks(&s, m, 8), 2);
        CHECK_EQ_INT(m[0], 20);
        CHECK_EQ_INT(m[1], 40);
        schedule_free(&s);
    }
}

void suite_schedule(void) {
    test_phase_marks();
    test_clr();
    test_clr_floor_division();
    test_clr_beta();
    test_cycle_mult();
    test_sgdr();
    test_onecycle();
    test_cyclic();
    test_constant_step();
    test_phases();
    test_fixtures();
    test_errors();
    test_dump_reload();
    test_csv();
    test_write_fails();
    test_png();
    test_smith_configs();
}
