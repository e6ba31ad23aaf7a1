// test_predict.c: PNG files of every colour type to RGB, resampling to 32x32, top-k, and the
// `predict` command (which must classify test-set images exactly as evaluation does).
#include "batch.h"
#include "cifar.h"
#include "cli.h"
#include "predict.h"
#include "resnet.h"
#include "test.h"
#include "testdata.h"
#include "train.h"
#include <stdlib.h>

#define CKPT "tests/fixtures/export_resnet8_B.ckpt"

static int v(int x, int y) { return (x * 37 + y * 11) % 256; } // scripts/make_png_fixtures.py

static const uint8_t palette[4][3] = {{255, 0, 0}, {0, 128, 0}, {0, 0, 255}, {250, 200, 10}};

// Expected RGB of each fixture's pixel (x, y).
static void expect_png(const char *name, int w, int h, void (*want)(int, int, uint8_t *)) {
    char path[200];
    snprintf(path, sizeof path, "tests/fixtures/png/%s", name);
    test_begin(path);
    Image img;
    Err e = {0};
    if (!CHECK_MSG(png_read_rgb(path, &img, &e) == ERR_OK, "%s", e.msg)) return;
    CHECK(img.w == w && img.h == h);
    int bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t rgb[3];
            want(x, y, rgb);
            const uint8_t *got = img.rgb + ((size_t)y * w + x) * 3;
            if (memcmp(got, rgb, 3) && !bad++)
                CHECK_MSG(0, "%s (%d,%d): got %d,%d,%d want %d,%d,%d", name, x, y, got[0], got[1], got[2], rgb[0],
                          rgb[1], rgb[2]);
        }
    CHECK_EQ_INT(bad, 0);
    image_free(&img);
}

static void gray(int x, int y, uint8_t *c) { c[0] = c[1] = c[2] = (uint8_t)v(x, y); }
static void rgb16(int x, int y, uint8_t *c) {
    c[0] = (uint8_t)v(x, y), c[1] = (uint8_t)v(y, x), c[2] = (uint8_t)(255 - v(x, y));
}
static void pal(int x, int y, uint8_t *c) { memcpy(c, palette[(x + y) % 4], 3); }
static void rgba(int x, int y, uint8_t *c) { // alpha 255 on even columns, 0 on odd: white
    if (x % 2)
        c[0] = c[1] = c[2] = 255;
    else
        c[0] = (uint8_t)v(x, y), c[1] = (uint8_t)v(y, x), c[2] = 7;
}

static void resize_cases(void) {
    Image a, b;
    test_begin("32x32 is copied unchanged");
    image_alloc(&a, 32, 32);
    for (int i = 0; i < 32 * 32 * 3; i++) a.rgb[i] = (uint8_t)(i * 7);
    predict_resize(&a, &b, 32, 32);
    CHECK(!memcmp(a.rgb, b.rgb, 32 * 32 * 3));
    image_free(&a);
    image_free(&b);

    test_begin("64x64 -> 32x32 averages 2x2 blocks");
    image_alloc(&a, 64, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++) a.rgb[(y * 64 + x) * 3 + c] = (uint8_t)(4 * ((x / 2 + y / 2 + c) % 60) + (x % 2) + 2 * (y % 2));
    predict_resize(&a, &b, 32, 32);
    int bad = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++) // block values base+{0,1,2,3}: mean base+1.5 rounds to base+2
                bad += b.rgb[(y * 32 + x) * 3 + c] != 4 * ((x + y + c) % 60) + 2;
    CHECK_EQ_INT(bad, 0);
    image_free(&a);
    image_free(&b);

    test_begin("a uniform image of any size stays uniform");
    const int sizes[][2] = {{48, 40}, {33, 31}, {7, 5}, {1, 1}, {500, 3}};
    for (int s = 0; s < 5; s++) {
        image_alloc(&a, sizes[s][0], sizes[s][1]);
        for (long i = 0; i < (long)a.w * a.h; i++) a.rgb[3 * i] = 200, a.rgb[3 * i + 1] = 17, a.rgb[3 * i + 2] = 255;
        predict_resize(&a, &b, 32, 32);
        int off = 0;
        for (int i = 0; i < 32 * 32; i++) off += b.rgb[3 * i] != 200 || b.rgb[3 * i + 1] != 17 || b.rgb[3 * i + 2] != 255;
        CHECK_MSG(off == 0, "%dx%d: %d pixels changed colour", a.w, a.h, off);
        image_free(&a);
        image_free(&b);
    }

    test_begin("16 -> 32 is bilinear between pixel centres");
    image_alloc(&a, 16, 1);
    for (int x = 0; x < 16; x++) a.rgb[3 * x] = a.rgb[3 * x + 1] = a.rgb[3 * x + 2] = (uint8_t)(16 * x);
    predict_resize(&a, &b, 32, 1);
    // output o samples input (o + 0.5)/2 - 0.5: o = 0 -> -0.25 clamped to 0; o = 3 -> 1.25 -> 20;
    // o = 31 -> 15.25 clamped to 15 -> 240
    CHECK_EQ_INT(b.rgb[0], 0);
    CHECK_EQ_INT(b.rgb[3 * 3], 20);
    CHECK_EQ_INT(b.rgb[3 * 4], 28);
    CHECK_EQ_INT(b.rgb[3 * 31], 240);
    image_free(&a);
    image_free(&b);
}

