// test_help.c: every command's --help (exit 0), "did you mean" for a misspelt command, and
// eval's --threads and image count (issue 14, "The command line").
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <string.h>

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
    // Issue 34: a wrong flag is one line and where to look, not the usage of every command;
    // `help CMD` is `CMD --help`; every option a command takes is explained in its help.
    static char help[16384], other[16384], bad[4096];
    for (int i = 0; commands[i]; i++) {
        const char *c = commands[i];
        test_begin("help CMD, a wrong flag, every option explained (regression)");
        snprintf(args, sizeof args, "%s %s --help", testdata_bin(), c);
        CHECK_EQ_INT(testdata_run(args, help, sizeof help), 0);
        snprintf(args, sizeof args, "%s help %s", testdata_bin(), c);
        CHECK_EQ_INT(testdata_run(args, other, sizeof other), 0);
        CHECK_MSG(!strcmp(help, other), "'help %s' differs from '%s --help':\n%s\n---\n%s", c, c, other, help);
        snprintf(args, sizeof args, "%s %s --no-such-flag", testdata_bin(), c);
        CHECK_EQ_INT(testdata_run(args, bad, sizeof bad), 2);
        int lines = 0;
        for (const char *q = bad; *q; q++) lines += *q == '\n';
        snprintf(want, sizeof want, "\nsee: onecycle %s --help\n", c);
        CHECK_MSG(lines == 2 && strstr(bad, want), "%s --no-such-flag: %d lines:\n%s", c, lines, bad);
        const char *list = strstr(bad, "(it takes ");
        if (!CHECK_MSG(list != NULL, "%s: no option list in '%s'", c, bad)) continue;
        for (const char *q = list + 10; *q && *q != ')';) {
            size_t n = strcspn(q, ",)");
            char opt[64], line[80];
            snprintf(opt, sizeof opt, "%.*s", (int)n, q);
            snprintf(line, sizeof line, "\n  %s ", opt);
            CHECK_MSG(strstr(help, line) != NULL, "%s --help does not explain %s:\n%s", c, opt, help);
            q += n;
            while (*q == ',' || *q == ' ') q++;
        }
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
    // Issue 34: docs/config.md's tables are what `onecycle help config` prints (`make docs`
    // writes them between its BEGIN and END markers), so the reference cannot drift.
    test_begin("docs/config.md is the output of help config (make docs)");
    static char gen[65536];
    snprintf(args, sizeof args, "%s help config", testdata_bin());
    CHECK_EQ_INT(testdata_run(args, gen, sizeof gen), 0);
    char *doc = testdata_slurp("docs/config.md");
    const char *b = doc ? strstr(doc, "\n<!-- BEGIN onecycle help config") : NULL;
    const char *e = b ? strstr(b + 1, "\n<!-- END onecycle help config -->") : NULL;
    if (CHECK_MSG(b && e, "docs/config.md: missing, or no BEGIN/END markers around the generated part")) {
        b = strchr(b + 1, '\n') + 1;
        size_t n = (size_t)(e + 1 - b), len = strlen(gen), i = 0;
        while (i < n && i < len && b[i] == gen[i]) i++;
        while (i > 0 && gen[i - 1] != '\n') i--; // report from the start of the first differing line
        CHECK_MSG(n == len && i == n, "docs/config.md differs from `onecycle help config` (run `make docs`):\n"
                  "docs: %.120s\nhelp: %.120s", b + i, gen + i);
    }
    free(doc);
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
