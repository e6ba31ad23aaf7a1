// test_plot.c: plots are checked on their pixels: series colours where the data is, gaps where
// it is not, dark frame and text, tick labels found by matching the font's own rendering.
#include "font.h"
#include "plot.h"
#include "test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLUE 0x0072B2u // first palette colour, used when a series leaves color at 0
#define VERMILLION 0xD55E00u
#define GREEN 0x009E73u

static uint32_t pixel(const Image *img, int x, int y) {
    const uint8_t *p = img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

// The row with the most pixels of this colour between columns x0 and x1.
static int best_row(const Image *img, uint32_t rgb, int x0, int x1) {
    int best = 0;
    long most = -1;
    for (int y = 0; y < img->h; y++) {
        long n = 0;
        for (int x = x0; x <= x1; x++) n += pixel(img, x, y) == rgb;
        if (n > most) most = n, best = y;
    }
    return best;
}

static int is_dark(uint32_t c) { return (c >> 16) < 0x60 && ((c >> 8) & 0xFF) < 0x60 && (c & 0xFF) < 0x60; }
static int is_light(uint32_t c) { return (c >> 16) > 0xC0 && ((c >> 8) & 0xFF) > 0xC0 && (c & 0xFF) > 0xC0; }

// Pixels of exactly this colour in [x0, x1) x [y0, y1); the bounding box of them if asked.
static long count_color(const Image *img, uint32_t rgb, int x0, int y0, int x1, int y1, int box[4]) {
    long n = 0;
    if (box) box[0] = box[1] = 1 << 30, box[2] = box[3] = -1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (pixel(img, x, y) == rgb) {
                n++;
                if (box) {
                    if (x < box[0]) box[0] = x;
                    if (y < box[1]) box[1] = y;
                    if (x > box[2]) box[2] = x;
                    if (y > box[3]) box[3] = y;
                }
            }
    return n;
}

static long count_dark(const Image *img, int x0, int y0, int x1, int y1) {
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += is_dark(pixel(img, x, y));
    return n;
}

// The plot area of the panel in columns [px0, px1): inside the frame, whose sides are the
// outermost long dark runs. box = {x0, y0, x1, y1}, exclusive ends. 0 if no frame is found.
static int plot_area(const Image *img, int px0, int px1, int box[4]) {
    box[0] = box[1] = box[2] = box[3] = -1;
    for (int x = px0; x < px1; x++)
        if (count_dark(img, x, 0, x + 1, img->h) > img->h / 2) {
            if (box[0] < 0) box[0] = x + 1;
            box[2] = x;
        }
    for (int y = 0; y < img->h; y++)
        if (count_dark(img, px0, y, px1, y + 1) > (px1 - px0) / 2) {
            if (box[1] < 0) box[1] = y + 1;
            box[3] = y;
        }
    return box[0] >= 0 && box[2] > box[0] && box[1] >= 0 && box[3] > box[1];
}

// Searches img for text as the font draws it (dark ink, light around it inside its box),
// optionally rotated up. Returns 1 and its top-left corner if found.
static int find_text(const Image *img, const char *text, int up, int *fx, int *fy) {
    int w = font_text_width(text, 1, 0), h = FONT_HEIGHT;
    Image t;
    image_alloc(&t, up ? h : w, up ? w : h);
    if (up)
        font_draw_text_up(&t, 0, w, text, 1, 0, 0xFFFFFF);
    else
        font_draw_text(&t, 0, 0, text, 1, 0, 0xFFFFFF);
    int found = 0;
    for (int y = 0; y + t.h <= img->h && !found; y++)
        for (int x = 0; x + t.w <= img->w && !found; x++) {
            int ok = 1;
            for (int j = 0; j < t.h && ok; j++)
                for (int i = 0; i < t.w && ok; i++) {
                    uint32_t c = pixel(img, x + i, y + j);
                    ok = t.rgb[((size_t)j * (size_t)t.w + (size_t)i) * 3] ? is_dark(c) : is_light(c);
                }
            if (ok) {
                found = 1;
                if (fx) *fx = x;
                if (fy) *fy = y;
            }
        }
    image_free(&t);
    return found;
}

static void test_font(void) {
    test_begin("font glyphs and measures");
    CHECK_EQ_INT(font_text_width("", 1, 0), 0);
    CHECK_EQ_INT(font_text_width(NULL, 1, 0), 0);
    CHECK_EQ_INT(font_text_width("0.001", 2, 0), 2 * font_text_width("0.001", 1, 0));
    CHECK(font_text_width("0.001", 1, 1) > font_text_width("0.001", 1, 0));
    CHECK(font_text_width(".", 1, 0) < font_text_width("0", 1, 0)); // proportional
    int ink = 0;
    for (int c = 33; c <= 126; c++) {
        int n = 0;
        for (int r = 0; r < FONT_HEIGHT; r++)
            for (int col = 0; col < 5; col++) n += font_glyph_pixel(c, col, r);
        ink += n > 0;
    }
    CHECK_EQ_INT(ink, 126 - 33 + 1); // every visible character has a glyph
    for (int r = 0; r < FONT_HEIGHT; r++) CHECK(!font_glyph_pixel(' ', 2, r));
    CHECK(!font_glyph_pixel('A', 5, 0) && !font_glyph_pixel('A', 0, FONT_HEIGHT));
    // A byte outside ASCII draws as '?', without reading outside the sheet.
    CHECK_EQ_INT(font_text_width("\xc3\xa9", 1, 0), font_text_width("??", 1, 0));
    CHECK_EQ_INT(font_glyph_pixel(200, 1, 0), font_glyph_pixel('?', 1, 0));

    // Drawing stays inside the documented boxes and clips at the image edges.
    Image img;
    image_alloc(&img, 60, 40);
    int w = font_text_width("Hg", 2, 0);
    font_draw_text(&img, 3, 4, "Hg", 2, 0, 0xFFFFFF);
    int box[4];
    count_color(&img, 0xFFFFFF, 0, 0, 60, 40, box);
    CHECK(box[0] >= 3 && box[2] < 3 + w && box[1] >= 4 && box[3] < 4 + FONT_HEIGHT * 2);
    CHECK(box[3] >= 4 + FONT_ASCENT * 2); // 'g' descends below the baseline
    memset(img.rgb, 0, 60 * 40 * 3);
    font_draw_text_up(&img, 10, 35, "Hg", 1, 0, 0xFFFFFF);
    count_color(&img, 0xFFFFFF, 0, 0, 60, 40, box);
    CHECK(box[0] >= 10 && box[2] < 10 + FONT_HEIGHT && box[1] >= 35 - font_text_width("Hg", 1, 0) &&
          box[3] < 35);
    font_draw_text(&img, -20, -5, "clipped at the edges", 3, 1, 0xFFFFFF);
    font_draw_text_up(&img, 50, 100, "clipped", 3, 0, 0xFFFFFF);
    image_free(&img);
}

// Two panels, the first with a right axis whose values are a thousand times larger.
static void test_two_panels(void) {
    test_begin("two panels, right axis, written and read back");
    enum { N = 100 };
    double x[N], lr[N], count[N], acc[N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        lr[i] = i < 50 ? 0.01 * i : 0.01 * (100 - i);
        count[i] = 1000 + 10 * i;
        acc[i] = 0.5 + 0.004 * i;
    }
    // The blue series has no name, so no legend swatch mixes with its pixels.
    PlotSeries a[2] = {{NULL, x, lr, N, 0, 0, 0}, {"images", x, count, N, 1, VERMILLION, 0}};
    PlotSeries b[1] = {{"accuracy", x, acc, N, 0, GREEN, 0}};
    PlotPanel p[2] = {{"Schedule", "iteration", "lr", "images seen", 0, 0, a, 2, NULL, 0, NULL, 0},
                      {"Accuracy", "epoch", "accuracy", NULL, 0, 0, b, 1, NULL, 0, NULL, 0}};
    char path[400];
    snprintf(path, sizeof path, "%s/two.png", test_tmpdir());
    Err e = {0};
    CHECK_EQ_INT(plot_write_png(path, 900, 500, p, 2, &e), ERR_OK);
    Image img = {0};
    if (!CHECK_MSG(png_read_rgb(path, &img, &e) == ERR_OK, "read back: %s", e.msg)) return;
    CHECK_EQ_INT(img.w, 900);
    CHECK_EQ_INT(img.h, 500);

    // Each series' colour is there, in its own panel; the first takes the palette's first
    // colour. Axis titles take the series colours too, so look inside the frames only.
    int fa[4] = {0}, fb[4] = {0};
    if (!CHECK(plot_area(&img, 0, 450, fa) && plot_area(&img, 450, 900, fb))) return;
    CHECK(fa[2] < 450 && fb[0] > 450);
    int bb[4], bv[4], bg[4];
    CHECK(count_color(&img, BLUE, fa[0], fa[1], fa[2], fa[3], bb) > 200);
    CHECK(count_color(&img, VERMILLION, fa[0], fa[1], fa[2], fa[3], bv) > 200);
    CHECK(count_color(&img, GREEN, fb[0], fb[1], fb[2], fb[3], bg) > 200);
    CHECK(count_color(&img, BLUE, 450, 0, 900, 500, NULL) == 0);
    // Both curves of the first panel span most of the height: each has its own scale.
    CHECK_MSG(bb[3] - bb[1] > 300, "lr spans rows %d..%d", bb[1], bb[3]);
    CHECK_MSG(bv[3] - bv[1] > 300, "right-axis series spans rows %d..%d", bv[1], bv[3]);
    // The triangle peaks in the middle: its highest pixel is near the panel's centre column.
    int top_x = -1;
    for (int x = fa[0]; x < fa[2] && top_x < 0; x++)
        if (pixel(&img, x, bb[1]) == BLUE) top_x = x;
    CHECK_MSG(top_x > bb[0] + (bb[2] - bb[0]) * 4 / 10 && top_x < bb[0] + (bb[2] - bb[0]) * 6 / 10,
              "peak at column %d of %d..%d", top_x, bb[0], bb[2]);

    // A dark frame (long runs of dark pixels), and text in the title band of each panel.
    CHECK(count_dark(&img, 0, 0, 900, 500) > 2000);
    CHECK(count_dark(&img, 0, 0, 450, 24) > 30);
    CHECK(count_dark(&img, 450, 0, 900, 24) > 30);
    CHECK(find_text(&img, "iteration", 0, NULL, NULL));
    CHECK(find_text(&img, "accuracy", 1, NULL, NULL)); // rotated y axis title
    CHECK(find_text(&img, "images", 0, NULL, NULL)); // legend entry
    // Right-axis labels in k: 1000..1990 images.
    CHECK(find_text(&img, "1200", 0, NULL, NULL) || find_text(&img, "1.2k", 0, NULL, NULL));
    image_free(&img);
}

static void test_log_axes(void) {
    test_begin("log axes: decades, straight power laws, values <= 0 skipped");
    enum { N = 61 };
    double x[N], y[N], z[N];
    for (int i = 0; i < N; i++) {
        x[i] = pow(10, -6 + 0.1 * i); // 1e-6 .. 1
        y[i] = 3 * pow(x[i], 0.5);    // a straight line on log-log axes
        z[i] = i % 10 == 5 ? 0 : x[i]; // zeros cannot be shown: they break the line
    }
    PlotSeries s[2] = {{NULL, x, y, N, 0, 0, 0}, {NULL, x, z, N, 0, VERMILLION, 1}};
    PlotPanel p = {"Log-log", "learning rate", "loss", NULL, 1, 1, s, 2, NULL, 0, NULL, 0};
    Image img;
    Err e = {0};
    int rc = plot_render(&img, 900, 500, &p, 1, &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) return;
    int bb[4];
    CHECK(count_color(&img, BLUE, 0, 0, 900, 500, bb) > 300);
    CHECK(count_color(&img, VERMILLION, 0, 0, 900, 500, NULL) > 100);
    // Mean row of the blue line per column lies on a straight line.
    int x0 = bb[0] + 30, x1 = bb[2] - 30, n = 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, rows[900];
    for (int xc = x0; xc <= x1; xc++) {
        double m = 0;
        int k = 0;
        for (int yc = 0; yc < 500; yc++)
            if (pixel(&img, xc, yc) == BLUE) m += yc, k++;
        rows[xc] = k ? m / k : -1;
        if (!k) continue;
        n++, sx += xc, sy += rows[xc], sxx += (double)xc * xc, sxy += xc * rows[xc];
    }
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n, worst = 0;
    for (int xc = x0; xc <= x1; xc++)
        if (rows[xc] >= 0) worst = fmax(worst, fabs(rows[xc] - (slope * xc + icpt)));
    CHECK_MSG(n > 200 && worst < 2.5, "power law off a straight line by %.1f px (%d columns)", worst, n);
    CHECK(slope < 0); // rising curve: rows decrease
    CHECK(find_text(&img, "1e-3", 0, NULL, NULL));
    CHECK(find_text(&img, "0.01", 0, NULL, NULL));
    CHECK(find_text(&img, "1e-5", 0, NULL, NULL));
    image_free(&img);
}

// Columns (within [x0, x1)) holding at least one pixel of the colour.
static int colour_columns(const Image *img, uint32_t rgb, int x0, int x1, char *has) {
    int n = 0;
    for (int x = x0; x < x1; x++) {
        has[x] = 0;
        for (int y = 0; y < img->h && !has[x]; y++) has[x] = pixel(img, x, y) == rgb;
        n += has[x];
    }
    return n;
}

static void test_nan_breaks(void) {
    test_begin("NaN and Inf break lines; all-NaN series draw nothing");
    enum { N = 100 };
    double x[N], y[N], nan[N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = i >= 40 && i < 60 ? (i & 1 ? NAN : INFINITY) : 0.5 + 0.3 * sin(i * 0.1);
        nan[i] = NAN;
    }
    y[80] = -INFINITY;
    PlotSeries s[2] = {{NULL, x, y, N, 0, 0, 0}, {"all NaN", x, nan, N, 0, VERMILLION, 0}};
    PlotPanel p = {"NaN", "x", "y", NULL, 0, 0, s, 2, NULL, 0, NULL, 0};
    Image img;
    Err e = {0};
    int rc = plot_render(&img, 900, 500, &p, 1, &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) return;
    int bb[4];
    CHECK(count_color(&img, BLUE, 0, 0, 900, 500, bb) > 200);
    char has[900];
    colour_columns(&img, BLUE, 0, 900, has);
    int run = 0, longest = 0, start = 0, best_start = 0;
    for (int xc = bb[0]; xc <= bb[2]; xc++) {
        if (!has[xc]) {
            if (!run) start = xc;
            if (++run > longest) longest = run, best_start = start;
        } else {
            run = 0;
        }
    }
    // Points 39 and 60 are the last drawn around the gap: it is about 21% of the x range.
    double span = bb[2] - bb[0];
    CHECK_MSG(longest > 0.17 * span && longest < 0.23 * span, "gap of %d columns in %.0f", longest, span);
    CHECK_MSG(fabs((best_start - bb[0]) / span - 0.39) < 0.03, "gap starts at %.2f",
              (best_start - bb[0]) / span);
    int vb[4];
    CHECK(count_color(&img, VERMILLION, 0, 0, 900, 500, vb) > 0); // its legend swatch only
    CHECK_MSG(vb[2] - vb[0] < 40 && vb[3] - vb[1] < 4, "all-NaN series drew %d..%d x %d..%d", vb[0],
              vb[2], vb[1], vb[3]);
    image_free(&img);
}

static void test_degenerate(void) {
    test_begin("degenerate inputs draw without crashing");
    double x[3] = {1, 2, 3}, flat[3] = {0.9, 0.9, 0.9}, one[1] = {5}, huge[3] = {-1e308, 0, 1e308};
    double same_x[3] = {2, 2, 2}, neg[3] = {-1, 0, -3}, iso[3] = {1, NAN, 3};
    Image img;
    Err e = {0};

    // All y equal: the range is padded, the line drawn across the middle.
    PlotSeries s1[1] = {{NULL, x, flat, 3, 0, 0, 0}};
    PlotPanel p1 = {"flat", "x", "y", NULL, 0, 0, s1, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 400, 300, &p1, 1, &e), ERR_OK);
    int bb[4];
    CHECK(count_color(&img, BLUE, 0, 0, 400, 300, bb) > 100);
    CHECK_MSG(abs((bb[1] + bb[3]) / 2 - 150) < 40, "flat line at rows %d..%d", bb[1], bb[3]);
    image_free(&img);

    // Single points and isolated points still show (as dots); same x everywhere; huge values;
    // empty series, a panel without series, a log axis with nothing positive.
    PlotSeries s2[6] = {{"one", one, one, 1, 0, 0, 0},           {"same x", same_x, x, 3, 0, 0, 0},
                        {"huge", x, huge, 3, 1, 0, 0},           {"empty", x, x, 0, 0, 0, 0},
                        {NULL, x, iso, 3, 0, GREEN, 0},    {NULL, x, x, 3, 0, 0, 1}};
    PlotSeries s3[1] = {{"negative on log", x, neg, 3, 0, 0, 0}};
    PlotPanel p2[3] = {{"odd", NULL, NULL, NULL, 0, 0, s2, 6, x, 3, NULL, 0},
                       {NULL, NULL, NULL, NULL, 0, 0, NULL, 0, NULL, 0, NULL, 0},
                       {"log", "x", "y", NULL, 1, 1, s3, 1, flat, 3, NULL, 0}};
    CHECK_EQ_INT(plot_render(&img, 900, 300, p2, 3, &e), ERR_OK);
    CHECK(count_color(&img, GREEN, 0, 0, 300, 300, NULL) > 10);
    CHECK(count_dark(&img, 300, 0, 600, 300) > 500); // empty panel: frame and ticks
    image_free(&img);
    PlotSeries s4[1] = {{NULL, one, one, 1, 0, 0, 0}};
    PlotPanel p4 = {"one point", "x", "y", NULL, 0, 0, s4, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 300, 200, &p4, 1, &e), ERR_OK);
    int bd[4];
    CHECK(count_color(&img, BLUE, 0, 0, 300, 200, bd) >= 4); // a dot about 4 pixels across
    CHECK(bd[2] - bd[0] <= 4 && bd[3] - bd[1] <= 4);
    image_free(&img);

    // Subnormal values and ranges: no division by zero, no endless tick loop.
    double sub[3] = {1e-310, 2e-310, 5e-324};
    PlotSeries s5[1] = {{"subnormal", sub, sub, 3, 0, 0, 0}};
    PlotPanel p5 = {"subnormal", "x", "y", NULL, 0, 0, s5, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 300, 200, &p5, 1, &e), ERR_OK);
    image_free(&img);

    // Images too small for a plot area still render (title only), at any size allowed.
    CHECK_EQ_INT(plot_render(&img, 16, 16, &p1, 1, &e), ERR_OK);
    image_free(&img);
    CHECK_EQ_INT(plot_render(&img, 120, 60, p2, 3, &e), ERR_OK);
    image_free(&img);
    CHECK_EQ_INT(plot_render(&img, 2000, 1200, p2, 3, &e), ERR_OK); // scale 2
    image_free(&img);

    // Bad requests are input errors, and leave no image behind.
    CHECK_EQ_INT(plot_render(&img, 0, 100, &p1, 1, &e), ERR_INPUT);
    CHECK(img.rgb == NULL);
    CHECK_EQ_INT(plot_render(&img, 100, 100, &p1, 0, &e), ERR_INPUT);
    CHECK_EQ_INT(plot_render(&img, 100, 100, NULL, 1, &e), ERR_INPUT);
    CHECK_EQ_INT(plot_render(&img, 100000, 100, &p1, 1, &e), ERR_INPUT);
    PlotSeries bad[1] = {{"bad", NULL, x, 3, 0, 0, 0}};
    PlotPanel pb = {"bad", NULL, NULL, NULL, 0, 0, bad, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 100, 100, &pb, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "bad");
    bad[0].x = x;
    bad[0].n = -1;
    CHECK_EQ_INT(plot_render(&img, 100, 100, &pb, 1, &e), ERR_INPUT);
    PlotPanel pv = {"vlines", NULL, NULL, NULL, 0, 0, s1, 1, NULL, 2, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 100, 100, &pv, 1, &e), ERR_INPUT);
    CHECK(img.rgb == NULL);
}

