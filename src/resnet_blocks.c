// resnet_blocks.c: each kind of block as plan / forward / backward / flops / summary
// (resnet_blocks.h).
// Shapes: a block's input x is (cin, B, H, W), its output (cout, B, Ho, Wo); N = B*Ho*Wo; every
// activation in the model's layout (ResNet.layout: CBHW or CB16, act.h), the stem's input
// (the batch) in CBHW. The model's widths are multiples of 16 in CB16, so a tensor of C
// channels and B images takes C*B*H*W floats in either layout and a share's offset is the same.
#include "resnet_blocks.h"
#include <stdio.h>
#include <string.h>

static const float BN_EPS = RESNET_BN_EPS, BN_MOMENTUM = 0.1f; // PyTorch's BatchNorm2d defaults

// ---- shares (resnet.h): each layer run share by share -----------------------------------
// A (C, B, H, W) tensor of the pass holds share j's (C, n_j, H, W) at C*H*W * share_lo[j].
// Per-image and element-wise work gives the same bits whichever way it is cut; the kernels
// are still called per share, so each runs on exactly the sub-batch a process holding that
// share alone would give it (a kernel's order of work may follow its batch size).

static int share_n(const ResNet *m, int j) {
    return m->share_lo[j + 1] - m->share_lo[j];
}

static float *share_grads(const ResNet *m, int j) {
    return m->grads + j * m->grad_stride;
}

// s for share j's images (conv_shape_init with its batch: the chunking a process makes).
static ConvShape share_shape(const ResNet *m, const ConvShape *s, int j) {
    ConvShape t;
    conv_shape_init(&t, share_n(m, j), s->Cin, s->H, s->W, s->Cout, s->k, s->stride, s->pad, m->col_budget);
    return t;
}

// Share j's part of a pass's tensor at p of C channels on an H x W plane, in layout l.
static Act share_act(const ResNet *m, const float *p, ActLayout l, int C, int H, int W, int j) {
    return act_make((float *)p + act_floats(l, C, m->share_lo[j], H, W), l, C, share_n(m, j), H, W);
}

// out = conv(in, w), share by share; in in layout li, out in the model's.
static void conv_fwd(ResNet *m, float *out, const float *in, ActLayout li, long w, const ConvShape *s) {
    for (int j = 0; j < m->pass_shares; j++) {
        ConvShape t = share_shape(m, s, j);
        Act o = share_act(m, out, m->layout, s->Cout, s->Ho, s->Wo, j), i = share_act(m, in, li, s->Cin, s->H, s->W, j);
        conv_forward_act(&o, &i, m->params + w, &t, m->col, &m->cs);
    }
}

// conv_backward (acc: din +=), share by share, each share's dw in its gradient block.
static void conv_bwd(ResNet *m, float *din, long w, const float *dout, const float *in, ActLayout li,
                     const ConvShape *s, int acc) {
    for (int j = 0; j < m->pass_shares; j++) {
        ConvShape t = share_shape(m, s, j);
        Act dy = share_act(m, dout, m->layout, s->Cout, s->Ho, s->Wo, j), x = share_act(m, in, li, s->Cin, s->H, s->W, j);
        Act dx = din ? share_act(m, din, li, s->Cin, s->H, s->W, j) : (Act){0};
        conv_backward_act(din ? &dx : NULL, share_grads(m, j) + w, &dy, &x, m->params + w, &t, m->col, acc, &m->cs);
    }
}

// The batchnorm's arguments for B images of HW pixels: ghost batch-norm's runs of
// opt.bn_group whole images, the bias of the convolution before it.
// In training, the pass's shares (ResNet.shares).
static BnArgs bn_args(const ResNet *m, const BnLayer *bn, int B, long HW, int relu, int train) {
    return (BnArgs){.C = bn->C, .N = B * HW, .eps = BN_EPS, .momentum = BN_MOMENTUM, .relu = relu, .train = train,
                    .sync = m->bn_sync, .group = m->opt.bn_group * HW,
                    .in_bias = bn->in_bias >= 0 ? m->params + bn->in_bias : NULL,
                    .shares = train ? m->pass_shares : 1, .share_lo = m->share_lo, .hw = HW, .parts = m->bn_parts,
                    .grad_stride = m->grad_stride};
}

