// test_act.c: activation tensors with their layout (act.c): sizes, indexing, parts of a
// batch, and the conversion between CBHW and CB16 both ways, padding lanes included.
#include "act.h"
#include "test.h"
#include <stdlib.h>

static void test_index(void) {
    test_begin("act: floats and offsets of CBHW and CB16");
    CHECK(act_floats(ACT_CBHW, 3, 2, 4, 5) == 3L * 2 * 4 * 5);
    CHECK(act_floats(ACT_CB16, 3, 2, 4, 5) == 16L * 2 * 4 * 5);
    CHECK(act_floats(ACT_CB16, 32, 2, 4, 5) == 32L * 2 * 4 * 5);
    CHECK(act_floats(ACT_CB16, 33, 2, 4, 5) == 48L * 2 * 4 * 5);
    Act a = act_make(NULL, ACT_CBHW, 20, 3, 4, 5), b = act_make(NULL, ACT_CB16, 20, 3, 4, 5);
    // channel 17, image 2, pixel (3, 1)
    CHECK(act_index(&a, 17, 2, 3, 1) == ((17L * 3 + 2) * 4 + 3) * 5 + 1);
    CHECK(act_index(&b, 17, 2, 3, 1) == (((1L * 3 + 2) * 4 + 3) * 5 + 1) * 16 + 1);
    CHECK(act_index(&b, 0, 0, 0, 1) == 16);
    CHECK_STR_CONTAINS(act_layout_name(ACT_CB16), "CB16");
    CHECK_STR_CONTAINS(act_layout_name(ACT_CBHW), "CBHW");
}

// A batch of 5 images as shares of 2 and 3 side by side: the second share starts after
// the first one's floats, in either layout.
static void test_part(void) {
    test_begin("act: a share of a batch starts after the shares before it");
    for (int l = 0; l < 2; l++) {
        float base[1];
        Act a = act_make(base, (ActLayout)l, 20, 5, 4, 4);
        Act p = act_part(&a, 2, 3);
        CHECK(p.B == 3 && p.C == 20 && p.H == 4 && p.W == 4 && p.layout == a.layout);
        CHECK(p.data - a.data == act_floats(a.layout, 20, 2, 4, 4));
    }
}

static void test_convert(void) {
    static const int shapes[][4] = {{3, 2, 4, 5}, {16, 3, 8, 8}, {20, 2, 3, 7}, {64, 2, 8, 8}, {1, 1, 1, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int C = shapes[k][0], B = shapes[k][1], H = shapes[k][2], W = shapes[k][3];
        char name[96];
        snprintf(name, sizeof name, "act: CBHW -> CB16 -> CBHW, C%d B%d %dx%d", C, B, H, W);
        test_begin(name);
        long n = act_floats(ACT_CBHW, C, B, H, W), n16 = act_floats(ACT_CB16, C, B, H, W);
        float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
        float *v = malloc(sizeof(float) * (size_t)n16);
        for (long i = 0; i < n; i++) x[i] = (float)i + 0.5f, y[i] = -1;
        for (long i = 0; i < n16; i++) v[i] = 12345; // padding lanes must come out zero
        Act a = act_make(x, ACT_CBHW, C, B, H, W), b = act_make(v, ACT_CB16, C, B, H, W),
            c = act_make(y, ACT_CBHW, C, B, H, W);
        CHECK(act_convert(&b, &a) == 0);
        int bad = 0;
        for (int ch = 0; ch < C; ch++)
            for (int i = 0; i < B; i++)
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++)
                        bad += v[act_index(&b, ch, i, yy, xx)] != x[act_index(&a, ch, i, yy, xx)];
        CHECK_MSG(bad == 0, "%s: %d values in the wrong place", name, bad);
        int pad = 0;
        for (long i = 0; i < n16; i++)
            if (i % 16 >= C % 16 + (C % 16 == 0) * 16 && (i / ((long)16 * B * H * W)) == (C - 1) / 16) pad += v[i] != 0;
        CHECK_MSG(pad == 0, "%s: %d padding lanes not zero", name, pad);
        CHECK(act_convert(&c, &b) == 0);
        bad = 0;
        for (long i = 0; i < n; i++) bad += y[i] != x[i];
        CHECK_MSG(bad == 0, "%s: %d values differ after the round trip", name, bad);
        Act wrong = act_make(v, ACT_CB16, C + 1, B, H, W);
        CHECK(act_convert(&wrong, &a) == -1);
        free(x), free(y), free(v);
    }
}

void suite_act(void) {
    test_index();
    test_part();
    test_convert();
}
