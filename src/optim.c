// optim.c: SGD (momentum, Nesterov), Adam and AdamW with PyTorch's update rules, and the
// weight-decay schedule (use_wd_sched). Formulas in optim.h.
#include "optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const ConfigKey optim_config_keys[] = {
    {"name", "sgd", "sgd | adam | adamw (momentum from the schedule drives SGD momentum or Adam's beta1)"},
    {"wd", "1e-4",
     "weight decay: L2 added to the gradient (sgd, adam), w *= 1 - lr*wd (adamw); with use_wd_sched the "
     "fraction of each weight removed per step at peak LR"},
    {"nesterov", "false", "Nesterov momentum for SGD"},
    {"momentum_form", "pytorch",
     "pytorch | caffe: SGD's momentum buffer; pytorch v = mu*v + g, w -= lr*v; caffe keeps the LR inside it, "
     "v = mu*v + lr*g, w -= v (Nesterov: w -= (1+mu)*v - mu*v_before), as Smith's Caffe runs did; the two "
     "differ only while the LR changes"},
    {"wd_bn_bias", "true", "apply weight decay to BN and bias parameters too (false: only conv/fc weights)"},
    {"beta2", "0.999", "Adam/AdamW second-moment decay"},
    {"eps", "1e-8", "Adam/AdamW epsilon"},
    {"use_wd_sched", "false",
     "weight-decay schedule (fastai): decoupled for every optimiser and following the LR, "
     "w *= 1 - wd * lr_t / lr_peak before each update (lr_peak: the schedule's highest LR), no L2 term"},
    {"wd_norm", "false",
     "with use_wd_sched: normalise as in the AdamW paper, wd_t = wd * lr_t / lr_peak / "
     "sqrt(steps_per_epoch * epochs / n_cycles); wd is then lambda_norm (paper: 0.025-0.05)"},
    {NULL, NULL, NULL},
};

int optim_options_from_config(OptimOptions *o, const Config *c, Err *e) {
    static const char *const names[] = {"sgd", "adam", "adamw", NULL};
    static const char *const forms[] = {"pytorch", "caffe", NULL};
    memset(o, 0, sizeof *o);
    if (config_choice(c, "optim", "name", names, &o->kind, e) ||
        config_choice(c, "optim", "momentum_form", forms, &o->caffe_momentum, e) ||
        config_double_in(c, "optim", "wd", 0, 1, &o->wd, e) || config_bool(c, "optim", "nesterov", &o->nesterov, e) ||
        config_bool(c, "optim", "wd_bn_bias", &o->wd_bn_bias, e) ||
        config_double_in(c, "optim", "beta2", 0, 0.999999999, &o->beta2, e) ||
        config_double_in(c, "optim", "eps", 1e-30, 1, &o->eps, e) ||
        config_bool(c, "optim", "use_wd_sched", &o->use_wd_sched, e) ||
        config_bool(c, "optim", "wd_norm", &o->wd_norm, e))
        return e->code;
    if (o->nesterov && o->kind != OPTIM_SGD)
        return err_set(e, ERR_INPUT, "%s: optim.nesterov: only applies to name = sgd",
                       config_where(c, "optim", "nesterov"));
    if (o->caffe_momentum && o->kind != OPTIM_SGD)
        return err_set(e, ERR_INPUT, "%s: optim.momentum_form: caffe only applies to name = sgd",
                       config_where(c, "optim", "momentum_form"));
    if (o->wd_norm && !o->use_wd_sched)
        return err_set(e, ERR_INPUT, "%s: optim.wd_norm: only applies with use_wd_sched = true",
                       config_where(c, "optim", "wd_norm"));
    return ERR_OK;
}

