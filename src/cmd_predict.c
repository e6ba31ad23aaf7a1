// cmd_predict.c: `onecycle predict`: the classes a checkpoint's model gives images (PNG
// files or test-set images), top-k with probabilities, one line per image.
#include "cifar.h"
#include "cli.h"
#include "cmd.h"
#include "cpu.h"
#include "predict.h"
#include "resnet.h"
#include "train.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char predict_usage[] =
    "usage: onecycle predict CKPT [IMAGE.png ...] [--data DIR] [--index LIST] [--top K] [--csv]\n"
    "                        [--logits] [--threads N]\n"
    "  Classifies images with the checkpoint's model and prints the K most probable CIFAR-10\n"
    "  classes with their probabilities (softmax), one line per image, in the order given.\n"
    "  IMAGE.png   any PNG (palette, gray, RGB, alpha, 8 or 16 bits, any size). It is resampled\n"
    "              to 32x32: a shrinking axis by area averaging, an enlarging one bilinearly;\n"
    "              transparency is composited onto white; then rounded to bytes and normalised\n"
    "              exactly as in training.\n"
    "  --index LIST  test-set images by index, e.g. 0,7,100-199 (0..9999), with their labels;\n"
    "              from DIR (--data) or from the data directory of the checkpoint's config\n"
    "  --data DIR  the CIFAR-10 directory for --index (default: the checkpoint's data.dir)\n"
    "  --top K     classes per image (1..10, default 3)\n"
    "  --csv       comma-separated: image,label,class1,prob1,...,classK,probK (header first)\n"
    "  --logits    also the network's raw outputs (before the softmax), every class in class\n"
    "              order, to 9 significant digits: --csv adds the columns logit_airplane, ...,\n"
    "              logit_truck; otherwise each line ends with \"; logits\" and the values\n"
    "  --threads N threads (default: the checkpoint's train.threads)\n";

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "onecycle predict: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n");
    cli_see_help();
    return ERR_INPUT;
}

// "0,7,100-199" -> indices appended to *idx (grown), each in [0, 10000).
static int parse_indices(const char *v, int **idx, int *n, int *cap) {
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || errno) return usage_error("--index needs indices like 0,7,100-199, got '%s'", v);
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            b = strtol(q, &end, 10);
            if (end == q || errno) return usage_error("--index needs indices like 0,7,100-199, got '%s'", v);
            p = end;
        }
        if (a < 0 || b < a || b >= 10000) return usage_error("--index: indices must be in 0..9999 (a-b with a <= b), got '%s'", v);
        for (long i = a; i <= b; i++) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *idx = xrealloc(*idx, sizeof(int) * (size_t)*cap);
            }
            (*idx)[(*n)++] = (int)i;
        }
        if (!*p) return ERR_OK;
        if (*p != ',') return usage_error("--index needs indices like 0,7,100-199, got '%s'", v);
        p++;
    }
}

// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

// What predict was asked for, beyond the shared --data and --threads.
typedef struct PredictArgs {
    const char **files; // the IMAGE.png arguments
    int nfiles, top, csv, logits;
    int *index, nindex, cap; // --index, grown
} PredictArgs;

static const CliOption predict_options[] = {{"--index", 1}, {"--top", 1}, {"--csv", 0}, {"--logits", 0}, {NULL, 0}};

// An option of predict_options, or (name NULL) an image after the checkpoint.
static int predict_option(void *ctx, const char *name, const char *v) {
    PredictArgs *p = ctx;
    if (!name) {
        p->files[p->nfiles++] = v;
        return ERR_OK;
    }
    if (!strcmp(name, "--csv")) {
        p->csv = 1;
        return ERR_OK;
    }
    if (!strcmp(name, "--logits")) {
        p->logits = 1;
        return ERR_OK;
    }
    if (!strcmp(name, "--index")) return parse_indices(v, &p->index, &p->nindex, &p->cap);
    Err e = {0};
    long n;
    if (config_parse_int(name, v, 1, CIFAR_CLASSES, &n, &e)) return usage_error("%s", e.msg);
    p->top = (int)n;
    return ERR_OK;
}

