// resnet.c: assembling ResNet-(6n+2) from the layers: layout, init, forward, backward.
#include "resnet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ConfigKey resnet_config_keys[] = {
    {"depth", "56", "network depth 6n+2: 20, 32, 44, 56, 110, ..."},
    {"shortcut", "A", "A: subsample + zero-padded channels (parameter-free); B: 1x1 conv + BN projection"},
    {NULL, NULL, NULL},
};

int model_options_from_config(ModelOptions *o, const Config *c, Err *e) {
    long depth;
    int sc;
    static const char *const shortcuts[] = {"A", "B", NULL};
    if (config_int_in(c, "model", "depth", 8, 1202, &depth, e)) return e->code;
    if ((depth - 2) % 6 != 0)
        return err_set(e, ERR_INPUT, "%s: model.depth: must be 6n+2 (20, 32, 44, 56, 110, ...), got %ld",
                       config_where(c, "model", "depth"), depth);
    if (config_choice(c, "model", "shortcut", shortcuts, &sc, e)) return e->code;
    o->depth = (int)depth;
    o->shortcut_b = sc;
    o->classes = 10;
    return ERR_OK;
}

// ---- layout ---------------------------------------------------------------------------

typedef struct Planner {
    ResNet *m;
    long params, stats, acts, saves;
    int count_only;
} Planner;

// shape: PyTorch's, ndim entries (the product is n).
static long add_param(Planner *p, const char *name, long n, int kind, int fan_in, int ndim, const int *shape) {
    long off = p->params;
    p->params += n;
    if (!p->count_only) {
        ParamTensor *t = &p->m->tensors[p->m->ntensors];
        snprintf(t->name, sizeof t->name, "%.63s", name);
        t->off = off;
        t->n = n;
        t->kind = kind;
        t->fan_in = fan_in;
        t->ndim = ndim;
        memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    }
    p->m->ntensors++;
    return off;
}

static void add_bn(Planner *p, BnLayer *bn, const char *prefix, int C) {
    char name[64];
    snprintf(name, sizeof name, "%.40s.weight", prefix);
    bn->gamma = add_param(p, name, C, PARAM_BN_GAMMA, 1, 1, &C);
    snprintf(name, sizeof name, "%.40s.bias", prefix);
    bn->beta = add_param(p, name, C, PARAM_BN_BETA, 1, 1, &C);
    bn->C = C;
    if (!p->count_only) p->m->bns[p->m->nbns] = bn;
    p->m->nbns++;
    bn->run = p->stats;
    p->stats += 2L * C;
    p->saves += 2L * C;
}

static long add_conv(Planner *p, const char *name, int cout, int cin, int k) {
    const int shape[4] = {cout, cin, k, k};
    return add_param(p, name, (long)cout * cin * k * k, PARAM_CONV, cin * k * k, 4, shape);
}

