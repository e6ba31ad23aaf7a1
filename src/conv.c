// conv.c: ConvShape, the kernel choice (conv_pick), and the im2col + OpenBLAS GEMM path.
// See include/conv.h.
#include "conv.h"
#include "common.h"
#include <cblas.h>
#include <omp.h>
#include <string.h>

void conv_shape_init(ConvShape *s, int B, int Cin, int H, int W, int Cout, int k, int stride, int pad,
                     size_t col_budget) {
    s->B = B;
    s->Cin = Cin;
    s->H = H;
    s->W = W;
    s->Cout = Cout;
    s->k = k;
    s->stride = stride;
    s->pad = pad;
    s->Ho = (H + 2 * pad - k) / stride + 1;
    s->Wo = (W + 2 * pad - k) / stride + 1;
    s->threads = omp_get_max_threads();
    size_t per_image = (size_t)Cin * k * k * s->Ho * s->Wo;
    long chunk = per_image ? (long)(col_budget / per_image) : B;
    if (chunk < 1) chunk = 1;
    if (chunk > B) chunk = B;
    s->chunk_cap = (int)chunk;
    // Each thread takes whole chunks: round the chunk count up to a multiple of the
    // threads so they finish together, then spread the images evenly over the chunks.
    long nchunks = (B + chunk - 1) / chunk;
    nchunks = (nchunks + s->threads - 1) / s->threads * s->threads;
    if (nchunks > B) nchunks = B;
    s->chunk = (int)((B + nchunks - 1) / nchunks);
}

ConvShape conv_shape_transposed(const ConvShape *s) {
    ConvShape ts = *s;
    ts.Cin = s->Cout;
    ts.Cout = s->Cin;
    return ts;
}

// ---- which kernel ------------------------------------------------------------------------

static unsigned enabled = CONV_KERNELS_DEFAULT;

unsigned conv_set_kernels(unsigned mask) {
    unsigned was = enabled;
    enabled = mask & CONV_KERNELS_ALL;
    return was;
}

unsigned conv_kernels(void) {
    return enabled;
}

static const struct {
    const char *name;
    unsigned bit;
} kernel_names[] = {{"direct", CONV_USE_DIRECT},
                    {"winograd", CONV_USE_WINOGRAD},
                    {"winograd-wgrad", CONV_USE_WINOGRAD_WGRAD},
                    {"direct-s2", CONV_USE_DIRECT_S2},
                    {"winograd4", CONV_USE_WINOGRAD4},
                    {"winograd4-wgrad", CONV_USE_WINOGRAD4_WGRAD}};
enum { NKERNEL_NAMES = sizeof kernel_names / sizeof kernel_names[0] };

unsigned conv_kernel_bit(const char *name, size_t n) {
    for (int k = 0; k < NKERNEL_NAMES; k++)
        if (strlen(kernel_names[k].name) == n && !strncmp(name, kernel_names[k].name, n)) return kernel_names[k].bit;
    return 0;
}

int conv_parse_kernels(const char *text, unsigned *mask) {
    if (!strcmp(text, "default")) return *mask = CONV_KERNELS_DEFAULT, 0;
    if (!strcmp(text, "all")) return *mask = CONV_KERNELS_ALL, 0;
    if (!strcmp(text, "none")) return *mask = 0, 0;
    unsigned m = 0;
    for (const char *p = text;; p++) {
        size_t n = strcspn(p, ",");
        unsigned bit = conv_kernel_bit(p, n);
        if (!bit) return -1;
        m |= bit;
        p += n;
        if (!*p) break;
    }
    *mask = m;
    return 0;
}

void conv_kernels_string(unsigned mask, char *buf, size_t size) {
    buf[0] = 0;
    for (int k = 0; k < NKERNEL_NAMES; k++)
        if (mask & kernel_names[k].bit)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? "," : "", kernel_names[k].name);
    if (!buf[0]) snprintf(buf, size, "none");
}

