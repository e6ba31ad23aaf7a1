// cmd_eval.c: `onecycle eval CKPT [--data DIR] [--threads N] [--out DIR [--force]]`: test
// accuracy and loss of a checkpoint, how many test images it scored, per-class accuracy and
// the confusion matrix (with --out also as CSV files and a PNG heat map).
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "confusion.h"
#include "conv.h"
#include "cpu.h"
#include "dataset.h"
#include "fmnist.h"
#include "optim.h"
#include "outfile.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The matrix is printed up to this many classes; more only go to --out's files.
#define PRINT_MAX_CLASSES 20

static const char *const out_files[] = {"per_class.csv", "confusion.csv", "confusion.png", NULL};

typedef struct EvalCtx {
    Confusion conf;
    int live; // a progress line on the terminal (stderr)
    long total;
} EvalCtx;

static void each_batch(void *ctx, const float *logits, const int *y, int nb, long done) {
    EvalCtx *c = ctx;
    confusion_add(&c->conf, logits, y, nb);
    if (c->live) {
        fprintf(stderr, "\r\033[Keval: %ld/%ld images (%.0f%%)", done, c->total, 100.0 * done / c->total);
        fflush(stderr);
    }
}

// Class names of the data set, or NULL (CIFAR-100's are not built in: "class k").
static const char *const *class_names(const DataOptions *co) {
    if (co->dataset == DATASET_CIFAR10) return cifar_class_names;
    if (co->dataset == DATASET_FMNIST) return fmnist_class_names;
    return NULL;
}

static void print_results(const Confusion *cf, const char *const *names) {
    const int K = cf->classes;
    char nb[32];
    int w = 5;
    for (int k = 0; k < K; k++) {
        int l = (int)strlen(confusion_class_name(names, k, nb, sizeof nb));
        if (l > w) w = l;
    }
    printf("\nper-class accuracy:\n  %3s %-*s %7s %8s %9s\n", "", w, "class", "images", "correct", "accuracy");
    for (int t = 0; t < K; t++) {
        long n = confusion_class_images(cf, t), r = confusion_class_correct(cf, t);
        printf("  %3d %-*s %7ld %8ld ", t, w, confusion_class_name(names, t, nb, sizeof nb), n, r);
        if (n) printf("%8.2f%%\n", 100.0 * r / n);
        else printf("%9s\n", "-");
    }
    if (K > PRINT_MAX_CLASSES) {
        printf("\nconfusion matrix: %d classes, too wide to print; --out DIR writes confusion.csv and confusion.png\n",
               K);
        return;
    }
    long big = 0;
    for (long i = 0; i < (long)K * K; i++)
        if (cf->count[i] > big) big = cf->count[i];
    int cw = snprintf(nb, sizeof nb, "%ld", big) + 1;
    if (cw < 4) cw = 4;
    printf("\nconfusion matrix (rows: true class, columns: predicted class):\n  %3s %-*s", "", w, "");
    for (int p = 0; p < K; p++) printf("%*d", cw, p);
    printf("\n");
    for (int t = 0; t < K; t++) {
        printf("  %3d %-*s", t, w, confusion_class_name(names, t, nb, sizeof nb));
        for (int p = 0; p < K; p++) printf("%*ld", cw, cf->count[(size_t)t * K + p]);
        printf("\n");
    }
}

// --out DIR: created if missing; files of an earlier eval there are refused without --force,
// before the evaluation, so nothing is lost and no time is spent on a run that cannot write.
static int check_out(const char *dir, int force, Err *e) {
    if (fs_mkdir_p(dir, e)) return e->code;
    for (int i = 0; out_files[i]; i++) {
        char p[FS_PATH_MAX];
        if (fs_join(p, sizeof p, dir, out_files[i], e)) return e->code;
        // Even with --force, only a regular file is replaced (a FIFO would block; outfile.h).
        if (outfile_check(p, e)) return e->code;
        if (!force && fs_exists(p)) return err_set(e, ERR_INPUT, "%s already exists; use --force to overwrite it", p);
    }
    return ERR_OK;
}

