// test_summary.c: DIR/summary.json: its fields from a known log.csv, JSON escaping, no log,
// the start kept on resume, atomic writing, and `train` writing it for a finished, a
// diverged and an interrupted run.
#include "cli.h"
#include "conv.h"
#include "summary.h"
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_text =
    "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
    "1,10,0.1,0.9,2.100000,0.200000,1.900000,0.300000,5.00,100.0\n"
    "2,20,0.1,0.9,1.700000,0.400000,,,10.00,200.0\n"
    "3,30,0.1,0.9,1.500000,0.450000,1.400000,0.550000,15.00,300.0\n"
    "4,40,0.1,0.9,1.400000,0.500000,1.600000,0.500000,20.00,400.0\n";

// Whether python3 reads text as JSON (skipped, returning 1, without python3).
static int json_ok(const char *dir, const char *text) {
    if (system("command -v python3 >/dev/null 2>&1") != 0) return 1;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' %s",
             testdata_write(dir, "check.json", text));
    return system(cmd) == 0;
}

static void test_fields(void) {
    test_begin("summary.json: final and best test accuracy and their epochs, losses, img/s, config");
    const char *dir = test_tmpdir();
    testdata_write(dir, "log.csv", log_text);
    static Config c;
    testdata_config(&c, "[model]\ndepth = 8\n[schedule]\nlr = 0.1\nepochs = 5\n");
    RunSummary s = {.status = "interrupted", .message = "stopped at step 40; resume with: x",
                    .started = "2025-01-02T03:04:05Z", .ended = "2025-01-02T04:00:00Z", .seconds = 21.5,
                    .steps_done = 40, .steps_planned = 50, .epochs_planned = 5, .config = &c,
                    .openblas_core = "Haswell", .threads = 2};
    char *j = summary_json(dir, &s);
    CHECK_STR_CONTAINS(j, "\"format\": 1,\n");
    CHECK_STR_CONTAINS(j, "\"status\": \"interrupted\",\n");
    CHECK_STR_CONTAINS(j, "\"message\": \"stopped at step 40; resume with: x\",\n");
    CHECK_STR_CONTAINS(j, "\"started\": \"2025-01-02T03:04:05Z\",\n  \"ended\": \"2025-01-02T04:00:00Z\",\n");
    CHECK_STR_CONTAINS(j, "\"wall_seconds\": 21.50,\n");
    CHECK_STR_CONTAINS(j, "\"epochs_done\": 4,\n  \"epochs_planned\": 5,\n");
    CHECK_STR_CONTAINS(j, "\"steps_done\": 40,\n  \"steps_planned\": 50,\n");
    // The last evaluated epoch (4) and the best (3, 55%); epoch 2 was not evaluated.
    CHECK_STR_CONTAINS(j, "\"final_test_acc\": 0.500000,\n  \"final_test_loss\": 1.600000,\n  \"final_test_epoch\": 4,\n");
    CHECK_STR_CONTAINS(j, "\"best_test_acc\": 0.550000,\n  \"best_test_epoch\": 3,\n");
    CHECK_STR_CONTAINS(j, "\"final_train_loss\": 1.400000,\n  \"final_train_acc\": 0.500000,\n");
    CHECK_STR_CONTAINS(j, "\"images_per_sec\": 250.0,\n"); // the mean of the epochs'
    CHECK_STR_CONTAINS(j, "\"version\": \"" ONECYCLE_VERSION "\"");
    CHECK_STR_CONTAINS(j, "\"openblas_core\": \"Haswell\", \"threads\": 2}");
    CHECK_STR_CONTAINS(j, "\"kernels\": \"");
    CHECK_STR_CONTAINS(j, "\"model\": {\"arch\": \"resnet\", \"depth\": \"8\", \"shortcut\": \"A\", \"init\": \"auto\"}");
    CHECK_STR_CONTAINS(j, "\"lr\": \"0.1\"");
    CHECK_STR_CONTAINS(j, "\"use_clr_beta\": \"\"");
    CHECK_MSG(json_ok(dir, j), "not JSON:\n%s", j);
    free(j);
#ifdef __AVX512F__
    // The kernels named are the ones conv_pick may choose now.
    unsigned was = conv_set_kernels(0);
    j = summary_json(dir, &s);
    CHECK_STR_CONTAINS(j, "AVX-512 kernels: none;");
    free(j);
    conv_set_kernels(CONV_USE_WINOGRAD | CONV_USE_WINOGRAD_WGRAD);
    j = summary_json(dir, &s);
    CHECK_STR_CONTAINS(j, "AVX-512 kernels: winograd,winograd-wgrad;");
    free(j);
    conv_set_kernels(was);
#endif

    test_begin("summary.json: strings escaped, numbers that are not finite null, no log");
    const char *dir2 = test_tmpdir();
    s.status = "diverged";
    s.message = "a \"quoted\" \\ path\nnext\tline\001";
    s.seconds = NAN;
    j = summary_json(dir2, &s);
    CHECK_STR_CONTAINS(j, "\"message\": \"a \\\"quoted\\\" \\\\ path\\nnext\\tline\\u0001\",\n");
    CHECK_STR_CONTAINS(j, "\"wall_seconds\": null,\n");
    CHECK_STR_CONTAINS(j, "\"epochs_done\": 0,\n");
    CHECK_STR_CONTAINS(j, "\"final_test_acc\": null,\n");
    CHECK_STR_CONTAINS(j, "\"best_test_epoch\": null,\n");
    CHECK_STR_CONTAINS(j, "\"images_per_sec\": null,\n");
    CHECK_MSG(json_ok(dir2, j), "not JSON:\n%s", j);
    free(j);
    s.status = "finished";
    s.message = "";
    j = summary_json(dir2, &s);
    CHECK_STR_CONTAINS(j, "\"message\": null,\n");
    free(j);
}

