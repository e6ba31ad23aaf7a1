// lrfind.h: the LR range test (Smith 2015, section 3.3; fastai's lr_find).
//
// The LR grows from start to end over N SGD steps (exponentially by default, linearly on
// request); the loss of every step is smoothed and the run stops early when it diverges.
// Each curve starts from the same freshly initialised model and sees the same batches, so
// curves for several momentum or weight-decay values can be overlaid and compared.
//
// The pure pieces (LR sequence, smoothing, stop rule, recommendation) are separate
// functions so tests can check them exactly; lrfind_drive runs the loop over any model
// given as a step callback, and lrfind_run plugs in the Trainer.
#ifndef ONECYCLE_LRFIND_H
#define ONECYCLE_LRFIND_H
#include "common.h"
#include "train.h"
#include <stdio.h>

#define LRFIND_BETA 0.98       // EMA factor of the smoothed loss (fastai)
#define LRFIND_DIVERGE 4.0     // stop when smoothed > LRFIND_DIVERGE x best smoothed
#define LRFIND_WARMUP 10       // the best loss is tracked from this iteration (0-based) on
#define LRFIND_SKIP_START 10   // points left out of plots and advice at the start...
#define LRFIND_SKIP_END 5      // ...and at the end (fastai's skip_start / skip_end)
#define LRFIND_MAX_SWEEP 16

enum { LRFIND_GO = 0, LRFIND_STOP_NAN, LRFIND_STOP_DIVERGED, LRFIND_STOP_END };
enum { LRFIND_SWEEP_NONE = 0, LRFIND_SWEEP_MOMENTUM, LRFIND_SWEEP_WD };

typedef struct LrFindOptions {
    double start, end;  // first and last LR (0 < start < end)
    int iters;          // N >= 2 steps (an iteration count, not tied to epochs)
    int linear;         // 1: lr_i = start + (end-start) i/(N-1); 0: start (end/start)^(i/(N-1))
    int eval_every;     // > 0: test loss and accuracy after every K steps (Smith's variant)
    double momentum, wd;// fixed for the curve
    FILE *progress;     // progress lines, or NULL for silence
} LrFindOptions;

// One curve: arrays of length cap (= iters), n filled. test_* are NaN where not evaluated.
typedef struct LrFindCurve {
    char label[96];     // "momentum=0.9" in a sweep, else "momentum=0.9 wd=0.0001"
    double momentum, wd;
    int n, cap;
    double *lr, *loss, *smooth, *test_loss, *test_acc;
    int stop;           // LRFIND_STOP_*: why the curve ended
    double best;        // best smoothed loss tracked by the stop rule (NaN if none)
} LrFindCurve;

// The LR of step i (0-based) of an N-step test. N == 1 gives start.
double lrfind_lr_at(double start, double end, int n, int i, int linear);

// The smoothed loss and stop rule as a state machine fed one raw loss per step.
typedef struct LrFindSmoother {
    double avg;   // EMA without debiasing
    double best;  // best debiased value from iteration LRFIND_WARMUP on (NaN before)
    int n;        // losses fed
} LrFindSmoother;

void lrfind_smoother_init(LrFindSmoother *s);
// Feeds one raw loss: avg = beta avg + (1-beta) loss, smoothed = avg / (1 - beta^n).
// Returns LRFIND_STOP_NAN for a NaN/Inf loss (smoothed = NaN, state not advanced),
// LRFIND_STOP_DIVERGED when smoothed > 4 x best, else LRFIND_GO.
int lrfind_smoother_feed(LrFindSmoother *s, double loss, double *smoothed);

// What the curve suggests. Points are looked at from LRFIND_SKIP_START to n-LRFIND_SKIP_END
// (all points when fewer than 5 would remain), non-finite ones ignored.
typedef struct LrFindAdvice {
    int ok;             // 0: too few finite points
    int i_min, i_steep; // indices into the curve
    double lr_min;      // LR at the minimum smoothed loss
    double loss_min;
    double lr_steep;    // LR where the smoothed loss falls fastest against log LR, before the minimum
    double max_lr;      // suggested max LR of a 1cycle: lr_min / 10 (see lrfind.c)
} LrFindAdvice;

void lrfind_window(int n, int *lo, int *hi); // the [lo, hi) range the plot and advice use
LrFindAdvice lrfind_advise(const double *lr, const double *smooth, int n);

// One step of the model being tested: train on the next batch at (lr, momentum) and return
// the batch loss (NaN/Inf allowed: the driver stops). eval (optional) fills test loss/acc.
typedef double (*LrFindStepFn)(void *ctx, double lr, double momentum);
typedef void (*LrFindEvalFn)(void *ctx, double *loss, double *acc);

// Allocates the curve for o->iters points (set-up time) and runs it. Free with lrfind_curve_free.
void lrfind_drive(const LrFindOptions *o, LrFindStepFn step, LrFindEvalFn eval, void *ctx, LrFindCurve *c);
void lrfind_curve_free(LrFindCurve *c);

// The range test on a Trainer from trainer_create: re-initialises the model with the
// configured seed (weights, BN running statistics, optimiser state, shuffling and
// augmentation streams), sets the optimiser's weight decay to o->wd and runs o->iters steps
// on shuffled training batches (reshuffled whenever they run out), evaluating on the
// configured test subset every o->eval_every steps. The Trainer's schedule is not used.
int lrfind_run(Trainer *t, const LrFindOptions *o, LrFindCurve *out, Err *e);

// DIR/lr_find.csv: `curve,iteration,lr,loss,smoothed_loss` (+ `,test_loss,test_acc` when
// with_eval), one row per step of every curve; NaN losses are written as "nan", missing
// evaluations as empty fields.
int lrfind_write_csv(const char *path, const LrFindCurve *c, int ncurves, int with_eval, Err *e);
// Smoothed loss against LR (log x unless linear), the window of lrfind_window per curve, one
// line per curve; with_eval adds a panel of test accuracy (left) and test loss (right axis).
int lrfind_write_png(const char *path, const LrFindCurve *c, int ncurves, int linear, int with_eval, Err *e);

#endif
