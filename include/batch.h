// batch.h: a data set's bytes -> the network's input batch: normalised and, in training,
// augmented (random crop of the padded image, horizontal flip).
#ifndef ONECYCLE_BATCH_H
#define ONECYCLE_BATCH_H
#include "dataset.h"
#include "rng.h"

// Images up to this side (CIFAR 32, Fashion-MNIST 28) are what the batch maker handles.
#define BATCH_MAX_SIDE 64

// Fills one batch of B images of set s (C x H x W each), normalised with the set's mean/std
// per channel after scaling bytes to [0,1]. out is (C, B, H, W): channel-major, then image
// ("CBHW", the network's layout). labels[b] = label of image idx[b].
// Augmentation (training only) uses rng: AUG_FLIP: horizontal flip with p=0.5;
// AUG_CROP_FLIP: pad by `pad` pixels, random H x W crop, then flip. Zero padding pads raw
// pixels with byte 0 (black) before normalising, as torchvision's RandomCrop(padding)
// before Normalize does; reflect padding mirrors the image without repeating the edge
// pixel (numpy/torch "reflect"), symmetric with it (numpy "symmetric", cv2 BORDER_REFLECT
// as in fastai 0.7). Crop offsets are uniform in [0, 2*pad] per axis (pad <= 16, as the
// config enforces); the draws per image are crop top, crop left, then the flip. With
// train == 0 no augmentation is done and rng is not used (it may be NULL); labels may be NULL.
void batch_make(float *out, int *labels, const Dataset *s, const int *idx, int B, const DataOptions *o, int train,
                Rng *rng);
// Values drawn from rng per training image (each draw is one rng_u64): 3 for crop+flip,
// 1 for flip, 0 without augmentation. The loader skips draws with it.
int batch_aug_draws(const DataOptions *o);

#endif
