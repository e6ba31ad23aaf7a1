// dataset.h: one image classification set in memory, whatever file format it came from.
//
// Every reader fills the same Dataset, so the batch maker (batch.c) and the model take
// the number of classes, the input channels and the image size from it instead of from
// constants. [data] dataset picks the reader:
//
//   cifar10        3 x 32 x 32, 10 classes                     (cifar.c)
//   cifar100       3 x 32 x 32, 100 fine or 20 coarse classes  (cifar.c, [data] labels)
//   fashion-mnist  1 x 28 x 28, 10 classes                     (fmnist.c)
//
// Pixels are kept as the files store them, one byte each, image after image, and within
// an image plane after plane (CHW, as CIFAR's files): pixel (c, y, x) of image i is
// pixels[((i * channels + c) * height + y) * width + x].
#ifndef ONECYCLE_DATASET_H
#define ONECYCLE_DATASET_H
#include "common.h"
#include "config.h"

#define DATASET_MAX_CHANNELS 3

enum { DATASET_CIFAR10 = 0, DATASET_CIFAR100, DATASET_FMNIST };
// "cifar10", "cifar100", "fashion-mnist", NULL: index = DATASET_*, as [data] dataset names them.
extern const char *const dataset_names[];

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

// ---- the [data] section ----------------------------------------------------------------

enum { AUG_NONE = 0, AUG_FLIP = 1, AUG_CROP_FLIP = 2 };

// Padding of the crop: black pixels (torchvision's RandomCrop(padding)); a mirror without
// the edge pixel (torch/numpy "reflect", cv2 BORDER_REFLECT_101: ..cb|abc..); a mirror with
// it (numpy "symmetric", cv2 BORDER_REFLECT, fastai 0.7's AddPadding: ..ba|abc..).
enum { PAD_ZERO, PAD_REFLECT, PAD_SYMMETRIC };

typedef struct DataOptions {
    int dataset;                   // DATASET_*
    int labels;                    // cifar100: CIFAR100_LABELS_FINE or _COARSE (cifar.h)
    char dir[256];                 // data.dir, or the data set's own place when it is empty
    int train_images, test_images; // first N of the set (empty in the config: all of it)
    int augment;                   // AUG_*
    int pad;                       // crop padding in pixels (default 4)
    int pad_mode;                  // PAD_ZERO, PAD_REFLECT or PAD_SYMMETRIC
} DataOptions;

// Keys of the [data] section: dataset, dir, labels, train_images, test_images, augment,
// pad, pad_mode.
extern const ConfigKey dataset_config_keys[];
// Reads [data]. Image counts are checked against the chosen set's size; data.labels is
// refused for a set other than cifar100.
int dataset_options_from_config(DataOptions *o, const Config *c, Err *e);
// The shape of the images and the classes the options' data set gives (with its name).
DataShape dataset_shape(const DataOptions *o);
// "CIFAR-10", "CIFAR-100", "Fashion-MNIST": for messages.
const char *dataset_title(int dataset);
// Loads the first max_images (<= 0: all) of the options' training (train != 0) or test set
// from o->dir through its reader. Errors as the readers give them; *d is left empty.
int dataset_load(Dataset *d, const DataOptions *o, int train, int max_images, Err *e);

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
// between is refused too. `hint` ends the "not found" message (how to get the data).
// On success *fd is open (the caller closes it) and *size holds the file size.
// Errors (ERR_INPUT) name the path: not found, not a regular file (says what it is),
// cannot read (permissions ...).
int dataset_open_file(const char *path, const char *hint, int *fd, long long *size, Err *e);

// Checks that dir exists and is a readable directory, so a wrong data.dir gets one
// message about the directory rather than one about its first file. `what` names the
// data set ("Fashion-MNIST"), `hint` ends the "not found" message.
int dataset_check_dir(const char *dir, const char *what, const char *hint, Err *e);

#endif
