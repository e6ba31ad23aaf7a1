// cmd_lrfind.c: the `lr-find` command: its option table, output files and the printed
// advice. The work itself is in lrfind.c.
#include "cli.h"
#include "dist.h"
#include "cmd.h"
#include "cpu.h"
#include "curves.h"
#include "lrfind.h"
#include "schedule.h"
#include "rundir.h"
#include "outfile.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int parse_double(const char *opt, const char *v, double *out) {
    Err e = {0};
    if (config_parse_double(opt, v, -HUGE_VAL, HUGE_VAL, out, &e)) return cli_usage_error("%s", e.msg);
    return ERR_OK;
}

static int parse_int(const char *opt, const char *v, long lo, long hi, int *out) {
    Err e = {0};
    long x;
    if (config_parse_int(opt, v, lo, hi, &x, &e)) return cli_usage_error("%s", e.msg);
    *out = (int)x;
    return ERR_OK;
}

// "momentum=0.85,0.9,0.95" or "wd=1e-3,1e-4".
static int parse_sweep(const char *v, int *kind, double *vals, int *n) {
    const char *eq = strchr(v, '=');
    size_t klen = eq ? (size_t)(eq - v) : 0;
    if (eq && klen == 8 && !strncmp(v, "momentum", 8))
        *kind = LRFIND_SWEEP_MOMENTUM;
    else if (eq && klen == 2 && !strncmp(v, "wd", 2))
        *kind = LRFIND_SWEEP_WD;
    else
        return cli_usage_error("--sweep needs momentum=a,b,... or wd=a,b,..., got '%s'", v);
    *n = 0;
    const char *p = eq + 1;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno == ERANGE || !isfinite(x) || (*end && *end != ','))
            return cli_usage_error("--sweep: bad number list in '%s'", v);
        if (*kind == LRFIND_SWEEP_MOMENTUM ? !(x >= 0 && x < 1) : !(x >= 0 && x <= 1))
            return cli_usage_error(*kind == LRFIND_SWEEP_MOMENTUM ? "--sweep: momentum values must be in [0, 1) in '%s'"
                                                                  : "--sweep: wd values must be in [0, 1] in '%s'",
                                   v);
        if (*n == LRFIND_MAX_SWEEP) return cli_usage_error("--sweep: 16 values at most in '%s'", v);
        vals[(*n)++] = x;
        if (!*end) return ERR_OK;
        p = end + 1;
    }
}