static void bn_fwd(ResNet *m, const BnLayer *bn, float *y, const float *x, const float *res, int B, long HW, int relu,
                   int train) {
    BnArgs a = bn_args(m, bn, B, HW, relu, train);
    (m->layout == ACT_CB16 ? bn_forward_cb16 : bn_forward)(y, x, res, m->params + bn->gamma, m->params + bn->beta, bn->mean, bn->rstd, m->stats + bn->run,
               m->stats + bn->run + bn->C, &a);
}

// y: the forward's output, for the ReLU mask (NULL: no ReLU). The bias of the convolution
// before a training batchnorm cancels in its output: its gradient is 0.
static void bn_bwd(ResNet *m, const BnLayer *bn, float *dx, float *dres, const float *dy, const float *y,
                   const float *x, int B, long HW) {
    BnArgs a = bn_args(m, bn, B, HW, y != NULL, 1);
    (m->layout == ACT_CB16 ? bn_backward_cb16 : bn_backward)(dx, dres, m->grads + bn->gamma, m->grads + bn->beta, dy, y, x, m->params + bn->gamma, bn->mean,
                bn->rstd, &a);
    if (bn->in_bias >= 0)
        for (int j = 0; j < m->pass_shares; j++)
            memset(share_grads(m, j) + bn->in_bias, 0, sizeof(float) * (size_t)bn->C);
}

// A k x k convolution (pad conv_pad(k)) of the block's input plane, or of its output plane (out = 1).
static ConvShape shape(const ResNet *m, const Block *b, int B, int cin, int cout, int k, int stride, int out) {
    ConvShape s;
    conv_shape_init(&s, B, cin, out ? b->Ho : b->H, out ? b->Wo : b->W, cout, k, stride, conv_pad(k), m->col_budget);
    return s;
}

// Evaluation: conv then batchnorm (+ residual, ReLU) as one conv_forward_bn, the BN folded
// into a per-channel scale and shift from its running statistics.
static void conv_bn_eval(ResNet *m, const BnLayer *bn, float *y, const float *x, ActLayout li, long w,
                         const ConvShape *s, const float *res, int relu) {
    const float *gamma = m->params + bn->gamma, *beta = m->params + bn->beta, *rm = m->stats + bn->run,
                *rv = rm + bn->C;
    float *scale = m->epi, *shift = m->epi + bn->C;
    bn_eval_affine(scale, shift, gamma, beta, rm, rv, bn->in_bias >= 0 ? m->params + bn->in_bias : NULL, bn->C, BN_EPS);
    ConvEpilogue ep = {.scale = scale, .shift = shift, .res = res, .relu = relu};
    Act o = act_make(y, m->layout, s->Cout, s->B, s->Ho, s->Wo), i = act_make((float *)x, li, s->Cin, s->B, s->H, s->W);
    conv_forward_bn_act(&o, &i, m->params + w, s, m->col, &ep, &m->cs);
}

// The convolutions of a residual block: conv1 (3x3, strided, on the input plane), conv2
// (3x3 on the output plane) and the projection shortcut (proj_k x proj_k, strided).
static ConvShape conv1_shape(const ResNet *m, const Block *b, int B) {
    return shape(m, b, B, b->spec.cin, b->spec.cout, 3, b->spec.stride, 0);
}

static ConvShape conv2_shape(const ResNet *m, const Block *b, int B) {
    return shape(m, b, B, b->spec.cout, b->spec.cout, 3, 1, 1);
}

static ConvShape proj_shape(const ResNet *m, const Block *b, int B) {
    return shape(m, b, B, b->spec.cin, b->spec.cout, b->spec.proj_k, b->spec.stride, 0);
}

