// loader.c: epoch permutation, augmentation stream and batch cursor (see loader.h).
#include "loader.h"
#include "shares.h"
#include <stdlib.h>
#include <string.h>

void loader_create(Loader *l, const Dataset *set, const DataOptions *opt, int batch, int mode, int rank, int world) {
    memset(l, 0, sizeof *l);
    l->set = set;
    l->opt = opt;
    l->mode = mode;
    l->batch = mode == LOADER_FULL && batch > set->n ? set->n : batch;
    l->rank = rank;
    l->world = world;
    l->shares = world;
    l->perm = xmalloc(sizeof(int) * (size_t)(set->n > 0 ? set->n : 1));
}

void loader_set_shares(Loader *l, int shares) {
    l->shares = shares;
}

void loader_free(Loader *l) {
    free(l->perm);
    memset(l, 0, sizeof *l);
}

void loader_reset(Loader *l, uint64_t seed) {
    rng_seed(&l->shuffle, seed * 3 + 1);
    rng_seed(&l->aug, seed * 3 + 2);
    l->in_epoch = 0;
    // LOADER_FULL starts "out of images", so the first batch shuffles.
    l->pos = l->mode == LOADER_FULL ? l->set->n : 0;
}

static void shuffle(Loader *l) {
    for (int i = 0; i < l->set->n; i++) l->perm[i] = i;
    rng_shuffle(&l->shuffle, l->perm, l->set->n);
}

void loader_begin_epoch(Loader *l) {
    if (l->in_epoch) return;
    shuffle(l);
    l->in_epoch = 1;
    l->pos = 0;
}

void loader_end_epoch(Loader *l) {
    l->in_epoch = 0;
}

void loader_share(int nb, int rank, int world, int *lo, int *hi) {
    shares_range(nb, rank, world, lo, hi);
}

static void skip(Rng *r, long draws) {
    while (draws-- > 0) rng_u64(r);
}

int loader_next(Loader *l, float *x, int *y, int *share) {
    const int n = l->set->n, B = l->batch;
    const int *idx;
    int nb;
    if (l->mode == LOADER_FULL) {
        if (l->pos + B > n) {
            shuffle(l);
            l->pos = 0;
        }
        idx = l->perm + l->pos;
        nb = B;
        l->pos += B;
    } else {
        long first = l->pos * B;
        nb = n - first < B ? (int)(n - first) : B;
        idx = l->perm + first;
        l->pos++;
    }
    int lo, hi;
    loader_share(nb, l->rank, l->world, &lo, &hi);
    const long d = batch_aug_draws(l->opt);
    skip(&l->aug, d * lo);
    // This rank's shares in order: together exactly [lo, hi), the draws in global order.
    const int q = l->shares / l->world;
    const size_t image = (size_t)l->set->channels * (size_t)l->set->height * (size_t)l->set->width;
    for (int j = 0; j < q; j++) {
        int a, b;
        shares_range(nb, l->rank * q + j, l->shares, &a, &b);
        batch_make(x + (size_t)(a - lo) * image, y + (a - lo), l->set, idx + a, b - a, l->opt, 1, &l->aug);
    }
    skip(&l->aug, d * (nb - hi));
    if (share) *share = hi - lo;
    return nb;
}
