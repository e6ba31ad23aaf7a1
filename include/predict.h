// predict.h: from any image to the network's input, and from its logits to classes.
//
// An image of any size is resampled to 32x32 per axis, separably: a shrinking axis by area
// averaging (each output pixel is the mean of the input pixels it covers, partial pixels
// weighted by the part covered; OpenCV's INTER_AREA), an enlarging axis by bilinear
// interpolation between pixel centres (edges clamped). Same size: a copy. The result is
// rounded to bytes, as CIFAR-10's pixels are, then normalised exactly as in training.
#ifndef ONECYCLE_PREDICT_H
#define ONECYCLE_PREDICT_H
#include "common.h"
#include "pngio.h"

// Resamples src to w x h (the scheme above) into dst (allocated here; image_free it).
void predict_resize(const Image *src, Image *dst, int w, int h);
// A PNG file as one CIFAR record's pixels: 3 planes of 32x32 bytes (R, G, B).
int predict_read_png(const char *path, uint8_t *planes, Err *e);
// Softmax of one image's logits (K of them) into prob (double), and the k most probable
// classes in order (ties: the lower class first) into top.
void predict_top(const float *logits, int K, int k, double *prob, int *top);

#endif