// Issue 34: a log with the validation split's columns gives its figures, and the test
// accuracy of the epoch the split picks; a log without them gives nulls.
static void test_valid_fields(void) {
    test_begin("summary.json: the validation split's final and best figures, and the test accuracy at the best");
    const char *dir = test_tmpdir();
    testdata_write(dir, "log.csv",
                   "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec,"
                   "valid_loss,valid_acc\n"
                   "1,10,0.1,0.9,2.1,0.2,1.9,0.300000,5.00,100.0,1.800000,0.310000\n"
                   "2,20,0.1,0.9,1.7,0.4,,,10.00,200.0,1.500000,0.420000\n"
                   "3,30,0.1,0.9,1.5,0.45,1.4,0.550000,15.00,300.0,1.300000,0.600000\n"
                   "4,40,0.1,0.9,1.4,0.5,1.6,0.500000,20.00,400.0,1.350000,0.600000\n");
    RunSummary s = {.status = "finished"};
    char *j = summary_json(dir, &s);
    CHECK_STR_CONTAINS(j, "\"final_valid_acc\": 0.600000,\n  \"final_valid_loss\": 1.350000,\n");
    CHECK_STR_CONTAINS(j, "\"best_valid_acc\": 0.600000,\n  \"best_valid_epoch\": 3,\n"); // the first of equals
    CHECK_STR_CONTAINS(j, "\"test_acc_at_best_valid\": 0.550000");
    CHECK_STR_CONTAINS(j, "\"final_test_acc\": 0.500000,\n"); // the test fields as before
    CHECK(json_ok(dir, j));
    free(j);
    dir = test_tmpdir();
    testdata_write(dir, "log.csv", log_text);
    j = summary_json(dir, &s);
    CHECK_STR_CONTAINS(j, "\"final_valid_acc\": null,\n");
    CHECK_STR_CONTAINS(j, "\"test_acc_at_best_valid\": null");
    free(j);
}