// The shapes each kernel handles (its file's header says why):
//  direct:   a zmm register holds 16 pixels of a plane, and the tap masks of a plane live on
//            the stack (at most 4096 pixels). The weight gradient takes any such plane (its
//            last vector partial); the forward's tile is 4 output channels x 4 whole vectors
//            (fits_direct_forward).
//  Winograd: a register holds 16 tiles of 2x2 outputs: one tile row of a 32-wide plane, two
//            of a 16-wide, four of an 8-wide; whole vectors of tiles, grouped by 4.
//  stride 2: a register holds one output row of a 16-wide output or two of an 8-wide one.
//  Winograd weight gradient: the forward's tiles (its output gradient is read as they are written).
//  F(4x4, 3x3): any plane, in 4x4 tiles (partial ones at the edges of a plane that is not a
//            multiple of 4, such as Fashion-MNIST's 28, 14 and 7).
static int fits(const ConvShape *s, ConvKernel k) {
    if (s->k != 3 || s->pad != 1 || s->Cout % 4) return 0;
    switch (k) {
    case CONV_DIRECT:
        return s->stride == 1 && (long)s->H * s->W <= 4096;
    case CONV_WINOGRAD: {
        if (s->stride != 1 || (s->W != 8 && s->W != 16 && s->W != 32) || s->H < 2 || s->H % 2) return 0;
        int tiles = (s->H / 2) * (s->W / 2);
        if (tiles % 16) return 0;
        int nv = tiles / 16;
        return nv % 4 == 0 || 4 % nv == 0;
    }
    case CONV_DIRECT_S2:
        return s->stride == 2 && (s->W == 32 || s->W == 16) && s->H % 2 == 0 && (s->Ho * s->Wo) % 64 == 0;
    case CONV_WINOGRAD_WGRAD: // the forward's tiles, read the other way round
        return fits(s, CONV_WINOGRAD);
    case CONV_WINOGRAD4:
    case CONV_WINOGRAD4_WGRAD:
        return s->stride == 1;
    default:
        return 0;
    }
}

// The direct forward (and data gradient, a forward of the transposed shape).
static int fits_direct_forward(const ConvShape *s) {
    return fits(s, CONV_DIRECT) && (long)s->H * s->W % 64 == 0;
}

static int on(ConvKernel k) {
#ifdef __AVX512F__
    return (enabled >> k) & 1;
#else
    (void)k;
    return 0; // the kernels are AVX-512 only
#endif
}

// The Winograd kernels run only shapes the direct kernel fits too (they share the data
// gradient's workspace and weight transposition).
static ConvKernel pick_wgrad(const ConvShape *s) {
    if (!fits(s, CONV_DIRECT)) return CONV_GEMM;
    if (on(CONV_WINOGRAD4_WGRAD) && fits(s, CONV_WINOGRAD4_WGRAD)) return CONV_WINOGRAD4_WGRAD;
    if (on(CONV_WINOGRAD_WGRAD) && fits(s, CONV_WINOGRAD_WGRAD)) return CONV_WINOGRAD_WGRAD;
    return on(CONV_DIRECT) ? CONV_DIRECT : CONV_GEMM;
}

ConvKernel conv_pick(const ConvShape *s, ConvDir dir) {
    if (dir == CONV_FORWARD) {
        if (on(CONV_WINOGRAD4) && fits(s, CONV_WINOGRAD4)) return CONV_WINOGRAD4;
        if (fits_direct_forward(s)) {
            if (on(CONV_WINOGRAD) && fits(s, CONV_WINOGRAD)) return CONV_WINOGRAD;
            if (on(CONV_DIRECT)) return CONV_DIRECT;
        }
        if (on(CONV_DIRECT_S2) && fits(s, CONV_DIRECT_S2)) return CONV_DIRECT_S2;
        return CONV_GEMM;
    }
    ConvKernel wk = pick_wgrad(s);
    if (dir == CONV_BACKWARD_WEIGHTS) return wk;
    // The data gradient is the forward of the transposed shape. F(4x4, 3x3) takes it beside
    // any weight-gradient kernel (GEMM included: planes the direct kernel does not fit).
    // Otherwise, when the weights go to GEMM or the transposed shape does not fit the direct
    // kernel (3 input channels: the stem), weights and data both go to GEMM.
    ConvShape ts = conv_shape_transposed(s);
    if (on(CONV_WINOGRAD4) && fits(&ts, CONV_WINOGRAD4)) return CONV_WINOGRAD4;
    if (wk == CONV_GEMM || !fits_direct_forward(&ts)) return CONV_GEMM;
    if (on(CONV_WINOGRAD) && fits(&ts, CONV_WINOGRAD)) return CONV_WINOGRAD;
    return on(CONV_DIRECT) ? CONV_DIRECT : CONV_GEMM;
}

