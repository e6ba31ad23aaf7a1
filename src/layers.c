// layers.c: conv (the kernel conv_pick names), batchnorm(+add+ReLU), shortcut, pool, fc, loss.
// Shapes are in include/layers.h. Hot loops are plain C for the compiler to vectorise,
// parallelised with OpenMP over channels or rows.
#include "layers.h"
#include "common.h"
#include "conv3x3.h"
#include "shares.h"
#include "winograd.h"
#include "winograd4.h"
#include "winograd_wgrad.h"
#include <math.h>
#include <omp.h>
#include <string.h>

static void affine_act(float *y, const float *x, const float *res, float scale, float shift, int relu, long n);

// The most any kernel that may run s needs (conv_fits, not conv_pick: enabling a kernel later
// stays safe): the GEMM path's; the weight gradient's (direct or Winograd); or the flipped
// weights, then a Winograd workspace for the data gradient (F(2x2, 3x3)'s is the same both
// ways round: it depends on Cin + Cout and Cin * Cout), which also covers a Winograd forward.
size_t conv_col_floats(const ConvShape *s) {
    size_t n = conv_gemm_floats(s), wino = 0;
    ConvShape ts = conv_shape_transposed(s);
    if (conv_fits(s, CONV_DIRECT)) {
        wino = conv_fits(s, CONV_WINOGRAD) || conv_fits(&ts, CONV_WINOGRAD) ? wino_work_floats(s) : 0;
        size_t weights = conv3x3_wgrad_floats(s);
        if (conv_fits(s, CONV_WINOGRAD_WGRAD) && wino_wgrad_floats(s) > weights) weights = wino_wgrad_floats(s);
        if (conv_fits(s, CONV_WINOGRAD4_WGRAD) && wino4_wgrad_floats(s) > weights) weights = wino4_wgrad_floats(s);
        if (weights > n) n = weights;
    }
    if (conv_fits(s, CONV_WINOGRAD4) && wino4_work_floats(s) > wino) wino = wino4_work_floats(s);
    if (conv_fits(&ts, CONV_WINOGRAD4) && wino4_work_floats(&ts) > wino) wino = wino4_work_floats(&ts);
    if (wino && conv3x3_flip_floats(s) + wino > n) n = conv3x3_flip_floats(s) + wino;
    return n;
}

void conv_forward(float *out, const float *in, const float *w, const ConvShape *s, float *col) {
    switch (conv_pick(s, CONV_FORWARD)) {
    case CONV_WINOGRAD: wino_forward(out, in, w, s, col, 0, NULL); break;
    case CONV_WINOGRAD4: wino4_forward(out, in, w, s, col, 0, NULL); break;
    case CONV_DIRECT: conv3x3_forward(out, in, w, s, 0); break;
    case CONV_DIRECT_S2: conv3x3s2_forward(out, in, w, s); break;
    default: conv_gemm_forward(out, in, w, s, col);
    }
}

void conv_forward_bn(float *out, const float *in, const float *w, const ConvShape *s, float *col,
                     const ConvEpilogue *ep) {
    if (conv_pick(s, CONV_FORWARD) == CONV_WINOGRAD) {
        wino_forward(out, in, w, s, col, 0, ep);
        return;
    }
    if (conv_pick(s, CONV_FORWARD) == CONV_WINOGRAD4) {
        wino4_forward(out, in, w, s, col, 0, ep);
        return;
    }
    conv_forward(out, in, w, s, col);
    const long n = (long)s->B * s->Ho * s->Wo;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->Cout; c++)
        affine_act(out + c * n, out + c * n, ep->res ? ep->res + c * n : NULL, ep->scale[c], ep->shift[c], ep->relu, n);
}

static void conv_backward_impl(float *din, float *dw, const float *dout, const float *in, const float *w,
                               const ConvShape *s, float *col, int acc) {
    ConvKernel k = conv_pick(s, din ? CONV_BACKWARD : CONV_BACKWARD_WEIGHTS);
    ConvKernel wk = din ? conv_pick(s, CONV_BACKWARD_WEIGHTS) : k;
    if (k == CONV_GEMM) {
        conv_gemm_backward(din, dw, dout, in, w, s, col, acc);
        return;
    }
    // col holds conv_col_floats(s): the weight gradient's workspace, then the flipped
    // weights and the data gradient's workspace.
    if (wk == CONV_WINOGRAD4_WGRAD)
        wino4_backward_weights(dw, dout, in, s, col);
    else if (wk == CONV_WINOGRAD_WGRAD)
        wino_backward_weights(dw, dout, in, s, col);
    else if (wk == CONV_DIRECT)
        conv3x3_backward_weights(dw, dout, in, s, col);
    else // F(4x4, 3x3) data gradient on a plane the direct kernel does not take
        conv_gemm_backward(NULL, dw, dout, in, w, s, col, 0);
    if (!din) return;
    ConvShape ts = conv_shape_transposed(s);
    float *wt = col, *work = col + conv3x3_flip_floats(s);
    conv3x3_flip_weights(wt, w, s);
    if (k == CONV_WINOGRAD)
        wino_forward(din, dout, wt, &ts, work, acc, NULL);
    else if (k == CONV_WINOGRAD4)
        wino4_forward(din, dout, wt, &ts, work, acc, NULL);
    else
        conv3x3_forward(din, dout, wt, &ts, acc);
}