static void test_markers_dashes_legend(void) {
    test_begin("vertical markers, dashed lines, legend placement");
    enum { N = 11 };
    double x[N], top[N], bottom[N];
    for (int i = 0; i < N; i++) x[i] = i, top[i] = 1, bottom[i] = 0;
    double vl[2] = {5, 42}; // the second is outside the range: not drawn
    PlotSeries s[2] = {{"top", x, top, N, 0, 0, 0}, {"bottom", x, bottom, N, 0, VERMILLION, 1}};
    PlotPanel p = {"markers", "x", "y", NULL, 0, 0, s, 2, vl, 2, NULL, 0};
    Image img;
    Err e = {0};
    int rc = plot_render(&img, 600, 400, &p, 1, &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) return;
    int bt[4], bv[4];
    count_color(&img, BLUE, 0, 0, 600, 400, bt);
    count_color(&img, VERMILLION, 0, 0, 600, 400, bv);
    // One grey dashed column in the middle of the data's extent.
    int grey_cols = 0, where = -1;
    for (int xc = 0; xc < 600; xc++) {
        int n = 0, first = -1, last = -1;
        for (int yc = 0; yc < 400; yc++)
            if (pixel(&img, xc, yc) == 0x9A9A9A) {
                n++;
                if (first < 0) first = yc;
                last = yc;
            }
        if (n > 100 && n < (last - first) * 9 / 10) grey_cols++, where = xc; // dashed: gaps
    }
    CHECK_EQ_INT(grey_cols, 1);
    CHECK_MSG(abs(where - (bt[0] + bt[2]) / 2) <= 2, "marker at %d, data %d..%d", where, bt[0], bt[2]);
    // The dashed line has gaps along its row, the solid one none.
    int row_b = best_row(&img, VERMILLION, bv[0], bv[2]), gaps_b = 0;
    int row_t = best_row(&img, BLUE, bt[0], bt[2]), gaps_t = 0;
    for (int xc = bv[0] + 30; xc < bv[2] - 30; xc++) {
        gaps_b += pixel(&img, xc, row_b) != VERMILLION;
        gaps_t += pixel(&img, xc, row_t) != BLUE;
    }
    CHECK_MSG(gaps_b > 50, "dashed line has %d gap pixels", gaps_b);
    CHECK_MSG(gaps_t == 0, "solid line has %d gap pixels", gaps_t);
    // Data along the top and bottom edges: the legend goes between them, off both lines.
    int lx = -1, ly = -1;
    CHECK(find_text(&img, "bottom", 0, &lx, &ly));
    CHECK_MSG(ly > bt[1] + 20 && ly < bv[3] - 20, "legend text at row %d between %d and %d", ly,
              bt[1], bv[3]);
    image_free(&img);
}

