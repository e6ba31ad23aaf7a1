// optim.h: optimisers over one flat parameter array, PyTorch update rules.
//
// SGD:  g = grad + wd*w;  v = mu*v + g;  w -= lr * (nesterov ? g + mu*v : v)
//       (v starts at 0, so the first step gives v = g exactly as PyTorch's buffer clone).
// The schedule hands (lr, momentum) to every step; momentum may change between steps.
// Weight decay can be switched off for BN and bias parameters via ranges.
#ifndef ONECYCLE_OPTIM_H
#define ONECYCLE_OPTIM_H
#include "common.h"
#include "config.h"

enum { OPTIM_SGD = 0, OPTIM_ADAM, OPTIM_ADAMW };

typedef struct OptimOptions {
    int kind;
    double wd;         // weight decay
    int nesterov;
    int wd_bn_bias;    // 1: decay BN and bias parameters too (PyTorch default)
    double beta2, eps; // Adam/AdamW; beta1 comes from the schedule's momentum
} OptimOptions;

extern const ConfigKey optim_config_keys[]; // [optim]: name, wd, nesterov, wd_bn_bias, beta2, eps
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
// One update of w (n) with gradient g (n) at learning rate lr and momentum (or beta1) mom.
void optim_step(Optimizer *opt, float *w, const float *g, double lr, double mom);

#endif
