// test_optim.c: optim_step against torch.optim (tests/fixtures/reference_optim.bin from
// scripts/make_optim_reference.py), single steps worked out by hand, the weight-decay
// schedule multiplier, and the [optim] config checks.
//
// Tolerances: after every step the weights must agree with PyTorch to 1e-6 of the largest
// weight (float32 with another order of operations: measured <= 2.5e-7 when written), and
// the displacement w_k - w_0 to 2e-4 of the largest displacement (this is what catches a
// wrong step size of Adam's small updates; measured <= 3e-5, the rounding of weights near 3
// against displacements near 0.02). Hand-computed steps in double agree to 1e-6 relative.
#include "cli.h"
#include "fixture.h"
#include "optim.h"
#include "schedule.h"
#include "test.h"
#include <stdlib.h>

#define REF "tests/fixtures/reference_optim.bin"

static const FixtureTensor *need(const Fixture *f, const char *name) {
    const FixtureTensor *t = fixture_get(f, name);
    CHECK_MSG(t != NULL, "fixture record %s missing", name);
    return t;
}

static void check_case(const Fixture *f, const char *name) {
    char key[64];
    test_begin(name);
#define GET(suffix) (snprintf(key, sizeof key, "%s.%s", name, suffix), need(f, key))
    const FixtureTensor *kind = GET("kind"), *nest = GET("nesterov"), *wds = GET("wds"), *wd = GET("wd"),
                        *lr = GET("lr"), *mom = GET("mom"), *mult = GET("wd_mult"), *want = GET("w");
#undef GET
    const FixtureTensor *w0 = need(f, "w0"), *g = need(f, "g"), *rg = need(f, "ranges");
    if (!kind || !nest || !wds || !wd || !lr || !mom || !mult || !want || !w0 || !g || !rg) return;
    const long n = w0->n;
    const int steps = (int)lr->n, nr = (int)(rg->n / 3);
    CHECK_EQ_INT(want->n, (long)steps * n);
    CHECK_EQ_INT(g->n, (long)steps * n);
    OptimRange ranges[8];
    for (int r = 0; r < nr && r < 8; r++)
        ranges[r] = (OptimRange){(long)rg->data[3 * r], (long)rg->data[3 * r + 1], (int)rg->data[3 * r + 2]};
    OptimOptions oo = {.kind = (int)kind->data[0], .wd = wd->data[0], .nesterov = (int)nest->data[0],
                       .wd_bn_bias = 1, .beta2 = 0.999, .eps = 1e-8, .use_wd_sched = (int)wds->data[0]};
    Optimizer opt;
    optim_create(&opt, &oo, n, ranges, nr);
    float *w = malloc(sizeof(float) * (size_t)n), *dw = malloc(sizeof(float) * (size_t)n),
          *dwant = malloc(sizeof(float) * (size_t)n);
    memcpy(w, w0->data, sizeof(float) * (size_t)n);
    double worst_w = 0, worst_d = 0;
    for (int k = 0; k < steps; k++) {
        optim_step(&opt, w, g->data + (long)k * n, lr->data[k], mom->data[k], mult->data[k]);
        const float *ref = want->data + (long)k * n;
        for (long i = 0; i < n; i++) {
            dw[i] = w[i] - w0->data[i];
            dwant[i] = ref[i] - w0->data[i];
        }
        double dw_rel = max_rel_diff(w, ref, n), dd_rel = max_rel_diff(dw, dwant, n);
        CHECK_MSG(dw_rel <= 1e-6, "%s step %d: weights differ from torch by %.3g of max |w| (tol 1e-6)", name, k + 1,
                  dw_rel);
        CHECK_MSG(dd_rel <= 2e-4, "%s step %d: displacement differs from torch by %.3g of its max (tol 2e-4)", name,
                  k + 1, dd_rel);
        if (dw_rel > worst_w) worst_w = dw_rel;
        if (dd_rel > worst_d) worst_d = dd_rel;
    }
    printf("    %-10s %d steps: weights max rel diff %.2e (tol 1e-6), displacement %.2e (tol 2e-4)\n", name, steps,
           worst_w, worst_d);
    optim_free(&opt);
    free(w);
    free(dw);
    free(dwant);
}

