// test_cli.c: the binary's exit statuses and messages for good and bad input.
// Bad input gets a clear message and exit status 2; runtime failures 1.
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include "common.h"
#include "checkpoint.h"

static char out[16384];

static int run(const char *fmt, const char *a, const char *b) {
    char cmd[2048], args[1800];
    snprintf(args, sizeof args, fmt, a ? a : "", b ? b : "");
    snprintf(cmd, sizeof cmd, "%s %s", testdata_bin(), args);
    return testdata_run(cmd, out, sizeof out);
}

// Checks one invocation: exit status and a fragment of its message.
static void expect(const char *name, int status, const char *fragment, const char *fmt, const char *a, const char *b) {
    test_begin(name);
    int rc = run(fmt, a, b);
    CHECK_MSG(rc == status, "%s: exit status %d, expected %d; output:\n%s", name, rc, status, out);
    CHECK_MSG(strstr(out, fragment) != NULL, "%s: output lacks '%s':\n%s", name, fragment, out);
}

// Regression: `run_tests checkpoint` ran a suite that did not exist: 0 checks, passed.
static void runner_refuses_unknown_suite(void) {
    char cmd[600];
    test_begin("run_tests refuses an unknown suite");
    snprintf(cmd, sizeof cmd, "%s nosuchsuite", test_self);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 2, "exit status %d, expected 2; output:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "unknown suite 'nosuchsuite'");
    CHECK_STR_CONTAINS(out, " checkpoint");
}

