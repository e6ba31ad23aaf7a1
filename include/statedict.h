// statedict.h: a model's weights as the PyTorch state_dict of scripts/resnet_torch.py's
// ResNet, kept in a NumPy .npz (npz.h), so that in Python
//   model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})
// loads them unchanged (scripts/load_npz.py).
//
// Keys, in state_dict order: every parameter under its PyTorch name and shape (float32:
// conv (cout,cin,k,k), linear (classes,64)), and after each batchnorm's bias its buffers
// running_mean and running_var (float32, (C)) and num_batches_tracked (int64, a scalar).
#ifndef ONECYCLE_STATEDICT_H
#define ONECYCLE_STATEDICT_H
#include "common.h"
#include "resnet.h"

// Number of state_dict entries of m (parameters + 3 buffers per batchnorm).
int statedict_count(const ResNet *m);
// Writes m's parameters and BN running statistics to path (deflated entries);
// num_batches_tracked is batches_tracked for every batchnorm (the run's training steps).
int statedict_write_npz(const ResNet *m, long batches_tracked, const char *path, Err *e);
// Loads an .npz with exactly m's state_dict keys and shapes into m's parameters and
// statistics. ERR_INPUT naming the file and the first missing, extra or misshapen key.
int statedict_read_npz(ResNet *m, const char *path, Err *e);

#endif
