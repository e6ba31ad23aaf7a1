// resnet_arch.c: the architectures as block lists (resnet.h), and the [model] section.
//
// A variant is a list of blocks, not code: a new one is a function here (and, where it
// needs a new kind of block, that kind's five operations in resnet_blocks.c).
//
// caffe is L. N. Smith's Caffe ResNet-56, read from his gResnet56.prototxt (github
// lnsmith54/hyperParam1, Cifar/architectures/; results/notes/smith-caffe-setup.md) layer by
// layer:
//  - "first": conv 3x3 pad 1 stride 1, 16 outputs, then BatchNorm + Scale (gamma, beta) +
//    ReLU: our stem with BN.
//  - group0 block0..8, group1 block0..8, group2 block0..7 (9 + 9 + 8 = 26 blocks): conv0
//    3x3 pad 1 -> BN + Scale -> ReLU -> conv1 3x3 pad 1 -> BN + Scale, an Eltwise SUM with
//    the shortcut, and no ReLU after it (the next block's conv0 and the pool read the sum).
//  - group0 block8 and group1 block8 (the last of their group) downsample: conv0 has stride
//    2 and twice the channels (16 -> 32, 32 -> 64), and the shortcut is "proj", a 2x2
//    stride-2 pad-0 convolution + BN + Scale of the block's input. Everywhere else the
//    shortcut is the identity; group2 has no downsampling block.
//  - "post_pool": global average pool; "post_FC": InnerProduct to the classes.
//  - Every Convolution has Caffe's default bias_term: true, with a constant-0 bias_filler;
//    the InnerProduct's bias too (its param lr_mult 2, decay_mult 0: not expressed here,
//    see the note). The fillers are "msra", which Smith's x4.sh rewrites to "xavier" for the
//    runs his log comes from (init = auto gives xavier for caffe).
// For other depths 6n+2 the same pattern with n, n and n-1 blocks (depth 56: 9, 9, 8), the
// last block of the first two groups downsampling: depth 14 is 2 + 2 + 1 blocks, depth 8
// 1 + 1 + 0 (its two blocks both downsample; nothing runs at 64 channels but the head).
// Each block's parameters are named after the group it sits in, as in the prototxt: the
// downsampling block of group0 is layer1.8 although its output has 32 channels.
#include "resnet.h"
#include <stdio.h>
#include <string.h>

const ConfigKey resnet_config_keys[] = {
    {"arch", "resnet",
     "resnet: He et al. 2015, post-activation (conv-BN-ReLU, ReLU after the addition); preact: He et al. 2016, "
     "pre-activation (BN-ReLU-conv, nothing after the addition, BN + ReLU before the pool); caffe: L. N. Smith's "
     "Caffe ResNet (gResnet56.prototxt: conv biases, no ReLU after the addition, n + n + n-1 blocks, the last "
     "block of the first two groups downsampling with a 2x2 stride-2 conv + BN shortcut)"},
    {"depth", "56", "network depth 6n+2: 20, 32, 44, 56, 110, ..."},
    {"shortcut", "A",
     "A: subsample + zero-padded channels (parameter-free); B: 1x1 conv projection (+ BN in resnet) where the "
     "shape changes; arch = caffe has its own (the 2x2 projection) and ignores A, refuses B"},
    {"init", "auto",
     "auto: kaiming for resnet and preact, xavier for caffe; kaiming: He et al.'s normal (fan_in) for conv and fc "
     "weights, fc bias uniform +-1/sqrt(fan_in) (PyTorch's), conv biases 0; xavier: Caffe's xavier filler, uniform "
     "+-sqrt(3/fan_in) for conv and fc weights, every bias 0"},
    {NULL, NULL, NULL},
};

int model_options_from_config(ModelOptions *o, const Config *c, const DataShape *in, Err *e) {
    long depth;
    int sc, arch, init;
    static const char *const shortcuts[] = {"A", "B", NULL}, *const archs[] = {"resnet", "preact", "caffe", NULL},
                             *const inits[] = {"auto", "kaiming", "xavier", NULL};
    if (config_choice(c, "model", "arch", archs, &arch, e)) return e->code;
    if (config_int_in(c, "model", "depth", 8, 1202, &depth, e)) return e->code;
    if ((depth - 2) % 6 != 0)
        return err_set(e, ERR_INPUT, "%s: model.depth: must be 6n+2 (20, 32, 44, 56, 110, ...), got %ld",
                       config_where(c, "model", "depth"), depth);
    if (config_choice(c, "model", "shortcut", shortcuts, &sc, e)) return e->code;
    // A (the default) is let through so that --set model.arch=caffe works on any config;
    // B asks for a projection caffe does not have.
    if (arch == ARCH_CAFFE && sc == 1)
        return err_set(e, ERR_INPUT,
                       "%s: model.shortcut: arch = caffe has its own shortcuts (a 2x2 stride-2 conv + BN where the "
                       "shape changes, identity elsewhere), not option B; leave the key out",
                       config_where(c, "model", "shortcut"));
    if (config_choice(c, "model", "init", inits, &init, e)) return e->code;
    memset(o, 0, sizeof *o);
    o->arch = arch;
    o->depth = (int)depth;
    o->shortcut_b = arch == ARCH_CAFFE ? 0 : sc;
    o->init = init == 0 ? (arch == ARCH_CAFFE ? INIT_XAVIER : INIT_KAIMING) : init == 1 ? INIT_KAIMING : INIT_XAVIER;
    model_options_set_input(o, in);
    return ERR_OK;
}

