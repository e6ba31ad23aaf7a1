// test_layers_cb16.c: the layers on ACT_CB16 tensors (layers_cb16.c) against their CBHW
// twins (layers.c, checked there against finite differences) through act_convert, on random
// data, for C = 16, 32, 64 and 20 (a last block of 4 channels and 12 padding lanes), batches
// of 1 to 5 and planes 32x32 down to odd ones.
//
// Outputs are filled with NaN before each call: a value or a padding lane not written shows.
// The batchnorm statistics sum a channel in another order than layers.c (layers_cb16.c), so
// the training batchnorm agrees to float rounding: every tensor within TOL of its largest
// value (normwise; measured up to 7.3e-7, about 6 float ulps, on these cases). Everything else
// does the same float operations in the same order and agrees bit for bit: the evaluation
// batchnorm, the shortcut, the pool. And within layers_cb16.c, bit for bit, as in layers.c:
// the synchronised path with one process and one share is the plain path, and S shares of one
// call compute what S processes holding one share each compute with synchronised statistics.
#include "act.h"
#include "layers.h"
#include "rng.h"
#include "shares.h"
#include "test.h"
#include <pthread.h>
#include <stdlib.h>

#define TOL 4e-6 // 32 float ulps of the largest value

static Rng rng;

static float *alloc_f(long n) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static float *rnd(long n, double scale, double offset) {
    float *p = alloc_f(n);
    for (long i = 0; i < n; i++) p[i] = (float)(offset + scale * rng_normal(&rng));
    return p;
}

static float *copy_f(const float *x, long n) {
    float *p = alloc_f(n);
    memcpy(p, x, sizeof(float) * (size_t)n);
    return p;
}

// A new CB16 copy of x (C, B, H, W) in CBHW, padding lanes zero; and back.
static float *to_cb16(const float *x, int C, int B, int H, int W) {
    float *v = alloc_f(act_floats(ACT_CB16, C, B, H, W));
    Act s = act_make((float *)x, ACT_CBHW, C, B, H, W), d = act_make(v, ACT_CB16, C, B, H, W);
    act_convert(&d, &s);
    return v;
}

static float *to_cbhw(const float *v, int C, int B, int H, int W) {
    float *x = alloc_f(act_floats(ACT_CBHW, C, B, H, W));
    Act s = act_make((float *)v, ACT_CB16, C, B, H, W), d = act_make(x, ACT_CBHW, C, B, H, W);
    act_convert(&d, &s);
    return x;
}

// Largest |a-b| over the largest |b| (infinite when a holds a NaN).
static double rel_diff(const float *a, const float *b, long n) {
    double mx = 0, md = 0;
    for (long i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        mx = fmax(mx, fabs(b[i]));
        md = fmax(md, fabs((double)a[i] - b[i]));
    }
    return mx > 0 ? md / mx : md;
}

// How many padding lanes of a CB16 tensor are not +0 (or -0).
static long bad_padding(const float *v, int C, long pixels) {
    if (C % ACT_LANES == 0) return 0;
    const float *last = v + (long)(C / ACT_LANES) * pixels * ACT_LANES;
    long bad = 0;
    for (long p = 0; p < pixels; p++)
        for (int l = C % ACT_LANES; l < ACT_LANES; l++) bad += last[p * ACT_LANES + l] != 0.0f;
    return bad;
}

// The CB16 result v against the CBHW one x: bit for bit (exact) or within TOL; padding zero.
static double cb16_diff(const float *v, const float *x, int C, int B, int H, int W, int exact, const char *what) {
    float *back = to_cbhw(v, C, B, H, W);
    const long n = (long)C * B * H * W;
    double d = exact ? (memcmp(back, x, sizeof(float) * (size_t)n) ? INFINITY : 0) : rel_diff(back, x, n);
    long pad = bad_padding(v, C, (long)B * H * W);
    CHECK_MSG(d <= (exact ? 0 : TOL), "[%s] %s differs from CBHW by %g", test_current, what, d);
    CHECK_MSG(pad == 0, "[%s] %s: %ld padding lanes not zero", test_current, what, pad);
    free(back);
    return d;
}

