// test_outfile.c: output files (issue 35): a FIFO, device, directory or symbolic link where
// an output goes is refused before anything is opened (a FIFO hung every command that
// wrote one, a link was written through), the temporary name holds the whole path, a
// failed write leaves the old file, and the temporary files of killed processes go away.
// Then the same through every command that writes files. Whatever could hang runs in a
// child with an alarm, or under `timeout -s KILL`, so a hang fails instead of stalling.
#include "outfile.h"
#include "test.h"
#include "testdata.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 15];

// Runs fn(arg) in a child killed after 20 s; its exit status (fn's return value), or -1
// when it was killed (a hang) or crashed.
static int in_child(int (*fn)(const char *), const char *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        _exit(fn(arg));
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_hello(const char *path) {
    Err e = {0};
    return outfile_write_text(path, "hello\n", &e);
}

static int append_hello(const char *path) {
    Err e = {0};
    FILE *f = outfile_open_append(path, 0, &e);
    if (!f) return e.code;
    fputs("hello\n", f);
    fclose(f);
    return 0;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d) closedir(d);
    return n;
}

static void test_refusals(void) {
    char path[700], link[700];
    const char *dir = test_tmpdir();
    Err e = {0};
    test_begin("outfile: an absent path and a regular file may be written");
    snprintf(path, sizeof path, "%s/a.txt", dir);
    CHECK_EQ_INT(outfile_check(path, &e), ERR_OK);
    CHECK_EQ_INT(outfile_write_text(path, "one\n", &e), ERR_OK);
    CHECK_EQ_INT(outfile_write_text(path, "two\n", &e), ERR_OK);
    char *s = testdata_slurp(path);
    CHECK(s && !strcmp(s, "two\n"));
    free(s);
    CHECK_EQ_INT(count_entries(dir), 1); // no temporary file stays

    test_begin("outfile: a FIFO is refused at once, not opened (write and append)");
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0644) == 0);
    CHECK_EQ_INT(outfile_check(path, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a FIFO (named pipe); outputs are written only as regular files");
    CHECK_EQ_INT(in_child(write_hello, path), ERR_INPUT);
    CHECK_EQ_INT(in_child(append_hello, path), ERR_INPUT);

    test_begin("outfile: a directory is refused");
    CHECK_EQ_INT(outfile_check(dir, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a directory");

    test_begin("outfile: a symbolic link is refused and its target never written");
    snprintf(path, sizeof path, "%s/target.cfg", dir);
    testdata_put(path, "mine\n");
    snprintf(link, sizeof link, "%s/link.cfg", dir);
    CHECK(symlink("target.cfg", link) == 0);
    CHECK_EQ_INT(in_child(write_hello, link), ERR_INPUT);
    CHECK_EQ_INT(in_child(append_hello, link), ERR_INPUT);
    CHECK_EQ_INT(outfile_check(link, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a symbolic link");
    s = testdata_slurp(path);
    CHECK(s && !strcmp(s, "mine\n"));
    free(s);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));

    test_begin("outfile: a write that failed leaves the old file and no temporary file");
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    testdata_put(path, "old\n");
    OutFile o;
    CHECK_EQ_INT(outfile_open(&o, path, &e), ERR_OK);
    fputs("new, half written", o.f);
    CHECK(outfile_commit(&o, 1, &e) != ERR_OK);
    s = testdata_slurp(path);
    CHECK(s && !strcmp(s, "old\n"));
    free(s);
    CHECK(access(o.tmp, F_OK) != 0);
    CHECK_EQ_INT(outfile_open(&o, path, &e), ERR_OK);
    outfile_abort(&o);
    CHECK(access(o.tmp, F_OK) != 0);
}

// Issue 35, item 1: npz.c built its temporary name in 1,100 bytes. Every length up to the
// README's 4,032 characters is used whole: the file gets its own name and nothing else in
// the directory is touched.
static void test_long_paths(void) {
    test_begin("outfile: a path of 4,032 characters is written whole");
    static char path[4200];
    const char *dir = test_tmpdir();
    int n = snprintf(path, sizeof path, "%s", dir);
    while (n + 201 + 20 <= 4032) {
        n += snprintf(path + n, sizeof path - (size_t)n, "/%0200d", 0);
        CHECK(mkdir(path, 0755) == 0);
    }
    char last[FS_PATH_MAX];
    snprintf(last, sizeof last, "%s", path);
    snprintf(path + n, sizeof path - (size_t)n, "/%0*d.txt", 4032 - n - 5, 7);
    CHECK_EQ_INT(strlen(path), 4032);
    testdata_put(path, "old\n");
    Err e = {0};
    CHECK_MSG(outfile_write_text(path, "new\n", &e) == ERR_OK, "%s", e.msg);
    char *s = testdata_slurp(path);
    CHECK(s && !strcmp(s, "new\n"));
    free(s);
    CHECK_EQ_INT(count_entries(last), 1);

    test_begin("outfile: a path the kernel cannot take is refused, never shortened");
    memset(path + n, 'x', 4200 - 1 - (size_t)n);
    path[4199] = 0;
    CHECK_EQ_INT(outfile_write_text(path, "x", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "path too long");
    CHECK_EQ_INT(count_entries(last), 1);
}

static void test_temporary_names(void) {
    test_begin("outfile: which names are temporary files, and of what");
    CHECK_EQ_INT(outfile_temp_base("checkpoint-epoch3.ckpt.tmp.123"), strlen("checkpoint-epoch3.ckpt"));
    CHECK_EQ_INT(outfile_temp_base("checkpoint.ckpt.tmp.4242"), strlen("checkpoint.ckpt"));
    CHECK_EQ_INT(outfile_temp_base("log.csv.tmp"), strlen("log.csv"));
    CHECK_EQ_INT(outfile_temp_base("model.npz.tmp.99"), strlen("model.npz"));
    CHECK_EQ_INT(outfile_temp_base("notes.txt"), 0);
    CHECK_EQ_INT(outfile_temp_base("x.tmp.12a"), 0);
    CHECK_EQ_INT(outfile_temp_base("x.tmp."), 0);
    CHECK_EQ_INT(outfile_temp_base(".tmp.1"), 0);

    // Item 5: OUT.npz.tmp.PID of an export killed outright stayed for ever.
    test_begin("outfile: a killed writer's temporary file is removed at the next write, a live one's kept");
    const char *dir = test_tmpdir();
    fflush(NULL);
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char path[700], stale[800], live[800];
    snprintf(path, sizeof path, "%s/model.npz", dir);
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    testdata_put(stale, "half");
    testdata_put(live, "being written");
    Err e = {0};
    CHECK_EQ_INT(outfile_write_text(path, "npz", &e), ERR_OK);
    CHECK_MSG(access(stale, F_OK) != 0, "%s stayed", stale);
    CHECK_MSG(access(live, F_OK) == 0, "%s was removed", live);
}

static int write_then_signal(const char *path) {
    Err e = {0};
    OutFile o;
    outfile_clean_on_signal();
    if (outfile_open(&o, path, &e)) return 9;
    fputs("partial", o.f);
    fflush(o.f);
    raise(SIGINT);
    return 8; // not reached: the signal ends the process
}

static void test_signal_cleanup(void) {
    test_begin("outfile: SIGINT while writing (export, plot, schedule) leaves no temporary file");
    const char *dir = test_tmpdir();
    char path[700];
    snprintf(path, sizeof path, "%s/model.npz", dir);
    CHECK_EQ_INT(in_child(write_then_signal, path), -1); // ended by the signal
    CHECK_EQ_INT(count_entries(dir), 0);
}

// ---- every command that writes files ------------------------------------------------

static int run(const char *fmt, const char *a, const char *b, const char *c) {
    char args[6000], cmd[6400];
    snprintf(args, sizeof args, fmt, a, b, c);
    snprintf(cmd, sizeof cmd, "timeout -s KILL 60 %s %s", testdata_bin(), args);
    int rc = testdata_run(cmd, out, sizeof out);
    if (getenv("ONECYCLE_TEST_VERBOSE")) printf("$ %s\n%s\n", cmd, out);
    return rc;
}

#define EXPECT_FIFO_REFUSED(rc)                                                                              \
    do {                                                                                                     \
        int rc_ = (rc);                                                                                      \
        CHECK_MSG(rc_ == 2, "exit status %d (137: hung and killed):\n%.1500s", rc_, out);                    \
        CHECK_STR_CONTAINS(out, "is a FIFO (named pipe); outputs are written only as regular files");        \
    } while (0)

static void fifo_at(const char *dir, const char *name) {
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
    CHECK_MSG(mkfifo(p, 0644) == 0, "mkfifo %s", p);
}

static void test_commands_without_data(void) {
    const char *dir = test_tmpdir();
    char cfg[800], log[800], p[800];
    snprintf(cfg, sizeof cfg, "%s",
             testdata_write(dir, "s.cfg",
                            "[data]\ntrain_images = 512\ntest_images = 64\n[model]\ndepth = 8\n[train]\nbatch_size = 64\n"
                            "[schedule]\nepochs = 2\nlr = 0.1\n"));
    snprintf(log, sizeof log, "%s",
             testdata_write(dir, "log.csv",
                            "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
                            "1,8,0.1,0.9,2.0,0.2,1.9,0.25,1,100\n2,16,0.1,0.9,1.8,0.3,1.7,0.35,2,100\n"));
    test_begin("schedule --csv FIFO: refused at once");
    fifo_at(dir, "s.csv");
    snprintf(p, sizeof p, "%s/s.csv", dir);
    EXPECT_FIFO_REFUSED(run("schedule %s --csv %s", cfg, p, ""));
    test_begin("schedule --png FIFO: refused at once");
    fifo_at(dir, "s.png");
    snprintf(p, sizeof p, "%s/s.png", dir);
    EXPECT_FIFO_REFUSED(run("schedule %s --png %s", cfg, p, ""));
    test_begin("plot --png FIFO: refused at once");
    fifo_at(dir, "c.png");
    snprintf(p, sizeof p, "%s/c.png", dir);
    EXPECT_FIFO_REFUSED(run("plot %s --png %s", log, p, ""));
    test_begin("plot --png SYMLINK: refused, the target left as it was");
    snprintf(p, sizeof p, "%s/c2.png", dir);
    CHECK(symlink("s.cfg", p) == 0);
    CHECK_EQ_INT(run("plot %s --png %s", log, p, ""), 2);
    CHECK_STR_CONTAINS(out, "is a symbolic link");
    char *s = testdata_slurp(cfg);
    CHECK(s && !strncmp(s, "[data]", 6));
    free(s);
    test_begin("export to a FIFO, even with --force: refused at once");
    fifo_at(dir, "m.npz");
    snprintf(p, sizeof p, "%s/m.npz", dir);
    EXPECT_FIFO_REFUSED(run("export tests/fixtures/export_resnet8_B.ckpt %s --force", p, "", ""));
}

static void test_commands_with_data(const char *data) {
    const char *dir = test_tmpdir();
    char cfg[800], run_dir[800], text[1200], p[900], mine[800];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 256\ntest_images = 64\n[model]\ndepth = 8\n[train]\nbatch_size = 64\n"
             "progress = plain\n[schedule]\nepochs = 1\nlr = 0.05\n",
             data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "t.cfg", text));
    const char *names[] = {"curves.png", "config.cfg", "schedule.csv", "schedule.png", "log.csv", "summary.json"};
    for (int i = 0; i < 6; i++) {
        char title[120];
        snprintf(title, sizeof title, "train with a FIFO as %s: refused at once, nothing written", names[i]);
        test_begin(title);
        snprintf(run_dir, sizeof run_dir, "%s/fifo%d", dir, i);
        mkdir(run_dir, 0755);
        fifo_at(run_dir, names[i]);
        // --force: a log.csv alone would be "already holds a run" without it
        EXPECT_FIFO_REFUSED(run("train %s --out %s --threads 1 --force", cfg, run_dir, ""));
        CHECK_EQ_INT(count_entries(run_dir), 2); // the FIFO and the lock file
    }
    test_begin("train with a FIFO as iters.csv (log_iters): refused at once");
    snprintf(run_dir, sizeof run_dir, "%s/fifo-iters", dir);
    mkdir(run_dir, 0755);
    fifo_at(run_dir, "iters.csv");
    EXPECT_FIFO_REFUSED(run("train %s --out %s --threads 1 --set train.log_iters=true", cfg, run_dir, ""));

    // A finished run, then each way back into it.
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    test_begin("a run to go back to");
    int rc = run("train %s --out %s --threads 1", cfg, run_dir, "");
    if (!CHECK_MSG(rc == 0, "exit %d: %.2000s", rc, out)) return;
    snprintf(p, sizeof p, "%s/log.csv", run_dir);
    char *log = testdata_slurp(p);

    test_begin("train --force with a FIFO as schedule.png: refused before the old run is removed");
    fifo_at(run_dir, "schedule.png");
    EXPECT_FIFO_REFUSED(run("train %s --out %s --threads 1 --force", cfg, run_dir, ""));
    char *now = testdata_slurp(p);
    CHECK_MSG(log && now && !strcmp(log, now), "the old run's log.csv is kept");
    free(now);
    snprintf(p, sizeof p, "%s/schedule.png", run_dir);
    unlink(p);

    test_begin("train --resume with a FIFO as summary.json: refused at once");
    fifo_at(run_dir, "summary.json");
    snprintf(p, sizeof p, "%s/checkpoint.ckpt", run_dir);
    EXPECT_FIFO_REFUSED(run("train --resume %s --threads 1", p, "", ""));
    snprintf(p, sizeof p, "%s/summary.json", run_dir);
    unlink(p);

    // Item 7: config.cfg -> ../my.cfg was overwritten on resume.
    test_begin("train --resume with config.cfg a symbolic link: refused, its target untouched");
    snprintf(mine, sizeof mine, "%s/my.cfg", dir);
    testdata_put(mine, "# mine\n");
    snprintf(p, sizeof p, "%s/config.cfg", run_dir);
    unlink(p);
    CHECK(symlink("../my.cfg", p) == 0);
    snprintf(p, sizeof p, "%s/checkpoint.ckpt", run_dir);
    rc = run("train --resume %s --threads 1", p, "", "");
    CHECK_MSG(rc == 2, "exit %d: %.1500s", rc, out);
    CHECK_STR_CONTAINS(out, "config.cfg: is a symbolic link");
    char *m = testdata_slurp(mine);
    CHECK(m && !strcmp(m, "# mine\n"));
    free(m);
    free(log);

    test_begin("lr-find with a FIFO as lr_find.cfg: refused at once");
    snprintf(run_dir, sizeof run_dir, "%s/lrf", dir);
    mkdir(run_dir, 0755);
    fifo_at(run_dir, "lr_find.cfg");
    EXPECT_FIFO_REFUSED(run("lr-find %s --out %s --iters 5 --threads 1", cfg, run_dir, ""));
}

void suite_outfile(void) {
    test_refusals();
    test_long_paths();
    test_temporary_names();
    test_signal_cleanup();
    test_commands_without_data();
    const char *data = testdata_cifar_dir();
    test_begin("outfile: the commands that train");
    if (!data) {
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    test_commands_with_data(data);
}