void conv_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                   const ConvShape *s, float *col) {
    conv_backward_impl(din, dw, dout, in, w, s, col, 0);
}

void conv_backward_acc(float *din, float *dw, const float *dout, const float *in, const float *w,
                       const ConvShape *s, float *col) {
    conv_backward_impl(din, dw, dout, in, w, s, col, 1);
}

// ---- on named tensors ----------------------------------------------------------------------

// a's values as a CBHW array: a's own when it is CBHW, else converted into tmp.
static float *cbhw_of(const Act *a, float *tmp) {
    if (a->layout == ACT_CBHW) return a->data;
    Act t = act_make(tmp, ACT_CBHW, a->C, a->B, a->H, a->W);
    act_convert(&t, a);
    return tmp;
}

// a = the CBHW array at src (a no-op when it is a's own).
static void from_cbhw(const Act *a, const float *src) {
    if (src == a->data) return;
    Act t = act_make((float *)src, ACT_CBHW, a->C, a->B, a->H, a->W);
    act_convert((Act *)a, &t);
}

void conv_forward_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *col,
                      const ConvScratch *sc) {
    if (conv_pick(s, CONV_FORWARD) == CONV_WINOGRAD4) {
        wino4_forward_act(out, in, w, s, col, 0, NULL);
        return;
    }
    const float *x = cbhw_of(in, sc->t[0]);
    float *y = out->layout == ACT_CBHW ? out->data : sc->t[1];
    conv_forward(y, x, w, s, col);
    from_cbhw(out, y);
}

void act_affine(const Act *y, const ConvEpilogue *ep) {
    const long n = (long)y->B * y->H * y->W;
    if (y->layout == ACT_CBHW) {
#pragma omp parallel for schedule(static)
        for (int c = 0; c < y->C; c++)
            affine_act(y->data + c * n, y->data + c * n, ep->res ? ep->res + c * n : NULL, ep->scale[c], ep->shift[c],
                       ep->relu, n);
        return;
    }
    const int nb = (y->C + ACT_LANES - 1) / ACT_LANES;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nb; blk++) {
        float sc[ACT_LANES] = {0}, sh[ACT_LANES] = {0}; // padding lanes: 0 * 0 + 0 (+ 0)
        for (int c = 0; c < ACT_LANES && blk * ACT_LANES + c < y->C; c++)
            sc[c] = ep->scale[blk * ACT_LANES + c], sh[c] = ep->shift[blk * ACT_LANES + c];
        float *v = y->data + (long)blk * n * ACT_LANES;
        const float *r = ep->res ? ep->res + (long)blk * n * ACT_LANES : NULL;
        for (long p = 0; p < n; p++)
            for (int c = 0; c < ACT_LANES; c++) {
                float z = v[p * ACT_LANES + c] * sc[c] + sh[c] + (r ? r[p * ACT_LANES + c] : 0.0f);
                v[p * ACT_LANES + c] = ep->relu && !(z > 0.0f) ? 0.0f : z;
            }
    }
}

void conv_forward_bn_act(const Act *out, const Act *in, const float *w, const ConvShape *s, float *col,
                         const ConvEpilogue *ep, const ConvScratch *sc) {
    if (conv_pick(s, CONV_FORWARD) == CONV_WINOGRAD4) {
        wino4_forward_act(out, in, w, s, col, 0, ep);
        return;
    }
    conv_forward_act(out, in, w, s, col, sc);
    act_affine(out, ep);
}

