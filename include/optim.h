// optim.h: optimisers over one flat parameter array, PyTorch update rules.
//
// Every step gets (lr, momentum, weight-decay multiplier) from the caller, which asks the
// schedule for them (schedule_at, schedule_wd_mult); the optimiser knows no schedule.
// Momentum may change between steps.
// SGD:    g = grad + wd*w;  v = mu*v + g;  w -= lr * (nesterov ? g + mu*v : v)
//         (v starts at 0, so the first step gives v = g exactly as PyTorch's buffer clone).
// SGD, momentum_form = caffe (Caffe's SGDSolver / NesterovSolver: the LR inside the buffer):
//         v' = mu*v + lr*g;  w -= nesterov ? (1+mu)*v' - mu*v : v'
//         With a constant LR, v' is lr times PyTorch's buffer and the steps are the same;
//         when the LR changes, old gradients keep the LR they were taken at.
// Adam:   g = grad + wd*w;  m = b1*m + (1-b1)*g;  s = b2*s + (1-b2)*g*g;
//         w -= lr/(1-b1^t) * m / (sqrt(s)/sqrt(1-b2^t) + eps)       (torch.optim.Adam)
// AdamW:  w *= 1 - lr*wd, then the Adam update of grad alone      (torch.optim.AdamW)
// b1 is the schedule's momentum of this step, in the moment update and in 1-b1^t (t counts
// steps from 1), as PyTorch does when OneCycleLR cycles beta1. Weight decay can be switched
// off for BN and bias parameters via ranges.
//
// Weight-decay schedule (use_wd_sched, fastai 0.7's WeightDecaySchedule after Loshchilov &
// Hutter, "Decoupled weight decay regularization"): the decay is decoupled for every
// optimiser and follows the LR. With wd_t = wd * wd_mult,
//     w <- w * (1 - wd_t), then the update of grad alone (no L2 term; momentum as above)
//     wd_mult = lr_t / lr_peak                                   (wd_norm = false)
//     wd_mult = lr_t / lr_peak / sqrt(steps_per_epoch * epochs_per_cycle)   (wd_norm = true)
// (computed by schedule_wd_mult: it is a function of the schedule and the step).
// lr_peak is the highest LR of the whole schedule, epochs_per_cycle = epochs / n_cycles.
// So wd is the fraction of each weight removed per step at peak LR (the paper's lambda,
// not multiplied by the LR again as torch's AdamW does); with wd_norm it is the paper's
// lambda_norm, lambda = lambda_norm * sqrt(b / (B * T)) with b/B = 1/steps_per_epoch.
#ifndef ONECYCLE_OPTIM_H
#define ONECYCLE_OPTIM_H
#include "common.h"
#include "config.h"

enum { OPTIM_SGD = 0, OPTIM_ADAM, OPTIM_ADAMW };

typedef struct OptimOptions {
    int kind;
    double wd;         // weight decay
    int nesterov;
    int caffe_momentum; // momentum_form = caffe: the LR inside SGD's momentum buffer
    int wd_bn_bias;    // 1: decay BN and bias parameters too (PyTorch default)
    double beta2, eps; // Adam/AdamW; beta1 comes from the schedule's momentum
    int use_wd_sched;  // decoupled decay following the LR (see above)
    int wd_norm;       // ... normalised by sqrt(steps per cycle)
} OptimOptions;

// [optim]: name, wd, nesterov, momentum_form, wd_bn_bias, beta2, eps, use_wd_sched, wd_norm
extern const ConfigKey optim_config_keys[];
int optim_options_from_config(OptimOptions *o, const Config *c, Err *e);

// A run of parameters and whether weight decay applies to it.
typedef struct OptimRange {
    long off, n;
    int decay;
} OptimRange;

typedef struct Optimizer {
    OptimOptions o;
    long n;
    float *v;          // momentum buffer / Adam first moment (n)
    float *s;          // Adam second moment (n), NULL for SGD
    long step;         // steps taken
    OptimRange *ranges;
    int nranges;
} Optimizer;

void optim_create(Optimizer *opt, const OptimOptions *o, long n, const OptimRange *ranges, int nranges);
void optim_free(Optimizer *opt);
// Zero state: momentum / moment buffers and the step count (a fresh run).
void optim_reset(Optimizer *opt);
// The base weight decay from now on (lr-find's wd sweep).
void optim_set_wd(Optimizer *opt, double wd);
// One update of w (n) with gradient g (n) at learning rate lr and momentum (or beta1) mom.
// wd_mult scales the weight decay of this step: 1 gives PyTorch's rules above; with
// use_wd_sched the training loop passes schedule_wd_mult(...).
void optim_step(Optimizer *opt, float *w, const float *g, double lr, double mom, double wd_mult);

#endif
