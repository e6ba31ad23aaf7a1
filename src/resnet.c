// resnet.c: the model as walks over its block list (resnet.h): plan and bind the memory,
// init, forward, backward, FLOPs and summary. What a block does is in resnet_blocks.c; which
// blocks make which network is in resnet_arch.c.
#include "resnet.h"
#include "resnet_blocks.h"
#include "shares.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the memory plan -----------------------------------------------------------------

// Every tensor starts on a cache line (64-byte aligned for the AVX-512 kernels).
static size_t lines(long n) {
    return floats_to_lines((size_t)n);
}

float *plan_floats(Planner *p, long n) {
    float *at = NULL;
    if (p->bind) {
        at = p->act_at;
        p->act_at += lines(n);
    }
    p->acts += lines(n);
    return at;
}

float *plan_act(Planner *p, int C, int H, int W) {
    long n = act_floats(p->m->layout, C, p->m->max_batch, H, W);
    if (n > p->biggest) p->biggest = n;
    return plan_floats(p, n);
}

// shape: PyTorch's, ndim entries (the product is n).
static long plan_param(Planner *p, const char *name, long n, int kind, int fan_in, int ndim, const int *shape) {
    long off = p->params;
    p->params += n;
    if (p->bind) {
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

long plan_conv(Planner *p, const char *prefix, int cout, int cin, int k, int stride, int H, int W, long *bias) {
    ConvShape s;
    conv_shape_init(&s, p->m->max_batch, cin, H, W, cout, k, stride, conv_pad(k), p->m->col_budget);
    if (conv_col_floats(&s) > p->col) p->col = conv_col_floats(&s);
    const int shape[4] = {cout, cin, k, k};
    char name[64];
    snprintf(name, sizeof name, "%.40s.weight", prefix);
    long w = plan_param(p, name, (long)cout * cin * k * k, PARAM_CONV, cin * k * k, 4, shape);
    if (bias) {
        snprintf(name, sizeof name, "%.40s.bias", prefix);
        *bias = plan_param(p, name, cout, PARAM_CONV_B, cin * k * k, 1, &cout);
    }
    return w;
}

void plan_bn(Planner *p, BnLayer *bn, const char *prefix, int C) {
    char name[64];
    snprintf(name, sizeof name, "%.40s.weight", prefix);
    bn->gamma = plan_param(p, name, C, PARAM_BN_GAMMA, 1, 1, &C);
    snprintf(name, sizeof name, "%.40s.bias", prefix);
    bn->beta = plan_param(p, name, C, PARAM_BN_BETA, 1, 1, &C);
    bn->C = C;
    if (p->bind) p->m->bns[p->m->nbns] = bn;
    p->m->nbns++;
    bn->run = p->stats;
    p->stats += 2L * C;
    if (C > p->widest) p->widest = C;
    // The batch statistics the backward needs: per channel, one per run of ghost batch-norm.
    const long n = (long)C * bn_groups(p->m->max_batch, p->m->opt.bn_group);
    if (p->bind) {
        bn->mean = p->save_at;
        bn->rstd = p->save_at + lines(n);
        p->save_at += 2 * lines(n);
    }
    p->saves += 2 * lines(n);
}

long plan_linear(Planner *p, const char *prefix, int cout, int cin) {
    const int shape[2] = {cout, cin};
    char name[64];
    snprintf(name, sizeof name, "%.40s.weight", prefix);
    long w = plan_param(p, name, (long)cout * cin, PARAM_FC_W, cin, 2, shape);
    snprintf(name, sizeof name, "%.40s.bias", prefix);
    plan_param(p, name, cout, PARAM_FC_B, cin, 1, shape);
    return w;
}

// Walks the block list in PyTorch's parameter order, each block taking its parameters,
// batchnorms and activations, then the buffers the blocks share.
static void plan(Planner *p) {
    ResNet *m = p->m;
    m->ntensors = 0;
    m->nbns = 0;
    int H = m->opt.height, W = m->opt.width;
    for (int i = 0; i < m->nblocks; i++) {
        Block *b = &m->blocks[i];
        b->H = H, b->W = W;
        b->w1 = b->w2 = b->wsc = -1;
        b->bn1.in_bias = b->bn2.in_bias = b->bnsc.in_bias = -1;
        b->pbegin = p->params;
        block_ops[b->spec.kind].plan(p, b);
        b->pend = p->params;
        H = b->Ho, W = b->Wo;
    }
    for (int i = 0; i < 3; i++) m->g[i] = plan_floats(p, p->biggest);
    m->sc = plan_floats(p, p->biggest);
    m->epi = plan_floats(p, 2L * p->widest);
    if (m->layout == ACT_CB16)
        for (int i = 0; i < 3; i++) m->cs.t[i] = plan_floats(p, p->biggest);
}

static int check_options(const ModelOptions *o, int max_batch, Err *e) {
    if (o->arch != ARCH_RESNET && o->arch != ARCH_PREACT && o->arch != ARCH_CAFFE)
        return err_set(e, ERR_INPUT, "unknown model arch %d", o->arch);
    if (o->init != INIT_KAIMING && o->init != INIT_XAVIER)
        return err_set(e, ERR_INPUT, "unknown model init %d", o->init);
    if (o->depth < 8 || (o->depth - 2) % 6)
        return err_set(e, ERR_INPUT, "model depth must be 6n+2, got %d", o->depth);
    if (o->channels < 1 || o->channels > 1024 || o->height < 1 || o->height > 4096 || o->width < 1 ||
        o->width > 4096)
        return err_set(e, ERR_INPUT, "model input must be 1..1024 channels of 1..4096 x 1..4096 pixels, got %dx%dx%d",
                       o->channels, o->height, o->width);
    // A 3x3 stride-2 convolution (pad 1) halves a side rounding up, the 2x2 projection (pad
    // 0) rounding down: the two agree on even sides only, and there are two of them.
    if (o->arch == ARCH_CAFFE && (o->height % 4 || o->width % 4))
        return err_set(e, ERR_INPUT,
                       "model arch caffe needs input sides that are multiples of 4 (its 2x2 stride-2 projections "
                       "downsample twice), got %dx%d",
                       o->height, o->width);
    if (o->bn_group < 0) return err_set(e, ERR_INPUT, "batch-norm group must be 0 or more images, got %d", o->bn_group);
    if (o->classes < 2 || o->classes > 100000)
        return err_set(e, ERR_INPUT, "model classes must be 2..100000, got %d", o->classes);
    if (max_batch < 1) return err_set(e, ERR_INPUT, "batch size must be at least 1, got %d", max_batch);
    return ERR_OK;
}

// The options, the block list and the workspace budget of a model, before planning.
static void describe(ResNet *m, const ModelOptions *o, int max_batch) {
    memset(m, 0, sizeof *m);
    m->opt = *o;
    m->max_batch = max_batch;
    // Convolution workspace: the largest chunk any conv will use, per thread. 0.25M to 2M
    // floats per thread measured within noise of each other at batch 128 (2 threads); 1M
    // keeps a chunk's col (4 MB) near the L2+L3 share of a core.
    const char *budget = getenv("ONECYCLE_COL_BUDGET");
    m->col_budget = budget ? (size_t)atol(budget) : (size_t)1 << 20;
    m->nblocks = resnet_block_count(o);
    BlockSpec *specs = xcalloc((size_t)m->nblocks, sizeof(BlockSpec));
    resnet_block_list(o, specs);
    m->blocks = xcalloc((size_t)m->nblocks, sizeof(Block));
    for (int i = 0; i < m->nblocks; i++) m->blocks[i].spec = specs[i];
    free(specs);
    m->layout = ACT_CBHW;
#ifdef __AVX512F__
    int blocked = o->layout != MODEL_LAYOUT_CBHW;
#else
    int blocked = 0;
#endif
    for (int i = 0; i < m->nblocks; i++) {
        const BlockSpec *sp = &m->blocks[i].spec;
        if ((sp->kind != BLOCK_STEM && sp->cin % ACT_LANES) || (sp->kind != BLOCK_HEAD && sp->cout % ACT_LANES))
            blocked = 0;
    }
    if (blocked) m->layout = ACT_CB16;
}

size_t resnet_planned_bytes(const ModelOptions *o, int max_batch, long *nparams) {
    Err e = {0};
    if (check_options(o, max_batch, &e)) return 0;
    ResNet m;
    describe(&m, o, max_batch);
    Planner count = {.m = &m};
    plan(&count);
    free(m.blocks);
    if (nparams) *nparams = count.params;
    return sizeof(float) * ((size_t)(2 * count.params + count.stats + count.acts + count.saves) + count.col);
}

int resnet_create(ResNet *m, const ModelOptions *o, int max_batch, Err *e) {
    memset(m, 0, sizeof *m);
    if (check_options(o, max_batch, e)) return e->code;
    describe(m, o, max_batch);

    Planner count = {.m = m};
    plan(&count);
    m->tensors = xcalloc((size_t)m->ntensors, sizeof(ParamTensor));
    m->bns = xcalloc((size_t)m->nbns, sizeof(BnLayer *));
    m->nparams = count.params;
    m->nstats = count.stats;
    m->params = xalloc_aligned(sizeof(float) * (size_t)m->nparams);
    m->grads = xalloc_aligned(sizeof(float) * (size_t)m->nparams);
    m->stats = xalloc_aligned(sizeof(float) * (size_t)m->nstats);
    m->act_mem = xalloc_aligned(sizeof(float) * count.acts);
    m->save_mem = xalloc_aligned(sizeof(float) * count.saves);
    m->col = xalloc_aligned(sizeof(float) * count.col);
    Planner bind = {.m = m, .bind = 1, .act_at = m->act_mem, .save_at = m->save_mem};
    plan(&bind); // the same walk, so the same sizes: each tensor gets exactly its room
    m->grad_stride = (long)floats_to_lines((size_t)m->nparams);
    resnet_set_shares(m, 1, 0, 0);
    return ERR_OK;
}

void resnet_set_shares(ResNet *m, int shares, int first, int total) {
    if (shares > 1 && shares != m->shares) {
        free(m->grads);
        m->grads = xalloc_aligned(sizeof(float) * (size_t)m->grad_stride * (size_t)shares);
    }
    int widest = 0;
    for (int i = 0; i < m->nbns; i++)
        if (m->bns[i]->C > widest) widest = m->bns[i]->C;
    free(m->share_lo);
    free(m->bn_parts);
    free(m->loss_parts);
    m->share_lo = xcalloc((size_t)shares + 1, sizeof(int));
    m->bn_parts = xmalloc(sizeof(double) * (size_t)shares * (size_t)(2 * widest + 1));
    m->loss_parts = xmalloc(sizeof(double) * (size_t)shares);
    m->shares = shares;
    m->share_first = first;
    m->share_total = total;
    m->pass_shares = 1;
}

// The shares of a pass over B images (resnet.h): this process's part of the global batch,
// split as the loader splits it (shares_range).
static void split(ResNet *m, int B, int train) {
    const int S = train ? m->shares : 1;
    m->pass_shares = S;
    m->share_lo[0] = 0;
    m->share_lo[S] = B;
    if (S == 1) return;
    const int global = m->global_batch > 0, nb = global ? m->global_batch : B;
    const int first = global ? m->share_first : 0, total = global ? m->share_total : S;
    int base, hi;
    shares_range(nb, first, total, &base, &hi);
    for (int j = 1; j < S; j++) {
        shares_range(nb, first + j, total, &m->share_lo[j], &hi);
        m->share_lo[j] -= base;
    }
}

void resnet_free(ResNet *m) {
    free(m->params);
    free(m->grads);
    free(m->stats);
    free(m->tensors);
    free(m->bns);
    free(m->blocks);
    free(m->act_mem);
    free(m->save_mem);
    free(m->col);
    free(m->share_lo);
    free(m->bn_parts);
    free(m->loss_parts);
    memset(m, 0, sizeof *m);
}

void resnet_init_weights(ResNet *m, Rng *rng) {
    for (int t = 0; t < m->ntensors; t++) {
        const ParamTensor *pt = &m->tensors[t];
        float *w = m->params + pt->off;
        double std = sqrt(2.0 / (double)pt->fan_in), bound = 1.0 / sqrt((double)pt->fan_in);
        const int xavier = m->opt.init == INIT_XAVIER;
        if (xavier) bound = sqrt(3.0 / (double)pt->fan_in); // Caffe's filler.hpp, variance_norm FAN_IN
        for (long i = 0; i < pt->n; i++) {
            switch (pt->kind) {
            case PARAM_CONV:
            case PARAM_FC_W:
                w[i] = xavier ? (float)(bound * (2 * rng_uniform(rng) - 1)) : (float)(std * rng_normal(rng));
                break;
            case PARAM_FC_B: w[i] = xavier ? 0.0f : (float)(bound * (2 * rng_uniform(rng) - 1)); break;
            case PARAM_BN_GAMMA: w[i] = 1.0f; break;
            default: w[i] = 0.0f; // BN beta, conv biases
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

// ---- the walks ----------------------------------------------------------------------

double resnet_forward(ResNet *m, const float *x, const int *labels, int B, int train, int *correct) {
    m->input = x;
    split(m, B, train);
    for (int i = 0; i < m->nblocks; i++) {
        Block *b = &m->blocks[i];
        block_ops[b->spec.kind].forward(m, b, i ? m->blocks[i - 1].out : x, B, train);
    }
    int denom = train && m->global_batch > 0 ? m->global_batch : B;
    const int S = m->pass_shares, K = m->opt.classes;
    if (S == 1) return softmax_ce(train ? m->dlogits : NULL, m->logits, labels, B, denom, K, correct);
    int hits = 0;
    for (int j = 0; j < S; j++) { // each share's loss and hits, as its process computes them
        const int lo = m->share_lo[j];
        int h;
        m->loss_parts[j] = softmax_ce(m->dlogits + (long)lo * K, m->logits + (long)lo * K, labels + lo,
                                      m->share_lo[j + 1] - lo, denom, K, &h);
        hits += h;
    }
    if (correct) *correct = hits;
    shares_sum_double(m->loss_parts, S, 1, 1);
    return m->loss_parts[0];
}

void resnet_backward(ResNet *m, const int *labels, int B) {
    (void)labels; // the loss gradient was computed by the training forward
    float *g[3] = {m->g[0], m->g[1], m->g[2]};
    for (int i = m->nblocks - 1; i >= 0; i--) {
        Block *b = &m->blocks[i];
        block_ops[b->spec.kind].backward(m, b, i ? m->blocks[i - 1].out : m->input, g, B);
    }
    shares_sum_float(m->grads, m->pass_shares, m->nparams, m->grad_stride); // the shares' gradients
}

double resnet_flops_per_image(const ResNet *m, int train) {
    double f = 0;
    for (int i = 0; i < m->nblocks; i++) f += block_ops[m->blocks[i].spec.kind].flops(&m->blocks[i], train);
    return f;
}

void resnet_print_summary(const ResNet *m, void *fp) {
    FILE *f = fp;
    const ModelOptions *o = &m->opt;
    if (o->arch == ARCH_CAFFE) {
        const int n = (o->depth - 2) / 6;
        fprintf(f,
                "model: Caffe ResNet-%d (L. N. Smith's gResnet56.prototxt): %d + %d + %d blocks, no ReLU after the "
                "addition, 2x2 stride-2 projection + BN in the last block of the first two groups, conv biases\n",
                o->depth, n, n, n - 1);
    } else {
        fprintf(f, "model: %sResNet-%d (CIFAR, He et al. %s), shortcut option %s\n",
                o->arch == ARCH_PREACT ? "pre-activation " : "", o->depth, o->arch == ARCH_PREACT ? "2016" : "2015",
                !o->shortcut_b           ? "A (subsample + zero-pad channels)"
                : o->arch == ARCH_PREACT ? "B (1x1 conv projection)"
                                         : "B (1x1 conv + BN projection)");
    }
    fprintf(f, "init: %s\n",
            o->init == INIT_XAVIER ? "xavier (Caffe's filler: uniform +-sqrt(3/fan_in), biases 0)"
                                   : "kaiming normal (fan_in)");
    if (o->bn_group) fprintf(f, "batch-norm: statistics over groups of %d images (ghost batch-norm)\n", o->bn_group);
    fprintf(f, "input: %dx%dx%d, %d classes\n", o->channels, o->height, o->width, o->classes);
    fprintf(f, "  %-28s %-16s %10s\n", "layer", "output (C,H,W)", "params");
    for (int i = 0; i < m->nblocks; i++) block_ops[m->blocks[i].spec.kind].summary(m, &m->blocks[i], f);
    fprintf(f, "parameters: %ld\n", m->nparams);
    fprintf(f, "batchnorm running statistics: %ld floats\n", m->nstats);
    fprintf(f, "training GFLOP per image: %.3f (forward %.3f)\n", resnet_flops_per_image(m, 1) / 1e9,
            resnet_flops_per_image(m, 0) / 1e9);
}