static double worst_seen; // the largest difference of a training batchnorm case (for TOL)

// ---- batchnorm against CBHW ---------------------------------------------------------------

typedef struct BnCase {
    int C, B, H, W;
    int relu, res, group_imgs, in_bias, alias; // alias: dres is dy itself (CB16 call)
} BnCase;

static void bn_cbhw_case(const BnCase *k) {
    const int C = k->C, B = k->B, H = k->H, W = k->W;
    const long hw = (long)H * W, N = B * hw, n = C * N, n16 = act_floats(ACT_CB16, C, B, H, W);
    char name[160];
    snprintf(name, sizeof name, "bn cb16 = cbhw: C%d B%d %dx%d relu%d res%d group%d bias%d alias%d", C, B, H, W,
             k->relu, k->res, k->group_imgs, k->in_bias, k->alias);
    test_begin(name);
    float *x = rnd(n, 1.3, 0.0), *res = k->res ? rnd(n, 1.0, 0.0) : NULL, *dy = rnd(n, 1.0, 0.0);
    float *gamma = rnd(C, 0.3, 1.0), *beta = rnd(C, 0.3, 0.0), *bias = k->in_bias ? rnd(C, 0.5, 0.0) : NULL;
    for (long i = 0; i < n; i++) x[i] += 0.5f + 0.3f * (float)(i / N) + 0.05f * (float)((i % N) / hw); // per-image means
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = k->relu, .train = 1,
                .group = k->group_imgs * hw, .in_bias = bias};
    const long G = bn_groups(N, a.group);
    float *y = alloc_f(n), *dx = alloc_f(n), *dres = alloc_f(n), *mean = alloc_f(C * G), *rstd = alloc_f(C * G),
          *rm = rnd(C, 0.1, 0.0), *rv = rnd(C, 0.1, 1.0), *dg = alloc_f(C), *db = alloc_f(C);
    float *rm16 = copy_f(rm, C), *rv16 = copy_f(rv, C), *mean16 = alloc_f(C * G), *rstd16 = alloc_f(C * G),
          *dg16 = alloc_f(C), *db16 = alloc_f(C);
    float *x16 = to_cb16(x, C, B, H, W), *res16 = res ? to_cb16(res, C, B, H, W) : NULL,
          *dy16 = to_cb16(dy, C, B, H, W), *y16 = alloc_f(n16), *dx16 = alloc_f(n16);
    float *dres16 = k->alias ? dy16 : alloc_f(n16);
    bn_forward(y, x, res, gamma, beta, mean, rstd, rm, rv, &a);
    bn_forward_cb16(y16, x16, res16, gamma, beta, mean16, rstd16, rm16, rv16, &a);
    // Both backwards take the ReLU mask from the CB16 output: a y within rounding of 0 must
    // not mask one and not the other.
    float *ymask = to_cbhw(y16, C, B, H, W);
    bn_backward(dx, res ? dres : NULL, dg, db, dy, k->relu ? ymask : NULL, x, gamma, mean, rstd, &a);
    bn_backward_cb16(dx16, res ? dres16 : NULL, dg16, db16, dy16, k->relu ? y16 : NULL, x16, gamma, mean16, rstd16, &a);
    double w = cb16_diff(y16, y, C, B, H, W, 0, "y");
    w = fmax(w, cb16_diff(dx16, dx, C, B, H, W, 0, "dx"));
    if (res) cb16_diff(dres16, dres, C, B, H, W, 1, "dres"); // dy masked: the same bits
    double s = fmax(fmax(rel_diff(mean16, mean, C * G), rel_diff(rstd16, rstd, C * G)),
                    fmax(rel_diff(rm16, rm, C), rel_diff(rv16, rv, C)));
    CHECK_MSG(s <= TOL, "%s: mean, rstd or running statistics off by %g", name, s);
    double gd = fmax(rel_diff(dg16, dg, C), rel_diff(db16, db, C));
    CHECK_MSG(gd <= TOL, "%s: dgamma or dbeta off by %g", name, gd);
    worst_seen = fmax(worst_seen, fmax(w, fmax(s, gd)));

    // Evaluation with the running statistics: the same arithmetic, bit for bit.
    a.train = 0;
    float *ye = alloc_f(n), *ye16 = alloc_f(n16);
    bn_forward(ye, x, res, gamma, beta, mean, rstd, rm, rv, &a);
    bn_forward_cb16(ye16, x16, res16, gamma, beta, mean16, rstd16, rm, rv, &a);
    cb16_diff(ye16, ye, C, B, H, W, 1, "evaluation y");
    float *all[] = {x, res, dy, gamma, beta, bias, y, dx, dres, mean, rstd, rm, rv, dg, db, rm16, rv16,
                    mean16, rstd16, dg16, db16, x16, res16, dy16, y16, dx16, ye, ye16, ymask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    if (!k->alias) free(dres16);
}

