// cifar100.h: CIFAR-100, binary version (the one "suitable for C programs").
//
// The tarball cifar-100-binary.tar.gz unpacks to cifar-100-binary/ with train.bin (50000
// records) and test.bin (10000), plus the class names (coarse_label_names.txt,
// fine_label_names.txt). A record is 3074 bytes: the coarse label (superclass, 0..19),
// the fine label (class, 0..99), then 1024 R, 1024 G, 1024 B bytes, each plane 32x32
// row-major: CIFAR-10's record with one more label byte in front.
#ifndef ONECYCLE_CIFAR100_H
#define ONECYCLE_CIFAR100_H
#include "dataset.h"

#define CIFAR100_SIDE 32
#define CIFAR100_IMAGE 3072
#define CIFAR100_RECORD 3074
#define CIFAR100_COARSE 20
#define CIFAR100_FINE 100
#define CIFAR100_TRAIN_IMAGES 50000
#define CIFAR100_TEST_IMAGES 10000

// Which label a loaded set keeps: the 100 classes or the 20 superclasses.
enum { CIFAR100_LABELS_FINE = 0, CIFAR100_LABELS_COARSE = 1 };
// "fine", "coarse", NULL: index = CIFAR100_LABELS_*, for config_choice ([data] labels).
extern const char *const cifar100_label_names[];

// Normalisation: per-channel mean and std of byte/255 over the training set (R, G, B).
extern const float cifar100_mean[3], cifar100_std[3];

// Validates one file: a regular file, size a positive multiple of 3074, every coarse
// label <= 19 and fine label <= 99, and, if expected_records > 0, exactly that many
// records. Messages name the file and the problem.
int cifar100_check_file(const char *path, int expected_records, Err *e);

// Loads the first max_images (<= 0: all) of the training set (train.bin, 50000) or the
// test set (test.bin, 10000) from dir into d (3 x 32 x 32; 100 classes with
// CIFAR100_LABELS_FINE, 20 with CIFAR100_LABELS_COARSE). The file must hold exactly the
// set's record count; both labels of every record read are checked, whichever is kept.
// Asking for more images than the set has is an error. A missing directory or file is
// ERR_INPUT with a hint on where the files come from. On error *d is left empty.
int cifar100_load(Dataset *d, const char *dir, int train, int labels, int max_images, Err *e);

#endif
