// test_onnx_export.c: the ONNX export (onnx_export.h), decoded back with protobuf-c and
// checked without Python or ONNX Runtime (make onnx-test runs those):
//  - the model's header: IR 7, opset 13, input "pixels" (N, C, H, W), outputs "logits" and
//    "probabilities" (N, classes);
//  - every weight is an initializer under its PyTorch name, with the model's shape and bytes;
//    every batchnorm a BatchNormalization node; the option-A Pad's zeros split 8 + 8 (16 ->
//    32) and 16 + 16 (32 -> 64);
//  - the decoded graph, run by the small reference interpreter below (double precision,
//    only the operators the export writes), gives the logits of resnet_forward in
//    evaluation, for resnet and preact with shortcut A and B and for caffe, with random
//    weights and batch-norm statistics so that every layer matters.
#include "cifar.h"
#include "fmnist.h"
#include "onnx.pb-c.h"
#include "onnx_export.h"
#include "predict.h"
#include "resnet.h"
#include "rng.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

// ---- a reference interpreter of the exported graph ------------------------------------

enum { MAXV = 2000 };

typedef struct Value {
    const char *name;
    int nd;
    long d[4];
    double *f;     // float values (as doubles)
    int64_t *i;    // or int64 values
    long n;
} Value;

typedef struct Interp {
    Value v[MAXV];
    int nv;
    int bad; // an unknown operator or input
} Interp;

static Value *find(Interp *t, const char *name) {
    for (int i = t->nv - 1; i >= 0; i--)
        if (!strcmp(t->v[i].name, name)) return &t->v[i];
    t->bad = 1;
    CHECK_MSG(0, "no value '%s' in the graph", name);
    return NULL;
}

static Value *add(Interp *t, const char *name, int nd, const long *d) {
    if (t->nv == MAXV) abort();
    Value *v = &t->v[t->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->nd = nd;
    v->n = 1;
    for (int k = 0; k < nd; k++) v->n *= v->d[k] = d[k];
    v->f = calloc((size_t)(v->n ? v->n : 1), sizeof(double));
    return v;
}

static void interp_free(Interp *t) {
    for (int i = 0; i < t->nv; i++) {
        free(t->v[i].f);
        free(t->v[i].i);
    }
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}

static long attr_i(const Onnx__NodeProto *n, const char *name, long dflt) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a ? (long)a->i : dflt;
}

static long attr_ints(const Onnx__NodeProto *n, const char *name, int k, long dflt) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && (size_t)k < a->n_ints ? (long)a->ints[k] : dflt;
}

// An element of b broadcast against a (N, C, H, W): b the same shape, a scalar, or (1, C, 1, 1).
static double bcast(const Value *a, const Value *b, long idx) {
    if (b->n == a->n) return b->f[idx];
    if (b->n == 1) return b->f[0];
    long hw = a->d[2] * a->d[3], c = (idx / hw) % a->d[1];
    return b->f[c];
}