// Issue 13, item 7: a FIFO blocked forever (`eval x.fifo`, a FIFO as data_batch_1.bin).
// Each command runs under `timeout 60`, so a regression fails (status 124) instead of hanging.
static void special_files(const char *dir, const char *data) {
    char fifo[600], cfg[600], text[1024], ddir[600], cmd[1800];
    snprintf(fifo, sizeof fifo, "%s/x.fifo", dir);
    snprintf(cmd, sizeof cmd, "mkfifo %s", fifo);
    if (system(cmd) != 0) {
        test_begin("special files");
        test_skip("mkfifo failed");
        return;
    }
    snprintf(cmd, sizeof cmd, "timeout 60 %s", testdata_bin());
    struct {
        const char *name, *args, *fragment;
    } cases[] = {
        {"eval a FIFO", "eval %s", "is a FIFO (named pipe), expected a checkpoint file"},
        {"train --resume a FIFO", "train --resume %s", "is a FIFO"},
        {"info with a FIFO as config", "info %s", "is a FIFO (named pipe), expected a config file"},
        {"plot a FIFO", "plot %s", "is a FIFO"},
        {"export a FIFO", "export %s /tmp/never.npz", "is a FIFO"},
        {"eval a character device", "eval /dev/zero", "is a character device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fmt[200];
        snprintf(fmt, sizeof fmt, "%s", cases[i].args);
        test_begin(cases[i].name);
        char args[1000], full[2000];
        snprintf(args, sizeof args, fmt, fifo);
        snprintf(full, sizeof full, "%s %s", cmd, args);
        int rc = testdata_run(full, out, sizeof out);
        CHECK_MSG(rc == 2, "%s: exit status %d, expected 2:\n%s", cases[i].name, rc, out);
        CHECK_MSG(strstr(out, cases[i].fragment) != NULL, "%s: lacks '%s':\n%s", cases[i].name, cases[i].fragment, out);
    }
    if (!data) return;
    test_begin("a FIFO as data_batch_1.bin");
    snprintf(ddir, sizeof ddir, "%s/fifodata", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && mkfifo %s/data_batch_1.bin", ddir, ddir);
    if (system(cmd) != 0) return;
    snprintf(text, sizeof text, "[data]\ndir = %s\ntrain_images = 64\ntest_images = 64\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\n[schedule]\nepochs = 1\n", ddir);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "fifodata.cfg", text));
    snprintf(cmd, sizeof cmd, "timeout 60 %s train %s --out %s/fiforun", testdata_bin(), cfg, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 2, "exit status %d, expected 2:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "data_batch_1.bin: is a FIFO (named pipe), expected a CIFAR-10 .bin file");
}

// Issue 13, item 10: --threads 4294967297 wrapped to 1 thread, --threads '' meant all cores,
// --seed 99999999999999999999999 was clamped. Item 9: batch_size beyond the data, or beyond
// the machine's memory, tried to allocate it. Item 11: long paths were truncated silently.
static void numbers_and_sizes(const char *dir, const char *nodata_cfg, const char *data) {
    expect("--threads 4294967297", 2, "--threads: must be in [0, 1024], got 4294967297",
           "train %s --threads 4294967297", nodata_cfg, NULL);
    expect("--threads ''", 2, "--threads: expected an integer, got ''", "train %s --threads ''", nodata_cfg, NULL);
    expect("--threads -1", 2, "--threads: must be in [0, 1024], got -1", "train %s --threads -1", nodata_cfg, NULL);
    expect("--seed 99999999999999999999999", 2, "--seed: expected an integer in the range of long",
           "train %s --seed 99999999999999999999999", nodata_cfg, NULL);
    expect("--seed 1e3", 2, "--seed: expected an integer, got '1e3'", "train %s --seed 1e3", nodata_cfg, NULL);
    expect("eval --threads 4294967297", 2, "--threads: must be in [0, 1024]", "eval x.ckpt --threads 4294967297",
           NULL, NULL);
    expect("predict --threads 4294967297", 2, "--threads: must be in [0, 1024]",
           "predict x.ckpt --threads 4294967297 x.png", NULL, NULL);
    expect("bench --batch 99999999999999999999", 2, "--batch: expected an integer in the range of long",
           "bench --batch 99999999999999999999", NULL, NULL);
    expect("bench --seconds inf", 2, "--seconds: expected a finite number", "bench --seconds inf", NULL, NULL);
    expect("lr-find --iters 4294967298", 2, "--iters: must be in [2, 10000000]", "lr-find %s --iters 4294967298",
           nodata_cfg, NULL);
    char cfg[700], text[1024];
    snprintf(text, sizeof text, "[data]\ndir = %s\ntrain_images = 512\n[model]\ndepth = 56\n[train]\nbatch_size = 20000\n"
             "[schedule]\nepochs = 1\n", data ? data : "data/cifar-10-batches-bin");
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "bigbatch.cfg", text));
    expect("batch larger than the training set", 2,
           "bigbatch.cfg:7: train.batch_size: 20000 is larger than the 512 training images", "train %s --out %s/bb", cfg,
           dir);
    expect("info refuses it too", 2, "is larger than the 512 training images", "info %s", cfg, NULL);
    test_begin("the refused batch left no directory");
    char bb[700];
    snprintf(bb, sizeof bb, "%s/bb", dir);
    CHECK(!fs_exists(bb));
    expect("a batch beyond the machine's memory", 2, "more than this machine's",
           "info %s --set model.depth=1202 --set data.train_images=50000 --set train.batch_size=50000", cfg, NULL);
    CHECK_STR_CONTAINS(out, "--set: train.batch_size: 50000 needs about");
    expect("info prints the planned memory", 0, "memory: ", "info %s --set train.batch_size=128", cfg, NULL);

    // A path just past what the program can use is refused whole, not cut.
    static char longpath[6000];
    char seg[201];
    memset(seg, 'd', 200);
    seg[200] = 0;
    int n = snprintf(longpath, sizeof longpath, "%s/", dir);
    while (n < 4090) n += snprintf(longpath + n, sizeof longpath - (size_t)n, "%s/", seg);
    // (The command line is too long for testdata_run: the shell reads the path from a file.)
    char pathfile[700], cmd[2000];
    snprintf(pathfile, sizeof pathfile, "%s", testdata_write(dir, "longpath.txt", longpath));
    test_begin("--out longer than a path can be");
    snprintf(cmd, sizeof cmd, "%s train %s --out \"$(cat %s)\"", testdata_bin(), nodata_cfg, pathfile);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 2, "exit status %d:\n%.500s", rc, out);
    CHECK_STR_CONTAINS(out, "--out: path too long (");
    if (!data) return;
    // About 1,020 characters (the length that wrote a log file named "lo"): works in full.
    char small[1300]; // n stays under 1000 + 121
    n = snprintf(small, sizeof small, "%s/", dir);
    while (n < 1000) n += snprintf(small + n, sizeof small - (size_t)n, "%.120s/", seg);
    small[n - 1] = 0;
    snprintf(text, sizeof text, "[data]\ndir = %s\ntrain_images = 64\ntest_images = 64\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nprogress = plain\n[schedule]\nepochs = 1\n", data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "long.cfg", text));
    test_begin("an --out of about 1,000 characters works in full");
    snprintf(pathfile, sizeof pathfile, "%s", testdata_write(dir, "path1000.txt", small));
    snprintf(cmd, sizeof cmd, "%s train %s --out \"$(cat %s)\" --threads 1", testdata_bin(), cfg, pathfile);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "exit status %d:\n%.3000s", rc, out);
    CHECK_MSG(strlen(small) > 1000 && fs_exists_in(small, "log.csv") && fs_exists_in(small, "checkpoint.ckpt"),
              "files in %s", small);
}