// y = act(bn(conv(x)) + res) (res may be NULL; act: ReLU or nothing): in training the
// conv's output c is kept for the backward pass; in evaluation the two are one fused
// conv_bn_eval.
static void conv_bn(ResNet *m, const BnLayer *bn, float *c, float *y, const float *x, ActLayout li, long w,
                    const ConvShape *s, const float *res, int relu, int train) {
    if (train) {
        conv_fwd(m, c, x, li, w, s);
        bn_fwd(m, bn, y, c, res, s->B, (long)s->Ho * s->Wo, relu, train);
    } else {
        conv_bn_eval(m, bn, y, x, li, w, s, res, relu);
    }
}

// "NAME.what" into name: a layer of the block under its PyTorch name (layer1.0.conv1.weight).
static const char *layer_name(char name[64], const Block *b, const char *what) {
    snprintf(name, 64, "%s.%s", b->spec.name, what);
    return name;
}

static void swap(float **a, float **b) {
    float *t = *a;
    *a = *b;
    *b = t;
}

static long params_of(const Block *b) {
    return b->pend - b->pbegin;
}

static void row(FILE *f, const char *layer, int C, int H, int W, long params) {
    char shape[32];
    snprintf(shape, sizeof shape, "%dx%dx%d", C, H, W);
    fprintf(f, "  %-28s %-16s %10ld\n", layer, shape, params);
}

// ---- stem: conv3x3 (-> BN -> ReLU when spec.bn) ------------------------------------------
// resnet, caffe: c1 = conv(x), out = relu(bn1(c1)); preact: out = c1 = conv(x). caffe's conv
// bias is folded into bn1 (BnLayer.in_bias).

static void stem_plan(Planner *p, Block *b) {
    const BlockSpec *sp = &b->spec;
    b->Ho = b->H, b->Wo = b->W;
    b->w1 = plan_conv(p, "conv1", sp->cout, sp->cin, 3, 1, b->H, b->W, sp->conv_bias ? &b->bn1.in_bias : NULL);
    b->c1 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->out = b->c1;
    if (sp->bn) {
        plan_bn(p, &b->bn1, "bn1", sp->cout);
        b->out = b->a1 = plan_act(p, sp->cout, b->Ho, b->Wo);
    }
}

static void stem_forward(ResNet *m, Block *b, const float *x, int B, int train) {
    ConvShape s = shape(m, b, B, b->spec.cin, b->spec.cout, 3, 1, 0);
    if (!b->spec.bn)
        conv_fwd(m, b->c1, x, ACT_CBHW, b->w1, &s);
    else
        conv_bn(m, &b->bn1, b->c1, b->a1, x, ACT_CBHW, b->w1, &s, NULL, 1, train);
}

static void stem_backward(ResNet *m, Block *b, const float *x, float *g[3], int B) {
    const float *dc = g[0];
    if (b->spec.bn) {
        bn_bwd(m, &b->bn1, g[1], NULL, g[0], b->a1, b->c1, B, (long)b->Ho * b->Wo);
        dc = g[1];
    }
    ConvShape s = shape(m, b, B, b->spec.cin, b->spec.cout, 3, 1, 0);
    conv_bwd(m, NULL, b->w1, dc, x, ACT_CBHW, &s, 0);
}

static double stem_flops(const Block *b, int train) {
    double f = 2.0 * b->spec.cout * b->spec.cin * 9 * b->Ho * b->Wo;
    return train ? 2 * f : f; // no data gradient
}

static void stem_summary(const ResNet *m, const Block *b, FILE *f) {
    (void)m;
    const char *what = !b->spec.bn          ? "conv1 3x3"
                       : b->spec.conv_bias ? "conv1 3x3 (b) + bn1 + relu"
                                           : "conv1 3x3 + bn1 + relu";
    row(f, what, b->spec.cout, b->Ho, b->Wo, params_of(b));
}

// ---- the shortcuts of both residual blocks -----------------------------------------------

