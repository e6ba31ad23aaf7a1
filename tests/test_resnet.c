// test_resnet.c: the assembled model: a whole ResNet-8 (option B) gradient check against
// central differences. (The comparison with PyTorch is test_reference.c.)
#include "resnet.h"
#include "test.h"
#include <stdlib.h>

static Rng rng;

static float *rnd(long n, double scale) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) p[i] = (float)(scale * rng_normal(&rng));
    return p;
}

// ResNet-8 option B (every layer kind, projection shortcut included): the gradient of the
// mean cross-entropy with respect to a spread of single parameters. Through 8 float32
// layers with batch statistics, central differences of single parameters scatter by up
// to about 4e-3 around the analytic value at any step size (measured: larger steps cross
// ReLU kinks, smaller ones magnify rounding), so this is a coarse check, 5e-3 absolute
// plus 3 % of the tensor's largest gradient: it catches a missing path or a wrong index,
// which are off by the order of the gradient. Exactness is the per-layer checks' job and
// the PyTorch reference test's.
static void resnet_case(void) {
    test_begin("resnet-8 option B gradient");
    const int B = 4;
    ModelOptions mo = {.depth = 8, .shortcut_b = 1, .classes = 10};
    ResNet m;
    Err e = {0};
    if (!CHECK(resnet_create(&m, &mo, B, &e) == ERR_OK)) return;
    Rng wr;
    rng_seed(&wr, 7);
    resnet_init_weights(&m, &wr);
    for (int t = 0; t < m.ntensors; t++) // BN weights away from their 1/0 init
        if (m.tensors[t].kind == PARAM_BN_GAMMA || m.tensors[t].kind == PARAM_BN_BETA)
            for (long i = 0; i < m.tensors[t].n; i++) m.params[m.tensors[t].off + i] += (float)(0.2 * rng_normal(&wr));
    float *x = rnd(3L * B * 1024, 1.0);
    int y[4] = {1, 7, 3, 3};
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

void suite_resnet(void) {
    rng_seed(&rng, 12345);
    resnet_case();
}