// Walks the architecture in PyTorch's parameter order, assigning offsets. Run twice: once
// to count, once to fill the tensor table.
static void plan(Planner *p) {
    ResNet *m = p->m;
    const int n = (m->opt.depth - 2) / 6, B = m->max_batch;
    m->ntensors = 0;
    m->nbns = 0;
    m->w0 = add_conv(p, "conv1.weight", 16, 3, 3);
    add_bn(p, &m->bn0, "bn1", 16);
    p->acts += 2L * 16 * B * 1024; // c0, a0
    int cin = 16, H = 32, b = 0;
    for (int stage = 0; stage < 3; stage++) {
        int cout = 16 << stage;
        for (int i = 0; i < n; i++, b++) {
            Block *blk = &m->blocks[b];
            char pre[24], name[64];
            snprintf(pre, sizeof pre, "layer%d.%d", stage + 1, i);
            blk->cin = cin;
            blk->cout = cout;
            blk->stride = (stage > 0 && i == 0) ? 2 : 1;
            blk->H = blk->W = H;
            snprintf(name, sizeof name, "%s.conv1.weight", pre);
            blk->w1 = add_conv(p, name, cout, cin, 3);
            snprintf(name, sizeof name, "%s.bn1", pre);
            add_bn(p, &blk->bn1, name, cout);
            snprintf(name, sizeof name, "%s.conv2.weight", pre);
            blk->w2 = add_conv(p, name, cout, cout, 3);
            snprintf(name, sizeof name, "%s.bn2", pre);
            add_bn(p, &blk->bn2, name, cout);
            int Ho = H / blk->stride;
            long act = (long)cout * B * Ho * Ho;
            p->acts += 4 * act; // c1, a1, c2, out
            blk->wsc = -1;
            if ((blk->stride != 1 || cin != cout) && m->opt.shortcut_b) {
                snprintf(name, sizeof name, "%s.shortcut.0.weight", pre);
                blk->wsc = add_conv(p, name, cout, cin, 1);
                snprintf(name, sizeof name, "%s.shortcut.1", pre);
                add_bn(p, &blk->bnsc, name, cout);
                p->acts += 2 * act; // scc, sco
            }
            cin = cout;
            H = Ho;
        }
    }
    const int fc_shape[2] = {m->opt.classes, 64};
    m->fcw = add_param(p, "linear.weight", (long)m->opt.classes * 64, PARAM_FC_W, 64, 2, fc_shape);
    m->fcb = add_param(p, "linear.bias", m->opt.classes, PARAM_FC_B, 64, 1, fc_shape);
}

static float *take(float **cursor, long n) {
    float *p = *cursor;
    *cursor += floats_to_lines((size_t)n); // keep every tensor 64-byte aligned
    return p;
}

static void bind_bn(BnLayer *bn, float **save) {
    bn->mean = take(save, bn->C);
    bn->rstd = take(save, bn->C);
}

// The floats of the activation block, the saved-statistics block and the im2col workspace
// of a planned model (plan() has run on m).
typedef struct MemPlan {
    long acts, saves;
    size_t col;
} MemPlan;

static MemPlan mem_plan(const ResNet *m, const Planner *p) {
    const int B = m->max_batch;
    const long biggest = 16L * B * 1024;
    MemPlan mp;
    mp.acts = p->acts + 64L * (m->nblocks + 2) * 16 + 3 * biggest + biggest + 4L * B * 64 + 4L * B * m->opt.classes +
              256 + 1024;
    mp.saves = p->saves + 16L * 4 * (m->nblocks * 3 + 1);
    // im2col workspace: the largest chunk any conv will use, per thread. 0.25M to 2M floats
    // per thread measured within noise of each other at batch 128 (2 threads); 1M keeps
    // a chunk's col (4 MB) near the L2+L3 share of a core.
    ConvShape s;
    conv_shape_init(&s, B, 3, 32, 32, 16, 3, 1, 1, m->col_budget);
    mp.col = conv_col_floats(&s);
    for (int b = 0; b < m->nblocks; b++) {
        const Block *blk = &m->blocks[b];
        conv_shape_init(&s, B, blk->cin, blk->H, blk->W, blk->cout, 3, blk->stride, 1, m->col_budget);
        if (conv_col_floats(&s) > mp.col) mp.col = conv_col_floats(&s);
        conv_shape_init(&s, B, blk->cout, blk->H / blk->stride, blk->W / blk->stride, blk->cout, 3, 1, 1,
                        m->col_budget);
        if (conv_col_floats(&s) > mp.col) mp.col = conv_col_floats(&s);
    }
    return mp;
}

static size_t col_budget(void) {
    const char *budget = getenv("ONECYCLE_COL_BUDGET");
    return budget ? (size_t)atol(budget) : (size_t)1 << 20;
}

