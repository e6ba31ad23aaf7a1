// test_sweep.c: scripts/sweep end to end on tiny runs (ResNet-8, 256 training and 128 test
// images, a few seconds each): a 2-setting sweep and its summary and overlay, a second
// invocation that skips the finished runs, bad arguments, a failing run among good ones,
// and an interrupted sweep that resumes from the runs' checkpoints. It checks the
// machinery, not accuracy. Needs CIFAR-10 and python3 >= 3.8; skipped with the reason
// otherwise.
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <sys/stat.h>

static char out[16384];

static const char *tiny_config(const char *dir, const char *data, int epochs) {
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 256\ntest_images = 128\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nprogress = plain\n[schedule]\nlr = 0.2\nepochs = %d\n"
             "use_clr_beta = 10, 10, 0.95, 0.85\n",
             data, epochs);
    return testdata_write(dir, "tiny.cfg", text);
}

static int sweep(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 scripts/sweep %s --onecycle %s", args, testdata_bin());
    int rc = testdata_run(cmd, out, sizeof out);
    if (getenv("ONECYCLE_TEST_VERBOSE")) printf("%s\n", out);
    return rc;
}

static char *slurp(const char *path) {
    static char buf[65536];
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

static int count_lines(const char *path) {
    int n = 0;
    for (const char *p = slurp(path); *p; p++) n += *p == '\n';
    return n;
}

static int file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (int)st.st_size;
}

