// outfile.c: an output file written beside its path and renamed over it (see outfile.h).
#include "outfile.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outfile_check(const char *path, Err *e) {
    if (!*path) return err_set(e, ERR_INPUT, "the output path is empty");
    if (strlen(path) >= FS_PATH_MAX)
        return err_set(e, ERR_INPUT, "%.80s...: path too long (%zu characters; at most %d)", path, strlen(path),
                       FS_PATH_MAX - 1);
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return ERR_OK;
        return err_set(e, ERR_INPUT, "%s: cannot write: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return err_set(e, ERR_INPUT, "%s: is %s; outputs are written only as regular files (remove it, or choose "
                                     "another name)",
                       path, fs_file_kind(st.st_mode));
    return ERR_OK;
}

int outfile_check_in(const char *dir, const char *name, Err *e) {
    char path[FS_PATH_MAX];
    if (fs_join(path, sizeof path, dir, name, e)) return e->code;
    return outfile_check(path, e);
}

size_t outfile_temp_base(const char *name) {
    const char *t = strstr(name, ".tmp");
    // The last ".tmp" that ends the name or is followed by ".DIGITS" alone.
    size_t base = 0;
    for (; t; t = strstr(t + 1, ".tmp")) {
        const char *p = t + 4;
        if (*p == '.') {
            p++;
            if (!*p) continue;
            while (*p >= '0' && *p <= '9') p++;
        }
        if (!*p && t > name) base = (size_t)(t - name);
    }
    return base;
}

// The directory part of path ("." when there is none) into buf; the name's offset in path.
static size_t split_dir(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, cap, ".");
        return 0;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(buf, path, n); // path fits in cap (FS_PATH_MAX), so its prefix does
    buf[n] = 0;
    return (size_t)(slash - path) + 1;
}

// Removes NAME.tmp.PID beside path for every PID no process has any more: what a process
// killed while writing path left. A live pid (another writer, or a reused pid) is left
// alone.
static void remove_stale(const char *path) {
    char dir[FS_PATH_MAX];
    size_t off = split_dir(path, dir, sizeof dir);
    const char *name = path + off;
    size_t nl = strlen(name);
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *de;
    while ((de = readdir(dh))) {
        const char *d = de->d_name;
        if (strncmp(d, name, nl) || strncmp(d + nl, ".tmp.", 5) || outfile_temp_base(d) != nl) continue;
        char *end;
        long pid = strtol(d + nl + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char p[FS_PATH_MAX + OUTFILE_TMP_SUFFIX];
        int n = snprintf(p, sizeof p, "%s/%s", dir, d);
        if (n > 0 && (size_t)n < sizeof p) unlink(p);
    }
    closedir(dh);
}

// The temporary file being written, for the signal handler of outfile_clean_on_signal.
static char live_tmp[FS_PATH_MAX + OUTFILE_TMP_SUFFIX];
static volatile sig_atomic_t live;

static void on_fatal_signal(int sig) {
    if (live) unlink(live_tmp); // async-signal-safe
    signal(sig, SIG_DFL);
    raise(sig);
}

void outfile_clean_on_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void set_live(const char *tmp) {
    live = 0;
    if (tmp) {
        memcpy(live_tmp, tmp, strlen(tmp) + 1);
        live = 1;
    }
}

int outfile_open(OutFile *o, const char *path, Err *e) {
    memset(o, 0, sizeof *o);
    if (outfile_check(path, e)) return e->code;
    memcpy(o->path, path, strlen(path) + 1);
    int n = snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof o->tmp) // cannot happen: the suffix has its room
        return err_set(e, ERR_INPUT, "%s: path too long", path);
    remove_stale(path);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) { // ours from before: this process is its only writer
        unlink(o->tmp);
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    }
    if (fd < 0) {
        int en = errno;
        return err_set(e, en == ENAMETOOLONG ? ERR_INPUT : ERR_RUNTIME, "%s: cannot write (temporary file %s): %s",
                       path, o->tmp, strerror(en));
    }
    set_live(o->tmp);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int en = errno;
        close(fd);
        unlink(o->tmp);
        set_live(NULL);
        return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(en));
    }
    return ERR_OK;
}

static void fsync_dir(const char *path) {
    char dir[FS_PATH_MAX];
    split_dir(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd); // durability only: the rename itself has happened
    close(fd);
}

int outfile_commit(OutFile *o, int failed, Err *e) {
    if (!o->f) return err_set(e, ERR_RUNTIME, "%s: not open for writing", o->path);
    int en = failed ? (errno ? errno : EIO) : 0; // errno: the caller's failure, if it set one
    if (!en && (ferror(o->f) || fflush(o->f) || fsync(fileno(o->f)))) en = errno ? errno : EIO;
    if (fclose(o->f) && !en) en = errno ? errno : EIO; // a full disk shows here
    o->f = NULL;
    Err ce = {0};
    if (!en && outfile_check(o->path, &ce)) { // something not a file was put there meanwhile
        unlink(o->tmp);
        set_live(NULL);
        return err_set(e, ce.code, "%s", ce.msg);
    }
    const int written = !en; // a write failure (a full disk) cut the temporary file short
    if (!en && rename(o->tmp, o->path)) en = errno;
    set_live(NULL);
    if (en) {
        unlink(o->tmp);
        return err_set(e, ERR_RUNTIME, "%s: cannot write: %s%s", o->path, strerror(en),
                       written ? "" : "; the incomplete file is removed");
    }
    fsync_dir(o->path);
    return ERR_OK;
}

void outfile_abort(OutFile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) unlink(o->tmp);
    set_live(NULL);
}

int outfile_write_text(const char *path, const char *text, Err *e) {
    OutFile o;
    if (outfile_open(&o, path, e)) return e->code;
    return outfile_commit(&o, fputs(text, o.f) < 0, e);
}

FILE *outfile_open_append(const char *path, int truncate, Err *e) {
    if (outfile_check(path, e)) return NULL;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
        // O_NONBLOCK: a FIFO put there since the check opens at once (or fails), and the
        // fstat refuses it; O_NOFOLLOW: a link is never written through.
        fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
            close(fd);
            err_set(e, ERR_INPUT, "%s: not a regular file; outputs are written only as regular files", path);
            return NULL;
        }
        if (fd >= 0) {
            int fl = fcntl(fd, F_GETFL);
            if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        }
        if (fd >= 0 && truncate && ftruncate(fd, 0)) {
            err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    if (fd < 0) {
        err_set(e, errno == ELOOP ? ERR_INPUT : ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "a");
    if (!f) {
        err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}
