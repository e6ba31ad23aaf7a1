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
    FILE *f;
    expect("export --help", 0, "usage: onecycle export CKPT OUT.npz", "export --help");
    CHECK_STR_CONTAINS(out, "onecycle export CKPT OUT.onnx");
    expect("export -h", 0, "load_state_dict", "export -h");
    expect("export without arguments", 2, "needs a checkpoint and an output file", "export");
    snprintf(args, sizeof args, "export %s %s/model.png", ckpt, dir);
    expect("export to another extension", 2, "must be a .npz or .onnx file", args);
    snprintf(args, sizeof args, "export %s %s/model.onnx", ckpt, dir);
    expect("export to ONNX", 0, "to ", args);
    CHECK_STR_CONTAINS(out, "model.onnx: ONNX opset 13, input \"pixels\" (N,3,32,32) 0..255");
    expect("export to ONNX refuses to overwrite", 2, "already exists; use --force", args);
    snprintf(args, sizeof args, "export %s %s/model.onnx --force", ckpt, dir);
    expect("export to ONNX --force", 0, "exported ResNet-8 option B", args);
    snprintf(args, sizeof args, "%s/model.onnx", dir);
    f = fopen(args, "rb");
    char head[2] = {0};
    CHECK_MSG(f && fread(head, 1, 2, f) == 2 && head[0] == 0x08 && head[1] == 7,
              "%s starts with the ModelProto's ir_version 7 (field 1, varint)", args);
    if (f) fclose(f);
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
    f = fopen(args, "r");
    CHECK_MSG(f == NULL, "a failed export left %s", args);
    if (f) fclose(f);
}