// ---- bit-for-bit agreements inside layers_cb16.c ------------------------------------------

static void one_sum(double *v, long n) { // one process: nothing to add
    (void)v;
    (void)n;
}

// The outputs of a forward and backward, for bit-for-bit comparison.
typedef struct BnOut {
    float *y, *dx, *dres, *mean, *rstd, *rm, *rv, *dg, *db;
} BnOut;

static BnOut bn_out(long n16, int C, int S) {
    BnOut o = {alloc_f(n16), alloc_f(n16), alloc_f(n16), alloc_f(C), alloc_f(C), alloc_f(C), alloc_f(C),
               alloc_f((long)S * C), alloc_f((long)S * C)};
    for (int c = 0; c < C; c++) o.rm[c] = 0.25f, o.rv[c] = 1.5f;
    return o;
}

static void bn_out_free(BnOut *o) {
    float *all[] = {o->y, o->dx, o->dres, o->mean, o->rstd, o->rm, o->rv, o->dg, o->db};
    for (int i = 0; i < 9; i++) free(all[i]);
}

static int same(const float *a, const float *b, long n) {
    return !memcmp(a, b, sizeof(float) * (size_t)n);
}

// The inputs of one agreement case: x, res, dy (CB16, the whole batch), gamma, beta, in_bias.
typedef struct BnIn {
    int C, relu;
    float *x, *res, *dy, *gamma, *beta, *bias;
} BnIn;

// dres separate (dy kept) so that dy can be given again.
static void bn_run(BnOut *o, const BnIn *in, const BnArgs *a, long off, long n16) {
    float *dy = copy_f(in->dy + off, n16);
    bn_forward_cb16(o->y, in->x + off, in->res + off, in->gamma, in->beta, o->mean, o->rstd, o->rm, o->rv, a);
    bn_backward_cb16(o->dx, o->dres, o->dg, o->db, dy, in->relu ? o->y : NULL, in->x + off, in->gamma, o->mean,
                     o->rstd, a);
    free(dy);
}

