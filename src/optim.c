// optim.c: SGD (momentum, Nesterov), Adam and AdamW with PyTorch's update rules.
#include "optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const ConfigKey optim_config_keys[] = {
    {"name", "sgd", "sgd | adam | adamw (momentum from the schedule drives SGD momentum or Adam's beta1)"},
    {"wd", "1e-4", "weight decay (L2 added to the gradient; decoupled for adamw)"},
    {"nesterov", "false", "Nesterov momentum for SGD"},
    {"wd_bn_bias", "true", "apply weight decay to BN and bias parameters too (false: only conv/fc weights)"},
    {"beta2", "0.999", "Adam/AdamW second-moment decay"},
    {"eps", "1e-8", "Adam/AdamW epsilon"},
    {NULL, NULL, NULL},
};

int optim_options_from_config(OptimOptions *o, const Config *c, Err *e) {
    static const char *const names[] = {"sgd", "adam", "adamw", NULL};
    memset(o, 0, sizeof *o);
    if (config_choice(c, "optim", "name", names, &o->kind, e) ||
        config_double_in(c, "optim", "wd", 0, 1, &o->wd, e) || config_bool(c, "optim", "nesterov", &o->nesterov, e) ||
        config_bool(c, "optim", "wd_bn_bias", &o->wd_bn_bias, e) ||
        config_double_in(c, "optim", "beta2", 0, 0.999999999, &o->beta2, e) ||
        config_double_in(c, "optim", "eps", 1e-30, 1, &o->eps, e))
        return e->code;
    if (o->nesterov && o->kind != OPTIM_SGD)
        return err_set(e, ERR_INPUT, "%s: optim.nesterov: only applies to name = sgd",
                       config_where(c, "optim", "nesterov"));
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

void optim_free(Optimizer *opt) {
    free(opt->v);
    free(opt->s);
    free(opt->ranges);
    memset(opt, 0, sizeof *opt);
}

static void sgd_range(float *w, const float *g, float *v, long n, float lr, float mu, float wd, int nesterov) {
    if (nesterov) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float d = g[i] + wd * w[i];
            v[i] = mu * v[i] + d;
            w[i] -= lr * (d + mu * v[i]);
        }
    } else {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            v[i] = mu * v[i] + g[i] + wd * w[i];
            w[i] -= lr * v[i];
        }
    }
}

// PyTorch Adam/AdamW (amsgrad off): bias-corrected moments; beta1 may change every step,
// and the bias correction uses the current beta1 as torch does (1 - beta1^t).
static void adam_range(float *w, const float *g, float *m, float *s, long n, double lr, double b1, double b2,
                       double eps, double wd, int decoupled, long t) {
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2)), fe = (float)eps;
    float fb1 = (float)b1, fb2 = (float)b2, fwd = (float)wd, shrink = (float)(1.0 - lr * wd);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float d = g[i];
        if (decoupled)
            w[i] *= shrink;
        else
            d += fwd * w[i];
        m[i] = fb1 * m[i] + (1 - fb1) * d;
        s[i] = fb2 * s[i] + (1 - fb2) * d * d;
        w[i] -= step * m[i] / (sqrtf(s[i]) * rbc2 + fe);
    }
}

void optim_step(Optimizer *opt, float *w, const float *g, double lr, double mom) {
    opt->step++;
    for (int r = 0; r < opt->nranges; r++) {
        const OptimRange *rg = &opt->ranges[r];
        double wd = rg->decay ? opt->o.wd : 0.0;
        if (opt->o.kind == OPTIM_SGD)
            sgd_range(w + rg->off, g + rg->off, opt->v + rg->off, rg->n, (float)lr, (float)mom, (float)wd,
                      opt->o.nesterov);
        else
            adam_range(w + rg->off, g + rg->off, opt->v + rg->off, opt->s + rg->off, rg->n, lr, mom, opt->o.beta2,
                       opt->o.eps, wd, opt->o.kind == OPTIM_ADAMW, opt->step);
    }
}