void conv_backward_act(const Act *din, float *dw, const Act *dout, const Act *in, const float *w,
                       const ConvShape *s, float *col, int acc, const ConvScratch *sc) {
    ConvKernel k = conv_pick(s, din ? CONV_BACKWARD : CONV_BACKWARD_WEIGHTS);
    ConvKernel wk = din ? conv_pick(s, CONV_BACKWARD_WEIGHTS) : k;
    if (wk == CONV_WINOGRAD4_WGRAD && (!din || k == CONV_WINOGRAD4)) { // both on the tensors as they are
        wino4_backward_weights_act(dw, dout, in, s, col);
        if (!din) return;
        ConvShape ts = conv_shape_transposed(s);
        float *wt = col, *work = col + conv3x3_flip_floats(s);
        conv3x3_flip_weights(wt, w, s);
        wino4_forward_act(din, dout, wt, &ts, work, acc, NULL);
        return;
    }
    const float *dy = cbhw_of(dout, sc ? sc->t[0] : NULL), *x = cbhw_of(in, sc ? sc->t[1] : NULL);
    float *dx = NULL;
    if (din) dx = acc ? cbhw_of(din, sc ? sc->t[2] : NULL) : din->layout == ACT_CBHW ? din->data : sc->t[2];
    conv_backward_impl(dx, dw, dy, x, w, s, col, acc);
    if (din) from_cbhw(din, dx);
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
                    const float *running_var, const float *in_bias, int C, float eps) {
    for (int c = 0; c < C; c++) {
        float r = 1.0f / sqrtf(running_var[c] + eps);
        scale[c] = gamma[c] * r;
        shift[c] = beta[c] - running_mean[c] * scale[c];
        if (in_bias) shift[c] += in_bias[c] * scale[c]; // gamma * (x + b - mean) * r + beta
    }
}

long bn_groups(long N, long group) {
    return group > 0 && group < N ? (N + group - 1) / group : 1;
}

// The statistics of n values: mean m, rstd r (biased variance, as the forward normalises),
// and in double the mean and the unbiased variance for the running statistics.
// Two passes: the mean, then the squared deviations from it (less the tiny correction for
// the mean's float rounding). A one-pass variance measured 5x further from PyTorch's eval
// logits for a saving near 1 %.
static void run_stats(const float *x, long n, float eps, float *m, float *r, double *mu, double *unbiased) {
    double s1, s2;
    sums_shifted(x, n, 0.0f, &s1, &s2);
    float first = (float)(s1 / (double)n);
    sums_shifted(x, n, first, &s1, &s2);
    double d = s1 / (double)n, v = s2 / (double)n - d * d;
    *mu = first + d;
    *m = (float)*mu;
    *r = (float)(1.0 / sqrt(v + eps));
    *unbiased = n > 1 ? v * (double)n / (double)(n - 1) : v;
}

// The training forward of one process: each run of group values of a channel (ghost
// batch-norm, BnArgs.group; one run of N without it) through its own statistics, the running
// statistics from their averages.
static void bn_forward_groups(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                              float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    const long N = a->N, G = bn_groups(N, a->group), group = G > 1 ? a->group : N;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        double mu_sum = 0, var_sum = 0;
        for (long g = 0; g < G; g++) {
            const long o = (long)c * N + g * group, n = N - g * group < group ? N - g * group : group;
            float m, r;
            double mu, unbiased;
            run_stats(x + o, n, a->eps, &m, &r, &mu, &unbiased);
            mean[c * G + g] = m;
            rstd[c * G + g] = r;
            mu_sum += mu;
            var_sum += unbiased;
            float scale = gamma[c] * r, shift = beta[c] - m * scale;
            affine_act(y + o, x + o, res ? res + o : NULL, scale, shift, a->relu, n);
        }
        double mu = mu_sum / (double)G + (a->in_bias ? a->in_bias[c] : 0.0);
        running_mean[c] = (float)((1.0 - a->momentum) * running_mean[c] + a->momentum * mu);
        running_var[c] = (float)((1.0 - a->momentum) * running_var[c] + a->momentum * (var_sum / (double)G));
    }
}

// The shares of a call (BnArgs.shares): how many, and where share j of channel c starts and
// how many values it has. One share: the channel's N values.
static int bn_nshares(const BnArgs *a) {
    return a->shares > 1 ? a->shares : 1;
}

static long bn_at(const BnArgs *a, int j, int c, long *n) {
    if (a->shares <= 1) {
        *n = a->N;
        return (long)c * a->N;
    }
    *n = a->hw * (a->share_lo[j + 1] - a->share_lo[j]);
    return (long)a->C * a->hw * a->share_lo[j] + (long)c * *n;
}

