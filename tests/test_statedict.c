// test_statedict.c: the exported state_dict against PyTorch. The fixture
// (scripts/make_export_fixture.py) holds a tiny run's checkpoint and, from PyTorch, the
// state_dict keys and shapes of scripts/resnet_torch.py's ResNet-8 (option B) and the
// eval-mode logits of the exported .npz loaded with load_state_dict.
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "fixture.h"
#include "npz.h"
#include "resnet.h"
#include "statedict.h"
#include "test.h"
#include <stdlib.h>

#define CKPT "tests/fixtures/export_resnet8_B.ckpt"

// NCHW (B,3,32,32) -> CBHW (3,B,32,32)
static void to_cbhw(float *dst, const float *src, int B) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) memcpy(dst + ((long)c * B + b) * 1024, src + ((long)b * 3 + c) * 1024, 4096);
}

void suite_statedict(void) {
    Fixture f;
    test_begin("export fixture");
    if (fixture_load(&f, "tests/fixtures/export_resnet8_B.bin")) {
        CHECK_MSG(0, "cannot load the export fixture");
        return;
    }
    static Config c;
    ResNet m, back;
    Err e = {0};
    long step = -1;
    const int B = 4;
    CHECK_MSG(cli_load_model(&m, CKPT, B, &c, &e) == ERR_OK, "%s", e.msg);
    CHECK(checkpoint_read_step(CKPT, &step, &e) == ERR_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/model.npz", test_tmpdir());
    CHECK_MSG(statedict_write_npz(&m, step, path, &e) == ERR_OK, "%s", e.msg);

    test_begin("names, shapes and dtypes are PyTorch's state_dict");
    NpzArray *a;
    int n, keys = 0;
    CHECK_MSG(npz_read(path, &a, &n, &e) == ERR_OK, "%s", e.msg);
    for (int i = 0; i < f.n; i++) {
        if (strncmp(f.t[i].name, "shape:", 6)) continue;
        keys++;
        const char *key = f.t[i].name + 6;
        const NpzArray *x = npz_find(a, n, key);
        CHECK_MSG(x != NULL, "export lacks %s", key);
        if (!x) continue;
        int same = x->ndim == f.t[i].n;
        for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == (long)f.t[i].data[d];
        CHECK_MSG(same, "%s: shape differs from PyTorch's", key);
        int is_count = strstr(key, "num_batches_tracked") != NULL;
        CHECK_MSG(x->dtype == (is_count ? NPZ_I64 : NPZ_F32), "%s: dtype", key);
        if (is_count) CHECK_EQ_INT(*(int64_t *)x->data, (long)fixture_get(&f, "steps")->data[0]);
    }
    CHECK_EQ_INT(keys, 56);
    CHECK_EQ_INT(n, keys);
    CHECK_EQ_INT(statedict_count(&m), keys);
    npz_free(a, n);

    test_begin("logits of the exported model agree with PyTorch's");
    ModelOptions mo = m.opt;
    CHECK(resnet_create(&back, &mo, B, &e) == ERR_OK);
    CHECK_MSG(statedict_read_npz(&back, path, &e) == ERR_OK, "%s", e.msg);
    CHECK(!memcmp(back.params, m.params, sizeof(float) * (size_t)m.nparams));
    CHECK(!memcmp(back.stats, m.stats, sizeof(float) * (size_t)m.nstats));
    float *x = malloc(sizeof(float) * B * 3072);
    to_cbhw(x, fixture_get(&f, "x")->data, B);
    int labels[4] = {0}; // the loss is not looked at
    resnet_forward(&back, x, labels, B, 0, NULL);
    const FixtureTensor *want = fixture_get(&f, "logits");
    CHECK(want && want->n == B * 10);
    double d = max_rel_diff(back.logits, want->data, (long)B * 10);
    CHECK_MSG(d <= 2e-5, "max relative difference %.3g", d);
    printf("    logits max rel diff %.2e (tol 2e-05)\n", d);

    test_begin("an .npz of another model is refused by name");
    ResNet other;
    ModelOptions oa = {.depth = 8, .shortcut_b = 0};
    model_options_set_input(&oa, &cifar10_shape);
    CHECK(resnet_create(&other, &oa, 1, &e) == ERR_OK);
    char pa[400];
    snprintf(pa, sizeof pa, "%s/a.npz", test_tmpdir());
    CHECK(statedict_write_npz(&other, 0, pa, &e) == ERR_OK);
    CHECK_EQ_INT(statedict_read_npz(&back, pa, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "no array 'layer2.0.shortcut.0.weight'");
    CHECK_EQ_INT(statedict_read_npz(&other, path, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "56 arrays, the model's state_dict has 44");
    resnet_free(&other);
    free(x);
    resnet_free(&back);
    resnet_free(&m);
    fixture_free(&f);
}
