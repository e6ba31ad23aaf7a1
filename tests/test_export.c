// test_export.c: the `export` command: files it refuses, its help, and a checkpoint out.
#include "test.h"
#include "testdata.h"
#include <stdlib.h>

static const char *out;

static void expect(const char *name, int status, const char *fragment, const char *args) {
    out = testdata_expect(name, status, fragment, args);
}

void suite_export(void) {
    const char *dir = test_tmpdir();
    char args[1200], junk[600];
    const char *ckpt = "tests/fixtures/export_resnet8_B.ckpt";
    expect("export --help", 0, "usage: onecycle export CKPT OUT.npz", "export --help");
    expect("export -h", 0, "load_state_dict", "export -h");
    expect("export without arguments", 2, "needs a checkpoint and an output file", "export");
    snprintf(args, sizeof args, "export %s %s/model.png", ckpt, dir);
    expect("export to another extension", 2, "must be a .npz file", args);
    snprintf(args, sizeof args, "export %s %s/model.npz", ckpt, dir);
    expect("export a checkpoint", 0, "56 arrays, trained 4 steps", args);
    expect("export refuses to overwrite", 2, "already exists; use --force", args);
    snprintf(args, sizeof args, "export %s %s/model.npz --force", ckpt, dir);
    expect("export --force overwrites", 0, "exported ResNet-8 option B", args);
    snprintf(junk, sizeof junk, "%s", testdata_write(dir, "junk.ckpt", "ONECYCKPjunkjunkjunkjunk"));
    snprintf(args, sizeof args, "export %s %s/j.npz", junk, dir);
    expect("export a corrupt checkpoint", 2, "checkpoint is corrupt", args);
    snprintf(args, sizeof args, "export /nonexistent.ckpt %s/n.npz", dir);
    expect("export a missing checkpoint", 2, "cannot open checkpoint", args);
    snprintf(args, sizeof args, "%s/j.npz", dir);
    FILE *f = fopen(args, "r");
    CHECK_MSG(f == NULL, "a failed export left %s", args);
    if (f) fclose(f);
}
