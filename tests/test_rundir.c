// test_rundir.c: a run directory belongs to one process (issue 13): the lock and its
// message, a stale lock from a dead process, leftover temporary files, and the commands that
// honour it: two trainings into one --out, lr-find, and train --resume A --out B.
#include "checkpoint.h"
#include "rundir.h"
#include "test.h"
#include "testdata.h"
#include "train.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[16384];

// A child process that holds dir's lock until killed; its pid, or -1.
static pid_t hold_lock(const char *dir) {
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        RunDir d;
        Err e = {0};
        char ok = rundir_lock(&d, dir, &e) == ERR_OK ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    close(fds[1]);
    char ok = 'n';
    if (read(fds[0], &ok, 1) != 1 || ok != 'y') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    close(fds[0]);
    return pid;
}

static void stop_child(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_lock(void) {
    test_begin("a second process is refused the directory, with the holder's pid");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/run", test_tmpdir());
    pid_t pid = hold_lock(dir);
    if (!CHECK_MSG(pid > 0, "child could not lock %s", dir)) return;
    RunDir d;
    Err e = {0};
    CHECK_EQ_INT(rundir_lock(&d, dir, &e), ERR_INPUT);
    char want[64];
    snprintf(want, sizeof want, "is in use by another onecycle process (pid %ld)", (long)pid);
    CHECK_STR_CONTAINS(e.msg, want);

    test_begin("a lock left by a killed process blocks no one");
    stop_child(pid); // SIGKILL: no chance to clean up; the lock file stays
    CHECK(fs_exists_in(dir, RUNDIR_LOCK_NAME));
    CHECK_EQ_INT(rundir_lock(&d, dir, &e), ERR_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, RUNDIR_LOCK_NAME);
    char *pidtext = testdata_slurp(path);
    CHECK_MSG(pidtext && atol(pidtext) == (long)getpid(), "the lock file names its holder: %s", pidtext);
    free(pidtext);
    rundir_unlock(&d, 0);

    // Issue 35, item 5: checkpoint-epochN.ckpt.tmp.PID (and every other output's temporary
    // file) stayed: only checkpoint.ckpt.tmp.* was matched.
    test_begin("leftover temporary files are removed, nothing else");
    const char *names[] = {"checkpoint.ckpt.tmp.4242", "log.csv.tmp", "iters.csv.tmp", "checkpoint-epoch3.ckpt.tmp.4242",
                           "summary.json.tmp.77", "curves.png.tmp.5", "config.cfg.tmp.6", "lr_find.csv.tmp.7",
                           "log.csv.tmp.8", "checkpoint.ckpt", "log.csv", "notes.txt", "notes.txt.tmp.9",
                           "checkpoint-epochx.ckpt.tmp.1", "train.out"};
    const int nnames = 15, ntemp = 9;
    for (int i = 0; i < nnames; i++) testdata_write(dir, names[i], "x");
    CHECK_EQ_INT(rundir_lock(&d, dir, &e), ERR_OK);
    int removed = -1;
    CHECK_EQ_INT(rundir_remove_leftovers(&d, &removed, &e), ERR_OK);
    CHECK_EQ_INT(removed, ntemp);
    for (int i = 0; i < nnames; i++) CHECK_MSG(fs_exists_in(dir, names[i]) == (i >= ntemp), "%s", names[i]);
    rundir_unlock(&d, 0);

    test_begin("a directory created for a command that failed is removed again");
    snprintf(dir, sizeof dir, "%s/new/run", test_tmpdir());
    CHECK_EQ_INT(rundir_lock(&d, dir, &e), ERR_OK);
    rundir_unlock(&d, 1);
    CHECK(!fs_exists(dir));
    test_begin("an --out that is a file is refused");
    const char *file = testdata_write(test_tmpdir(), "afile", "x");
    CHECK_EQ_INT(rundir_lock(&d, file, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "not a directory");
}

static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", testdata_bin(), args);
    return testdata_run(cmd, out, sizeof out);
}

static const char *tiny(const char *dir, const char *data, int epochs) {
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 256\ntest_images = 64\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nprogress = plain\n[schedule]\nepochs = %d\nlr = 0.05\n",
             data, epochs);
    return testdata_write(dir, "tiny.cfg", text);
}