size_t resnet_planned_bytes(const ModelOptions *o, int max_batch, long *nparams) {
    if (o->depth < 8 || (o->depth - 2) % 6 || max_batch < 1) return 0;
    ResNet m;
    memset(&m, 0, sizeof m);
    m.opt = *o;
    m.max_batch = max_batch;
    m.nblocks = 3 * ((o->depth - 2) / 6);
    m.blocks = xcalloc((size_t)m.nblocks, sizeof(Block));
    m.col_budget = col_budget();
    Planner p = {.m = &m, .count_only = 1};
    plan(&p);
    MemPlan mp = mem_plan(&m, &p);
    free(m.blocks);
    if (nparams) *nparams = p.params;
    return sizeof(float) * ((size_t)(2 * p.params + p.stats + mp.acts + mp.saves) + mp.col);
}

int resnet_create(ResNet *m, const ModelOptions *o, int max_batch, Err *e) {
    memset(m, 0, sizeof *m);
    if (o->depth < 8 || (o->depth - 2) % 6)
        return err_set(e, ERR_INPUT, "model depth must be 6n+2, got %d", o->depth);
    if (max_batch < 1) return err_set(e, ERR_INPUT, "batch size must be at least 1, got %d", max_batch);
    m->opt = *o;
    m->max_batch = max_batch;
    m->nblocks = 3 * ((o->depth - 2) / 6);
    m->blocks = xcalloc((size_t)m->nblocks, sizeof(Block));
    Planner p = {.m = m, .count_only = 1};
    plan(&p);
    m->tensors = xcalloc((size_t)m->ntensors, sizeof(ParamTensor));
    m->bns = xcalloc((size_t)m->nbns, sizeof(BnLayer *));
    p = (Planner){.m = m};
    plan(&p);
    m->nparams = p.params;
    m->nstats = p.stats;
    m->params = xalloc_aligned(sizeof(float) * (size_t)m->nparams);
    m->grads = xalloc_aligned(sizeof(float) * (size_t)m->nparams);
    m->stats = xalloc_aligned(sizeof(float) * (size_t)m->nstats);

    // Activations: one block, each tensor padded to 16 floats.
    const int B = max_batch;
    long biggest = 16L * B * 1024;
    m->col_budget = col_budget();
    MemPlan mp = mem_plan(m, &p);
    m->block_mem = xalloc_aligned(sizeof(float) * (size_t)mp.acts);
    m->save_mem = xalloc_aligned(sizeof(float) * (size_t)mp.saves);
    float *cur = m->block_mem, *save = m->save_mem;
    m->c0 = take(&cur, 16L * B * 1024);
    m->a0 = take(&cur, 16L * B * 1024);
    bind_bn(&m->bn0, &save);
    for (int b = 0; b < m->nblocks; b++) {
        Block *blk = &m->blocks[b];
        int Ho = blk->H / blk->stride;
        long act = (long)blk->cout * B * Ho * Ho;
        blk->c1 = take(&cur, act);
        blk->a1 = take(&cur, act);
        blk->c2 = take(&cur, act);
        blk->out = take(&cur, act);
        bind_bn(&blk->bn1, &save);
        bind_bn(&blk->bn2, &save);
        if (blk->wsc >= 0) {
            blk->scc = take(&cur, act);
            blk->sco = take(&cur, act);
            bind_bn(&blk->bnsc, &save);
        }
    }
    for (int i = 0; i < 3; i++) m->g[i] = take(&cur, biggest);
    m->sc = take(&cur, biggest);
    m->epi = take(&cur, 128);
    m->pooled = take(&cur, (long)B * 64);
    m->dpooled = take(&cur, (long)B * 64);
    m->logits = take(&cur, (long)B * o->classes);
    m->dlogits = take(&cur, (long)B * o->classes);

    m->col = xalloc_aligned(sizeof(float) * mp.col);
    return ERR_OK;
}

void resnet_free(ResNet *m) {
    free(m->params);
    free(m->grads);
    free(m->stats);
    free(m->tensors);
    free(m->bns);
    free(m->blocks);
    free(m->block_mem);
    free(m->save_mem);
    free(m->col);
    memset(m, 0, sizeof *m);
}

