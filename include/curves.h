// curves.h: training curves of runs, read back from their log.csv files and drawn as PNG.
//
// log.csv (written by runlog.c) has the header
//   epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec
// and one row per epoch; test_loss and test_acc are empty in epochs without evaluation. A run
// with a validation split adds valid_loss,valid_acc at the end (RUNLOG_EPOCH_VALID_HEADER).
#ifndef ONECYCLE_CURVES_H
#define ONECYCLE_CURVES_H
#include "common.h"
#include "runlog.h"

#define CURVES_HEADER RUNLOG_EPOCH_HEADER       // the columns runlog.c writes
#define CURVES_VALID_HEADER RUNLOG_EPOCH_VALID_HEADER // the same with the validation split's columns
#define CURVES_ITERS_HEADER RUNLOG_ITERS_HEADER // iters.csv ([train] log_iters): one row per SGD step
// schedule.csv (every run directory, `onecycle schedule`): the planned LR and momentum per step.
#define CURVES_SCHEDULE_HEADER "iteration,epoch,lr,momentum"

typedef struct RunLog {
    int n; // rows
    double *epoch, *lr, *momentum, *train_loss, *train_acc, *test_loss, *test_acc; // (n); test NaN when empty
    double *iteration, *seconds, *images_per_sec; // (n); log.csv's own columns, NaN from an iters.csv
    double *valid_loss, *valid_acc; // (n); the validation split's, NaN when the log has none
    int has_valid;                  // the log has the validation columns
    int per_step; // 1: read from an iters.csv (rows are steps, no test fields)
    // LR and momentum per step up to the last logged epoch, from the schedule.csv beside a
    // log (curves_read_schedule); nsched 0 when there is none.
    int nsched;
    double *sched_epoch, *sched_lr, *sched_mom;
} RunLog;

// Reads and validates a log.csv, or an iters.csv (told apart by the header; its loss and
// acc become train_loss and train_acc, the test fields NaN). Errors (ERR_INPUT) name the
// file and line: missing file, wrong header, a row without all its fields, a field that is
// not a number (only log.csv's test fields may be empty), or no rows at all.
int curves_read_log(const char *path, RunLog *log, Err *e);
// The schedule beside a log: DIR/schedule.csv for DIR/log.csv, else NAME.schedule.csv for
// NAME.csv (scripts/sweep's mean logs). No such file: ERR_OK with nsched = 0. A malformed
// one: ERR_INPUT naming it.
int curves_read_schedule(const char *log_path, RunLog *log, Err *e);
void curves_free_log(RunLog *log);

// The default legend label of a log: the name of its directory ("runs/a/log.csv" -> "a"),
// or the file name without ".csv" when the path has no directory.
void curves_default_label(const char *path, char *buf, size_t cap);

// Three panels side by side: loss on a log axis (train solid, test dashed), accuracy in %
// (same), and LR with momentum on the right axis (dashed), all against epochs. LR and
// momentum are drawn per step where known (an iters.csv, or the schedule.csv beside a
// log.csv), else at the logged epochs. Several logs are overlaid,
// one colour per log, named by labels (NULL: curves_default_label). SVG when png ends in
// .svg (plot_write).
int curves_write_png(const char *const *logs, const char *const *labels, int nlogs, const char *png, Err *e);

#endif
