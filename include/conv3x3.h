// conv3x3.h: direct 3x3, stride-1, pad-1 convolution on the CBHW layout with AVX-512.
//
// 53 of ResNet-56's 55 convolutions have this shape. The im2col + GEMM path (conv.c)
// spends more time copying (im2col, col2im, OpenBLAS packing) than multiplying on these
// thin shapes; these kernels read the activations in place instead. A zmm register holds
// 16 consecutive pixels of one image plane (half a 32-wide row, one 16-wide row, or two
// 8-wide rows); the 9 taps are masked loads of that register shifted by (dy*W + dx), the
// mask zeroing the lanes that fall in the padding.
//
// The forward pass and the data gradient go on to Winograd F(2x2, 3x3) (winograd.h) where
// that applies; the direct kernels here take the rest and the weight gradient. conv_pick
// (conv.h) decides, and sends here only shapes with H*W a multiple of 64 and at most 4096
// pixels and Cout a multiple of 4; the GEMM path stays as the fallback (no AVX-512, other
// shapes) and as the reference the tests compare against.
#ifndef ONECYCLE_CONV3X3_H
#define ONECYCLE_CONV3X3_H
#include "conv.h"

// Floats of workspace conv3x3_backward_weights needs (a weight-gradient slice per thread).
size_t conv3x3_wgrad_floats(const ConvShape *s);
// out (Cout,B,H,W) = conv(in (Cin,B,H,W), w (Cout,Cin,3,3)); out += ... when acc.
void conv3x3_forward(float *out, const float *in, const float *w, const ConvShape *s, int acc);
// dw (Cout,Cin,3,3) = dL/dw.
void conv3x3_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work);
// The data gradient din = dL/din is the forward convolution of dout on the transposed shape
// (conv_shape_transposed) with the weights wt (Cin,Cout,3,3): w transposed in (co, ci) and
// flipped in (ky, kx). wt needs conv3x3_flip_floats(s) floats.
size_t conv3x3_flip_floats(const ConvShape *s);
void conv3x3_flip_weights(float *wt, const float *w, const ConvShape *s);

// Stride 2 (src/conv3x3s2.c), forward only, for ResNet's first convolution of stages 2 and 3:
// out (Cout,B,H/2,W/2) = conv(in (Cin,B,H,W), w (Cout,Cin,3,3)), stride 2. conv_pick sends
// shapes with W 32 or 16 and Cout a multiple of 4.
void conv3x3s2_forward(float *out, const float *in, const float *w, const ConvShape *s);

#endif
