// loader.h: the order and augmentation of training batches.
//
// The loader owns the epoch permutation, the augmentation generator and the batch cursor.
// Batches are global: step s of an epoch covers positions [s*B, s*B + nb) of the epoch's
// permutation, and process `rank` of `world` fills only its share of them (loader_share;
// world = 1: the whole batch; under mpirun, dist.h). Everything a batch holds depends only
// on the seed, the epoch and the global position of each sample:
// - the permutation of an epoch is drawn from the shuffle stream at the epoch's start;
// - augmentation draws a fixed number of values per image (batch_aug_draws: crop top, crop
//   left, flip), one stream in global sample order, so a rank skips the draws of the
//   images before and after its share and gets exactly the values a single process would.
// This keeps the streams of the single-process trainer, so checkpoints written before the
// loader existed resume bit-identically.
#ifndef ONECYCLE_LOADER_H
#define ONECYCLE_LOADER_H
#include "batch.h"
#include "rng.h"

enum {
    LOADER_EPOCHS = 0, // batches of an epoch in order, the last one partial unless drop_last
    LOADER_FULL = 1,   // full batches only, reshuffled when too few images are left (lr-find)
};

typedef struct Loader {
    const Dataset *set;
    const DataOptions *opt;
    int batch;        // global batch size (LOADER_FULL: at most set->n)
    int mode, rank, world;
    int shares;       // shares of every batch (shares.h), world dividing it: rank r fills shares
                      // [r*q, (r+1)*q), q = shares/world, each as its own (C, n, H, W) array
    Rng shuffle, aug; // the two streams
    int *perm;        // (set->n) this epoch's order
    int in_epoch;     // perm holds the current epoch's order
    long pos;         // LOADER_EPOCHS: batches taken this epoch; LOADER_FULL: images taken
} Loader;

void loader_create(Loader *l, const Dataset *set, const DataOptions *opt, int batch, int mode, int rank, int world);
// Splits every batch into `shares` shares (default: world, one per rank), which world must
// divide; this rank's shares lie side by side in x, share by share (resnet.h, shares).
void loader_set_shares(Loader *l, int shares);
void loader_free(Loader *l);
// Back to the start: both streams seeded from `seed` (the training streams seed*3+1 and
// seed*3+2), no epoch begun.
void loader_reset(Loader *l, uint64_t seed);
// LOADER_EPOCHS: begins an epoch (draws its permutation) if none is under way.
void loader_begin_epoch(Loader *l);
// The next batch: fills this rank's share of it into x (C, share, H, W) and y (share)
// (with several shares per rank: each share's (C, n, H, W) after the one before),
// returns the global batch size nb and the share in *share (may be NULL when world = 1).
// LOADER_EPOCHS: the caller ends the epoch (loader_end_epoch) after its steps.
int loader_next(Loader *l, float *x, int *y, int *share);
void loader_end_epoch(Loader *l);
// This rank's part [lo, hi) of a global batch of nb images: contiguous, sizes differ by <= 1.
void loader_share(int nb, int rank, int world, int *lo, int *hi);

#endif
