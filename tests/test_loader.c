// test_loader.c: the data loader: batches of an epoch in order with a partial last one, full
// batches with reshuffles for lr-find, the streams of the trainer before the loader existed,
// and process shares (rank, world) that put together give exactly the single-process batch.
#include "loader.h"
#include "cifar.h"
#include "test.h"
#include <stdlib.h>

#define N 50

static void make_set(Dataset *s) {
    Rng r;
    rng_seed(&r, 99);
    *s = (Dataset){.n = N, .channels = 3, .height = 32, .width = 32, .classes = 10};
    memcpy(s->mean, cifar10_mean, sizeof cifar10_mean);
    memcpy(s->std, cifar10_std, sizeof cifar10_std);
    s->labels = malloc(N);
    s->pixels = malloc((size_t)N * CIFAR_IMAGE);
    for (int i = 0; i < N; i++) s->labels[i] = (uint8_t)(i % 10);
    for (long i = 0; i < (long)N * CIFAR_IMAGE; i++) s->pixels[i] = (uint8_t)rng_below(&r, 256);
}

// The loop the trainer had before the loader: shuffle at the epoch start, one augmentation
// stream through the epoch's batches in order.
static void old_epoch(float *x, int *y, const Dataset *s, const DataOptions *o, int B, Rng *sh, Rng *aug, int *perm) {
    for (int i = 0; i < s->n; i++) perm[i] = i;
    rng_shuffle(sh, perm, s->n);
    for (int i0 = 0; i0 < s->n; i0 += B) {
        int nb = s->n - i0 < B ? s->n - i0 : B;
        batch_make(x + (size_t)i0 * CIFAR_IMAGE, y + i0, s, perm + i0, nb, o, 1, aug);
    }
}

void suite_loader(void) {
    Dataset s;
    make_set(&s);
    DataOptions o = {.train_images = N, .augment = AUG_CROP_FLIP, .pad = 4, .pad_mode = PAD_REFLECT};
    const int B = 16; // 3 batches of 16 and one of 2
    float *want = malloc(sizeof(float) * N * CIFAR_IMAGE), *got = malloc(sizeof(float) * N * CIFAR_IMAGE);
    float *part = malloc(sizeof(float) * B * CIFAR_IMAGE);
    int ywant[N], ygot[N], ypart[B], perm[N];

    test_begin("loader: two epochs give the old trainer's batches bit for bit");
    Rng sh, aug;
    rng_seed(&sh, 7 * 3 + 1);
    rng_seed(&aug, 7 * 3 + 2);
    Loader l;
    loader_create(&l, &s, &o, B, LOADER_EPOCHS, 0, 1);
    loader_reset(&l, 7);
    for (int epoch = 0; epoch < 2; epoch++) {
        // old layout is (3, B, 32, 32) per batch: compare batch by batch
        old_epoch(want, ywant, &s, &o, B, &sh, &aug, perm);
        loader_begin_epoch(&l);
        int steps = 0, same = 1;
        for (int i0 = 0; i0 < N; i0 += B, steps++) {
            int nb = loader_next(&l, got + (size_t)i0 * CIFAR_IMAGE, ygot + i0, NULL);
            CHECK_EQ_INT(nb, N - i0 < B ? N - i0 : B);
            same &= !memcmp(got + (size_t)i0 * CIFAR_IMAGE, want + (size_t)i0 * CIFAR_IMAGE,
                            sizeof(float) * (size_t)nb * CIFAR_IMAGE);
            same &= !memcmp(ygot + i0, ywant + i0, sizeof(int) * (size_t)nb);
        }
        loader_end_epoch(&l);
        CHECK_EQ_INT(steps, 4);
        CHECK_MSG(same, "epoch %d differs", epoch + 1);
    }
    CHECK(!memcmp(&l.aug, &aug, sizeof aug) && !memcmp(&l.shuffle, &sh, sizeof sh));

    test_begin("loader: shares of 2 and 3 processes put together are the single-process batch");
    for (int world = 2; world <= 3; world++) {
        Loader one, ranks[3];
        loader_create(&one, &s, &o, B, LOADER_EPOCHS, 0, 1);
        loader_reset(&one, 11);
        loader_begin_epoch(&one);
        for (int r = 0; r < world; r++) {
            loader_create(&ranks[r], &s, &o, B, LOADER_EPOCHS, r, world);
            loader_reset(&ranks[r], 11);
            loader_begin_epoch(&ranks[r]);
        }
        int same = 1;
        for (int step = 0; step < 4; step++) {
            int nb = loader_next(&one, got, ygot, NULL);
            for (int r = 0; r < world; r++) {
                int lo, hi, share;
                loader_share(nb, r, world, &lo, &hi);
                CHECK_EQ_INT(loader_next(&ranks[r], part, ypart, &share), nb);
                CHECK_EQ_INT(share, hi - lo);
                // got is (3, nb, 32, 32); the share is images [lo, hi) of each channel plane
                for (int c = 0; c < 3; c++)
                    same &= !memcmp(part + (size_t)c * share * CIFAR_PLANE,
                                    got + ((size_t)c * nb + lo) * CIFAR_PLANE, sizeof(float) * (size_t)share * CIFAR_PLANE);
                same &= !memcmp(ypart, ygot + lo, sizeof(int) * (size_t)share);
            }
        }
        CHECK_MSG(same, "world %d: shares differ from the single-process batch", world);
        for (int r = 0; r < world; r++) {
            CHECK(!memcmp(&ranks[r].aug, &one.aug, sizeof one.aug)); // every rank ends where one process does
            loader_free(&ranks[r]);
        }
        loader_free(&one);
    }

    test_begin("loader: full batches only, reshuffled when they run out (lr-find)");
    Loader f;
    loader_create(&f, &s, &o, B, LOADER_FULL, 0, 1);
    loader_reset(&f, 3);
    rng_seed(&sh, 3 * 3 + 1);
    int shuffles = 0, ok = 1;
    for (int step = 0; step < 7; step++) {
        if (step % 3 == 0) { // 50 images: 3 full batches of 16, then a reshuffle
            for (int i = 0; i < N; i++) perm[i] = i;
            rng_shuffle(&sh, perm, N);
            shuffles++;
        }
        CHECK_EQ_INT(loader_next(&f, got, ygot, NULL), B);
        for (int b = 0; b < B; b++) ok &= ygot[b] == s.labels[perm[(step % 3) * B + b]];
    }
    CHECK(ok);
    CHECK(!memcmp(&f.shuffle, &sh, sizeof sh));
    loader_free(&f);
    loader_free(&l);
    free(want);
    free(got);
    free(part);
    dataset_free(&s);
}
