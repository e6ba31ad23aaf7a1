// resnet.h: the model, a CIFAR ResNet-(6n+2) described as data.
//
// The network is a list of blocks (BlockSpec): a stem, 3 stages of n residual blocks at
// 16/32/64 channels (stride 2 at the first block of stages 2 and 3), and a head (global
// average pool, fully connected to the classes). Planning the memory, binding it, forward,
// backward, the FLOP count and the summary all walk that list (resnet.c), each block
// doing what its kind does (resnet_blocks.c). Three lists (resnet_arch.c), [model] arch:
//
//  resnet  He et al. 2015, "Deep residual learning", section 4.2 (post-activation):
//          stem conv3x3 -> BN -> ReLU; block conv3x3 -> BN -> ReLU -> conv3x3 -> BN
//          -> (+ shortcut) -> ReLU; head pool -> linear.
//  preact  He et al. 2016, "Identity mappings in deep residual networks" (CIFAR variant):
//          stem conv3x3; block BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 (+ shortcut),
//          nothing after the addition; head BN -> ReLU -> pool -> linear.
//  caffe   L. N. Smith's Caffe ResNet-56 (github lnsmith54/hyperParam1,
//          Cifar/architectures/gResnet56.prototxt; results/notes/smith-caffe-setup.md):
//          every convolution has a bias; stem conv3x3 -> BN -> ReLU; block conv3x3 -> BN ->
//          ReLU -> conv3x3 -> BN (+ shortcut), nothing after the addition; groups of n, n
//          and n-1 blocks (depth 56: 9 + 9 + 8), the *last* block of the first two groups
//          going to stride 2 and twice the channels, with a 2x2 stride-2 pad-0 projection
//          + BN as its shortcut; head pool -> linear. Xavier init by default ([model] init).
//
// Shortcut A: stride-2 subsample with zero-padded channels (parameter-free); shortcut B: a
// 1x1 conv (stride 2) where the shape changes (resnet: + BN; preact: conv only, on the
// block's pre-activated input as in He et al.'s code), identity elsewhere; caffe has its
// own (the 2x2 projection) and no [model] shortcut.
// The input's channels and size and the number of classes come from the data set; the
// stages follow the input size (32 -> 16 -> 8, 28 -> 14 -> 7; caffe's 2x2 projection
// needs even planes where it downsamples, so sides that are multiples of 4).
//
// All parameters live in one contiguous block (params), gradients mirror it (grads), and
// the batchnorm running statistics live in a second block (stats). Activations are
// planned and allocated once for the largest batch; forward/backward never allocate.
#ifndef ONECYCLE_RESNET_H
#define ONECYCLE_RESNET_H
#include "common.h"
#include "config.h"
#include "dataset.h"
#include "layers.h"
#include "rng.h"

enum { ARCH_RESNET = 0, ARCH_PREACT, ARCH_CAFFE };
// Every batchnorm's epsilon (PyTorch's BatchNorm2d default), for the exports too.
#define RESNET_BN_EPS 1e-5f
// [model] init: kaiming (He et al.'s normal, fan_in; fc bias PyTorch's uniform) or xavier
// (Caffe's "xavier" filler: uniform +-sqrt(3/fan_in); every bias 0).
enum { INIT_KAIMING = 0, INIT_XAVIER };

typedef struct ModelOptions {
    int arch;        // ARCH_*
    int depth;       // 6n+2
    int shortcut_b;  // 0: option A, 1: option B (caffe: unused, 0)
    int init;        // INIT_*
    int bn_group;    // training batch-norm statistics over runs of this many images (0: the
                     // whole batch); [train] bn_group, which sizes the saved statistics
    int classes;     // from the data set
    int channels, height, width; // input (channels, height, width), from the data set
    const char *dataset; // the data set's name (dataset_names), NULL for a made-up shape;
                         // a checkpoint records it
    int layout;      // the activations' layout: MODEL_LAYOUT_AUTO (0, the build's best),
                     // MODEL_LAYOUT_CBHW or MODEL_LAYOUT_CB16; not saved (numbers differ by
                     // float rounding only)
} ModelOptions;

// ModelOptions.layout. AUTO is CB16 (act.h) when built with AVX-512 and every block's
// channels are a multiple of 16 (the F(4x4, 3x3) kernels then read and write every stride-1
// activation in place), else CBHW. CB16 with other widths falls back to CBHW.
enum { MODEL_LAYOUT_AUTO = 0, MODEL_LAYOUT_CBHW, MODEL_LAYOUT_CB16 };