// What the rule of lrfind.c makes of each curve, and the config lines for the run's policy.
// adaptive: Adam or AdamW, for which a tenth of the lowest loss's LR is printed too (the
// divergence rule picked an LR too high for Adam in results/REPORT.md's run 7).
static void print_advice(const LrFindCurve *c, int nc, const LrFindOptions *o, const char *policy,
                         double start_ratio, int adaptive) {
    int best_curve = -1;
    double best_loss = INFINITY;
    const char *set = o->eval_set == LRFIND_EVAL_VALID ? "validation" : "test";
    for (int k = 0; k < nc; k++) {
        const LrFindCurve *k_ = &c[k];
        LrFindAdvice a = lrfind_advise_curve(k_, NULL);
        printf("%s: %d of %d steps", k_->label, k_->n, k_->cap);
        if (k_->stop == LRFIND_STOP_INTERRUPTED)
            printf(", interrupted at lr %.4g\n", k_->lr[k_->n - 1]);
        else if (k_->stop == LRFIND_STOP_NAN)
            printf(", stopped: loss not finite at lr %.4g\n", k_->lr[k_->n - 1]);
        else if (k_->stop == LRFIND_STOP_DIVERGED)
            printf(", stopped: smoothed loss %.4g > %g x best %.4g at lr %.4g\n", k_->smooth[k_->n - 1], LRFIND_DIVERGE,
                   k_->best, k_->lr[k_->n - 1]);
        else
            printf(", up to lr %.4g without stopping\n", k_->lr[k_->n - 1]);
        if (a.status == LRFIND_ADVICE_TOO_SHORT) {
            printf("  too few steps for advice from the loss (%d finite losses)\n", a.hi);
        } else {
            printf("  loss, smoothed over %d steps (centred): %.4f at lr %.3g where the advice starts%s, lowest %.4f "
                   "at lr %.3g, %.4f at lr %.3g\n",
                   2 * lrfind_smooth_halfwidth(a.hi) + 1, a.loss_start, k_->lr[a.lo],
                   a.lo ? " (the first steps are start-up)" : "", a.loss_min, a.lr_min, a.loss_end,
                   k_->lr[a.hi - 1]);
            if (a.loss_min < best_loss) {
                best_loss = a.loss_min;
                best_curve = k;
            }
        }
        if (a.status == LRFIND_ADVICE_NO_DESCENT)
            printf("  no descent: the loss never fell %g%% below its start level, so the range says nothing yet; "
                   "start lower (--start %.2g) or take more steps (--iters)\n",
                   100 * LRFIND_MIN_DROP, o->start / 100);
        else if (a.status == LRFIND_ADVICE_NO_DIVERGENCE)
            printf("  no divergence up to lr %.3g: the loss never climbed back above its start level, so its lowest "
                   "point is only where the range ends and gives no max LR; run again with --end %.3g\n",
                   k_->lr[a.hi - 1], o->end * 10);
        else if (a.status == LRFIND_ADVICE_OK)
            printf("  the loss diverges at lr %.3g (%s); a tenth of that: %.2g\n", a.lr_div,
                   a.i_div < a.hi - 1 || (a.i_div == a.hi - 1 && a.loss_end > a.loss_start)
                       ? "back above its start level"
                       : "where the test stopped",
                   a.max_lr);
        if (a.n_evals >= 3) {
            printf("  %s accuracy over %d evaluations: %.2f%% at the first, best %.2f%%", set, a.n_evals,
                   100 * a.acc_first, 100 * a.acc_best);
            if (a.test == LRFIND_TEST_OK)
                printf("; stops rising at lr %.3g\n", a.lr_acc);
            else if (a.test == LRFIND_TEST_STILL_RISING)
                printf("; still rising at the last evaluation, so no max LR from it (widen the range)\n");
            else
                printf("; highest already at the first evaluation, so no max LR from it (start lower)\n");
        } else if (a.n_evals > 0) {
            printf("  %s accuracy: %d evaluation%s, too few to read (3 or more: a smaller --eval-every)\n", set,
                   a.n_evals, a.n_evals == 1 ? "" : "s");
        }
        if (!isfinite(a.suggest)) {
            printf("  no suggested max LR from this curve\n");
            continue;
        }
        char lines[600];
        printf("  suggested max LR %.2g (%s%s%s):\n%s", a.suggest,
               a.from_test ? "where " : "a tenth of where the loss diverges", a.from_test ? set : "",
               a.from_test ? " accuracy stops rising, Smith's rule" : "",
               lrfind_config_lines(policy, a.suggest, start_ratio, "    ", lines, sizeof lines));
        if (adaptive && a.status == LRFIND_ADVICE_OK)
            printf("  for adam/adamw, a tenth of the lowest loss's LR, %.2g, trained better than a tenth of the "
                   "divergence in results/REPORT.md's run 7 (ResNet-20, 8 epochs: 80.6%% against 64.0%%): "
                   "--set schedule.lr=%.2g (or the policy's max LR key)\n",
                   a.lr_min / 10, a.lr_min / 10);
    }
    if (nc > 1 && best_curve >= 0)
        printf("lowest smoothed loss: %s (%.4f)\n", c[best_curve].label, best_loss);
}

typedef struct LrFindArgs {
    LrFindOptions o;
    int sweep, nvals;
    double vals[LRFIND_MAX_SWEEP];
} LrFindArgs;