static void run_node(Interp *t, const Onnx__NodeProto *n) {
    const char *op = n->op_type, *out = n->output[0];
    Value *x = find(t, n->input[0]);
    if (!x) return;
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Div")) {
        Value *b = find(t, n->input[1]);
        if (!b) return;
        Value *y = add(t, out, x->nd, x->d);
        for (long i = 0; i < x->n; i++) {
            double u = x->f[i], w = bcast(x, b, i);
            y->f[i] = op[0] == 'A' ? u + w : op[0] == 'S' ? u - w : u / w;
        }
    } else if (!strcmp(op, "Relu")) {
        Value *y = add(t, out, x->nd, x->d);
        for (long i = 0; i < x->n; i++) y->f[i] = x->f[i] > 0 ? x->f[i] : 0;
    } else if (!strcmp(op, "Conv")) {
        Value *w = find(t, n->input[1]), *bias = n->n_input > 2 ? find(t, n->input[2]) : NULL;
        if (!w) return;
        const long N = x->d[0], Ci = x->d[1], H = x->d[2], W = x->d[3], Co = w->d[0], k = w->d[2];
        const long s = attr_ints(n, "strides", 0, 1), p = attr_ints(n, "pads", 0, 0);
        CHECK_EQ_INT(attr_ints(n, "kernel_shape", 0, k), k);
        const long Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1, d[4] = {N, Co, Ho, Wo};
        Value *y = add(t, out, 4, d);
        for (long b = 0; b < N; b++)
            for (long o = 0; o < Co; o++)
                for (long oy = 0; oy < Ho; oy++)
                    for (long ox = 0; ox < Wo; ox++) {
                        double acc = bias ? bias->f[o] : 0;
                        for (long c = 0; c < Ci; c++)
                            for (long ky = 0; ky < k; ky++)
                                for (long kx = 0; kx < k; kx++) {
                                    long iy = oy * s - p + ky, ix = ox * s - p + kx;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                    acc += x->f[((b * Ci + c) * H + iy) * W + ix] * w->f[((o * Ci + c) * k + ky) * k + kx];
                                }
                        y->f[((b * Co + o) * Ho + oy) * Wo + ox] = acc;
                    }
    } else if (!strcmp(op, "BatchNormalization")) {
        Value *g = find(t, n->input[1]), *be = find(t, n->input[2]), *mu = find(t, n->input[3]),
              *var = find(t, n->input[4]);
        if (!g || !be || !mu || !var) return;
        const Onnx__AttributeProto *eps = attr(n, "epsilon");
        CHECK(eps && eps->f == RESNET_BN_EPS);
        Value *y = add(t, out, x->nd, x->d);
        const long hw = x->d[2] * x->d[3];
        for (long i = 0; i < x->n; i++) {
            long c = (i / hw) % x->d[1];
            y->f[i] = (x->f[i] - mu->f[c]) / sqrt(var->f[c] + (double)eps->f) * g->f[c] + be->f[c];
        }
    } else if (!strcmp(op, "Slice")) { // axes 2 and 3 only, as the export writes it
        Value *st = find(t, n->input[1]), *en = find(t, n->input[2]), *ax = find(t, n->input[3]),
              *sp = find(t, n->input[4]);
        if (!st || !en || !ax || !sp) return;
        CHECK(ax->n == 2 && ax->i[0] == 2 && ax->i[1] == 3);
        long lo[2] = {st->i[0], st->i[1]}, hi[2], step[2] = {sp->i[0], sp->i[1]};
        for (int a = 0; a < 2; a++) hi[a] = en->i[a] < x->d[2 + a] ? en->i[a] : x->d[2 + a];
        const long d[4] = {x->d[0], x->d[1], (hi[0] - lo[0] + step[0] - 1) / step[0],
                           (hi[1] - lo[1] + step[1] - 1) / step[1]};
        Value *y = add(t, out, 4, d);
        for (long bc = 0; bc < d[0] * d[1]; bc++)
            for (long oy = 0; oy < d[2]; oy++)
                for (long ox = 0; ox < d[3]; ox++)
                    y->f[(bc * d[2] + oy) * d[3] + ox] =
                        x->f[(bc * x->d[2] + lo[0] + oy * step[0]) * x->d[3] + lo[1] + ox * step[1]];
    } else if (!strcmp(op, "Pad")) { // constant zeros
        Value *pads = find(t, n->input[1]);
        if (!pads) return;
        CHECK(pads->n == 8);
        long d[4];
        for (int a = 0; a < 4; a++) d[a] = x->d[a] + pads->i[a] + pads->i[4 + a];
        Value *y = add(t, out, 4, d);
        for (long b = 0; b < x->d[0]; b++)
            for (long c = 0; c < x->d[1]; c++)
                for (long r = 0; r < x->d[2]; r++)
                    for (long q = 0; q < x->d[3]; q++)
                        y->f[(((b + pads->i[0]) * d[1] + c + pads->i[1]) * d[2] + r + pads->i[2]) * d[3] + q + pads->i[3]] =
                            x->f[((b * x->d[1] + c) * x->d[2] + r) * x->d[3] + q];
    } else if (!strcmp(op, "GlobalAveragePool")) {
        const long d[4] = {x->d[0], x->d[1], 1, 1}, hw = x->d[2] * x->d[3];
        Value *y = add(t, out, 4, d);
        for (long i = 0; i < x->d[0] * x->d[1]; i++) {
            double s = 0;
            for (long j = 0; j < hw; j++) s += x->f[i * hw + j];
            y->f[i] = s / (double)hw;
        }
    } else if (!strcmp(op, "Flatten")) {
        CHECK_EQ_INT(attr_i(n, "axis", 1), 1);
        const long d[2] = {x->d[0], x->n / x->d[0]};
        Value *y = add(t, out, 2, d);
        memcpy(y->f, x->f, sizeof(double) * (size_t)x->n);
    } else if (!strcmp(op, "Gemm")) {
        Value *w = find(t, n->input[1]), *b = find(t, n->input[2]);
        if (!w || !b) return;
        CHECK_EQ_INT(attr_i(n, "transB", 0), 1);
        const long d[2] = {x->d[0], w->d[0]};
        Value *y = add(t, out, 2, d);
        for (long r = 0; r < d[0]; r++)
            for (long o = 0; o < d[1]; o++) {
                double acc = b->f[o];
                for (long c = 0; c < x->d[1]; c++) acc += x->f[r * x->d[1] + c] * w->f[o * w->d[1] + c];
                y->f[r * d[1] + o] = acc;
            }
    } else if (!strcmp(op, "Softmax")) {
        CHECK_EQ_INT(attr_i(n, "axis", -1), 1);
        Value *y = add(t, out, x->nd, x->d);
        for (long r = 0; r < x->d[0]; r++) {
            const double *z = x->f + r * x->d[1];
            double mx = z[0], s = 0;
            for (long k = 1; k < x->d[1]; k++) mx = z[k] > mx ? z[k] : mx;
            for (long k = 0; k < x->d[1]; k++) s += y->f[r * x->d[1] + k] = exp(z[k] - mx);
            for (long k = 0; k < x->d[1]; k++) y->f[r * x->d[1] + k] /= s;
        }
    } else {
        t->bad = 1;
        CHECK_MSG(0, "operator %s is not one the export writes", op);
    }
}

