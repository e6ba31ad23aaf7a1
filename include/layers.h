// layers.h: the network's layers as forward/backward pairs on raw float arrays.
//
// Activations use the "CBHW" layout: (C, B, H, W), channel-major then image. A channel's
// values for the whole batch are one contiguous run of B*H*W floats, so batchnorm reduces
// over contiguous memory and a convolution runs over the whole batch at once (conv.h).
//
// Backward functions overwrite their outputs (din, dw, ...) unless the name says "acc".
#ifndef ONECYCLE_LAYERS_H
#define ONECYCLE_LAYERS_H
#include "act.h"
#include "conv.h"
#include <stddef.h>

// The convolution layer: each call runs the kernel conv_pick (conv.h) names for its shape
// and direction, with col as the workspace of whichever it is.
// Floats of workspace conv_forward/backward need for this shape, all threads together,
// whichever kernel runs it.
size_t conv_col_floats(const ConvShape *s);
// out (Cout,B,Ho,Wo) = conv(in (Cin,B,H,W), w (Cout,Cin,k,k)); no bias.
void conv_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col);
// out = ep applied to conv(in, w): in the Winograd output transform where that path applies
// (one pass over the activations instead of three), else conv_forward and a separate pass.
void conv_forward_bn(float *out, const float *in, const float *w, const ConvShape *s, float *col,
                     const ConvEpilogue *ep);
// dw (Cout,Cin,k,k) = dL/dw; din (Cin,B,H,W) = dL/din (skipped when din is NULL).
void conv_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                   const ConvShape *s, float *col);
// The same, but din += dL/din: a residual block's input gradient sums two paths.
void conv_backward_acc(float *din, float *dw, const float *dout, const float *in, const float *w,
                       const ConvShape *s, float *col);

// ---- convolutions on named tensors (act.h) -----------------------------------------------
// The same layer on Acts in either layout. The kernel conv_pick names runs on the tensors as
// they are where it takes their layout (F(4x4, 3x3) takes CB16 both ways, winograd4.h); any
// other runs on CBHW copies, each conversion an explicit act_convert into the scratch below,
// its result converted back. With CBHW tensors nothing is converted: the calls above.
typedef struct ConvScratch {
    float *t[3]; // each room for the largest CBHW activation (NULL: all tensors are CBHW)
} ConvScratch;
// out = conv(in, w); out's and in's shapes are s's.
void conv_forward_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *col,
                      const ConvScratch *sc);
// out = ep applied to conv(in, w) (conv_forward_bn); ep->res in out's layout.
void conv_forward_bn_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *col,
                         const ConvEpilogue *ep, const ConvScratch *sc);
// dw = dL/dw; din = dL/din (din += with acc; skipped when din is NULL).
void conv_backward_act(const Act *din, float *dw, const Act *dout, const Act *in, const float *w,
                       const ConvShape *s, float *col, int acc, const ConvScratch *sc);
// y = act(y * scale + shift + res) per channel, in y's layout (res in it too, may be NULL).
void act_affine(const Act *y, const ConvEpilogue *ep);

// Batchnorm over (C, N) where N = B*H*W, fused with an optional residual add and ReLU:
//   y = act(gamma * (x - mean) * rstd + beta + res)        (res may be NULL; relu 0/1)
// Training: mean/rstd are the batch statistics (biased variance), written to mean/rstd,
// and the running statistics are updated PyTorch-style (unbiased variance, momentum).
// Evaluation (train = 0): uses running_mean/running_var, leaves mean/rstd untouched.
// Synchronised batch-norm (a->sync, data-parallel training): the batch is the union of
// several processes' batches; the per-channel sums (sum x, then sum (x-m) and (x-m)^2 about
// the first mean, and in the backward sum dy and sum dy*(x-m)), in double, and the counts
// go through sync->sum, so every process gets the statistics of the whole batch and the
// same dx one process would. dgamma and dbeta stay this process's part (the gradient sum
// across processes adds them up). With one process the results equal the unsynced ones.
typedef struct BnSync {
    void (*sum)(double *v, long n); // in place, over every process
    double *buf;                    // room for 2*C+1 doubles
} BnSync;
// Ghost batch-norm (a->group, [train] bn_group): in training, the statistics of each run of
// `group` consecutive values of a channel's N (whole images: group = images * H*W), the last
// run shorter when group does not divide N, each run normalised by its own. mean and rstd
// then hold G = ceil(N / group) entries per channel, channel-major (mean[c*G + g]); the
// running statistics take one update per call from the runs' plain average of means and of
// unbiased variances (what averaging the running statistics of G processes that each saw
// one run gives, as trainer_sync_stats does without sync_bn). group 0 or >= N: one run, the
// whole batch, bit for bit as without it. Not with sync (the caller refuses the two).
// A convolution bias folded in (a->in_bias): x is a convolution's output without its bias b
// (C); the batch statistics and so y are the same with or without b (it cancels in x - mean,
// and its gradient is exactly 0), but the running mean tracks mean + b, and evaluation
// normalises x + b.
typedef struct BnArgs {
    int C;
    long N;              // this process's B*H*W
    float eps, momentum; // 1e-5, 0.1
    int relu, train;
    const BnSync *sync;  // NULL: this batch's statistics only
    long group;          // training: statistics per run of this many values (0: all N)
    const float *in_bias; // (C) or NULL: the bias of the convolution that produced x
    // Shares ([train] shares, resnet.h; training only): x, y, res, dy, dx, dres hold `shares`
    // sub-batches side by side, share j as its own (C, n_j, H, W) array of n_j =
    // share_lo[j+1] - share_lo[j] images at offset C * hw * share_lo[j]: the arrays the
    // processes holding one share each would have. Every per-channel sum is taken share by
    // share as such a process takes it (the statistics path of sync, in double), the
    // partials added in the tree of shares.h into parts, then through sync (if any) across
    // processes; each share's dgamma and dbeta go to dgamma + j * grad_stride (its own
    // gradient block). So one call computes, bit for bit, what the processes compute with
    // sync. 0 or 1: one share, the N values of a channel contiguous, as without it.
    int shares;
    const int *share_lo;  // shares + 1 image offsets, share_lo[0] = 0
    long hw;              // values per image and channel (N = share_lo[shares] * hw)
    double *parts;        // room for shares * (2C+1) doubles
    long grad_stride;
} BnArgs;
// The runs of ghost batch-norm over N values (1 without it): mean and rstd need room for
// C * bn_groups(N, group) floats.
long bn_groups(long N, long group);
// The synchronised training forward's statistics of channel c from its sums about the first
// mean (buf: sum (x - mean[c]) at c, sum (x - mean[c])^2 at C + c, over Nt values): mean[c],
// rstd[c] and the running statistics updated; shared by the CBHW and CB16 batch-norms.
void bn_finish_stats(int c, const double *buf, double Nt, float *mean, float *rstd, float *running_mean,
                     float *running_var, const BnArgs *a);
