// test_layout.c: the source tree's dependency structure, read from the #include lines of
// include/*.h and src/*.c: no header includes itself through others, the convolution
// kernels depend on the conv module and not the other way round, and modules do not
// depend on each other in a cycle (issue 12: layers.c, conv3x3.c and conv3x3s2.c did).
//
// A module is a header include/P.h with the files named P or P_something (src/P.c,
// src/P_arch.c, include/P_blocks.h ...); a file without such a header is its own module.
// Run from the repository root (as `make test` does).
#include "test.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

enum { MAXF = 200, MAXI = 40 };

typedef struct SrcFile {
    char name[64];  // basename without extension
    int header;     // include/NAME.h (else src/NAME.c)
    int ninc;
    char inc[MAXI][64]; // included project headers, without ".h"
    int module;
} SrcFile;

static SrcFile files[MAXF];
static int nfiles;
static char modules[MAXF][64];
static int nmodules;

static int has_header(const char *name) {
    for (int i = 0; i < nfiles; i++)
        if (files[i].header && !strcmp(files[i].name, name)) return 1;
    return 0;
}

static void read_dir(const char *dir, const char *ext, int header) {
    DIR *d = opendir(dir);
    if (!CHECK_MSG(d != NULL, "cannot open %s (run from the repository root)", dir)) return;
    struct dirent *de;
    while ((de = readdir(d)) && nfiles < MAXF) {
        size_t n = strlen(de->d_name), el = strlen(ext);
        if (n <= el || strcmp(de->d_name + n - el, ext) || n - el >= 64) continue;
        SrcFile *f = &files[nfiles++];
        memset(f, 0, sizeof *f);
        memcpy(f->name, de->d_name, n - el);
        f->header = header;
        char path[400], line[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp) continue;
        while (fgets(line, sizeof line, fp) && f->ninc < MAXI) {
            char inc[64];
            if (sscanf(line, " #include \"%63[^\"]\"", inc) != 1) continue;
            size_t k = strlen(inc);
            if (k < 3 || strcmp(inc + k - 2, ".h")) continue;
            inc[k - 2] = 0;
            snprintf(f->inc[f->ninc++], 64, "%s", inc);
        }
        fclose(fp);
    }
    closedir(d);
}

// The module of a file or header name: its shortest '_'-separated prefix with a header
// (resnet_blocks and resnet_arch are the resnet module's, cmd_train the cmd module's).
static int module_of(const char *name) {
    char best[64];
    snprintf(best, sizeof best, "%s", name);
    for (size_t i = 1; i <= strlen(name); i++)
        if (name[i] == '_' || name[i] == 0) {
            char p[64];
            snprintf(p, sizeof p, "%.*s", (int)i, name);
            if (has_header(p)) {
                snprintf(best, sizeof best, "%s", p);
                break;
            }
        }
    for (int m = 0; m < nmodules; m++)
        if (!strcmp(modules[m], best)) return m;
    snprintf(modules[nmodules], 64, "%s", best);
    return nmodules++;
}

static int find_module(const char *name) {
    for (int m = 0; m < nmodules; m++)
        if (!strcmp(modules[m], name)) return m;
    return -1;
}

static const SrcFile *find_file(const char *name, int header) {
    for (int i = 0; i < nfiles; i++)
        if (files[i].header == header && !strcmp(files[i].name, name)) return &files[i];
    return NULL;
}

// reach[a][b]: a depends on b through one or more includes (transitive closure).
static unsigned char reach[MAXF][MAXF];

static void closure(int n) {
    for (int k = 0; k < n; k++)
        for (int i = 0; i < n; i++)
            if (reach[i][k])
                for (int j = 0; j < n; j++) reach[i][j] |= reach[k][j];
}

static int includes(const SrcFile *f, const char *h) {
    for (int i = 0; i < f->ninc; i++)
        if (!strcmp(f->inc[i], h)) return 1;
    return 0;
}