// Loads the initializers, sets "pixels" (N, C, H, W) and runs the nodes in order.
static void interp_run(Interp *t, const Onnx__GraphProto *g, const double *pixels, const long *dims) {
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *w = g->initializer[i];
        long d[4] = {1, 1, 1, 1};
        for (size_t k = 0; k < w->n_dims && k < 4; k++) d[k] = (long)w->dims[k];
        Value *v = add(t, w->name, (int)w->n_dims, d);
        if (w->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
            CHECK_EQ_INT(w->raw_data.len, sizeof(int64_t) * (size_t)v->n);
            v->i = calloc((size_t)v->n, sizeof(int64_t));
            memcpy(v->i, w->raw_data.data, w->raw_data.len);
        } else {
            CHECK_EQ_INT(w->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
            CHECK_EQ_INT(w->raw_data.len, sizeof(float) * (size_t)v->n);
            const float *f = (const float *)w->raw_data.data;
            for (long k = 0; k < v->n; k++) v->f[k] = f[k];
        }
    }
    Value *in = add(t, "pixels", 4, dims);
    memcpy(in->f, pixels, sizeof(double) * (size_t)in->n);
    for (size_t i = 0; i < g->n_node && !t->bad; i++) run_node(t, g->node[i]);
}

// ---- the checks ------------------------------------------------------------------------

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    return NULL;
}

static int count_op(const Onnx__GraphProto *g, const char *op) {
    int n = 0;
    for (size_t i = 0; i < g->n_node; i++) n += !strcmp(g->node[i]->op_type, op);
    return n;
}

// Dimensions of a graph input or output: "N" then the values.
static int io_dims_are(const Onnx__ValueInfoProto *v, const char *name, const long *d, int nd) {
    if (strcmp(v->name, name) || !v->type || !v->type->tensor_type || !v->type->tensor_type->shape) return 0;
    const Onnx__TensorShapeProto *s = v->type->tensor_type->shape;
    if (s->n_dim != (size_t)nd + 1 || v->type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) return 0;
    if (s->dim[0]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM || strcmp(s->dim[0]->dim_param, "N"))
        return 0;
    for (int k = 0; k < nd; k++)
        if (s->dim[k + 1]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || s->dim[k + 1]->dim_value != d[k])
            return 0;
    return 1;
}

