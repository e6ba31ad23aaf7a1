// run_tests.c: runs every module's suite; `run_tests NAME...` runs only those suites.
// Suites are weak symbols so a module's tests join the run by existing.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

int test_passed, test_failed, test_skipped;
const char *test_current = "";
const char *test_self = "";
static int verbose;
static char tmproot[256];
static int tmpcount;

void test_begin(const char *name) {
    test_current = name;
    if (verbose) fprintf(stderr, "  %s\n", name);
}

void test_skip(const char *why) {
    test_skipped++;
    printf("SKIP %s: %s\n", test_current, why);
}

int test_check(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        test_passed++;
        return 1;
    }
    test_failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s:%d [%s]: ", file, line, test_current);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return 0;
}

const char *test_tmpdir(void) {
    static char dir[300];
    if (!tmproot[0]) {
        snprintf(tmproot, sizeof tmproot, "/tmp/onecycle-test-XXXXXX");
        if (!mkdtemp(tmproot)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    snprintf(dir, sizeof dir, "%s/t%d", tmproot, ++tmpcount);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) exit(1);
    return dir;
}

static void cleanup(void) {
    if (tmproot[0] && !getenv("ONECYCLE_KEEP_TMP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmproot);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmproot);
    }
}

#define SUITES(X) X(config) X(cifar) X(dataset) X(batch) X(fmnist) X(cifar100) X(schedule) X(plot) X(confusion) X(curves) X(layers) \
    X(conv3x3) X(winograd_wgrad) X(winograd4) X(resnet) X(optim) X(reference) X(loader) X(shares) X(train) X(checkpoint) X(runlog) X(rundir) X(lrfind) X(cli) X(fuzzreplay) X(sweep) X(smith_table) \
    X(npz) X(statedict) X(export) X(onnx_export) X(predict) X(help) X(layout) X(progress) X(summary) X(dist) X(eta) X(common) X(act) X(layers_cb16) X(outfile)
#define DECLARE(name) extern void suite_##name(void) __attribute__((weak));
SUITES(DECLARE)

static int wanted(const char *name, int argc, char **argv) {
    int any = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        any = 1;
        if (!strcmp(argv[i], name)) return 1;
    }
    return !any;
}

// A name that is not a suite linked into this runner is an error, not an empty run that passes.
static int known(const char *name) {
#define KNOWN(s) \
    if (suite_##s && !strcmp(name, #s)) return 1;
    SUITES(KNOWN)
    return 0;
}

int main(int argc, char **argv) {
    test_self = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (argv[i][0] == '-' || !known(argv[i])) {
            fprintf(stderr, "run_tests: unknown %s '%s'; suites:", argv[i][0] == '-' ? "option" : "suite", argv[i]);
#define LIST(s) \
    if (suite_##s) fprintf(stderr, " %s", #s);
            SUITES(LIST)
            fprintf(stderr, "\n");
            return 2;
        }
    }
    atexit(cleanup);
#define RUN(name)                                                                              \
    if (suite_##name && wanted(#name, argc, argv)) {                                           \
        int p0 = test_passed, f0 = test_failed;                                                \
        double t0 = 0;                                                                         \
        (void)t0;                                                                              \
        printf("suite %s\n", #name);                                                           \
        fflush(stdout);                                                                        \
        suite_##name();                                                                        \
        printf("  %d passed, %d failed in %s\n", test_passed - p0, test_failed - f0, #name);   \
        fflush(stdout);                                                                        \
    }
    SUITES(RUN)
    printf("%d passed, %d failed, %d skipped\n", test_passed, test_failed, test_skipped);
    return test_failed ? 1 : 0;
}
