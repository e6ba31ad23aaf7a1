// winograd.h: 3x3 / stride-1 / pad-1 convolution by Winograd F(2x2, 3x3), AVX-512, CBHW.
//
// Each 2x2 output tile is computed from its 4x4 input patch d and the 3x3 filter g as
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// so the 36 multiplies of the direct form become 16, done as 16 small GEMMs (one per
// element e of the 4x4 transformed tile): M[e] (Cout, tiles) = U[e] (Cout, Cin) . V[e] (Cin, tiles).
// A vector register holds the same element of 16 tiles (a tile row at W = 32, two at 16,
// four at 8). Images are taken a few at a time so V and M stay in L2.
//
// conv_pick (conv.c) sends a forward pass or a data gradient here for shapes with W in
// {8, 16, 32}, H a multiple of 32 / W * 2 (whole vectors of tiles), Cout a multiple of 4,
// when built with AVX-512.
// F(2x2, 3x3) has transform coefficients 0, +-1 and +-1/2 only: the results differ from the
// direct sum by float rounding (tests/test_conv3x3.c measures it against double precision).
#ifndef ONECYCLE_WINOGRAD_H
#define ONECYCLE_WINOGRAD_H
#include "conv.h"

// Floats of workspace wino_forward needs (weights' transform + per-thread tiles).
size_t wino_work_floats(const ConvShape *s);
// out (Cout,B,H,W) (+)= conv(in (Cin,B,H,W), w (Cout,Cin,3,3)), or with ep (not with acc)
// out = ep applied to the convolution (the evaluation batchnorm, residual and ReLU).
void wino_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                  const ConvEpilogue *ep);

#endif