// Issue 13, item 1: two trainings into one --out both ran and mixed their files.
static void test_commands_honour_the_lock(const char *data) {
    test_begin("train into a directory another process holds: exit 2, nothing written");
    const char *tmp = test_tmpdir();
    char cfg[600], dir[600], args[2000], want[80];
    snprintf(cfg, sizeof cfg, "%s", tiny(tmp, data, 1));
    snprintf(dir, sizeof dir, "%s/held", tmp);
    pid_t pid = hold_lock(dir);
    if (!CHECK(pid > 0)) return;
    snprintf(want, sizeof want, "(pid %ld)", (long)pid);
    snprintf(args, sizeof args, "train %s --out %s --threads 1", cfg, dir);
    CHECK_EQ_INT(run(args), 2);
    CHECK_STR_CONTAINS(out, "is in use by another onecycle process");
    CHECK_STR_CONTAINS(out, want);
    CHECK(!fs_exists_in(dir, "config.cfg") && !fs_exists_in(dir, "log.csv"));
    test_begin("lr-find into a directory another process holds: exit 2");
    snprintf(args, sizeof args, "lr-find %s --out %s --iters 2 --threads 1", cfg, dir);
    CHECK_EQ_INT(run(args), 2);
    CHECK_STR_CONTAINS(out, want);
    CHECK(!fs_exists_in(dir, "lr_find.cfg"));
    stop_child(pid);
    test_begin("the same directory once its holder is gone");
    snprintf(args, sizeof args, "train %s --out %s --threads 1", cfg, dir);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK_STR_CONTAINS(out, "GiB of memory planned for batch 64"); // issue 13, item 9
}