// One share, one process: the synchronised path (with a sum that adds nothing) gives the
// plain path's bits, as layers.c's bn_forward_sync and bn_forward_groups do.
static void bn_sync_one_case(int C, int B, int H, int W, int relu) {
    char name[96];
    snprintf(name, sizeof name, "bn cb16: synchronised with one process = plain, bit for bit (C%d B%d %dx%d)", C, B,
             H, W);
    test_begin(name);
    const long N = (long)B * H * W, n16 = act_floats(ACT_CB16, C, B, H, W), n = (long)C * N;
    float *x = rnd(n, 1.1, 0.3), *res = rnd(n, 1.0, 0.0), *dy = rnd(n, 1.0, 0.0);
    BnIn in = {C, relu, to_cb16(x, C, B, H, W), to_cb16(res, C, B, H, W), to_cb16(dy, C, B, H, W), rnd(C, 0.3, 1.0),
               rnd(C, 0.3, 0.0), rnd(C, 0.5, 0.0)};
    double buf[2 * 64 + 1];
    BnSync one = {one_sum, buf};
    BnArgs plain = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1, .in_bias = in.bias},
           sync = plain;
    sync.sync = &one;
    BnOut p = bn_out(n16, C, 1), s = bn_out(n16, C, 1);
    bn_run(&p, &in, &plain, 0, n16);
    bn_run(&s, &in, &sync, 0, n16);
    CHECK(same(p.y, s.y, n16) && same(p.dx, s.dx, n16) && same(p.dres, s.dres, n16));
    CHECK(same(p.mean, s.mean, C) && same(p.rstd, s.rstd, C) && same(p.rm, s.rm, C) && same(p.rv, s.rv, C));
    CHECK(same(p.dg, s.dg, C) && same(p.db, s.db, C));
    bn_out_free(&p), bn_out_free(&s);
    float *all[] = {x, res, dy, in.x, in.res, in.dy, in.gamma, in.beta, in.bias};
    for (int i = 0; i < 9; i++) free(all[i]);
}

// S "processes" as S threads: each sum hands over its buffer, and every process gets the
// tree sum of shares.h over all of them (what dist.h's sum gives).
enum { SIM_MAXP = 4, SIM_MAXC = 64 };
static pthread_barrier_t sim_barrier;
static double *sim_slot[SIM_MAXP], sim_total[SIM_MAXP * (2 * SIM_MAXC + 1)];
static int sim_procs;
static __thread int sim_rank;

static void sim_sum(double *v, long n) {
    sim_slot[sim_rank] = v;
    pthread_barrier_wait(&sim_barrier);
    if (sim_rank == 0) {
        for (int p = 0; p < sim_procs; p++) memcpy(sim_total + p * n, sim_slot[p], sizeof(double) * (size_t)n);
        shares_sum_double(sim_total, sim_procs, n, n);
    }
    pthread_barrier_wait(&sim_barrier);
    memcpy(v, sim_total, sizeof(double) * (size_t)n);
}

typedef struct SimProc {
    int rank;
    BnOut *out;
    const BnIn *in;
    BnArgs a;
    long off, n16;
    double buf[2 * SIM_MAXC + 1];
} SimProc;

static void *sim_run(void *arg) {
    SimProc *p = arg;
    sim_rank = p->rank;
    BnSync sync = {sim_sum, p->buf};
    p->a.sync = &sync;
    bn_run(p->out, p->in, &p->a, p->off, p->n16);
    return NULL;
}

