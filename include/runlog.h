// runlog.h: a run's CSV files in its directory, from one definition of their columns:
// DIR/log.csv, one row per epoch (read back by curves.c), and DIR/iters.csv, one row per
// step (train.log_iters); after every epoch DIR/curves.png is redrawn from log.csv.
// On resume, rows written after the checkpoint are dropped, so a resumed log reads as if
// the run had never stopped.
#ifndef ONECYCLE_RUNLOG_H
#define ONECYCLE_RUNLOG_H
#include "common.h"
#include <stdio.h>

#define RUNLOG_EPOCH_HEADER \
    "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec"
// A run with a validation split (data.valid_images) has two more columns at the end, so the
// columns of every other run, and their positions, stay as they were.
#define RUNLOG_VALID_COLUMNS ",valid_loss,valid_acc"
#define RUNLOG_EPOCH_VALID_HEADER RUNLOG_EPOCH_HEADER RUNLOG_VALID_COLUMNS
#define RUNLOG_ITERS_HEADER "iteration,epoch,lr,momentum,loss,acc"

typedef struct RunLogEpoch {
    int epoch;                 // epochs done
    long step;                 // steps done
    double lr, momentum;       // of the epoch's last step
    double train_loss, train_acc;
    double test_loss, test_acc; // NaN: not evaluated this epoch (empty fields)
    double seconds, images_per_sec;
    double valid_loss, valid_acc; // the validation split's (written only to a log opened with valid)
} RunLogEpoch;

typedef struct RunLogFiles {
    char dir[FS_PATH_MAX];
    FILE *log, *iters; // iters NULL unless asked for
    int valid;         // log.csv has the validation columns
} RunLogFiles;

// Opens DIR/log.csv (and DIR/iters.csv with iters) for appending; valid: with the columns of
// the validation split. resume: keep only the rows of epochs below keep_epoch and steps below
// keep_step; else start them afresh.
int runlog_open(RunLogFiles *r, const char *dir, int iters, int valid, int resume, long keep_epoch, long keep_step,
                Err *e);
void runlog_step(RunLogFiles *r, long step, double epoch, double lr, double momentum, double loss, double acc);
// Appends the epoch's row, flushes both files and redraws DIR/curves.png; an error here is
// only the figure's (the rows are written), for the caller to report as a warning.
int runlog_epoch(RunLogFiles *r, const RunLogEpoch *row, Err *e);
int runlog_close(RunLogFiles *r, Err *e);

#endif
