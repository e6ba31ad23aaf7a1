// test_help.c: every command's --help (exit 0), "did you mean" for a misspelt command, and
// eval's --threads and image count (issue 14, "The command line").
#include "test.h"
#include "testdata.h"
#include <stdlib.h>

static const char *out;

static void expect(const char *name, int status, const char *fragment, const char *args) {
    out = testdata_expect(name, status, fragment, args);
}

void suite_help(void) {
    static const char *const commands[] = {"train", "eval", "info", "schedule", "lr-find",
                                           "plot",  "bench", "export", "predict", NULL};
    char args[600], want[100];
    for (int i = 0; commands[i]; i++) {
        snprintf(want, sizeof want, "usage: onecycle %s ", commands[i]);
        snprintf(args, sizeof args, "%s --help", commands[i]);
        expect(args, 0, want, args); // was: exit 2, "unknown option '--help'"
        snprintf(args, sizeof args, "%s -h", commands[i]);
        expect(args, 0, want, args);
        CHECK_MSG(!strstr(out, "usage: onecycle COMMAND"), "%s: the whole usage instead of the command's", args);
    }
    expect("train --help shows --resume too", 0, "usage: onecycle train --resume", "train x.cfg --help");
    expect("misspelt command", 2, "unknown command 'trian'; did you mean 'train'?", "trian x.cfg");
    expect("misspelt lr-find", 2, "did you mean 'lr-find'?", "lrfind x.cfg");
    expect("misspelt predict", 2, "did you mean 'predict'?", "predcit x.ckpt");
    expect("unknown command, nothing close", 2, "unknown command 'frobnicate'\n", "frobnicate");
    expect("eval --threads bad", 2, "--threads: expected an integer, got 'two'", "eval x.ckpt --threads two");
    expect("help config documents [model] arch", 0, "| `arch` | `resnet` | resnet: He et al. 2015", "help config");
    CHECK_STR_CONTAINS(out, "preact: He et al. 2016, pre-activation");
    // Issue 34: the validation split and keep_best are documented where every key is.
    CHECK_STR_CONTAINS(out, "| `valid_images` | `0` | hold N of the first train_images training images out of training");
    CHECK_STR_CONTAINS(out, "| `keep_best` |  | valid_acc or valid_loss:");
    expect("eval --help shows --out", 0, "[--out DIR [--force]]", "eval --help");
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_begin("eval --threads");
        test_skip("CIFAR-10 not found (run `make data`)");
        return;
    }
    snprintf(args, sizeof args, "eval tests/fixtures/export_resnet8_B.ckpt --data %s --threads 1", data);
    expect("eval --threads 1 says how many images it scored", 0, "test_images: 10000\n", args);
    CHECK_STR_CONTAINS(out, "test_accuracy: ");
}
