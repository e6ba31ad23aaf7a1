// test_runlog.c: the run's CSV logs: a resume keeps the rows before the checkpoint and drops
// the rest, and a resume that cannot rewrite the log (a full disk) leaves the log as it was
// and no temporary file behind.
#include "runlog.h"
#include "test.h"
#include "testdata.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_log(const char *dir, int rows) {
    char path[600];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%s\n", RUNLOG_EPOCH_HEADER);
    for (int i = 1; i <= rows; i++) fprintf(f, "%d,%d,0.1,0.9,2.0,0.1,2.0,0.1,%d.00,100.0\n", i, 10 * i, i);
    fclose(f);
}

static void test_resume_keeps_rows(void) {
    test_begin("resume keeps the rows before the checkpoint");
    const char *dir = test_tmpdir();
    write_log(dir, 5);
    RunLogFiles r;
    Err e = {0};
    CHECK_EQ_INT(runlog_open(&r, dir, 0, 0, 1, 3, 20, &e), ERR_OK);
    CHECK_EQ_INT(runlog_close(&r, &e), ERR_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    char *text = testdata_slurp(path);
    CHECK(text && strstr(text, "\n2,20,") && !strstr(text, "\n3,30,"));
    free(text);
}

// Issue 13: a resume on a full disk left an empty log.csv.tmp. A child process whose file
// size limit is 100 bytes (RLIMIT_FSIZE, SIGXFSZ ignored: writes past it fail with EFBIG,
// as on a full disk) resumes a log of 2 KB.
static void test_full_disk(void) {
    test_begin("a resume on a full disk leaves the log and no log.csv.tmp");
    const char *dir = test_tmpdir();
    write_log(dir, 40);
    char path[600], tmp[600];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/log.csv.tmp", dir);
    char *before = testdata_slurp(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {100, 100};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        RunLogFiles r;
        Err e = {0};
        int rc = runlog_open(&r, dir, 0, 0, 1, 30, 300, &e);
        if (!rc) runlog_close(&r, &e);
        _exit(rc == ERR_RUNTIME && strstr(e.msg, "the log is unchanged") ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the resume failed with the expected message (status %d)", st);
    CHECK_MSG(access(tmp, F_OK) != 0, "%s was left behind", tmp);
    char *after = testdata_slurp(path);
    CHECK_MSG(before && after && !strcmp(before, after), "log.csv changed");
    free(before);
    free(after);
}

void suite_runlog(void) {
    test_resume_keeps_rows();
    test_full_disk();
}
