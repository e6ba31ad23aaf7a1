// winograd4.h: 3x3 / stride-1 / pad-1 convolution by Winograd F(4x4, 3x3), AVX-512, CBHW.
//
// Each 4x4 output tile comes from its 6x6 input patch d and the filter g as
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// 36 multiplies per tile and channel pair where the direct form takes 144 and F(2x2, 3x3)
// (winograd.h) 64: 4x and 1.78x fewer. The price is larger transforms, with coefficients up
// to 8 and 1/24, so more float rounding than F(2x2, 3x3) (tests/test_winograd4.c measures it
// against double precision).
//
// Channels sit in the vector lanes: the input is transposed 16 channels at a time into a
// padded pixel-major buffer, whose 6x6 patches transform with plain vector arithmetic; the
// 36 GEMMs M[e] (tiles, Cout) = V[e] (tiles, Cin) . U[e] (Cin, Cout) broadcast one V value
// against 16 output channels; the output tiles are transposed back. Any Cin and Cout (padded
// to 16 lanes). The GEMMs stay in float: with bf16 operands (vdpbf16ps) they ran 1.3-1.6x
// faster but the outputs were off by 3-11 % of the largest, from these transforms' large
// coefficients (results/notes/speed-experiments.md).
//
// conv_pick (conv.c) sends a forward pass or a data gradient here, when the kernel is enabled
// (CONV_USE_WINOGRAD4), for shapes with H and W multiples of 4 and a multiple of 4 tiles per
// image, when built with AVX-512.
#ifndef ONECYCLE_WINOGRAD4_H
#define ONECYCLE_WINOGRAD4_H
#include "act.h"
#include "conv.h"

// Floats of workspace wino4_forward needs (the weights' transform, then per-thread tiles),
// for shape s and any batch up to s->B; it does not depend on s->B.
size_t wino4_work_floats(const ConvShape *s);
// out (Cout,B,H,W) = conv(in (Cin,B,H,W), w (Cout,Cin,3,3)); out += ... when acc. With ep
// (not NULL), out = act(conv * scale + shift + res) per output channel (conv.h), applied as
// the tiles are written back: the evaluation batchnorm without a pass of its own.
void wino4_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc,
                   const ConvEpilogue *ep);
// The same on named tensors, each ACT_CBHW or ACT_CB16 (act.h), in and out in either: a CB16
// side is read or written in place (no transpose, no pixel buffer), a CBHW side through the
// transposes above. ep->res is in out's layout. out's shape is (Cout, B, H, W), in's (Cin, B, H, W).
void wino4_forward_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *work, int acc,
                       const ConvEpilogue *ep);

// The weight gradient by F(4x4, 3x3): dL/dU = sum over tiles of (A dY A^T) .* (B^T d B), then
// dw = G^T dL/dU G, 36 GEMMs summed over the batch's tiles (winograd_wgrad.h does the same with
// F(2x2, 3x3)'s 16). The same shapes as wino4_forward; conv_pick sends a weight gradient here
// when CONV_USE_WINOGRAD4_WGRAD is enabled.
// Floats of workspace wino4_backward_weights needs (per thread: tiles and a partial dL/dU),
// for shape s and any batch up to s->B; it does not depend on s->B.
size_t wino4_wgrad_floats(const ConvShape *s);
// dw (Cout,Cin,3,3) = dL/dw (overwritten), given dout (Cout,B,H,W) = dL/dout and in (Cin,B,H,W).
void wino4_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work);
// The same on named tensors, each ACT_CBHW or ACT_CB16 (act.h).
void wino4_backward_weights_act(float *dw, const Act *dout, const Act *in, const ConvShape *s, float *work);

#endif
