// layers.c: conv (im2col + OpenBLAS GEMM), batchnorm(+add+ReLU), shortcut, pool, fc, loss.
// Shapes are in include/layers.h. Hot loops are plain C for the compiler to vectorise,
// parallelised with OpenMP over channels or rows.
#include "layers.h"
#include "common.h"
#include "conv3x3.h"
#include "winograd.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

static void affine_act(float *y, const float *x, const float *res, float scale, float shift, int relu, long n);

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

// Per thread: the chunk's col (K, chunk*Ho*Wo) then a private weight gradient (Cout, K).
// Sized by chunk_cap, not chunk: chunk_cap never grows as B shrinks (chunk can: 128 images
// spread over 10 chunks of 13, 80 over 6 of 14), so a workspace planned for the largest
// batch also fits the partial last batch and evaluation batches.
static size_t conv_thread_floats(const ConvShape *s) {
    size_t K = (size_t)s->Cin * s->k * s->k;
    size_t n = K * s->Ho * s->Wo * s->chunk_cap + K * s->Cout;
    return floats_to_lines(n); // keep each thread's slice 64-byte aligned
}

size_t conv_col_floats(const ConvShape *s) {
    size_t n = conv_thread_floats(s) * (size_t)s->threads;
    if (conv3x3_usable(s) && conv3x3_work_floats(s) > n) n = conv3x3_work_floats(s);
    return n;
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
void conv_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col) {
    if (conv3x3_usable(s)) {
        conv3x3_forward(out, in, w, s, col, 0);
        return;
    }
    if (conv3x3s2_usable(s)) {
        conv3x3s2_forward(out, in, w, s);
        return;
    }
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k, nchunks = (s->B + s->chunk - 1) / s->chunk;
    const size_t per_thread = conv_thread_floats(s);
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

void conv_forward_bn(float *out, const float *in, const float *w, const ConvShape *s, float *col,
                     const ConvEpilogue *ep) {
    if (conv3x3_usable(s) && wino_usable(s)) {
        wino_forward(out, in, w, s, col, 0, ep);
        return;
    }
    conv_forward(out, in, w, s, col);
    const long n = (long)s->B * s->Ho * s->Wo;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->Cout; c++)
        affine_act(out + c * n, out + c * n, ep->res ? ep->res + c * n : NULL, ep->scale[c], ep->shift[c], ep->relu, n);
}

void conv_sum_partials(float *dw, const float *parts, size_t stride, int nparts, long n) {
#pragma omp for schedule(static)
    for (long i = 0; i < n; i++) {
        float g = 0;
        for (int u = 0; u < nparts; u++) g += parts[stride * (size_t)u + i];
        dw[i] = g;
    }
}

static void conv_backward_impl(float *din, float *dw, const float *dout, const float *in, const float *w,
                               const ConvShape *s, float *col, int acc) {
    if (conv3x3_backward_usable(s, din != NULL)) {
        // col holds conv3x3_work_floats(s) (conv_col_floats): the weight-gradient slices,
        // then the transposed weights and the Winograd tiles.
        conv3x3_backward_weights(dw, dout, in, s, col);
        if (din) conv3x3_backward_data(din, dout, w, s, col, acc);
        return;
    }
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k, nchunks = (s->B + s->chunk - 1) / s->chunk;
    const size_t per_thread = conv_thread_floats(s), colsize = per_thread - (size_t)K * s->Cout;
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

void conv_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                   const ConvShape *s, float *col) {
    conv_backward_impl(din, dw, dout, in, w, s, col, 0);
}

void conv_backward_acc(float *din, float *dw, const float *dout, const float *in, const float *w,
                       const ConvShape *s, float *col) {
    conv_backward_impl(din, dw, dout, in, w, s, col, 1);
}

// Sums over blocks of this many floats run in float lanes (vectorised), and the block sums
// are added in double: the error stays near float epsilon for any N, at float speed.
enum { SUM_BLOCK = 256 };

// s1 = sum(x - shift), s2 = sum((x - shift)^2) over n floats.
static void sums_shifted(const float *x, long n, float shift, double *s1, double *s2) {
    double a = 0, b = 0;
    for (long i0 = 0; i0 < n; i0 += SUM_BLOCK) {
        long m = n - i0 < SUM_BLOCK ? n - i0 : SUM_BLOCK;
        const float *p = x + i0;
        float fa = 0, fb = 0;
#pragma omp simd reduction(+ : fa, fb)
        for (long i = 0; i < m; i++) {
            float d = p[i] - shift;
            fa += d;
            fb += d * d;
        }
        a += fa;
        b += fb;
    }
    *s1 = a;
    *s2 = b;
}

