// train.h: the training loop. It asks the schedule for (lr, momentum) at every step and
// hands them to the optimiser; it knows the network only through resnet_forward/backward.
#ifndef ONECYCLE_TRAIN_H
#define ONECYCLE_TRAIN_H
#include "cifar.h"
#include "common.h"
#include "config.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include <stdio.h>

extern const ConfigKey train_config_keys[]; // [train]

typedef struct TrainOptions {
    int batch_size;
    int drop_last;     // 0: keep the partial last batch
    int eval_every;    // evaluate on the test set every N epochs (0: only at the end)
    long seed;         // init, shuffling and augmentation
    int threads;       // 0: all cores
    int log_iters;     // also write iters.csv, one row per step
    int progress;      // -1 auto (terminal), 0 plain lines, 1 live line
} TrainOptions;

int train_options_from_config(TrainOptions *o, const Config *c, Err *e);

typedef struct EvalResult {
    double loss, acc;
} EvalResult;

typedef struct Trainer {
    TrainOptions opt;
    CifarOptions data;
    ModelOptions model_opt;
    OptimOptions optim_opt;
    CifarSet train, test;
    ResNet net;
    Optimizer optim;
    Schedule sched;
    Rng rng_init, rng_shuffle, rng_aug;
    int *perm;            // this epoch's order of training images
    float *x;             // (3, B, 32, 32) batch
    int *y;               // (B)
    int *eval_idx;        // (B)
    long steps_per_epoch, step;
    int epoch;            // epochs completed
    double seconds;       // training + evaluation wall time so far
} Trainer;

// Reads every section, loads the data and builds model, optimiser and schedule.
int trainer_create(Trainer *t, const Config *c, Err *e);
void trainer_free(Trainer *t);
// Evaluation on a set in batches of the training batch size, no augmentation.
EvalResult trainer_evaluate(Trainer *t, const CifarSet *set);
// Runs the whole schedule, writing DIR/log.csv (and iters.csv). Returns the final test
// evaluation in *final. Fails (ERR_RUNTIME) on a non-finite loss, naming step, LR, momentum.
int trainer_run(Trainer *t, const char *dir, EvalResult *final, Err *e);

#endif
