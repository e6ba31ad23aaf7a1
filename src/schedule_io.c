// schedule_io.c: a schedule written out for people: one CSV row per step, and a PNG plot in
// the manner of fastai's plot_lr(show_moms=True): LR on the left, momentum (when it varies)
// in a second panel on the right, phase boundaries marked.
#include "schedule.h"
#include "plot.h"
#include "outfile.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int schedule_write_csv(const Schedule *s, const char *path, Err *e) {
    OutFile of;
    if (outfile_open(&of, path, e)) return e->code;
    FILE *f = of.f;
    fprintf(f, "iteration,epoch,lr,momentum\n");
    for (long t = 0; t < s->total; t++) {
        double lr, mom;
        schedule_at(s, t, &lr, &mom);
        // 17 significant digits: the CSV round-trips the doubles the optimiser gets.
        fprintf(f, "%ld,%.10g,%.17g,%.17g\n", t, (double)t / (double)s->steps_per_epoch, lr, mom);
    }
    return outfile_commit(&of, 0, e); // a write error shows in ferror there
}

// The first two colours of plot.c's palette, fixed here so that tests can find each line.
#define SCHEDULE_LR_COLOR 0x0072B2u
#define SCHEDULE_MOM_COLOR 0xD55E00u
// More boundaries than this would hide the curves (e.g. many short CyclicLR cycles).
#define SCHEDULE_MAX_VLINES 64
// Labels beside the markers, one row each from the top, up to this many.
#define SCHEDULE_MAX_VLABELS 8

// Where phase k-1 reaches its end value: the first step whose position (i + off) / den is 1,
// when that is inside the phase (1cycle's peak is the last step of the way up, one step
// before the way down starts); else the next phase's first step (a step drop).
int schedule_phase_marks(const Schedule *s, long *steps, int max) {
    int n = 0;
    for (int k = 1; k < s->n && n < max; k++) {
        const Phase *q = &s->p[k - 1];
        long at = s->p[k].start;
        if ((q->lr_curve != CURVE_CONST || q->mom_curve != CURVE_CONST) && q->den > 0) {
            double i = ceil(q->den - q->off - 1e-9);
            if (i >= 0 && i <= (double)(q->steps - 1)) at = q->start + (long)i;
        }
        steps[n++] = at;
    }
    return n;
}

int schedule_write_png(const Schedule *s, const char *path, int x_epochs, Err *e) {
    long n = s->total;
    if (n > INT_MAX) return err_set(e, ERR_INPUT, "%s: %ld steps are too many to plot", path, n);
    double *x = xmalloc(sizeof(double) * (size_t)n), *lr = xmalloc(sizeof(double) * (size_t)n);
    double *mom = xmalloc(sizeof(double) * (size_t)n), *vl = xmalloc(sizeof(double) * (size_t)(s->n + 1));
    double scale = x_epochs ? 1.0 / (double)s->steps_per_epoch : 1.0;
    for (long t = 0; t < n; t++) {
        x[t] = (double)t * scale;
        schedule_at(s, t, &lr[t], &mom[t]);
    }
    long *marks = xmalloc(sizeof(long) * (size_t)(s->n + 1));
    int nv = schedule_phase_marks(s, marks, s->n + 1);
    if (nv > SCHEDULE_MAX_VLINES) nv = 0;
    // Each marker says where it is and the LR (momentum) there; with many, the lines alone.
    char(*lab)[2][64] = xcalloc((size_t)(nv ? nv : 1), sizeof *lab);
    const char **vlab[2] = {xcalloc((size_t)(nv ? nv : 1), sizeof(char *)),
                            xcalloc((size_t)(nv ? nv : 1), sizeof(char *))};
    for (int k = 0; k < nv; k++) {
        vl[k] = (double)marks[k] * scale;
        double lr, mom;
        schedule_at(s, marks[k], &lr, &mom);
        char at[32];
        if (x_epochs)
            snprintf(at, sizeof at, "epoch %.4g", vl[k]);
        else
            snprintf(at, sizeof at, "step %ld", marks[k]);
        snprintf(lab[k][0], sizeof lab[k][0], "%s: lr %.3g", at, lr);
        snprintf(lab[k][1], sizeof lab[k][1], "%s: momentum %.3g", at, mom);
        vlab[0][k] = lab[k][0];
        vlab[1][k] = lab[k][1];
    }
    int labelled = nv > 0 && nv <= SCHEDULE_MAX_VLABELS;

    char title[96];
    snprintf(title, sizeof title, "learning rate (%s)", s->policy);
    const char *xlabel = x_epochs ? "epoch" : "iteration";
    PlotSeries lr_series = {"lr", x, lr, (int)n, 0, SCHEDULE_LR_COLOR, 0};
    PlotSeries mom_series = {"momentum", x, mom, (int)n, 0, SCHEDULE_MOM_COLOR, 0};
    PlotPanel panels[2] = {
        {title, xlabel, "learning rate", NULL, 0, 0, &lr_series, 1, vl, nv, labelled ? vlab[0] : NULL, 0},
        {"momentum", xlabel, "momentum", NULL, 0, 0, &mom_series, 1, vl, nv, labelled ? vlab[1] : NULL, 0},
    };
    int rc = plot_write(path, 900, 500, panels, s->cycles_momentum ? 2 : 1, e); // PNG, or SVG for .svg
    free(x);
    free(lr);
    free(mom);
    free(vl);
    free(marks);
    free(lab);
    free(vlab[0]);
    free(vlab[1]);
    return rc;
}
