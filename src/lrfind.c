// lrfind.c: the LR range test: LR sequence, loss smoothing, stop rule, advice, the loop
// over a Trainer, and its CSV and PNG outputs.
//
// Two smoothings, for two jobs. The stop rule runs online, step by step, on fastai's EMA
// (beta 0.98, debiased): the `smoothed_loss` column, comparable with fastai's lr_find.
// The advice and the plot use a zero-lag smoothing of the raw losses, computed afterwards
// (lrfind_smooth: a centred running median, then a centred running mean, over 2h+1 steps
// with h = max(2, n/25)). Why: an EMA lags by about 1/(1-beta) = 50 steps, which on a
// 60-100 step test is most of the run. Its minimum then sits wherever the first, high
// losses of the random network have finally faded, usually near the end of the range (a
// test to LR 10 and one to LR 3 "find" 0.31 and 0.27 on the same model), and a dip in the
// early noise can outweigh the real descent. A centred window has no lag, the median
// ignores single wild batches, and its width follows the number of steps, so a short test
// is not smoothed out of shape.
//
// The rule (lrfind_advise), on the smoothed loss S:
//  1. Skip the start-up transient: the first LRFIND_SKIP_START (10) points, when at least
//     5 remain. There the random network's loss moves for reasons other than the LR
//     (batch-norm statistics, momentum building up). S at the first point kept is the start
//     level L0; the window runs to the last finite loss.
//  2. The lowest S in the window is the minimum Lmin at lr_min. No descent (no advice) unless
//     Lmin is at least LRFIND_MIN_DROP (5%) below L0.
//  3. Divergence: the first point after the minimum where S climbs back above L0 (training
//     there makes the model worse than where the range began), or, when the test stopped
//     (loss not finite, or its EMA above 4x the best) before that, the stopping point. Its
//     LR is lr_div. No divergence seen: no number. The minimum would then be wherever the
//     range happens to end, so we say so and suggest a larger --end instead.
//  4. max LR = lr_div / 10. fastai's rule is "a tenth of the minimum of the EMA curve"; that
//     minimum, lagged, sits about where the loss starts to blow up, which lr_div measures
//     without the lag. A decade below it is where Smith's "largest LR at which the loss is
//     still decreasing" lies on a steep curve, and it is safely inside the flat bottom of a
//     batch-normalised network's curve. A threshold crossing of a rising curve moves little
//     with noise, unlike the position of the lowest point of a flat bottom.
//  5. With --eval-every, the test curve decides, as in Smith (2017, section 3.3) and
//     (2018): the LR where test accuracy stops rising, i.e. the lowest LR whose accuracy is
//     within LRFIND_ACC_TOL (1 point) of the best. Nothing from it when the best is at the
//     last evaluation (still rising: widen the range) or at the first (it never rose).
//     Then the loss rule above is only the cross-check.
// The min LR of a cyclical schedule follows from the policy's own ratio (lr/div for
// use_clr_beta, max_lr/div_factor for onecycle, Smith's 0.08-0.8 is div 10).
#include "lrfind.h"
#include "dist.h"
#include "plot.h"
#include "outfile.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double lrfind_lr_at(double start, double end, int n, int i, int linear) {
    if (n < 2) return start;
    double f = (double)i / (double)(n - 1);
    return linear ? start + (end - start) * f : start * pow(end / start, f);
}

void lrfind_smoother_init(LrFindSmoother *s) {
    s->avg = 0;
    s->best = NAN;
    s->n = 0;
}

int lrfind_smoother_feed(LrFindSmoother *s, double loss, double *smoothed) {
    if (!isfinite(loss)) {
        *smoothed = NAN;
        return LRFIND_STOP_NAN;
    }
    s->n++;
    s->avg = LRFIND_BETA * s->avg + (1 - LRFIND_BETA) * loss;
    double sm = s->avg / (1 - pow(LRFIND_BETA, s->n));
    *smoothed = sm;
    // The first few smoothed values rest on one or two batches of a random model; a lucky
    // one would make the 4x bound too tight, so the best is tracked only from then on.
    if (s->n - 1 < LRFIND_WARMUP) return LRFIND_GO;
    if (isnan(s->best) || sm < s->best) s->best = sm;
    return sm > LRFIND_DIVERGE * s->best ? LRFIND_STOP_DIVERGED : LRFIND_GO;
}

