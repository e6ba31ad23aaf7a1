// schedule.h: learning-rate and momentum schedules as a pure function of the step.
//
// A schedule is a list of phases (fastai's TrainingPhase idea). Each phase has a length in
// SGD steps, an LR going start -> end along a curve, and a momentum going start -> end
// along a curve. Every named policy (constant, step, multistep, use_clr, use_clr_beta,
// onecycle, triangular, triangular2, exp_range, sgdr) is a preset that expands into
// phases; users may also write phases directly. schedule_at has no hidden state, so
// resuming at step k needs nothing but k. This module knows nothing of the network.
#ifndef ONECYCLE_SCHEDULE_H
#define ONECYCLE_SCHEDULE_H
#include "common.h"
#include "config.h"

enum { CURVE_CONST = 0, CURVE_LINEAR, CURVE_COS, CURVE_EXP, CURVE_POLY };

typedef struct Phase {
    long start;        // first global step of the phase
    long steps;        // length in steps (> 0)
    // Position inside the phase: frac = (i + off) / den for i = 0..steps-1, clamped to [0,1].
    // Presets choose off/den to reproduce fastai's and PyTorch's exact conventions.
    double off, den;
    double lr0, lr1;   int lr_curve;  double lr_power;
    double mom0, mom1; int mom_curve; double mom_power;
    // CyclicLR exp_range only (0 elsewhere): the distance of LR and momentum from their
    // resting values lr_rest, mom_rest is scaled by decay^t, t the global step.
    double decay, lr_rest, mom_rest;
} Phase;

#define SCHEDULE_MAX_PHASES 4096

typedef struct Schedule {
    char policy[32];
    long steps_per_epoch;
    long total;        // total steps of the run
    int n;             // phases
    Phase *p;          // (n), allocated by schedule_from_config; free with schedule_free
    int cycles_momentum; // 1 if momentum varies anywhere
    long n_cycles;     // [schedule] n_cycles
    double lr_peak;    // the highest LR over all steps
} Schedule;

// Keys of the [schedule] section (policy, lr, momentum, epochs, use_clr, use_clr_beta,
// cycle_len, n_cycles, cycle_mult, ...). See README "Config reference".
extern const ConfigKey schedule_config_keys[];

// Builds the schedule from the [schedule] section for a run of steps_per_epoch steps per
// epoch. Rejects impossible parameters with ERR_INPUT naming the config line.
int schedule_from_config(Schedule *s, const Config *c, long steps_per_epoch, Err *e);
void schedule_free(Schedule *s);

// LR and momentum at global step t (0-based). Steps past the end repeat the last value.
void schedule_at(const Schedule *s, long t, double *lr, double *mom);
// Whole epochs in the run (total / steps_per_epoch, rounded up).
long schedule_epochs(const Schedule *s);
// The weight-decay multiplier of a step at LR lr (optim.h's use_wd_sched): lr / lr_peak,
// divided by sqrt(total / n_cycles) when norm; 1 when !follow_lr (plain weight decay).
double schedule_wd_mult(const Schedule *s, int follow_lr, int norm, double lr);

// The schedule as CSV (header `iteration,epoch,lr,momentum`, one row per step) and as a
// PNG plot (LR, and momentum when it varies, phase boundaries marked; SVG when the path ends
// in .svg, plot_write). x_epochs selects epochs instead of iterations on the x axis.
int schedule_write_csv(const Schedule *s, const char *path, Err *e);
// The phase boundaries as a plot marks them (at most max, in order): where each phase but the
// last reaches its end value (1cycle's peak step), or the next phase's first step for a
// constant phase (the step of a drop). Returns how many.
int schedule_phase_marks(const Schedule *s, long *steps, int max);
int schedule_write_png(const Schedule *s, const char *path, int x_epochs, Err *e);

#endif
