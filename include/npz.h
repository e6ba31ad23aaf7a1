// npz.h: NumPy .npz archives (a zip of .npy arrays), written and read.
//
// Writing: each array becomes "<name>.npy" (format 1.0, little-endian, C order; the header
// padded to a multiple of 64 bytes as NumPy does), stored or deflated with zlib, in a plain
// zip (no zip64: archives up to 4 GiB) with a fixed timestamp, so the same arrays give the
// same bytes. np.load(path) lists the arrays under their names.
// Reading (our own, for tests and tools): the central directory, stored or deflated
// entries, zip64 size fields as Python's zipfile writes them, and .npy versions 1-3 with
// the dtypes below.
#ifndef ONECYCLE_NPZ_H
#define ONECYCLE_NPZ_H
#include "common.h"

enum { NPZ_F32 = 0, NPZ_I64 = 1 }; // '<f4', '<i8'

#define NPZ_MAX_DIMS 8

typedef struct NpzArray {
    char name[128];            // without ".npy"
    int dtype;                 // NPZ_*
    int ndim;                  // 0: a scalar (one element)
    long shape[NPZ_MAX_DIMS];
    long n;                    // elements: the product of shape (1 for a scalar)
    void *data;                // n floats or int64s; owned by the reader's result
} NpzArray;

// Writes arrays[0..count) to path (compress = 1: deflated entries, 0: stored). The file is
// written under a temporary name in the same directory and renamed over path.
// ERR_INPUT for a bad array (name, shape), ERR_RUNTIME for I/O; messages name the path.
int npz_write(const char *path, const NpzArray *arrays, int count, int compress, Err *e);

// Reads every array of an .npz. *arrays is malloc'd (free with npz_free). ERR_INPUT with
// a message naming the file (and entry) for anything that is not a well-formed npz of
// supported arrays.
int npz_read(const char *path, NpzArray **arrays, int *count, Err *e);
void npz_free(NpzArray *arrays, int count);
// The array named name, or NULL.
const NpzArray *npz_find(const NpzArray *arrays, int count, const char *name);

#endif
