// dataset.c: the in-memory data set every reader produces, the [data] section that picks
// the reader, the set's statistics, and the file checks the readers share.
#include "dataset.h"
#include "cifar.h"
#include "fmnist.h"
#include "rng.h"
#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const dataset_names[] = {"cifar10", "cifar100", "fashion-mnist", NULL};

// Per data set (index DATASET_*): its title, where its files are by default, its sizes.
static const struct {
    const char *title, *dir;
    int train, test;
} sets[] = {
    {"CIFAR-10", "data/cifar-10-batches-bin", CIFAR10_TRAIN_IMAGES, CIFAR10_TEST_IMAGES},
    {"CIFAR-100", "data/cifar-100-binary", CIFAR100_TRAIN_IMAGES, CIFAR100_TEST_IMAGES},
    {"Fashion-MNIST", FMNIST_DIR, FMNIST_TRAIN_IMAGES, FMNIST_TEST_IMAGES},
};

const ConfigKey dataset_config_keys[] = {
    {"dataset", "cifar10",
     "cifar10, cifar100 (binary version, 3x32x32) or fashion-mnist (1x28x28, Debian's dataset-fashion-mnist): "
     "the model takes its input shape and classes from it"},
    {"dir", "",
     "directory of the data set's files; empty: its usual place (cifar10: data/cifar-10-batches-bin from `make "
     "data`; cifar100: data/cifar-100-binary, train.bin and test.bin; fashion-mnist: " FMNIST_DIR ")"},
    {"labels", "", "cifar100 only: fine (100 classes; empty means fine) or coarse (20 superclasses)"},
    {"train_images", "", "use the first N training images (empty: all; cifar: 50000, fashion-mnist: 60000)"},
    {"test_images", "", "evaluate on the first N test images (empty: all 10000)"},
    {"valid_images", "0",
     "hold N of the first train_images training images out of training as a validation split, chosen by the seed "
     "(the same on resume and on any number of ranks), evaluated after every epoch into log.csv's valid_loss and "
     "valid_acc; the model trains on the other train_images - N. 0: no split"},
    {"augment", "crop_flip", "training augmentation: crop_flip (pad + random crop to the image size + flip), flip, "
     "or none"},
    {"pad", "4", "padding in pixels around the image before the random crop (0..16)"},
    {"pad_mode", "zero", "padding for the crop: zero (black pixels, as torchvision), reflect (mirror without "
     "the edge pixel, torch's reflect) or symmetric (mirror with it: cv2 BORDER_REFLECT, fastai 0.7)"},
    {NULL, NULL, NULL},
};

const char *dataset_title(int dataset) {
    return sets[dataset].title;
}

// An image count: empty is the whole set, else 1..total.
static int image_count(const Config *c, const char *key, int total, int *out, Err *e) {
    if (!config_str(c, "data", key)[0]) {
        *out = total;
        return ERR_OK;
    }
    long n;
    if (config_int_in(c, "data", key, 1, total, &n, e)) return e->code;
    *out = (int)n;
    return ERR_OK;
}

