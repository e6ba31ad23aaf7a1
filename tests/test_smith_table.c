// test_smith_table.c: scripts/smith_table, the runner of the reproduction's rows. Its
// table (--status) on made-up run directories (finished, partial, absent), bad arguments,
// and on tiny runs (ResNet-8, 1,024 training and 128 test images, batch 512): a row run to
// its end and skipped the second time, and a row interrupted by SIGTERM and resumed by the
// next invocation. It checks the machinery, not accuracy. The tiny runs need CIFAR-10; they
// are skipped with the reason otherwise.
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <sys/stat.h>

static char out[16384];

static int table(const char *env, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s ONECYCLE=%s THREADS=1 bash scripts/smith_table %s", env, testdata_bin(), args);
    int rc = testdata_run(cmd, out, sizeof out);
    if (getenv("ONECYCLE_TEST_VERBOSE")) printf("%s\n", out);
    return rc;
}

static void put(const char *dir, const char *name, const char *text) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    testdata_put(path, text);
}

#define LOG_HEADER "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"

static void test_arguments(void) {
    test_begin("smith_table: bad arguments exit 2");
    CHECK_EQ_INT(table("", "--rows 9 --status"), 2);
    CHECK_STR_CONTAINS(out, "unknown row '9'");
    CHECK_EQ_INT(table("", "--bogus"), 2);
    CHECK_STR_CONTAINS(out, "unknown argument '--bogus'");
    CHECK_EQ_INT(table("", "--set"), 2);
    CHECK_STR_CONTAINS(out, "--set needs section.key=value");
    CHECK_EQ_INT(table("KEEP=x", "--status"), 2);
    CHECK_STR_CONTAINS(out, "KEEP must be a whole epoch");
}

// The table reads each row's state from its directory: summary.json's status, else
// log.csv's epochs against the planned ones (from `onecycle info`), and a checkpoint.
static void test_status(void) {
    char d[1200], env[1300];
    test_begin("smith_table --status: finished, partial and absent rows");
    const char *dir = test_tmpdir();
    snprintf(d, sizeof d, "%s/smith_const_lr_mom090", dir);
    mkdir(d, 0755);
    put(d, "summary.json", "{\n  \"format\": 1,\n  \"status\": \"finished\"\n}\n");
    put(d, "log.csv", LOG_HEADER "95,9310,0.1,0.9,0.01,0.99,0.5,0.879100,1,1\n");
    snprintf(d, sizeof d, "%s/smith_1cycle_cm", dir);
    mkdir(d, 0755);
    put(d, "checkpoint.ckpt", "x");
    put(d, "log.csv", LOG_HEADER "1,98,0.1,0.9,2,0.1,2,0.1222,1,1\n2,196,0.1,0.9,2,0.1,2,0.147600,1,1\n");
    snprintf(d, sizeof d, "%s/smith_1cycle_mom090", dir); // started, stopped inside epoch 1
    mkdir(d, 0755);
    put(d, "checkpoint.ckpt", "x");
    put(d, "log.csv", LOG_HEADER);
    snprintf(d, sizeof d, "%s/smith_tail_cos", dir); // an old run: no summary.json, all epochs logged
    mkdir(d, 0755);
    char log[2048] = LOG_HEADER;
    for (int e = 1; e <= 13; e++)
        snprintf(log + strlen(log), sizeof log - strlen(log), "%d,%d,0.1,0.9,1,0.5,1,%s,1,1\n", e, e * 98,
                 e == 13 ? "0.927700" : "0.5");
    put(d, "log.csv", log);
    // Issue 35, item 2: a run killed inside epoch 1 before any checkpoint (a log, nothing to
    // resume) showed as "not run", and running the row was refused ("already holds a run").
    snprintf(d, sizeof d, "%s/smith_1cycle_mom095", dir);
    mkdir(d, 0755);
    put(d, "log.csv", LOG_HEADER);
    snprintf(env, sizeof env, "OUT=%s", dir);
    CHECK_EQ_INT(table(env, "--status --rows '2 3 4 5 6'"), 0);
    CHECK_STR_CONTAINS(out, "2      smith_const_lr_mom090      finished     87.91\n");
    CHECK_STR_CONTAINS(out, "3      smith_1cycle_cm            2 of 95      (after epoch 2: 14.76)\n");
    CHECK_STR_CONTAINS(out, "4      smith_1cycle_mom090        0 of 95      (inside epoch 1)\n");
    CHECK_STR_CONTAINS(out, "5      smith_fastai_1cycle_lr03   not run");
    CHECK_STR_CONTAINS(out, "6a     smith_tail_linear          not run");
    CHECK_STR_CONTAINS(out, "6b     smith_tail_cos             finished     92.77\n");
    CHECK_EQ_INT(table(env, "--status --rows mom095"), 0);
    CHECK_STR_CONTAINS(out, "mom095 smith_1cycle_mom095        0 of 95      (stopped before its first checkpoint; starts over)\n");
    // --status runs nothing: the absent rows stay absent.
    snprintf(d, sizeof d, "%s/smith_fastai_1cycle_lr03", dir);
    struct stat st;
    CHECK_MSG(stat(d, &st) != 0, "--status created %s", d);
    // The tails need row 1's kept checkpoint: refused before anything starts.
    CHECK_EQ_INT(table(env, "--rows 6"), 1);
    CHECK_STR_CONTAINS(out, "checkpoint-epoch82.ckpt; run row 1 first");
}

