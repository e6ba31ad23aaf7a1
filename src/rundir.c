// rundir.c: the lock on a run directory and its leftover files (see rundir.h).
#include "rundir.h"
#include "outfile.h"
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// The pid the holder wrote, or 0. The holder writes it just after locking, so a reader
// that comes in between waits a moment for it.
static long holder_pid(int fd) {
    for (int tries = 0; tries < 20; tries++) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            long pid = strtol(buf, NULL, 10);
            if (pid > 0) return pid;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int rundir_lock(RunDir *d, const char *dir, Err *e) {
    memset(d, 0, sizeof *d);
    d->fd = -1;
    if (fs_check_path("run directory", dir, e)) return e->code;
    snprintf(d->path, sizeof d->path, "%s", dir);
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return err_set(e, ERR_INPUT, "%s: exists and is not a directory", dir);
    } else {
        d->created = 1;
        if (fs_mkdir_p(dir, e)) return e->code;
    }
    char lock[FS_PATH_MAX];
    if (fs_join(lock, sizeof lock, dir, RUNDIR_LOCK_NAME, e)) return e->code;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (fd < 0) return err_set(e, ERR_INPUT, "%s: cannot open the run directory's lock file: %s", lock, strerror(errno));
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, ERR_INPUT, "%s: not a regular file; it is the run directory's lock file", lock);
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int en = errno;
        long pid = en == EWOULDBLOCK ? holder_pid(fd) : 0;
        close(fd);
        if (en != EWOULDBLOCK) return err_set(e, ERR_RUNTIME, "%s: cannot lock: %s", lock, strerror(en));
        char who[48] = "";
        if (pid) snprintf(who, sizeof who, " (pid %ld)", pid);
        return err_set(e, ERR_INPUT,
                       "%s is in use by another onecycle process%s; wait for it to finish, stop it, or choose "
                       "another --out",
                       dir, who);
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
        int en = errno;
        close(fd);
        return err_set(e, ERR_RUNTIME, "%s: cannot write the lock file: %s", lock, strerror(en));
    }
    d->fd = fd;
    return ERR_OK;
}

void rundir_unlock(RunDir *d, int remove_if_new) {
    if (d->fd < 0) return;
    if (remove_if_new && d->created) {
        // Only the lock file in it: nothing was written, so nothing is lost.
        char lock[FS_PATH_MAX];
        if (!fs_join(lock, sizeof lock, d->path, RUNDIR_LOCK_NAME, NULL)) {
            DIR *dh = opendir(d->path);
            int others = 0;
            struct dirent *de;
            while (dh && (de = readdir(dh)))
                others += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, RUNDIR_LOCK_NAME);
            if (dh) closedir(dh);
            if (dh && !others && !unlink(lock)) rmdir(d->path);
        }
    }
    close(d->fd);
    d->fd = -1;
}

// The files a run writes into its directory (a kept copy's name is checked apart), and
// those an LR range test writes.
static const char *const run_files[] = {"log.csv",      "iters.csv",    "checkpoint.ckpt", "checkpoint-best.ckpt",
                                        "curves.png",   "summary.json", "config.cfg",      "schedule.csv",
                                        "schedule.png", NULL};
static const char *const lrfind_files[] = {"lr_find.csv", "lr_find.png", "lr_find.cfg", NULL};

static int in_list(const char *const *list, const char *name, size_t n) {
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncmp(list[i], name, n)) return 1;
    return 0;
}

// checkpoint-epochN.ckpt, the first n characters of name.
static int is_kept(const char *name, size_t n) {
    static const char pre[] = "checkpoint-epoch", post[] = ".ckpt";
    const size_t np = sizeof pre - 1, nq = sizeof post - 1;
    if (n <= np + nq || strncmp(name, pre, np) || strncmp(name + n - nq, post, nq)) return 0;
    for (size_t i = np; i < n - nq; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

// A temporary file of one of the program's outputs (outfile.h): NAME.tmp.PID, NAME.tmp.
static int leftover(const char *name) {
    size_t n = outfile_temp_base(name);
    return n && (in_list(run_files, name, n) || in_list(lrfind_files, name, n) || is_kept(name, n));
}

int rundir_remove_leftovers(const RunDir *d, int *removed, Err *e) {
    int n = 0;
    if (removed) *removed = 0;
    DIR *dh = opendir(d->path);
    if (!dh) return err_set(e, ERR_RUNTIME, "%s: cannot list: %s", d->path, strerror(errno));
    struct dirent *de;
    int rc = ERR_OK;
    while ((de = readdir(dh))) {
        if (!leftover(de->d_name)) continue;
        char p[FS_PATH_MAX];
        if (fs_join(p, sizeof p, d->path, de->d_name, e)) {
            rc = e->code;
            break;
        }
        if (unlink(p) && errno != ENOENT) {
            rc = err_set(e, ERR_RUNTIME, "%s: cannot remove a leftover temporary file: %s", p, strerror(errno));
            break;
        }
        n++;
    }
    closedir(dh);
    if (removed) *removed = n;
    return rc;
}

int rundir_has_run(const RunDir *d) {
    return fs_exists_in(d->path, "log.csv") || fs_exists_in(d->path, "checkpoint.ckpt");
}

int rundir_check_run_files(const RunDir *d, const int *keep, int nkeep, Err *e) {
    for (int i = 0; run_files[i]; i++)
        if (outfile_check_in(d->path, run_files[i], e)) return e->code;
    for (int i = 0; i < nkeep; i++) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-epoch%d.ckpt", keep[i]);
        if (outfile_check_in(d->path, name, e)) return e->code;
    }
    return ERR_OK;
}

int rundir_check_lrfind_files(const RunDir *d, Err *e) {
    for (int i = 0; lrfind_files[i]; i++)
        if (outfile_check_in(d->path, lrfind_files[i], e)) return e->code;
    return ERR_OK;
}

static int remove_named(const RunDir *d, const char *name, Err *e) {
    char p[FS_PATH_MAX];
    if (fs_join(p, sizeof p, d->path, name, e)) return e->code;
    if (unlink(p) && errno != ENOENT)
        return err_set(e, ERR_RUNTIME, "%s: cannot remove the old run's file: %s", p, strerror(errno));
    return ERR_OK;
}

int rundir_remove_run(const RunDir *d, Err *e) {
    for (int i = 0; run_files[i]; i++)
        if (remove_named(d, run_files[i], e)) return e->code;
    // Every kept copy, whichever epochs the old run kept.
    DIR *dh = opendir(d->path);
    if (!dh) return err_set(e, ERR_RUNTIME, "%s: cannot list: %s", d->path, strerror(errno));
    struct dirent *de;
    int rc = ERR_OK;
    while (!rc && (de = readdir(dh)))
        if (is_kept(de->d_name, strlen(de->d_name))) rc = remove_named(d, de->d_name, e);
    closedir(dh);
    return rc;
}

int rundir_remove_lrfind(const RunDir *d, Err *e) {
    for (int i = 0; lrfind_files[i]; i++)
        if (remove_named(d, lrfind_files[i], e)) return e->code;
    return ERR_OK;
}
