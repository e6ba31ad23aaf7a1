// test_reference.c: the C network against PyTorch, tensor by tensor.
// Fixtures come from scripts/make_reference.py (ResNet-8, option A and B, batch 6; the
// pre-activation ResNet-14 option B and ResNet-8 option A, batch 6; Smith's Caffe ResNet-14,
// and ResNet-8 with ghost batch-norm in runs of 4 of the batch of 6, so 4 + 2).
// Tolerances are relative to the largest magnitude of each tensor: float32 with another
// summation order agreed to 1e-7..1e-6 when written; we allow about 20x that.
#include "cifar.h"
#include "fixture.h"
#include "npz.h"
#include "optim.h"
#include "resnet.h"
#include "statedict.h"
#include "test.h"
#include <stdlib.h>

// NCHW (B,3,32,32) -> CBHW (3,B,32,32)
static void to_cbhw(float *dst, const float *src, int B) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) memcpy(dst + ((long)c * B + b) * 1024, src + ((long)b * 3 + c) * 1024, 4096);
}

static void check_tensor(const char *what, const float *got, const FixtureTensor *want, long n, double tol) {
    CHECK_MSG(want && want->n == n, "%s: fixture size %ld vs model %ld", what, want ? want->n : -1, n);
    if (!want || want->n != n) return;
    double d = max_rel_diff(got, want->data, n), a = 0;
    for (long i = 0; i < n; i++) a = fmax(a, fabs((double)got[i] - want->data[i]));
    CHECK_MSG(d <= tol, "%s: max relative difference %.3g > %.3g", what, d, tol);
    printf("    %-12s max rel diff %.2e (tol %.0e), max abs diff %.2e\n", what, d, tol, a);
}

// The state_dict `onecycle export` writes for m: PyTorch's keys and shapes ("shape:KEY" in
// the fixture), in PyTorch's order.
static void check_state_dict(const ResNet *m, const Fixture *f) {
    char path[400];
    Err e = {0};
    NpzArray *a;
    int n, k = 0;
    snprintf(path, sizeof path, "%s/model.npz", test_tmpdir());
    if (!CHECK_MSG(statedict_write_npz(m, 1, path, &e) == ERR_OK && npz_read(path, &a, &n, &e) == ERR_OK, "%s", e.msg))
        return;
    for (int i = 0; i < f->n; i++) {
        if (strncmp(f->t[i].name, "shape:", 6)) continue;
        const char *key = f->t[i].name + 6;
        int same = k < n && !strcmp(a[k].name, key) && a[k].ndim == f->t[i].n;
        for (int d = 0; same && d < a[k].ndim; d++) same = a[k].shape[d] == (long)f->t[i].data[d];
        CHECK_MSG(same, "state_dict entry %d: PyTorch has %s, the export %s (or another shape)", k, key,
                  k < n ? a[k].name : "nothing");
        k++;
    }
    CHECK_EQ_INT(n, k);
    CHECK(k > 0);
    npz_free(a, n);
}