void resnet_init_weights(ResNet *m, Rng *rng) {
    for (int t = 0; t < m->ntensors; t++) {
        const ParamTensor *pt = &m->tensors[t];
        float *w = m->params + pt->off;
        double std = sqrt(2.0 / (double)pt->fan_in), bound = 1.0 / sqrt((double)pt->fan_in);
        for (long i = 0; i < pt->n; i++) {
            switch (pt->kind) {
            case PARAM_CONV:
            case PARAM_FC_W: w[i] = (float)(std * rng_normal(rng)); break;
            case PARAM_FC_B: w[i] = (float)(bound * (2 * rng_uniform(rng) - 1)); break;
            case PARAM_BN_GAMMA: w[i] = 1.0f; break;
            default: w[i] = 0.0f;
            }
        }
    }
    for (int b = 0; b < m->nbns; b++) {
        const BnLayer *bn = m->bns[b];
        for (int i = 0; i < bn->C; i++) {
            m->stats[bn->run + i] = 0.0f;         // running mean
            m->stats[bn->run + bn->C + i] = 1.0f; // running var
        }
    }
}

// ---- forward / backward --------------------------------------------------------------

static const float BN_EPS = 1e-5f, BN_MOMENTUM = 0.1f; // PyTorch's BatchNorm2d defaults

static void bn_fwd(ResNet *m, const BnLayer *bn, float *y, const float *x, const float *res, long N, int relu,
                   int train) {
    BnArgs a = {.C = bn->C, .N = N, .eps = BN_EPS, .momentum = BN_MOMENTUM, .relu = relu, .train = train};
    bn_forward(y, x, res, m->params + bn->gamma, m->params + bn->beta, bn->mean, bn->rstd, m->stats + bn->run,
               m->stats + bn->run + bn->C, &a);
}

// y: the forward's output, for the ReLU mask (NULL: no ReLU).
static void bn_bwd(ResNet *m, const BnLayer *bn, float *dx, float *dres, const float *dy, const float *y,
                   const float *x, long N) {
    BnArgs a = {.C = bn->C, .N = N, .eps = BN_EPS, .momentum = BN_MOMENTUM, .relu = y != NULL, .train = 1};
    bn_backward(dx, dres, m->grads + bn->gamma, m->grads + bn->beta, dy, y, x, m->params + bn->gamma, bn->mean,
                bn->rstd, &a);
}

static ConvShape conv3(const ResNet *m, int B, int cin, int H, int cout, int stride) {
    ConvShape s;
    conv_shape_init(&s, B, cin, H, H, cout, 3, stride, 1, m->col_budget);
    return s;
}

// Evaluation: conv then batchnorm (+ residual, ReLU) as one conv_forward_bn, the BN folded
// into a per-channel scale and shift from its running statistics.
static void conv_bn_eval(ResNet *m, const BnLayer *bn, float *y, const float *x, long w, const ConvShape *s,
                         const float *res, int relu) {
    const float *gamma = m->params + bn->gamma, *beta = m->params + bn->beta, *rm = m->stats + bn->run,
                *rv = rm + bn->C;
    float *scale = m->epi, *shift = m->epi + 64;
    bn_eval_affine(scale, shift, gamma, beta, rm, rv, bn->C, BN_EPS);
    ConvEpilogue ep = {.scale = scale, .shift = shift, .res = res, .relu = relu};
    conv_forward_bn(y, x, m->params + w, s, m->col, &ep);
}