static void window(int m, int *lo, int *hi) {
    *lo = m - LRFIND_SKIP_START >= 5 ? LRFIND_SKIP_START : 0;
    *hi = m;
}

int lrfind_smooth_halfwidth(int n) {
    int h = n / 25;
    return h < 2 ? 2 : h > 100 ? 100 : h;
}

// out[i] = f(in[j0 .. j0+w)), the window of width w centred on i, slid inward at the ends.
static void running(const double *in, int m, int h, int use_median, double *out) {
    int w = 2 * h + 1 < m ? 2 * h + 1 : m;
    double *buf = xmalloc(sizeof(double) * (size_t)w);
    for (int i = 0; i < m; i++) {
        int j0 = i - w / 2;
        if (j0 < 0) j0 = 0;
        if (j0 > m - w) j0 = m - w;
        if (use_median) {
            out[i] = median(in + j0, w, buf);
        } else {
            double sum = 0;
            for (int j = j0; j < j0 + w; j++) sum += in[j];
            out[i] = sum / w;
        }
    }
    free(buf);
}

int lrfind_smooth(const double *loss, int n, double *out) {
    int m = 0;
    while (m < n && isfinite(loss[m])) m++;
    for (int i = m; i < n; i++) out[i] = NAN;
    if (m == 0) return 0;
    int h = lrfind_smooth_halfwidth(m);
    double *med = xmalloc(sizeof(double) * (size_t)m);
    running(loss, m, h, 1, med);
    running(med, m, h, 0, out);
    free(med);
    return m;
}

static void advise_test(LrFindAdvice *a, const double *lr, const double *acc, int n) {
    int first = -1, best = -1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(acc[i])) continue;
        a->n_evals++;
        if (first < 0) first = i;
        if (best < 0 || acc[i] > acc[best]) best = i;
    }
    if (a->n_evals < 3) return;
    a->acc_first = acc[first];
    a->acc_best = acc[best];
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(acc[i])) continue;
        if (a->i_acc < 0 && acc[i] >= acc[best] - LRFIND_ACC_TOL) a->i_acc = i;
        last = i;
    }
    if (a->i_acc == first) {
        a->test = LRFIND_TEST_NO_RISE;
    } else if (a->i_acc == last) {
        a->test = LRFIND_TEST_STILL_RISING;
    } else {
        a->test = LRFIND_TEST_OK;
        a->lr_acc = lr[a->i_acc];
    }
}

LrFindAdvice lrfind_advise(const double *lr, const double *loss, const double *test_acc, int n, int stop,
                           double *smooth) {
    LrFindAdvice a = {0};
    a.i_min = a.i_div = a.i_acc = -1;
    a.loss_start = a.loss_min = a.loss_end = a.lr_min = a.lr_div = a.max_lr = NAN;
    a.acc_first = a.acc_best = a.lr_acc = a.suggest = NAN;
    if (test_acc) advise_test(&a, lr, test_acc, n);
    double *S = smooth ? smooth : xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int m = lrfind_smooth(loss, n, S);
    window(m, &a.lo, &a.hi);
    if (a.hi - a.lo < 3) {
        a.status = LRFIND_ADVICE_TOO_SHORT;
    } else {
        a.i_min = a.lo;
        for (int i = a.lo; i < a.hi; i++)
            if (S[i] < S[a.i_min]) a.i_min = i;
        a.loss_start = S[a.lo];
        a.loss_min = S[a.i_min];
        a.loss_end = S[a.hi - 1];
        a.lr_min = lr[a.i_min];
        if (!(a.loss_min <= (1 - LRFIND_MIN_DROP) * a.loss_start)) {
            a.status = LRFIND_ADVICE_NO_DESCENT;
        } else {
            for (int i = a.i_min + 1; i < a.hi && a.i_div < 0; i++)
                if (S[i] > a.loss_start) a.i_div = i;
            // A test stopped by the rule diverged where it stopped: a loss that was not
            // finite (that row, when the curve has it), else the last step.
            if (a.i_div < 0 && (stop == LRFIND_STOP_NAN || stop == LRFIND_STOP_DIVERGED))
                a.i_div = stop == LRFIND_STOP_NAN && m < n ? m : a.hi - 1;
            if (a.i_div < 0) {
                a.status = LRFIND_ADVICE_NO_DIVERGENCE;
            } else {
                a.status = LRFIND_ADVICE_OK;
                a.lr_div = lr[a.i_div];
                a.max_lr = a.lr_div / 10;
            }
        }
    }
    if (a.test == LRFIND_TEST_OK) {
        a.suggest = a.lr_acc;
        a.from_test = 1;
    } else if (a.status == LRFIND_ADVICE_OK) {
        a.suggest = a.max_lr;
    }
    if (!smooth) free(S);
    return a;
}

