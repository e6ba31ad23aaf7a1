// train.h: the training loop. It asks the schedule for (lr, momentum) at every step and
// hands them to the optimiser; it knows the network only through resnet_forward/backward.
#ifndef ONECYCLE_TRAIN_H
#define ONECYCLE_TRAIN_H
#include "batch.h"
#include "common.h"
#include "config.h"
#include "layers.h"
#include "loader.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include <stdio.h>

extern const ConfigKey train_config_keys[]; // [train]

// The ranges of train.threads and train.seed, shared by --threads and --seed.
#define TRAIN_MAX_THREADS 1024
#define TRAIN_MAX_SEED 0x7fffffffffffffffL
#define TRAIN_MAX_KEEP 64

typedef struct TrainOptions {
    int batch_size;
    int drop_last;     // 0: keep the partial last batch
    int eval_every;    // evaluate on the test set every N epochs (0: only at the end)
    long seed;         // init, shuffling and augmentation
    int threads;       // 0: all cores
    unsigned kernels;  // conv_set_kernels mask
    int layout;        // train.layout: MODEL_LAYOUT_* (resnet.h)
    int log_iters;     // also write iters.csv, one row per step
    int progress;      // -1 auto (terminal), 0 plain lines, 1 live line
    int checkpoint_every; // epochs between checkpoints (0: only at the end)
    int nkeep;            // epochs whose checkpoint is also kept as DIR/checkpoint-epochN.ckpt
    int keep[TRAIN_MAX_KEEP]; // increasing
    int sync_bn;          // data-parallel: batch-norm statistics over the whole batch (dist.h)
    int bn_group;         // ghost batch-norm: statistics over runs of this many images (0: the batch)
    int shares;           // every batch as this many shares, each sum taken per share and the
                          // partials added in a fixed order (shares.h, resnet.h); 0 (auto): one
                          // per rank, MPI_Allreduce's order (one process: the batch in one pass)
    int keep_best;        // KEEP_BEST_*: which validation figure picks DIR/checkpoint-best.ckpt
} TrainOptions;

// train.keep_best: none (empty), or the validation split's accuracy (highest) or loss (lowest).
enum { KEEP_BEST_NONE = 0, KEEP_BEST_VALID_ACC, KEEP_BEST_VALID_LOSS };

int train_options_from_config(TrainOptions *o, const Config *c, Err *e);
// Every option group a command reads, in one call; a NULL pointer skips its group. With both
// to and co, train.keep_best without a validation split (data.valid_images) is refused.
int run_options_from_config(const Config *c, TrainOptions *to, DataOptions *co, ModelOptions *mo, OptimOptions *oo,
                            Err *e);
// Checks a run's plan before anything large is allocated: the batch must not exceed the
// training images, and the memory of the model at that batch, the optimiser and the data
// must fit in the machine's physical memory. ERR_INPUT naming train.batch_size's file and
// line otherwise; *bytes gets the planned memory.
int train_plan_memory(const Config *c, const TrainOptions *to, const DataOptions *co, const ModelOptions *mo,
                      const OptimOptions *oo, size_t *bytes, Err *e);
// Applies a run's train.threads and train.kernels to this process; *nthreads: the threads in use.
int train_set_cpu(const Config *c, int *nthreads, Err *e);
// The same from options already read; returns the threads in use.
int train_apply_cpu(const TrainOptions *o);
// SGD steps in one epoch over n images (at least 1).
long train_steps_per_epoch(const TrainOptions *o, int n);

typedef struct EvalResult {
    double loss, acc;
} EvalResult;

// What trainer_run reports to its caller (the training loop itself prints nothing).
enum { TRAIN_STEP, TRAIN_STOPPED, TRAIN_EPOCH, TRAIN_WARNING, TRAIN_DIVERGED };
struct RunLogEpoch;
typedef struct TrainProgress {
    int event;            // TRAIN_*
    int epoch;            // TRAIN_STEP: the epoch under way (1-based); TRAIN_EPOCH: the one just done
    long epochs;          // of the run
    long batch, batches;  // steps done in this epoch, and its steps
    double loss, acc;     // this epoch's running mean training loss and accuracy (TRAIN_DIVERGED:
                          // the loss of the step that diverged)
    double lr, momentum;  // of the last step
    double images_per_sec, eta_seconds;
    double seconds;       // TRAIN_EPOCH: run time so far
    const struct RunLogEpoch *epoch_row; // TRAIN_EPOCH: the log.csv row (test fields NaN if not evaluated)
    const char *warning;  // TRAIN_WARNING: e.g. curves.png could not be drawn
} TrainProgress;
typedef void (*TrainProgressFn)(void *ctx, const TrainProgress *p);