// Regression: `make bench` on a machine without python3-torch ran our half of the
// benchmark, then died in a Python traceback with exit 1 and nothing written.
static void bench_script_needs_torch(void) {
    test_begin("make bench without PyTorch: exit 2 before benchmarking, saying what to install");
    int rc = testdata_run("PYTHON=/bin/false scripts/bench.sh", out, sizeof out);
    CHECK_MSG(rc == 2, "exit status %d, expected 2; output:\n%s", rc, out);
    CHECK_STR_CONTAINS(out, "cannot import torch");
    CHECK_STR_CONTAINS(out, "apt-get install -y python3-torch");
    CHECK_MSG(strstr(out, "threads 1 run") == NULL, "benchmarked before refusing:\n%s", out);
}

// Issue 35, items 2-3: the stop handler was installed with SA_RESETHAND, so a second
// SIGINT (a terminal's Ctrl-C reaches the training, and scripts/smith_table forwarded
// another) killed the training in its step or its save, with no checkpoint. Every signal
// now only repeats the stop request. The two signals are a tenth of a second apart, well
// inside the step of a ResNet-20 at batch 256 on one thread (0.7 s); a watchdog keeps a
// hang from stalling the suite. (Not `timeout`: the signals must reach onecycle itself.)
static void second_signal(const char *dir, const char *data) {
    test_begin("train: a second SIGINT during the stop does not kill it; exit 3, checkpoint saved");
    char text[1024], cfg[700], cmd[4000], run_dir[700], ckpt[800];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 2048\ntest_images = 64\n[model]\ndepth = 20\n[train]\nbatch_size = 256\n"
             "progress = plain\n[schedule]\nepochs = 20\nlr = 0.1\n",
             data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "sig.cfg", text));
    snprintf(run_dir, sizeof run_dir, "%s/sig", dir);
    snprintf(cmd, sizeof cmd,
             "%s train %s --out %s --threads 1 > %s.out 2>&1 & p=$!; " TESTDATA_WATCHDOG(300) " i=0; "
             "while [ ! -f %s/log.csv ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done; "
             "kill -INT $p; sleep 0.1; kill -INT $p; wait $p; echo \"rc=$?\"; cat %s.out",
             testdata_bin(), cfg, run_dir, run_dir, run_dir, run_dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=3") != NULL, "exit 3 after two SIGINTs:\n%s", out);
    CHECK_STR_CONTAINS(out, "state saved; resume with");
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", run_dir);
    long step = -1;
    Err e = {0};
    CHECK_MSG(checkpoint_read_step(ckpt, &step, &e) == ERR_OK && step >= 1, "%s: %s", ckpt, e.msg);
}