// Random weights, and batch-norm statistics away from (0, 1), so that each layer shows.
static void randomise(ResNet *m, Rng *r) {
    resnet_init_weights(m, r);
    for (int i = 0; i < m->ntensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        for (long k = 0; k < t->n; k++) {
            float *p = m->params + t->off + k;
            if (t->kind == PARAM_BN_GAMMA) *p = 0.5f + (float)rng_uniform(r);
            else if (t->kind == PARAM_BN_BETA || t->kind == PARAM_CONV_B) *p = 0.4f * ((float)rng_uniform(r) - 0.5f);
            else if (t->kind == PARAM_FC_W) *p *= 0.05f; // logits of a few units: no probability is 0 or 1
        }
    }
    for (int j = 0; j < m->nbns; j++) {
        BnLayer *bn = m->bns[j];
        for (int c = 0; c < bn->C; c++) {
            m->stats[bn->run + c] = 0.6f * ((float)rng_uniform(r) - 0.5f);
            m->stats[bn->run + bn->C + c] = 0.3f + 1.5f * (float)rng_uniform(r);
        }
    }
}

static void check_model(const char *what, const ModelOptions *o, int dataset) {
    char title[128];
    snprintf(title, sizeof title, "ONNX export of %s", what);
    test_begin(title);
    ResNet m;
    Err e = {0};
    const int B = 2;
    if (!CHECK_MSG(resnet_create(&m, o, B, &e) == ERR_OK, "%s", e.msg)) return;
    Rng r;
    rng_seed(&r, 34);
    randomise(&m, &r);
    OnnxExportOptions xo;
    onnx_export_options(dataset, "test", &xo);
    uint8_t *buf;
    size_t len;
    if (!CHECK_MSG(onnx_export_pack(&m, &xo, &buf, &len, &e) == ERR_OK, "%s", e.msg)) {
        resnet_free(&m);
        return;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    CHECK_MSG(mp != NULL, "%s: the export does not decode as an onnx.ModelProto", what);
    if (!mp) {
        free(buf);
        resnet_free(&m);
        return;
    }
    CHECK_EQ_INT(mp->ir_version, 7);
    CHECK(mp->n_opset_import == 1 && !strcmp(mp->opset_import[0]->domain, "") && mp->opset_import[0]->version == 13);
    CHECK(!strcmp(mp->producer_name, "onecycle"));
    const Onnx__GraphProto *g = mp->graph;
    const int C = o->channels, H = o->height, W = o->width, K = o->classes;
    const long in_d[3] = {C, H, W}, out_d[1] = {K};
    CHECK(g->n_input == 1 && io_dims_are(g->input[0], "pixels", in_d, 3));
    CHECK(g->n_output == 2 && io_dims_are(g->output[0], "logits", out_d, 1) &&
          io_dims_are(g->output[1], "probabilities", out_d, 1));

    // Every tensor of the model, under its name, with its shape and bytes.
    int same = 1;
    for (int i = 0; i < m.ntensors; i++) {
        const ParamTensor *t = &m.tensors[i];
        const Onnx__TensorProto *w = initializer(g, t->name);
        int ok = w && w->n_dims == (size_t)t->ndim && w->raw_data.len == sizeof(float) * (size_t)t->n &&
                 !memcmp(w->raw_data.data, m.params + t->off, w->raw_data.len);
        for (int d = 0; ok && d < t->ndim; d++) ok = w->dims[d] == t->shape[d];
        if (!ok && same) CHECK_MSG(0, "%s: %s missing or differs", what, t->name);
        same &= ok;
    }
    CHECK(same);
    CHECK_EQ_INT(count_op(g, "BatchNormalization"), m.nbns);
    int convs = 0;
    for (int i = 0; i < m.ntensors; i++) convs += m.tensors[i].kind == PARAM_CONV;
    CHECK_EQ_INT(count_op(g, "Conv"), convs);
    const Onnx__TensorProto *p2 = initializer(g, "layer2.0.shortcut.pads"), *p3 = initializer(g, "layer3.0.shortcut.pads");
    if (o->arch != ARCH_CAFFE && !o->shortcut_b) { // option A: the zeros on both sides
        CHECK_EQ_INT(count_op(g, "Pad"), 2);
        CHECK(p2 && p3 && p2->raw_data.len == 64 && p3->raw_data.len == 64);
        if (p2 && p3 && p2->raw_data.len == 64 && p3->raw_data.len == 64) {
            int64_t a[8], b[8];
            memcpy(a, p2->raw_data.data, 64);
            memcpy(b, p3->raw_data.data, 64);
            const int64_t want_a[8] = {0, 8, 0, 0, 0, 8, 0, 0}, want_b[8] = {0, 16, 0, 0, 0, 16, 0, 0};
            CHECK_MSG(!memcmp(a, want_a, 64), "16 -> 32: pads %ld %ld (before, after), want 8 8", (long)a[1], (long)a[5]);
            CHECK_MSG(!memcmp(b, want_b, 64), "32 -> 64: pads %ld %ld, want 16 16", (long)b[1], (long)b[5]);
        }
    } else {
        CHECK_EQ_INT(count_op(g, "Pad"), 0);
        CHECK(!p2 && !p3);
    }

    // The graph, interpreted, against the model in evaluation.
    const long img = (long)C * H * W, d[4] = {B, C, H, W};
    double *pixels = malloc(sizeof(double) * (size_t)(B * img));
    float *x = malloc(sizeof(float) * (size_t)(B * img)); // (C, B, H, W), normalised as batch.c does
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (long j = 0; j < (long)H * W; j++) {
                int v = (int)rng_below(&r, 256);
                pixels[(long)b * img + (long)c * H * W + j] = v;
                x[((long)c * B + b) * H * W + j] = ((float)v / 255.0f - xo.mean[c]) / xo.std[c];
            }
    int labels[2] = {0, 0};
    resnet_forward(&m, x, labels, B, 0, NULL);
    static Interp t;
    memset(&t, 0, sizeof t);
    interp_run(&t, g, pixels, d);
    if (!t.bad) {
        const Value *lg = find(&t, "logits"), *pr = find(&t, "probabilities");
        CHECK(lg && pr && lg->n == (long)B * K && pr->n == (long)B * K);
        double worst = 0, worst_p = 0, scale = 0;
        for (long i = 0; lg && pr && i < (long)B * K; i++) {
            double dl = fabs(lg->f[i] - m.logits[i]);
            worst = dl > worst ? dl : worst;
            scale = fabs(m.logits[i]) > scale ? fabs(m.logits[i]) : scale;
        }
        for (int b = 0; lg && pr && b < B; b++) { // predict's softmax of the model's logits
            double prob[128];
            int top[1];
            predict_top(m.logits + (long)b * K, K, 1, prob, top);
            for (int k = 0; k < K; k++) {
                double dp = fabs(pr->f[(long)b * K + k] - prob[k]);
                worst_p = dp > worst_p ? dp : worst_p;
            }
        }
        CHECK_MSG(worst <= 1e-4 * (scale > 1 ? scale : 1), "%s: logits differ by %.3g (largest |logit| %.3g)", what, worst,
                  scale);
        CHECK_MSG(worst_p <= 1e-5, "%s: probabilities differ by %.3g", what, worst_p);
        printf("    %s: the interpreted graph within %.2e of resnet_forward's logits (largest |logit| %.2f), %.2e of "
               "its probabilities\n",
               what, worst, scale, worst_p);
    }
    interp_free(&t);
    free(pixels);
    free(x);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(buf);
    resnet_free(&m);
}

void suite_onnx_export(void) {
    static const struct {
        const char *what;
        int arch, shortcut_b;
    } variants[] = {
        {"resnet-14 option A", ARCH_RESNET, 0}, {"resnet-14 option B", ARCH_RESNET, 1},
        {"preact-14 option A", ARCH_PREACT, 0}, {"preact-14 option B", ARCH_PREACT, 1},
        {"caffe-14", ARCH_CAFFE, 0},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        ModelOptions o = {.arch = variants[i].arch, .depth = 14, .shortcut_b = variants[i].shortcut_b};
        model_options_set_input(&o, &cifar10_shape);
        check_model(variants[i].what, &o, DATASET_CIFAR10);
    }
    ModelOptions f = {.arch = ARCH_RESNET, .depth = 8};
    model_options_set_input(&f, &fmnist_shape);
    check_model("resnet-8 option A on Fashion-MNIST (1 x 28 x 28)", &f, DATASET_FMNIST);
}