// A row another process is training (it holds DIR/onecycle.lock, as onecycle train does)
// shows as training in the table, and a run of that row stops with exit 2 instead of
// starting a second training beside it. Regression: --status said "not run" during a
// run's first epoch, and the script would have started the row again.
static void test_running(void) {
    char d[1200], cmd[4096];
    test_begin("smith_table: a row being trained now shows as such and is not started again");
    const char *dir = test_tmpdir();
    snprintf(d, sizeof d, "%s/smith_fastai_1cycle_lr03", dir);
    mkdir(d, 0755);
    put(d, "onecycle.lock", "");
    put(d, "log.csv", LOG_HEADER "1,98,0.1,0.9,2,0.1,2,0.2345,1,1\n");
    // flock -o: the lock is flock's own, so killing it releases the lock.
    snprintf(cmd, sizeof cmd,
             "flock -o %s/onecycle.lock sleep 30 & f=$!; sleep 0.3; "
             "OUT=%s ONECYCLE=%s bash scripts/smith_table --status --rows 5; "
             "OUT=%s ONECYCLE=%s bash scripts/smith_table --rows 5 2>&1; echo \"rc=$?\"; kill $f; wait $f 2>/dev/null; "
             "OUT=%s ONECYCLE=%s bash scripts/smith_table --status --rows 5",
             d, dir, testdata_bin(), dir, testdata_bin(), dir, testdata_bin());
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR_CONTAINS(out, "5      smith_fastai_1cycle_lr03   1 of 95      (training now; after epoch 1: 23.45)\n");
    CHECK_STR_CONTAINS(out, "is being trained by another process now");
    CHECK_STR_CONTAINS(out, "rc=2");
    CHECK_MSG(strstr(out, "row 5: start") == NULL && strstr(out, "row 5: resume") == NULL, "started anyway: %s", out);
    // Released (the training ended, its lock file left behind): no longer shown as training.
    const char *first = strstr(out, "training now");
    CHECK_MSG(first && !strstr(first + 1, "training now"), "still training after the lock was released: %s", out);
}