typedef struct Trainer {
    TrainOptions opt;
    DataOptions data;
    ModelOptions model_opt;
    OptimOptions optim_opt;
    Dataset train, test;
    Dataset valid;        // the validation split held out of the training images (n = 0: none)
    ResNet net;
    Optimizer optim;
    Schedule sched;
    Rng rng_init;         // weights; the loader has the shuffle and augmentation streams
    Loader loader;        // this epoch's order, augmentation, and the position in the epoch
    float *x;             // (C, B, H, W) batch
    int *y;               // (B)
    int *eval_idx;        // (B)
    size_t planned_bytes; // memory planned by trainer_create (train_plan_memory)
    long steps_per_epoch, step;
    int epoch;            // epochs completed
    double seconds;       // training + evaluation wall time so far
    // Accumulators of the current epoch, so a run can stop and resume mid-epoch.
    double loss_sum;      // sum of loss * batch over the epoch so far
    long correct, seen;
    double epoch_seconds; // training time of this epoch so far
    const volatile int *stop; // set (e.g. by a signal handler) to stop after this step
    long stop_at_step;    // stop when step reaches this (0: never); for tests and tools
    TrainProgressFn progress; // NULL: silent
    void *progress_ctx;
    // Data-parallel training (dist.h): this process's rank of world; rank 0 alone writes
    // the run's files. Each rank holds the whole model and trains on its share of every
    // batch (loader.h); bn_sync is the model's batch-norm reduction when sync_bn is on.
    int rank, world;
    BnSync bn_sync;
    int shares;           // of every batch (train.shares, auto: world); this rank computes
                          // shares / world of them (resnet.h, ResNet.shares)
    // train.keep_best: the best validation figure so far and its epoch (0: none yet); in the
    // checkpoint, so a resumed run compares with what came before.
    double best_valid;
    int best_epoch;
} Trainer;

// A loss this large means the run has blown up even if it is still finite: softmax
// cross-entropy over 10 classes starts at ln(10) = 2.3.
#define EXPLODING_LOSS 100.0

// One SGD step on a batch of nb images of which this process holds `share`, x (C, share, H,
// W), y (share) (share = nb in one process): forward, loss, backward, the sum of the
// gradient block across processes (dist.h) and the optimiser's update at (lr, momentum,
// weight-decay multiplier). Each process's loss and gradient are its images' sums over nb,
// so the sum across processes is the mean over the whole batch, as one process computes it.
// The loss and the argmax hits of the whole batch come back in *loss and *hits (may be
// NULL). A loss that is not finite or above max_loss stops before the backward (on every
// process alike): nothing is updated and 0 is returned (1 otherwise). The one place a
// training step happens: training, lr-find and bench call it.
int train_step(ResNet *m, Optimizer *o, const float *x, const int *y, int nb, int share, double lr, double momentum,
               double wd_mult, double max_loss, double *loss, int *hits);

// Reads every section, loads the data and builds model, optimiser and schedule.
int trainer_create(Trainer *t, const Config *c, Err *e);
void trainer_free(Trainer *t);
// Back to the start of the run: RNG streams reseeded from the seed, fresh weights and BN
// statistics, zero optimiser state and loop position (every LR-finder curve starts here).
void trainer_reset(Trainer *t);
// Evaluation (running BN statistics, no augmentation) of a whole set in batches of B,
// using caller-provided buffers x (C,B,H,W), y (B), idx (B). Data-parallel, each process
// evaluates its contiguous share of the set and the sums are added across processes.
EvalResult evaluate_set(ResNet *m, const Dataset *set, const DataOptions *o, int B, float *x, int *y, int *idx);
// The same, handing every batch's logits (nb, classes), labels (nb) and the images of this
// process done so far to each_batch (NULL: none), e.g. for a confusion matrix or progress.
typedef void (*EvalBatchFn)(void *ctx, const float *logits, const int *y, int nb, long done);
EvalResult evaluate_set_each(ResNet *m, const Dataset *set, const DataOptions *o, int B, float *x, int *y, int *idx,
                             EvalBatchFn each_batch, void *ctx);
// The same on the trainer's model and buffers, batches of the training batch size (after
// averaging the running statistics across processes when sync_bn is off).
EvalResult trainer_evaluate(Trainer *t, const Dataset *set);
// Without sync_bn each process's running statistics follow its own batches: this replaces
// them with their mean across processes (before evaluation and saving). No-op otherwise.
void trainer_sync_stats(Trainer *t);
// Runs the schedule from where the trainer stands, appending to DIR/log.csv (and iters.csv,
// the run log), redrawing DIR/curves.png and writing DIR/checkpoint.ckpt every
// checkpoint_every epochs and at the end. With a validation split it is evaluated after
// every epoch (log.csv's valid_loss, valid_acc), and with keep_best the checkpoint of the
// best epoch so far is also written as DIR/checkpoint-best.ckpt. Progress goes to t->progress; nothing is printed.
// Returns the final test evaluation in *final. Fails (ERR_RUNTIME, after a TRAIN_DIVERGED
// report) on a non-finite or exploding loss, naming step, LR and momentum and whether a
// good checkpoint is kept.
// Returns ERR_INTERRUPTED after saving a checkpoint when *stop is set or stop_at_step hit.
int trainer_run(Trainer *t, const char *dir, const char *config_text, EvalResult *final, Err *e);
// Collective, at start-up under mpirun (after trainer_create and any checkpoint load): every
// rank compares with rank 0 the effective config (config_text, config_dump's; all keys but
// data.dir, data.labels, train.threads and train.progress), the data loaded (a hash of the
// training and test images and labels) and the state it starts from (step, and a hash of the
// weights, statistics, optimiser, loop position, RNG streams and epoch order, which is what
// a checkpoint restores). ERR_INPUT, the same message on every rank, naming the ranks that
// differ (and the config keys), when any does; ERR_OK in a world of one.
int trainer_agree_ranks(const Trainer *t, const char *config_text, Err *e);

#endif
