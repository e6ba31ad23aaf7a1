// resnet_blocks.h: what each kind of block (resnet.h's BlockKind) does, for the walks of
// resnet.c.
// Internal to the model module (resnet.h, resnet.c, resnet_blocks.c, resnet_arch.c): the
// commands and the trainer use resnet.h only.
//
// Every kind has the same five operations; resnet.c calls them block by block, in list
// order (backward: in reverse), and knows nothing of what is inside a block.
#ifndef ONECYCLE_RESNET_BLOCKS_H
#define ONECYCLE_RESNET_BLOCKS_H
#include "resnet.h"
#include <stdio.h>

// The memory plan, walked twice over the block list: once to count (bind = 0), once to
// assign every parameter offset and activation pointer (bind = 1) in the blocks that the
// count sized exactly.
typedef struct Planner {
    ResNet *m;
    int bind;
    long params, stats;      // floats so far
    size_t acts, saves;      // floats so far, each tensor rounded up to whole cache lines
    float *act_at, *save_at; // bind: where the next activation / saved statistics go
    long biggest;            // the largest activation (floats, max_batch images)
    int widest;              // the most channels of a batchnorm
    size_t col;              // the most workspace any convolution needs
} Planner;

// An activation of (C, max_batch, H, W); NULL when counting.
float *plan_act(Planner *p, int C, int H, int W);
// n floats of activations that are not a (C, B, H, W) tensor (the head's pooled features).
float *plan_floats(Planner *p, long n);
// The padding of a k x k convolution: (k - 1) / 2, so "same" for the odd kernels (3x3: 1,
// 1x1: 0) and none for caffe's 2x2 projection (as its prototxt has it).
static inline int conv_pad(int k) {
    return (k - 1) / 2;
}
// A convolution's weight prefix.weight (cout, cin, k, k), on an H x W input with stride s and
// pad conv_pad(k); sizes the workspace for it at max_batch. Returns its offset in params.
// bias not NULL: prefix.bias (cout) follows the weight (PyTorch's order), its offset in *bias.
long plan_conv(Planner *p, const char *prefix, int cout, int cin, int k, int stride, int H, int W, long *bias);
// A batchnorm of C channels: prefix.weight and prefix.bias, running and saved statistics
// (the saved ones for every run of ghost batch-norm at max_batch). Leaves bn->in_bias alone.
void plan_bn(Planner *p, BnLayer *bn, const char *prefix, int C);
// A linear layer: prefix.weight (cout, cin), then prefix.bias (cout). Returns the weight's offset.
long plan_linear(Planner *p, const char *prefix, int cout, int cin);

typedef struct BlockOps {
    // Sets the block's output plane (Ho, Wo) from its input plane (H, W) and plans its
    // parameters (in PyTorch's order), batchnorms and activations.
    void (*plan)(Planner *p, Block *b);
    // x: the block's input (cin, B, H, W); writes b->out (the head: m->logits).
    void (*forward)(ResNet *m, Block *b, const float *x, int B, int train);
    // After a training forward: g[0] holds dL/d(b->out) (the head reads m->dlogits
    // instead); adds nothing, overwrites the block's gradients in m->grads, and leaves
    // dL/dx in g[0] (g[1], g[2] are scratch; the three may be swapped). x: as in forward.
    // The stem leaves g alone: its input needs no gradient.
    void (*backward)(ResNet *m, Block *b, const float *x, float *g[3], int B);
    // FLOPs per image of the conv and fc layers (multiply-add = 2): the forward alone, or
    // with train forward, data and weight gradients.
    double (*flops)(const Block *b, int train);
    // One or more lines of the summary table: "  %-28s %-16s %10ld" (layer, output, params).
    void (*summary)(const ResNet *m, const Block *b, FILE *f);
} BlockOps;

extern const BlockOps block_ops[]; // by BlockKind

#endif
