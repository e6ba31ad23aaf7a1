// main.c: command-line parsing and dispatch. Every error comes back here as an Err;
// main prints it and exits 2 for bad input, 1 for runtime failures.
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "cpu.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define ONECYCLE_VERSION "0.1.0"

static int mkdir_p(const char *path, Err *e) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) && errno != EEXIST) return err_set(e, ERR_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) return err_set(e, ERR_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
    return ERR_OK;
}

static int file_exists(const char *dir, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void header(const CpuInfo *ci, int threads) {
    char line[300];
    cpu_describe(ci, threads, line, sizeof line);
    fprintf(stderr, "onecycle %s: %s\n", ONECYCLE_VERSION, line);
}

static int write_text(const char *path, const char *text, Err *e) {
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f)) return err_set(e, ERR_RUNTIME, "%s: write failed", path);
    return ERR_OK;
}

static volatile int stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

// SIGINT/SIGTERM finish the current step and save; a second signal kills as usual.
static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int cmd_train(const CpuInfo *ci, int argc, char **argv) {
    CliArgs a;
    Err e = {0};
    static Config c;
    static char dump[65536];
    char outdir[1024], path[1200];
    int rc = cli_parse(&a, argc, argv);
    if (rc) return rc;
    if (a.resume) {
        if (a.config || a.nsets || a.init_from || a.seed_given)
            return cli_usage_error("%s", "--resume takes only the checkpoint (and --threads, --out): the run's own "
                                         "config is inside it");
        char *text;
        if (checkpoint_read_config(a.resume, &text, &e)) return cli_fail(&e);
        config_init(&c, cli_schema());
        snprintf(path, sizeof path, "%s (embedded config)", a.resume);
        rc = config_load_string(&c, text, path, &e);
        free(text);
        if (rc) return cli_fail(&e);
        char buf[64];
        snprintf(buf, sizeof buf, "train.threads=%d", a.threads);
        if (a.threads_given && config_set(&c, buf, &e)) return cli_fail(&e);
        snprintf(path, sizeof path, "%s", a.resume);
        char *slash = strrchr(path, '/');
        snprintf(outdir, sizeof outdir, "%s", a.out ? a.out : slash ? (*slash = 0, path) : ".");
    } else {
        if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
        if (a.out) {
            snprintf(outdir, sizeof outdir, "%s", a.out);
        } else {
            const char *base = strrchr(a.config, '/');
            base = base ? base + 1 : a.config;
            int len = (int)strcspn(base, ".");
            snprintf(outdir, sizeof outdir, "runs/%.*s", len, base);
        }
        if (!a.force && (file_exists(outdir, "log.csv") || file_exists(outdir, "checkpoint.ckpt"))) {
            fprintf(stderr,
                    "onecycle: %s already holds a run; use --out DIR for a new one, --resume %s/checkpoint.ckpt to "
                    "continue it, or --force to overwrite it\n",
                    outdir, outdir);
            return ERR_INPUT;
        }
    }
    Trainer t;
    long threads;
    if (config_int_in(&c, "train", "threads", 0, 1024, &threads, &e)) return cli_fail(&e);
    int nthreads = cpu_set_threads((int)threads);
    header(ci, nthreads);
    if (trainer_create(&t, &c, &e) || (a.resume && checkpoint_load(&t, a.resume, &e)) ||
        (a.init_from && checkpoint_load_weights(&t.net, a.init_from, &e))) {
        trainer_free(&t);
        return cli_fail(&e);
    }
    config_dump(&c, dump, sizeof dump);
    if (mkdir_p(outdir, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/config.cfg", outdir);
    if (write_text(path, dump, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/schedule.csv", outdir);
    if (schedule_write_csv(&t.sched, path, &e)) return cli_fail(&e);
    snprintf(path, sizeof path, "%s/schedule.png", outdir);
    if (schedule_write_png(&t.sched, path, 0, &e)) return cli_fail(&e);
    if (a.resume)
        fprintf(stderr, "resuming %s at step %ld (epoch %d) -> %s\n", a.resume, t.step, t.epoch + 1, outdir);
    else
        fprintf(stderr, "config %s -> %s%s%s\n", a.config, outdir, a.init_from ? ", weights from " : "",
                a.init_from ? a.init_from : "");
    fprintf(stderr, "model ResNet-%d (shortcut %s), %ld parameters; data %d train / %d test images from %s\n",
            t.model_opt.depth, t.model_opt.shortcut_b ? "B" : "A", t.net.nparams, t.train.n, t.test.n, t.data.dir);
    fprintf(stderr, "schedule %s: %ld epochs x %ld steps of batch %d = %ld steps\n", t.sched.policy,
            schedule_epochs(&t.sched), t.steps_per_epoch, t.opt.batch_size, t.sched.total);
    install_stop_handlers();
    t.stop = &stop_requested;
    EvalResult final;
    rc = trainer_run(&t, outdir, dump, &final, &e);
    trainer_free(&t);
    if (rc) return cli_fail(&e);
    printf("final test accuracy: %.2f%% (test loss %.4f)\n", 100 * final.acc, final.loss);
    printf("test_accuracy: %.4f\n", final.acc);
    return ERR_OK;
}

static int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL;
    int threads = -1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            threads = (int)strtol(argv[++i], &end, 10);
            if (*end || !*argv[i] || threads < 0)
                return cli_usage_error("--threads needs a whole number >= 0, got '%s'", argv[i]);
        } else if (argv[i][0] == '-')
            return cli_usage_error("unknown or incomplete option '%s'", argv[i]);
        else if (!ckpt)
            ckpt = argv[i];
        else
            return cli_usage_error("unexpected argument '%s'", argv[i]);
    }
    if (!ckpt) return cli_usage_error("%s", "eval needs a checkpoint file");
    Err e = {0};
    static Config c;
    char *text, name[1100];
    if (checkpoint_read_config(ckpt, &text, &e)) return cli_fail(&e);
    config_init(&c, cli_schema());
    snprintf(name, sizeof name, "%s (embedded config)", ckpt);
    int rc = config_load_string(&c, text, name, &e);
    free(text);
    if (rc) return cli_fail(&e);
    ModelOptions mo;
    TrainOptions to;
    CifarOptions co;
    if (run_options_from_config(&c, &to, &co, &mo, NULL, &e)) return cli_fail(&e);
    if (data) snprintf(co.dir, sizeof co.dir, "%s", data);
    cpu_set_threads(threads >= 0 ? threads : to.threads);
    CifarSet test;
    ResNet m;
    if (cifar_load(&test, co.dir, 0, 0, &e)) return cli_fail(&e);
    if (resnet_create(&m, &mo, to.batch_size, &e) || checkpoint_load_weights(&m, ckpt, &e)) {
        cifar_free(&test);
        return cli_fail(&e);
    }
    float *x = xalloc_aligned(sizeof(float) * (size_t)to.batch_size * CIFAR_IMAGE);
    int *y = xmalloc(sizeof(int) * (size_t)to.batch_size), *idx = xmalloc(sizeof(int) * (size_t)to.batch_size);
    EvalResult r = evaluate_set(&m, &test, &co, to.batch_size, x, y, idx);
    printf("test_images: %d\n", test.n);
    printf("test_accuracy: %.4f\n", r.acc);
    printf("test_loss: %.4f\n", r.loss);
    free(x);
    free(y);
    free(idx);
    resnet_free(&m);
    cifar_free(&test);
    return ERR_OK;
}

static int cmd_info(int argc, char **argv) {
    CliArgs a;
    Err e = {0};
    static Config c;
    int rc = cli_parse(&a, argc, argv);
    if (rc) return rc;
    if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
    ModelOptions mo;
    TrainOptions to;
    CifarOptions co;
    OptimOptions oo;
    if (run_options_from_config(&c, &to, &co, &mo, &oo, &e)) return cli_fail(&e);
    ResNet m;
    if (resnet_create(&m, &mo, 1, &e)) return cli_fail(&e);
    resnet_print_summary(&m, stdout);
    resnet_free(&m);
    long spe = train_steps_per_epoch(&to, co.train_images);
    Schedule s;
    if (schedule_from_config(&s, &c, spe, &e)) return cli_fail(&e);
    printf("data: %s, %d train / %d test images, augment %s\n", co.dir, co.train_images, co.test_images,
           co.augment == AUG_CROP_FLIP ? "crop+flip" : co.augment == AUG_FLIP ? "flip" : "none");
    printf("optimiser: %s, weight decay %g%s\n", oo.kind == OPTIM_SGD ? (oo.nesterov ? "SGD (Nesterov)" : "SGD") : oo.kind == OPTIM_ADAM ? "Adam" : "AdamW",
           oo.wd, oo.wd_bn_bias ? "" : " (not on BN/bias)");
    printf("schedule: %s, %ld epochs x %ld steps (batch %d) = %ld steps\n", s.policy, schedule_epochs(&s), spe,
           to.batch_size, s.total);
    schedule_free(&s);
    return ERR_OK;
}

static int cmd_schedule(int argc, char **argv) {
    CliArgs a;
    Err e = {0};
    static Config c;
    int rc = cli_parse(&a, argc, argv);
    if (rc) return rc;
    int x_epochs = 0;
    if (a.x && !strcmp(a.x, "epochs"))
        x_epochs = 1;
    else if (a.x && strcmp(a.x, "iterations"))
        return cli_usage_error("--x must be iterations or epochs, got '%s'", a.x);
    if (cli_load_config(&c, &a, &e)) return cli_fail(&e);
    TrainOptions to;
    CifarOptions co;
    if (run_options_from_config(&c, &to, &co, NULL, NULL, &e)) return cli_fail(&e);
    long spe = train_steps_per_epoch(&to, co.train_images);
    Schedule s;
    if (schedule_from_config(&s, &c, spe, &e)) return cli_fail(&e);
    const char *csv = a.csv, *png = a.png;
    if (!csv && !png) {
        csv = "schedule.csv";
        png = "schedule.png";
    }
    if ((csv && schedule_write_csv(&s, csv, &e)) || (png && schedule_write_png(&s, png, x_epochs, &e))) {
        schedule_free(&s);
        return cli_fail(&e);
    }
    printf("schedule %s: %ld epochs x %ld steps = %ld steps%s%s%s%s\n", s.policy, schedule_epochs(&s), spe, s.total,
           csv ? "; csv " : "", csv ? csv : "", png ? "; png " : "", png ? png : "");
    schedule_free(&s);
    return ERR_OK;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

typedef struct BenchStep {
    ResNet *m;
    Optimizer *opt;
    const float *x;
    const int *y;
    int batch, train;
} BenchStep;

// One training step (forward, backward, SGD update) or one evaluation forward. A small LR
// keeps random-input training finite; speed does not depend on the values.
static void bench_step(void *ctx) {
    BenchStep *b = ctx;
    resnet_forward(b->m, b->x, b->y, b->batch, b->train, NULL);
    if (!b->train) return;
    resnet_backward(b->m, b->y, b->batch);
    optim_step(b->opt, b->m->params, b->m->grads, 1e-3, 0.9, 1.0);
}

static int cmd_bench(const CpuInfo *ci, int argc, char **argv) {
    int depth = 56, batch = 128, threads = 0, shortcut_b = 0, layers = 0;
    double seconds = 10;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--layers")) {
            layers = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("unknown or incomplete option '%s'", s);
        const char *v = argv[++i];
        char *end;
        long val = strtol(v, &end, 10);
        if (!strcmp(s, "--shortcut")) {
            if (strcmp(v, "A") && strcmp(v, "B")) return cli_usage_error("--shortcut must be A or B, got '%s'", v);
            shortcut_b = v[0] == 'B';
            continue;
        }
        if (!strcmp(s, "--seconds")) {
            seconds = strtod(v, &end);
            if (*end || seconds <= 0) return cli_usage_error("--seconds needs a positive number, got '%s'", v);
            continue;
        }
        if (*end || val < 0) return cli_usage_error("expected a whole number, got '%s'", v);
        if (!strcmp(s, "--depth"))
            depth = (int)val;
        else if (!strcmp(s, "--batch"))
            batch = (int)val;
        else if (!strcmp(s, "--threads"))
            threads = (int)val;
        else
            return cli_usage_error("unknown option '%s'", s);
    }
    if (depth < 8 || (depth - 2) % 6) {
        char d[24];
        snprintf(d, sizeof d, "%d", depth);
        return cli_usage_error("--depth must be 6n+2 (20, 32, 44, 56, 110...), got %s", d);
    }
    if (batch < 1) return cli_usage_error("--batch must be at least 1%s", "");
    int nthreads = cpu_set_threads(threads);
    header(ci, nthreads);
    ModelOptions mo = {.depth = depth, .shortcut_b = shortcut_b, .classes = 10};
    ResNet m;
    Err e = {0};
    if (resnet_create(&m, &mo, batch, &e)) return cli_fail(&e);
    Rng rng;
    rng_seed(&rng, 1);
    resnet_init_weights(&m, &rng);
    float *x = xalloc_aligned(sizeof(float) * (size_t)batch * CIFAR_IMAGE);
    int *y = xmalloc(sizeof(int) * (size_t)batch);
    for (long i = 0; i < (long)batch * CIFAR_IMAGE; i++) x[i] = (float)rng_normal(&rng);
    for (int i = 0; i < batch; i++) y[i] = (int)rng_below(&rng, 10);
    OptimOptions oo = {.kind = OPTIM_SGD, .wd = 1e-4, .wd_bn_bias = 1};
    OptimRange all = {0, m.nparams, 1};
    Optimizer opt;
    optim_create(&opt, &oo, m.nparams, &all, 1);
    BenchStep st = {.m = &m, .opt = &opt, .x = x, .y = y, .batch = batch, .train = 1};
    double train_ips = batch / bench_seconds_per_call(bench_step, &st, seconds);
    st.train = 0;
    double eval_ips = batch / bench_seconds_per_call(bench_step, &st, seconds / 2);
    printf("model: ResNet-%d (shortcut %s), batch %d, %d threads\n", depth, shortcut_b ? "B" : "A", batch, nthreads);
    printf("train_images_per_sec: %.1f\n", train_ips);
    printf("eval_images_per_sec: %.1f\n", eval_ips);
    printf("train_gflops: %.1f\n", train_ips * resnet_flops_per_image(&m, 1) / 1e9);
    printf("eval_gflops: %.1f\n", eval_ips * resnet_flops_per_image(&m, 0) / 1e9);
    printf("peak_rss_mb: %.0f\n", peak_rss_mb());
    if (layers) bench_conv_stages(batch, seconds / 8);
    optim_free(&opt);
    resnet_free(&m);
    free(x);
    free(y);
    return ERR_OK;
}

int main(int argc, char **argv) {
    CpuInfo ci;
    cpu_setup(&ci, argv);
    if (argc < 2) {
        fputs(cli_usage, stderr);
        return ERR_INPUT;
    }
    const char *cmd = argv[1];
    // `onecycle COMMAND --help` (or -h): the command's usage, exit 0. export and predict
    // print their own, longer help.
    for (int i = 2; i < argc && strcmp(cmd, "export") && strcmp(cmd, "predict"); i++)
        if ((!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) && cli_command_help(cmd, stdout)) return ERR_OK;
    if (!strcmp(cmd, "train")) return cmd_train(&ci, argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "schedule")) return cmd_schedule(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(&ci, argc - 2, argv + 2);
    if (!strcmp(cmd, "lr-find")) return cmd_lrfind(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 2, argv + 2);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") && argc > 2 && !strcmp(argv[2], "config")) {
        config_print_schema(cli_schema(), stdout);
        return ERR_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("onecycle %s\n", ONECYCLE_VERSION);
        return ERR_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(cli_usage, stdout);
        return ERR_OK;
    }
    return cli_unknown_command(cmd);
}
