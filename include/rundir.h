// rundir.h: a run directory belongs to one process at a time.
//
// Every command that writes a run directory (train, its --resume, lr-find) first takes an
// exclusive advisory lock (flock) on DIR/onecycle.lock and keeps it until it exits. A second
// process that wants the same directory is refused at once, with the holder's pid (which the
// holder writes into the lock file). The kernel drops a flock when its holder exits, however
// it exits, so a lock file left by a killed process blocks no one; the file itself is never
// deleted (deleting it would let two processes lock two different files of the same name).
#ifndef ONECYCLE_RUNDIR_H
#define ONECYCLE_RUNDIR_H
#include "common.h"

#define RUNDIR_LOCK_NAME "onecycle.lock"

typedef struct RunDir {
    int fd;      // the locked DIR/onecycle.lock (-1: none)
    int created; // the directory did not exist before rundir_lock
    char path[FS_PATH_MAX];
} RunDir;

// Creates dir (and its parents) if needed and locks it for this process. ERR_INPUT when
// another process holds it: "DIR is in use by another onecycle process (pid N) ...".
int rundir_lock(RunDir *d, const char *dir, Err *e);
// Releases the lock (it is also released when the process exits). With `remove_if_new`,
// a directory that rundir_lock created is removed again when nothing but the lock file
// is in it (a command that failed before writing anything leaves nothing behind).
void rundir_unlock(RunDir *d, int remove_if_new);
// Removes the temporary files a process killed while writing leaves behind: NAME.tmp.PID
// (and NAME.tmp) of every file a run or a range test writes (checkpoint.ckpt,
// checkpoint-best.ckpt, checkpoint-epochN.ckpt, log.csv, summary.json, curves.png ...).
// Only while holding the lock: then no other process is writing them. *removed (may be NULL) gets how many.
int rundir_remove_leftovers(const RunDir *d, int *removed, Err *e);
// Whether the directory holds a run's results (log.csv or checkpoint.ckpt).
int rundir_has_run(const RunDir *d);
// ERR_INPUT when a file a run writes (log.csv, iters.csv, checkpoint.ckpt,
// checkpoint-best.ckpt, curves.png, summary.json, config.cfg, schedule.csv, schedule.png, and checkpoint-epochN.ckpt for the
// nkeep epochs of keep) is there as anything but a regular file: a FIFO (which would block
// the run), a device, a directory, a symbolic link (outfile_check). Made before anything
// in the directory is written or removed.
int rundir_check_run_files(const RunDir *d, const int *keep, int nkeep, Err *e);
// The same for a range test's lr_find.csv, lr_find.png and lr_find.cfg.
int rundir_check_lrfind_files(const RunDir *d, Err *e);
// Removes a run's files (those above, and every checkpoint-epochN.ckpt): a run started
// with --force replaces the old one whole, nothing of it stays beside the new run.
int rundir_remove_run(const RunDir *d, Err *e);
// Removes a range test's files (lr-find --force).
int rundir_remove_lrfind(const RunDir *d, Err *e);

#endif