// S shares of one call (no sync) = S processes with one share each and synchronised
// statistics, bit for bit: each share's y, dx and dres, the statistics, and share j's
// dgamma and dbeta block = process j's. Also: the shares with a sync of one process = the
// same without it; and the shares path within TOL of layers.c's on CBHW shares.
static void bn_shares_case(int C, int S, const int *imgs, int H, int W, int relu) {
    char name[128];
    snprintf(name, sizeof name, "bn cb16: %d shares of one call = %d synchronised processes, bit for bit (C%d %dx%d)",
             S, S, C, H, W);
    test_begin(name);
    const long hw = (long)H * W;
    int lo[SIM_MAXP + 1] = {0};
    for (int j = 0; j < S; j++) lo[j + 1] = lo[j] + imgs[j];
    const int B = lo[S];
    const long N = B * hw, n = (long)C * N, n16 = act_floats(ACT_CB16, C, B, H, W);
    // The shares side by side in CBHW (share j: (C, n_j, H, W)) and each converted to CB16.
    float *x = rnd(n, 1.2, 0.6), *res = rnd(n, 1.0, 0.0), *dy = rnd(n, 1.0, 0.0);
    BnIn in = {C, relu, alloc_f(n16), alloc_f(n16), alloc_f(n16), rnd(C, 0.3, 1.0), rnd(C, 0.3, 0.0), rnd(C, 0.5, 0.0)};
    for (int j = 0; j < S; j++) {
        const long o = act_floats(ACT_CBHW, C, lo[j], H, W), o16 = act_floats(ACT_CB16, C, lo[j], H, W);
        const long m16 = act_floats(ACT_CB16, C, imgs[j], H, W);
        float *v[3] = {to_cb16(x + o, C, imgs[j], H, W), to_cb16(res + o, C, imgs[j], H, W),
                       to_cb16(dy + o, C, imgs[j], H, W)};
        memcpy(in.x + o16, v[0], sizeof(float) * (size_t)m16);
        memcpy(in.res + o16, v[1], sizeof(float) * (size_t)m16);
        memcpy(in.dy + o16, v[2], sizeof(float) * (size_t)m16);
        free(v[0]), free(v[1]), free(v[2]);
    }
    double parts[SIM_MAXP * (2 * SIM_MAXC + 1)];
    BnArgs a = {.C = C, .N = N, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1, .in_bias = in.bias,
                .shares = S, .share_lo = lo, .hw = hw, .parts = parts, .grad_stride = C};
    BnOut one = bn_out(n16, C, S), proc[SIM_MAXP];
    bn_run(&one, &in, &a, 0, n16);

    SimProc sp[SIM_MAXP];
    pthread_t th[SIM_MAXP];
    sim_procs = S;
    pthread_barrier_init(&sim_barrier, NULL, (unsigned)S);
    for (int j = 0; j < S; j++) {
        proc[j] = bn_out(n16, C, 1);
        sp[j] = (SimProc){.rank = j, .out = &proc[j], .in = &in, .off = act_floats(ACT_CB16, C, lo[j], H, W),
                          .n16 = act_floats(ACT_CB16, C, imgs[j], H, W)};
        sp[j].a = (BnArgs){.C = C, .N = imgs[j] * hw, .eps = 1e-5f, .momentum = 0.1f, .relu = relu, .train = 1,
                           .in_bias = in.bias};
        pthread_create(&th[j], NULL, sim_run, &sp[j]);
    }
    for (int j = 0; j < S; j++) pthread_join(th[j], NULL);
    pthread_barrier_destroy(&sim_barrier);
    int ok_out = 1, ok_stats = 1, ok_grad = 1;
    for (int j = 0; j < S; j++) {
        const long o = sp[j].off, m = sp[j].n16;
        ok_out &= same(one.y + o, proc[j].y, m) && same(one.dx + o, proc[j].dx, m) && same(one.dres + o, proc[j].dres, m);
        ok_stats &= same(one.mean, proc[j].mean, C) && same(one.rstd, proc[j].rstd, C) && same(one.rm, proc[j].rm, C) &&
                    same(one.rv, proc[j].rv, C);
        ok_grad &= same(one.dg + j * C, proc[j].dg, C) && same(one.db + j * C, proc[j].db, C);
    }
    CHECK_MSG(ok_out, "%s: y, dx or dres differ from the processes'", name);
    CHECK_MSG(ok_stats, "%s: mean, rstd or running statistics differ from the processes'", name);
    CHECK_MSG(ok_grad, "%s: a share's dgamma or dbeta differs from its process's", name);

    // The shares with a sync of one process: the same bits.
    double buf[2 * SIM_MAXC + 1];
    BnSync none = {one_sum, buf};
    BnArgs as = a;
    as.sync = &none;
    BnOut two = bn_out(n16, C, S);
    bn_run(&two, &in, &as, 0, n16);
    CHECK(same(two.y, one.y, n16) && same(two.dx, one.dx, n16) && same(two.dres, one.dres, n16) &&
          same(two.mean, one.mean, C) && same(two.rv, one.rv, C) && same(two.dg, one.dg, (long)S * C));

    // layers.c's shares path on the CBHW shares: the same to rounding.
    BnOut ref = bn_out(n, C, S);
    float *dyc = copy_f(dy, n);
    float *ymask = alloc_f(n); // the ReLU mask of the CB16 output, as in bn_cbhw_case
    for (int j = 0; j < S; j++) {
        float *v = to_cbhw(one.y + sp[j].off, C, imgs[j], H, W);
        memcpy(ymask + act_floats(ACT_CBHW, C, lo[j], H, W), v, sizeof(float) * (size_t)(C * imgs[j] * hw));
        free(v);
    }
    bn_forward(ref.y, x, res, in.gamma, in.beta, ref.mean, ref.rstd, ref.rm, ref.rv, &a);
    bn_backward(ref.dx, ref.dres, ref.dg, ref.db, dyc, relu ? ymask : NULL, x, in.gamma, ref.mean, ref.rstd, &a);
    double w = 0;
    for (int j = 0; j < S; j++) {
        const long o = act_floats(ACT_CBHW, C, lo[j], H, W), o16 = sp[j].off;
        w = fmax(w, cb16_diff(one.y + o16, ref.y + o, C, imgs[j], H, W, 0, "a share's y"));
        w = fmax(w, cb16_diff(one.dx + o16, ref.dx + o, C, imgs[j], H, W, 0, "a share's dx"));
    }
    w = fmax(w, fmax(rel_diff(one.mean, ref.mean, C), rel_diff(one.rstd, ref.rstd, C)));
    w = fmax(w, fmax(rel_diff(one.rm, ref.rm, C), rel_diff(one.rv, ref.rv, C)));
    w = fmax(w, fmax(rel_diff(one.dg, ref.dg, (long)S * C), rel_diff(one.db, ref.db, (long)S * C)));
    CHECK_MSG(w <= TOL, "%s: off layers.c's shares path by %g", name, w);
    worst_seen = fmax(worst_seen, w);

    bn_out_free(&one), bn_out_free(&two), bn_out_free(&ref);
    for (int j = 0; j < S; j++) bn_out_free(&proc[j]);
    float *all[] = {x, res, dy, dyc, ymask, in.x, in.res, in.dy, in.gamma, in.beta, in.bias};
    for (int i = 0; i < 11; i++) free(all[i]);
}