int conv_fits(const ConvShape *s, ConvKernel k) {
    return k == CONV_GEMM || fits(s, k);
}

// ---- the GEMM path -----------------------------------------------------------------------

// Per thread: the chunk's col (K, chunk*Ho*Wo) then a private weight gradient (Cout, K).
// Sized by chunk_cap, not chunk: chunk_cap never grows as B shrinks (chunk can: 128 images
// spread over 10 chunks of 13, 80 over 6 of 14), so a workspace planned for the largest
// batch also fits the partial last batch and evaluation batches.
static size_t thread_floats(const ConvShape *s) {
    size_t K = (size_t)s->Cin * s->k * s->k;
    size_t n = K * s->Ho * s->Wo * s->chunk_cap + K * s->Cout;
    return floats_to_lines(n); // keep each thread's slice 64-byte aligned
}

size_t conv_gemm_floats(const ConvShape *s) {
    return thread_floats(s) * (size_t)s->threads;
}

// col (K, nb*Ho*Wo) for images b0..b0+nb-1 of in (Cin, B, H, W), K = (ci, ky, kx).
static void im2col(float *col, const float *in, const ConvShape *s, int b0, int nb) {
    const int k = s->k, st = s->stride, pad = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    const long P = (long)Ho * Wo, N = (long)nb * P;
    const int K = s->Cin * k * k;
    for (int r = 0; r < K; r++) {
        int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
        float *dst = col + (long)r * N;
        for (int b = 0; b < nb; b++) {
            const float *src = in + ((long)ci * s->B + b0 + b) * H * W;
            for (int yo = 0; yo < Ho; yo++) {
                float *d = dst + (long)b * P + (long)yo * Wo;
                int yi = yo * st + ky - pad;
                // Rows are 8..32 floats: inline loops, not memset/memcpy calls, which
                // measured at 15 % of the step on call overhead alone.
                if (yi < 0 || yi >= H) {
                    for (int xo = 0; xo < Wo; xo++) d[xo] = 0.0f;
                    continue;
                }
                const float *srow = src + (long)yi * W;
                if (st == 1) {
                    // xi = xo + kx - pad: a shifted copy with zeros at the edges.
                    int lo = pad - kx > 0 ? pad - kx : 0;
                    int hi = W + pad - kx < Wo ? W + pad - kx : Wo;
                    const float *sh = srow + kx - pad;
                    for (int xo = 0; xo < lo; xo++) d[xo] = 0.0f;
                    for (int xo = lo; xo < hi; xo++) d[xo] = sh[xo];
                    for (int xo = hi; xo < Wo; xo++) d[xo] = 0.0f;
                } else {
                    for (int xo = 0; xo < Wo; xo++) {
                        int xi = xo * st + kx - pad;
                        d[xo] = (xi >= 0 && xi < W) ? srow[xi] : 0.0f;
                    }
                }
            }
        }
    }
}

