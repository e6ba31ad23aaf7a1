// cifar.h: CIFAR-10 and CIFAR-100, binary versions (the ones "suitable for C programs").
//
// Both are files of fixed-size records: label bytes, then 1024 R, 1024 G, 1024 B bytes,
// each plane 32x32 row-major. One reader serves both, parameterised by the record layout:
//   CIFAR-10   cifar-10-batches-bin/: data_batch_1..5.bin (10000 records each) and
//              test_batch.bin (10000). A record is 3073 bytes: the label (0..9), the pixels.
//   CIFAR-100  cifar-100-binary/ (from cifar-100-binary.tar.gz): train.bin (50000 records)
//              and test.bin (10000), plus coarse_label_names.txt and fine_label_names.txt.
//              A record is 3074 bytes: the coarse label (superclass, 0..19), the fine label
//              (class, 0..99), the pixels: CIFAR-10's record with one more label byte in front.
// Every label byte of every record read is checked, whichever label is kept.
#ifndef ONECYCLE_CIFAR_H
#define ONECYCLE_CIFAR_H
#include "common.h"
#include "imageset.h"

#define CIFAR_SIDE 32
#define CIFAR_PLANE 1024
#define CIFAR_IMAGE 3072
#define CIFAR_RECORD 3073
#define CIFAR_CLASSES 10
#define CIFAR10_TRAIN_IMAGES 50000
#define CIFAR10_TEST_IMAGES 10000

#define CIFAR100_RECORD 3074
#define CIFAR100_COARSE 20
#define CIFAR100_FINE 100
#define CIFAR100_TRAIN_IMAGES 50000
#define CIFAR100_TEST_IMAGES 10000

// 3 x 32 x 32 images, 10 classes, named "cifar10": what the model is built for (resnet.h).
extern const DataShape cifar10_shape;

// The class names, by label: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
extern const char *const cifar_class_names[CIFAR_CLASSES];

// Which CIFAR-100 label a loaded set keeps: the 100 classes or the 20 superclasses.
enum { CIFAR100_LABELS_FINE = 0, CIFAR100_LABELS_COARSE = 1 };
// "fine", "coarse", NULL: index = CIFAR100_LABELS_*, for config_choice ([data] labels).
extern const char *const cifar100_label_names[];

// Normalisation, per channel (R, G, B): mean and std of byte/255 over the training set.
extern const float cifar10_mean[3], cifar10_std[3], cifar100_mean[3], cifar100_std[3];

// Validates one file (a regular file, size a positive multiple of the record, every label
// in range) and, if expected_records > 0, that it holds exactly that many records.
// Messages name the file and the problem.
int cifar_check_file(const char *path, int expected_records, Err *e);
int cifar100_check_file(const char *path, int expected_records, Err *e);

// CIFAR-10: loads the first max_images (<= 0: all) of the training set (data_batch_1..5.bin,
// 50000) or the test set (test_batch.bin, 10000) from dir into d (3 x 32 x 32, 10 classes),
// validating every file read. Only the files needed for max_images are opened; each must
// still be exactly 10000 records. Asking for more images than the set has is an error.
// Missing directory or file: ERR_INPUT with a `make data` hint. On error *d is left empty.
int cifar_load(Dataset *d, const char *dir, int train, int max_images, Err *e);

// CIFAR-100: the same from train.bin (50000) or test.bin (10000), keeping the fine labels
// (100 classes) or the coarse ones (20), CIFAR100_LABELS_*. A missing directory or file is
// ERR_INPUT with a hint on where the files come from.
int cifar100_load(Dataset *d, const char *dir, int train, int labels, int max_images, Err *e);

#endif