static const char *shortcut_label(const Block *b) {
    if (b->spec.stride == 1) return "";
    if (b->spec.shortcut == SHORTCUT_B && b->spec.proj_k == 2) return " /2 (2x2)";
    return b->spec.shortcut == SHORTCUT_B ? " /2 (B)" : " /2 (A)";
}

// Every plane here is either the block's input or its output.
static void shortcut_plan(Planner *p, Block *b, int with_bn) {
    const BlockSpec *sp = &b->spec;
    b->wsc = -1;
    if (sp->shortcut != SHORTCUT_B) return;
    char name[64];
    b->wsc = plan_conv(p, layer_name(name, b, "shortcut.0"), sp->cout, sp->cin, sp->proj_k, sp->stride, b->H, b->W,
                       sp->conv_bias ? &b->bnsc.in_bias : NULL);
    b->scc = plan_act(p, sp->cout, b->Ho, b->Wo);
    if (with_bn) {
        plan_bn(p, &b->bnsc, layer_name(name, b, "shortcut.1"), sp->cout);
        b->sco = plan_act(p, sp->cout, b->Ho, b->Wo);
    }
}

// The shortcut's output from src: src itself (identity), option A's subsampled and
// zero-padded src (in m->sc), or the projection (B), then its batchnorm when with_bn.
static const float *shortcut_forward(ResNet *m, Block *b, const float *src, int B, int with_bn, int train) {
    const BlockSpec *sp = &b->spec;
    if (sp->shortcut == SHORTCUT_A) {
        const long ip = (long)sp->cin * b->H * b->W, op = (long)sp->cout * b->Ho * b->Wo;
        for (int j = 0; j < m->pass_shares; j++) {
            const long lo = m->share_lo[j];
            (m->layout == ACT_CB16 ? shortcut_a_forward_cb16 : shortcut_a_forward)(
                m->sc + op * lo, src + ip * lo, sp->cin, sp->cout, share_n(m, j), b->H, b->W);
        }
        return m->sc;
    }
    if (sp->shortcut != SHORTCUT_B) return src;
    ConvShape s = proj_shape(m, b, B);
    conv_fwd(m, b->scc, src, m->layout, b->wsc, &s);
    if (!with_bn) return b->scc;
    bn_fwd(m, &b->bnsc, b->sco, b->scc, NULL, B, (long)b->Ho * b->Wo, 0, train);
    return b->sco;
}

// Adds the shortcut's gradient with respect to src to dsrc, from dy = dL/d(its output);
// with_bn: back through its batchnorm first, into tmp.
static void shortcut_backward_acc(ResNet *m, Block *b, float *dsrc, const float *dy, float *tmp, const float *src,
                                  int B, int with_bn) {
    const BlockSpec *sp = &b->spec;
    const long N = (long)B * b->Ho * b->Wo;
    if (sp->shortcut == SHORTCUT_A) {
        const long ip = (long)sp->cin * b->H * b->W, op = (long)sp->cout * b->Ho * b->Wo;
        for (int j = 0; j < m->pass_shares; j++) {
            const long lo = m->share_lo[j];
            (m->layout == ACT_CB16 ? shortcut_a_backward_acc_cb16 : shortcut_a_backward_acc)(
                dsrc + ip * lo, dy + op * lo, sp->cin, sp->cout, share_n(m, j), b->H, b->W);
        }
        return;
    }
    if (sp->shortcut != SHORTCUT_B) {
        add_inplace(dsrc, dy, (long)sp->cout * N);
        return;
    }
    if (with_bn) {
        bn_bwd(m, &b->bnsc, tmp, NULL, dy, NULL, b->scc, B, (long)b->Ho * b->Wo);
        dy = tmp;
    }
    ConvShape s = proj_shape(m, b, B);
    conv_bwd(m, dsrc, b->wsc, dy, src, m->layout, &s, 1);
}

// ---- basic block (resnet, caffe): conv -> BN -> ReLU -> conv -> BN (+ shortcut) (-> ReLU) --
// c1 = conv1(x), a1 = relu(bn1(c1)), c2 = conv2(a1), out = relu(bn2(c2) + shortcut(x)); with
// sum_only (caffe) out = bn2(c2) + shortcut(x). caffe's conv biases are folded into the
// batchnorms that follow them (BnLayer.in_bias).