static void test_sweep_and_skip(const char *data, char *swept, size_t cap) {
    char cfg[600], args[1500], path[1200];
    test_begin("sweep 2 settings, then skip");
    const char *dir = test_tmpdir();
    snprintf(swept, cap, "%s/sw", dir);
    snprintf(cfg, sizeof cfg, "%s", tiny_config(dir, data, 1));
    snprintf(args, sizeof args, "%s --grid schedule.lr=0.1,0.2 --seeds 1 --out %s/sw --jobs 2 --threads-per-run 1",
             cfg, dir);
    int rc = sweep(args);
    CHECK_MSG(rc == 0, "sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "2 ran, 0 skipped (already finished), 0 failed");
    snprintf(path, sizeof path, "%s/sw/summary.csv", dir);
    CHECK_EQ_INT(count_lines(path), 3);
    const char *csv = slurp(path);
    CHECK_STR_CONTAINS(csv, "setting,schedule.lr,epochs,seeds,runs_ok,n,final_acc_mean,final_acc_std,best_acc_mean");
    CHECK_STR_CONTAINS(csv, "\nlr0.1,0.1,1,1,1/1,");
    CHECK_STR_CONTAINS(csv, "\nlr0.2,0.2,1,1,1/1,");
    CHECK_STR_CONTAINS(csv, "train ");
    CHECK_STR_CONTAINS(csv, " --set schedule.lr=0.2 --seed S --threads 1 --out ");
    snprintf(path, sizeof path, "%s/sw/summary.md", dir);
    const char *md = slurp(path);
    CHECK_STR_CONTAINS(md, "| lr0.1 | 0.1 | 1/1 | ");
    // One seed: the n, and no "+/- 0.00" (issue 14).
    CHECK_STR_CONTAINS(md, " (n=1) | ");
    CHECK_MSG(!strstr(md, "+/-  0.00") && !strstr(md, "+/- 0.00"), "a spread of one seed: %s", md);
    CHECK_STR_CONTAINS(md, "![final accuracy against schedule.lr](accuracy_schedule.lr.svg)");
    snprintf(path, sizeof path, "%s/sw/accuracy_schedule.lr.svg", dir);
    CHECK_STR_CONTAINS(slurp(path), "final test accuracy against schedule.lr</text>");
    snprintf(path, sizeof path, "%s/sw/means/lr0.2.schedule.csv", dir);
    CHECK_STR_CONTAINS(slurp(path), "iteration,epoch,lr,momentum\n0,0,");
    snprintf(path, sizeof path, "%s/sw/summary.md", dir);
    md = slurp(path);
    CHECK_STR_CONTAINS(md, "![mean curves of every setting](overlay.png)");
    snprintf(path, sizeof path, "%s/sw/overlay.png", dir);
    CHECK_MSG(file_size(path) > 1000, "%s written", path);
    CHECK(!strncmp(slurp(path), "\x89PNG", 4));
    snprintf(path, sizeof path, "%s/sw/overlay_runs.png", dir);
    CHECK_MSG(file_size(path) > 1000, "%s written", path);
    snprintf(path, sizeof path, "%s/sw/means/lr0.2.csv", dir);
    CHECK_EQ_INT(count_lines(path), 2); // the mean of one seed: header + epoch 1
    for (int k = 1; k <= 2; k++) {
        snprintf(path, sizeof path, "%s/sw/lr0.%d-s1/log.csv", dir, k);
        CHECK_EQ_INT(count_lines(path), 2); // header + epoch 1
    }
    // Again: both runs are complete, nothing is trained, the summary is rewritten.
    snprintf(path, sizeof path, "%s/sw/summary.csv", dir);
    remove(path);
    rc = sweep(args);
    CHECK_MSG(rc == 0, "second sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "skip lr0.1-s1 (finished: 1 epoch, from summary.json)");
    CHECK_STR_CONTAINS(out, "0 ran, 2 skipped (already finished)");
    CHECK_EQ_INT(count_lines(path), 3);
    snprintf(path, sizeof path, "%s/sw/lr0.1-s1/train.out", dir);
    const char *log = slurp(path);
    CHECK_MSG(!strstr(strstr(log, "$ ") + 1, "$ "), "run lr0.1-s1 was started once: %s", log);

    test_begin("sweep reads summary.json, and log.csv where a run has none (an old run directory)");
    snprintf(path, sizeof path, "%s/sw/summary.csv", dir);
    char before[4096];
    snprintf(before, sizeof before, "%s", slurp(path));
    // lr0.1-s1 as an old run directory; lr0.2-s1's summary.json with a figure of its own.
    snprintf(path, sizeof path, "%s/sw/lr0.1-s1/summary.json", dir);
    CHECK(remove(path) == 0);
    snprintf(path, sizeof path, "%s/sw/lr0.2-s1/summary.json", dir);
    char json[16384];
    snprintf(json, sizeof json, "%s", slurp(path));
    char *acc = strstr(json, "\"final_test_acc\": ");
    if (!CHECK_MSG(acc != NULL, "final_test_acc in %s", json)) return;
    acc += strlen("\"final_test_acc\": ");
    char edited[16384];
    snprintf(edited, sizeof edited, "%.*s0.987654%s", (int)(acc - json), json, strchr(acc, ','));
    testdata_put(path, edited);
    snprintf(path, sizeof path, "%s/sw/summary.csv", dir);
    remove(path);
    rc = sweep(args);
    CHECK_MSG(rc == 0, "third sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "skip lr0.1-s1 (finished: 1 epoch, from log.csv)");
    CHECK_STR_CONTAINS(out, "skip lr0.2-s1 (finished: 1 epoch, from summary.json)");
    const char *after = slurp(path);
    CHECK_STR_CONTAINS(after, ",98.7654,"); // lr0.2's final accuracy: summary.json's
    // lr0.1's row, from its log.csv, is what its summary.json said.
    const char *r0 = strstr(before, "\nlr0.1,"), *r1 = strstr(after, "\nlr0.1,");
    if (CHECK(r0 && r1)) {
        size_t n0 = strcspn(r0 + 1, "\n"), n1 = strcspn(r1 + 1, "\n");
        CHECK_MSG(n0 == n1 && !strncmp(r0, r1, n0), "lr0.1's row changed:\n%.*s\n%.*s", (int)n0, r0 + 1, (int)n1,
                  r1 + 1);
    }
}

static void test_bad_arguments_and_failures(const char *data) {
    char cfg[600], args[1500], path[1200];
    test_begin("sweep bad arguments");
    const char *dir = test_tmpdir();
    snprintf(cfg, sizeof cfg, "%s", tiny_config(dir, data, 1));
    // (options after the config, expected message); exit status 2 for each
    static const char *const bad[][2] = {
        {"--grid schedule.lr", "expected section.key=V1,V2"},
        {"--grid schedule.nokey=1,2", "unknown key 'schedule.nokey'"},
        {"--grid schedule.lr=0.1 --jobs 0", "--jobs must be at least 1"},
        {"--seeds zero", "--seeds 'zero'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "%s %s --out %s/bad", cfg, bad[i][0], dir);
        CHECK_EQ_INT(sweep(args), 2);
        CHECK_STR_CONTAINS(out, bad[i][1]);
    }
    // Issue 13, item 12: these gave a traceback, an OverflowError, or failed every run.
    static const char *const bad2[][2] = {
        {"--seeds 99999999999999999999999", "at most 10000 seeds"},
        {"--seeds 1,99999999999999999999999", "seeds must be distinct and in [0, 9223372036854775807]"},
        {"--threads-per-run 5000", "--threads-per-run must be in [0, 1024]"},
    };
    for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
        snprintf(args, sizeof args, "%s %s --out %s/bad", cfg, bad2[i][0], dir);
        CHECK_EQ_INT(sweep(args), 2);
        CHECK_STR_CONTAINS(out, bad2[i][1]);
        CHECK_MSG(!strstr(out, "Traceback"), "%s", out);
    }
    snprintf(path, sizeof path, "%s", testdata_write(dir, "afile", "x"));
    snprintf(args, sizeof args, "%s --out %s", cfg, path);
    CHECK_EQ_INT(sweep(args), 2);
    CHECK_STR_CONTAINS(out, "exists and is not a directory");
    CHECK_MSG(!strstr(out, "Traceback"), "%s", out);
    snprintf(args, sizeof args, "%s/missing.cfg --out %s/bad", dir, dir);
    CHECK_EQ_INT(sweep(args), 2);
    CHECK_STR_CONTAINS(out, "missing.cfg: no such config file");
    snprintf(path, sizeof path, "%s/bad", dir);
    CHECK_MSG(file_size(path) < 0, "nothing was created for bad arguments");

    test_begin("sweep with a failing run");
    // The second data directory does not exist: `onecycle info` accepts it, the run fails
    // when it loads the data, the other run still finishes, and the exit status is 1.
    snprintf(args, sizeof args, "%s --grid 'data.dir=%s|%s/nodata' --out %s/fail", cfg, data, dir, dir);
    CHECK_EQ_INT(sweep(args), 1);
    CHECK_STR_CONTAINS(out, "1 ran, 0 skipped (already finished), 1 failed");
    CHECK_STR_CONTAINS(out, "sweep: FAILED ");
    snprintf(path, sizeof path, "%s/fail/summary.md", dir);
    const char *md = slurp(path);
    CHECK_STR_CONTAINS(md, "## Runs that did not finish");
    CHECK_STR_CONTAINS(md, ": failed: exit status 2: onecycle: "); // no summary.json: train.out's last line
    CHECK_STR_CONTAINS(md, " | 0/1 | - | - | - | - | ");
    CHECK_STR_CONTAINS(md, " | 1/1 | ");

    test_begin("sweep with a diverging run: the reason from its summary.json");
    snprintf(args, sizeof args, "%s --grid schedule.lr=1e6 --out %s/div", cfg, dir);
    CHECK_EQ_INT(sweep(args), 1);
    snprintf(path, sizeof path, "%s/div/summary.md", dir);
    CHECK_STR_CONTAINS(slurp(path), ": failed: exit status 1: diverged: training diverged: loss ");
}

static void test_resume(const char *data) {
    char cfg[600], args[1500], cmd[4096], path[1200];
    test_begin("sweep interrupted and resumed");
    const char *dir = test_tmpdir();
    snprintf(cfg, sizeof cfg, "%s", tiny_config(dir, data, 4));
    snprintf(args, sizeof args, "%s --seeds 1 --out %s/int", cfg, dir);
    // SIGTERM to the sweep once the run has created its log.csv (its signal handlers are
    // installed by then): the run saves a checkpoint after the current step and stops.
    snprintf(cmd, sizeof cmd,
             "python3 scripts/sweep %s --onecycle %s > %s/int.out 2>&1 & pid=$!; i=0; "
             "while [ ! -f %s/int/base-s1/log.csv ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
             "kill -TERM $pid; wait $pid; echo \"rc=$?\"",
             args, testdata_bin(), dir, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    if (strstr(out, "rc=0")) {
        test_skip("the run finished before the signal arrived; resume not exercised");
        return;
    }
    CHECK_MSG(strstr(out, "rc=3") != NULL, "interrupted sweep exits 3: %s", out);
    snprintf(path, sizeof path, "%s/int/base-s1/checkpoint.ckpt", dir);
    CHECK_MSG(file_size(path) > 0, "checkpoint saved on interrupt");
    snprintf(path, sizeof path, "%s/int/summary.md", dir);
    CHECK_STR_CONTAINS(slurp(path), "interrupted");
    rc = sweep(args);
    CHECK_MSG(rc == 0, "resumed sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "sweep: resume base-s1: ");
    CHECK_STR_CONTAINS(out, " train --resume ");
    CHECK_STR_CONTAINS(out, "1 ran, 0 skipped");
    snprintf(path, sizeof path, "%s/int/base-s1/log.csv", dir);
    CHECK_EQ_INT(count_lines(path), 5); // header + 4 epochs, none repeated
    snprintf(path, sizeof path, "%s/int/summary.csv", dir);
    CHECK_STR_CONTAINS(slurp(path), "\nbase,4,1,1/1,");
}

// Issue 13, item 5: two grid values that map to the same directory name shared one run
// (a constant LR and a rising LR both became phases2-0.1-0.9-s1, the second "skipped" and
// reported with the first's accuracy), and a run was matched to its setting by its name.
static void test_unique_names(const char *data, const char *swept) {
    char cfg[600], args[1500], path[1200];
    test_begin("sweep: values that slug alike get their own directories");
    const char *dir = test_tmpdir();
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 256\ntest_images = 128\n[model]\ndepth = 8\n"
             "[train]\nbatch_size = 64\nprogress = plain\n",
             data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "phases.cfg", text));
    snprintf(args, sizeof args, "%s --grid 'schedule.phases=1:0.1:0.9|1:0.1>0.9' --out %s/col", cfg, dir);
    int rc = sweep(args);
    CHECK_MSG(rc == 0, "sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "2 ran, 0 skipped (already finished), 0 failed");
    snprintf(path, sizeof path, "%s/col/summary.csv", dir);
    const char *csv = slurp(path);
    CHECK_STR_CONTAINS(csv, ",1:0.1:0.9,1,1,1/1,");
    CHECK_STR_CONTAINS(csv, ",1:0.1>0.9,1,1,1/1,");
    // The two settings' logs differ (one LR rises), so they are two runs.
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "ls -d %s/col/phases1-0.1-0.9-*-s1 | wc -l", dir);
    char n[64];
    testdata_run(cmd, n, sizeof n);
    CHECK_MSG(atoi(n) == 2, "two run directories: %s", n);

    if (!swept) return;
    test_begin("sweep: a directory holding another setting's run is left alone, not skipped");
    // lr0.3-s1 made from a copy of the finished lr0.1 run of test_sweep_and_skip: the name
    // says lr 0.3, the stored config says 0.1.
    snprintf(cmd, sizeof cmd, "cp -r %s/lr0.1-s1 %s/lr0.3-s1 && rm -f %s/lr0.3-s1/onecycle.lock", swept, swept, swept);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/lr0.3-s1/log.csv", swept);
    char *before = testdata_slurp(path);
    snprintf(cfg, sizeof cfg, "%s/../tiny.cfg", swept);
    snprintf(args, sizeof args, "%s --grid schedule.lr=0.3 --out %s", cfg, swept);
    rc = sweep(args);
    CHECK_MSG(rc == 1, "sweep exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "holds a run of another setting (schedule.lr = '0.1' there, '0.3' here)");
    CHECK_MSG(!strstr(out, "skip lr0.3-s1"), "%s", out);
    char *after = testdata_slurp(path);
    CHECK_MSG(before && after && !strcmp(before, after), "the other setting's log was touched");
    free(before);
    free(after);
}

// Issue 13, item 6: `kill -9` on a sweep left its trainings running. The kernel now sends
// each run SIGTERM when the sweep dies: it saves a checkpoint after its step and stops. The
// run is long (40 epochs), so one that kept training would still be alive at the deadline.
static void test_kill9(const char *data) {
    char cfg[600], cmd[4096], path[1200];
    test_begin("sweep killed with SIGKILL: its run saves a checkpoint and stops");
    const char *dir = test_tmpdir();
    snprintf(cfg, sizeof cfg, "%s", tiny_config(dir, data, 40));
    snprintf(cmd, sizeof cmd,
             "python3 scripts/sweep %s --seeds 1 --out %s/k9 --onecycle %s > %s/k9.out 2>&1 & pid=$!; i=0; "
             "while [ ! -f %s/k9/base-s1/log.csv ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
             // (the [1] keeps the pattern from matching this shell's own command line)
             "child=$(pgrep -n -f -- ' train .*--out %s/k9/base-s[1]'); [ -n \"$child\" ] || echo no-run; "
             "kill -KILL $pid; wait $pid 2>/dev/null; i=0; "
             "alive() { st=$(awk '/^State/{print $2}' /proc/$child/status 2>/dev/null); [ -n \"$st\" ] && [ \"$st\" != Z ]; }; "
             "while alive && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
             "if alive; then echo orphan-alive; kill -KILL $child; else echo orphan-gone; fi",
             cfg, dir, testdata_bin(), dir, dir, dir);
    char res[4096];
    testdata_run(cmd, res, sizeof res);
    CHECK_MSG(strstr(res, "orphan-gone") != NULL && !strstr(res, "no-run"), "the run outlived the sweep by 30 s: %s",
              res);
    snprintf(path, sizeof path, "%s/k9/base-s1/checkpoint.ckpt", dir);
    CHECK_MSG(file_size(path) > 0, "the run saved a checkpoint when told to stop");
    snprintf(path, sizeof path, "%s/k9/base-s1/train.out", dir);
    CHECK_STR_CONTAINS(slurp(path), "state saved; resume with");
}

// The plot helpers alone, without training: legend labels name their keys, the accuracy
// SVG has ticks at nice values (8, 10, 12, not 8.1, 10.1...) and its first and last points,
// error bars included, clear of the axes.
static void test_sweep_plot_helpers(void) {
    test_begin("sweep plots: key=value labels, nice accuracy ticks, padded x range (regression)");
    char cmd[2048], svg[700];
    snprintf(svg, sizeof svg, "%s/acc.svg", test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "python3 -c '\n"
             "import importlib.machinery as m, importlib.util as u, re, sys\n"
             "l = m.SourceFileLoader(\"sweep\", \"scripts/sweep\")\n"
             "sw = u.module_from_spec(u.spec_from_loader(\"sweep\", l)); l.exec_module(sw)\n"
             "S = type(\"S\", (), {\"pairs\": [(\"schedule.lr\", \"0.1\"), (\"optim.wd\", \"5e-4,1\")], \"name\": \"x\"})\n"
             "print(\"label=\" + sw.plot_label(S()))\n"
             "sw.svg_accuracy(sys.argv[1], \"schedule.lr\", [(\"a\", [(0.1, 8.13, 0.5), (0.3, 12.0, 0.4), (0.5, 14.1, 0.3)])])\n"
             "t = open(sys.argv[1]).read()\n"
             "print(\"yticks=\" + \",\".join(re.findall(r\"text-anchor=.end.>([^<]*)<\", t)))\n"
             "cx = [float(v) for v in re.findall(r\"<circle cx=.([0-9.]+)\", t)]\n"
             "print(\"clear=%%d\" %% (min(cx) >= 70 + 20 and max(cx) <= 720 - 170 - 20))\n"
             "' %s",
             svg);
    char out[4096];
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "python failed: %s", out);
    CHECK_STR_CONTAINS(out, "label=lr=0.1 wd=5e-4/1\n");
    CHECK_STR_CONTAINS(out, "yticks=8,10,12,14\n");
    CHECK_STR_CONTAINS(out, "clear=1\n");
}

// Issue 34: a sweep over runs with a validation split reports it and, with --metric valid,
// compares the settings by it; without a split --metric valid is refused up front.
static void test_metric_valid(const char *data) {
    char cfg[600], args[1500], path[1200];
    test_begin("sweep --metric valid: the settings compared on the validation split");
    const char *dir = test_tmpdir();
    snprintf(cfg, sizeof cfg, "%s", tiny_config(dir, data, 1));
    snprintf(args, sizeof args, "%s --metric valid --grid schedule.lr=0.1,0.2 --out %s/nv", cfg, dir);
    CHECK_EQ_INT(sweep(args), 2);
    CHECK_STR_CONTAINS(out, "--metric valid needs a validation split: set data.valid_images");
    snprintf(args, sizeof args,
             "%s --metric valid --set data.train_images=320 --set data.valid_images=64 --grid schedule.lr=0.1,0.2 "
             "--out %s/v --threads-per-run 1",
             cfg, dir);
    int rc = sweep(args);
    CHECK_MSG(rc == 0, "sweep exit %d: %s", rc, out);
    snprintf(path, sizeof path, "%s/v/summary.csv", dir);
    const char *csv = slurp(path);
    CHECK_STR_CONTAINS(csv, ",command,final_valid_acc_mean,final_valid_acc_std,best_valid_acc_mean,"
                            "test_acc_at_best_valid_mean\r\n"); // csv.writer ends rows with CRLF
    snprintf(path, sizeof path, "%s/v/summary.md", dir);
    const char *md = slurp(path);
    CHECK_STR_CONTAINS(md, "| final valid acc % | test acc % at best valid epoch |");
    CHECK_STR_CONTAINS(md, "Best setting by final validation accuracy (the test set took no part in the choice): `lr0.");
    CHECK_STR_CONTAINS(md, "Final validation accuracy against `schedule.lr`");
    snprintf(path, sizeof path, "%s/v/accuracy_schedule.lr.svg", dir);
    CHECK_STR_CONTAINS(slurp(path), ">final validation accuracy against schedule.lr</text>");
    snprintf(path, sizeof path, "%s/v/means/lr0.1.csv", dir); // the mean log keeps the columns
    CHECK_STR_CONTAINS(slurp(path), "images_per_sec,valid_loss,valid_acc\n");
}

// A stand-in for onecycle that needs no data: `info` prints a one-epoch plan, `train`
// writes a line into DIR/terms for every SIGTERM it gets (and kills itself with SIGKILL
// when the sweep directory holds `die`), and exits 3 once the sweep directory holds
// `release`.
static const char fake_onecycle[] =
    "#!/bin/bash\n"
    "if [ \"$1\" = info ]; then echo 'schedule: constant, 1 epoch x 1 step of batch 1 = 1 step'; exit 0; fi\n"
    "if [ \"$1\" != train ]; then exit 0; fi\n"
    "out=''; while [ $# -gt 0 ]; do [ \"$1\" = --out ] && out=$2; shift; done\n"
    "mkdir -p \"$out\"; : > \"$out/terms\"\n"
    "trap 'echo term >> \"$out/terms\"; [ -f \"$out/../die\" ] && kill -9 $$' TERM\n"
    "touch \"$out/started\"\n"
    "while [ ! -f \"$out/../release\" ]; do sleep 0.05; done\n"
    "exit 3\n";

// Issue 35, item 3: on_signal sent SIGTERM to the runs on every signal the sweep got,
// though one stop request is all a run needs; the second killed onecycle mid-step or
// mid-save ("FAILED base-s1: exit status -15"). Item 8: a FIFO as a run's train.out
// blocked the sweep in open() until kill -9.
static void test_signals_and_fifos(void) {
    const char *dir = test_tmpdir();
    char fake[700], cfg[700], d[700], cmd[4000];
    snprintf(fake, sizeof fake, "%s", testdata_write(dir, "fake-onecycle", fake_onecycle));
    chmod(fake, 0755);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "base.cfg", "[schedule]\nepochs = 1\n"));
    const char *wait_started = "i=0; while [ ! -f %s/base-s1/started ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ";
    char ws[1000];

    test_begin("sweep: two signals, one stop request to the run; reported as interrupted");
    snprintf(d, sizeof d, "%s/twice", dir);
    snprintf(ws, sizeof ws, wait_started, d);
    snprintf(cmd, sizeof cmd,
             "python3 scripts/sweep %s --out %s --onecycle %s > %s.out 2>&1 & p=$!; " TESTDATA_WATCHDOG(120)
             "%s kill -TERM $p; sleep 0.5; kill -TERM $p; sleep 0.5; touch %s/release; wait $p; echo \"rc=$?\"; "
             "cat %s.out; echo \"terms=$(cat %s/base-s1/terms | wc -l)\"",
             cfg, d, fake, d, ws, d, d, d);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=3") != NULL, "an interrupted sweep exits 3:\n%s", out);
    CHECK_MSG(strstr(out, "terms=1\n") != NULL, "the run got one SIGTERM:\n%s", out);
    CHECK_STR_CONTAINS(out, "sweep: interrupted base-s1");

    test_begin("sweep: a run that dies of a signal while stopping is interrupted, not failed");
    snprintf(d, sizeof d, "%s/killed", dir);
    snprintf(ws, sizeof ws, wait_started, d);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && touch %s/die && python3 scripts/sweep %s --out %s --onecycle %s > %s.out 2>&1 & p=$!; "
             TESTDATA_WATCHDOG(120) "%s kill -TERM $p; wait $p; echo \"rc=$?\"; cat %s.out",
             d, d, cfg, d, fake, d, ws, d);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=3") != NULL, "exit 3:\n%s", out);
    CHECK_STR_CONTAINS(out, "sweep: interrupted base-s1 (interrupted (ended by signal 9 while stopping)");
    CHECK_MSG(strstr(out, "FAILED") == NULL, "reported as failed:\n%s", out);

    test_begin("sweep: a FIFO as a run's train.out: exit 2 at once, nothing run");
    snprintf(d, sizeof d, "%s/fifo", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/base-s1 && mkfifo %s/base-s1/train.out && "
             "python3 scripts/sweep %s --out %s --onecycle %s > %s.out 2>&1 & p=$!; " TESTDATA_WATCHDOG(60)
             "wait $p; echo \"rc=$?\"; cat %s.out",
             d, d, cfg, d, fake, d, d);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strstr(out, "rc=2") != NULL, "exit 2 (137: hung and killed):\n%s", out);
    CHECK_STR_CONTAINS(out, "train.out: is a FIFO (named pipe); outputs are written only as regular files");
    snprintf(d, sizeof d, "%s/fifo/base-s1/started", dir);
    struct stat st;
    CHECK_MSG(stat(d, &st) != 0, "a run was started");
}