void model_options_set_input(ModelOptions *o, const DataShape *in) {
    o->channels = in->channels;
    o->height = in->height;
    o->width = in->width;
    o->classes = in->classes;
    o->dataset = in->name;
}

const char *model_name(const ModelOptions *o, char *buf, size_t cap) {
    if (o->arch == ARCH_CAFFE)
        snprintf(buf, cap, "Caffe ResNet-%d (Smith)", o->depth);
    else if (o->arch == ARCH_RESNET || o->arch == ARCH_PREACT)
        snprintf(buf, cap, "%sResNet-%d option %c", o->arch == ARCH_PREACT ? "pre-activation " : "", o->depth,
                 o->shortcut_b ? 'B' : 'A');
    else // a checkpoint's record, read as it is
        snprintf(buf, cap, "ResNet-%d of unknown arch %d", o->depth, o->arch);
    return buf;
}

int resnet_block_count(const ModelOptions *o) {
    const int n = (o->depth - 2) / 6;
    return o->arch == ARCH_CAFFE ? 3 * n - 1 + 2 : 3 * n + 2; // stem, the stages' blocks, head
}

// caffe (the comment at the top): groups of n, n and n-1 blocks, every convolution with a
// bias, nothing after the addition; the last block of the first two groups at stride 2 and
// twice the channels, with the 2x2 projection + BN as its shortcut.
static void caffe_block_list(const ModelOptions *o, BlockSpec *sp) {
    const int n = (o->depth - 2) / 6;
    int k = 0, cin = 16;
    sp[k++] = (BlockSpec){.kind = BLOCK_STEM, .cin = o->channels, .cout = 16, .stride = 1, .bn = 1, .conv_bias = 1};
    for (int group = 0; group < 3; group++) {
        const int blocks = group < 2 ? n : n - 1;
        for (int i = 0; i < blocks; i++) {
            BlockSpec *b = &sp[k++];
            const int down = group < 2 && i == blocks - 1;
            *b = (BlockSpec){.kind = BLOCK_BASIC, .cin = cin, .cout = down ? 2 * cin : cin, .stride = down ? 2 : 1,
                             .shortcut = down ? SHORTCUT_B : SHORTCUT_IDENTITY, .proj_k = 2, .sum_only = 1,
                             .conv_bias = 1};
            snprintf(b->name, sizeof b->name, "layer%d.%d", group + 1, i);
            cin = b->cout;
        }
    }
    sp[k] = (BlockSpec){.kind = BLOCK_HEAD, .cin = cin, .cout = o->classes, .stride = 1};
}

// CIFAR ResNet-(6n+2), either arch: 3 stages of n blocks at 16, 32, 64 channels, the
// first block of stages 2 and 3 at stride 2. preact (He et al.'s code, fb.resnet.torch's
// preresnet.lua): no BN after the stem conv, the first block of every stage shares its
// BN-ReLU with the shortcut, a final BN-ReLU before the pool.
void resnet_block_list(const ModelOptions *o, BlockSpec *sp) {
    if (o->arch == ARCH_CAFFE) {
        caffe_block_list(o, sp);
        return;
    }
    const int n = (o->depth - 2) / 6, preact = o->arch == ARCH_PREACT;
    int k = 0, cin = 16;
    sp[k++] = (BlockSpec){.kind = BLOCK_STEM, .cin = o->channels, .cout = 16, .stride = 1, .bn = !preact};
    for (int stage = 0; stage < 3; stage++) {
        const int cout = 16 << stage;
        for (int i = 0; i < n; i++) {
            BlockSpec *b = &sp[k++];
            const int stride = stage > 0 && i == 0 ? 2 : 1;
            *b = (BlockSpec){.kind = preact ? BLOCK_PREACT : BLOCK_BASIC, .cin = cin, .cout = cout, .stride = stride,
                             .proj_k = 1};
            if (stride != 1 || cin != cout) b->shortcut = o->shortcut_b ? SHORTCUT_B : SHORTCUT_A;
            b->preact_shortcut = preact && i == 0;
            snprintf(b->name, sizeof b->name, "layer%d.%d", stage + 1, i);
            cin = cout;
        }
    }
    sp[k] = (BlockSpec){.kind = BLOCK_HEAD, .cin = cin, .cout = o->classes, .stride = 1, .bn = preact};
}