// Issue 13, item 2: `train --resume A/checkpoint.ckpt --out B` replaced run B's files.
// Item 13: a kill -9 during the checkpoint's fsync left checkpoint.ckpt.tmp.PID forever.
static void test_resume_out(const char *data) {
    static Config c;
    static char dump[65536];
    Trainer t;
    Err e = {0};
    const char *tmp = test_tmpdir();
    char cfg[600], a[600], b[600], cdir[600], args[3000], ckpt[700], path[800];
    snprintf(cfg, sizeof cfg, "%s", tiny(tmp, data, 2));
    snprintf(a, sizeof a, "%s/A", tmp);
    snprintf(b, sizeof b, "%s/B", tmp);
    snprintf(cdir, sizeof cdir, "%s/C", tmp);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", a);
    // Run A stopped after 6 of its 8 steps (epoch 1 logged); run B finished.
    char *text = testdata_slurp(cfg);
    int bad = !text || testdata_trainer(&t, &c, text);
    free(text);
    if (bad) return;
    config_dump(&c, dump, sizeof dump);
    t.stop_at_step = 6;
    mkdir(a, 0777);
    int rc = trainer_run(&t, a, dump, NULL, &e);
    CHECK_MSG(rc == ERR_INTERRUPTED, "run A: %d %s", rc, e.msg);
    trainer_free(&t);
    snprintf(args, sizeof args, "train %s --out %s --threads 1", cfg, b);
    CHECK_MSG(run(args) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/log.csv", a);
    char *alog = testdata_slurp(path);
    snprintf(path, sizeof path, "%s/log.csv", b);
    char *blog = testdata_slurp(path);
    snprintf(path, sizeof path, "%s/checkpoint.ckpt", b);
    long bstep = -1;
    CHECK_EQ_INT(checkpoint_read_step(path, &bstep, &e), ERR_OK);

    test_begin("--resume A --out B refuses to overwrite run B");
    snprintf(args, sizeof args, "train --resume %s --out %s --threads 1", ckpt, b);
    CHECK_EQ_INT(run(args), 2);
    CHECK_STR_CONTAINS(out, "already holds a run");
    snprintf(path, sizeof path, "%s/log.csv", b);
    char *now = testdata_slurp(path);
    CHECK_MSG(now && blog && !strcmp(now, blog), "B's log changed");
    free(now);
    test_begin("--resume with --force but no --out is refused");
    snprintf(args, sizeof args, "train --resume %s --force", ckpt);
    CHECK_EQ_INT(run(args), 2);
    CHECK_STR_CONTAINS(out, "--force goes with --out");

    test_begin("--resume A --out C continues into C with A's log rows; A is untouched");
    snprintf(args, sizeof args, "train --resume %s --out %s --threads 1", ckpt, cdir);
    CHECK_MSG(run(args) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/log.csv", cdir);
    char *clog = testdata_slurp(path);
    CHECK_MSG(clog && alog && !strncmp(clog, alog, strlen(alog)) && strstr(clog, "\n2,8,"),
              "C's log: A's rows, then epoch 2:\n%s\nA's:\n%s", clog, alog);
    free(clog);
    snprintf(path, sizeof path, "%s/log.csv", a);
    now = testdata_slurp(path);
    CHECK_MSG(now && alog && !strcmp(now, alog), "A's log changed");
    free(now);
    long astep = -1;
    CHECK_EQ_INT(checkpoint_read_step(ckpt, &astep, &e), ERR_OK);
    CHECK_EQ_INT(astep, 6);

    test_begin("--resume A --out B --force replaces run B");
    snprintf(args, sizeof args, "train --resume %s --out %s --force --threads 1", ckpt, b);
    CHECK_MSG(run(args) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/log.csv", b);
    now = testdata_slurp(path);
    CHECK_MSG(now && alog && !strncmp(now, alog, strlen(alog)), "B's log continues A's:\n%s", now);
    free(now);

    test_begin("a resume removes the checkpoint temporary file a killed process left");
    testdata_write(a, "checkpoint.ckpt.tmp.99999", "half a checkpoint");
    testdata_write(a, "log.csv.tmp", "");
    snprintf(args, sizeof args, "train --resume %s --threads 1", ckpt);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK(!fs_exists_in(a, "checkpoint.ckpt.tmp.99999") && !fs_exists_in(a, "log.csv.tmp"));
    CHECK_EQ_INT(checkpoint_read_step(ckpt, &astep, &e), ERR_OK);
    CHECK_EQ_INT(astep, 8);
    test_begin("--force removes it too, with the old run's files");
    testdata_write(b, "checkpoint.ckpt.tmp.99999", "half a checkpoint");
    testdata_write(b, "iters.csv", "an old run's per-step log");
    snprintf(args, sizeof args, "train %s --out %s --force --threads 1 --set schedule.epochs=1", cfg, b);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK(!fs_exists_in(b, "checkpoint.ckpt.tmp.99999") && !fs_exists_in(b, "iters.csv"));
    free(alog);
    free(blog);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = testdata_slurp_n(a, &na), *y = testdata_slurp_n(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void copy(const char *from, const char *to) {
    size_t n;
    char *x = testdata_slurp_n(from, &n);
    FILE *f = fopen(to, "wb");
    if (f && x) fwrite(x, 1, n, f);
    if (f) fclose(f);
    free(x);
}

// Issue 35, items 4-6: a kept checkpoint resumed in place rewrote the finished run; a kept
// copy that failed to save never came back; --force left the old run's kept copies.
static void test_kept(const char *data) {
    const char *tmp = test_tmpdir();
    char cfg[600], k[600], k2[600], args[3000], p[800], q[800], saved[800];
    snprintf(cfg, sizeof cfg, "%s", tiny(tmp, data, 2)); // 4 steps an epoch
    snprintf(k, sizeof k, "%s/K", tmp);
    snprintf(k2, sizeof k2, "%s/K2", tmp);
    test_begin("a run that keeps its epoch-1 checkpoint");
    snprintf(args, sizeof args, "train %s --out %s --threads 1 --set train.keep_checkpoints=1", cfg, k);
    if (!CHECK_MSG(run(args) == 0, "%s", out)) return;
    snprintf(p, sizeof p, "%s/checkpoint-epoch1.ckpt", k);
    snprintf(saved, sizeof saved, "%s/epoch1.copy", tmp);
    copy(p, saved);
    char *log = NULL, *sum = NULL, *ck = NULL;
    size_t nck = 0;
    snprintf(q, sizeof q, "%s/log.csv", k);
    log = testdata_slurp(q);
    snprintf(q, sizeof q, "%s/summary.json", k);
    sum = testdata_slurp(q);
    snprintf(q, sizeof q, "%s/checkpoint.ckpt", k);
    ck = testdata_slurp_n(q, &nck);

    test_begin("--resume of a kept checkpoint older than the run's own: refused, the run unchanged");
    snprintf(args, sizeof args, "train --resume %s --threads 1", p);
    CHECK_EQ_INT(run(args), 2);
    CHECK_STR_CONTAINS(out, "(step 4) is older than ");
    CHECK_STR_CONTAINS(out, "continue it in another directory with --out DIR");
    snprintf(q, sizeof q, "%s/log.csv", k);
    char *now = testdata_slurp(q);
    CHECK_MSG(log && now && !strcmp(log, now), "log.csv changed:\n%s", now);
    free(now);
    snprintf(q, sizeof q, "%s/summary.json", k);
    now = testdata_slurp(q);
    CHECK_MSG(sum && now && !strcmp(sum, now), "summary.json changed");
    free(now);
    snprintf(q, sizeof q, "%s/checkpoint.ckpt", k);
    size_t nnow = 0;
    now = testdata_slurp_n(q, &nnow);
    CHECK_MSG(ck && now && nck == nnow && !memcmp(ck, now, nck), "checkpoint.ckpt changed");
    free(now);
    test_begin("--resume of the kept checkpoint with --out: continued elsewhere");
    snprintf(args, sizeof args, "train --resume %s --out %s --threads 1", p, k2);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK(fs_exists_in(k2, "checkpoint.ckpt"));

    test_begin("a resume at the end of a kept epoch writes the kept copy when it is missing");
    snprintf(q, sizeof q, "%s/checkpoint.ckpt", k);
    copy(saved, q); // the state at the end of epoch 1, its kept copy lost
    unlink(p);
    snprintf(args, sizeof args, "train --resume %s --threads 1", q);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK_MSG(same_file(p, saved), "%s is back, as it was", p);

    test_begin("--force removes the old run's kept checkpoints");
    copy(saved, p);
    CHECK(fs_exists_in(k, "checkpoint-epoch1.ckpt"));
    snprintf(args, sizeof args, "train %s --out %s --threads 1 --force --set schedule.epochs=1", cfg, k);
    CHECK_MSG(run(args) == 0, "%s", out);
    CHECK_MSG(!fs_exists_in(k, "checkpoint-epoch1.ckpt"), "the old run's checkpoint-epoch1.ckpt stayed");
    free(log);
    free(sum);
    free(ck);

    // lr-find had no signal handling: Ctrl-C killed it, and under --force the old curves
    // stayed beside the new config.
    test_begin("lr-find --force interrupted: exit 3, the new curve so far and none of the old");
    char lr[600], cmd[4000];
    snprintf(lr, sizeof lr, "%s/L", tmp);
    snprintf(args, sizeof args, "lr-find %s --out %s --iters 5 --threads 1 --sweep momentum=0.8,0.85", cfg, lr);
    CHECK_MSG(run(args) == 0, "%s", out);
    snprintf(cmd, sizeof cmd,
             "%s lr-find %s --out %s --iters 100000 --threads 1 --force > %s/lr.out 2>&1 & p=$!; " TESTDATA_WATCHDOG(120) " i=0; "
             "while ! grep -q 'curve 1/1' %s/lr.out && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
             "kill -INT $p; wait $p; echo \"rc=$?\"; cat %s/lr.out",
             testdata_bin(), cfg, lr, tmp, tmp, tmp);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=3") != NULL, "lr-find exits 3 when interrupted:\n%s", out);
    CHECK_STR_CONTAINS(out, "interrupted at step");
    snprintf(q, sizeof q, "%s/lr_find.csv", lr);
    char *csv = testdata_slurp(q);
    CHECK_MSG(csv && !strstr(csv, "momentum=0.8,") && !strstr(csv, "momentum=0.85,") && strstr(csv, " wd="),
              "lr_find.csv holds the new curve only:\n%.300s", csv ? csv : "(none)");
    free(csv);
}

void suite_rundir(void) {
    test_lock();
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_begin("rundir commands");
        test_skip("CIFAR-10 not found (run `make data`)");
        return;
    }
    test_commands_honour_the_lock(data);
    test_resume_out(data);
    test_kept(data);
}
