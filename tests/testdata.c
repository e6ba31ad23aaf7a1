// testdata.c: shared helpers for tests that need real data, files or the binary.
#include "testdata.h"
#include "cifar.h"
#include "cli.h"
#include "conv.h"
#include "test.h"
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    size_t n0 = strlen(cmdline) + 8; // whole, however long (paths of 4,000 characters)
    char *full = malloc(n0);
    snprintf(full, n0, "%s 2>&1", cmdline);
    FILE *p = popen(full, "r");
    free(full);
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

char *testdata_slurp_n(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = 0;
    fclose(f);
    if (size) *size = got;
    return s;
}

char *testdata_slurp(const char *path) {
    return testdata_slurp_n(path, NULL);
}

void testdata_put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

long testdata_count_color(const Image *img, uint32_t rgb, int x0, int x1) {
    long n = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = img->rgb + ((size_t)y * img->w + x) * 3;
            n += p[0] == (rgb >> 16 & 255) && p[1] == (rgb >> 8 & 255) && p[2] == (rgb & 255);
        }
    return n;
}

const char *testdata_tiny_config(const char *dir, int depth) {
    static char text[2048];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 500\ntest_images = 200\n"
             "[model]\ndepth = %d\n[train]\nbatch_size = 64\nprogress = plain\n"
             "[schedule]\nlr = 0.3\nepochs = 2\nuse_clr_beta = 10, 20, 0.95, 0.85\n",
             dir, depth);
    return text;
}

int testdata_config(Config *c, const char *text) {
    Err e = {0};
    config_init(c, cli_schema());
    if (config_load_string(c, text, "test.cfg", &e)) {
        CHECK_MSG(0, "config setup failed: %s", e.msg);
        return -1;
    }
    return 0;
}

int testdata_trainer(Trainer *t, Config *c, const char *text) {
    Err e = {0};
    if (testdata_config(c, text)) return -1;
    if (trainer_create(t, c, &e)) {
        CHECK_MSG(0, "trainer setup failed: %s", e.msg);
        return -1;
    }
    return 0;
}

char *openblas_get_corename(void);

const char *testdata_guard_skip_reason(void) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__AVX512F__) || !defined(__OPTIMIZE__)
    return "the fixtures were made by the optimised AVX-512 build; this build rounds differently";
#else
    const char *core = openblas_get_corename();
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !core || strcasecmp(core, "Haswell"))
        return "the fixtures were made with AVX-512 kernels and OpenBLAS's Haswell core";
    return NULL;
#endif
}

unsigned testdata_guard_kernels(void) {
    return CONV_KERNELS_F2X2 & ~CONV_USE_WINOGRAD_WGRAD;
}

double testdata_rel_err(const float *a, const double *ref, long n) {
    double md = 0, mx = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]);
        if (!(d <= md)) md = d;
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
    }
    return mx > 0 ? md / mx : md;
}

const char *testdata_expect(const char *name, int status, const char *fragment, const char *args) {
    static char out[1 << 16];
    char cmd[4096];
    test_begin(name);
    snprintf(cmd, sizeof cmd, "%s %s", testdata_bin(), args);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == status, "%s: exit status %d, expected %d; output:\n%.2000s", name, rc, status, out);
    CHECK_MSG(strstr(out, fragment) != NULL, "%s: output lacks '%s':\n%.2000s", name, fragment, out);
    return out;
}