int dataset_options_from_config(DataOptions *o, const Config *c, Err *e) {
    static const char *const augments[] = {"none", "flip", "crop_flip", NULL}; // index = AUG_*
    static const char *const pad_modes[] = {"zero", "reflect", "symmetric", NULL}; // index = PAD_*
    memset(o, 0, sizeof *o);
    int set, labels = CIFAR100_LABELS_FINE, aug, mode;
    if (config_choice(c, "data", "dataset", dataset_names, &set, e)) return e->code;
    // Empty unless given, so that a config dumped with every key (config.cfg, a checkpoint's)
    // reads back for every data set.
    int has_labels = config_str(c, "data", "labels")[0] != 0;
    if (has_labels && config_choice(c, "data", "labels", cifar100_label_names, &labels, e)) return e->code;
    if (set != DATASET_CIFAR100 && has_labels)
        return err_set(e, ERR_INPUT, "%s: data.labels: only cifar100 has a choice of labels, the data set is %s",
                       config_where(c, "data", "labels"), dataset_names[set]);
    const char *dir = config_str(c, "data", "dir");
    if (!dir[0]) dir = sets[set].dir;
    if (fs_check_path("data.dir", dir, e)) return err_prefix(e, "%s", config_where(c, "data", "dir"));
    memcpy(o->dir, dir, strlen(dir) + 1);
    long pad;
    if (image_count(c, "train_images", sets[set].train, &o->train_images, e)) return e->code;
    // The split comes out of the images train_images names; at least one is left to train on.
    long valid;
    if (config_int_in(c, "data", "valid_images", 0, o->train_images - 1, &valid, e)) return e->code;
    o->valid_images = (int)valid;
    o->train_images -= o->valid_images;
    if (image_count(c, "test_images", sets[set].test, &o->test_images, e)) return e->code;
    if (config_choice(c, "data", "augment", augments, &aug, e)) return e->code;
    // 16 keeps reflect padding valid (it needs pad < the image side) and is already far past useful.
    if (config_int_in(c, "data", "pad", 0, 16, &pad, e)) return e->code;
    if (config_choice(c, "data", "pad_mode", pad_modes, &mode, e)) return e->code;
    o->dataset = set;
    o->labels = labels;
    o->augment = aug;
    o->pad = (int)pad;
    o->pad_mode = mode;
    return ERR_OK;
}

DataShape dataset_shape(const DataOptions *o) {
    switch (o->dataset) {
    case DATASET_CIFAR100: {
        DataShape s = cifar10_shape;
        s.classes = o->labels == CIFAR100_LABELS_COARSE ? CIFAR100_COARSE : CIFAR100_FINE;
        s.name = dataset_names[DATASET_CIFAR100];
        return s;
    }
    case DATASET_FMNIST:
        return fmnist_shape;
    default:
        return cifar10_shape;
    }
}

int dataset_load(Dataset *d, const DataOptions *o, int train, int max_images, Err *e) {
    switch (o->dataset) {
    case DATASET_CIFAR100:
        return cifar100_load(d, o->dir, train, o->labels, max_images, e);
    case DATASET_FMNIST:
        return fmnist_load(d, o->dir, train, max_images, e);
    default:
        return cifar_load(d, o->dir, train, max_images, e);
    }
}


void dataset_hold_out(Dataset *d, Dataset *held, int n, uint64_t seed) {
    memset(held, 0, sizeof *held);
    if (n <= 0 || n >= d->n) return;
    // A stream of its own, so the training streams (seed * 3 + 0, 1, 2: train.c, loader.c)
    // draw exactly what they drew before the split existed.
    Rng r;
    rng_seed(&r, seed ^ 0x76616c69645f7370ULL); // "valid_sp"
    int *idx = xmalloc(sizeof(int) * (size_t)d->n);
    uint8_t *pick = xcalloc((size_t)d->n, 1);
    for (int i = 0; i < d->n; i++) idx[i] = i;
    for (int i = 0; i < n; i++) { // the first n of a Fisher-Yates shuffle: n distinct images
        int j = i + (int)rng_below(&r, (uint32_t)(d->n - i)), k = idx[i];
        idx[i] = idx[j];
        idx[j] = k;
        pick[idx[i]] = 1;
    }
    const size_t image = dataset_image_bytes(d);
    *held = *d;
    held->n = n;
    held->labels = xmalloc((size_t)n);
    held->pixels = xmalloc(image * (size_t)n);
    int h = 0, k = 0;
    for (int i = 0; i < d->n; i++) {
        if (pick[i]) {
            held->labels[h] = d->labels[i];
            memcpy(held->pixels + image * (size_t)h++, d->pixels + image * (size_t)i, image);
        } else {
            d->labels[k] = d->labels[i];
            memmove(d->pixels + image * (size_t)k++, d->pixels + image * (size_t)i, image);
        }
    }
    d->n = k;
    free(idx);
    free(pick);
}

int dataset_load_train(Dataset *train, Dataset *valid, const DataOptions *o, uint64_t seed, Err *e) {
    memset(valid, 0, sizeof *valid);
    if (dataset_load(train, o, 1, o->train_images + o->valid_images, e)) return e->code;
    dataset_hold_out(train, valid, o->valid_images, seed);
    return ERR_OK;
}