// The partials of the shares (room for (2C+1) doubles each) added in share order into the
// first, then across processes: the first n values of each.
static double *bn_parts(const BnArgs *a, int j) {
    return bn_nshares(a) > 1 ? a->parts + (long)j * (2 * a->C + 1) : a->sync->buf;
}

static void bn_sum(const BnArgs *a, long n) {
    const int S = bn_nshares(a);
    shares_sum_double(bn_parts(a, 0), S, n, 2L * a->C + 1);
    if (a->sync) a->sync->sum(bn_parts(a, 0), n);
}

void bn_finish_stats(int c, const double *buf, double Nt, float *mean, float *rstd, float *running_mean,
                     float *running_var, const BnArgs *a) {
    const int C = a->C;
    double d = buf[c] / Nt, mu = mean[c] + d, v = buf[C + c] / Nt - d * d;
    float m = (float)mu, r = (float)(1.0 / sqrt(v + a->eps));
    mean[c] = m;
    rstd[c] = r;
    double unbiased = Nt > 1 ? v * Nt / (Nt - 1) : v;
    if (a->in_bias) mu += a->in_bias[c];
    running_mean[c] = (float)((1.0 - a->momentum) * running_mean[c] + a->momentum * mu);
    running_var[c] = (float)((1.0 - a->momentum) * running_var[c] + a->momentum * unbiased);
}

// The training forward with the sums taken over every process (a->sync) and over the
// shares of this one (a->shares): the same three passes as bn_forward's, each pass over all
// channels (and shares), with the sums added between them. With one process and one share
// it computes what bn_forward does.
static void bn_forward_sync(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                            float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    const int C = a->C, S = bn_nshares(a);
    double *buf = bn_parts(a, 0); // (2C+1): sums, then the count
    for (int j = 0; j < S; j++) {
        double *p = bn_parts(a, j);
        long n = 0;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            long nc;
            const long o = bn_at(a, j, c, &nc);
            double s1, s2;
            sums_shifted(x + o, nc, 0.0f, &s1, &s2);
            p[c] = s1;
        }
        bn_at(a, j, 0, &n);
        p[C] = (double)n;
    }
    bn_sum(a, C + 1);
    const double Nt = buf[C];
    for (int c = 0; c < C; c++) mean[c] = (float)(buf[c] / Nt); // the first mean, the shift
    for (int j = 0; j < S; j++) {
        double *p = bn_parts(a, j);
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            long nc;
            const long o = bn_at(a, j, c, &nc);
            sums_shifted(x + o, nc, mean[c], &p[c], &p[C + c]);
        }
    }
    bn_sum(a, 2L * C);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        bn_finish_stats(c, buf, Nt, mean, rstd, running_mean, running_var, a);
        const float m = mean[c], r = rstd[c];
        float scale = gamma[c] * r, shift = beta[c] - m * scale;
        for (int j = 0; j < S; j++) {
            long nc;
            const long o = bn_at(a, j, c, &nc);
            affine_act(y + o, x + o, res ? res + o : NULL, scale, shift, a->relu, nc);
        }
    }
}

void bn_forward(float *y, const float *x, const float *res, const float *gamma, const float *beta,
                float *mean, float *rstd, float *running_mean, float *running_var, const BnArgs *a) {
    const long N = a->N;
    if (a->train && (a->sync || a->shares > 1)) {
        bn_forward_sync(y, x, res, gamma, beta, mean, rstd, running_mean, running_var, a);
        return;
    }
    if (a->train) {
        bn_forward_groups(y, x, res, gamma, beta, mean, rstd, running_mean, running_var, a);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        float scale, shift;
        bn_eval_affine(&scale, &shift, gamma + c, beta + c, running_mean + c, running_var + c,
                       a->in_bias ? a->in_bias + c : NULL, 1, a->eps);
        affine_act(y + (long)c * N, x + (long)c * N, res ? res + (long)c * N : NULL, scale, shift, a->relu, N);
    }
}