// Issue 35: on a full disk the sweep died with a Python traceback (OSError: [Errno 28] from
// start() or summary.csv) and left summary.csv truncated. Here the file-size limit fails
// the writes as a full disk does: the finished runs are skipped, the summary cannot be
// written, and the sweep says so in one line, exit 1, leaving no truncated summary.
static void test_full_disk(const char *swept) {
    char cmd[2048], path[1200];
    test_begin("sweep: a summary that cannot be written is one message and exit 1, no traceback, no truncated file");
    snprintf(cmd, sizeof cmd,
             "trap '' XFSZ; ulimit -f 1; python3 scripts/sweep %s/../tiny.cfg --grid schedule.lr=0.1,0.2 --seeds 1 "
             "--out %s --onecycle %s",
             swept, swept, testdata_bin());
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 1, "sweep exit %d (want 1): %s", rc, out);
    CHECK_MSG(!strstr(out, "Traceback"), "a traceback:\n%s", out);
    CHECK_STR_CONTAINS(out, "2 skipped (already finished), 0 failed, 0 interrupted");
    CHECK_STR_CONTAINS(out, "no summary written");
    // "sweep: cannot write the summary: PATH: File too large": PATH is not left cut short.
    const char *p = strstr(out, "sweep: cannot write the summary: ");
    if (!CHECK_MSG(p != NULL, "no message:\n%s", out)) return;
    p += strlen("sweep: cannot write the summary: ");
    const char *end = strstr(p, ": File too large");
    if (!CHECK_MSG(end && end - p < (long)sizeof path, "no path: %s", p)) return;
    snprintf(path, sizeof path, "%.*s", (int)(end - p), p);
    CHECK_MSG(!strncmp(path, swept, strlen(swept)), "%s is not in the sweep", path);
    CHECK_MSG(file_size(path) < 0, "%s left behind, %d bytes", path, file_size(path));
}

void suite_sweep(void) {
    if (system("python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' > /dev/null 2>&1") == 0)
        test_sweep_plot_helpers();
    test_begin("sweep");
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_skip("CIFAR-10 not found in data/cifar-10-batches-bin or ../shared/data (run `make data`)");
        return;
    }
    if (system("python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' > /dev/null 2>&1") != 0) {
        test_skip("python3 >= 3.8 not found");
        return;
    }
    test_signals_and_fifos();
    static char swept[700];
    test_sweep_and_skip(data, swept, sizeof swept);
    test_bad_arguments_and_failures(data);
    test_resume(data);
    test_unique_names(data, swept[0] ? swept : NULL);
    test_kill9(data);
    test_metric_valid(data);
    if (swept[0]) test_full_disk(swept);
}
