// curves.h: training curves of runs, read back from their log.csv files and drawn as PNG.
//
// log.csv (written by runlog.c) has the header
//   epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec
// and one row per epoch; test_loss and test_acc are empty in epochs without evaluation.
#ifndef ONECYCLE_CURVES_H
#define ONECYCLE_CURVES_H
#include "common.h"
#include "runlog.h"

#define CURVES_HEADER RUNLOG_EPOCH_HEADER // the columns runlog.c writes

typedef struct RunLog {
    int n; // rows
    double *epoch, *lr, *momentum, *train_loss, *train_acc, *test_loss, *test_acc; // (n); test NaN when empty
} RunLog;

// Reads and validates a log. Errors (ERR_INPUT) name the file and line: missing file,
// wrong header, a row without 10 fields, a field that is not a number (only the test
// fields may be empty), or no rows at all.
int curves_read_log(const char *path, RunLog *log, Err *e);
void curves_free_log(RunLog *log);

// The default legend label of a log: the name of its directory ("runs/a/log.csv" -> "a"),
// or the file name without ".csv" when the path has no directory.
void curves_default_label(const char *path, char *buf, size_t cap);

// Three panels side by side: loss (train solid, test dashed), accuracy in % (same), and LR
// with momentum on the right axis (dashed), all against epochs. Several logs are overlaid,
// one colour per log, named by labels (NULL: curves_default_label).
int curves_write_png(const char *const *logs, const char *const *labels, int nlogs, const char *png, Err *e);

#endif
