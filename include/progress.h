// progress.h: the live progress line of `train` on a terminal, fitted to its width.
//
// A line wider than the terminal wraps, and "\r" then returns only to the start of its last
// row: every update leaves the rows above behind, a stale line per update. So the line is
// built from fields and the least useful ones are dropped until it fits in one row short of
// the width (the last column would wrap on some terminals).
#ifndef ONECYCLE_PROGRESS_H
#define ONECYCLE_PROGRESS_H
#include "train.h"
#include <stddef.h>

// The columns of the terminal on fd (ioctl TIOCGWINSZ), or 0 when fd is not a terminal or
// does not say.
int progress_term_width(int fd);

// The progress line of a TRAIN_STEP report ("epoch 3/95  batch 12/98  loss 2.1234 ..."),
// without "\r" or newline, in at most width - 1 characters when width > 0 (all fields when
// width <= 0). Fields go in this order as room runs out: momentum, img/s, LR, accuracy,
// ETA, batch, loss; what is left is cut. Returns the length written.
int progress_line(char *buf, size_t cap, const TrainProgress *p, int width);

#endif
