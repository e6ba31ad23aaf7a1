// act.h: an activation tensor as data: where it is, its shape, and its layout.
//
// Every activation of the model is a batch of B images of C channels on an H x W plane. Two
// layouts hold one:
//
//   ACT_CBHW  (C, B, H, W): channel-major, then image. A channel's values for the whole batch
//             are one contiguous run of B*H*W floats, so a convolution over the batch is one
//             GEMM (conv.h) and a batch-norm reduces over contiguous memory. What every layer
//             takes today.
//   ACT_CB16  (ceil(C/16), B, H, W, 16): channels in blocks of 16, each pixel's 16 channels
//             side by side, one AVX-512 vector. What the Winograd kernels compute in (the
//             channels in the vector lanes): a 6x6 patch of the plane is 36 whole vectors, so
//             a kernel can read its tiles straight from the tensor instead of transposing
//             16 planes into a pixel-major buffer first (winograd4.c). Lanes past C in the
//             last block are zero (act_convert writes them so; kernels keep them so).
//
// A kernel declares which layouts it accepts (conv.h, ConvKernel); a conversion between the
// two is an explicit step (act_convert), never a kernel's hidden first pass.
#ifndef ONECYCLE_ACT_H
#define ONECYCLE_ACT_H

typedef enum { ACT_CBHW = 0, ACT_CB16 } ActLayout;

enum { ACT_LANES = 16 }; // channels per block of ACT_CB16

typedef struct Act {
    float *data;
    int C, B, H, W;
    ActLayout layout;
} Act;

// A tensor of this shape and layout over data (not copied, not owned).
Act act_make(float *data, ActLayout layout, int C, int B, int H, int W);
// Floats a tensor of this shape and layout occupies (ACT_CB16: C rounded up to 16).
long act_floats(ActLayout layout, int C, int B, int H, int W);
// The offset in a->data of channel c, image b, pixel (y, x).
long act_index(const Act *a, int c, int b, int y, int x);
// Sub-batches side by side (shares, resnet.h): share j of a pass is its own tensor of n_j
// images starting act_floats(layout, C, lo_j, H, W) floats into the pass's memory, lo_j the
// images before it. act_part: that tensor, for the n images after the first lo of a.
Act act_part(const Act *a, int lo, int n);
// "Layout name" for messages: "CBHW", "CB16".
const char *act_layout_name(ActLayout layout);
// dst = src with dst's layout (same C, B, H, W; dst->data must not overlap src->data). The
// padding lanes of an ACT_CB16 dst are written with zeros. Returns 0, or -1 when the shapes
// differ.
int act_convert(Act *dst, const Act *src);

#endif