// steps 2: the whole fixture; 1: up to the first update (params1). A fixture with
// config.bn_group trains with ghost batch-norm; one with shapes has its export checked.
static void run_fixture(const char *path, int arch, int shortcut_b, int nesterov, const char *kernels, int steps) {
    Fixture f;
    char name[300];
    snprintf(name, sizeof name, "%s (%s)", path, kernels);
    test_begin(name);
    if (fixture_load(&f, path)) {
        CHECK_MSG(0, "cannot load fixture %s", path);
        return;
    }
    const int B = (int)fixture_get(&f, "config.batch")->data[0];
    const FixtureTensor *group = fixture_get(&f, "config.bn_group");
    ModelOptions mo = {.arch = arch,
                       .depth = (int)fixture_get(&f, "config.depth")->data[0],
                       .shortcut_b = shortcut_b,
                       .bn_group = group ? (int)group->data[0] : 0};
    model_options_set_input(&mo, &cifar10_shape);
    ResNet m;
    Err e = {0};
    if (!CHECK_MSG(resnet_create(&m, &mo, B, &e) == ERR_OK, "%s", e.msg)) {
        fixture_free(&f);
        return;
    }
    Rng rng;
    rng_seed(&rng, 1);
    resnet_init_weights(&m, &rng); // running stats 0/1 as PyTorch's
    const FixtureTensor *p0 = fixture_get(&f, "params0");
    if (!CHECK_MSG(p0->n == m.nparams, "fixture has %ld parameters, the model %ld", p0->n, m.nparams)) {
        resnet_free(&m);
        fixture_free(&f);
        return;
    }
    memcpy(m.params, p0->data, sizeof(float) * m.nparams);
    float *x1 = malloc(sizeof(float) * B * 3072), *x2 = malloc(sizeof(float) * B * 3072);
    int y1[64], y2[64];
    to_cbhw(x1, fixture_get(&f, "x1")->data, B);
    to_cbhw(x2, fixture_get(&f, "x2")->data, B);
    for (int b = 0; b < B; b++) {
        y1[b] = (int)fixture_get(&f, "y1")->data[b];
        y2[b] = (int)fixture_get(&f, "y2")->data[b];
    }
    double loss = resnet_forward(&m, x1, y1, B, 1, NULL);
    check_tensor("logits", m.logits, fixture_get(&f, "logits1"), (long)B * 10, 2e-5);
    CHECK_CLOSE(loss, fixture_get(&f, "loss1")->data[0], 1e-5, 1e-5);
    resnet_backward(&m, y1, B);
    check_tensor("gradients", m.grads, fixture_get(&f, "grads1"), m.nparams, 2e-5);
    check_tensor("running1", m.stats, fixture_get(&f, "stats1"), m.nstats, 2e-6);

    OptimOptions oo = {.kind = OPTIM_SGD, .wd = 5e-4, .nesterov = nesterov, .wd_bn_bias = 1};
    OptimRange all = {0, m.nparams, 1};
    Optimizer opt;
    optim_create(&opt, &oo, m.nparams, &all, 1);
    optim_step(&opt, m.params, m.grads, 0.1, 0.9, 1.0);
    check_tensor("params1", m.params, fixture_get(&f, "params1"), m.nparams, 1e-6);
    if (steps < 2) goto done;
    loss = resnet_forward(&m, x2, y2, B, 1, NULL);
    CHECK_CLOSE(loss, fixture_get(&f, "loss2")->data[0], 1e-4, 1e-4);
    resnet_backward(&m, y2, B);
    optim_step(&opt, m.params, m.grads, 0.05, 0.8, 1.0);
    check_tensor("params2", m.params, fixture_get(&f, "params2"), m.nparams, 1e-6);
    check_tensor("running2", m.stats, fixture_get(&f, "stats2"), m.nstats, 2e-6);
    resnet_forward(&m, x1, y1, B, 0, NULL);
    check_tensor("eval logits", m.logits, fixture_get(&f, "eval_logits"), (long)B * 10, 2e-5);
    for (int i = 0; i < f.n; i++)
        if (!strncmp(f.t[i].name, "shape:", 6)) {
            check_state_dict(&m, &f);
            break;
        }
done:
    optim_free(&opt);
    resnet_free(&m);
    free(x1);
    free(x2);
    fixture_free(&f);
}

