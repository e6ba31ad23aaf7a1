// fmnist.h: Fashion-MNIST, read from its original gzip-compressed IDX files through zlib.
//
// Debian's dataset-fashion-mnist package (`make deps`) installs the four files of the
// upstream release under /usr/share/datasets/fashion-mnist/:
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   60000 images
//   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz    10000 images
// IDX format (all integers big-endian uint32): an images file is the magic 0x00000803
// (unsigned bytes, 3 dimensions), the count, rows (28), columns (28), then count*28*28
// pixel bytes, row-major, 0 = background; a labels file is the magic 0x00000801, the
// count, then one byte per image, 0..9 (T-shirt/top, Trouser, Pullover, Dress, Coat,
// Sandal, Shirt, Sneaker, Bag, Ankle boot).
// The files are decompressed as they are read: nothing is unpacked to disk.
#ifndef ONECYCLE_FMNIST_H
#define ONECYCLE_FMNIST_H
#include "imageset.h"

#define FMNIST_SIDE 28
#define FMNIST_IMAGE (FMNIST_SIDE * FMNIST_SIDE)
#define FMNIST_CLASSES 10
#define FMNIST_TRAIN_IMAGES 60000
#define FMNIST_TEST_IMAGES 10000
#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_IDX_IMAGES 0x00000803u // magic: unsigned bytes, 3 dimensions
#define FMNIST_IDX_LABELS 0x00000801u // magic: unsigned bytes, 1 dimension

// Normalisation: mean and std of byte/255 over all 47,040,000 training pixels.
extern const float fmnist_mean, fmnist_std;

// 1 x 28 x 28 images, 10 classes, named "fashion-mnist".
extern const DataShape fmnist_shape;

// Reads one pair of gzip-compressed IDX files (images, labels) into d: 1 x 28 x 28
// images, 10 classes, the Fashion-MNIST normalisation. Both files are read to their end
// and fully validated, whatever max_images is: gzip header, magic numbers, image size
// 28x28, equal image and label counts, every label 0..9, the data as long as the header
// says (a cut file is reported as truncated), no data past it, the gzip checksum, and
// nothing after the gzip stream. Only the first max_images (<= 0: all) are kept.
// expected > 0 requires exactly that many images. Every message names the file.
// Anything that is not a regular file (a FIFO, a directory) is refused before it is
// opened. On error *d is left empty (nothing to free).
int fmnist_read_files(Dataset *d, const char *images_path, const char *labels_path, int expected,
                      int max_images, Err *e);

// Loads the training (train != 0, 60000 images) or test set (10000) from dir, keeping the
// first max_images (<= 0: all; more than the set has is an error). A missing directory or
// file is ERR_INPUT with a hint (`make deps` installs the Debian package).
int fmnist_load(Dataset *d, const char *dir, int train, int max_images, Err *e);

// The class names, by label (zalandoresearch/fashion-mnist's README): T-shirt/top, Trouser,
// Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
extern const char *const fmnist_class_names[10];

#endif
