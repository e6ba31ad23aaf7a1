// cifar.h: CIFAR-10 (official binary version) loading, validation and batch making.
//
// A file holds records of 3073 bytes: 1 label byte (0..9), then 1024 R, 1024 G, 1024 B
// bytes, each plane 32x32 row-major. Training files data_batch_1..5.bin and test_batch.bin
// hold 10000 records each.
#ifndef ONECYCLE_CIFAR_H
#define ONECYCLE_CIFAR_H
#include "common.h"
#include "config.h"
#include "dataset.h"
#include "rng.h"

#define CIFAR_SIDE 32
#define CIFAR_PLANE 1024
#define CIFAR_IMAGE 3072
#define CIFAR_RECORD 3073
#define CIFAR_CLASSES 10

// 3 x 32 x 32 images, 10 classes: what the model is built for (resnet.h).
extern const DataShape cifar10_shape;

// The class names, by label: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
extern const char *const cifar_class_names[CIFAR_CLASSES];

typedef struct CifarSet {
    int n;            // images
    uint8_t *labels;  // (n)
    uint8_t *pixels;  // (n, 3, 32, 32), the bytes as stored
} CifarSet;

enum { AUG_NONE = 0, AUG_FLIP = 1, AUG_CROP_FLIP = 2 };

// Keys of the [data] section: dir, train_images, test_images, augment, pad, pad_mode.
extern const ConfigKey cifar_config_keys[];

// Padding of the crop: black pixels (torchvision's RandomCrop(padding)); a mirror without
// the edge pixel (torch/numpy "reflect", cv2 BORDER_REFLECT_101: ..cb|abc..); a mirror with
// it (numpy "symmetric", cv2 BORDER_REFLECT, fastai 0.7's AddPadding: ..ba|abc..).
enum { PAD_ZERO, PAD_REFLECT, PAD_SYMMETRIC };

typedef struct CifarOptions {
    char dir[256];
    int train_images, test_images; // first N of the set (<= 50000 / 10000)
    int augment;                   // AUG_*
    int pad;                       // crop padding in pixels (default 4)
    int pad_mode;                  // PAD_ZERO, PAD_REFLECT or PAD_SYMMETRIC
} CifarOptions;

int cifar_options_from_config(CifarOptions *o, const Config *c, Err *e);

// Validates one file (exists, readable, size a positive multiple of 3073, every label <= 9)
// and, if expected_records > 0, that it holds exactly that many records.
// Messages name the file and the problem.
int cifar_check_file(const char *path, int expected_records, Err *e);

// Loads the first max_images (<= 0: all) of the training set (data_batch_1..5.bin, 50000)
// or the test set (test_batch.bin, 10000) from dir, validating every file read.
// Only the files needed for max_images are opened; each must still be exactly 10000
// records, and the labels of the records read must be 0..9. Asking for more images than
// the set has is an error. Missing directory or file: ERR_INPUT with a `make data` hint.
// On error *s is left empty (nothing to free).
int cifar_load(CifarSet *s, const char *dir, int train, int max_images, Err *e);
void cifar_free(CifarSet *s);

// Fills one batch of B images, normalised with the CIFAR-10 mean/std per channel
// (mean 0.4914, 0.4822, 0.4465; std 0.2470, 0.2435, 0.2616) after scaling bytes to [0,1].
// out is (3, B, 32, 32): channel-major, then image ("CBHW", the network's layout).
// labels[b] = label of image idx[b]. Augmentation (training only) uses rng:
// AUG_FLIP: horizontal flip with p=0.5; AUG_CROP_FLIP: pad by `pad` pixels, random 32x32
// crop, then flip. Zero padding pads raw pixels with byte 0 (black) before normalising, as
// torchvision's RandomCrop(padding) before Normalize does; reflect padding mirrors the
// image without repeating the edge pixel (numpy/torch "reflect"), symmetric with it
// (numpy "symmetric", cv2 BORDER_REFLECT as in fastai 0.7).
// Crop offsets are uniform in [0, 2*pad] per axis (pad <= 16, as the config enforces); the
// draws per image are crop top, crop left, then the flip. With train == 0 no augmentation
// is done and rng is not used (it may be NULL); labels may be NULL.
void cifar_make_batch(float *out, int *labels, const CifarSet *s, const int *idx, int B,
                      const CifarOptions *o, int train, Rng *rng);
// Values drawn from rng per training image (each draw is one rng_u64): 3 for crop+flip,
// 1 for flip, 0 without augmentation. The loader skips draws with it.
int cifar_aug_draws(const CifarOptions *o);

#endif