// The pre-activation ResNet ([model] arch = preact) against scripts/resnet_torch.py's
// PreActResNet: one training forward (logits, loss, running statistics), its gradients,
// the eval-mode logits, and the exported state_dict's keys and shapes. The tolerances are
// the post-activation ones.
static void run_preact_fixture(const char *path) {
    Fixture f;
    test_begin(path);
    if (fixture_load(&f, path)) {
        CHECK_MSG(0, "cannot load fixture %s", path);
        return;
    }
    const int B = (int)fixture_get(&f, "config.batch")->data[0];
    ModelOptions mo = {.arch = ARCH_PREACT,
                       .depth = (int)fixture_get(&f, "config.depth")->data[0],
                       .shortcut_b = (int)fixture_get(&f, "config.shortcut_b")->data[0]};
    model_options_set_input(&mo, &cifar10_shape);
    ResNet m;
    Err e = {0};
    if (!CHECK(resnet_create(&m, &mo, B, &e) == ERR_OK)) {
        fixture_free(&f);
        return;
    }
    Rng rng;
    rng_seed(&rng, 1);
    resnet_init_weights(&m, &rng); // running stats 0/1 as PyTorch's
    const FixtureTensor *p0 = fixture_get(&f, "params0");
    CHECK_EQ_INT(p0->n, m.nparams);
    if (p0->n == m.nparams) memcpy(m.params, p0->data, sizeof(float) * m.nparams);
    float *x1 = malloc(sizeof(float) * B * 3072);
    int y1[64];
    to_cbhw(x1, fixture_get(&f, "x1")->data, B);
    for (int b = 0; b < B; b++) y1[b] = (int)fixture_get(&f, "y1")->data[b];
    double loss = resnet_forward(&m, x1, y1, B, 1, NULL);
    check_tensor("logits", m.logits, fixture_get(&f, "logits1"), (long)B * 10, 2e-5);
    CHECK_CLOSE(loss, fixture_get(&f, "loss1")->data[0], 1e-5, 1e-5);
    resnet_backward(&m, y1, B);
    check_tensor("gradients", m.grads, fixture_get(&f, "grads1"), m.nparams, 2e-5);
    check_tensor("running1", m.stats, fixture_get(&f, "stats1"), m.nstats, 2e-6);
    resnet_forward(&m, x1, y1, B, 0, NULL);
    check_tensor("eval logits", m.logits, fixture_get(&f, "eval_logits"), (long)B * 10, 2e-5);
    check_state_dict(&m, &f);
    resnet_free(&m);
    free(x1);
    fixture_free(&f);
}

void suite_reference(void) {
    // Winograd F(2x2, 3x3) (and direct where it does not fit): two steps.
    unsigned was = conv_set_kernels(CONV_KERNELS_F2X2);
    run_fixture("tests/fixtures/reference_resnet8_A.bin", ARCH_RESNET, 0, 0, "F(2x2,3x3) kernels", 2);
    run_fixture("tests/fixtures/reference_resnet8_B.bin", ARCH_RESNET, 1, 1, "F(2x2,3x3) kernels", 2);
    // Smith's Caffe ResNet (Nesterov): conv biases folded into the batchnorms, 2x2
    // projections, no ReLU after the addition; and ghost batch-norm (bn_group 4 of 6).
    run_fixture("tests/fixtures/reference_caffe14.bin", ARCH_CAFFE, 0, 1, "F(2x2,3x3) kernels", 2);
    run_fixture("tests/fixtures/reference_caffe8_ghost4.bin", ARCH_CAFFE, 0, 1, "F(2x2,3x3) kernels", 2);
    // The same nets with the default kernels, F(4x4, 3x3) for the forward passes and data
    // gradients, within the same tolerances, up to the first update. The second step is left out: after
    // it, a ReLU input within F(4x4, 3x3)'s rounding of zero can land on the other side (one
    // of 24,576 in resnet8_A at 1 thread, every other activation within 4e-6 of the default
    // kernels' relative to the largest), and that one gradient reaches every weight upstream
    // through the batchnorms: params2 then differ from PyTorch by 3e-5, not 1e-7.
    conv_set_kernels(CONV_KERNELS_DEFAULT);
    printf("  with the default kernels, F(4x4,3x3), one step:\n");
    run_fixture("tests/fixtures/reference_resnet8_A.bin", ARCH_RESNET, 0, 0, "F(4x4,3x3)", 1);
    run_fixture("tests/fixtures/reference_resnet8_B.bin", ARCH_RESNET, 1, 1, "F(4x4,3x3)", 1);
    run_fixture("tests/fixtures/reference_caffe14.bin", ARCH_CAFFE, 0, 1, "F(4x4,3x3)", 1);
    run_fixture("tests/fixtures/reference_caffe8_ghost4.bin", ARCH_CAFFE, 0, 1, "F(4x4,3x3)", 1);
    conv_set_kernels(was);
    run_preact_fixture("tests/fixtures/reference_preact14_B.bin");
    run_preact_fixture("tests/fixtures/reference_preact8_A.bin");
}
