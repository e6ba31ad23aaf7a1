// winograd_wgrad.h: the weight gradient of a 3x3 / stride-1 / pad-1 convolution by Winograd
// F(2x2, 3x3), AVX-512, CBHW.
//
// The forward pass computes each 2x2 output tile as Y = A^T [ U .* V ] A with U = G g G^T
// and V = B^T d B (winograd.h). It is linear in U, so with dY the tile's output gradient
//   dL/dU = sum over images and tiles of (A dY A^T) .* (B^T d B)
//   dL/dg = G^T (dL/dU) G
// exactly: 16 GEMMs (one per element e of the 4x4 transformed tile) of
//   dU[e] (Cout, Cin) = Z[e] (Cout, tiles) . V[e]^T (tiles, Cin),   Z = A dY A^T
// whose long dimension, the tiles of the whole batch, is summed in registers. The direct
// kernel (conv3x3.c) does 36 multiply-adds per tile and channel pair; this does 16.
//
// conv_pick (conv.c) sends the weight gradient here for the shapes Winograd's forward takes
// (W in {8, 16, 32}, whole vectors of 16 tiles, Cout a multiple of 4), when built with
// AVX-512. Any Cin: channels are padded to a multiple of 16 (the vector lanes of V).
// The transforms' coefficients are 0, +-1 and +-1/2: the result differs from the direct sum
// by float rounding (tests/test_winograd_wgrad.c measures it against double precision).
#ifndef ONECYCLE_WINOGRAD_WGRAD_H
#define ONECYCLE_WINOGRAD_WGRAD_H
#include "conv.h"

// Floats of workspace wino_backward_weights needs (per thread: transformed tiles and a
// partial dU), for shape s and any batch up to s->B; it does not depend on s->B.
size_t wino_wgrad_floats(const ConvShape *s);
// dw (Cout,Cin,3,3) = dL/dw, given dout (Cout,B,H,W) = dL/dout and in (Cin,B,H,W).
void wino_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work);

#endif