void bn_forward(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a);
// The evaluation batchnorm as y = x * scale + shift per channel, from the running statistics
// (what bn_forward applies with train = 0; conv_forward_bn takes it as its ConvEpilogue).
// in_bias (C, may be NULL): x lacks the bias of the convolution that produced it (BnArgs).
void bn_eval_affine(float *scale, float *shift, const float *gamma, const float *beta, const float *running_mean,
                    const float *running_var, const float *in_bias, int C, float eps);
// The training backward of bn_forward in two passes, the ReLU mask fused in. Given
// dy = dL/dy, the forward's output y (read only when a->relu: the mask is y > 0), its
// input x and the saved mean/rstd: dx (C,N), dgamma (C), dbeta (C), and, when dres is not
// NULL, dres = dL/dres (dy masked). dres may be dy itself (masked in place); dx may not.
// With a->group, each run of values back through its own statistics (dgamma, dbeta: the
// sums over the runs). The gradient of a->in_bias is 0 and is not written here.
void bn_backward(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                 const float *x, const float *gamma, const float *mean, const float *rstd, const BnArgs *a);
// dy[i] = dy[i] * (y[i] > 0): the ReLU backward, in place, given the ReLU's output y.
void relu_mask(float *dy, const float *y, long n);

// Option-A shortcut: out (Cout,B,Ho,Wo) = x (Cin,B,H,W) subsampled by 2 (Ho = ceil(H/2), as
// x[:, :, ::2, ::2] and a stride-2 convolution with pad 1 give) with channels zero-padded
// (Cout-Cin)/2 on each side (the common PyTorch CIFAR ResNet convention).
void shortcut_a_forward(float *out, const float *x, int Cin, int Cout, int B, int H, int W);
// din += the gradient through the shortcut of dout.
void shortcut_a_backward_acc(float *din, const float *dout, int Cin, int Cout, int B, int H, int W);

// Global average pool: out (B, C) row-major = mean over H*W of x (C, B, H, W).
void avgpool_forward(float *out, const float *x, int C, int B, int HW);
void avgpool_backward(float *dx, const float *dout, int C, int B, int HW);

// ---- on ACT_CB16 tensors (act.h) ----
// The twins of the layers above for activations in the channel-blocked layout (ceil(C/16),
// B, H, W, 16): the same arguments and the same results (layers_cb16.c says to what
// precision), every tensor argument that is (C, B, H, W) above being CB16 here. Lanes past C
// in the last block must be zero on input and are written zero on output. With BnArgs.shares,
// share j is its own CB16 tensor of n_j images at act_floats(ACT_CB16, C, share_lo[j], 1, hw)
// floats into x, y, res, dy, dx and dres (act_part). relu_mask and add_inplace work on any
// layout as they are.
void bn_forward_cb16(float *y, const float *x, const float *res, const float *gamma, const float *beta, float *mean,
                     float *rstd, float *running_mean, float *running_var, const BnArgs *a);
void bn_backward_cb16(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                      const float *x, const float *gamma, const float *mean, const float *rstd, const BnArgs *a);
void shortcut_a_forward_cb16(float *out, const float *x, int Cin, int Cout, int B, int H, int W);
void shortcut_a_backward_acc_cb16(float *din, const float *dout, int Cin, int Cout, int B, int H, int W);
// out (B, C) row-major, as avgpool_forward's.
void avgpool_forward_cb16(float *out, const float *x, int C, int B, int HW);
void avgpool_backward_cb16(float *dx, const float *dout, int C, int B, int HW);

// Fully connected: out (B, Dout) = in (B, Din) . w^T + bias, w is (Dout, Din) as in PyTorch.
void fc_forward(float *out, const float *in, const float *w, const float *bias, int B, int Din, int Dout);
void fc_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                 const float *w, int B, int Din, int Dout);

// Softmax cross-entropy summed over the B rows and divided by denom (B: the mean; the
// global batch when this is one process's share of it); dlogits (B, K) = its gradient (may
// be NULL). Returns the loss; *correct (may be NULL) = number of argmax hits.
double softmax_ce(float *dlogits, const float *logits, const int *labels, int B, int denom, int K, int *correct);

// x += y, n floats.
void add_inplace(float *x, const float *y, long n);

#endif
