// imageset.h: an image classification set in memory (Dataset), the shape a model takes
// from it (DataShape), and what the file readers (cifar.c, fmnist.c) share: opening a data
// file safely, checking a data directory, per-channel statistics. The readers depend on
// this module and dataset.c (the [data] section, which picks a reader) on them, so the
// types live here rather than in dataset.h.
//
// Pixels are kept as the files store them, one byte each, image after image, and within
// an image plane after plane (CHW, as CIFAR's files): pixel (c, y, x) of image i is
// pixels[((i * channels + c) * height + y) * width + x].
#ifndef ONECYCLE_IMAGESET_H
#define ONECYCLE_IMAGESET_H
#include "common.h"

#define DATASET_MAX_CHANNELS 3

typedef struct Dataset {
    const char *name;             // "fashion-mnist", "cifar100" ...: what data.dataset names
    int n;                        // images
    int channels, height, width;  // of every image
    int classes;                  // every label is in [0, classes)
    uint8_t *labels;              // (n)
    uint8_t *pixels;              // (n, channels, height, width)
    // Normalisation the network sees, per channel: x = (byte / 255 - mean) / std. Always
    // the training set's statistics, also in a test set, as torchvision's Normalize uses.
    float mean[DATASET_MAX_CHANNELS], std[DATASET_MAX_CHANNELS];
} Dataset;

// What a model needs to know of a data set: the images' shape and the number of classes,
// and which set it is (dataset_names; NULL for a shape made up by a test or a benchmark).
typedef struct DataShape {
    int channels, height, width, classes;
    const char *name;
} DataShape;

// Bytes of one image: channels * height * width.
static inline size_t dataset_image_bytes(const Dataset *d) {
    return (size_t)d->channels * (size_t)d->height * (size_t)d->width;
}

// Frees the arrays and zeroes *d (safe on a zeroed or already freed Dataset).
void dataset_free(Dataset *d);

// Mean and (population) standard deviation of byte / 255 over every pixel of each channel
// of the set, in double precision from exact per-channel histograms: the numbers that
// Normalize wants, as numpy's x.mean() and x.std() over the whole channel give them.
void dataset_channel_stats(const Dataset *d, double *mean, double *std);

// --- helpers the readers share ----------------------------------------------------------

// Opens a data file for reading after checking, before any open, that it is a regular
// file: a FIFO would block the open and a device or directory is never a data set. The
// check is repeated on the open descriptor (opened non-blocking), so a path swapped in
// between is refused too. `what` says what was expected instead ("a CIFAR-10 .bin file"); `hint` ends the "not found" message (how to get the data).
// On success *fd is open (the caller closes it) and *size holds the file size.
// Errors (ERR_INPUT) name the path: not found, not a regular file (says what it is),
// cannot read (permissions ...).
int dataset_open_file(const char *path, const char *what, const char *hint, int *fd, long long *size, Err *e);

// Checks that dir exists and is a readable directory, so a wrong data.dir gets one
// message about the directory rather than one about its first file. `what` names the
// data set ("Fashion-MNIST"), `hint` ends the "not found" message.
int dataset_check_dir(const char *dir, const char *what, const char *hint, Err *e);

#endif