static void top_cases(void) {
    test_begin("top-k: softmax and order");
    float z[10] = {0, 2, 1, 2, -1, 0, 0, 0, 0, 3};
    double p[10], sum = 0;
    int t[10];
    predict_top(z, 10, 4, p, t);
    for (int i = 0; i < 10; i++) sum += p[i];
    CHECK_CLOSE(sum, 1, 1e-12, 0);
    CHECK(t[0] == 9 && t[1] == 1 && t[2] == 3 && t[3] == 2); // the tie 1 = 3: lower class first
    CHECK_CLOSE(p[9] / p[1], exp(1.0), 1e-9, 1e-9);
}

static const char *out;

static void expect(const char *name, int status, const char *fragment, const char *args) {
    out = testdata_expect(name, status, fragment, args);
}

static void cli_cases(void) {
    const char *dir = test_tmpdir();
    char args[2048];
    expect("predict --help", 0, "area averaging", "predict --help");
    expect("predict without images", 2, "needs images", "predict " CKPT);
    expect("predict --top 11", 2, "--top: must be in [1, 10], got 11", "predict " CKPT " --top 11 x.png");
    expect("predict --index out of range", 2, "0..9999", "predict " CKPT " --index 5-10000");
    expect("predict --index malformed", 2, "like 0,7,100-199", "predict " CKPT " --index 3-");
    expect("predict --data without --index", 2, "--data goes with --index", "predict " CKPT " --data d x.png");
    expect("predict a missing checkpoint", 2, "cannot open checkpoint", "predict /nonexistent.ckpt x.png");
    snprintf(args, sizeof args, "predict " CKPT " %s", testdata_write(dir, "fake.png", "not a png"));
    expect("predict a file that is not a PNG", 2, "not a readable PNG", args);
    expect("predict PNGs of every colour type", 0, "tests/fixtures/png/rgba_4x4.png: ",
           "predict " CKPT " tests/fixtures/png/gray8_40x24.png tests/fixtures/png/gray16_7x5.png "
           "tests/fixtures/png/rgb16_6x4.png tests/fixtures/png/palette_5x3.png tests/fixtures/png/rgba_4x4.png "
           "tests/fixtures/png/gray_alpha_3x2.png --top 2");
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++) lines++;
    CHECK_EQ_INT(lines, 6);
    snprintf(args, sizeof args, "predict " CKPT " --index 0 --data %s/nodata", dir);
    expect("predict --data missing", 2, "make data", args);

    const char *data = testdata_cifar_dir();
    if (!data) {
        test_begin("predict on the test set");
        test_skip("CIFAR-10 not found (run `make data`)");
        return;
    }
    // The first 128 test images: predict's top-1 against the labels must score exactly what
    // evaluation (evaluate_set, the path of `eval` and of training) scores.
    test_begin("predict --index scores as evaluation does");
    static Config c;
    ResNet m;
    Err e = {0};
    Dataset test;
    TrainOptions to;
    DataOptions co;
    CHECK(cli_load_model(&m, CKPT, 64, &c, &e) == ERR_OK);
    CHECK(run_options_from_config(&c, &to, &co, NULL, NULL, &e) == ERR_OK);
    CHECK_MSG(cifar_load(&test, data, 0, 128, &e) == ERR_OK, "%s", e.msg);
    float *x = xalloc_aligned(sizeof(float) * 64 * CIFAR_IMAGE);
    int y[64], idx[64];
    EvalResult r = evaluate_set(&m, &test, &co, 64, x, y, idx);
    snprintf(args, sizeof args, "predict " CKPT " --data %s --index 0-127 --csv --top 1", data);
    expect("predict --index --csv", 0, "image,label,class1,prob1\n", args);
    int rows = 0, hits = 0;
    for (const char *p = strchr(out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        char lab[32], cls[32];
        if (sscanf(p + 1, "test[%*d],%31[a-z],%31[a-z],", lab, cls) == 2) {
            rows++;
            hits += !strcmp(lab, cls);
        }
    }
    CHECK_EQ_INT(rows, 128);
    CHECK_EQ_INT(hits, (int)(r.acc * 128 + 0.5));
    printf("    predict: %d/128 correct, evaluation: %.4f\n", hits, r.acc);

    // --logits: the model's outputs for the same 64 images in one batch, as predict runs them
    // (its thread count may differ from this process's: a few ulps of summation order).
    test_begin("predict --logits prints the network's logits");
    for (int i = 0; i < 64; i++) idx[i] = i;
    batch_make(x, y, &test, idx, 64, &co, 0, NULL);
    resnet_forward(&m, x, y, 64, 0, NULL);
    snprintf(args, sizeof args, "predict " CKPT " --data %s --index 0-63 --csv --top 1 --logits", data);
    expect("predict --csv --logits", 0, "image,label,class1,prob1,logit_airplane,logit_automobile,", args);
    CHECK_STR_CONTAINS(out, ",logit_truck\n");
    rows = 0;
    double worst = 0;
    for (const char *p = strchr(out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        const char *f = p + 1;
        for (int k = 0; k < 4 && f; k++) f = strchr(f + 1, ','); // image,label,class1,prob1
        for (int k = 0; k < 10 && f; k++) {
            double v = strtod(f + 1, NULL), d = fabs(v - m.logits[rows * 10 + k]) / fmax(1, fabs(v));
            worst = d > worst ? d : worst;
            f = strchr(f + 1, ',');
        }
        rows++;
    }
    CHECK_EQ_INT(rows, 64);
    CHECK_MSG(worst < 1e-5, "printed logits differ from the model's by %.3g (relative)", worst);
    snprintf(args, sizeof args, "predict " CKPT " --data %s --index 0 --logits", data);
    expect("predict --logits (text)", 0, "; logits ", args);
    int values = 0;
    for (const char *p = strstr(out, "; logits "); p && *p && *p != '\n'; p++) values += *p == ' ';
    CHECK_EQ_INT(values, 11);

    test_begin("a test image saved as PNG predicts as its --index");
    char list[2048] = "";
    for (int i = 0; i < 4; i++) {
        Image img;
        image_alloc(&img, 32, 32);
        for (int k = 0; k < CIFAR_PLANE; k++)
            for (int ch = 0; ch < 3; ch++) img.rgb[k * 3 + ch] = test.pixels[(size_t)i * CIFAR_IMAGE + ch * CIFAR_PLANE + k];
        char p[600];
        snprintf(p, sizeof p, "%s/t%d.png", dir, i);
        CHECK(png_write_rgb(p, &img, &e) == ERR_OK);
        image_free(&img);
        snprintf(list + strlen(list), sizeof list - strlen(list), " %s", p);
    }
    static char a[1 << 16], b[1 << 16];
    snprintf(args, sizeof args, "predict " CKPT " --index 0-3 --data %s --csv --top 10", data);
    expect("predict --index 0-3", 0, "test[3]", args);
    snprintf(a, sizeof a, "%s", out);
    snprintf(args, sizeof args, "predict " CKPT " %s --csv --top 10", list);
    expect("predict the same images as PNG", 0, "t3.png", args);
    snprintf(b, sizeof b, "%s", out);
    // Row by row, everything after "image,label," is the same.
    char *pa = strchr(a, '\n'), *pb = strchr(b, '\n');
    for (int i = 0; i < 4 && pa && pb; i++) {
        char *ra = strchr(strchr(pa + 1, ',') + 1, ','), *rb = strchr(strchr(pb + 1, ',') + 1, ',');
        pa = strchr(pa + 1, '\n');
        pb = strchr(pb + 1, '\n');
        CHECK_MSG(ra && rb && pa - ra == pb - rb && !memcmp(ra, rb, (size_t)(pa - ra)), "row %d differs:\n%s\n%s", i, a, b);
    }
    free(x);
    dataset_free(&test);
    resnet_free(&m);
}

void suite_predict(void) {
    expect_png("gray8_40x24.png", 40, 24, gray);
    expect_png("gray16_7x5.png", 7, 5, gray);
    expect_png("rgb16_6x4.png", 6, 4, rgb16);
    expect_png("palette_5x3.png", 5, 3, pal);
    expect_png("rgba_4x4.png", 4, 4, rgba);
    expect_png("gray_alpha_3x2.png", 3, 2, gray);
    resize_cases();
    top_cases();
    cli_cases();
}