LrFindAdvice lrfind_advise_curve(const LrFindCurve *c, double *smooth) {
    return lrfind_advise(c->lr, c->loss, c->test_acc, c->n, c->stop, smooth);
}

char *lrfind_config_lines(const char *policy, double max_lr, double start_ratio, const char *indent, char *buf,
                          size_t cap) {
    const char *key = "lr", *note = "";
    char low[96] = "", second[96] = "", set2[64] = "";
    if (!(start_ratio >= 1)) start_ratio = 1;
    if (start_ratio > 1.000001)
        snprintf(low, sizeof low, "the cycle then starts at %.2g (peak / %.3g)", max_lr / start_ratio, start_ratio);
    if (!strcmp(policy, "onecycle")) {
        key = "max_lr";
        note = low[0] ? low : "OneCycleLR's max_lr";
    } else if (!strcmp(policy, "clr_beta") || !strcmp(policy, "clr")) {
        note = low[0] ? low : "fastai's lr, the peak of the cycle";
    } else if (!strcmp(policy, "triangular") || !strcmp(policy, "triangular2") || !strcmp(policy, "exp_range")) {
        key = "max_lr";
        note = "CyclicLR's upper bound";
        snprintf(second, sizeof second, "%sbase_lr = %.2g    # a quarter of max_lr (Smith 2017: a third to a quarter)\n",
                 indent, max_lr / 4);
        snprintf(set2, sizeof set2, " --set schedule.base_lr=%.2g", max_lr / 4);
    } else if (!strcmp(policy, "sgdr")) {
        note = "the top of every cosine cycle";
    } else if (!strcmp(policy, "step") || !strcmp(policy, "multistep")) {
        note = "the initial LR, decayed from there";
    } else if (!strcmp(policy, "constant")) {
        note = "the LR throughout";
    } else if (!strcmp(policy, "phases")) {
        snprintf(buf, cap, "%s[schedule]    # policy phases\n%s# scale the LRs in `phases` so that the largest is %.2g\n",
                 indent, indent, max_lr);
        return buf;
    }
    snprintf(buf, cap, "%s[schedule]    # policy %s\n%s%s = %.2g    # %s\n%s%sor: --set schedule.%s=%.2g%s\n", indent,
             policy, indent, key, max_lr, note, second, indent, key, max_lr, set2);
    return buf;
}

void lrfind_curve_free(LrFindCurve *c) {
    free(c->lr);
    free(c->loss);
    free(c->smooth);
    free(c->test_loss);
    free(c->test_acc);
    c->lr = c->loss = c->smooth = c->test_loss = c->test_acc = NULL;
    c->n = c->cap = 0;
}

