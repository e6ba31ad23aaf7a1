// test_shares.c: the split of a batch into shares and the order their sums add in (shares.h).
#include "loader.h"
#include "shares.h"
#include "test.h"
#include <string.h>

static void test_range(void) {
    test_begin("shares: share k of K is the loader's part of rank k of K ranks");
    const int nbs[] = {1, 7, 51, 63, 128, 255};
    for (int i = 0; i < 6; i++)
        for (int K = 1; K <= 8 && K <= nbs[i]; K++) {
            int prev = 0;
            for (int k = 0; k < K; k++) {
                int lo, hi, llo, lhi;
                shares_range(nbs[i], k, K, &lo, &hi);
                loader_share(nbs[i], k, K, &llo, &lhi);
                CHECK(lo == llo && hi == lhi && lo == prev && hi - lo >= nbs[i] / K && hi - lo <= nbs[i] / K + 1);
                prev = hi;
            }
            CHECK_EQ_INT(prev, nbs[i]);
        }
    int lo, hi; // 51 images on 2: 25 and 26, the remainder to the higher share
    shares_range(51, 0, 2, &lo, &hi);
    CHECK(lo == 0 && hi == 25);
}

// Values whose float sum depends on the order: 1e8 swallows a lone 1.
static void test_tree_order(void) {
    test_begin("shares: partials add as a pairwise tree in share order");
    float p2[2] = {1e8f, 1.0f};
    shares_sum_float(p2, 2, 1, 1);
    CHECK(p2[0] == 1e8f + 1.0f);
    float p3[3] = {1.0f, 1.0f, 1e8f}; // (p0 + p1) + p2: the 2 survives the rounding a lone 1 would not
    shares_sum_float(p3, 3, 1, 1);
    CHECK(p3[0] == 2.0f + 1e8f);
    float p4[4] = {1e8f, 1.0f, -1e8f, 1.0f}; // (p0 + p1) + (p2 + p3) = 1e8 - 1e8 = 0
    shares_sum_float(p4, 4, 1, 1);
    CHECK(p4[0] == (1e8f + 1.0f) + (-1e8f + 1.0f));
    double d3[6] = {1, 10, 2, 20, 3, 30}; // two values per partial, stride 2
    shares_sum_double(d3, 3, 2, 2);
    CHECK(d3[0] == 6 && d3[1] == 60);
    CHECK(shares_pow2(1) && shares_pow2(2) && shares_pow2(64) && !shares_pow2(0) && !shares_pow2(3) && !shares_pow2(6));
}

// The tree over K shares is the tree over W groups of K/W consecutive shares, each group's
// own tree first, whenever K/W is a power of two: what W ranks with K/W shares each add.
static void test_tree_groups(void) {
    test_begin("shares: W ranks' subtrees of K/W shares add up to the tree of K (K/W a power of two)");
    const int cases[][2] = {{2, 1}, {4, 2}, {8, 2}, {4, 4}, {12, 3}, {6, 3}, {20, 5}, {16, 2}, {7, 7}};
    for (int c = 0; c < 9; c++) {
        const int K = cases[c][0], W = cases[c][1], q = K / W;
        float all[20], ranks[20];
        for (int k = 0; k < K; k++) all[k] = (float)(k % 3 ? 1.0 / (k + 1) : 1e7 * (k + 1)) * (k % 2 ? -1.0f : 1.0f);
        memcpy(ranks, all, sizeof all);
        shares_sum_float(all, K, 1, 1);
        for (int r = 0; r < W; r++) shares_sum_float(ranks + r * q, q, 1, 1);
        shares_sum_float(ranks, W, 1, q);
        CHECK_MSG(all[0] == ranks[0], "K %d on %d ranks: %.9g vs %.9g", K, W, all[0], ranks[0]);
    }
}

void suite_shares(void) {
    test_range();
    test_tree_order();
    test_tree_groups();
}