void suite_cli(void) {
    runner_refuses_unknown_suite();
    bench_script_needs_torch();
    const char *dir = test_tmpdir();
    const char *data = testdata_cifar_dir();
    char cfg[600], text[1024];
    expect("no arguments", 2, "usage: onecycle", "", NULL, NULL);
    expect("unknown command", 2, "unknown command 'trian'", "trian x.cfg", NULL, NULL);
    expect("missing config", 2, "cannot open config", "train /nonexistent/a.cfg", NULL, NULL);
    expect("unknown option", 2, "info has no option '--frobnicate'", "info x.cfg --frobnicate", NULL, NULL);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "syntax.cfg", "[model]\ndepth 20\n"));
    expect("syntax error names file:line", 2, "syntax.cfg:2:", "info %s", cfg, NULL);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "typo.cfg", "[schedule]\nmomentun = 0.9\n"));
    expect("unknown key suggests", 2, "did you mean 'momentum'", "info %s", cfg, NULL);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "section.cfg", "[shedule]\nlr = 0.1\n"));
    expect("unknown section suggests", 2, "did you mean", "info %s", cfg, NULL);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "ok.cfg", "[model]\ndepth = 20\n[schedule]\nepochs = 1\n"));
    expect("--set unknown key", 2, "did you mean", "info %s --set train.batchsize=64", cfg, NULL);
    expect("--set malformed", 2, "section.key=value", "info %s --set lr", cfg, NULL);
    expect("batch size 0", 2, "train.batch_size: must be in [1, 65536], got 0", "info %s --set train.batch_size=0", cfg,
           NULL);
    expect("depth not 6n+2", 2, "6n+2", "info %s --set model.depth=21", cfg, NULL);
    expect("momentum >= 1", 2, "schedule.momentum", "info %s --set schedule.momentum=1.2", cfg, NULL);
    expect("negative LR", 2, "schedule.lr", "info %s --set schedule.lr=-0.1", cfg, NULL);
    expect("wrong type", 2, "expected a number", "info %s --set optim.wd=lots", cfg, NULL);
    // Switching policy on the command line: an empty value clears a key (regression: the
    // now-unused lr and use_clr_beta could not be taken out).
    char clr[600];
    snprintf(clr, sizeof clr, "%s",
             testdata_write(dir, "clr.cfg", "[schedule]\nepochs = 2\nlr = 0.4\nuse_clr_beta = 10, 10, 0.95, 0.85\n"));
    expect("--set policy without clearing names the key", 2, "(on the command line: --set schedule.lr=)",
           "info %s --set schedule.policy=onecycle --set schedule.max_lr=0.4", clr, NULL);
    expect("--set key= clears it: switching policy", 0, "schedule: onecycle, 2 epochs",
           "info %s --set schedule.policy=onecycle --set schedule.max_lr=0.4 --set schedule.use_clr_beta= "
           "--set schedule.lr=",
           clr, NULL);
    expect("info prints parameters (ResNet-56 option A)", 0, "parameters: 853018", "info %s --set model.depth=56", cfg,
           NULL);
    expect("info prints parameters (ResNet-20)", 0, "parameters: 269722", "info %s", cfg, NULL);
    // The pre-activation ResNet has as many parameters as the post-activation one (option A).
    expect("info of arch = preact", 0, "model: pre-activation ResNet-20", "info %s --set model.arch=preact", cfg, NULL);
    CHECK_STR_CONTAINS(out, "parameters: 269722");
    CHECK_STR_CONTAINS(out, "layer2.0 preact block /2 (A)");
    CHECK_STR_CONTAINS(out, "bn + relu");
    expect("arch unknown", 2,
           "model.arch: expected one of {resnet, preact, caffe}, got 'prect'; did you mean 'preact'?",
           "info %s --set model.arch=prect", cfg, NULL);
    // Smith's Caffe ResNet-56: as many parameters as his gResnet56.prototxt implies.
    expect("info of arch = caffe", 0, "model: Caffe ResNet-56 (L. N. Smith's gResnet56.prototxt): 9 + 9 + 8 blocks",
           "info %s --set model.arch=caffe --set model.depth=56 --set train.bn_group=128", cfg, NULL);
    CHECK_STR_CONTAINS(out, "parameters: 860874");
    CHECK_STR_CONTAINS(out, "layer1.8 caffe block /2 (2x2)");
    CHECK_STR_CONTAINS(out, "init: xavier");
    CHECK_STR_CONTAINS(out, "batch-norm: statistics over groups of 128 images");
    expect("arch = caffe refuses shortcut B", 2, "model.shortcut: arch = caffe has its own shortcuts",
           "info %s --set model.arch=caffe --set model.shortcut=B", cfg, NULL);
    // Regression: every command took every shared option and ignored the ones it does not use
    // (`info CFG --data DIR` exited 0; `train CFG --data DIR` trained on the config's data.dir).
    expect("info refuses --data", 2, "info has no option '--data'", "info %s --data /nonexistent", cfg, NULL);
    expect("schedule refuses --resume", 2, "schedule has no option '--resume'", "schedule %s --resume x.ckpt", cfg,
           NULL);
    expect("info refuses --out", 2, "info has no option '--out'", "info %s --out /tmp/x", cfg, NULL);
    expect("eval refuses an unknown option", 2, "eval has no option '--bogus'", "eval x.ckpt --bogus", NULL, NULL);
    expect("eval refuses --set", 2, "eval has no option '--set'", "eval x.ckpt --set train.seed=1", NULL, NULL);
    expect("bench refuses --data", 2, "bench has no option '--data'", "bench --data x", NULL, NULL);
    expect("plot refuses --out", 2, "plot has no option '--out'", "plot a.csv --out x", NULL, NULL);
    expect("bench bad depth", 2, "6n+2", "bench --depth 21", NULL, NULL);
    expect("bench bad arch", 2, "--arch must be resnet, preact or caffe", "bench --arch densenet", NULL, NULL);
    expect("bench --arch preact", 0, "model: pre-activation ResNet-8 option A, batch 4",
           "bench --arch preact --depth 8 --batch 4 --threads 1 --seconds 0.02", NULL, NULL);
    expect("bench --layers reports each stage", 0, "conv_c64_8x8_bwd_gflops:",
           "bench --depth 8 --batch 4 --threads 1 --seconds 0.02 --layers", NULL, NULL);
    CHECK_STR_CONTAINS(out, "sgemm_2048_gflops:");
    CHECK_STR_CONTAINS(out, "train_images_per_sec:");
    CHECK_STR_CONTAINS(out, "batch 4, 1 thread\n"); // regression: "1 threads"
    CHECK_STR_CONTAINS(out, "fma_peak_gflops:");
    CHECK_STR_CONTAINS(out, "\ncpu: "); // the CPU model, which a brand string like "AMD EPYC" hides
    CHECK_STR_CONTAINS(out, " family ");
    CHECK_STR_CONTAINS(out, "conv_kernels: direct,winograd,winograd-wgrad,direct-s2");
    expect("bench --kernels picks the convolution kernels", 0, "conv_kernels: direct,winograd\n",
           "bench --depth 8 --batch 4 --threads 1 --seconds 0.02 --kernels winograd,direct", NULL, NULL);
    expect("bench --kernels none", 0, "conv_kernels: none",
           "bench --depth 8 --batch 4 --threads 1 --seconds 0.02 --kernels none", NULL, NULL);
    expect("bench bad --kernels", 2, "--kernels takes default, all, none or a comma-separated list", "bench --kernels direct,fast",
           NULL, NULL);
    // Regression: "1 epochs", "4 cycles of 1 epochs".
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "one.cfg", "[model]\ndepth = 8\n[schedule]\nepochs = 1\n"));
    expect("info: 1 epoch, not 1 epochs", 0, "schedule: constant, 1 epoch x ", "info %s", cfg, NULL);
    expect("schedule: 1 epoch, not 1 epochs", 0, "schedule constant: 1 epoch x ", "schedule %s --csv %s/one.csv", cfg,
           dir);
    snprintf(cfg, sizeof cfg, "%s",
             testdata_write(dir, "cyc.cfg", "[schedule]\nepochs = 5\ncycle_len = 1\nn_cycles = 4\nuse_clr = 10, 4\n"));
    expect("1 epoch in a cycle error", 2, "(4 cycles of 1 epoch, cycle_mult 1)", "info %s", cfg, NULL);
    expect("eval missing checkpoint", 2, "cannot open checkpoint", "eval /nonexistent.ckpt", NULL, NULL);
    expect("eval a directory", 2, "is a directory", "eval %s", dir, NULL); // was: out of memory, exit 1
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "junk.ckpt", "ONECYCKPjunkjunkjunkjunk"));
    expect("eval corrupt checkpoint", 2, "checkpoint is corrupt", "eval %s", cfg, NULL);
    snprintf(text, sizeof text, "[data]\ndir = %s/nodata\n[model]\ndepth = 8\n[schedule]\nepochs = 1\n", dir);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "nodata.cfg", text));
    expect("missing data directory", 2, "make data", "train %s --out %s/run-nodata", cfg, dir);
    special_files(dir, data);
    numbers_and_sizes(dir, cfg, data);
    // (On a config without data, so that the unfixed binary fails fast instead of training.)
    // --data goes with --resume only (issue 35: a resume from another directory).
    expect("train refuses --data", 2, "--data goes with --resume", "train %s --data /nonexistent", cfg, NULL);
    expect("lr-find refuses --data", 2, "lr-find has no option '--data'", "lr-find %s --data /nonexistent", cfg, NULL);
    // --png x.svg wrote a PNG under that name: now SVG, and other extensions are refused.
    expect("schedule --png x.svg writes SVG", 0, "png ", "schedule configs/smoke.cfg --png %s/s.svg", dir, NULL);
    snprintf(cfg, sizeof cfg, "%s/s.svg", dir);
    char *svg = testdata_slurp(cfg);
    CHECK_MSG(svg && !strncmp(svg, "<svg ", 5) && strstr(svg, "</svg>\n"), "%s is SVG", cfg);
    free(svg);
    expect("schedule --png x.jpg refused", 2, "a plot is written as PNG (.png) or SVG (.svg), not '.jpg'",
           "schedule configs/smoke.cfg --png %s/s.jpg", dir, NULL);
    snprintf(cfg, sizeof cfg, "%s/s.jpg", dir);
    CHECK_MSG(!testdata_slurp(cfg), "%s not written", cfg);
    expect("plot --png x.gif refused", 2, "not '.gif'", "plot %s/none.csv --png %s/c.gif", dir, dir);
    expect("schedule writes csv", 0, "schedule", "schedule configs/smith_fastai_1cycle.cfg --csv %s/s.csv --png %s/s.png",
           dir, dir);
    if (!data) {
        test_begin("cli training");
        test_skip("CIFAR-10 not found (run `make data`)");
        return;
    }
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 256\ntest_images = 128\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nprogress = plain\n[schedule]\nepochs = 1\nlr = 0.05\n",
             data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "tiny.cfg", text));
    char outdir[700];
    snprintf(outdir, sizeof outdir, "%s/run1", dir);
    expect("train prints the final accuracy", 0, "test_accuracy: ", "train %s --out %s", cfg, outdir);
    expect("refuses to overwrite a run", 2, "already holds a run", "train %s --out %s", cfg, outdir);
    expect("--force overwrites", 0, "test_accuracy: ", "train %s --out %s --force", cfg, outdir);
    char ckpt[800];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", outdir);
    expect("eval a checkpoint", 0, "test_loss: ", "eval %s", ckpt, NULL);
    expect("resume a finished run", 0, "test_accuracy: ", "train --resume %s", ckpt, NULL);
    expect("--resume with --set is refused", 2, "--resume takes only", "train --resume %s --set schedule.lr=1", ckpt, NULL);
    // A pre-activation run, evaluated from its checkpoint (the arch is in its config), and
    // weights of one variant refused for the other (the tensor table), exit status 2.
    char predir[700], preckpt[800];
    snprintf(predir, sizeof predir, "%s/run-preact", dir);
    snprintf(preckpt, sizeof preckpt, "%s/checkpoint.ckpt", predir);
    expect("train arch = preact", 0, "test_accuracy: ", "train %s --set model.arch=preact --out %s", cfg, predir);
    CHECK_STR_CONTAINS(out, "model pre-activation ResNet-8 option A, 75290 parameters");
    expect("eval a preact checkpoint", 0, "test_loss: ", "eval %s", preckpt, NULL);
    char args[1800];
    snprintf(args, sizeof args, "train %s --out %s/run-init --init-from %s", cfg, dir, preckpt);
    expect("--init-from another variant is refused", 2, "checkpoint holds pre-activation ResNet-8 option A", args,
           NULL, NULL);
    CHECK_STR_CONTAINS(out, "the config asks for ResNet-8 option A");
    // Smith's Caffe ResNet-8 with ghost batch-norm (runs of 24 of the batches of 64), end to
    // end; its checkpoint evaluates, and is refused as weights for He et al.'s ResNet-8.
    char caffedir[700], caffeckpt[800];
    snprintf(caffedir, sizeof caffedir, "%s/run-caffe", dir);
    snprintf(caffeckpt, sizeof caffeckpt, "%s/checkpoint.ckpt", caffedir);
    expect("train arch = caffe, bn_group = 24", 0, "test_accuracy: ",
           "train %s --set model.arch=caffe --set train.bn_group=24 --out %s", cfg, caffedir);
    CHECK_STR_CONTAINS(out, "model Caffe ResNet-8 (Smith), 81354 parameters");
    expect("eval a caffe checkpoint", 0, "test_loss: ", "eval %s", caffeckpt, NULL);
    snprintf(args, sizeof args, "train %s --out %s/run-init2 --init-from %s", cfg, dir, caffeckpt);
    expect("--init-from a caffe checkpoint into resnet is refused", 2, "checkpoint holds Caffe ResNet-8 (Smith)", args,
           NULL, NULL);
    test_begin("train writes its files");
    const char *files[] = {"log.csv", "config.cfg", "schedule.csv", "schedule.png", "checkpoint.ckpt"};
    for (int i = 0; i < 5; i++) {
        char p[900];
        snprintf(p, sizeof p, "%s/%s", outdir, files[i]);
        FILE *f = fopen(p, "r");
        CHECK_MSG(f != NULL, "missing %s", p);
        if (f) fclose(f);
    }
    second_signal(dir, data);
}