void suite_layout(void) {
    nfiles = nmodules = 0;
    read_dir("include", ".h", 1);
    read_dir("src", ".c", 0);
    test_begin("the tree is read");
    if (!CHECK(nfiles > 20 && has_header("conv") && has_header("resnet"))) return;

    test_begin("no header includes itself through other headers");
    memset(reach, 0, sizeof reach);
    for (int i = 0; i < nfiles; i++)
        for (int k = 0; files[i].header && k < files[i].ninc; k++)
            for (int j = 0; j < nfiles; j++)
                if (files[j].header && !strcmp(files[j].name, files[i].inc[k])) reach[i][j] = 1;
    closure(nfiles);
    for (int i = 0; i < nfiles; i++)
        CHECK_MSG(!files[i].header || !reach[i][i], "include/%s.h includes itself", files[i].name);

    // The kernels sit under the conv module: they include conv.h (and common.h), never
    // layers.h or each other; conv includes no kernel, layers dispatches to them.
    test_begin("the convolution kernels depend on conv, not the other way round");
    static const char *const kernels[] = {"conv3x3", "conv3x3s2", "winograd", NULL};
    for (int k = 0; kernels[k]; k++) {
        for (int h = 0; h < 2; h++) {
            const SrcFile *f = find_file(kernels[k], h);
            if (!f) continue;
            CHECK_MSG(!includes(f, "layers"), "%s includes layers.h", f->name);
            for (int j = 0; kernels[j]; j++)
                CHECK_MSG(j == k || (!strcmp(kernels[k], "conv3x3s2") && !strcmp(kernels[j], "conv3x3")) ||
                              !includes(f, kernels[j]),
                          "%s includes %s.h", f->name, kernels[j]);
        }
        const SrcFile *c = find_file("conv", 0), *ch = find_file("conv", 1);
        CHECK_MSG(c && ch && !includes(c, kernels[k]) && !includes(ch, kernels[k]), "conv includes %s.h", kernels[k]);
    }

    // Modules in a cycle: each pair that reaches each other. Two remain from before this
    // test, outside the model and the convolutions: train <-> checkpoint (the loop saves,
    // and a checkpoint is a Trainer) and runlog <-> curves (the run log redraws the figure,
    // which reads the log's columns). Any other is a new knot.
    test_begin("no two modules depend on each other (but the two known pairs)");
    for (int i = 0; i < nfiles; i++) files[i].module = module_of(files[i].name);
    memset(reach, 0, sizeof reach);
    for (int i = 0; i < nfiles; i++)
        for (int k = 0; k < files[i].ninc; k++) {
            int m = find_module(files[i].inc[k]);
            if (m < 0) m = module_of(files[i].inc[k]);
            if (m != files[i].module) reach[files[i].module][m] = 1;
        }
    closure(nmodules);
    static const char *const known[][2] = {{"checkpoint", "train"}, {"curves", "runlog"}};
    int knots = 0;
    for (int a = 0; a < nmodules; a++)
        for (int b = a + 1; b < nmodules; b++) {
            if (!reach[a][b] || !reach[b][a]) continue;
            int ok = 0;
            for (int k = 0; k < 2; k++)
                ok |= (!strcmp(modules[a], known[k][0]) && !strcmp(modules[b], known[k][1])) ||
                      (!strcmp(modules[a], known[k][1]) && !strcmp(modules[b], known[k][0]));
            CHECK_MSG(ok, "modules %s and %s depend on each other", modules[a], modules[b]);
            knots += !ok;
        }
    CHECK_EQ_INT(knots, 0);
    int conv = find_module("conv"), layers = find_module("layers"), resnet = find_module("resnet");
    CHECK(conv >= 0 && layers >= 0 && resnet >= 0 && reach[layers][conv] && !reach[conv][layers] &&
          reach[resnet][layers] && !reach[layers][resnet]);
}