static void test_write(void) {
    test_begin("summary.json: written atomically, its start read back for a resumed run");
    const char *dir = test_tmpdir();
    RunSummary s = {.status = "finished", .started = "2025-01-02T03:04:05Z", .threads = 1};
    summary_now(s.ended, sizeof s.ended);
    CHECK_EQ_INT(strlen(s.ended), 20);
    CHECK(s.ended[4] == '-' && s.ended[10] == 'T' && s.ended[19] == 'Z');
    char buf[32] = "";
    CHECK_EQ_INT(summary_read_started(dir, buf, sizeof buf), 0);
    Err e = {0};
    CHECK_EQ_INT(summary_write(dir, &s, &e), ERR_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/summary.json.tmp", dir);
    struct stat st;
    CHECK(stat(path, &st) != 0); // renamed into place
    CHECK_EQ_INT(summary_read_started(dir, buf, sizeof buf), 1);
    CHECK(!strcmp(buf, "2025-01-02T03:04:05Z"));
    CHECK_EQ_INT(summary_read_started(dir, buf, 8), 0); // does not fit: none
    CHECK_EQ_INT(summary_write("/nonexistent-dir", &s, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent-dir/summary.json");
}

static char out[16384];

static void test_train_writes_it(void) {
    const char *data = testdata_cifar_dir();
    test_begin("train writes summary.json: finished");
    if (!data) {
        test_skip("needs CIFAR-10");
        return;
    }
    const char *dir = test_tmpdir();
    char cfg[600], cmd[2048], path[700], abs_data[4096];
    static char text[1024];
    if (realpath(data, abs_data)) data = abs_data; // the interrupted run starts elsewhere
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 300\ntest_images = 100\n[model]\ndepth = 8\n[train]\nbatch_size = 32\n"
             "threads = 1\nprogress = plain\n[schedule]\nlr = 0.1\nepochs = 2\n",
             data);
    snprintf(cfg, sizeof cfg, "%s", testdata_write(dir, "tiny.cfg", text));
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/ok", testdata_bin(), cfg, dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, out);
    snprintf(path, sizeof path, "%s/ok/summary.json", dir);
    char *j = testdata_slurp(path);
    if (CHECK_MSG(j != NULL, "%s written", path)) {
        CHECK_STR_CONTAINS(j, "\"status\": \"finished\",\n  \"message\": null,");
        CHECK_STR_CONTAINS(j, "\"epochs_done\": 2,\n  \"epochs_planned\": 2,\n  \"steps_done\": 20,\n  \"steps_planned\": 20,");
        CHECK_STR_CONTAINS(j, "\"final_test_epoch\": 2,");
        CHECK_STR_CONTAINS(j, "\"threads\": 1}");
        CHECK_STR_CONTAINS(j, "\"batch_size\": \"32\"");
        CHECK(!strstr(j, "\"final_test_acc\": null"));
        // The final accuracy is the one train printed.
        const char *p = strstr(out, "test_accuracy: ");
        char want[64];
        if (CHECK(p != NULL)) {
            snprintf(want, sizeof want, "\"final_test_acc\": %.4s", p + 15);
            CHECK_STR_CONTAINS(j, want);
        }
        free(j);
    }

    test_begin("train writes summary.json: diverged, with the message");
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/div --set schedule.lr=1e6", testdata_bin(), cfg, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 1, "exit %d:\n%s", rc, out);
    snprintf(path, sizeof path, "%s/div/summary.json", dir);
    j = testdata_slurp(path);
    if (CHECK_MSG(j != NULL, "%s written", path)) {
        CHECK_STR_CONTAINS(j, "\"status\": \"diverged\",\n  \"message\": \"training diverged: loss ");
        CHECK_STR_CONTAINS(j, "no checkpoint had been written yet");
        CHECK_STR_CONTAINS(j, "\"epochs_done\": 0,");
        free(j);
    }

    test_begin("train writes summary.json: interrupted (SIGINT), and a resume keeps its start");
    // SIGINT as soon as the first progress line is out, well before 50 epochs end.
    char bin[1024], cwd[512];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    snprintf(bin, sizeof bin, "%s%s%s", testdata_bin()[0] == '/' ? "" : cwd, testdata_bin()[0] == '/' ? "" : "/",
             testdata_bin());
    static const char *interrupt =
        "cd %s && (%s %s > %s 2>&1 & pid=$!; while kill -0 $pid 2>/dev/null && ! grep -q 'batch ' %s; do sleep 0.05; "
        "done; "
        "kill -INT $pid; wait $pid; echo status $?)";
    char what[1200];
    snprintf(what, sizeof what, "train %s --out int --set schedule.epochs=50", cfg);
    snprintf(cmd, sizeof cmd, interrupt, dir, bin, what, "int1.out", "int1.out");
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_STR_CONTAINS(out, "status 3");
    snprintf(path, sizeof path, "%s/int/summary.json", dir);
    j = testdata_slurp(path);
    char started[32] = "", again[32] = "", idir[700];
    snprintf(idir, sizeof idir, "%s/int", dir);
    if (CHECK_MSG(j != NULL, "%s written", path)) {
        CHECK_STR_CONTAINS(j, "\"status\": \"interrupted\",\n  \"message\": \"stopped at step ");
        CHECK_STR_CONTAINS(j, "resume with: onecycle train --resume ");
        CHECK_STR_CONTAINS(j, "\"epochs_planned\": 50,");
        free(j);
        CHECK(summary_read_started(idir, started, sizeof started));
    }
    // Resumed and interrupted again: the first start stays.
    testdata_put(path, "{\n  \"started\": \"2000-01-01T00:00:00Z\",\n}\n");
    snprintf(what, sizeof what, "train --resume int/checkpoint.ckpt");
    snprintf(cmd, sizeof cmd, interrupt, dir, bin, what, "int2.out", "int2.out");
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_STR_CONTAINS(out, "status 3");
    CHECK(summary_read_started(idir, again, sizeof again));
    CHECK_MSG(!strcmp(again, "2000-01-01T00:00:00Z"), "started %s after the resume", again);
    j = testdata_slurp(path);
    if (j) CHECK_STR_CONTAINS(j, "\"status\": \"interrupted\"");
    free(j);
}

void suite_summary(void) {
    test_valid_fields();
    test_fields();
    test_write();
    test_train_writes_it();
}
