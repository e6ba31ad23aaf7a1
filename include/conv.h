// conv.h: the convolution's shape, the choice of kernel for it, and the GEMM path.
//
// Activations use the "CBHW" layout: (C, B, H, W), channel-major then image. A convolution
// over the whole batch is then a single GEMM
//   out[Cout, B*Ho*Wo] = W[Cout, Cin*k*k] . col[Cin*k*k, B*Ho*Wo]
// done here in chunks of images so the im2col buffer stays small: the path every shape can
// take, and the reference the faster kernels are tested against.
//
// The faster kernels (conv3x3.c, conv3x3s2.c, winograd.c, winograd_wgrad.c, winograd4.c) each
// take a few shapes.
// conv_pick() is the one place that decides which kernel runs a shape in a direction; the
// kernel files depend on this header and nothing here depends on them. The layer functions
// (conv_forward, conv_backward in layers.h) ask conv_pick and call what it names.
#ifndef ONECYCLE_CONV_H
#define ONECYCLE_CONV_H
#include <stddef.h>

typedef struct ConvShape {
    int B, Cin, H, W;    // input (Cin, B, H, W)
    int Cout, k, stride, pad;
    int Ho, Wo;          // output (Cout, B, Ho, Wo)
    int chunk;           // images per im2col chunk
    int chunk_cap;       // bound on chunk for this and any smaller B: sizes the workspace
    int threads;         // threads sharing the batch's chunks (workspace is per thread)
} ConvShape;

// Fills Ho, Wo, chunk and threads (omp_get_max_threads(); lower it, never raise it, before
// using a workspace sized for it). chunk keeps each thread's col buffer near col_budget
// floats and makes the chunk count a multiple of threads.
void conv_shape_init(ConvShape *s, int B, int Cin, int H, int W, int Cout, int k, int stride, int pad,
                     size_t col_budget);
// The data gradient's shape of a 3x3 stride-1 convolution: the forward from Cout channels to Cin.
ConvShape conv_shape_transposed(const ConvShape *s);

// The evaluation-mode batchnorm (+ residual, ReLU) after a convolution, per output channel:
//   out = act(conv * scale[co] + shift[co] + res)          (res may be NULL; relu 0/1)
// with scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale.
typedef struct ConvEpilogue {
    const float *scale, *shift, *res;
    int relu;
} ConvEpilogue;

// ---- which kernel ------------------------------------------------------------------------

typedef enum {
    CONV_FORWARD,          // out = conv(in, w)
    CONV_BACKWARD_WEIGHTS, // dw only (a stem convolution: its input needs no gradient)
    CONV_BACKWARD,         // dw and din
} ConvDir;

typedef enum {
    CONV_GEMM,      // im2col + OpenBLAS (here): every shape, every direction
    CONV_DIRECT,    // conv3x3.c: 3x3 / stride 1 / pad 1, whole 16-pixel vectors
    CONV_WINOGRAD,  // winograd.c: F(2x2, 3x3) on 8-, 16- and 32-wide planes
    CONV_DIRECT_S2, // conv3x3s2.c: 3x3 / stride 2 / pad 1 forward, 32- and 16-wide inputs
    CONV_WINOGRAD_WGRAD, // winograd_wgrad.c: the weight gradient by F(2x2, 3x3), Winograd's shapes
    CONV_WINOGRAD4, // winograd4.c: F(4x4, 3x3), any stride-1 plane (before the others)
    CONV_WINOGRAD4_WGRAD, // winograd4.c: the weight gradient by F(4x4, 3x3), the same planes
} ConvKernel;

// Which kernel runs shape s in direction dir, given the kernels compiled in (AVX-512 only)
// and enabled (conv_set_kernels).
//   CONV_FORWARD: CONV_WINOGRAD4, CONV_WINOGRAD, CONV_DIRECT, CONV_DIRECT_S2 or CONV_GEMM.
//   CONV_BACKWARD_WEIGHTS: the weight gradient's kernel, CONV_WINOGRAD4_WGRAD,
//     CONV_WINOGRAD_WGRAD, CONV_DIRECT or CONV_GEMM; it runs alone (a stem convolution) or
//     beside a data gradient that is not GEMM.
//   CONV_BACKWARD: the data gradient's kernel. CONV_GEMM means weights and data both run on
//     the GEMM path; otherwise the data gradient is a forward convolution of the transposed
//     shape (conv_shape_transposed) on the kernel named (CONV_DIRECT, CONV_WINOGRAD or
//     CONV_WINOGRAD4) and
//     the weight gradient runs on the kernel CONV_BACKWARD_WEIGHTS names.
ConvKernel conv_pick(const ConvShape *s, ConvDir dir);
// Whether kernel k handles shape s at all, whatever the build and the mask: what a
// workspace must be sized for, so that enabling a kernel later stays safe.
int conv_fits(const ConvShape *s, ConvKernel k);