void lrfind_drive(const LrFindOptions *o, LrFindStepFn step, LrFindEvalFn eval, void *ctx, LrFindCurve *c) {
    const int N = o->iters;
    c->cap = N;
    c->n = 0;
    c->momentum = o->momentum;
    c->wd = o->wd;
    c->lr = xmalloc(sizeof(double) * (size_t)N);
    c->loss = xmalloc(sizeof(double) * (size_t)N);
    c->smooth = xmalloc(sizeof(double) * (size_t)N);
    c->test_loss = xmalloc(sizeof(double) * (size_t)N);
    c->test_acc = xmalloc(sizeof(double) * (size_t)N);
    for (int i = 0; i < N; i++) c->test_loss[i] = c->test_acc[i] = NAN;
    c->stop = LRFIND_STOP_END;
    LrFindSmoother s;
    lrfind_smoother_init(&s);
    int every = N >= 20 ? N / 20 : 1;
    double t0 = now_seconds();
    for (int i = 0; i < N; i++) {
        double lr = lrfind_lr_at(o->start, o->end, N, i, o->linear), sm;
        double loss = step(ctx, lr, o->momentum);
        int rc = lrfind_smoother_feed(&s, loss, &sm);
        // A stop request on any rank ends every rank's curve after this same step.
        if (o->stop && dist_any(*o->stop != 0) && !rc) rc = LRFIND_STOP_INTERRUPTED;
        c->lr[i] = lr;
        c->loss[i] = loss;
        c->smooth[i] = sm;
        c->n = i + 1;
        int evaluated = rc == LRFIND_GO && eval && o->eval_every > 0 && (i + 1) % o->eval_every == 0;
        if (evaluated) eval(ctx, &c->test_loss[i], &c->test_acc[i]);
        if (o->progress && (rc || evaluated || (i + 1) % every == 0 || i + 1 == N)) {
            fprintf(o->progress, "  %s  step %d/%d  lr %.4g  loss %.4f  smoothed %.4f", c->label, i + 1, N, lr, loss, sm);
            if (evaluated)
                fprintf(o->progress, "  %s loss %.4f acc %.2f%%", lrfind_eval_name(o->eval_set), c->test_loss[i],
                        100 * c->test_acc[i]);
            fprintf(o->progress, "  %.1fs\n", now_seconds() - t0);
            fflush(o->progress);
        }
        if (rc) {
            c->stop = rc;
            break;
        }
    }
    c->best = s.best;
}

// ---- the Trainer as the model under test ---------------------------------------------

typedef struct TrainerCtx {
    Trainer *t;
    Loader loader; // full batches, reshuffled when they run out
} TrainerCtx;

// Iterations are not tied to epochs: every step of the sweep sees a batch of the configured
// size (LOADER_FULL). The weight decay stays at its configured value (multiplier 1).
static double trainer_step(void *ctx, double lr, double momentum) {
    TrainerCtx *c = ctx;
    Trainer *t = c->t;
    double loss;
    int share, nb = loader_next(&c->loader, t->x, t->y, &share);
    if (train_step(&t->net, &t->optim, t->x, t->y, nb, share, lr, momentum, 1.0, INFINITY, &loss, NULL)) t->step++;
    return loss;
}

const char *lrfind_eval_name(int eval_set) {
    return eval_set == LRFIND_EVAL_VALID ? "valid" : "test";
}

// The validation split when there is one: tuning the LR on the test set is what it avoids.
static void trainer_eval(void *ctx, double *loss, double *acc) {
    TrainerCtx *c = ctx;
    EvalResult r = trainer_evaluate(c->t, c->t->valid.n ? &c->t->valid : &c->t->test);
    *loss = r.loss;
    *acc = r.acc;
}

int lrfind_run(Trainer *t, const LrFindOptions *o, LrFindCurve *out, Err *e) {
    if (!(o->start > 0) || !(o->end > o->start) || o->iters < 2)
        return err_set(e, ERR_INPUT, "lr-find: need 0 < start < end and at least 2 iterations (got %g, %g, %d)",
                       o->start, o->end, o->iters);
    // Every curve begins from identical weights and sees identical batches and augmentations.
    trainer_reset(t);
    optim_set_wd(&t->optim, o->wd);
    TrainerCtx ctx = {.t = t};
    loader_create(&ctx.loader, &t->train, &t->data, t->opt.batch_size, LOADER_FULL, t->rank, t->world);
    loader_set_shares(&ctx.loader, t->shares); // the layout the model's shares take (resnet.h)
    loader_reset(&ctx.loader, (uint64_t)t->opt.seed); // the streams trainer_reset gave the trainer
    lrfind_drive(o, trainer_step, o->eval_every > 0 ? trainer_eval : NULL, &ctx, out);
    loader_free(&ctx.loader);
    return ERR_OK;
}

// ---- outputs ---------------------------------------------------------------------------