// din (images b0..b0+nb-1) = sum over the columns of col that read each input pixel,
// added to what din holds when acc is set (saves a separate pass for residual sums).
static void col2im(float *din, const float *col, const ConvShape *s, int b0, int nb, int acc) {
    const int k = s->k, st = s->stride, pad = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    const long P = (long)Ho * Wo, N = (long)nb * P;
    for (int ci = 0; ci < s->Cin; ci++) {
        if (!acc) memset(din + ((long)ci * s->B + b0) * H * W, 0, sizeof(float) * nb * H * W);
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + (long)((ci * k + ky) * k + kx) * N;
                for (int b = 0; b < nb; b++) {
                    float *dst = din + ((long)ci * s->B + b0 + b) * H * W;
                    for (int yo = 0; yo < Ho; yo++) {
                        int yi = yo * st + ky - pad;
                        if (yi < 0 || yi >= H) continue;
                        const float *c = src + (long)b * P + (long)yo * Wo;
                        float *drow = dst + (long)yi * W;
                        if (st == 1) {
                            int lo = pad - kx > 0 ? pad - kx : 0;
                            int hi = W + pad - kx < Wo ? W + pad - kx : Wo;
                            float *dd = drow + kx - pad;
                            for (int xo = lo; xo < hi; xo++) dd[xo] += c[xo];
                        } else {
                            for (int xo = 0; xo < Wo; xo++) {
                                int xi = xo * st + kx - pad;
                                if (xi >= 0 && xi < W) drow[xi] += c[xo];
                            }
                        }
                    }
                }
            }
    }
}

// Threads split the batch into chunks, and each runs im2col and a single-threaded GEMM
// (OpenBLAS's OpenMP build runs single-threaded inside a parallel region) on its own
// chunk: one parallel region per layer rather than a fork and barrier per im2col and per
// GEMM. Those barriers dominated on this shared 2-core machine: a descheduled thread
// stalls every one of them, and 2-thread runs measured slower than 1-thread runs.
void conv_gemm_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col) {
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k, nchunks = (s->B + s->chunk - 1) / s->chunk;
    const size_t per_thread = thread_floats(s);
#pragma omp parallel for schedule(static) num_threads(s->threads)
    for (int c = 0; c < nchunks; c++) {
        int b0 = c * s->chunk, nb = s->B - b0 < s->chunk ? s->B - b0 : s->chunk;
        float *ct = col + per_thread * (size_t)omp_get_thread_num();
        im2col(ct, in, s, b0, nb);
        // out[:, b0*P ...] (Cout, nb*P) with row stride B*P
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Cout, (int)(nb * P), K, 1.0f, w, K, ct,
                    (int)(nb * P), 0.0f, out + b0 * P, (int)(s->B * P));
    }
}

void conv_sum_partials(float *dw, const float *parts, size_t stride, int nparts, long n) {
#pragma omp for schedule(static)
    for (long i = 0; i < n; i++) {
        float g = 0;
        for (int u = 0; u < nparts; u++) g += parts[stride * (size_t)u + i];
        dw[i] = g;
    }
}

void conv_gemm_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        const ConvShape *s, float *col, int acc) {
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k, nchunks = (s->B + s->chunk - 1) / s->chunk;
    const size_t per_thread = thread_floats(s), colsize = per_thread - (size_t)K * s->Cout;
    const long nw = (long)K * s->Cout;
    int used = 0; // threads that took chunks, each with a partial weight gradient
#pragma omp parallel num_threads(s->threads)
    {
        const int t = omp_get_thread_num();
        float *ct = col + per_thread * (size_t)t, *dwt = ct + colsize;
        int first = 1;
#pragma omp for schedule(static)
        for (int c = 0; c < nchunks; c++) {
            int b0 = c * s->chunk, nb = s->B - b0 < s->chunk ? s->B - b0 : s->chunk;
            const float *dy = dout + b0 * P; // (Cout, nb*P), row stride B*P
            im2col(ct, in, s, b0, nb);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->Cout, K, (int)(nb * P), 1.0f, dy,
                        (int)(s->B * P), ct, (int)(nb * P), first ? 0.0f : 1.0f, dwt, K);
            first = 0;
            if (!din) continue;
            // dcol (K, nb*P) = w^T . dy, reusing the col buffer
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)(nb * P), s->Cout, 1.0f, w, K, dy,
                        (int)(s->B * P), 0.0f, ct, (int)(nb * P));
            col2im(din, ct, s, b0, nb, acc);
        }
#pragma omp atomic
        used += !first;
#pragma omp barrier
        // With static scheduling the threads that took chunks are 0..used-1.
        conv_sum_partials(dw, col + colsize, per_thread, used, nw);
    }
}