extern const ConfigKey resnet_config_keys[]; // [model]: arch, depth, shortcut, init
// [model] from c; the input shape and classes from the data set's shape `in` (bn_group 0:
// run_options_from_config sets it from [train]).
int model_options_from_config(ModelOptions *o, const Config *c, const DataShape *in, Err *e);
// The input shape and classes from a data set's shape (what model_options_from_config does).
void model_options_set_input(ModelOptions *o, const DataShape *in);
// "ResNet-56 option A", "pre-activation ResNet-20 option B", "Caffe ResNet-56 (Smith)": for messages.
const char *model_name(const ModelOptions *o, char *buf, size_t cap);

// ---- the network as data -------------------------------------------------------------

typedef enum { BLOCK_STEM, BLOCK_BASIC, BLOCK_PREACT, BLOCK_HEAD } BlockKind;
typedef enum { SHORTCUT_IDENTITY, SHORTCUT_A, SHORTCUT_B } ShortcutKind;

typedef struct BlockSpec {
    BlockKind kind;
    char name[24];         // module prefix of its parameters: "layer2.0" (stem, head: "")
    int cin, cout;         // channels in and out (head: cout = classes)
    int stride;            // of the block's first convolution: 1 or 2
    ShortcutKind shortcut; // BASIC, PREACT
    int proj_k;            // SHORTCUT_B: the projection's kernel, 1 (pad 0) or 2 (caffe, pad 0)
    int preact_shortcut;   // PREACT: the shortcut takes the block's pre-activated input
                           // (He et al.'s first block of a stage), else the input itself
    int bn;                // STEM: BN + ReLU after the conv; HEAD: BN + ReLU before the pool
    int sum_only;          // BASIC: nothing after the addition (caffe), else a ReLU
    int conv_bias;         // STEM, BASIC: every convolution has a bias (caffe); each feeds a
                           // batchnorm, which folds it in (BnLayer.in_bias)
} BlockSpec;

// The block list of o's architecture into specs (room for resnet_block_count(o) entries).
int resnet_block_count(const ModelOptions *o);
void resnet_block_list(const ModelOptions *o, BlockSpec *specs);

enum { PARAM_CONV = 0, PARAM_BN_GAMMA, PARAM_BN_BETA, PARAM_FC_W, PARAM_FC_B, PARAM_CONV_B };

typedef struct ParamTensor {
    char name[64];   // PyTorch-style name, e.g. "layer2.0.conv1.weight"
    long off, n;     // position in params/grads
    int kind;        // PARAM_*
    int fan_in;      // inputs per output unit (conv: cin*k*k, fc: its inputs), for the init
    int ndim, shape[4]; // PyTorch's shape: conv (cout,cin,k,k), fc (classes,cin), else (n)
} ParamTensor;

typedef struct BnLayer {
    long gamma, beta;  // offsets into params
    long run;          // offset into stats: running_mean (C) then running_var (C)
    long in_bias;      // offset into params of the bias of the convolution feeding it (-1: none);
                       // folded in here (BnArgs.in_bias): its gradient is 0
    int C;
    float *mean, *rstd; // saved batch statistics (C, or C x runs with opt.bn_group)
} BnLayer;

// A block as planned: its spec, planes, parameters and activations (for max_batch).
// Which fields a kind uses is in resnet_blocks.c; the others stay -1 / NULL.
typedef struct Block {
    BlockSpec spec;
    int H, W, Ho, Wo;               // input (cin, B, H, W); output (cout, B, Ho, Wo), in the
                                    // model's layout (ResNet.layout)
    long pbegin, pend;              // its parameters: params[pbegin .. pend)
    long w1, w2, wsc;               // conv weight offsets (head: w1 = linear weight, w2 = its bias)
    BnLayer bn1, bn2, bnsc;
    float *c1, *a1, *c2, *a2, *out; // convolution outputs, activations, the block output
    float *scc, *sco;               // option B: projection conv out (and its BN out)
    float *pooled, *dpooled;        // head: (B, cin)
} Block;