// The faster kernels that conv_pick may choose, as a mask (0: GEMM everywhere). Returns the
// previous mask. For tests and measurements (bench --kernels, train.kernels). The default
// is every kernel: F(4x4, 3x3) rounds about 15x more than F(2x2, 3x3) (7e-6 of the largest
// output; its weight gradient 7x, 5.6e-6) and trained ResNet-20 to the same accuracy with
// either weight gradient (results/README.md).
enum {
    CONV_USE_DIRECT = 1 << CONV_DIRECT,
    CONV_USE_WINOGRAD = 1 << CONV_WINOGRAD,
    CONV_USE_DIRECT_S2 = 1 << CONV_DIRECT_S2,
    CONV_USE_WINOGRAD_WGRAD = 1 << CONV_WINOGRAD_WGRAD,
    CONV_USE_WINOGRAD4 = 1 << CONV_WINOGRAD4,
    CONV_USE_WINOGRAD4_WGRAD = 1 << CONV_WINOGRAD4_WGRAD,
    // Winograd F(2x2,3x3) both ways, direct where it does not fit: the default until F(4x4,3x3)
    // trained ResNet-20 as well (results/resnet20-1cycle-winograd4/), and the guard fixtures'.
    CONV_KERNELS_F2X2 = CONV_USE_DIRECT | CONV_USE_WINOGRAD | CONV_USE_DIRECT_S2 | CONV_USE_WINOGRAD_WGRAD,
    CONV_KERNELS_DEFAULT = CONV_KERNELS_F2X2 | CONV_USE_WINOGRAD4 | CONV_USE_WINOGRAD4_WGRAD,
    CONV_KERNELS_ALL = CONV_KERNELS_DEFAULT,
};
unsigned conv_set_kernels(unsigned mask);
// The mask in force, for records of a run (summary.json).
unsigned conv_kernels(void);
// Names for the mask's bits ("direct", "winograd", "winograd-wgrad", "direct-s2", "winograd4",
// "winograd4-wgrad"),
// so that bench --kernels and summary.json speak of them alike. conv_kernel_bit: the bit named
// by the n characters at name, 0 if none is; conv_kernels_string: "direct,winograd,..." or "none".
unsigned conv_kernel_bit(const char *name, size_t n);
void conv_kernels_string(unsigned mask, char *buf, size_t size);
// "default", "all", "none" or a comma-separated list of names, as a mask: 0 on success, -1 for
// anything else (the caller says where the text came from). CONV_KERNELS_HELP lists the choices.
int conv_parse_kernels(const char *text, unsigned *mask);
#define CONV_KERNELS_HELP "default, all, none or a comma-separated list of direct, winograd, winograd-wgrad, direct-s2, winograd4, winograd4-wgrad"

// ---- the GEMM path -----------------------------------------------------------------------

// Floats of workspace the GEMM path needs for this shape, all threads together.
size_t conv_gemm_floats(const ConvShape *s);
// out (Cout,B,Ho,Wo) = conv(in (Cin,B,H,W), w (Cout,Cin,k,k)); no bias.
void conv_gemm_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col);
// dw (Cout,Cin,k,k) = dL/dw; din (Cin,B,H,W) = dL/din, or += with acc (skipped when din is NULL).
void conv_gemm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        const ConvShape *s, float *col, int acc);

// dw[i] = sum over u < nparts of parts[u*stride + i], i < n: the per-thread partial weight
// gradients added up. An orphaned `omp for`: call it from every thread of a parallel region.
void conv_sum_partials(float *dw, const float *parts, size_t stride, int nparts, long n);

#endif