int cmd_predict(int argc, char **argv) {
    if (cli_asks_help(argc, argv)) {
        fputs(predict_usage, stdout);
        return ERR_OK;
    }
    PredictArgs p = {.files = xcalloc((size_t)argc + 1, sizeof(char *)), .top = 3};
    const CliSpec spec = {"predict", CLI_DATA | CLI_THREADS | CLI_MORE_ARGS, predict_options, predict_option, &p, 1};
    CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    const char *ckpt = a.config, *data = a.data, **files = p.files;
    const int nfiles = p.nfiles, nindex = p.nindex, top = p.top, csv = p.csv, logits = p.logits, *index = p.index;
    if (!rc && !ckpt) rc = usage_error("%s", "needs a checkpoint");
    if (!rc && !nfiles && !nindex) rc = usage_error("%s", "needs images: PNG files or --index LIST");
    if (!rc && data && !nindex) rc = usage_error("%s", "--data goes with --index (which test-set images?)");
    if (rc) {
        free(files);
        free(p.index);
        return rc;
    }
    // Every image first, so that a bad file stops the command before any output.
    const int n = nfiles + nindex, B = 64;
    Dataset set = {.n = n, .channels = 3, .height = CIFAR_SIDE, .width = CIFAR_SIDE, .classes = CIFAR_CLASSES,
                   .labels = xcalloc((size_t)n, 1), .pixels = xmalloc((size_t)n * CIFAR_IMAGE)};
    memcpy(set.mean, cifar10_mean, sizeof cifar10_mean);
    memcpy(set.std, cifar10_std, sizeof cifar10_std);
    static Config c;
    ResNet m;
    Err e = {0};
    TrainOptions to;
    DataOptions co;
    Dataset test = {0};
    int loaded = 0;
    if (cli_load_model(&m, ckpt, B, &c, &e)) goto fail;
    loaded = 1;
    if (run_options_from_config(&c, &to, &co, NULL, NULL, &e)) goto fail;
    if (co.dataset != DATASET_CIFAR10) { // PNGs become 32x32 RGB, and the class names are CIFAR-10's
        err_set(&e, ERR_INPUT, "%s: predict knows CIFAR-10 models only; this one was trained on %s", ckpt,
                dataset_names[co.dataset]);
        goto fail;
    }
    for (int i = 0; i < nfiles; i++)
        if (predict_read_png(files[i], set.pixels + (size_t)i * CIFAR_IMAGE, &e)) goto fail;
    if (nindex) {
        int last = 0;
        for (int i = 0; i < nindex; i++)
            if (index[i] > last) last = index[i];
        if (cifar_load(&test, data ? data : co.dir, 0, last + 1, &e)) goto fail;
        for (int i = 0; i < nindex; i++) {
            memcpy(set.pixels + (size_t)(nfiles + i) * CIFAR_IMAGE, test.pixels + (size_t)index[i] * CIFAR_IMAGE,
                   CIFAR_IMAGE);
            set.labels[nfiles + i] = test.labels[index[i]];
        }
    }
    cpu_set_threads(a.threads_given ? a.threads : to.threads);
    float *x = xalloc_aligned(sizeof(float) * (size_t)B * CIFAR_IMAGE);
    int y[64], idx[64], order[CIFAR_CLASSES];
    double prob[CIFAR_CLASSES];
    if (csv) {
        printf("image,label");
        for (int k = 1; k <= top; k++) printf(",class%d,prob%d", k, k);
        if (logits)
            for (int k = 0; k < CIFAR_CLASSES; k++) printf(",logit_%s", cifar_class_names[k]);
        printf("\n");
    }
    for (int i0 = 0; i0 < n; i0 += B) {
        int nb = n - i0 < B ? n - i0 : B;
        for (int b = 0; b < nb; b++) idx[b] = i0 + b;
        batch_make(x, y, &set, idx, nb, &co, 0, NULL);
        resnet_forward(&m, x, y, nb, 0, NULL); // eval mode; the labels only feed the unused loss
        for (int b = 0; b < nb; b++) {
            int i = i0 + b;
            char test_name[32], label[32] = "";
            const char *name = test_name;
            if (i < nfiles) {
                name = files[i];
            } else {
                snprintf(test_name, sizeof test_name, "test[%d]", index[i - nfiles]);
                snprintf(label, sizeof label, "%s", cifar_class_names[set.labels[i]]);
            }
            predict_top(m.logits + (size_t)b * CIFAR_CLASSES, CIFAR_CLASSES, top, prob, order);
            if (csv) {
                csv_field(name);
                printf(",%s", label);
                for (int k = 0; k < top; k++) printf(",%s,%.6f", cifar_class_names[order[k]], prob[order[k]]);
            } else {
                printf("%s%s%s%s:", name, *label ? " (label " : "", label, *label ? ")" : "");
                for (int k = 0; k < top; k++)
                    printf("%s %s %.1f%%", k ? "," : "", cifar_class_names[order[k]], 100 * prob[order[k]]);
            }
            if (logits) {
                if (!csv) printf("; logits");
                for (int k = 0; k < CIFAR_CLASSES; k++)
                    printf(csv ? ",%.9g" : " %.9g", (double)m.logits[(size_t)b * CIFAR_CLASSES + k]);
            }
            printf("\n");
        }
    }
    free(x);
    goto done;
fail:
    rc = cli_fail(&e);
done:
    if (loaded) resnet_free(&m);
    dataset_free(&test);
    dataset_free(&set);
    free(files);
    free(p.index);
    return rc;
}