static void basic_plan(Planner *p, Block *b) {
    const BlockSpec *sp = &b->spec;
    char name[64];
    b->Ho = (b->H - 1) / sp->stride + 1, b->Wo = (b->W - 1) / sp->stride + 1;
    b->w1 = plan_conv(p, layer_name(name, b, "conv1"), sp->cout, sp->cin, 3, sp->stride, b->H, b->W,
                      sp->conv_bias ? &b->bn1.in_bias : NULL);
    plan_bn(p, &b->bn1, layer_name(name, b, "bn1"), sp->cout);
    b->w2 = plan_conv(p, layer_name(name, b, "conv2"), sp->cout, sp->cout, 3, 1, b->Ho, b->Wo,
                      sp->conv_bias ? &b->bn2.in_bias : NULL);
    plan_bn(p, &b->bn2, layer_name(name, b, "bn2"), sp->cout);
    b->c1 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->a1 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->c2 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->out = plan_act(p, sp->cout, b->Ho, b->Wo);
    shortcut_plan(p, b, 1);
}

static void basic_forward(ResNet *m, Block *b, const float *x, int B, int train) {
    const float *res = shortcut_forward(m, b, x, B, 1, train);
    ConvShape s1 = conv1_shape(m, b, B), s2 = conv2_shape(m, b, B);
    conv_bn(m, &b->bn1, b->c1, b->a1, x, m->layout, b->w1, &s1, NULL, 1, train);
    conv_bn(m, &b->bn2, b->c2, b->out, b->a1, m->layout, b->w2, &s2, res, !b->spec.sum_only, train);
}

static void basic_backward(ResNet *m, Block *b, const float *x, float *g[3], int B) {
    const BlockSpec *sp = &b->spec;
    const long HW = (long)b->Ho * b->Wo;
    ConvShape s1 = conv1_shape(m, b, B), s2 = conv2_shape(m, b, B);
    // g[0] becomes dL/d(shortcut) = dL/d(bn2 + shortcut), masked in place by the ReLU (if any).
    bn_bwd(m, &b->bn2, g[1], g[0], g[0], sp->sum_only ? NULL : b->out, b->c2, B, HW);
    conv_bwd(m, g[2], b->w2, g[1], b->a1, m->layout, &s2, 0);
    bn_bwd(m, &b->bn1, g[1], NULL, g[2], b->a1, b->c1, B, HW);
    if (sp->shortcut == SHORTCUT_IDENTITY) {
        // The input gradient is g[0] plus the conv path's, summed in place.
        conv_bwd(m, g[0], b->w1, g[1], x, m->layout, &s1, 1);
        return;
    }
    conv_bwd(m, g[2], b->w1, g[1], x, m->layout, &s1, 0);
    shortcut_backward_acc(m, b, g[2], g[0], g[1], x, B, 1);
    swap(&g[0], &g[2]); // g[2] held dL/dx
}

// Both residual blocks: two 3x3 convolutions and the projection (the conv biases, a
// per-channel add folded into the batchnorms, are not counted).
static double residual_flops(const Block *b, int train) {
    const BlockSpec *sp = &b->spec;
    const double P = (double)b->Ho * b->Wo;
    double f1 = 2.0 * sp->cout * sp->cin * 9 * P, f2 = 2.0 * sp->cout * sp->cout * 9 * P;
    double f3 = sp->shortcut == SHORTCUT_B ? 2.0 * sp->cout * sp->cin * sp->proj_k * sp->proj_k * P : 0;
    double f = f1 + f2 + f3;
    return train ? f + 2 * f : f;
}

static void residual_summary(const ResNet *m, const Block *b, FILE *f) {
    (void)m;
    char name[48];
    const char *kind = b->spec.kind == BLOCK_PREACT ? "preact" : b->spec.sum_only ? "caffe" : "basic";
    snprintf(name, sizeof name, "%s %s block%s", b->spec.name, kind, shortcut_label(b));
    row(f, name, b->spec.cout, b->Ho, b->Wo, params_of(b));
}

