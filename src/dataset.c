// dataset.c: the in-memory data set every reader produces, the [data] section that picks
// the reader, the set's statistics, and the file checks the readers share.
#include "dataset.h"
#include "cifar.h"
#include "fmnist.h"
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

