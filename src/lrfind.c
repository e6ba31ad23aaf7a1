// lrfind.c: the LR range test: LR sequence, loss smoothing, stop rule, advice, the loop
// over a Trainer, and its CSV and PNG outputs.
//
// The suggested max LR is lr_min / 10, lr_min being the LR at the minimum smoothed loss.
// Why: at lr_min the loss has stopped falling and is about to blow up, so it is already too
// large to train at; the loss falls steeply about a decade below it. Smith (2018) takes as
// max LR "the largest value where the loss is still decreasing", and fastai's rule of a
// tenth of the minimum lands in that region without asking anyone to read the curve's
// slope, which is noisy. We print the LR of steepest descent too, as a cross-check: a
// suggestion far below it means the curve is odd and deserves a look at the plot.
// The min LR of the suggested use_clr_beta line is max/10 (div = 10), Smith's 0.08-0.8.
#include "lrfind.h"
#include "plot.h"
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

void lrfind_window(int n, int *lo, int *hi) {
    if (n - LRFIND_SKIP_START - LRFIND_SKIP_END >= 5) {
        *lo = LRFIND_SKIP_START;
        *hi = n - LRFIND_SKIP_END;
    } else {
        *lo = 0;
        *hi = n;
    }
}

LrFindAdvice lrfind_advise(const double *lr, const double *smooth, int n) {
    LrFindAdvice a = {0};
    a.i_min = a.i_steep = -1;
    a.lr_min = a.loss_min = a.lr_steep = a.max_lr = NAN;
    int lo, hi;
    lrfind_window(n, &lo, &hi);
    for (int i = lo; i < hi; i++)
        if (isfinite(smooth[i]) && (a.i_min < 0 || smooth[i] < smooth[a.i_min])) a.i_min = i;
    if (a.i_min < 0) return a;
    // Slope against ln(LR) by central differences (one-sided at the window's ends), so an
    // exponential and a linear sweep are judged alike. Only the descent up to the minimum
    // counts: past it the loss rises, and noise there is no advice.
    double best = INFINITY;
    for (int i = lo; i <= a.i_min; i++) {
        int l = i > lo ? i - 1 : i, r = i + 1 < hi ? i + 1 : i;
        if (l == r || !isfinite(smooth[l]) || !isfinite(smooth[r]) || lr[l] <= 0 || lr[r] <= 0) continue;
        double d = (smooth[r] - smooth[l]) / (log(lr[r]) - log(lr[l]));
        if (d < best) {
            best = d;
            a.i_steep = i;
        }
    }
    if (a.i_steep < 0) a.i_steep = a.i_min;
    a.ok = 1;
    a.lr_min = lr[a.i_min];
    a.loss_min = smooth[a.i_min];
    a.lr_steep = lr[a.i_steep];
    a.max_lr = a.lr_min / 10;
    return a;
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
        c->lr[i] = lr;
        c->loss[i] = loss;
        c->smooth[i] = sm;
        c->n = i + 1;
        int evaluated = rc == LRFIND_GO && eval && o->eval_every > 0 && (i + 1) % o->eval_every == 0;
        if (evaluated) eval(ctx, &c->test_loss[i], &c->test_acc[i]);
        if (o->progress && (rc || evaluated || (i + 1) % every == 0 || i + 1 == N)) {
            fprintf(o->progress, "  %s  step %d/%d  lr %.4g  loss %.4f  smoothed %.4f", c->label, i + 1, N, lr, loss, sm);
            if (evaluated) fprintf(o->progress, "  test loss %.4f acc %.2f%%", c->test_loss[i], 100 * c->test_acc[i]);
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
    int nb = loader_next(&c->loader, t->x, t->y, NULL);
    if (train_step(&t->net, &t->optim, t->x, t->y, nb, lr, momentum, 1.0, INFINITY, &loss, NULL)) t->step++;
    return loss;
}

static void trainer_eval(void *ctx, double *loss, double *acc) {
    TrainerCtx *c = ctx;
    EvalResult r = trainer_evaluate(c->t, &c->t->test);
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
    loader_create(&ctx.loader, &t->train, &t->data, t->opt.batch_size, LOADER_FULL, 0, 1);
    loader_reset(&ctx.loader, (uint64_t)t->opt.seed); // the streams trainer_reset gave the trainer
    lrfind_drive(o, trainer_step, o->eval_every > 0 ? trainer_eval : NULL, &ctx, out);
    loader_free(&ctx.loader);
    return ERR_OK;
}

// ---- outputs ---------------------------------------------------------------------------

int lrfind_write_csv(const char *path, const LrFindCurve *c, int ncurves, int with_eval, Err *e) {
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "curve,iteration,lr,loss,smoothed_loss%s\n", with_eval ? ",test_loss,test_acc" : "");
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
    if (fclose(f)) return err_set(e, ERR_RUNTIME, "%s: write failed", path);
    return ERR_OK;
}