typedef struct ResNet {
    ModelOptions opt;
    int max_batch, nblocks;
    long nparams, nstats;
    float *params, *grads, *stats;
    ParamTensor *tensors;
    int ntensors;
    Block *blocks;      // stem, residual blocks, head
    BnLayer **bns;      // every batchnorm, in parameter order
    int nbns;
    // activations (planned for max_batch)
    float *logits, *dlogits; // (B, classes)
    float *g[3];        // gradient scratch tensors, each the size of the largest activation
    float *sc;          // option-A shortcut scratch
    float *epi;         // evaluation: a folded batchnorm's scale (C) then shift (C)
    ActLayout layout;   // of every activation from the stem's output to the pool's input (the
                        // input batch and the pooled features are CBHW / row-major)
    ConvScratch cs;     // CB16: the conversions of convolutions whose kernel takes CBHW only
    float *col;         // convolution workspace
    size_t col_budget;
    const float *input; // the batch given to the last forward
    // Data-parallel training (dist.h), set by the trainer: the images of the whole batch
    // across processes, which a training forward's loss and gradient are averaged over
    // (0: its own B), and the batch-norm reduction across processes (NULL: its own batch).
    int global_batch;
    const BnSync *bn_sync;
    // Shares ([train] shares, shares.h; resnet_set_shares): a training forward and backward
    // take this process's images as `shares` sub-batches side by side, share j as its own
    // (C, n_j, H, W) array (the input too, as the loader fills it), and run every layer share
    // by share on the same kernels, as the processes holding one share each would: each
    // cross-image sum (batch-norm statistics and their backward, weight and bias gradients,
    // loss, hits) is one partial per share, and the partials add up in the tree of shares.h.
    // Share j's gradients go to grads + j * grad_stride; resnet_backward leaves their sum in
    // grads. The shares are [share_first, share_first + shares) of share_total over the
    // global batch (global_batch, else B); evaluation splits a set the same way and runs
    // each batch in one pass. Default: 1 share, share_total 0 (evaluation: this rank's part
    // of dist_world()).
    int shares, share_first, share_total;
    long grad_stride;
    int pass_shares;     // of the last forward: shares in training, 1 in evaluation
    int *share_lo;       // (shares + 1) image offsets of the last forward's shares
    double *bn_parts;    // shares * (2 * widest batchnorm + 1): BnArgs.parts
    double *loss_parts;  // (shares)
    float *act_mem, *save_mem;
} ResNet;

// Plans the layout and allocates everything for batches up to max_batch.
int resnet_create(ResNet *m, const ModelOptions *o, int max_batch, Err *e);
// The bytes resnet_create would allocate for these options and batch (parameters,
// gradients, statistics, activations, workspace), without allocating them; 0 for options
// it would refuse; the parameter count in *nparams (may be NULL). For refusing a batch
// that cannot fit before trying. The convolution workspace is per thread, for the threads
// OpenMP will run (omp_get_max_threads()): set them first (train_apply_cpu).
size_t resnet_planned_bytes(const ModelOptions *o, int max_batch, long *nparams);
void resnet_free(ResNet *m);
// This process's `shares` shares, [first, first + shares) of total (resnet.h ResNet.shares):
// allocates a gradient block per share and the partial sums' room, once, before training.
void resnet_set_shares(ResNet *m, int shares, int first, int total);
// opt.init: kaiming: He (kaiming normal, fan_in) init for conv and fc weights, fc bias
// uniform(+-1/sqrt(fan_in)), conv biases 0; xavier: Caffe's xavier filler (uniform
// +-sqrt(3/fan_in), variance 1/fan_in) for conv and fc weights, every bias 0 (Caffe's
// constant filler). Both: BN gamma 1, beta 0, running mean 0, running var 1.
// Deterministic for a given rng state.
void resnet_init_weights(ResNet *m, Rng *rng);
// x is (channels, B, height, width). Returns the mean cross-entropy loss; logits in
// m->logits (B, classes). train = 1 uses batch statistics (and updates running ones) and
// keeps what backward needs; with opt.bn_group, the statistics of each run of bn_group
// consecutive images of the B (the last run shorter when bn_group does not divide B;
// layers.h, ghost batch-norm).
double resnet_forward(ResNet *m, const float *x, const int *labels, int B, int train, int *correct);
// Gradients of the last training forward into m->grads (overwritten).
void resnet_backward(ResNet *m, const int *labels, int B);
// Human-readable summary (layers, shapes, parameters: N) into f (FILE*).
void resnet_print_summary(const ResNet *m, void *f);
// Training FLOPs per image (forward + backward, multiply-add = 2) of the conv and fc layers.
double resnet_flops_per_image(const ResNet *m, int train);

#endif
