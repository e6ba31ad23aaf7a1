// resnet.h: ResNet-(6n+2) for CIFAR (He et al. 2015, section 4.2).
//
// 3x3 conv 16 -> BN -> ReLU, then 3 stages of n basic blocks at 16/32/64 channels (stride 2
// at the first block of stages 2 and 3), global average pool, fully connected 64 -> 10.
// Basic block: conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> (+ shortcut) -> ReLU.
// Shortcut A: stride-2 subsample with zero-padded channels (parameter-free);
// shortcut B: 1x1 conv (stride 2) + BN where the shape changes, identity elsewhere.
//
// All parameters live in one contiguous block (params), gradients mirror it (grads), and
// the batchnorm running statistics live in a second block (stats). Activations are
// planned and allocated once for the largest batch; forward/backward never allocate.
#ifndef ONECYCLE_RESNET_H
#define ONECYCLE_RESNET_H
#include "common.h"
#include "config.h"
#include "layers.h"
#include "rng.h"

enum { PARAM_CONV = 0, PARAM_BN_GAMMA, PARAM_BN_BETA, PARAM_FC_W, PARAM_FC_B };

typedef struct ParamTensor {
    char name[64];   // PyTorch-style name, e.g. "layer2.0.conv1.weight"
    long off, n;     // position in params/grads
    int kind;        // PARAM_*
    int fan_in;      // inputs per output unit (conv: cin*k*k, fc: 64), for He init
    int ndim, shape[4]; // PyTorch's shape: conv (cout,cin,k,k), fc (classes,64), else (n)
} ParamTensor;

typedef struct BnLayer {
    long gamma, beta;  // offsets into params
    long run;          // offset into stats: running_mean (C) then running_var (C)
    int C;
    float *mean, *rstd; // saved batch statistics (C)
} BnLayer;

typedef struct Block {
    int cin, cout, stride, H, W;    // input (cin, B, H, W); output (cout, B, H/stride, W/stride)
    long w1, w2, wsc;               // conv weight offsets (wsc: option B projection, else -1)
    BnLayer bn1, bn2, bnsc;
    float *c1, *a1, *c2, *out;      // conv1 out, relu(bn1), conv2 out, block output
    float *scc, *sco;               // option B: projection conv out and its BN out
} Block;

typedef struct ModelOptions {
    int depth;       // 6n+2
    int shortcut_b;  // 0: option A, 1: option B
    int classes;     // 10
} ModelOptions;

extern const ConfigKey resnet_config_keys[]; // [model]: depth, shortcut
int model_options_from_config(ModelOptions *o, const Config *c, Err *e);

typedef struct ResNet {
    ModelOptions opt;
    int max_batch, nblocks;
    long nparams, nstats;
    float *params, *grads, *stats;
    ParamTensor *tensors;
    int ntensors;
    long w0;            // stem conv weight
    BnLayer bn0;
    long fcw, fcb;
    Block *blocks;
    BnLayer **bns;      // every batchnorm, in parameter order
    int nbns;
    // activations (planned for max_batch)
    float *c0, *a0;     // stem conv out, relu(bn0)
    float *pooled, *logits, *dlogits, *dpooled; // (B,64), (B,classes)
    float *g[3];        // gradient scratch tensors, each the size of the largest activation
    float *sc;          // option-A shortcut scratch
    float *epi;         // evaluation: a folded batchnorm's scale (64) then shift (64)
    float *col;         // im2col workspace
    size_t col_budget;
    const float *input; // the batch given to the last forward
    float *block_mem, *save_mem;
} ResNet;

// Plans the layout and allocates everything for batches up to max_batch.
int resnet_create(ResNet *m, const ModelOptions *o, int max_batch, Err *e);
// The bytes resnet_create would allocate for these options and batch (parameters,
// gradients, statistics, activations, workspace), without allocating them; 0 for options
// it would refuse; the parameter count in *nparams (may be NULL). For refusing a batch
// that cannot fit before trying.
size_t resnet_planned_bytes(const ModelOptions *o, int max_batch, long *nparams);
void resnet_free(ResNet *m);
// He (kaiming normal, fan_in) init for conv and fc weights, fc bias uniform(+-1/sqrt(64)),
// BN gamma 1, beta 0, running mean 0, running var 1. Deterministic for a given rng state.
void resnet_init_weights(ResNet *m, Rng *rng);
// x is (3, B, 32, 32). Returns the mean cross-entropy loss; logits in m->logits (B, classes).
// train = 1 uses batch statistics (and updates running ones) and keeps what backward needs.
double resnet_forward(ResNet *m, const float *x, const int *labels, int B, int train, int *correct);
// Gradients of the last training forward into m->grads (overwritten).
void resnet_backward(ResNet *m, const int *labels, int B);
// Human-readable summary (layers, shapes, parameters: N) into f (FILE*).
void resnet_print_summary(const ResNet *m, void *f);
// Training FLOPs per image (forward + backward, multiply-add = 2) of the conv and fc layers.
double resnet_flops_per_image(const ResNet *m, int train);

#endif