// ---- shortcut and pool ----------------------------------------------------------------

static void shortcut_case(int Cin, int Cout, int B, int H, int W) {
    char name[96];
    snprintf(name, sizeof name, "shortcut cb16 = cbhw, bit for bit: %d -> %d channels, B%d %dx%d", Cin, Cout, B, H, W);
    test_begin(name);
    const int Ho = (H + 1) / 2, Wo = (W + 1) / 2;
    const long ni = (long)Cin * B * H * W, no = (long)Cout * B * Ho * Wo;
    float *x = rnd(ni, 1.0, 0.0), *out = alloc_f(no), *x16 = to_cb16(x, Cin, B, H, W);
    float *out16 = alloc_f(act_floats(ACT_CB16, Cout, B, Ho, Wo));
    shortcut_a_forward(out, x, Cin, Cout, B, H, W);
    shortcut_a_forward_cb16(out16, x16, Cin, Cout, B, H, W);
    cb16_diff(out16, out, Cout, B, Ho, Wo, 1, "out");
    float *dout = rnd(no, 1.0, 0.0), *din = rnd(ni, 1.0, 0.0), *dout16 = to_cb16(dout, Cout, B, Ho, Wo),
          *din16 = to_cb16(din, Cin, B, H, W);
    shortcut_a_backward_acc(din, dout, Cin, Cout, B, H, W);
    shortcut_a_backward_acc_cb16(din16, dout16, Cin, Cout, B, H, W);
    cb16_diff(din16, din, Cin, B, H, W, 1, "din");
    float *all[] = {x, out, x16, out16, dout, din, dout16, din16};
    for (int i = 0; i < 8; i++) free(all[i]);
}

