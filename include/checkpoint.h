// checkpoint.h: the whole state of a run in one file, written atomically.
//
// Layout: magic "ONECYCKP", u32 version, then tagged sections (u32 tag, u64 length, bytes),
// then a CRC32 (zlib) of everything before it. Sections: the effective config text, the
// model shape (arch, depth, shortcut, classes, sizes), parameters, BN running statistics,
// optimiser state, the loop position and per-epoch accumulators, every RNG state, this
// epoch's data order, and the tensor table (every parameter tensor's name and shape, in
// order; absent in checkpoints written before [model] arch, which all hold arch = resnet),
// and the data set (name, input shape, classes; absent in checkpoints written before
// [data] dataset, which were all trained on CIFAR-10).
// Numbers are stored in the machine's byte order (x86-64: little-endian). Loading into a
// model of another variant or size is refused (ERR_INPUT), naming both models and the
// first tensor where they differ; so is loading a model trained on another data set
// (naming both sets).
#ifndef ONECYCLE_CHECKPOINT_H
#define ONECYCLE_CHECKPOINT_H
#include "common.h"
#include "train.h"

#define CHECKPOINT_VERSION 1

// Writes path atomically: a temporary file in the same directory, fsync, rename over the
// old one, fsync the directory. Refuses (ERR_RUNTIME) to save non-finite weights.
int checkpoint_save(const Trainer *t, const char *config_text, const char *path, Err *e);
// Reads and verifies a checkpoint (size, magic, version, CRC) and returns its config
// text (malloc'd, caller frees). ERR_INPUT with a clear message on any defect.
int checkpoint_read_config(const char *path, char **config_text, Err *e);
// Restores everything into a trainer created from the checkpoint's own config.
int checkpoint_load(Trainer *t, const char *path, Err *e);
// Restores only weights and BN statistics (a new run branching from a saved model).
int checkpoint_load_weights(ResNet *m, const char *path, Err *e);
// The run's training steps so far (the loop position), from a verified checkpoint.
int checkpoint_read_step(const char *path, long *step, Err *e);

#endif