static int lrfind_option(void *ctx, const char *s, const char *v) {
    LrFindArgs *a = ctx;
    if (!strcmp(s, "--linear")) {
        a->o.linear = 1;
        return ERR_OK;
    }
    if (!strcmp(s, "--start")) return parse_double(s, v, &a->o.start);
    if (!strcmp(s, "--end")) return parse_double(s, v, &a->o.end);
    if (!strcmp(s, "--iters")) return parse_int(s, v, 2, 10000000, &a->o.iters);
    if (!strcmp(s, "--eval-every")) return parse_int(s, v, 1, 10000000, &a->o.eval_every);
    if (a->sweep != LRFIND_SWEEP_NONE) return cli_usage_error("%s: one sweep at a time", s);
    return parse_sweep(v, &a->sweep, a->vals, &a->nvals);
}

int cmd_lrfind(int argc, char **argv) {
    static const CliOption own[] = {{"--start", 1}, {"--end", 1},        {"--iters", 1}, {"--sweep", 1},
                                    {"--eval-every", 1}, {"--linear", 0}, {NULL, 0}};
    static LrFindArgs la;
    la = (LrFindArgs){.o = {.start = 1e-5, .end = 10, .iters = 200, .progress = stderr}};
    const CliSpec spec = {"lr-find", CLI_SET | CLI_OUT | CLI_FORCE | CLI_THREADS | CLI_SEED, own, lrfind_option, &la, 1};
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    if (!a.config) return cli_usage_error("%s", "missing CONFIG file");
    LrFindOptions o = la.o;
    int sweep = la.sweep, nvals = la.nvals;
    const double *vals = la.vals;
    if (!(o.start > 0) || !(o.end > o.start)) {
        char buf[96];
        snprintf(buf, sizeof buf, "%g and %g", o.start, o.end);
        return cli_usage_error("--start and --end must satisfy 0 < start < end, got %s", buf);
    }
    Err e = {0};
    static Config c;
    if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
    const char *dir = a.out ? a.out : "runs/lr-find";
    static char csv[FS_PATH_MAX], png[FS_PATH_MAX], cfg[FS_PATH_MAX];
    if (fs_join(csv, sizeof csv, dir, "lr_find.csv", &e) || fs_join(png, sizeof png, dir, "lr_find.png", &e) ||
        fs_join(cfg, sizeof cfg, dir, "lr_find.cfg", &e))
        return cli_fail(&e);
    // The output directory is this process's until it exits (rundir.h), as a run's is.
    // Under mpirun, rank 0's: it alone writes and prints; the ranks agree on each outcome
    // that one of them alone can fail (dist_agree), and every step is data-parallel.
    const int io = dist_rank() == 0;
    if (!io) o.progress = NULL;
    static RunDir rd;
    if (io) {
        rc = rundir_lock(&rd, dir, &e);
        if (!rc && !a.force && (fs_exists(csv) || fs_exists(png))) {
            rundir_unlock(&rd, 0);
            rc = err_set(&e, ERR_INPUT, "%s already holds a range test (%s); use --out DIR for a new one or --force to overwrite",
                         dir, fs_exists(csv) ? "lr_find.csv" : "lr_find.png");
        } else if (!rc) {
            // Its three files must be regular ones (or absent) before anything is touched: a
            // FIFO would block, a link would be written through. Then --force's removal of
            // the old test, so no old curve stays beside the new config.
            rc = rundir_check_lrfind_files(&rd, &e) || rundir_remove_leftovers(&rd, NULL, &e) ||
                 (a.force && rundir_remove_lrfind(&rd, &e)) ? e.code : ERR_OK;
            if (rc) rundir_unlock(&rd, 0);
        }
    }
    if (dist_agree(rc, &e)) return cli_fail(&e);
    int nthreads;
    double momentum;
    if (train_set_cpu(&c, &nthreads, &e) || config_double_in(&c, "schedule", "momentum", 0, 0.999999, &momentum, &e)) {
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    static Trainer t;
    if (dist_agree(trainer_create(&t, &c, &e), &e)) {
        trainer_free(&t);
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    o.eval_set = t.valid.n ? LRFIND_EVAL_VALID : LRFIND_EVAL_TEST; // what trainer_evaluate is given
    static char dump[65536];
    config_dump(&c, dump, sizeof dump);
    // Under mpirun every rank runs the same config on the same data, or none starts.
    rc = trainer_agree_ranks(&t, dump, &e);
    if (dist_agree(io ? rc : ERR_OK, &e)) {
        trainer_free(&t);
        if (io) rundir_unlock(&rd, 1);
        return cli_fail(&e);
    }
    if (dist_agree(io ? outfile_write_text(cfg, dump, &e) : ERR_OK, &e)) {
        trainer_free(&t);
        return cli_fail(&e);
    }
    // From here SIGINT/SIGTERM end the curve under way after its step, as in train: the
    // curves so far are written and the command exits 3.
    o.stop = cli_catch_stop_signals();
    int nc = sweep == LRFIND_SWEEP_NONE ? 1 : nvals;
    LrFindCurve *curves = xcalloc((size_t)nc, sizeof(LrFindCurve));
    char name[64];
    if (io)
        fprintf(stderr, "lr-find: %s, batch %d, %d train / %d %s images, %d thread%s; lr %g -> %g (%s) over %d steps\n",
            model_name(&t.model_opt, name, sizeof name), t.opt.batch_size, t.train.n,
            t.valid.n ? t.valid.n : t.test.n, t.valid.n ? "validation (--eval-every)" : "test", nthreads,
            plural_s(nthreads), o.start, o.end,
            o.linear ? "linear" : "exponential", o.iters);
    rc = ERR_OK;
    for (int k = 0; k < nc && !rc; k++) {
        LrFindCurve *cv = &curves[k];
        o.momentum = momentum;
        o.wd = t.optim_opt.wd;
        if (sweep == LRFIND_SWEEP_MOMENTUM) o.momentum = vals[k];
        if (sweep == LRFIND_SWEEP_WD) o.wd = vals[k];
        if (sweep == LRFIND_SWEEP_MOMENTUM)
            snprintf(cv->label, sizeof cv->label, "momentum=%g", o.momentum);
        else if (sweep == LRFIND_SWEEP_WD)
            snprintf(cv->label, sizeof cv->label, "wd=%g", o.wd);
        else
            snprintf(cv->label, sizeof cv->label, "momentum=%g wd=%g", o.momentum, o.wd);
        if (io) fprintf(stderr, "curve %d/%d: %s\n", k + 1, nc, cv->label);
        // Written after every curve, so an interrupted sweep keeps what it finished.
        if ((rc = dist_agree(lrfind_run(&t, &o, cv, &e), &e))) break;
        if (io && !(rc = lrfind_write_csv(csv, curves, k + 1, o.eval_every > 0 ? o.eval_set : 0, &e)))
            rc = lrfind_write_png(png, curves, k + 1, o.linear, o.eval_every > 0 ? o.eval_set : 0, &e);
        if ((rc = dist_agree(rc, &e))) break;
        if (cv->stop == LRFIND_STOP_INTERRUPTED)
            rc = err_set(&e, ERR_INTERRUPTED, "interrupted at step %d of curve %d/%d (%s); the curves so far are in %s and %s",
                         cv->n, k + 1, nc, cv->label, csv, png);
    }
    // The policy's own ratio of peak to starting LR, for the min LR the advice implies.
    char policy[sizeof t.sched.policy];
    double lr0, mom0;
    snprintf(policy, sizeof policy, "%s", t.sched.policy);
    schedule_at(&t.sched, 0, &lr0, &mom0);
    double start_ratio = lr0 > 0 ? t.sched.lr_peak / lr0 : 1;
    const int adaptive = t.optim_opt.kind != OPTIM_SGD;
    trainer_free(&t);
    if (!rc && io) {
        print_advice(curves, nc, &o, policy, start_ratio, adaptive);
        printf("wrote %s, %s, %s\n", csv, png, cfg);
    }
    for (int k = 0; k < nc; k++) lrfind_curve_free(&curves[k]);
    free(curves);
    return rc ? cli_fail(&e) : ERR_OK;
}
