// test_resnet.c: the assembled model: the block lists, and whole-model gradient checks
// against central differences (ResNet-8 option B, the pre-activation ResNet-14 with both
// shortcut options, 28x28 single-channel inputs). (The comparison with PyTorch is
// test_reference.c.)
#include "cifar.h"
#include "resnet.h"
#include "test.h"
#include <stdlib.h>

#define CHECK_STR_EQ(a, b) CHECK_MSG(!strcmp((a), (b)), "'%s', expected '%s'", (a), (b))

static Rng rng;

static float *rnd(long n, double scale) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) p[i] = (float)(scale * rng_normal(&rng));
    return p;
}

// A model's gradient of the mean cross-entropy with respect to a spread of single
// parameters (two per tensor). Through 8 float32 layers with batch statistics, central
// differences of single parameters scatter by up to about 4e-3 around the analytic value at
// any step size (measured: larger steps cross ReLU kinks, smaller ones magnify rounding),
// so this is a coarse check, 5e-3 absolute plus 3 % of the tensor's largest gradient: it
// catches a missing path or a wrong index, which are off by the order of the gradient.
// Exactness is the per-layer checks' job and the PyTorch reference test's.
static void gradient_case(const char *name, const ModelOptions *mo, int B) {
    test_begin(name);
    ResNet m;
    Err e = {0};
    if (!CHECK_MSG(resnet_create(&m, mo, B, &e) == ERR_OK, "%s", e.msg)) return;
    Rng wr;
    rng_seed(&wr, 7);
    resnet_init_weights(&m, &wr);
    for (int t = 0; t < m.ntensors; t++) // BN weights away from their 1/0 init
        if (m.tensors[t].kind == PARAM_BN_GAMMA || m.tensors[t].kind == PARAM_BN_BETA)
            for (long i = 0; i < m.tensors[t].n; i++) m.params[m.tensors[t].off + i] += (float)(0.2 * rng_normal(&wr));
    float *x = rnd((long)mo->channels * B * mo->height * mo->width, 1.0);
    int y[8];
    for (int b = 0; b < B; b++) y[b] = (int)rng_below(&rng, (uint32_t)mo->classes);
    resnet_forward(&m, x, y, B, 1, NULL);
    resnet_backward(&m, y, B);
    float *g = malloc(sizeof(float) * (size_t)m.nparams);
    memcpy(g, m.grads, sizeof(float) * (size_t)m.nparams);
    int checked = 0;
    for (int t = 0; t < m.ntensors; t++) {
        const ParamTensor *pt = &m.tensors[t];
        double gmax = 0;
        for (long i = 0; i < pt->n; i++) gmax = fmax(gmax, fabs(g[pt->off + i]));
        for (int k = 0; k < 2; k++) {
            long i = pt->off + (long)rng_below(&rng, (uint32_t)pt->n);
            float p = m.params[i];
            const double h = 1e-3;
            m.params[i] = (float)(p + h);
            double hp = (double)m.params[i] - p, lp = resnet_forward(&m, x, y, B, 1, NULL);
            m.params[i] = (float)(p - h);
            double hm = p - (double)m.params[i], lm = resnet_forward(&m, x, y, B, 1, NULL);
            m.params[i] = p;
            double fd = (lp - lm) / (hp + hm);
            CHECK_MSG(fabs(fd - g[i]) <= 5e-3 + 3e-2 * gmax, "%s[%ld]: fd %.6g vs analytic %.6g (max |grad| %.3g)",
                      pt->name, i - pt->off, fd, g[i], gmax);
            checked++;
        }
    }
    CHECK(checked >= 20);
    free(g);
    free(x);
    resnet_free(&m);
}