static void test_against_torch(void) {
    Fixture f;
    test_begin("reference_optim");
    if (fixture_load(&f, REF)) {
        CHECK_MSG(0, "cannot load %s (make it with /usr/bin/python3 scripts/make_optim_reference.py)", REF);
        return;
    }
    static const char *const cases[] = {"sgd", "nesterov", "adam", "adamw", "sgd_wds", "adamw_wds"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&f, cases[i]);
    fixture_free(&f);
}

// Two weights, the first in a decayed range, the second not: w = {1, 1}, g = {0.5, 0.5}.
static void two_steps(const OptimOptions *oo, const double lr[2], const double mom[2], const double mult[2],
                      float w[2]) {
    OptimRange r[2] = {{0, 1, 1}, {1, 1, 0}};
    Optimizer opt;
    optim_create(&opt, oo, 2, r, 2);
    const float g[2] = {0.5f, 0.5f};
    w[0] = w[1] = 1;
    for (int k = 0; k < 2; k++) optim_step(&opt, w, g, lr[k], mom[k], mult[k]);
    optim_free(&opt);
}

#define CHECK_REL(a, b) CHECK_CLOSE(a, b, 0, 1e-6)

static void test_hand_steps(void) {
    const double lr[2] = {0.1, 0.2}, mom[2] = {0.9, 0.8}, one[2] = {1, 1};
    float w[2];
    test_begin("sgd by hand");
    // d = g + wd*w; v = mu*v + d; w -= lr*v.  Step 1: d = 0.6, v = 0.6, w = 0.94.
    // Step 2: d = 0.5 + 0.1*0.94 = 0.594, v = 0.8*0.6 + 0.594 = 1.074, w = 0.94 - 0.2148.
    OptimOptions sgd = {.kind = OPTIM_SGD, .wd = 0.1};
    two_steps(&sgd, lr, mom, one, w);
    CHECK_REL(w[0], 0.94 - 0.2 * 1.074);
    // The undecayed weight: v = 0.5, then 0.8*0.5 + 0.5 = 0.9; w = 1 - 0.05 - 0.18.
    CHECK_REL(w[1], 1 - 0.05 - 0.18);

    test_begin("nesterov by hand");
    // w -= lr*(d + mu*v).  Step 1: 1 - 0.1*(0.6 + 0.54) = 0.886.  Step 2: d = 0.5 + 0.0886,
    // v = 0.48 + d, w -= 0.2*(d + 0.8*v).
    OptimOptions nes = sgd;
    nes.nesterov = 1;
    two_steps(&nes, lr, mom, one, w);
    double d = 0.5 + 0.1 * 0.886, v = 0.8 * 0.6 + d;
    CHECK_REL(w[0], 0.886 - 0.2 * (d + 0.8 * v));

    test_begin("caffe momentum by hand");
    // v = mu*v + lr*d; w -= v.  Step 1: d = 0.6, v = 0.06, w = 0.94.  Step 2: d = 0.594,
    // v = 0.8*0.06 + 0.2*0.594 = 0.1668, w = 0.94 - 0.1668 (PyTorch's form: 0.94 - 0.2148,
    // as the old gradient is taken at the new LR there).
    OptimOptions caf = sgd;
    caf.caffe_momentum = 1;
    two_steps(&caf, lr, mom, one, w);
    CHECK_REL(w[0], 0.94 - (0.8 * 0.06 + 0.2 * 0.594));
    CHECK_REL(w[1], 1 - 0.05 - (0.8 * 0.05 + 0.2 * 0.5));
    // Nesterov (Caffe's NesterovSolver): w -= (1+mu)*v' - mu*v.  Step 1: v' = 0.06,
    // w = 1 - 1.9*0.06 = 0.886 (as PyTorch's).  Step 2: d = 0.5 + 0.0886, v' = 0.8*0.06 + 0.2*d.
    caf.nesterov = 1;
    two_steps(&caf, lr, mom, one, w);
    d = 0.5 + 0.1 * 0.886, v = 0.8 * 0.06 + 0.2 * d;
    CHECK_REL(w[0], 0.886 - (1.8 * v - 0.8 * 0.06));
    // At a constant LR both forms take the same steps (to float rounding).
    const double clr[2] = {0.2, 0.2};
    for (int nest = 0; nest < 2; nest++) {
        float wt[2], wc[2];
        OptimOptions a = sgd, b = sgd;
        a.nesterov = b.nesterov = nest;
        b.caffe_momentum = 1;
        two_steps(&a, clr, mom, one, wt);
        two_steps(&b, clr, mom, one, wc);
        CHECK_CLOSE(wc[0], wt[0], 1e-6, 0);
        CHECK_CLOSE(wc[1], wt[1], 1e-6, 0);
    }

    test_begin("adam by hand, beta1 changing");
    // Adam with L2 and a beta1 that moves from 0.9 to 0.8 between the steps; the bias
    // correction of step 2 is 1 - 0.8^2 (torch: the group's current beta1), not 1 - 0.9*0.8.
    const double alr[2] = {0.01, 0.02}, b1[2] = {0.9, 0.8}, b2 = 0.999, eps = 1e-8;
    OptimOptions adam = {.kind = OPTIM_ADAM, .wd = 0.1, .beta2 = b2, .eps = eps};
    two_steps(&adam, alr, b1, one, w);
    double x = 1, m = 0, s = 0, alt = 1;
    for (int k = 0; k < 2; k++) {
        double gk = 0.5 + 0.1 * x, t = k + 1;
        m = b1[k] * m + (1 - b1[k]) * gk;
        s = b2 * s + (1 - b2) * gk * gk;
        double upd = alr[k] / (1 - pow(b1[k], t)) * m / (sqrt(s) / sqrt(1 - pow(b2, t)) + eps);
        double alt_bc = k ? 1 - 0.9 * 0.8 : 1 - 0.9;
        if (k) alt = x - alr[k] / alt_bc * m / (sqrt(s) / sqrt(1 - pow(b2, t)) + eps);
        x -= upd;
    }
    CHECK_CLOSE(w[0] - 1.0, x - 1, 0, 1e-5); // displacement (~0.03), float32 weights
    CHECK_MSG(fabs((x - 1) - (alt - 1)) > 1e-3 * fabs(x - 1), "the test tells the two bias corrections apart");
    // First step of Adam is lr * sign(g) for |g| >> eps: 1 - 0.01.
    OptimRange r1 = {0, 1, 0};
    Optimizer opt;
    optim_create(&opt, &adam, 1, &r1, 1);
    float w1 = 1, g1 = -3;
    optim_step(&opt, &w1, &g1, 0.01, 0.9, 1);
    CHECK_REL(w1, 1.01);
    optim_free(&opt);

    test_begin("adamw by hand");
    // Step 1: w = 1*(1 - 0.01*0.1) - 0.01 = 0.989 (the update is lr*sign(g) again).
    OptimOptions adamw = {.kind = OPTIM_ADAMW, .wd = 0.1, .beta2 = b2, .eps = eps};
    optim_create(&opt, &adamw, 1, &(OptimRange){0, 1, 1}, 1);
    w1 = 1, g1 = 0.5f;
    optim_step(&opt, &w1, &g1, 0.01, 0.9, 1);
    CHECK_REL(w1, 0.989);
    optim_free(&opt);

    test_begin("weight-decay schedule by hand");
    // use_wd_sched with a zero gradient: only the decay acts, w *= 1 - wd*wd_mult, for every
    // optimiser, independent of the LR; ranges without decay stay put.
    const int kinds[3] = {OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW};
    for (int k = 0; k < 3; k++) {
        OptimOptions o = {.kind = kinds[k], .wd = 0.01, .beta2 = b2, .eps = eps, .use_wd_sched = 1};
        OptimRange r[2] = {{0, 1, 1}, {1, 1, 0}};
        optim_create(&opt, &o, 2, r, 2);
        float ww[2] = {2, 2}, gg[2] = {0, 0};
        optim_step(&opt, ww, gg, 0.3, 0.9, 0.5);
        CHECK_REL(ww[0], 2 * (1 - 0.01 * 0.5));
        CHECK_REL(ww[1], 2);
        optim_step(&opt, ww, gg, 0.6, 0.9, 1.0);
        CHECK_REL(ww[0], 2 * (1 - 0.005) * (1 - 0.01));
        optim_free(&opt);
    }
    // With a gradient, SGD: w = w*(1 - wd_t) - lr*v and no L2 term in v.
    OptimOptions o = {.kind = OPTIM_SGD, .wd = 0.01, .use_wd_sched = 1};
    const double half[2] = {0.5, 1.0};
    two_steps(&o, lr, mom, half, w);
    double w_a = 1 * (1 - 0.005) - 0.1 * 0.5;
    CHECK_REL(w[0], w_a * (1 - 0.01) - 0.2 * (0.8 * 0.5 + 0.5));
    CHECK_REL(w[1], 1 - 0.05 - 0.18);
}

