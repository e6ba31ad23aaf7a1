// cmd_bench.c: `onecycle bench`: training steps (train_step) and evaluations per second on
// random input, and with --layers each stage's convolution GFLOP/s (bench_conv.c).
#include "checkpoint.h"
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "conv.h"
#include "cpu.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
    if (b->train)
        train_step(b->m, b->opt, b->x, b->y, b->batch, b->batch, 1e-3, 0.9, 1.0, INFINITY, NULL, NULL);
    else
        resnet_forward(b->m, b->x, b->y, b->batch, 0, NULL);
}

typedef struct BenchArgs {
    int depth, batch, shortcut_b, arch, layers, layout;
    unsigned kernels; // conv_set_kernels mask
    double seconds;
} BenchArgs;

static int bench_option(void *ctx, const char *s, const char *v) {
    BenchArgs *b = ctx;
    if (!strcmp(s, "--layers")) {
        b->layers = 1;
        return ERR_OK;
    }
    if (!strcmp(s, "--arch")) {
        if (strcmp(v, "resnet") && strcmp(v, "preact") && strcmp(v, "caffe"))
            return cli_usage_error("--arch must be resnet, preact or caffe, got '%s'", v);
        b->arch = v[0] == 'p' ? ARCH_PREACT : v[0] == 'c' ? ARCH_CAFFE : ARCH_RESNET;
        return ERR_OK;
    }
    if (!strcmp(s, "--kernels")) {
        if (conv_parse_kernels(v, &b->kernels))
            return cli_usage_error("--kernels takes " CONV_KERNELS_HELP "; got '%s'", v);
        return ERR_OK;
    }
    if (!strcmp(s, "--layout")) {
        if (strcmp(v, "cbhw") && strcmp(v, "cb16") && strcmp(v, "auto"))
            return cli_usage_error("--layout must be auto, cbhw or cb16, got '%s'", v);
        b->layout = v[0] == 'a' ? MODEL_LAYOUT_AUTO : v[2] == 'h' ? MODEL_LAYOUT_CBHW : MODEL_LAYOUT_CB16;
        return ERR_OK;
    }
    if (!strcmp(s, "--shortcut")) {
        if (strcmp(v, "A") && strcmp(v, "B")) return cli_usage_error("--shortcut must be A or B, got '%s'", v);
        b->shortcut_b = v[0] == 'B';
        return ERR_OK;
    }
    // The config's parsing and ranges (model.depth, train.batch_size).
    Err e = {0};
    long val;
    if (!strcmp(s, "--seconds")) {
        if (config_parse_double(s, v, 1e-3, 86400, &b->seconds, &e)) return cli_usage_error("%s", e.msg);
        return ERR_OK;
    }
    int depth = !strcmp(s, "--depth");
    if (config_parse_int(s, v, depth ? 8 : 1, depth ? 1202 : 65536, &val, &e)) return cli_usage_error("%s", e.msg);
    if (depth)
        b->depth = (int)val;
    else
        b->batch = (int)val;
    return ERR_OK;
}

int cmd_bench(const CpuInfo *ci, int argc, char **argv) {
    static const CliOption own[] = {{"--depth", 1}, {"--batch", 1}, {"--arch", 1}, {"--shortcut", 1}, {"--seconds", 1},
                                    {"--layers", 0}, {"--kernels", 1}, {"--layout", 1}, {NULL, 0}};
    BenchArgs b = {.depth = 56, .batch = 128, .seconds = 10, .kernels = CONV_KERNELS_DEFAULT};
    const CliSpec spec = {"bench", CLI_THREADS, own, bench_option, &b, 0};
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    int depth = b.depth, batch = b.batch, threads = a.threads, shortcut_b = b.shortcut_b, layers = b.layers;
    double seconds = b.seconds;
    if (depth < 8 || (depth - 2) % 6) {
        char d[24];
        snprintf(d, sizeof d, "%d", depth);
        return cli_usage_error("--depth must be 6n+2 (20, 32, 44, 56, 110...), got %s", d);
    }
    if (batch < 1) return cli_usage_error("--batch must be at least 1%s", "");
    int nthreads = cpu_set_threads(threads);
    unsigned kernels_was = conv_set_kernels(b.kernels);
    cli_print_header(ci, nthreads);
    // Random input of CIFAR-10's shape: speed does not depend on the values.
    ModelOptions mo = {.arch = b.arch, .depth = depth, .shortcut_b = b.arch == ARCH_CAFFE ? 0 : shortcut_b,
                       .init = b.arch == ARCH_CAFFE ? INIT_XAVIER : INIT_KAIMING, .layout = b.layout};
    model_options_set_input(&mo, &cifar10_shape);
    const long image = (long)mo.channels * mo.height * mo.width;
    ResNet m;
    Err e = {0};
    if (resnet_create(&m, &mo, batch, &e)) return cli_fail(&e);
    Rng rng;
    rng_seed(&rng, 1);
    resnet_init_weights(&m, &rng);
    float *x = xalloc_aligned(sizeof(float) * (size_t)batch * (size_t)image);
    int *y = xmalloc(sizeof(int) * (size_t)batch);
    for (long i = 0; i < (long)batch * image; i++) x[i] = (float)rng_normal(&rng);
    for (int i = 0; i < batch; i++) y[i] = (int)rng_below(&rng, (uint32_t)mo.classes);
    OptimOptions oo = {.kind = OPTIM_SGD, .wd = 1e-4, .wd_bn_bias = 1};
    OptimRange all = {0, m.nparams, 1};
    Optimizer opt;
    optim_create(&opt, &oo, m.nparams, &all, 1);
    BenchStep st = {.m = &m, .opt = &opt, .x = x, .y = y, .batch = batch, .train = 1};
    double train_ips = batch / bench_seconds_per_call(bench_step, &st, seconds);
    st.train = 0;
    double eval_ips = batch / bench_seconds_per_call(bench_step, &st, seconds / 2);
    char name[64];
    char cpu[96];
    cpu_model(cpu, sizeof cpu);
    printf("cpu: %s\n", cpu);
    printf("model: %s, batch %d, %d thread%s\n", model_name(&mo, name, sizeof name), batch, nthreads,
           plural_s(nthreads));
    char kn[96];
    conv_kernels_string(b.kernels, kn, sizeof kn);
    printf("conv_kernels: %s\n", kn);
    printf("activations: %s\n", act_layout_name(m.layout));
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
    conv_set_kernels(kernels_was);
    return ERR_OK;
}