static void pool_case(int C, int B, int H, int W) {
    char name[96];
    snprintf(name, sizeof name, "avgpool cb16 = cbhw, bit for bit: C%d B%d %dx%d", C, B, H, W);
    test_begin(name);
    const long n = (long)C * B * H * W;
    float *x = rnd(n, 1.0, 0.2), *out = alloc_f((long)B * C), *out16 = alloc_f((long)B * C),
          *x16 = to_cb16(x, C, B, H, W);
    avgpool_forward(out, x, C, B, H * W);
    avgpool_forward_cb16(out16, x16, C, B, H * W);
    CHECK(same(out16, out, (long)B * C));
    float *dout = rnd((long)B * C, 1.0, 0.0), *dx = alloc_f(n), *dx16 = alloc_f(act_floats(ACT_CB16, C, B, H, W));
    avgpool_backward(dx, dout, C, B, H * W);
    avgpool_backward_cb16(dx16, dout, C, B, H * W);
    cb16_diff(dx16, dx, C, B, H, W, 1, "dx");
    float *all[] = {x, out, out16, x16, dout, dx, dx16};
    for (int i = 0; i < 7; i++) free(all[i]);
}

void suite_layers_cb16(void) {
    rng_seed(&rng, 20261207);
    static const int chans[] = {16, 32, 64, 20};
    static const int planes[][3] = {{1, 32, 32}, {3, 16, 16}, {5, 8, 8}, {2, 7, 7}, {4, 5, 3}};
    int i = 0;
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 5; p++, i++) {
            // relu, residual, ghost groups (0, 1 or 2 images), folded bias and dres = dy in turn
            BnCase k = {chans[c], planes[p][0], planes[p][1], planes[p][2], i & 1, (i >> 1) & 1, i % 3, (i / 3) & 1,
                        (i >> 2) & 1};
            bn_cbhw_case(&k);
        }
    // More ghost groups than a batch of runs (64), groups of 1 and 3 images (the last shorter).
    bn_cbhw_case(&(BnCase){20, 70, 3, 3, 1, 1, 1, 1, 1});
    bn_cbhw_case(&(BnCase){32, 70, 2, 5, 0, 1, 3, 0, 0});
    // More chunks than one parallel wave (66 * 4096 pixels > 256 chunks of 1024).
    bn_cbhw_case(&(BnCase){16, 66, 64, 64, 1, 0, 0, 0, 0});
    printf("layers_cb16: largest training batchnorm difference from CBHW %.3g (TOL %.3g)\n", worst_seen, TOL);

    bn_sync_one_case(16, 3, 16, 16, 1);
    bn_sync_one_case(20, 5, 7, 7, 0);
    bn_sync_one_case(64, 2, 8, 8, 1);
    // Shares of uneven sizes (4: the partials added as the tree ((0+1)+(2+3)) of shares.h).
    static const int two[] = {3, 2}, three[] = {2, 1, 3}, three_b[] = {1, 4, 2}, four[] = {1, 2, 1, 3};
    bn_shares_case(16, 2, two, 16, 16, 1);
    bn_shares_case(20, 3, three, 7, 7, 1);
    bn_shares_case(64, 3, three_b, 8, 8, 0);
    bn_shares_case(32, 2, two, 5, 3, 1);
    bn_shares_case(20, 4, four, 6, 6, 1);

    static const int sc[][2] = {{16, 32}, {32, 64}, {20, 40}, {16, 16}, {20, 24}, {8, 40}};
    for (int s = 0; s < 6; s++) {
        shortcut_case(sc[s][0], sc[s][1], 3, 32, 32);
        shortcut_case(sc[s][0], sc[s][1], 2, 7, 7);
        shortcut_case(sc[s][0], sc[s][1], 1, 5, 9);
    }
    for (int c = 0; c < 4; c++) {
        pool_case(chans[c], 3, 8, 8);
        pool_case(chans[c], 2, 7, 5);
    }
}