int lrfind_write_csv(const char *path, const LrFindCurve *c, int ncurves, int with_eval, Err *e) {
    OutFile of;
    if (outfile_open(&of, path, e)) return e->code;
    FILE *f = of.f;
    const char *set = lrfind_eval_name(with_eval);
    if (with_eval)
        fprintf(f, "curve,iteration,lr,loss,smoothed_loss,%s_loss,%s_acc\n", set, set);
    else
        fprintf(f, "curve,iteration,lr,loss,smoothed_loss\n");
    for (int k = 0; k < ncurves; k++)
        for (int i = 0; i < c[k].n; i++) {
            fprintf(f, "%s,%d,%.8g,%.6f,%.6f", c[k].label, i, c[k].lr[i], c[k].loss[i], c[k].smooth[i]);
            if (with_eval) {
                if (isnan(c[k].test_loss[i]))
                    fprintf(f, ",,");
                else
                    fprintf(f, ",%.6f,%.6f", c[k].test_loss[i], c[k].test_acc[i]);
            }
            fprintf(f, "\n");
        }
    return outfile_commit(&of, 0, e);
}

static void curve_append(LrFindCurve *c, const double *v) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 128;
        double **cols[5] = {&c->lr, &c->loss, &c->smooth, &c->test_loss, &c->test_acc};
        for (int k = 0; k < 5; k++) *cols[k] = xrealloc(*cols[k], sizeof(double) * (size_t)c->cap);
    }
    c->lr[c->n] = v[0];
    c->loss[c->n] = v[1];
    c->smooth[c->n] = v[2];
    c->test_loss[c->n] = v[3];
    c->test_acc[c->n++] = v[4];
}

int lrfind_read_csv(const char *path, LrFindCurve **out, int *ncurves, int *with_eval, Err *e) {
    *out = NULL;
    *ncurves = *with_eval = 0;
    FILE *f = fs_fopen_regular(path, "a regular file (an lr_find.csv)", NULL, e);
    if (!f) return e->code;
    char line[1024];
    int rc = ERR_OK, lineno = 1, n = 0;
    LrFindCurve *c = NULL;
    if (!fgets(line, sizeof line, f) || strncmp(line, LRFIND_CSV_HEADER, strlen(LRFIND_CSV_HEADER)))
        rc = err_set(e, ERR_INPUT, "%s:1: not an lr_find.csv: expected header '%s'", path, LRFIND_CSV_HEADER);
    else
        *with_eval = strstr(line, ",test_loss,test_acc")     ? LRFIND_EVAL_TEST
                     : strstr(line, ",valid_loss,valid_acc") ? LRFIND_EVAL_VALID
                                                             : LRFIND_EVAL_NONE;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        char *comma = strchr(line, ',');
        if (!comma || comma - line >= (long)sizeof c[0].label) {
            rc = err_set(e, ERR_INPUT, "%s:%d: expected 'curve,iteration,lr,...'", path, lineno);
            break;
        }
        *comma = 0;
        if (!n || strcmp(c[n - 1].label, line)) {
            c = xrealloc(c, sizeof *c * (size_t)(n + 1));
            memset(&c[n], 0, sizeof c[n]);
            snprintf(c[n].label, sizeof c[n].label, "%s", line);
            c[n].momentum = c[n].wd = NAN;
            const char *m = strstr(line, "momentum="), *w = strstr(line, "wd=");
            if (m) c[n].momentum = atof(m + 9);
            if (w) c[n].wd = atof(w + 3);
            c[n].best = NAN;
            n++;
        }
        double v[6] = {0, 0, 0, 0, NAN, NAN};
        char *p = comma + 1;
        for (int k = 0; k < (*with_eval ? 6 : 4) && !rc; k++) {
            char *end = strchr(p, ',');
            if (end) *end = 0;
            char *stop;
            if (k >= 4 && !*p)
                v[k] = NAN;
            else if (v[k] = strtod(p, &stop), !*p || *stop)
                rc = err_set(e, ERR_INPUT, "%s:%d: field %d: expected a number, got '%.40s'", path, lineno, k + 2, p);
            if (!end && k < (*with_eval ? 5 : 3) && !rc)
                rc = err_set(e, ERR_INPUT, "%s:%d: too few fields", path, lineno);
            p = end ? end + 1 : p + strlen(p);
        }
        if (!rc) curve_append(&c[n - 1], v + 1);
    }
    fclose(f);
    if (!rc && !n) rc = err_set(e, ERR_INPUT, "%s: no steps in it (only the header)", path);
    if (rc) {
        for (int k = 0; k < n; k++) lrfind_curve_free(&c[k]);
        free(c);
        return rc;
    }
    *out = c;
    *ncurves = n;
    return ERR_OK;
}