static int load(Config *c, const char *text) {
    Err e = {0};
    config_init(c, cli_schema());
    int rc = config_load_string(c, text, "test.cfg", &e);
    if (rc) printf("    config: %s\n", e.msg);
    return rc;
}

static void test_wd_mult(void) {
    static Config c;
    Err e = {0};
    OptimOptions oo;
    Schedule s;
    test_begin("schedule_wd_mult");
    // 1cycle 0.08 -> 0.8 -> 0.08 -> 0.0008 over 4 epochs of 25 steps, 2 cycles.
    CHECK(load(&c, "[optim]\nuse_wd_sched = true\nwd = 0.01\n[schedule]\nlr = 0.8\nepochs = 4\n"
                   "use_clr_beta = 10, 10, 0.95, 0.85\nn_cycles = 2\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_OK);
    CHECK(oo.use_wd_sched && !oo.wd_norm);
    CHECK(schedule_from_config(&s, &c, 25, &e) == ERR_OK);
    CHECK_REL(s.lr_peak, 0.8);
    CHECK_EQ_INT(s.n_cycles, 2);
    CHECK_REL(schedule_wd_mult(&s, 1, 0, 0.8), 1.0);
    CHECK_REL(schedule_wd_mult(&s, 1, 0, 0.08), 0.1);
    // wd_norm: divided by sqrt(steps per cycle) = sqrt(100 / 2).
    CHECK_REL(schedule_wd_mult(&s, 1, 1, 0.4), 0.5 / sqrt(50.0));
    // Off: always 1 (PyTorch's rules).
    CHECK_REL(schedule_wd_mult(&s, 0, 0, 0.08), 1.0);
    schedule_free(&s);

    test_begin("optim config");
    CHECK(load(&c, "[optim]\nwd_norm = true\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "optim.wd_norm: only applies with use_wd_sched = true");
    CHECK(load(&c, "[optim]\nname = adam\nnesterov = true\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "optim.nesterov");
    CHECK(load(&c, "[optim]\nname = adam\nmomentum_form = caffe\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "optim.momentum_form: caffe only applies to name = sgd");
    CHECK(load(&c, "[optim]\nmomentum_form = Caffe2\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_INPUT);
    CHECK(load(&c, "[optim]\nnesterov = true\nmomentum_form = caffe\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_OK);
    CHECK(oo.kind == OPTIM_SGD && oo.nesterov && oo.caffe_momentum);
    CHECK(load(&c, "[optim]\nname = adamw\nbeta2 = 0.99\neps = 1e-6\nuse_wd_sched = yes\nwd_norm = on\n") == ERR_OK);
    CHECK(optim_options_from_config(&oo, &c, &e) == ERR_OK);
    CHECK(oo.kind == OPTIM_ADAMW && oo.use_wd_sched && oo.wd_norm);
    CHECK_REL(oo.beta2, 0.99);
}

void suite_optim(void) {
    test_against_torch();
    test_hand_steps();
    test_wd_mult();
}
