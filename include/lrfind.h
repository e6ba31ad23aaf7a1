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
#define LRFIND_SKIP_START 10   // the start-up transient, left out of plots and advice (fastai's
                               // skip_start), unless fewer than 5 points would remain
#define LRFIND_MAX_SWEEP 16

// LRFIND_STOP_INTERRUPTED: *stop was set (a signal), the curve ends where it got to.
enum { LRFIND_GO = 0, LRFIND_STOP_NAN, LRFIND_STOP_DIVERGED, LRFIND_STOP_END, LRFIND_STOP_INTERRUPTED };
enum { LRFIND_SWEEP_NONE = 0, LRFIND_SWEEP_MOMENTUM, LRFIND_SWEEP_WD };
// What --eval-every evaluates: the test set, or the validation split when the config holds
// one out (data.valid_images), so the LR is not tuned on the test set.
enum { LRFIND_EVAL_NONE = 0, LRFIND_EVAL_TEST, LRFIND_EVAL_VALID };
// "test" or "valid" (the CSV's column prefix), by LRFIND_EVAL_*.
const char *lrfind_eval_name(int eval_set);

typedef struct LrFindOptions {
    double start, end;  // first and last LR (0 < start < end)
    int iters;          // N >= 2 steps (an iteration count, not tied to epochs)
    int linear;         // 1: lr_i = start + (end-start) i/(N-1); 0: start (end/start)^(i/(N-1))
    int eval_every;     // > 0: test loss and accuracy after every K steps (Smith's variant)
    int eval_set;       // LRFIND_EVAL_TEST or LRFIND_EVAL_VALID: the set they come from (progress lines)
    double momentum, wd;// fixed for the curve
    FILE *progress;     // progress lines, or NULL for silence
    const volatile int *stop; // set (by a signal handler) to end the curve after this step; may be NULL
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

// ---- what a curve suggests (the rule is described at the top of lrfind.c) --------------

#define LRFIND_MIN_DROP 0.05   // a descent counts when the loss falls 5% below its start level
#define LRFIND_ACC_TOL 0.01    // test accuracy within 1 point of its best is on the plateau

// The loss curve's verdict.
enum {
    LRFIND_ADVICE_OK = 0,        // a descent, then divergence: max_lr is set
    LRFIND_ADVICE_TOO_SHORT,     // fewer than 3 finite losses to look at
    LRFIND_ADVICE_NO_DESCENT,    // the loss never fell LRFIND_MIN_DROP below its start level
    LRFIND_ADVICE_NO_DIVERGENCE, // it fell, but never climbed back nor stopped: no edge seen
};
// The test curve's verdict (--eval-every).
enum {
    LRFIND_TEST_NONE = 0,      // fewer than 3 evaluations
    LRFIND_TEST_OK,            // accuracy rose, then stopped rising before the last evaluation
    LRFIND_TEST_STILL_RISING,  // best (within LRFIND_ACC_TOL) only at the last evaluation
    LRFIND_TEST_NO_RISE,       // best (within LRFIND_ACC_TOL) already at the first evaluation
};

// Half-width h of the smoothing window (2h+1 steps): max(2, n/25), at most 100.
int lrfind_smooth_halfwidth(int n);
// Zero-lag smoothing of the raw losses: a running median over 2h+1 steps, then a running
// mean over 2h+1 steps, both centred (the window slides inward at the ends, keeping its
// width). Only the finite prefix loss[0..m) is used; out[m..n) is NaN. Returns m.
int lrfind_smooth(const double *loss, int n, double *out);

typedef struct LrFindAdvice {
    int status;             // LRFIND_ADVICE_*
    int lo, hi;             // points [lo, hi) looked at: the start-up transient skipped, up
                            // to the last finite loss
    int i_min, i_div;       // lowest smoothed loss; where it diverges (-1: none)
    double loss_start;      // smoothed loss at lo, the level a descent is measured from
    double loss_min, loss_end;
    double lr_min, lr_div;  // LR at i_min and i_div (NaN: none)
    double max_lr;          // the loss curve's max LR: lr_div / 10 (NaN unless OK)
    int test;               // LRFIND_TEST_*
    int n_evals, i_acc;     // evaluations seen; where accuracy stops rising (-1: none)
    double acc_first, acc_best;
    double lr_acc;          // LR at i_acc (NaN unless LRFIND_TEST_OK)
    double suggest;         // the advice: lr_acc when the test curve gives one, else max_lr (or NaN)
    int from_test;          // 1 when suggest comes from the test curve
} LrFindAdvice;

// The rule on one curve of n points: lr, raw loss (a non-finite loss ends the curve) and
// test accuracy (NULL, or NaN where not evaluated); stop is the curve's LRFIND_STOP_*.
// smooth (n values, may be NULL) receives the smoothed loss the rule used.
LrFindAdvice lrfind_advise(const double *lr, const double *loss, const double *test_acc, int n, int stop,
                           double *smooth);
LrFindAdvice lrfind_advise_curve(const LrFindCurve *c, double *smooth);

// The lines of a config that use a suggested max LR under a schedule policy (the resolved
// name, schedule.h), e.g. "max_lr = 0.43" for onecycle, "lr = 0.43" for clr_beta; the
// schedule's own ratio of peak to starting LR (start_ratio, >= 1) gives the low end it
// implies. Written to buf as text lines, each indented by `indent`; returns buf.
char *lrfind_config_lines(const char *policy, double max_lr, double start_ratio, const char *indent, char *buf,
                          size_t cap);

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
// configured test subset every o->eval_every steps, or on the validation split when the
// config holds one (data.valid_images). The Trainer's schedule is not used.
int lrfind_run(Trainer *t, const LrFindOptions *o, LrFindCurve *out, Err *e);

// DIR/lr_find.csv: `curve,iteration,lr,loss,smoothed_loss` (+ `,test_loss,test_acc` when
// with_eval is LRFIND_EVAL_TEST, `,valid_loss,valid_acc` when LRFIND_EVAL_VALID), one row per
// step of every curve; NaN losses are written as "nan", missing evaluations as empty fields.
int lrfind_write_csv(const char *path, const LrFindCurve *c, int ncurves, int with_eval, Err *e);
#define LRFIND_CSV_HEADER "curve,iteration,lr,loss,smoothed_loss"
// An lr_find.csv back into curves (*out malloc'd, each freed with lrfind_curve_free), so
// `onecycle plot DIR/lr_find.csv` redraws it. ERR_INPUT naming path:line when malformed.
int lrfind_read_csv(const char *path, LrFindCurve **out, int *ncurves, int *with_eval, Err *e);
// 1 when the curve's LR rises by equal steps (lr-find --linear), 0 when by equal factors.
int lrfind_csv_is_linear(const LrFindCurve *c);
// The smoothed loss of lrfind_smooth against LR (log x unless linear) from the end of the
// start-up transient on, one line per curve, cut where it climbs far above its range (see
// lrfind.c); one curve adds its raw loss, faint, and the advice's marks, labelled, with the
// x axis widened to hold them. with_eval (LRFIND_EVAL_*) adds a panel of test (or
// validation) loss (left) and accuracy (right axis), marked where accuracy stops rising.
int lrfind_write_png(const char *path, const LrFindCurve *c, int ncurves, int linear, int with_eval, Err *e);

#endif
