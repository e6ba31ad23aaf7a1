// layers.c: conv (im2col + OpenBLAS GEMM), batchnorm(+add+ReLU), shortcut, pool, fc, loss.
// Shapes are in include/layers.h. Hot loops are plain C for the compiler to vectorise,
// parallelised with OpenMP over channels or rows.
#include "layers.h"
#include <cblas.h>
#include <math.h>
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
    size_t per_image = (size_t)Cin * k * k * s->Ho * s->Wo;
    long chunk = per_image ? (long)(col_budget / per_image) : B;
    if (chunk < 1) chunk = 1;
    if (chunk > B) chunk = B;
    s->chunk = (int)chunk;
}

size_t conv_col_floats(const ConvShape *s) {
    return (size_t)s->Cin * s->k * s->k * s->Ho * s->Wo * s->chunk;
}

// col (K, nb*Ho*Wo) for images b0..b0+nb-1 of in (Cin, B, H, W), K = (ci, ky, kx).
static void im2col(float *col, const float *in, const ConvShape *s, int b0, int nb) {
    const int k = s->k, st = s->stride, pad = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    const long P = (long)Ho * Wo, N = (long)nb * P;
    const int K = s->Cin * k * k;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < K; r++) {
        int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
        float *dst = col + (long)r * N;
        for (int b = 0; b < nb; b++) {
            const float *src = in + ((long)ci * s->B + b0 + b) * H * W;
            for (int yo = 0; yo < Ho; yo++) {
                float *d = dst + (long)b * P + (long)yo * Wo;
                int yi = yo * st + ky - pad;
                if (yi < 0 || yi >= H) {
                    memset(d, 0, sizeof(float) * Wo);
                    continue;
                }
                const float *srow = src + (long)yi * W;
                if (st == 1) {
                    // xi = xo + kx - pad: a shifted copy with zeros at the edges.
                    int lo = pad - kx > 0 ? pad - kx : 0;
                    int hi = W + pad - kx < Wo ? W + pad - kx : Wo;
                    for (int xo = 0; xo < lo; xo++) d[xo] = 0;
                    memcpy(d + lo, srow + lo + kx - pad, sizeof(float) * (hi - lo));
                    for (int xo = hi; xo < Wo; xo++) d[xo] = 0;
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

// din (images b0..b0+nb-1) = sum over the columns of col that read each input pixel.
static void col2im(float *din, const float *col, const ConvShape *s, int b0, int nb) {
    const int k = s->k, st = s->stride, pad = s->pad, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo;
    const long P = (long)Ho * Wo, N = (long)nb * P;
    // Parallel over input channels: each thread owns its channels' rows of din.
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < s->Cin; ci++) {
        for (int b = 0; b < nb; b++) memset(din + ((long)ci * s->B + b0 + b) * H * W, 0, sizeof(float) * H * W);
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

void conv_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col) {
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k;
    for (int b0 = 0; b0 < s->B; b0 += s->chunk) {
        int nb = s->B - b0 < s->chunk ? s->B - b0 : s->chunk;
        im2col(col, in, s, b0, nb);
        // out[:, b0*P ...] (Cout, nb*P) with row stride B*P
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Cout, (int)(nb * P), K, 1.0f, w, K, col,
                    (int)(nb * P), 0.0f, out + b0 * P, (int)(s->B * P));
    }
}

void conv_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                   const ConvShape *s, float *col) {
    const long P = (long)s->Ho * s->Wo;
    const int K = s->Cin * s->k * s->k;
    for (int b0 = 0; b0 < s->B; b0 += s->chunk) {
        int nb = s->B - b0 < s->chunk ? s->B - b0 : s->chunk;
        const float *dy = dout + b0 * P; // (Cout, nb*P), row stride B*P
        im2col(col, in, s, b0, nb);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->Cout, K, (int)(nb * P), 1.0f, dy, (int)(s->B * P),
                    col, (int)(nb * P), b0 == 0 ? 0.0f : 1.0f, dw, K);
        if (!din) continue;
        // dcol (K, nb*P) = w^T . dy, reusing the col buffer
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)(nb * P), s->Cout, 1.0f, w, K, dy,
                    (int)(s->B * P), 0.0f, col, (int)(nb * P));
        col2im(din, col, s, b0, nb);
    }
}

void bn_forward(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    const long N = a->N;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        const float *xc = x + (long)c * N;
        float m, r;
        if (a->train) {
            // Two passes in double: the mean, then the mean squared deviation.
            double s = 0;
            for (long i = 0; i < N; i++) s += xc[i];
            double mu = s / (double)N;
            double v = 0;
            for (long i = 0; i < N; i++) {
                double d = xc[i] - mu;
                v += d * d;
            }
            v /= (double)N;
            m = (float)mu;
            r = (float)(1.0 / sqrt(v + a->eps));
            mean[c] = m;
            rstd[c] = r;
            double unbiased = N > 1 ? v * (double)N / (double)(N - 1) : v;
            running_mean[c] = (float)((1.0 - a->momentum) * running_mean[c] + a->momentum * mu);
            running_var[c] = (float)((1.0 - a->momentum) * running_var[c] + a->momentum * unbiased);
        } else {
            m = running_mean[c];
            r = 1.0f / sqrtf(running_var[c] + a->eps);
        }
        float scale = gamma[c] * r, shift = beta[c] - m * scale;
        float *yc = y + (long)c * N;
        const float *rc = res ? res + (long)c * N : NULL;
        if (rc && a->relu)
            for (long i = 0; i < N; i++) yc[i] = fmaxf(xc[i] * scale + shift + rc[i], 0.0f);
        else if (rc)
            for (long i = 0; i < N; i++) yc[i] = xc[i] * scale + shift + rc[i];
        else if (a->relu)
            for (long i = 0; i < N; i++) yc[i] = fmaxf(xc[i] * scale + shift, 0.0f);
        else
            for (long i = 0; i < N; i++) yc[i] = xc[i] * scale + shift;
    }
}

void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                 const float *gamma, const float *mean, const float *rstd, const BnArgs *a) {
    const long N = a->N;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        const float *xc = x + (long)c * N, *dyc = dy + (long)c * N;
        const float m = mean[c], r = rstd[c];
        double sdy = 0, sdyx = 0;
        for (long i = 0; i < N; i++) {
            sdy += dyc[i];
            sdyx += dyc[i] * (xc[i] - m);
        }
        float db = (float)sdy, dg = (float)(sdyx * r);
        dgamma[c] = dg;
        dbeta[c] = db;
        // dx = gamma*rstd*(dy - db/N - xhat*dg/N), xhat = (x-m)*r
        float k1 = gamma[c] * r, k2 = db / (float)N, k3 = dg * r / (float)N;
        float *dxc = dx + (long)c * N;
        for (long i = 0; i < N; i++) dxc[i] = k1 * (dyc[i] - k2 - (xc[i] - m) * k3);
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
