// conv3x3.h: direct 3x3, stride-1, pad-1 convolution on the CBHW layout with AVX-512.
//
// 53 of ResNet-56's 55 convolutions have this shape. The im2col + GEMM path in layers.c
// spends more time copying (im2col, col2im, OpenBLAS packing) than multiplying on these
// thin shapes; these kernels read the activations in place instead. A zmm register holds
// 16 consecutive pixels of one image plane (half a 32-wide row, one 16-wide row, or two
// 8-wide rows); the 9 taps are masked loads of that register shifted by (dy*W + dx), the
// mask zeroing the lanes that fall in the padding.
//
// The forward pass and the data gradient go on to Winograd F(2x2, 3x3) (winograd.h) where
// that applies; the direct kernels here take the rest and the weight gradient.
// conv_forward / conv_backward in layers.c call these when conv3x3_usable() says so; the
// GEMM path stays as the fallback (no AVX-512, other shapes) and as the reference the tests
// compare against.
#ifndef ONECYCLE_CONV3X3_H
#define ONECYCLE_CONV3X3_H
#include "layers.h"

// 1 when s is a 3x3 / stride 1 / pad 1 conv these kernels handle (H*W a multiple of 64,
// Cout a multiple of 4) and the direct path is compiled in and enabled.
int conv3x3_usable(const ConvShape *s);
// 1 when the backward pass of s (with the data gradient when data is set: the transposed
// shape must qualify too, which the 3-channel stem does not) runs here.
int conv3x3_backward_usable(const ConvShape *s, int data);
// Turns the direct path on or off (default on); returns the previous setting.
int conv3x3_enable(int on);
int conv3x3_enabled(void);

// Floats of workspace the three functions below need for shape s.
size_t conv3x3_work_floats(const ConvShape *s);
// out (Cout,B,H,W) = conv(in (Cin,B,H,W), w (Cout,Cin,3,3)); out += ... when acc. Takes the
// Winograd path (winograd.h) where it applies, else the direct kernel.
void conv3x3_forward(float *out, const float *in, const float *w, const ConvShape *s, float *work, int acc);
// din (Cin,B,H,W) (+)= dL/din given dout (Cout,B,H,W): the forward with the weights
// transposed in (co, ci) and flipped in (ky, kx).
void conv3x3_backward_data(float *din, const float *dout, const float *w, const ConvShape *s, float *work,
                           int acc);
// dw (Cout,Cin,3,3) = dL/dw.
void conv3x3_backward_weights(float *dw, const float *dout, const float *in, const ConvShape *s, float *work);

// Stride 2 (src/conv3x3s2.c), forward only: 1 for a 3x3 / stride 2 / pad 1 shape with W 32 or
// 16 and Cout a multiple of 4 (ResNet's first convolution of stages 2 and 3), when enabled.
int conv3x3s2_usable(const ConvShape *s);
// out (Cout,B,H/2,W/2) = conv(in (Cin,B,H,W), w (Cout,Cin,3,3)), stride 2.
void conv3x3s2_forward(float *out, const float *in, const float *w, const ConvShape *s);

#endif
