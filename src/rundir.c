// rundir.c: the lock on a run directory and its leftover files (see rundir.h).
#include "rundir.h"
#include <dirent.h>
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

static int leftover(const char *name) {
    static const char prefix[] = "checkpoint.ckpt.tmp.";
    return !strncmp(name, prefix, sizeof prefix - 1) || !strcmp(name, "log.csv.tmp") || !strcmp(name, "iters.csv.tmp") ||
           !strcmp(name, "summary.json.tmp");
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

static const char *const run_files[] = {"log.csv",      "checkpoint.ckpt",      "iters.csv", "curves.png",
                                        "summary.json", "checkpoint-best.ckpt", NULL};

int rundir_has_run(const RunDir *d) {
    return fs_exists_in(d->path, "log.csv") || fs_exists_in(d->path, "checkpoint.ckpt");
}

int rundir_remove_run(const RunDir *d, Err *e) {
    for (int i = 0; run_files[i]; i++) {
        char p[FS_PATH_MAX];
        if (fs_join(p, sizeof p, d->path, run_files[i], e)) return e->code;
        if (unlink(p) && errno != ENOENT)
            return err_set(e, ERR_RUNTIME, "%s: cannot remove the old run's file: %s", p, strerror(errno));
    }
    return ERR_OK;
}