// y = act(x * scale + shift + res) over n floats (res may be NULL; y may be x).
static void affine_act(float *y, const float *x, const float *res, float scale, float shift, int relu, long n) {
    // The ternary, not fmaxf: without -ffinite-math-only fmaxf is a libm call per element.
    if (res && relu)
        for (long i = 0; i < n; i++) {
            float v = x[i] * scale + shift + res[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
    else if (res)
        for (long i = 0; i < n; i++) y[i] = x[i] * scale + shift + res[i];
    else if (relu)
        for (long i = 0; i < n; i++) {
            float v = x[i] * scale + shift;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    else
        for (long i = 0; i < n; i++) y[i] = x[i] * scale + shift;
}

void bn_eval_affine(float *scale, float *shift, const float *gamma, const float *beta, const float *running_mean,
                    const float *running_var, int C, float eps) {
    for (int c = 0; c < C; c++) {
        float r = 1.0f / sqrtf(running_var[c] + eps);
        scale[c] = gamma[c] * r;
        shift[c] = beta[c] - running_mean[c] * scale[c];
    }
}

void bn_forward(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    const long N = a->N;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        const float *xc = x + (long)c * N;
        float scale, shift;
        if (a->train) {
            // Two passes: the mean, then the squared deviations from it (less the tiny
            // correction for the mean's float rounding). A one-pass variance measured
            // 5x further from PyTorch's eval logits for a saving near 1 %.
            double s1, s2;
            sums_shifted(xc, N, 0.0f, &s1, &s2);
            float first = (float)(s1 / (double)N);
            sums_shifted(xc, N, first, &s1, &s2);
            double d = s1 / (double)N, mu = first + d, v = s2 / (double)N - d * d;
            float m = (float)mu, r = (float)(1.0 / sqrt(v + a->eps));
            mean[c] = m;
            rstd[c] = r;
            double unbiased = N > 1 ? v * (double)N / (double)(N - 1) : v;
            running_mean[c] = (float)((1.0 - a->momentum) * running_mean[c] + a->momentum * mu);
            running_var[c] = (float)((1.0 - a->momentum) * running_var[c] + a->momentum * unbiased);
            scale = gamma[c] * r;
            shift = beta[c] - m * scale;
        } else {
            bn_eval_affine(&scale, &shift, gamma + c, beta + c, running_mean + c, running_var + c, 1, a->eps);
        }
        affine_act(y + (long)c * N, xc, res ? res + (long)c * N : NULL, scale, shift, a->relu, N);
    }
}

void bn_backward(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                 const float *x, const float *gamma, const float *mean, const float *rstd, const BnArgs *a) {
    const long N = a->N;
    const int relu = a->relu;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        const long o = (long)c * N;
        const float *xc = x + o, *dyc = dy + o, *yc = y + o;
        const float m = mean[c], r = rstd[c];
        double sdy = 0, sdyx = 0;
        for (long i0 = 0; i0 < N; i0 += SUM_BLOCK) {
            long n = N - i0 < SUM_BLOCK ? N - i0 : SUM_BLOCK;
            float fa = 0, fb = 0;
            // Two loops, not one testing relu per element: with the test inside, GCC ran
            // this loop scalar (y may be NULL without relu), a third of the step's BN time.
            if (relu) {
#pragma omp simd reduction(+ : fa, fb)
                for (long i = i0; i < i0 + n; i++) {
                    float g = yc[i] > 0.0f ? dyc[i] : 0.0f;
                    fa += g;
                    fb += g * (xc[i] - m);
                }
            } else {
#pragma omp simd reduction(+ : fa, fb)
                for (long i = i0; i < i0 + n; i++) {
                    fa += dyc[i];
                    fb += dyc[i] * (xc[i] - m);
                }
            }
            sdy += fa;
            sdyx += fb;
        }
        float db = (float)sdy, dg = (float)(sdyx * r);
        dgamma[c] = dg;
        dbeta[c] = db;
        // dx = gamma*rstd*(g - db/N - xhat*dg/N), xhat = (x-m)*r
        float k1 = gamma[c] * r, k2 = db / (float)N, k3 = dg * r / (float)N;
        float *dxc = dx + o;
        if (dres) {
            float *drc = dres + o; // may be dyc itself: element i is read before it is written
            for (long i = 0; i < N; i++) {
                float g = relu && !(yc[i] > 0.0f) ? 0.0f : dyc[i];
                dxc[i] = k1 * (g - k2 - (xc[i] - m) * k3);
                drc[i] = g;
            }
        } else {
            for (long i = 0; i < N; i++) {
                float g = relu && !(yc[i] > 0.0f) ? 0.0f : dyc[i];
                dxc[i] = k1 * (g - k2 - (xc[i] - m) * k3);
            }
        }
    }
}

void relu_mask(float *dy, const float *y, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void shortcut_a_forward(float *out, const float *x, int Cin, int Cout, int B, int H, int W) {
    const int Ho = H / 2, Wo = W / 2, off = (Cout - Cin) / 2;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < Cout; c++) {
        float *o = out + (long)c * B * Ho * Wo;
        int ci = c - off;
        if (ci < 0 || ci >= Cin) {
            memset(o, 0, sizeof(float) * B * Ho * Wo);
            continue;
        }
        for (int b = 0; b < B; b++)
            for (int y = 0; y < Ho; y++)
                for (int xx = 0; xx < Wo; xx++)
                    o[((long)b * Ho + y) * Wo + xx] = x[(((long)ci * B + b) * H + 2 * y) * W + 2 * xx];
    }
}

void shortcut_a_backward_acc(float *din, const float *dout, int Cin, int Cout, int B, int H, int W) {
    const int Ho = H / 2, Wo = W / 2, off = (Cout - Cin) / 2;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < Cin; ci++) {
        const float *o = dout + (long)(ci + off) * B * Ho * Wo;
        for (int b = 0; b < B; b++)
            for (int y = 0; y < Ho; y++)
                for (int xx = 0; xx < Wo; xx++)
                    din[(((long)ci * B + b) * H + 2 * y) * W + 2 * xx] += o[((long)b * Ho + y) * Wo + xx];
    }
}