double resnet_forward(ResNet *m, const float *x, const int *labels, int B, int train, int *correct) {
    m->input = x;
    ConvShape s = conv3(m, B, 3, 32, 16, 1);
    if (train) {
        conv_forward(m->c0, x, m->params + m->w0, &s, m->col);
        bn_fwd(m, &m->bn0, m->a0, m->c0, NULL, (long)B * 1024, 1, train);
    } else {
        conv_bn_eval(m, &m->bn0, m->a0, x, m->w0, &s, NULL, 1);
    }
    const float *cur = m->a0;
    for (int b = 0; b < m->nblocks; b++) {
        Block *blk = &m->blocks[b];
        int Ho = blk->H / blk->stride;
        long N = (long)B * Ho * Ho;
        const float *res = cur;
        if (blk->wsc >= 0) {
            conv_shape_init(&s, B, blk->cin, blk->H, blk->W, blk->cout, 1, blk->stride, 0, m->col_budget);
            conv_forward(blk->scc, cur, m->params + blk->wsc, &s, m->col);
            bn_fwd(m, &blk->bnsc, blk->sco, blk->scc, NULL, N, 0, train);
            res = blk->sco;
        } else if (blk->stride != 1 || blk->cin != blk->cout) {
            shortcut_a_forward(m->sc, cur, blk->cin, blk->cout, B, blk->H, blk->W);
            res = m->sc;
        }
        s = conv3(m, B, blk->cin, blk->H, blk->cout, blk->stride);
        ConvShape s2 = conv3(m, B, blk->cout, Ho, blk->cout, 1);
        if (train) {
            conv_forward(blk->c1, cur, m->params + blk->w1, &s, m->col);
            bn_fwd(m, &blk->bn1, blk->a1, blk->c1, NULL, N, 1, train);
            conv_forward(blk->c2, blk->a1, m->params + blk->w2, &s2, m->col);
            bn_fwd(m, &blk->bn2, blk->out, blk->c2, res, N, 1, train);
        } else {
            conv_bn_eval(m, &blk->bn1, blk->a1, cur, blk->w1, &s, NULL, 1);
            conv_bn_eval(m, &blk->bn2, blk->out, blk->a1, blk->w2, &s2, res, 1);
        }
        cur = blk->out;
    }
    avgpool_forward(m->pooled, cur, 64, B, 64);
    fc_forward(m->logits, m->pooled, m->params + m->fcw, m->params + m->fcb, B, 64, m->opt.classes);
    return softmax_ce(train ? m->dlogits : NULL, m->logits, labels, B, m->opt.classes, correct);
}

void resnet_backward(ResNet *m, const int *labels, int B) {
    (void)labels; // the loss gradient was computed by the training forward
    fc_backward(m->dpooled, m->grads + m->fcw, m->grads + m->fcb, m->dlogits, m->pooled, m->params + m->fcw, B, 64,
                m->opt.classes);
    // gout: dL/d(block output), then the block input's gradient; g1, g2: scratch.
    float *gout = m->g[0], *g1 = m->g[1], *g2 = m->g[2];
    avgpool_backward(gout, m->dpooled, 64, B, 64);
    ConvShape s;
    for (int b = m->nblocks - 1; b >= 0; b--) {
        Block *blk = &m->blocks[b];
        const float *in = b ? m->blocks[b - 1].out : m->a0;
        int Ho = blk->H / blk->stride;
        long N = (long)B * Ho * Ho;
        // gout becomes dL/d(shortcut) = dL/d(bn2 + shortcut), masked in place by the ReLU.
        bn_bwd(m, &blk->bn2, g1, gout, gout, blk->out, blk->c2, N);
        s = conv3(m, B, blk->cout, Ho, blk->cout, 1);
        conv_backward(g2, m->grads + blk->w2, g1, blk->a1, m->params + blk->w2, &s, m->col);
        bn_bwd(m, &blk->bn1, g1, NULL, g2, blk->a1, blk->c1, N);
        s = conv3(m, B, blk->cin, blk->H, blk->cout, blk->stride);
        if (blk->wsc < 0 && blk->stride == 1 && blk->cin == blk->cout) {
            // Identity shortcut: the input gradient is gout plus the conv path's, summed in place.
            conv_backward_acc(gout, m->grads + blk->w1, g1, in, m->params + blk->w1, &s, m->col);
            continue;
        }
        conv_backward(g2, m->grads + blk->w1, g1, in, m->params + blk->w1, &s, m->col);
        if (blk->wsc >= 0) {
            bn_bwd(m, &blk->bnsc, g1, NULL, gout, NULL, blk->scc, N);
            conv_shape_init(&s, B, blk->cin, blk->H, blk->W, blk->cout, 1, blk->stride, 0, m->col_budget);
            conv_backward_acc(g2, m->grads + blk->wsc, g1, in, m->params + blk->wsc, &s, m->col);
        } else {
            shortcut_a_backward_acc(g2, gout, blk->cin, blk->cout, B, blk->H, blk->W);
        }
        float *t = gout; // g2 now holds dL/d(block input)
        gout = g2;
        g2 = t;
    }
    bn_bwd(m, &m->bn0, g1, NULL, gout, m->a0, m->c0, (long)B * 1024);
    s = conv3(m, B, 3, 32, 16, 1);
    conv_backward(NULL, m->grads + m->w0, g1, m->input, m->params + m->w0, &s, m->col);
}