int lrfind_csv_is_linear(const LrFindCurve *c) {
    if (c->n < 3) return 0;
    double d0 = c->lr[1] - c->lr[0], d1 = c->lr[c->n - 1] - c->lr[c->n - 2];
    return fabs(d1 - d0) <= 1e-3 * fabs(d0);
}

// Where the plotted curve is cut: past the minimum, once S climbs more than twice the
// descent above it and half as high again as its highest point before (an explosion would
// flatten everything else), or at the end.
// The raw losses are clipped at the same height (a wild batch would do the same).
static int plot_cut(const double *S, const LrFindAdvice *a, double *cap) {
    *cap = INFINITY;
    if (a->status == LRFIND_ADVICE_TOO_SHORT) return a->hi;
    double top = a->loss_min;
    for (int i = a->lo; i <= a->i_min; i++) top = fmax(top, S[i]);
    *cap = fmax(a->loss_min + 2 * (top - a->loss_min), top + 0.5 * fabs(top));
    for (int i = a->i_min + 1; i < a->hi; i++)
        if (S[i] > *cap) return i;
    return a->hi;
}

static void advice_title(char *buf, size_t cap, const LrFindAdvice *a, const LrFindCurve *c, const char *set) {
    if (isfinite(a->suggest))
        snprintf(buf, cap, "LR range test: suggested max LR %.2g, %s%s%s", a->suggest,
                 a->from_test ? "where " : "a tenth of where the loss diverges", a->from_test ? set : "",
                 a->from_test ? " accuracy stops rising" : "");
    else if (a->status == LRFIND_ADVICE_NO_DIVERGENCE)
        snprintf(buf, cap, "LR range test: no divergence up to LR %.2g, so no suggestion (widen the range)",
                 c->lr[a->hi - 1]);
    else if (a->status == LRFIND_ADVICE_NO_DESCENT)
        snprintf(buf, cap, "LR range test: the loss did not fall, so no suggestion");
    else
        snprintf(buf, cap, "LR range test: too few points for a suggestion");
}