void optim_create(Optimizer *opt, const OptimOptions *o, long n, const OptimRange *ranges, int nranges) {
    memset(opt, 0, sizeof *opt);
    opt->o = *o;
    opt->n = n;
    opt->v = xalloc_aligned(sizeof(float) * (size_t)n);
    if (o->kind != OPTIM_SGD) opt->s = xalloc_aligned(sizeof(float) * (size_t)n);
    opt->ranges = xmalloc(sizeof(OptimRange) * (size_t)(nranges ? nranges : 1));
    memcpy(opt->ranges, ranges, sizeof(OptimRange) * (size_t)nranges);
    opt->nranges = nranges;
}

void optim_reset(Optimizer *opt) {
    memset(opt->v, 0, sizeof(float) * (size_t)opt->n);
    if (opt->s) memset(opt->s, 0, sizeof(float) * (size_t)opt->n);
    opt->step = 0;
}

void optim_set_wd(Optimizer *opt, double wd) {
    opt->o.wd = wd;
}

void optim_free(Optimizer *opt) {
    free(opt->v);
    free(opt->s);
    free(opt->ranges);
    memset(opt, 0, sizeof *opt);
}

// l2 is added to the gradient (PyTorch's weight_decay); shrink multiplies the old weights
// (decoupled decay; exactly 1 when off, so the L2 path is bit-identical to PyTorch's SGD).
// caffe: the buffer holds lr*v (Caffe's SGDSolver and NesterovSolver).
static void sgd_range(float *w, const float *g, float *v, long n, float lr, float mu, float l2, float shrink,
                      int nesterov, int caffe) {
    if (caffe && nesterov) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float before = v[i];
            v[i] = mu * v[i] + lr * (g[i] + l2 * w[i]);
            w[i] = w[i] * shrink - ((1 + mu) * v[i] - mu * before);
        }
    } else if (caffe) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            v[i] = mu * v[i] + lr * (g[i] + l2 * w[i]);
            w[i] = w[i] * shrink - v[i];
        }
    } else if (nesterov) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float d = g[i] + l2 * w[i];
            v[i] = mu * v[i] + d;
            w[i] = w[i] * shrink - lr * (d + mu * v[i]);
        }
    } else {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            v[i] = mu * v[i] + (g[i] + l2 * w[i]);
            w[i] = w[i] * shrink - lr * v[i];
        }
    }
}

// PyTorch Adam/AdamW (amsgrad off), in torch's order of operations: bias-corrected moments;
// beta1 may change every step, and the bias correction uses the current beta1 (1 - b1^t).
static void adam_range(float *w, const float *g, float *m, float *s, long n, double lr, double b1, double b2,
                       double eps, float l2, float shrink, long t) {
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2), fe = (float)eps;
    const float fb1 = (float)b1, fb2 = (float)b2, a1 = (float)(1.0 - b1), a2 = (float)(1.0 - b2);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float d = g[i] + l2 * w[i];
        w[i] *= shrink;
        m[i] = fb1 * m[i] + a1 * d;
        s[i] = fb2 * s[i] + a2 * (d * d);
        w[i] -= step * (m[i] / (sqrtf(s[i]) / sbc2 + fe));
    }
}

void optim_step(Optimizer *opt, float *w, const float *g, double lr, double mom, double wd_mult) {
    const OptimOptions *o = &opt->o;
    opt->step++;
    for (int r = 0; r < opt->nranges; r++) {
        const OptimRange *rg = &opt->ranges[r];
        double wd = rg->decay ? o->wd * wd_mult : 0.0, l2 = 0, shrink = 1;
        if (o->use_wd_sched)
            shrink = 1.0 - wd;
        else if (o->kind == OPTIM_ADAMW)
            shrink = 1.0 - lr * wd;
        else
            l2 = wd;
        if (o->kind == OPTIM_SGD)
            sgd_range(w + rg->off, g + rg->off, opt->v + rg->off, rg->n, (float)lr, (float)mom, (float)l2,
                      (float)shrink, o->nesterov, o->caffe_momentum);
        else
            adam_range(w + rg->off, g + rg->off, opt->v + rg->off, opt->s + rg->off, rg->n, lr, mom, o->beta2, o->eps,
                       (float)l2, (float)shrink, opt->step);
    }
}