double resnet_flops_per_image(const ResNet *m, int train) {
    // forward conv FLOPs: 2*Cout*Cin*k*k*Ho*Wo; training adds data- and weight-gradients
    double fwd = 2.0 * 16 * 3 * 9 * 1024, bwd = 2.0 * 16 * 3 * 9 * 1024; // stem: no data gradient
    for (int b = 0; b < m->nblocks; b++) {
        const Block *blk = &m->blocks[b];
        int Ho = blk->H / blk->stride;
        double f1 = 2.0 * blk->cout * blk->cin * 9 * Ho * Ho, f2 = 2.0 * blk->cout * blk->cout * 9 * Ho * Ho;
        double f3 = blk->wsc >= 0 ? 2.0 * blk->cout * blk->cin * Ho * Ho : 0;
        fwd += f1 + f2 + f3;
        bwd += 2 * (f1 + f2 + f3);
    }
    fwd += 2.0 * 64 * m->opt.classes;
    bwd += 4.0 * 64 * m->opt.classes;
    return train ? fwd + bwd : fwd;
}

void resnet_print_summary(const ResNet *m, void *fp) {
    FILE *f = fp;
    fprintf(f, "model: ResNet-%d (CIFAR, He et al. 2015), shortcut option %s\n", m->opt.depth,
            m->opt.shortcut_b ? "B (1x1 conv + BN projection)" : "A (subsample + zero-pad channels)");
    fprintf(f, "  %-28s %-16s %10s\n", "layer", "output (C,H,W)", "params");
    fprintf(f, "  %-28s %-16s %10d\n", "conv1 3x3 + bn1 + relu", "16x32x32", 16 * 3 * 9 + 32);
    for (int b = 0; b < m->nblocks; b++) {
        const Block *blk = &m->blocks[b];
        int Ho = blk->H / blk->stride, n = m->nblocks / 3;
        long p = (long)blk->cout * blk->cin * 9 + (long)blk->cout * blk->cout * 9 + 4L * blk->cout;
        if (blk->wsc >= 0) p += (long)blk->cout * blk->cin + 2L * blk->cout;
        char name[48], shape[24];
        snprintf(name, sizeof name, "layer%d.%d basic block%s", b / n + 1, b % n,
                 blk->stride == 2 ? (blk->wsc >= 0 ? " /2 (B)" : " /2 (A)") : "");
        snprintf(shape, sizeof shape, "%dx%dx%d", blk->cout, Ho, Ho);
        fprintf(f, "  %-28s %-16s %10ld\n", name, shape, p);
    }
    fprintf(f, "  %-28s %-16s %10d\n", "avgpool", "64", 0);
    fprintf(f, "  %-28s %-16s %10d\n", "linear 64->10", "10", 64 * m->opt.classes + m->opt.classes);
    fprintf(f, "parameters: %ld\n", m->nparams);
    fprintf(f, "batchnorm running statistics: %ld floats\n", m->nstats);
    fprintf(f, "training GFLOP per image: %.3f (forward %.3f)\n", resnet_flops_per_image(m, 1) / 1e9,
            resnet_flops_per_image(m, 0) / 1e9);
}