// sum dy and sum dy*(x-m) of channel c (dy masked by y > 0 when relu). Two loops, not one
// testing relu per element: with the test inside, GCC ran it scalar (y may be NULL without
// relu), a third of the step's BN time.
static void bn_grad_sums(const float *xc, const float *dyc, const float *yc, float m, long N, int relu, double *s_dy,
                         double *s_dyx) {
    double sdy = 0, sdyx = 0;
    for (long i0 = 0; i0 < N; i0 += SUM_BLOCK) {
        long n = N - i0 < SUM_BLOCK ? N - i0 : SUM_BLOCK;
        float fa = 0, fb = 0;
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
    *s_dy = sdy;
    *s_dyx = sdyx;
}

// dx (and dres) of channel c from the batch's sums db = sum dy, dg = sum dy*xhat, over Nt:
// dx = gamma*rstd*(g - db/Nt - xhat*dg/Nt), xhat = (x-m)*r, g = dy masked by y > 0 when relu.
// drc may be dyc itself: element i is read before it is written. Two loops rather than a
// test of drc per element, which would keep GCC from vectorising.
static void bn_dx(float *dxc, float *drc, const float *dyc, const float *yc, const float *xc, float gamma, float m,
                  float r, float db, float dg, float Nt, long N, int relu) {
    float k1 = gamma * r, k2 = db / Nt, k3 = dg * r / Nt;
    if (drc) {
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

// The backward of bn_forward_sync: dgamma, dbeta from each share's part of the batch (into
// its gradient block), dx from the sums over every share and process.
static void bn_backward_sync(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                             const float *x, const float *gamma, const float *mean, const float *rstd,
                             const BnArgs *a) {
    const int C = a->C, relu = a->relu, S = bn_nshares(a);
    double *buf = bn_parts(a, 0); // (2C+1): sum dy, sum dy*(x-m), the count
    for (int j = 0; j < S; j++) {
        double *p = bn_parts(a, j);
        float *dg = dgamma + j * a->grad_stride, *db = dbeta + j * a->grad_stride;
        long n = 0;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            long nc;
            const long o = bn_at(a, j, c, &nc);
            bn_grad_sums(x + o, dy + o, y ? y + o : NULL, mean[c], nc, relu, &p[c], &p[C + c]);
            db[c] = (float)p[c];
            dg[c] = (float)(p[C + c] * rstd[c]);
        }
        bn_at(a, j, 0, &n);
        p[2 * C] = (double)n;
    }
    bn_sum(a, 2L * C + 1);
    const float Nt = (float)buf[2 * C];
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int j = 0; j < S; j++) {
            long nc;
            const long o = bn_at(a, j, c, &nc);
            bn_dx(dx + o, dres ? dres + o : NULL, dy + o, y ? y + o : NULL, x + o, gamma[c], mean[c], rstd[c],
                  (float)buf[c], (float)(buf[C + c] * rstd[c]), Nt, nc, relu);
        }
}

// The backward of bn_forward_groups: each run through its own statistics; dgamma and dbeta
// add up over the runs.
static void bn_backward_groups(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                               const float *x, const float *gamma, const float *mean, const float *rstd,
                               const BnArgs *a) {
    const long N = a->N, G = bn_groups(N, a->group), group = G > 1 ? a->group : N;
    const int relu = a->relu;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->C; c++) {
        double dg_sum = 0, db_sum = 0;
        for (long g = 0; g < G; g++) {
            const long o = (long)c * N + g * group, n = N - g * group < group ? N - g * group : group;
            const float *yc = y ? y + o : NULL;
            const float m = mean[c * G + g], r = rstd[c * G + g];
            double sdy, sdyx;
            bn_grad_sums(x + o, dy + o, yc, m, n, relu, &sdy, &sdyx);
            float db = (float)sdy, dg = (float)(sdyx * r);
            db_sum += sdy;
            dg_sum += sdyx * r;
            bn_dx(dx + o, dres ? dres + o : NULL, dy + o, yc, x + o, gamma[c], m, r, db, dg, (float)n, n, relu);
        }
        dgamma[c] = (float)dg_sum;
        dbeta[c] = (float)db_sum;
    }
}

void bn_backward(float *dx, float *dres, float *dgamma, float *dbeta, const float *dy, const float *y,
                 const float *x, const float *gamma, const float *mean, const float *rstd, const BnArgs *a) {
    if (a->sync || a->shares > 1)
        bn_backward_sync(dx, dres, dgamma, dbeta, dy, y, x, gamma, mean, rstd, a);
    else
        bn_backward_groups(dx, dres, dgamma, dbeta, dy, y, x, gamma, mean, rstd, a);
}

void relu_mask(float *dy, const float *y, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void shortcut_a_forward(float *out, const float *x, int Cin, int Cout, int B, int H, int W) {
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2, off = (Cout - Cin) / 2;
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
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2, off = (Cout - Cin) / 2;
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

double softmax_ce(float *dlogits, const float *logits, const int *labels, int B, int denom, int K, int *correct) {
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
                dlogits[(long)b * K + k] = (float)((exp((double)z[k] - lse) - (k == labels[b])) / denom);
    }
    if (correct) *correct = hits;
    return loss / denom;
}

void add_inplace(float *x, const float *y, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) x[i] += y[i];
}
