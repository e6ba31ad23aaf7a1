// resnet_arch.c: the architectures as block lists (resnet.h), and the [model] section.
//
// A variant is a list of blocks, not code: a new one is a function here (and, where it
// needs a new kind of block, that kind's five operations in resnet_blocks.c).
//
// Not expressed yet: L. N. Smith's Caffe ResNet-56 (results/notes/smith-caffe-setup.md).
// Its blocks are post-activation like BLOCK_BASIC but with no ReLU after the addition,
// downsampling in the last block of groups 0 and 1 with a 2x2 stride-2 projection + BN,
// 9 + 9 + 8 blocks, conv biases and xavier init. The list itself is easy (a flag on the
// basic block for the ReLU, the stride on another block, a kernel size on the projection);
// the conv biases and the init are new parameter kinds, and without them the variant
// would be Smith's in name only, so it waits for a PyTorch twin that pins it down.
#include "resnet.h"
#include <stdio.h>

const ConfigKey resnet_config_keys[] = {
    {"arch", "resnet",
     "resnet: He et al. 2015, post-activation (conv-BN-ReLU, ReLU after the addition); preact: He et al. 2016, "
     "pre-activation (BN-ReLU-conv, nothing after the addition, BN + ReLU before the pool)"},
    {"depth", "56", "network depth 6n+2: 20, 32, 44, 56, 110, ..."},
    {"shortcut", "A",
     "A: subsample + zero-padded channels (parameter-free); B: 1x1 conv projection (+ BN in resnet) where the "
     "shape changes"},
    {NULL, NULL, NULL},
};

int model_options_from_config(ModelOptions *o, const Config *c, const DataShape *in, Err *e) {
    long depth;
    int sc, arch;
    static const char *const shortcuts[] = {"A", "B", NULL}, *const archs[] = {"resnet", "preact", NULL};
    if (config_choice(c, "model", "arch", archs, &arch, e)) return e->code;
    if (config_int_in(c, "model", "depth", 8, 1202, &depth, e)) return e->code;
    if ((depth - 2) % 6 != 0)
        return err_set(e, ERR_INPUT, "%s: model.depth: must be 6n+2 (20, 32, 44, 56, 110, ...), got %ld",
                       config_where(c, "model", "depth"), depth);
    if (config_choice(c, "model", "shortcut", shortcuts, &sc, e)) return e->code;
    o->arch = arch;
    o->depth = (int)depth;
    o->shortcut_b = sc;
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
    snprintf(buf, cap, "%sResNet-%d option %c", o->arch == ARCH_PREACT ? "pre-activation " : "", o->depth,
             o->shortcut_b ? 'B' : 'A');
    return buf;
}

int resnet_block_count(const ModelOptions *o) {
    return 3 * ((o->depth - 2) / 6) + 2; // stem, 3 stages of n, head
}

// CIFAR ResNet-(6n+2), either arch: 3 stages of n blocks at 16, 32, 64 channels, the
// first block of stages 2 and 3 at stride 2. preact (He et al.'s code, fb.resnet.torch's
// preresnet.lua): no BN after the stem conv, the first block of every stage shares its
// BN-ReLU with the shortcut, a final BN-ReLU before the pool.
void resnet_block_list(const ModelOptions *o, BlockSpec *sp) {
    const int n = (o->depth - 2) / 6, preact = o->arch == ARCH_PREACT;
    int k = 0, cin = 16;
    sp[k++] = (BlockSpec){.kind = BLOCK_STEM, .cin = o->channels, .cout = 16, .stride = 1, .bn = !preact};
    for (int stage = 0; stage < 3; stage++) {
        const int cout = 16 << stage;
        for (int i = 0; i < n; i++) {
            BlockSpec *b = &sp[k++];
            const int stride = stage > 0 && i == 0 ? 2 : 1;
            *b = (BlockSpec){.kind = preact ? BLOCK_PREACT : BLOCK_BASIC, .cin = cin, .cout = cout, .stride = stride};
            if (stride != 1 || cin != cout) b->shortcut = o->shortcut_b ? SHORTCUT_B : SHORTCUT_A;
            b->preact_shortcut = preact && i == 0;
            snprintf(b->name, sizeof b->name, "layer%d.%d", stage + 1, i);
            cin = cout;
        }
    }
    sp[k] = (BlockSpec){.kind = BLOCK_HEAD, .cin = cin, .cout = o->classes, .stride = 1, .bn = preact};
}