int lrfind_write_png(const char *path, const LrFindCurve *c, int ncurves, int linear, int with_eval, Err *e) {
    PlotSeries *loss = xcalloc((size_t)(ncurves ? ncurves : 1), sizeof(PlotSeries));
    PlotSeries *ev = xcalloc((size_t)(2 * ncurves + 1), sizeof(PlotSeries));
    double **buf = xcalloc((size_t)(3 * ncurves + 1), sizeof(double *));
    char (*names)[128] = xcalloc((size_t)(2 * ncurves + 1), sizeof *names);
    int nev = 0;
    for (int k = 0; k < ncurves; k++) {
        int lo, hi;
        lrfind_window(c[k].n, &lo, &hi);
        loss[k] = (PlotSeries){.name = c[k].label, .x = c[k].lr + lo, .y = c[k].smooth + lo, .n = hi - lo};
        if (!with_eval) continue;
        // Evaluations are sparse: gather them so their points join into lines.
        double *x = buf[3 * k] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
        double *yl = buf[3 * k + 1] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
        double *ya = buf[3 * k + 2] = xmalloc(sizeof(double) * (size_t)(c[k].n + 1));
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
        snprintf(names[2 * k], sizeof names[0], "test loss%s%s", ncurves > 1 ? " " : "", ncurves > 1 ? c[k].label : "");
        snprintf(names[2 * k + 1], sizeof names[0], "test acc%s%s", ncurves > 1 ? " " : "",
                 ncurves > 1 ? c[k].label : "");
        ev[nev++] = (PlotSeries){.name = names[2 * k], .x = x, .y = yl, .n = m, .color = color};
        ev[nev++] = (PlotSeries){.name = names[2 * k + 1], .x = x, .y = ya, .n = m, .color = color, .dashed = 1,
                                 .right_axis = 1};
    }
    double vl[2];
    int nvl = 0;
    char title[160];
    snprintf(title, sizeof title, "LR range test: smoothed training loss");
    if (ncurves == 1) {
        LrFindAdvice a = lrfind_advise(c[0].lr, c[0].smooth, c[0].n);
        if (a.ok) {
            vl[nvl++] = a.max_lr;
            vl[nvl++] = a.lr_min;
            snprintf(title, sizeof title, "LR range test (marks: suggested max LR %.2g, min %.2g)", a.max_lr, a.lr_min);
        }
    }
    const char *xl = linear ? "learning rate" : "learning rate (log scale)";
    PlotPanel p[2] = {
        {.title = title, .xlabel = xl, .ylabel = "smoothed loss", .logx = !linear, .series = loss, .nseries = ncurves,
         .vlines = vl, .nvlines = nvl},
        {.title = "test loss and accuracy along the range", .xlabel = xl, .ylabel = "test loss (log scale)",
         .y2label = "test accuracy (%, dashed)", .logx = !linear, .logy = 1, .series = ev, .nseries = nev},
    };
    int rc = plot_write_png(path, with_eval ? 1800 : 900, 500, p, with_eval ? 2 : 1, e);
    for (int k = 0; k < 3 * ncurves; k++) free(buf[k]);
    free(buf);
    free(names);
    free(ev);
    free(loss);
    return rc;
}