int lrfind_write_png(const char *path, const LrFindCurve *c, int ncurves, int linear, int with_eval, Err *e) {
    // The set the evaluations come from, as the panel and the legend name it.
    const char *set = with_eval == LRFIND_EVAL_VALID ? "validation" : "test";
    PlotSeries *loss = xcalloc((size_t)ncurves + 1, sizeof(PlotSeries));
    PlotSeries *ev = xcalloc((size_t)(2 * ncurves + 1), sizeof(PlotSeries));
    double **buf = xcalloc((size_t)(4 * ncurves + 1), sizeof(double *));
    char (*names)[128] = xcalloc((size_t)(2 * ncurves + 1), sizeof *names);
    int nev = 0, nloss = 0;
    LrFindAdvice a = {0};
    for (int k = 0; k < ncurves; k++) {
        double *S = buf[4 * k + 3] = xmalloc(sizeof(double) * (size_t)(2 * c[k].n + 1)), *raw = S + c[k].n, cap;
        LrFindAdvice ak = lrfind_advise_curve(&c[k], S);
        if (k == 0) a = ak;
        int lo = ak.lo, cut = plot_cut(S, &ak, &cap);
        for (int i = lo; i < cut; i++) raw[i] = fmin(c[k].loss[i], cap);
        if (ncurves == 1) // the raw loss, faint, under its smoothed line
            loss[nloss++] = (PlotSeries){.name = "loss of each step", .x = c[k].lr + lo, .y = raw + lo, .n = cut - lo,
                                         .color = 0xBBBBBB};
        loss[nloss++] = (PlotSeries){.name = ncurves == 1 ? "smoothed (what the advice reads)" : c[k].label,
                                     .x = c[k].lr + lo, .y = S + lo, .n = cut - lo,
                                     .color = ncurves == 1 ? 0x0072B2 : 0};
        if (!with_eval) continue;
        // Evaluations are sparse: gather them so their points join into lines.
        double *x = buf[4 * k] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
        double *yl = buf[4 * k + 1] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
        double *ya = buf[4 * k + 2] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
        int m = 0;
        for (int i = 0; i < c[k].n; i++)
            if (!isnan(c[k].test_loss[i])) {
                x[m] = c[k].lr[i];
                yl[m] = c[k].test_loss[i];
                ya[m++] = 100 * c[k].test_acc[i];
            }
        // One colour per curve in both panels (plot.c's palette order), so a sweep value
        // reads the same everywhere; loss solid, accuracy dashed.
        static const uint32_t pal[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00, 0x56B4E9, 0x1A1A1A, 0xB8A000};
        uint32_t color = ncurves > 1 ? pal[k % 8] : 0; // one curve: the palette tells loss from accuracy
        snprintf(names[2 * k], sizeof names[0], "%s loss%s%s", set, ncurves > 1 ? " " : "",
                 ncurves > 1 ? c[k].label : "");
        snprintf(names[2 * k + 1], sizeof names[0], "%s acc%s%s", set, ncurves > 1 ? " " : "",
                 ncurves > 1 ? c[k].label : "");
        ev[nev++] = (PlotSeries){.name = names[2 * k], .x = x, .y = yl, .n = m, .color = color};
        ev[nev++] = (PlotSeries){.name = names[2 * k + 1], .x = x, .y = ya, .n = m, .color = color, .dashed = 1,
                                 .right_axis = 1};
    }
    // One curve: the advice's marks, each labelled with what it is, and the x axis widened to
    // hold them (a suggestion below the plotted points would otherwise silently vanish).
    double vl[2], vt[1];
    char l0[96], l1[96], lt[96], title[200], ylabel[120], etitle[80], eyl[80], ey2[80];
    const char *vlab[2] = {l0, l1}, *vtlab[1] = {lt};
    int nvl = 0, nvt = 0;
    snprintf(title, sizeof title, "LR range test: smoothed loss of each curve (advice printed per curve)");
    if (ncurves == 1) {
        advice_title(title, sizeof title, &a, &c[0], set);
        if (isfinite(a.suggest)) {
            snprintf(l0, sizeof l0, "suggested max LR %.2g", a.suggest);
            vl[nvl++] = a.suggest;
        }
        if (a.status == LRFIND_ADVICE_OK) {
            snprintf(nvl ? l1 : l0, sizeof l0, "loss diverges at %.2g", a.lr_div);
            vl[nvl++] = a.lr_div;
        }
        if (a.test == LRFIND_TEST_OK) {
            snprintf(lt, sizeof lt, "%s accuracy stops rising at %.2g", set, a.lr_acc);
            vt[nvt++] = a.lr_acc;
        }
    }
    snprintf(ylabel, sizeof ylabel, "loss (smoothed: centred, %d steps)",
             2 * lrfind_smooth_halfwidth(a.hi) + 1);
    const char *xl = linear ? "learning rate" : "learning rate (log scale)";
    snprintf(etitle, sizeof etitle, "%s loss and accuracy along the range", set);
    snprintf(eyl, sizeof eyl, "%s loss (log scale)", set);
    snprintf(ey2, sizeof ey2, "%s accuracy (%%, dashed)", set);
    PlotPanel p[2] = {
        {.title = title, .xlabel = xl, .ylabel = ncurves == 1 ? ylabel : "smoothed loss", .logx = !linear,
         .series = loss, .nseries = nloss, .vlines = vl, .nvlines = nvl, .vlabels = nvl ? vlab : NULL,
         .vlines_in_range = 1},
        {.title = etitle, .xlabel = xl, .ylabel = eyl, .y2label = ey2, .logx = !linear, .logy = 1, .series = ev, .nseries = nev,
         .vlines = vt, .nvlines = nvt, .vlabels = nvt ? vtlab : NULL, .vlines_in_range = 1},
    };
    int rc = plot_write_png(path, with_eval ? 1800 : 900, 500, p, with_eval ? 2 : 1, e);
    for (int k = 0; k < 4 * ncurves; k++) free(buf[k]);
    free(buf);
    free(names);
    free(ev);
    free(loss);
    return rc;
}