void avgpool_forward(float *out, const float *x, int C, int B, int HW) {
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
            const float *p = x + ((long)c * B + b) * HW;
            float s = 0;
            for (int i = 0; i < HW; i++) s += p[i];
            out[(long)b * C + c] = s / (float)HW;
        }
}

void avgpool_backward(float *dx, const float *dout, int C, int B, int HW) {
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
            float g = dout[(long)b * C + c] / (float)HW;
            float *p = dx + ((long)c * B + b) * HW;
            for (int i = 0; i < HW; i++) p[i] = g;
        }
}

void fc_forward(float *out, const float *in, const float *w, const float *bias, int B, int Din, int Dout) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < Dout; o++) {
            float s = bias[o];
            for (int i = 0; i < Din; i++) s += in[(long)b * Din + i] * w[(long)o * Din + i];
            out[(long)b * Dout + o] = s;
        }
}

void fc_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                 const float *w, int B, int Din, int Dout) {
    for (int o = 0; o < Dout; o++) {
        float db = 0;
        for (int b = 0; b < B; b++) db += dout[(long)b * Dout + o];
        dbias[o] = db;
        for (int i = 0; i < Din; i++) {
            float s = 0;
            for (int b = 0; b < B; b++) s += dout[(long)b * Dout + o] * in[(long)b * Din + i];
            dw[(long)o * Din + i] = s;
        }
    }
    if (din)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < Din; i++) {
                float s = 0;
                for (int o = 0; o < Dout; o++) s += dout[(long)b * Dout + o] * w[(long)o * Din + i];
                din[(long)b * Din + i] = s;
            }
}

double softmax_ce(float *dlogits, const float *logits, const int *labels, int B, int K, int *correct) {
    double loss = 0;
    int hits = 0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (long)b * K;
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > z[arg]) arg = k;
        hits += arg == labels[b];
        double mx = z[arg], se = 0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        double lse = mx + log(se);
        loss += lse - z[labels[b]];
        if (dlogits)
            for (int k = 0; k < K; k++)
                dlogits[(long)b * K + k] = (float)((exp((double)z[k] - lse) - (k == labels[b])) / B);
    }
    if (correct) *correct = hits;
    return loss / B;
}

void add_inplace(float *x, const float *y, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) x[i] += y[i];
}