// ---- pre-activation block (preact): BN -> ReLU -> conv -> BN -> ReLU -> conv (+ shortcut) --
// a1 = relu(bn1(x)), c1 = conv1(a1), a2 = relu(bn2(c1)), out = conv2(a2) + shortcut(s),
// s = a1 with preact_shortcut, else x. Nothing follows the addition.

static void preact_plan(Planner *p, Block *b) {
    const BlockSpec *sp = &b->spec;
    char name[64];
    b->Ho = (b->H - 1) / sp->stride + 1, b->Wo = (b->W - 1) / sp->stride + 1;
    plan_bn(p, &b->bn1, layer_name(name, b, "bn1"), sp->cin);
    b->w1 = plan_conv(p, layer_name(name, b, "conv1"), sp->cout, sp->cin, 3, sp->stride, b->H, b->W, NULL);
    plan_bn(p, &b->bn2, layer_name(name, b, "bn2"), sp->cout);
    b->w2 = plan_conv(p, layer_name(name, b, "conv2"), sp->cout, sp->cout, 3, 1, b->Ho, b->Wo, NULL);
    b->a1 = plan_act(p, sp->cin, b->H, b->W);
    b->c1 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->a2 = plan_act(p, sp->cout, b->Ho, b->Wo);
    b->out = plan_act(p, sp->cout, b->Ho, b->Wo);
    shortcut_plan(p, b, 0);
}

static void preact_forward(ResNet *m, Block *b, const float *x, int B, int train) {
    const BlockSpec *sp = &b->spec;
    const long N = (long)B * b->Ho * b->Wo;
    bn_fwd(m, &b->bn1, b->a1, x, NULL, B, (long)b->H * b->W, 1, train);
    const float *res = shortcut_forward(m, b, sp->preact_shortcut ? b->a1 : x, B, 0, train);
    ConvShape s1 = conv1_shape(m, b, B), s2 = conv2_shape(m, b, B);
    conv_bn(m, &b->bn2, b->c1, b->a2, b->a1, m->layout, b->w1, &s1, NULL, 1, train);
    conv_fwd(m, b->out, b->a2, m->layout, b->w2, &s2);
    add_inplace(b->out, res, (long)sp->cout * N);
}

static void preact_backward(ResNet *m, Block *b, const float *x, float *g[3], int B) {
    const BlockSpec *sp = &b->spec;
    const long HW = (long)b->Ho * b->Wo, HWin = (long)b->H * b->W;
    ConvShape s1 = conv1_shape(m, b, B), s2 = conv2_shape(m, b, B);
    conv_bwd(m, g[1], b->w2, g[0], b->a2, m->layout, &s2, 0); // dL/da2
    bn_bwd(m, &b->bn2, g[2], NULL, g[1], b->a2, b->c1, B, HW);                         // dL/dc1
    conv_bwd(m, g[1], b->w1, g[2], b->a1, m->layout, &s1, 0); // dL/da1, conv path
    // The shortcut's gradient joins dL/da1 before bn1 (preact_shortcut) or dL/dx after it.
    float *dsrc = g[1];
    if (!sp->preact_shortcut) {
        bn_bwd(m, &b->bn1, g[2], NULL, g[1], b->a1, x, B, HWin);
        dsrc = g[2];
    }
    shortcut_backward_acc(m, b, dsrc, g[0], NULL, sp->preact_shortcut ? b->a1 : x, B, 0);
    if (sp->preact_shortcut) bn_bwd(m, &b->bn1, g[2], NULL, g[1], b->a1, x, B, HWin);
    swap(&g[0], &g[2]); // g[2] held dL/dx
}

// ---- head: (BN -> ReLU when spec.bn ->) global average pool -> linear ----------------------
// a1 = relu(bn1(x)) (spec.bn), pooled = mean over the plane, logits = linear(pooled).