static void test_runs(const char *data) {
    char env[1300], args[1500], cmd[4096], path[1400];
    const char *dir = test_tmpdir();
    snprintf(env, sizeof env, "OUT=%s", dir);
    snprintf(args, sizeof args,
             "--rows 2 --set data.dir=%s --set data.train_images=1024 --set data.test_images=128 "
             "--set model.depth=8 --set train.progress=plain --set schedule.epochs=2",
             data);
    test_begin("smith_table: a row runs to its end, then is skipped");
    int rc = table(env, args);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "smith_table: row 2: start ");
    CHECK_STR_CONTAINS(out, "2      smith_const_lr_mom090      finished     ");
    rc = table(env, args);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "smith_table: row 2 (");
    CHECK_STR_CONTAINS(out, "smith_const_lr_mom090) finished, skipped");
    CHECK_MSG(strstr(out, "row 2: start") == NULL, "a finished row ran again: %s", out);

    test_begin("smith_table: interrupted by SIGTERM, resumed by the next invocation");
    snprintf(env, sizeof env, "OUT=%s/int", dir);
    snprintf(path, sizeof path, "%s/int", dir);
    mkdir(path, 0755);
    snprintf(args, sizeof args,
             "--rows 2 --set data.dir=%s --set data.train_images=1024 --set data.test_images=128 "
             "--set model.depth=8 --set train.progress=plain --set schedule.epochs=6",
             data);
    // SIGTERM once the run has created its log.csv (its signal handlers are installed by
    // then): the run saves a checkpoint after the current step and the script exits 3.
    snprintf(cmd, sizeof cmd,
             "%s ONECYCLE=%s THREADS=1 bash scripts/smith_table %s > %s/int.out 2>&1 & pid=$!; i=0; "
             "while [ ! -f %s/int/smith_const_lr_mom090/log.csv ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
             "kill -TERM $pid; wait $pid; echo \"rc=$?\"; cat %s/int.out",
             env, testdata_bin(), args, dir, dir, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    if (strstr(out, "rc=0")) {
        test_skip("the run finished before the signal arrived; resume not exercised");
        return;
    }
    CHECK_MSG(strstr(out, "rc=3") != NULL, "interrupted smith_table exits 3: %s", out);
    CHECK_STR_CONTAINS(out, "smith_table: interrupted in row 2; its checkpoint is in ");
    snprintf(path, sizeof path, "%s/int/smith_const_lr_mom090/checkpoint.ckpt", dir);
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0 && st.st_size > 0, "checkpoint saved on interrupt");
    rc = table(env, args);
    CHECK_MSG(rc == 0, "resumed: exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "smith_table: row 2: resume ");
    CHECK_STR_CONTAINS(out, "2      smith_const_lr_mom090      finished     ");
    snprintf(path, sizeof path, "%s/int/smith_const_lr_mom090/log.csv", dir);
    char *log = testdata_slurp(path);
    int lines = 0;
    for (const char *p = log ? log : ""; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 7); // header + 6 epochs, none repeated
    free(log);

    // Issue 35, item 2: Ctrl-C at a terminal reaches the whole process group: the training
    // got the terminal's SIGINT and the script's forwarded one, and the second killed it
    // (SA_RESETHAND) without a checkpoint, 3 times in 4. Here the group of a setsid'd script
    // gets SIGINT as a terminal would send it; a watchdog bounds a hang. (env
    // --default-signal: a job started with & from a script ignores SIGINT, as the script
    // and its training would then too; at a terminal they do not.)
    test_begin("smith_table: SIGINT to the process group (Ctrl-C): exit 3, checkpoint saved, resumed");
    snprintf(env, sizeof env, "OUT=%s/grp", dir);
    snprintf(path, sizeof path, "%s/grp", dir);
    mkdir(path, 0755);
    snprintf(args, sizeof args,
             "--rows 2 --set data.dir=%s --set data.train_images=4096 --set data.test_images=128 "
             "--set model.depth=8 --set train.progress=plain --set schedule.epochs=3 --set train.batch_size=32",
             data);
    snprintf(cmd, sizeof cmd,
             "%s ONECYCLE=%s THREADS=1 env --default-signal=INT setsid bash scripts/smith_table %s > %s/grp.out 2>&1 & "
             "p=$!; "
             TESTDATA_WATCHDOG(300) " i=0; "
             "while [ ! -f %s/grp/smith_const_lr_mom090/log.csv ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
             "sleep 0.3; kill -s INT -- -$p; wait $p; echo \"rc=$?\"; cat %s/grp.out",
             env, testdata_bin(), args, dir, dir, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=3") != NULL, "interrupted smith_table exits 3: %s", out);
    CHECK_STR_CONTAINS(out, "state saved; resume with");
    snprintf(path, sizeof path, "%s/grp/smith_const_lr_mom090/checkpoint.ckpt", dir);
    CHECK_MSG(stat(path, &st) == 0 && st.st_size > 0, "checkpoint saved on Ctrl-C");
    CHECK_EQ_INT(table(env, "--status --rows 2"), 0);
    CHECK_STR_CONTAINS(out, "(inside epoch 1)");
}

void suite_smith_table(void) {
    test_arguments();
    test_status();
    test_running();
    test_begin("smith_table: tiny runs");
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    test_runs(data);
}
