// runlog.c: log.csv and iters.csv of a run, and the curves figure (format in runlog.h).
#include "runlog.h"
#include "curves.h"
#include "outfile.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Opens DIR/name for appending after keeping only the header and the rows whose first
// field (epoch or iteration) is below `keep_below`: rows written after the checkpoint we
// resume from are dropped, so a resumed log reads as if the run had never stopped. The kept
// rows go to a temporary file renamed over the log once complete (outfile.h); on any
// failure (a full disk) the temporary file is removed and the log is left as it was.
static FILE *open_csv(const char *dir, const char *name, const char *header, long keep_below, int resume, Err *e) {
    char path[FS_PATH_MAX], line[4096];
    if (fs_join(path, sizeof path, dir, name, e)) return NULL;
    FILE *old = NULL;
    if (resume && fs_exists(path) && !(old = fs_fopen_regular(path, "a regular file (the run's log)", NULL, e)))
        return NULL;
    if (!old) {
        FILE *f = outfile_open_append(path, 1, e);
        if (!f) return NULL;
        if (fprintf(f, "%s\n", header) < 0 || fflush(f)) {
            err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
            fclose(f);
            return NULL;
        }
        return f;
    }
    OutFile of;
    if (outfile_open(&of, path, e)) {
        fclose(old);
        return NULL;
    }
    FILE *f = of.f;
    errno = 0;
    int bad = fprintf(f, "%s\n", header) < 0, first = 1;
    while (!bad && fgets(line, sizeof line, old)) {
        if (first) {
            first = 0;
            continue;
        }
        if (strtol(line, NULL, 10) < keep_below && strchr(line, '\n')) bad = fputs(line, f) < 0;
    }
    bad |= ferror(old);
    int en = bad ? (errno ? errno : EIO) : 0;
    fclose(old);
    errno = en;
    Err ce = {0};
    if (outfile_commit(&of, bad, &ce)) { // a full disk shows here, when the buffer is written
        err_set(e, ce.code, "cannot rewrite the log for the resume: %s; the log is unchanged", ce.msg);
        return NULL;
    }
    return outfile_open_append(path, 0, e);
}

int runlog_open(RunLogFiles *r, const char *dir, int iters, int valid, int resume, long keep_epoch, long keep_step,
                Err *e) {
    memset(r, 0, sizeof *r);
    if (strlen(dir) >= sizeof r->dir) return fs_check_path("run directory", dir, e);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->valid = valid;
    if (!(r->log = open_csv(dir, "log.csv", valid ? RUNLOG_EPOCH_VALID_HEADER : RUNLOG_EPOCH_HEADER, keep_epoch,
                            resume, e)))
        return e->code;
    if (iters && !(r->iters = open_csv(dir, "iters.csv", RUNLOG_ITERS_HEADER, keep_step, resume, e))) {
        fclose(r->log);
        r->log = NULL;
        return e->code;
    }
    return ERR_OK;
}

void runlog_step(RunLogFiles *r, long step, double epoch, double lr, double momentum, double loss, double acc) {
    if (r->iters) fprintf(r->iters, "%ld,%.6f,%.8g,%.6g,%.6f,%.6f\n", step, epoch, lr, momentum, loss, acc);
}

int runlog_epoch(RunLogFiles *r, const RunLogEpoch *row, Err *e) {
    fprintf(r->log, "%d,%ld,%.8g,%.6g,%.6f,%.6f,", row->epoch, row->step, row->lr, row->momentum, row->train_loss,
            row->train_acc);
    if (!isnan(row->test_loss))
        fprintf(r->log, "%.6f,%.6f,", row->test_loss, row->test_acc);
    else
        fprintf(r->log, ",,");
    fprintf(r->log, "%.2f,%.1f", row->seconds, row->images_per_sec);
    if (r->valid) fprintf(r->log, ",%.6f,%.6f", row->valid_loss, row->valid_acc);
    fprintf(r->log, "\n");
    fflush(r->log);
    if (r->iters) fflush(r->iters);
    char logpath[FS_PATH_MAX], png[FS_PATH_MAX];
    if (fs_join(logpath, sizeof logpath, r->dir, "log.csv", e) || fs_join(png, sizeof png, r->dir, "curves.png", e))
        return e->code;
    const char *logs[1] = {logpath};
    return curves_write_png(logs, NULL, 1, png, e);
}

int runlog_close(RunLogFiles *r, Err *e) {
    int bad = 0;
    if (r->iters) fclose(r->iters);
    if (r->log && fclose(r->log)) bad = 1;
    r->log = r->iters = NULL;
    return bad ? err_set(e, ERR_RUNTIME, "%s/log.csv: write failed", r->dir) : ERR_OK;
}