static void head_plan(Planner *p, Block *b) {
    const BlockSpec *sp = &b->spec;
    b->Ho = b->Wo = 1;
    if (sp->bn) {
        plan_bn(p, &b->bn1, "bn", sp->cin);
        b->a1 = plan_act(p, sp->cin, b->H, b->W);
    }
    b->w1 = plan_linear(p, "linear", sp->cout, sp->cin);
    b->w2 = b->w1 + (long)sp->cout * sp->cin;
    const long B = p->m->max_batch;
    b->pooled = plan_floats(p, B * sp->cin);
    b->dpooled = plan_floats(p, B * sp->cin);
    b->out = p->m->logits = plan_floats(p, B * sp->cout);
    p->m->dlogits = plan_floats(p, B * sp->cout);
}

static void head_forward(ResNet *m, Block *b, const float *x, int B, int train) {
    const BlockSpec *sp = &b->spec;
    if (sp->bn) {
        bn_fwd(m, &b->bn1, b->a1, x, NULL, B, (long)b->H * b->W, 1, train);
        x = b->a1;
    }
    const int HW = b->H * b->W;
    for (int j = 0; j < m->pass_shares; j++) {
        const long lo = m->share_lo[j];
        (m->layout == ACT_CB16 ? avgpool_forward_cb16 : avgpool_forward)(b->pooled + lo * sp->cin, x + (long)sp->cin * HW * lo, sp->cin, share_n(m, j), HW);
    }
    // Row by row, each row its own sums: the same bits for the whole batch as share by share.
    fc_forward(m->logits, b->pooled, m->params + b->w1, m->params + b->w2, B, sp->cin, sp->cout);
}

static void head_backward(ResNet *m, Block *b, const float *x, float *g[3], int B) {
    const BlockSpec *sp = &b->spec;
    const int HW = b->H * b->W;
    for (int j = 0; j < m->pass_shares; j++) { // the weight and bias gradients sum over the share's rows
        const long lo = m->share_lo[j];
        float *gw = share_grads(m, j);
        fc_backward(b->dpooled + lo * sp->cin, gw + b->w1, gw + b->w2, m->dlogits + lo * sp->cout,
                    b->pooled + lo * sp->cin, m->params + b->w1, share_n(m, j), sp->cin, sp->cout);
        (m->layout == ACT_CB16 ? avgpool_backward_cb16 : avgpool_backward)(g[0] + (long)sp->cin * HW * lo, b->dpooled + lo * sp->cin, sp->cin, share_n(m, j), HW);
    }
    if (sp->bn) {
        bn_bwd(m, &b->bn1, g[1], NULL, g[0], b->a1, x, B, HW);
        swap(&g[0], &g[1]);
    }
}

static double head_flops(const Block *b, int train) {
    double f = 2.0 * b->spec.cin * b->spec.cout;
    return train ? f + 2 * f : f;
}

static void head_summary(const ResNet *m, const Block *b, FILE *f) {
    (void)m;
    const BlockSpec *sp = &b->spec;
    long bn = sp->bn ? 2L * sp->cin : 0;
    if (sp->bn) row(f, "bn + relu", sp->cin, b->H, b->W, bn);
    char name[48], out[16];
    fprintf(f, "  %-28s %-16d %10d\n", "avgpool", sp->cin, 0);
    snprintf(name, sizeof name, "linear %d->%d", sp->cin, sp->cout);
    snprintf(out, sizeof out, "%d", sp->cout);
    fprintf(f, "  %-28s %-16s %10ld\n", name, out, params_of(b) - bn);
}

const BlockOps block_ops[] = {
    [BLOCK_STEM] = {stem_plan, stem_forward, stem_backward, stem_flops, stem_summary},
    [BLOCK_BASIC] = {basic_plan, basic_forward, basic_backward, residual_flops, residual_summary},
    [BLOCK_PREACT] = {preact_plan, preact_forward, preact_backward, residual_flops, residual_summary},
    [BLOCK_HEAD] = {head_plan, head_forward, head_backward, head_flops, head_summary},
};
