// onnx_export.c: a model as an ONNX graph (include/onnx_export.h), built as protobuf-c
// messages of the official schema (build/gen/onnx.pb-c.h) and packed by libprotobuf-c.
//
// Every message, string and small array of the graph is allocated by the Builder and freed
// with it; the weight tensors' raw_data point into the model's own parameters and statistics
// (little-endian float32 is what ONNX stores, and what this program runs on).
#include "onnx_export.h"
#include "cifar.h"
#include "dataset.h"
#include "fmnist.h"
#include "onnx.pb-c.h"
#include "outfile.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw_data is little-endian: a big-endian host must swap");

void onnx_export_options(int dataset, const char *version, OnnxExportOptions *n) {
    memset(n, 0, sizeof *n);
    n->version = version;
    n->dataset = dataset >= DATASET_CIFAR10 && dataset <= DATASET_FMNIST ? dataset_names[dataset] : NULL;
    if (dataset == DATASET_FMNIST) {
        n->mean[0] = fmnist_mean, n->std[0] = fmnist_std;
        return;
    }
    const float *mean = dataset == DATASET_CIFAR100 ? cifar100_mean : cifar10_mean,
                *std = dataset == DATASET_CIFAR100 ? cifar100_std : cifar10_std;
    memcpy(n->mean, mean, sizeof n->mean);
    memcpy(n->std, std, sizeof n->std);
}

// ---- the builder: the graph's messages, and everything they point to -----------------------

typedef struct Builder {
    const ResNet *m;
    void **owned; // every allocation, freed at the end
    size_t nowned, capowned;
    Onnx__NodeProto **nodes;
    size_t nnodes, capnodes;
    Onnx__TensorProto **inits;
    size_t ninits, capinits;
    int slice_consts; // the option-A Slice's starts, axes and steps are in inits
} Builder;

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    *cap = *cap ? 2 * *cap : 64;
    return xrealloc(p, *cap * size);
}

static void *own(Builder *b, void *p) {
    b->owned = grow(b->owned, &b->capowned, b->nowned + 1, sizeof(void *));
    b->owned[b->nowned++] = p;
    return p;
}

static void *alloc(Builder *b, size_t n) {
    return own(b, xcalloc(1, n));
}