// The block lists: what each arch is made of, and that the stages follow the input size.
static void blocks_case(void) {
    test_begin("block lists: resnet and preact, stages from the input size");
    ModelOptions mo = {.arch = ARCH_PREACT, .depth = 14, .shortcut_b = 0};
    model_options_set_input(&mo, &(DataShape){1, 28, 28, 5, "test"}); // Fashion-MNIST-like
    ResNet m;
    Err e = {0};
    if (!CHECK_MSG(resnet_create(&m, &mo, 2, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK_EQ_INT(m.nblocks, 8); // stem, 2 + 2 + 2, head
    CHECK(m.blocks[0].spec.kind == BLOCK_STEM && !m.blocks[0].spec.bn && m.blocks[0].spec.cin == 1);
    CHECK(m.blocks[7].spec.kind == BLOCK_HEAD && m.blocks[7].spec.bn && m.blocks[7].spec.cout == 5);
    static const int side[8] = {28, 28, 28, 14, 14, 7, 7, 1}, pre[8] = {0, 1, 0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 8; i++) {
        CHECK_MSG(m.blocks[i].Ho == side[i] && m.blocks[i].Wo == side[i], "block %d: %dx%d, expected %d", i,
                  m.blocks[i].Ho, m.blocks[i].Wo, side[i]);
        if (i > 0 && i < 7) {
            CHECK(m.blocks[i].spec.kind == BLOCK_PREACT);
            CHECK_EQ_INT(m.blocks[i].spec.preact_shortcut, pre[i]);
            CHECK_EQ_INT(m.blocks[i].spec.shortcut, i == 3 || i == 5 ? SHORTCUT_A : SHORTCUT_IDENTITY);
        }
    }
    CHECK_STR_EQ(m.tensors[0].name, "conv1.weight");
    CHECK_EQ_INT(m.tensors[0].shape[1], 1);
    CHECK_STR_EQ(m.tensors[1].name, "layer1.0.bn1.weight");
    CHECK_STR_EQ(m.tensors[m.ntensors - 3].name, "bn.bias");
    CHECK_STR_EQ(m.tensors[m.ntensors - 2].name, "linear.weight");
    long total = 0;
    for (int i = 0; i < m.nblocks; i++) total += m.blocks[i].pend - m.blocks[i].pbegin;
    CHECK_EQ_INT(total, m.nparams);
    resnet_free(&m);

    mo = (ModelOptions){.arch = ARCH_RESNET, .depth = 8, .shortcut_b = 1};
    model_options_set_input(&mo, &cifar10_shape);
    if (!CHECK(resnet_create(&m, &mo, 1, &e) == ERR_OK)) return;
    CHECK(m.blocks[0].spec.bn && !m.blocks[m.nblocks - 1].spec.bn);
    CHECK(m.blocks[1].spec.kind == BLOCK_BASIC && m.blocks[2].spec.shortcut == SHORTCUT_B);
    CHECK_STR_EQ(m.tensors[1].name, "bn1.weight");
    resnet_free(&m);

    test_begin("resnet_create refuses a model it cannot build");
    mo.classes = 1;
    CHECK_EQ_INT(resnet_create(&m, &mo, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "classes");
    mo.classes = 10, mo.channels = 0;
    CHECK_EQ_INT(resnet_create(&m, &mo, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "input");
    mo.channels = 3, mo.depth = 10;
    CHECK_EQ_INT(resnet_create(&m, &mo, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "6n+2");
}

void suite_resnet(void) {
    rng_seed(&rng, 12345);
    blocks_case();
    ModelOptions mo = {.depth = 8, .shortcut_b = 1};
    model_options_set_input(&mo, &cifar10_shape);
    gradient_case("resnet-8 option B gradient", &mo, 4);
    // Pre-activation: depth 14 has both kinds of preact block (shortcut from the
    // pre-activated input and from the block input); options B and A.
    mo = (ModelOptions){.arch = ARCH_PREACT, .depth = 14, .shortcut_b = 1};
    model_options_set_input(&mo, &cifar10_shape);
    gradient_case("preact-14 option B gradient", &mo, 3);
    mo.shortcut_b = 0;
    gradient_case("preact-14 option A gradient", &mo, 3);
    // A 1-channel 28x28 input with 5 classes: the stages run at 28, 14 and 7 (odd: the
    // option-A subsample and the stride-2 convolutions round up), on the GEMM path.
    mo = (ModelOptions){.depth = 8, .shortcut_b = 0};
    model_options_set_input(&mo, &(DataShape){1, 28, 28, 5, "test"});
    gradient_case("resnet-8 option A on 1x28x28, 5 classes: gradient", &mo, 3);
    mo.arch = ARCH_PREACT;
    gradient_case("preact-8 option A on 1x28x28, 5 classes: gradient", &mo, 3);
}
