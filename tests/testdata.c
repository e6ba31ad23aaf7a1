// testdata.c: shared helpers for tests that need real data, files or the binary.
#include "testdata.h"
#include "cifar.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

const char *testdata_cifar_dir(void) {
    static const char *const candidates[] = {"data/cifar-10-batches-bin", "../shared/data/cifar-10-batches-bin", NULL};
    for (int i = 0; candidates[i]; i++) {
        char path[512];
        Err e;
        snprintf(path, sizeof path, "%s/test_batch.bin", candidates[i]);
        if (cifar_check_file(path, 10000, &e) == ERR_OK) return candidates[i];
    }
    return NULL;
}

const char *testdata_write(const char *dir, const char *name, const char *text) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

int testdata_run(const char *cmdline, char *out, int cap) {
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmdline);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    int n = (int)fread(out, 1, (size_t)cap - 1, p);
    out[n > 0 ? n : 0] = 0;
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *testdata_bin(void) {
    const char *b = getenv("ONECYCLE_BIN");
    return b && *b ? b : "./onecycle";
}