static void test_marker_labels_in_range(void) {
    test_begin("markers: labelled, and the x range widened to hold them (vlines_in_range)");
    enum { N = 11 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = 10 + i, y[i] = i % 3;
    double vl[2] = {2, 15}; // the first lies left of the data
    const char *labels[2] = {"low mark", "mid mark"};
    PlotSeries s[1] = {{"data", x, y, N, 0, 0, 0}};
    PlotPanel p = {"labels", "x", "y", NULL, 0, 0, s, 1, vl, 2, labels, 1};
    Image img;
    Err e = {0};
    if (plot_render(&img, 600, 400, &p, 1, &e) != ERR_OK) {
        CHECK_MSG(0, "%s", e.msg);
        return;
    }
    int cols[2], n = 0;
    for (int xc = 0; xc < 600; xc++) {
        int k = 0;
        for (int yc = 0; yc < 400; yc++) k += pixel(&img, xc, yc) == 0x9A9A9A;
        if (k > 100 && n < 2) cols[n++] = xc;
    }
    CHECK_EQ_INT(n, 2);
    // x from 2 to 20: the marks at 2 and 15 lie 13/18 of the plot's width apart.
    CHECK_MSG(n == 2 && cols[1] - cols[0] > 300, "the mark left of the data is drawn (columns %d, %d)", cols[0],
              cols[1]);
    int lx = -1, ly = -1, mx = -1, my = -1;
    CHECK(find_text(&img, "low mark", 0, &lx, &ly));
    CHECK(find_text(&img, "mid mark", 0, &mx, &my));
    CHECK_MSG(n == 2 && lx > cols[0] && lx < cols[0] + 20, "label at %d beside its mark at %d", lx, cols[0]);
    CHECK_MSG(my > ly, "one row per label (%d below %d)", my, ly);
    image_free(&img);
    // Without vlines_in_range the same mark is outside and not drawn, as before.
    p.vlines_in_range = 0;
    if (plot_render(&img, 600, 400, &p, 1, &e) == ERR_OK) {
        CHECK(!find_text(&img, "low mark", 0, NULL, NULL));
        CHECK(find_text(&img, "mid mark", 0, NULL, NULL));
        image_free(&img);
    }
}

static void test_svg(void) {
    test_begin("SVG: the same figure as vectors (lines, dashes, text escaped, clipped curves)");
    enum { N = 11 };
    double x[N], y[N], y2[N];
    for (int i = 0; i < N; i++) x[i] = i, y[i] = i * i, y2[i] = i == 5 ? NAN : 50 - i;
    double vl[1] = {3};
    const char *lab[1] = {"mark <3>"};
    PlotSeries s[2] = {{"solid & plain", x, y, N, 0, 0, 0}, {"dashed", x, y2, N, 0, VERMILLION, 1}};
    PlotPanel p = {"a <title> & \"quotes\"", "x", "y", NULL, 0, 0, s, 2, vl, 1, lab, 0};
    char *svg = NULL;
    Err e = {0};
    CHECK_EQ_INT(plot_render_svg(&svg, 600, 400, &p, 1, &e), ERR_OK);
    if (!CHECK(svg != NULL)) return;
    CHECK(!strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"400\"", 60));
    size_t n = strlen(svg);
    CHECK(n > 7 && !strcmp(svg + n - 7, "</svg>\n"));
    CHECK_STR_CONTAINS(svg, ">a &lt;title&gt; &amp; &quot;quotes&quot;</text>");
    CHECK_STR_CONTAINS(svg, ">solid &amp; plain</text>");
    CHECK_STR_CONTAINS(svg, ">mark &lt;3&gt;</text>");
    CHECK_STR_CONTAINS(svg, "<path stroke=\"#0072B2\" stroke-width=\"2\" d=\"M");
    CHECK_STR_CONTAINS(svg, "<path stroke=\"#D55E00\" stroke-width=\"2\" stroke-dasharray=\"7 5\"");
    CHECK_STR_CONTAINS(svg, "<clipPath id=\"area0\">");
    CHECK_STR_CONTAINS(svg, "clip-path=\"url(#area0)\"");
    CHECK_STR_CONTAINS(svg, "stroke=\"#9A9A9A\" stroke-width=\"1\" stroke-dasharray=\"5 4\""); // the marker
    // The NaN breaks the dashed line in two paths.
    int paths = 0;
    for (const char *q = strstr(svg, "<path stroke=\"#D55E00\""); q; q = strstr(q + 1, "<path stroke=\"#D55E00\"")) paths++;
    CHECK_EQ_INT(paths, 2);
    // Text sits where the bitmap font's would, stretched to its measured width.
    CHECK_STR_CONTAINS(svg, "lengthAdjust=\"spacingAndGlyphs\"");
    // Well-formed XML, where python3 is there to say so.
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char path[400], cmd[600];
        snprintf(path, sizeof path, "%s/t.svg", test_tmpdir());
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(svg, f);
            fclose(f);
        }
        snprintf(cmd, sizeof cmd, "python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' %s", path);
        CHECK_MSG(system(cmd) == 0, "%s is not well-formed XML", path);
    }
    free(svg);

    test_begin("plot files by extension: .png and .svg (any case), anything else refused (regression)");
    CHECK_EQ_INT(plot_format("a/b.png"), PLOT_PNG);
    CHECK_EQ_INT(plot_format("B.PNG"), PLOT_PNG);
    CHECK_EQ_INT(plot_format("x.svg"), PLOT_SVG);
    CHECK_EQ_INT(plot_format("x.SVG"), PLOT_SVG);
    CHECK_EQ_INT(plot_format("x.jpg"), -1);
    CHECK_EQ_INT(plot_format(".svg"), -1);
    CHECK_EQ_INT(plot_check_path("out/x.jpg", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "out/x.jpg: a plot is written as PNG (.png) or SVG (.svg), not '.jpg'");
    CHECK_EQ_INT(plot_check_path("a.b/plot", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "name the file with one of them");
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/x.jpg", dir);
    CHECK_EQ_INT(plot_write(path, 600, 400, &p, 1, &e), ERR_INPUT);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f == NULL, "nothing written for a refused extension");
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s/x.Svg", dir);
    CHECK_EQ_INT(plot_write(path, 600, 400, &p, 1, &e), ERR_OK);
    char head[8] = "";
    f = fopen(path, "r");
    if (CHECK(f != NULL)) {
        CHECK(fread(head, 1, 4, f) == 4 && !strncmp(head, "<svg", 4));
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/x.png", dir);
    CHECK_EQ_INT(plot_write(path, 600, 400, &p, 1, &e), ERR_OK);
    f = fopen(path, "rb");
    if (CHECK(f != NULL)) {
        CHECK(fread(head, 1, 4, f) == 4 && !strncmp(head, "\x89PNG", 4));
        fclose(f);
    }
    CHECK_EQ_INT(plot_write_svg("/nonexistent-dir/x.svg", 600, 400, &p, 1, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent-dir/x.svg");
}

static void test_write_errors(void) {
    test_begin("unwritable path is a runtime error naming the path");
    double x[2] = {0, 1};
    PlotSeries s[1] = {{"a", x, x, 2, 0, 0, 0}};
    PlotPanel p = {"t", NULL, NULL, NULL, 0, 0, s, 1, NULL, 0, NULL, 0};
    char path[400];
    snprintf(path, sizeof path, "%s/no/such/dir/plot.png", test_tmpdir());
    Err e = {0};
    CHECK_EQ_INT(plot_write_png(path, 200, 100, &p, 1, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, path);
    e.msg[0] = '\0';
    CHECK_EQ_INT(plot_write_png(path, 0, 100, &p, 1, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, path);
}

static void test_labels(void) {
    test_begin("tick labels: compact numbers");
    double x[2] = {0, 12000}, y[2] = {0.85, 0.95}, tiny[2] = {0, 4e-5};
    PlotSeries s[2] = {{NULL, x, y, 2, 0, 0, 0}, {NULL, x, tiny, 2, 1, 0, 0}};
    PlotPanel p = {NULL, NULL, NULL, NULL, 0, 0, s, 2, NULL, 0, NULL, 0};
    Image img;
    Err e = {0};
    int rc = plot_render(&img, 900, 500, &p, 1, &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) return;
    CHECK(find_text(&img, "10k", 0, NULL, NULL));
    CHECK(find_text(&img, "0.90", 0, NULL, NULL)); // same decimals along the axis
    CHECK(find_text(&img, "2.0e-5", 0, NULL, NULL) || find_text(&img, "2e-5", 0, NULL, NULL));
    CHECK(!find_text(&img, "-0", 0, NULL, NULL));
    image_free(&img);
}

// The largest tick label that reads as a number, of the SVG's texts; -HUGE_VAL if none.
static double svg_max_number(const char *svg) {
    double best = -HUGE_VAL;
    for (const char *q = strstr(svg, "<text"); q; q = strstr(q + 1, "<text")) {
        const char *gt = strchr(q, '>');
        if (!gt) break;
        char *end;
        double v = strtod(gt + 1, &end);
        if (end != gt + 1 && !strncmp(end, "</text>", 7) && v > best) best = v;
    }
    return best;
}

// Issue 34's pictures, each fix checked where it was seen.
static void test_issue34(void) {
    Err e = {0};
    char *svg = NULL;
    test_begin("log axis: a label above the last power of ten (regression)");
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, loss[9] = {1.75, 1.2, 0.95, 0.8, 0.7, 0.6, 0.52, 0.45, 0.42};
    PlotSeries sl[1] = {{"train", x, loss, 9, 0, 0, 0}};
    PlotPanel pl = {"loss", "epoch", "loss", NULL, 0, 1, sl, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render_svg(&svg, 600, 500, &pl, 1, &e), ERR_OK);
    if (CHECK(svg != NULL)) {
        CHECK_STR_CONTAINS(svg, ">1</text>");
        CHECK_STR_CONTAINS(svg, ">1.5</text>"); // the top runs to 1.88
    }
    free(svg);

    test_begin("a constant series: the axis padded by a nice step, not to 1.04 (regression)");
    double xs[3] = {0, 0.2, 0.4}, mom[3] = {0.95, 0.95, 0.95};
    PlotSeries sm[1] = {{NULL, xs, mom, 3, 0, 0, 0}};
    PlotPanel pm = {NULL, NULL, NULL, NULL, 0, 0, sm, 1, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render_svg(&svg, 400, 600, &pm, 1, &e), ERR_OK);
    if (CHECK(svg != NULL)) {
        CHECK_STR_CONTAINS(svg, ">0.90</text>"); // 0.90..1.00
        CHECK_STR_CONTAINS(svg, ">1.00</text>");
        CHECK_MSG(svg_max_number(svg) <= 1.0 + 1e-9, "a tick label at %g", svg_max_number(svg));
    }
    free(svg);

    // 16 entries whose names are longer than half the plot: the legend goes under the plot,
    // whole names, wrapped when wider than the panel; nothing cut with "...".
    test_begin("many long legend names: under the plot, wrapped, not cut (regression)");
    enum { NS = 16, NP = 40 };
    static double ys[NS][NP], xx[NP];
    static char names[NS][80];
    PlotSeries ss[NS];
    for (int k = 0; k < NP; k++) xx[k] = k;
    for (int i = 0; i < NS; i++) {
        for (int k = 0; k < NP; k++) ys[i][k] = (k * 7 + i * 13) % 17 + i * 0.1;
        snprintf(names[i], sizeof names[i], "schedule lr=0.%02d and weight decay %d seed %d", i + 10, i, i % 3);
        ss[i] = (PlotSeries){names[i], xx, ys[i], NP, 0, 0, i % 2};
    }
    snprintf(names[NS - 1], sizeof names[0], "%s", "a name far too long to fit on one line of this panel at all, so wrapped");
    PlotPanel ps = {"sweep", "epoch", "y", NULL, 0, 0, ss, NS, NULL, 0, NULL, 0};
    Image img;
    CHECK_EQ_INT(plot_render(&img, 500, 700, &ps, 1, &e), ERR_OK);
    int box[4], fx, fy;
    if (CHECK(plot_area(&img, 0, 500, box))) {
        for (int i = 0; i < NS - 1; i++)
            if (!CHECK_MSG(find_text(&img, names[i], 0, &fx, &fy) && fy >= box[3], "entry %d '%s' at y %d, plot ends at %d",
                           i, names[i], fy, box[3]))
                break;
        CHECK(find_text(&img, "a name far too long to fit on one line", 0, &fx, &fy) && fy >= box[3]);
        CHECK(find_text(&img, "wrapped", 0, &fx, &fy) && fy >= box[3]);
        CHECK(!find_text(&img, "...", 0, NULL, NULL));
    }
    image_free(&img);

    // Three short names, but curves everywhere: inside, the legend would hide some of them.
    test_begin("a legend that would cover data goes under the plot (regression)");
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < NP; k++) ys[i][k] = (k % 2) ? 10 : 0;
        ss[i] = (PlotSeries){i == 0 ? "one" : i == 1 ? "two" : "three", xx, ys[i], NP, 0, 0, 0};
    }
    PlotPanel pz = {"zigzag", "x", "y", NULL, 0, 0, ss, 3, NULL, 0, NULL, 0};
    CHECK_EQ_INT(plot_render(&img, 600, 400, &pz, 1, &e), ERR_OK);
    if (CHECK(plot_area(&img, 0, 600, box))) {
        CHECK_MSG(find_text(&img, "three", 0, &fx, &fy) && fy >= box[3], "'three' at y %d, plot ends at %d", fy, box[3]);
    }
    image_free(&img);
}

void suite_plot(void) {
    test_issue34();
    test_font();
    test_two_panels();
    test_log_axes();
    test_nan_breaks();
    test_degenerate();
    test_markers_dashes_legend();
    test_marker_labels_in_range();
    test_svg();
    test_write_errors();
    test_labels();
}