static char *str(Builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *str(Builder *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = alloc(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void builder_free(Builder *b) {
    for (size_t i = 0; i < b->nowned; i++) free(b->owned[i]);
    free(b->owned);
    free(b->nodes);
    free(b->inits);
}

// An initializer: float32 (data: n floats, not copied) or int64 (copied).
static Onnx__TensorProto *tensor(Builder *b, const char *name, const long *dims, int ndim, int dtype, const void *data,
                                 size_t bytes) {
    Onnx__TensorProto *t = alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = str(b, "%s", name);
    t->n_dims = (size_t)ndim;
    t->dims = alloc(b, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
    t->has_data_type = 1;
    t->data_type = dtype;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = (uint8_t *)data; // packed, never written through
    b->inits = grow(b->inits, &b->capinits, b->ninits + 1, sizeof *b->inits);
    b->inits[b->ninits++] = t;
    return t;
}

static void init_f32(Builder *b, const char *name, const long *dims, int ndim, const float *data) {
    long n = 1;
    for (int d = 0; d < ndim; d++) n *= dims[d];
    tensor(b, name, dims, ndim, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, data, sizeof(float) * (size_t)n);
}

// Small constants (the normalisation's) copied into the builder.
static void init_f32_copy(Builder *b, const char *name, const long *dims, int ndim, const float *v, int n) {
    float *data = alloc(b, sizeof(float) * (size_t)n);
    memcpy(data, v, sizeof(float) * (size_t)n);
    init_f32(b, name, dims, ndim, data);
}

static void init_i64(Builder *b, const char *name, const int64_t *v, int n) {
    int64_t *data = alloc(b, sizeof(int64_t) * (size_t)n);
    memcpy(data, v, sizeof(int64_t) * (size_t)n);
    const long dims[1] = {n};
    tensor(b, name, dims, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, data, sizeof(int64_t) * (size_t)n);
}

// A node op(inputs) -> out, named after its output; NULL inputs end the list early.
static Onnx__NodeProto *node(Builder *b, const char *op, const char *out, int nin, const char *const *in) {
    Onnx__NodeProto *n = alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = str(b, "%s", op);
    n->name = str(b, "%s", out);
    n->input = alloc(b, sizeof(char *) * (size_t)nin);
    for (int i = 0; i < nin && in[i]; i++) n->input[n->n_input++] = str(b, "%s", in[i]);
    n->n_output = 1;
    n->output = alloc(b, sizeof(char *));
    n->output[0] = str(b, "%s", out);
    b->nodes = grow(b->nodes, &b->capnodes, b->nnodes + 1, sizeof *b->nodes);
    b->nodes[b->nnodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(Builder *b, Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = str(b, "%s", name);
    a->has_type = 1;
    a->type = type;
    Onnx__AttributeProto **list = alloc(b, sizeof(*list) * (n->n_attribute + 1));
    if (n->n_attribute) memcpy(list, n->attribute, sizeof(*list) * n->n_attribute);
    list[n->n_attribute++] = a;
    n->attribute = list;
    return a;
}

static void attr_int(Builder *b, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_float(Builder *b, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_ints(Builder *b, Onnx__NodeProto *n, const char *name, int64_t v0, int64_t v1, int count) {
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t v[4] = {v0, v1, v0, v1};
    a->n_ints = (size_t)count;
    a->ints = alloc(b, sizeof(int64_t) * (size_t)count);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

// ---- the model's tensors ------------------------------------------------------------------

// The parameter tensor at offset off of m->params (every offset a block holds is one).
static const ParamTensor *param_at(const ResNet *m, long off) {
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].off == off) return &m->tensors[i];
    return NULL;
}

// A tensor's module prefix: "layer1.0.conv1" of "layer1.0.conv1.weight".
static const char *prefix_of(Builder *b, long off) {
    const char *name = param_at(b->m, off)->name, *dot = strrchr(name, '.');
    return str(b, "%.*s", (int)(dot - name), name);
}

// Every parameter under its PyTorch name and shape, and after each batchnorm's bias its
// running_mean and running_var: statedict.h's order, less num_batches_tracked.
static void add_weights(Builder *b) {
    const ResNet *m = b->m;
    for (int i = 0; i < m->ntensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        long dims[4];
        for (int d = 0; d < t->ndim; d++) dims[d] = t->shape[d];
        init_f32(b, t->name, dims, t->ndim, m->params + t->off);
        if (t->kind != PARAM_BN_BETA) continue;
        for (int j = 0; j < m->nbns; j++) {
            const BnLayer *bn = m->bns[j];
            if (bn->beta != t->off) continue;
            const long C = bn->C;
            const char *p = prefix_of(b, t->off);
            init_f32(b, str(b, "%s.running_mean", p), &C, 1, m->stats + bn->run);
            init_f32(b, str(b, "%s.running_var", p), &C, 1, m->stats + bn->run + C);
        }
    }
}

// ---- layers -----------------------------------------------------------------------------

// Conv of x with the weight at offset w (bias at offset bias, -1: none): k x k, stride,
// padding conv_pad(k) on every side. Its output is named after the layer ("layer1.0.conv1").
static const char *conv(Builder *b, const char *x, long w, long bias, int k, int stride) {
    const char *p = prefix_of(b, w);
    const char *in[3] = {x, str(b, "%s.weight", p), bias >= 0 ? str(b, "%s.bias", p) : NULL};
    Onnx__NodeProto *n = node(b, "Conv", p, 3, in);
    const int pad = (k - 1) / 2; // resnet_blocks.h conv_pad: 3x3 "same", 1x1 and caffe's 2x2 none
    attr_ints(b, n, "kernel_shape", k, k, 2);
    attr_ints(b, n, "strides", stride, stride, 2);
    attr_ints(b, n, "pads", pad, pad, 4);
    return p;
}

// BatchNormalization (inference: the running statistics) of x; then a ReLU when relu.
static const char *batchnorm(Builder *b, const char *x, const BnLayer *bn, int relu) {
    const char *p = prefix_of(b, bn->gamma);
    const char *in[5] = {x, str(b, "%s.weight", p), str(b, "%s.bias", p), str(b, "%s.running_mean", p),
                         str(b, "%s.running_var", p)};
    Onnx__NodeProto *n = node(b, "BatchNormalization", p, 5, in);
    attr_float(b, n, "epsilon", RESNET_BN_EPS);
    if (!relu) return p;
    const char *out = str(b, "%s.relu", p);
    node(b, "Relu", out, 1, &p);
    return out;
}

static const char *binary(Builder *b, const char *op, const char *out, const char *x, const char *y) {
    const char *in[2] = {x, y};
    node(b, op, out, 2, in);
    return out;
}

// Option A: x[:, :, ::2, ::2] (Slice) with zero channels padded around it (Pad): (cout - cin)
// / 2 before, the rest after, as shortcut_a_forward (layers.c) does.
static const char *shortcut_a(Builder *b, const Block *blk, const char *x) {
    const BlockSpec *sp = &blk->spec;
    if (!b->slice_consts) {
        const int64_t zero[2] = {0, 0}, axes[2] = {2, 3}, steps[2] = {2, 2};
        init_i64(b, "shortcut_a.starts", zero, 2);
        init_i64(b, "shortcut_a.axes", axes, 2);
        init_i64(b, "shortcut_a.steps", steps, 2);
        b->slice_consts = 1;
    }
    const int64_t ends[2] = {blk->H, blk->W}, before = (sp->cout - sp->cin) / 2,
                  pads[8] = {0, before, 0, 0, 0, sp->cout - sp->cin - before, 0, 0};
    const char *ends_name = str(b, "%s.shortcut.ends", sp->name), *pads_name = str(b, "%s.shortcut.pads", sp->name);
    init_i64(b, ends_name, ends, 2);
    init_i64(b, pads_name, pads, 8);
    const char *sub = str(b, "%s.shortcut.subsample", sp->name), *out = str(b, "%s.shortcut.pad", sp->name);
    const char *in[5] = {x, "shortcut_a.starts", ends_name, "shortcut_a.axes", "shortcut_a.steps"};
    node(b, "Slice", sub, 5, in);
    const char *pin[2] = {sub, pads_name};
    Onnx__NodeProto *n = node(b, "Pad", out, 2, pin);
    Onnx__AttributeProto *mode = attr(b, n, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    mode->has_s = 1;
    mode->s.data = (uint8_t *)str(b, "constant");
    mode->s.len = strlen("constant");
    return out;
}

// The shortcut's output from src: src (identity), option A, or the projection (+ its
// batchnorm when with_bn).
static const char *shortcut(Builder *b, const Block *blk, const char *src, int with_bn) {
    const BlockSpec *sp = &blk->spec;
    if (sp->shortcut == SHORTCUT_A) return shortcut_a(b, blk, src);
    if (sp->shortcut != SHORTCUT_B) return src;
    const char *y = conv(b, src, blk->wsc, blk->bnsc.in_bias, sp->proj_k, sp->stride);
    return with_bn ? batchnorm(b, y, &blk->bnsc, 0) : y;
}

// ---- blocks, as resnet_blocks.c runs them in evaluation ---------------------------------

static const char *stem(Builder *b, const Block *blk, const char *x) {
    const char *y = conv(b, x, blk->w1, blk->bn1.in_bias, 3, 1);
    return blk->spec.bn ? batchnorm(b, y, &blk->bn1, 1) : y;
}

// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); sum_only (caffe): no ReLU.
static const char *basic(Builder *b, const Block *blk, const char *x) {
    const BlockSpec *sp = &blk->spec;
    const char *a1 = batchnorm(b, conv(b, x, blk->w1, blk->bn1.in_bias, 3, sp->stride), &blk->bn1, 1);
    const char *y = batchnorm(b, conv(b, a1, blk->w2, blk->bn2.in_bias, 3, 1), &blk->bn2, 0);
    const char *sum = binary(b, "Add", str(b, "%s.add", sp->name), y, shortcut(b, blk, x, 1));
    if (sp->sum_only) return sum;
    const char *out = str(b, "%s.relu", sp->name);
    node(b, "Relu", out, 1, &sum);
    return out;
}

// a1 = relu(bn1(x)), out = conv2(relu(bn2(conv1(a1)))) + shortcut(a1 or x).
static const char *preact(Builder *b, const Block *blk, const char *x) {
    const BlockSpec *sp = &blk->spec;
    const char *a1 = batchnorm(b, x, &blk->bn1, 1);
    const char *a2 = batchnorm(b, conv(b, a1, blk->w1, -1, 3, sp->stride), &blk->bn2, 1);
    const char *y = conv(b, a2, blk->w2, -1, 3, 1);
    const char *res = shortcut(b, blk, sp->preact_shortcut ? a1 : x, 0);
    return binary(b, "Add", str(b, "%s.add", sp->name), y, res);
}

// (relu(bn(x)) ->) global average pool -> flatten -> linear: "logits"; softmax: "probabilities".
static void head(Builder *b, const Block *blk, const char *x) {
    if (blk->spec.bn) x = batchnorm(b, x, &blk->bn1, 1);
    node(b, "GlobalAveragePool", "avgpool", 1, &x);
    const char *pooled = "avgpool";
    Onnx__NodeProto *n = node(b, "Flatten", "flatten", 1, &pooled);
    attr_int(b, n, "axis", 1);
    const char *in[3] = {"flatten", "linear.weight", "linear.bias"};
    n = node(b, "Gemm", "logits", 3, in);
    attr_int(b, n, "transB", 1);
    const char *logits = "logits";
    n = node(b, "Softmax", "probabilities", 1, &logits);
    attr_int(b, n, "axis", 1);
}

// pixels (0..255) -> (pixels / 255 - mean) / std, in float32 as batch.c's table has it.
static const char *normalise(Builder *b, const OnnxExportOptions *n) {
    const int C = b->m->opt.channels;
    const long one = 1, dims[4] = {1, C, 1, 1};
    const float k255 = 255.0f;
    init_f32_copy(b, "input.scale", &one, 0, &k255, 1);
    init_f32_copy(b, "input.mean", dims, 4, n->mean, C);
    init_f32_copy(b, "input.std", dims, 4, n->std, C);
    binary(b, "Div", "input.unit", "pixels", "input.scale");
    binary(b, "Sub", "input.centred", "input.unit", "input.mean");
    return binary(b, "Div", "input", "input.centred", "input.std");
}

// ---- the model -------------------------------------------------------------------------

// A float32 value of shape (N, d[0], ..., d[nd-1]), N free.
static Onnx__ValueInfoProto *value_info(Builder *b, const char *name, const int *d, int nd) {
    Onnx__ValueInfoProto *v = alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = str(b, "%s", name);
    Onnx__TypeProto *type = alloc(b, sizeof *type);
    onnx__type_proto__init(type);
    Onnx__TypeProto__Tensor *tt = alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *shape = alloc(b, sizeof *shape);
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)nd + 1;
    shape->dim = alloc(b, sizeof(*shape->dim) * shape->n_dim);
    for (size_t i = 0; i < shape->n_dim; i++) {
        Onnx__TensorShapeProto__Dimension *dim = alloc(b, sizeof *dim);
        onnx__tensor_shape_proto__dimension__init(dim);
        if (i == 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = str(b, "N");
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = d[i - 1];
        }
        shape->dim[i] = dim;
    }
    tt->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    v->type = type;
    return v;
}

static Onnx__StringStringEntryProto *meta(Builder *b, const char *key, const char *value) {
    Onnx__StringStringEntryProto *p = alloc(b, sizeof *p);
    onnx__string_string_entry_proto__init(p);
    p->key = str(b, "%s", key);
    p->value = str(b, "%s", value);
    return p;
}

int onnx_export_pack(const ResNet *m, const OnnxExportOptions *n, uint8_t **buf, size_t *len, Err *e) {
    *buf = NULL;
    *len = 0;
    if (m->opt.channels < 1 || m->opt.channels > 3)
        return err_set(e, ERR_INPUT, "ONNX export: %d input channels (1 to 3 supported)", m->opt.channels);
    Builder b = {.m = m};
    add_weights(&b);
    const char *x = normalise(&b, n);
    for (int i = 0; i < m->nblocks; i++) {
        const Block *blk = &m->blocks[i];
        switch (blk->spec.kind) {
        case BLOCK_STEM: x = stem(&b, blk, x); break;
        case BLOCK_BASIC: x = basic(&b, blk, x); break;
        case BLOCK_PREACT: x = preact(&b, blk, x); break;
        case BLOCK_HEAD: head(&b, blk, x); break;
        }
    }
    char name[64];
    model_name(&m->opt, name, sizeof name);
    Onnx__GraphProto graph;
    onnx__graph_proto__init(&graph);
    graph.name = name;
    graph.n_node = b.nnodes;
    graph.node = b.nodes;
    graph.n_initializer = b.ninits;
    graph.initializer = b.inits;
    const int in_dims[3] = {m->opt.channels, m->opt.height, m->opt.width}, out_dims[1] = {m->opt.classes};
    Onnx__ValueInfoProto *inputs[1] = {value_info(&b, "pixels", in_dims, 3)},
                         *outputs[2] = {value_info(&b, "logits", out_dims, 1),
                                        value_info(&b, "probabilities", out_dims, 1)};
    inputs[0]->doc_string = str(&b, "the image's bytes as floats (0..255), (N, channels, height, width); the graph "
                                    "normalises them: (pixels / 255 - mean) / std per channel");
    graph.n_input = 1;
    graph.input = inputs;
    graph.n_output = 2;
    graph.output = outputs;

    Onnx__OperatorSetIdProto opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = ONNX_EXPORT_OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    char mean[64] = "", std[64] = "";
    for (int c = 0; c < m->opt.channels; c++) {
        snprintf(mean + strlen(mean), sizeof mean - strlen(mean), "%s%.9g", c ? "," : "", (double)n->mean[c]);
        snprintf(std + strlen(std), sizeof std - strlen(std), "%s%.9g", c ? "," : "", (double)n->std[c]);
    }
    Onnx__StringStringEntryProto *props[3] = {
        meta(&b, "dataset", n->dataset ? n->dataset : ""),
        meta(&b, "input_mean", mean),
        meta(&b, "input_std", std),
    };
    Onnx__ModelProto model;
    onnx__model_proto__init(&model);
    model.has_ir_version = 1;
    model.ir_version = ONNX_EXPORT_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = (char *)"onecycle";
    model.producer_version = n->version ? (char *)n->version : "";
    model.doc_string = str(&b, "%s, inference form (batchnorm on running statistics)", name);
    model.graph = &graph;
    model.n_metadata_props = 3;
    model.metadata_props = props;

    *len = onnx__model_proto__get_packed_size(&model);
    *buf = xmalloc(*len ? *len : 1);
    size_t packed = onnx__model_proto__pack(&model, *buf);
    builder_free(&b);
    if (packed != *len) {
        free(*buf);
        *buf = NULL;
        return err_set(e, ERR_RUNTIME, "ONNX export: packed %zu bytes of %zu", packed, *len);
    }
    return ERR_OK;
}

int onnx_export_write(const ResNet *m, const OnnxExportOptions *n, const char *path, Err *e) {
    uint8_t *buf;
    size_t len;
    if (onnx_export_pack(m, n, &buf, &len, e)) return e->code;
    // Written beside path under a name that holds all of path (outfile.h), renamed over it.
    OutFile of;
    if (outfile_open(&of, path, e)) {
        free(buf);
        return e->code;
    }
    int bad = fwrite(buf, 1, len, of.f) != len;
    free(buf);
    return outfile_commit(&of, bad, e);
}