int cmd_eval(int argc, char **argv) {
    static const CliSpec spec = {"eval", CLI_DATA | CLI_THREADS | CLI_OUT | CLI_FORCE, .max_args = 1};
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    const char *ckpt = a.config, *data = a.data;
    if (!ckpt) return cli_usage_error("%s", "eval needs a checkpoint file");
    if (a.force && !a.out) return cli_usage_error("%s", "--force goes with --out DIR (it allows overwriting its files)");
    Err e = {0};
    static Config c;
    if (cli_load_checkpoint_config(&c, ckpt, &e)) return cli_fail(&e);
    ModelOptions mo;
    TrainOptions to;
    DataOptions co;
    if (run_options_from_config(&c, &to, &co, &mo, NULL, &e)) return cli_fail(&e);
    if (data && fs_check_path("--data", data, &e)) return cli_fail(&e);
    if (data) memcpy(co.dir, data, strlen(data) + 1);
    if (a.out && check_out(a.out, a.force, &e)) return cli_fail(&e);
    if (a.threads_given) to.threads = a.threads;
    train_apply_cpu(&to);
    Dataset test;
    ResNet m;
    if (dataset_load(&test, &co, 0, 0, &e)) return cli_fail(&e);
    if (resnet_create(&m, &mo, to.batch_size, &e) || checkpoint_load_weights(&m, ckpt, &e)) {
        dataset_free(&test);
        return cli_fail(&e);
    }
    float *x = xalloc_aligned(sizeof(float) * (size_t)to.batch_size * dataset_image_bytes(&test));
    int *y = xmalloc(sizeof(int) * (size_t)to.batch_size), *idx = xmalloc(sizeof(int) * (size_t)to.batch_size);
    EvalCtx ctx = {.live = isatty(STDERR_FILENO), .total = test.n};
    confusion_init(&ctx.conf, test.classes);
    EvalResult r = evaluate_set_each(&m, &test, &co, to.batch_size, x, y, idx, each_batch, &ctx);
    if (ctx.live) fprintf(stderr, "\r\033[K");
    // Weights the loader accepts can still overflow the forward pass; a NaN is no result.
    if (!isfinite(r.loss)) {
        err_set(&e, ERR_INPUT,
                "%s: the checkpoint's model gives a non-finite test loss (%g): its weights overflow the forward "
                "pass; refused",
                ckpt, r.loss);
        free(x);
        free(y);
        free(idx);
        resnet_free(&m);
        dataset_free(&test);
        confusion_free(&ctx.conf);
        return cli_fail(&e);
    }
    // One process (main.c refuses eval under mpirun), so the counts cover the whole set.
    const char *const *names = class_names(&co);
    printf("test_images: %d\n", test.n);
    printf("test_accuracy: %.4f\n", r.acc);
    printf("test_loss: %.4f\n", r.loss);
    print_results(&ctx.conf, names);
    rc = ERR_OK;
    if (a.out) {
        char png[FS_PATH_MAX], title[FS_PATH_MAX + 80];
        const char *base = strrchr(ckpt, '/') ? strrchr(ckpt, '/') + 1 : ckpt;
        snprintf(title, sizeof title, "confusion matrix of %s on the test set: accuracy %.2f%%", base, 100 * r.acc);
        if (!(rc = confusion_write_csv(&ctx.conf, names, a.out, &e)) &&
            !(rc = fs_join(png, sizeof png, a.out, "confusion.png", &e)) &&
            !(rc = confusion_write_png(&ctx.conf, names, png, title, &e)))
            printf("\nwrote %s/per_class.csv, %s/confusion.csv, %s\n", a.out, a.out, png);
    }
    confusion_free(&ctx.conf);
    free(x);
    free(y);
    free(idx);
    resnet_free(&m);
    dataset_free(&test);
    return rc ? cli_fail(&e) : ERR_OK;
}
