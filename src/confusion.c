// confusion.c: the confusion matrix, per-class accuracy and their files (confusion.h).
#include "confusion.h"
#include "font.h"
#include "outfile.h"
#include "pngio.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void confusion_init(Confusion *c, int classes) {
    c->classes = classes;
    c->count = xcalloc((size_t)classes * (size_t)classes, sizeof(long));
}

void confusion_free(Confusion *c) {
    free(c->count);
    memset(c, 0, sizeof *c);
}

void confusion_add(Confusion *c, const float *logits, const int *y, int nb) {
    const int K = c->classes;
    for (int i = 0; i < nb; i++) {
        const float *l = logits + (size_t)i * K;
        int p = 0;
        for (int k = 1; k < K; k++)
            if (l[k] > l[p]) p = k;
        c->count[(size_t)y[i] * K + p]++;
    }
}

long confusion_class_images(const Confusion *c, int t) {
    long n = 0;
    for (int p = 0; p < c->classes; p++) n += c->count[(size_t)t * c->classes + p];
    return n;
}

long confusion_class_correct(const Confusion *c, int t) {
    return c->count[(size_t)t * c->classes + t];
}

long confusion_total(const Confusion *c) {
    long n = 0;
    for (int t = 0; t < c->classes; t++) n += confusion_class_images(c, t);
    return n;
}

long confusion_correct(const Confusion *c) {
    long n = 0;
    for (int t = 0; t < c->classes; t++) n += confusion_class_correct(c, t);
    return n;
}

const char *confusion_class_name(const char *const *names, int k, char *buf, size_t cap) {
    if (names) return names[k];
    snprintf(buf, cap, "class %d", k);
    return buf;
}

int confusion_write_csv(const Confusion *c, const char *const *names, const char *dir, Err *e) {
    char path[FS_PATH_MAX], nb[32];
    const int K = c->classes;
    if (fs_join(path, sizeof path, dir, "per_class.csv", e)) return e->code;
    OutFile of;
    if (outfile_open(&of, path, e)) return e->code;
    FILE *f = of.f;
    fprintf(f, "class,name,images,correct,accuracy\n");
    for (int t = 0; t < K; t++) {
        long n = confusion_class_images(c, t), r = confusion_class_correct(c, t);
        fprintf(f, "%d,%s,%ld,%ld,", t, confusion_class_name(names, t, nb, sizeof nb), n, r);
        if (n) fprintf(f, "%.6f\n", (double)r / n);
        else fprintf(f, "\n"); // no image of the class: no accuracy
    }
    if (outfile_commit(&of, 0, e)) return e->code;
    if (fs_join(path, sizeof path, dir, "confusion.csv", e) || outfile_open(&of, path, e)) return e->code;
    f = of.f;
    fprintf(f, "true\\predicted");
    for (int p = 0; p < K; p++) fprintf(f, ",%s", confusion_class_name(names, p, nb, sizeof nb));
    fprintf(f, "\n");
    for (int t = 0; t < K; t++) {
        fprintf(f, "%s", confusion_class_name(names, t, nb, sizeof nb));
        for (int p = 0; p < K; p++) fprintf(f, ",%ld", c->count[(size_t)t * K + p]);
        fprintf(f, "\n");
    }
    return outfile_commit(&of, 0, e);
}

static void fill(Image *img, int x0, int y0, int w, int h, uint32_t rgb) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            if (x < 0 || y < 0 || x >= img->w || y >= img->h) continue;
            uint8_t *p = img->rgb + ((size_t)y * img->w + x) * 3;
            p[0] = (uint8_t)(rgb >> 16);
            p[1] = (uint8_t)(rgb >> 8);
            p[2] = (uint8_t)rgb;
        }
}

// White (0) to the plots' blue (1), linearly per channel.
static uint32_t shade(double f) {
    static const int blue[3] = {0x00, 0x72, 0xB2};
    uint32_t rgb = 0;
    for (int k = 0; k < 3; k++) rgb = rgb << 8 | (uint32_t)(255 + (blue[k] - 255) * f + 0.5);
    return rgb;
}

int confusion_write_png(const Confusion *c, const char *const *names, const char *path, const char *title, Err *e) {
    const int K = c->classes;
    // Cells as large as fit in about 640 pixels; counts written in only where they fit.
    const int cell = K <= 10 ? 56 : K <= 20 ? 32 : 640 / K > 4 ? 640 / K : 4;
    const int text = cell >= 32, label_every = K <= 20 ? 1 : 10;
    char nb[32];
    int lw = 0; // the widest row label
    for (int k = 0; k < K; k += label_every) {
        int w = font_text_width(confusion_class_name(names, k, nb, sizeof nb), 1, 0);
        if (w > lw) lw = w;
    }
    const int left = 30 + lw + 8, top = 40 + lw + 8, side = cell * K;
    const int W = left + side + 20, H = top + side + 40;
    Image img;
    if (image_alloc(&img, W, H)) return err_set(e, ERR_RUNTIME, "%s: cannot allocate the image", path);
    fill(&img, 0, 0, W, H, 0xFFFFFF);
    font_draw_text(&img, 10, 10, title, 1, 1, 0x000000);
    font_draw_text(&img, left, H - 24, "predicted class (columns); shade: share of the true class's images", 1, 0,
                   0x000000);
    font_draw_text_up(&img, 8, top + side, "true class (rows)", 1, 0, 0x000000);
    for (int t = 0; t < K; t++) {
        long n = confusion_class_images(c, t);
        for (int p = 0; p < K; p++) {
            long v = c->count[(size_t)t * K + p];
            double f = n ? (double)v / n : 0;
            int x = left + p * cell, y = top + t * cell;
            fill(&img, x, y, cell, cell, shade(f));
            if (text && v) {
                char s[24];
                snprintf(s, sizeof s, "%ld", v);
                int tw = font_text_width(s, 1, t == p);
                font_draw_text(&img, x + (cell - tw) / 2, y + (cell - FONT_HEIGHT) / 2, s, 1, t == p,
                               f > 0.5 ? 0xFFFFFF : 0x000000);
            }
        }
    }
    // Grid lines between cells when they are large enough to read.
    if (cell >= 8)
        for (int k = 0; k <= K; k++) {
            fill(&img, left, top + k * cell, side + 1, 1, 0xBBBBBB);
            fill(&img, left + k * cell, top, 1, side + 1, 0xBBBBBB);
        }
    for (int k = 0; k < K; k += label_every) {
        const char *s = confusion_class_name(names, k, nb, sizeof nb);
        int w = font_text_width(s, 1, 0);
        font_draw_text(&img, left - 6 - w, top + k * cell + (cell - FONT_HEIGHT) / 2, s, 1, 0, 0x000000);
        font_draw_text_up(&img, left + k * cell + (cell - FONT_HEIGHT) / 2, top - 6, s, 1, 0, 0x000000);
    }
    int rc = png_write_rgb(path, &img, e);
    image_free(&img);
    return rc;
}
