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
// The Dataset type and the readers' shared helpers are in imageset.h.
#ifndef ONECYCLE_DATASET_H
#define ONECYCLE_DATASET_H
#include "common.h"
#include "config.h"
#include "imageset.h"

enum { DATASET_CIFAR10 = 0, DATASET_CIFAR100, DATASET_FMNIST };
// "cifar10", "cifar100", "fashion-mnist", NULL: index = DATASET_*, as [data] dataset names them.
extern const char *const dataset_names[];

// ---- the [data] section ----------------------------------------------------------------

enum { AUG_NONE = 0, AUG_FLIP = 1, AUG_CROP_FLIP = 2 };

// Padding of the crop: black pixels (torchvision's RandomCrop(padding)); a mirror without
// the edge pixel (torch/numpy "reflect", cv2 BORDER_REFLECT_101: ..cb|abc..); a mirror with
// it (numpy "symmetric", cv2 BORDER_REFLECT, fastai 0.7's AddPadding: ..ba|abc..).
enum { PAD_ZERO, PAD_REFLECT, PAD_SYMMETRIC };

typedef struct DataOptions {
    int dataset;                   // DATASET_*
    int labels;                    // cifar100: CIFAR100_LABELS_FINE or _COARSE (cifar.h)
    char dir[FS_PATH_MAX];         // data.dir, or the data set's own place when it is empty
    int train_images, test_images; // images trained on / tested on (empty in the config: all of
                                   // the set; train_images less valid_images when there is a split)
    int valid_images;              // held out of the first train_images + valid_images training
                                   // images as the validation split (0: none)
    int augment;                   // AUG_*
    int pad;                       // crop padding in pixels (default 4)
    int pad_mode;                  // PAD_ZERO, PAD_REFLECT or PAD_SYMMETRIC
} DataOptions;

// Keys of the [data] section: dataset, dir, labels, train_images, test_images, valid_images,
// augment, pad, pad_mode.
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
// The training images, and the validation split when o->valid_images > 0: loads the first
// train_images + valid_images training images, then moves valid_images of them, chosen by
// the seed, into *valid (in the order of the file) and keeps the others in *train (in the
// order of the file). The choice depends on the seed and the counts alone, so a resumed run
// and every rank of a data-parallel run hold the same split. valid_images = 0: *train is
// what dataset_load gives and *valid is left empty. On error both are left empty.
int dataset_load_train(Dataset *train, Dataset *valid, const DataOptions *o, uint64_t seed, Err *e);
// Moves n of the set's images (n < d->n), chosen by `seed`, into *held and compacts the rest
// of *d; both keep the set's order. n = 0 leaves *d as it was and *held empty.
void dataset_hold_out(Dataset *d, Dataset *held, int n, uint64_t seed);

#endif
