// plot.c: line charts rendered into an RGB image, written as PNG.
// Each panel: title, frame, light grid, nice ticks (1-2-5 linear, decades on log axes),
// optional right axis, dashed phase markers, anti-aliased lines, and a legend placed where it
// hides the least data. Everything scales with one integer factor so large images stay legible.
#include "plot.h"
#include "font.h"
#include "outfile.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MAX_TICKS = 48, MAX_MINOR = 256, LABEL_LEN = 32, MAX_SIDE = 16384, MIN_SIDE = 16 };

// Okabe & Ito's palette, which stays distinct under the common colour-vision deficiencies.
// Their yellow (#F0E442) vanishes on white, so it is darkened and comes last.
static const uint32_t palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7,
                                   0xE69F00, 0x56B4E9, 0x1A1A1A, 0xB8A000};
#define NPALETTE ((int)(sizeof palette / sizeof palette[0]))

#define C_BG 0xFFFFFFu
#define C_GRID 0xE8E8E8u
#define C_FRAME 0x333333u
#define C_TEXT 0x1A1A1Au
#define C_TICKTEXT 0x333333u
#define C_VLINE 0x9A9A9Au
#define C_LEGEND_EDGE 0xC4C4C4u

// ---------------------------------------------------------------- pixels

static void px_blend(Image *img, int x, int y, uint32_t rgb, float a) {
    if (x < 0 || y < 0 || x >= img->w || y >= img->h || a <= 0) return;
    if (a > 1) a = 1;
    uint8_t *p = img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        float c = (float)((rgb >> (16 - 8 * k)) & 0xFF);
        p[k] = (uint8_t)lrintf((float)p[k] * (1 - a) + c * a);
    }
}

static void fill_rect(Image *img, int x0, int y0, int x1, int y1, uint32_t rgb, float a) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) px_blend(img, x, y, rgb, a);
}

// Dashes along a straight pixel run: `on` pixels drawn, `off` skipped.
static void hline(Image *img, int x0, int x1, int y, int thick, int on, int off, uint32_t rgb) {
    for (int x = x0; x < x1; x++)
        if (!on || (x - x0) % (on + off) < on) fill_rect(img, x, y, x + 1, y + thick, rgb, 1);
}

static void vline(Image *img, int x, int y0, int y1, int thick, int on, int off, uint32_t rgb) {
    for (int y = y0; y < y1; y++)
        if (!on || (y - y0) % (on + off) < on) fill_rect(img, x, y, x + thick, y + 1, rgb, 1);
}

// ---------------------------------------------------------------- axes and ticks

typedef struct Axis {
    int log;                 // values are log10(data)
    double lo, hi;           // limits, in axis units
    int n, nminor;
    double tick[MAX_TICKS];  // major ticks, in axis units
    char label[MAX_TICKS][LABEL_LEN];
    double minor[MAX_MINOR]; // unlabelled ticks (log axes: 2..9 within each decade)
    int maxw;                // widest label in pixels
} Axis;

// Data value to axis units; 0 when the value cannot be shown on this axis. Huge values are
// clamped so that ranges and pixel positions stay finite.
static int to_axis(double v, int log, double *out) {
    if (!isfinite(v)) return 0;
    if (log) {
        if (v <= 0) return 0;
        *out = log10(v);
        return 1;
    }
    *out = v > 1e300 ? 1e300 : v < -1e300 ? -1e300 : v;
    return 1;
}

typedef struct Range {
    double lo, hi;
    int any;
} Range;

static void range_add(Range *r, double v) {
    if (!r->any || v < r->lo) r->lo = v;
    if (!r->any || v > r->hi) r->hi = v;
    r->any = 1;
}

// 1, 2 or 5 times a power of ten, the nearest to raw on a log scale (so the tick count stays
// close to the target from either side).
static double nice_step(double raw) {
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.4142 ? 1 : f < 3.1623 ? 2 : f < 7.0711 ? 5 : 10) * mag;
}

// Limits from the data range: a margin so lines do not run along the frame, and a made-up
// span when there is no data or all values are equal (a flat loss, a constant momentum).
static void axis_limits(Axis *a, Range r, double margin) {
    if (!r.any) { // 0..1 (1..10 on a log axis), with the usual margin
        r.lo = 0;
        r.hi = 1;
    }
    double lo = r.lo, hi = r.hi, mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= 1e-12 * mag || hi - lo <= 1e-300) {
        // A nice step of about 5 % on either side, so the limits are round values
        // (a momentum of 0.95 on 0.90..1.00, not 0.855..1.045).
        double pad = a->log ? 0.5 : mag > 0 ? nice_step(0.05 * mag) : 1;
        a->lo = lo - pad;
        a->hi = hi + pad;
        return;
    }
    double d = (hi - lo) * margin;
    a->lo = lo - d;
    a->hi = hi + d;
}

// Multiples of a nice step inside [lo, hi]; returns the step (0 if none fits).
static double linear_ticks(double lo, double hi, double target, double *out, int *n) {
    *n = 0;
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span) || target < 1) return 0;
    double step = nice_step(span / target);
    if (!(step > 0) || !isfinite(step)) return 0;
    if (span / step > 1.4 * target + 1) step = nice_step(step * 1.5); // rounded down too far
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    for (double k = k0; k <= k1 && *n < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0; // no "-0" and no 1e-17 from rounding
        out[(*n)++] = v;
    }
    return step;
}

// "2e-05" -> "2e-5", "1.5e+09" -> "1.5e9": exponent without sign padding.
static void compact_exponent(char *buf, size_t size) {
    char *e = strchr(buf, 'e');
    if (!e) return;
    int ex = atoi(e + 1);
    snprintf(e, size - (size_t)(e - buf), "e%d", ex);
}

// Labels for linear ticks, one style for the whole axis so they line up and read alike:
// plain decimals with as many digits as the step needs (0.80 0.85 0.90), k/M suffixes for
// large values (12k), and for tiny steps or huge values one shared exponent with the digits
// the step needs (0.5e-5 1.0e-5 1.5e-5), never a mix of exponents on one axis.
static void label_linear(Axis *a, double step) {
    double maxabs = 0;
    for (int i = 0; i < a->n; i++) maxabs = fmax(maxabs, fabs(a->tick[i]));
    if (!(step > 0) || maxabs == 0) {
        for (int i = 0; i < a->n; i++) snprintf(a->label[i], LABEL_LEN, "%g", a->tick[i]);
        return;
    }
    int dec = (int)ceil(-log10(step) - 1e-9);
    if (dec < 0) dec = 0;
    int ex = (int)floor(log10(maxabs) + 1e-9);
    int suffix = maxabs >= 1e4 && maxabs < 1e9;
    double unit = maxabs >= 1e6 ? 1e6 : 1e3;
    int sdec = (int)ceil(-log10(step / unit) - 1e-9);
    if (sdec < 0) sdec = 0;
    if (suffix && sdec > 2) suffix = 0; // 10000.2: the suffix would only add digits
    int sci = !suffix && (maxabs >= 1e9 || dec > 4);
    int mdec = ex - (int)floor(log10(step) + 1e-9);
    if (mdec < 0) mdec = 0;
    if (mdec > 6) mdec = 6;
    for (int i = 0; i < a->n; i++) {
        double v = a->tick[i];
        char *buf = a->label[i];
        if (v == 0 && (suffix || sci))
            snprintf(buf, LABEL_LEN, "0");
        else if (suffix)
            snprintf(buf, LABEL_LEN, "%.*f%c", sdec, v / unit, unit == 1e6 ? 'M' : 'k');
        else if (sci)
            snprintf(buf, LABEL_LEN, "%.*fe%d", mdec, v / pow(10, ex), ex);
        else
            snprintf(buf, LABEL_LEN, "%.*f", dec, v); // 0 shows as 0.0 beside 0.5
    }
}

// m * 10^k on a log axis, written like the decades around it: plain from 0.01 to 9000,
// else 2e-3.
static void label_value(char *buf, double v) {
    double mag = pow(10, floor(log10(v) + 1e-9));
    if (v >= 0.00999 && v < 9999.5) {
        int d = (int)ceil(-log10(mag) - 1e-9);
        snprintf(buf, LABEL_LEN, "%.*f", d < 0 ? 0 : d, v);
    } else {
        snprintf(buf, LABEL_LEN, "%.0e", v);
        compact_exponent(buf, LABEL_LEN);
    }
}

// Decade 10^k: plain near 1 (0.01 ... 1000), 1eK beyond, as LR-finder plots are read.
static void label_decade(char *buf, int k) {
    if (k >= -2 && k <= 3)
        snprintf(buf, LABEL_LEN, "%g", pow(10, k));
    else
        snprintf(buf, LABEL_LEN, "1e%d", k);
}

// A labelled tick near the top of a log axis whose last label lies far below it (a loss
// from 0.4 to 1.9 had nothing labelled above 1): the largest of 1, 1.2, 1.5, 2, 2.5, 3..9
// times a power of ten under the top, if it keeps a tenth of the axis from the last label.
static void log_top_label(Axis *a) {
    if (a->n < 1 || a->n >= MAX_TICKS) return;
    double span = a->hi - a->lo, last = a->tick[0];
    for (int i = 1; i < a->n; i++) last = fmax(last, a->tick[i]);
    if (a->hi - last < 0.2 * span) return;
    static const double m[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9};
    double best = -HUGE_VAL, bv = 0;
    for (int k = (int)floor(last); k <= (int)ceil(a->hi); k++)
        for (int i = 0; i < 12; i++) {
            double v = m[i] * pow(10, k), t = log10(v);
            if (t <= a->hi + 1e-9 && t >= last + 0.1 * span && t > best) best = t, bv = v;
        }
    if (best == -HUGE_VAL) return;
    a->tick[a->n] = best;
    if (bv >= 0.00999 && bv < 9999.5)
        snprintf(a->label[a->n++], LABEL_LEN, "%g", bv);
    else
        label_value(a->label[a->n++], bv);
}

static void measure_labels(Axis *a, int scale) {
    a->maxw = 0;
    for (int i = 0; i < a->n; i++) {
        int w = font_text_width(a->label[i], scale, 0);
        if (w > a->maxw) a->maxw = w;
    }
}

// Log ticks: decades (every 2nd, 5th... when crowded) with minor ticks at 2..9. When few
// decades share a long axis (a loss from 2.3 to 0.05), 1, 2 and 5 in each decade are
// labelled; within a factor of ten, 1..9; within less than that, linear ticks.
static void ticks_log(Axis *a, double target, double px_per_decade) {
    a->n = a->nminor = 0;
    double lo = a->lo, hi = a->hi;
    int k0 = (int)ceil(lo - 1e-9), k1 = (int)floor(hi + 1e-9);
    int ndec = k1 - k0 + 1;
    if (ndec >= 2 && 3 * ndec > target) {
        // Every decade when they fit, else every 2nd, 5th, 10th...
        static const int strides[] = {1, 2, 5, 10, 20, 50, 100};
        int stride = 1;
        for (int i = 0; i < 7; i++) {
            stride = strides[i];
            if ((ndec + stride - 1) / stride <= target) break;
        }
        int start = (int)ceil((double)k0 / stride) * stride;
        for (int k = start; k <= k1 && a->n < MAX_TICKS; k += stride) {
            a->tick[a->n] = k;
            label_decade(a->label[a->n++], k);
        }
        if (stride == 1 && px_per_decade >= 30)
            for (int k = (int)floor(lo); k <= (int)ceil(hi); k++)
                for (int m = 2; m <= 9 && a->nminor < MAX_MINOR; m++) {
                    double v = k + log10(m);
                    if (v >= lo && v <= hi) a->minor[a->nminor++] = v;
                }
        log_top_label(a);
        return;
    }
    static const int sets[2][9] = {{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int setn[2] = {3, 9};
    for (int s = 0; s < 2; s++) {
        a->n = a->nminor = 0;
        for (int k = (int)floor(lo); k <= (int)ceil(hi); k++)
            for (int m = 1; m <= 9; m++) {
                double v = k + log10(m);
                if (v < lo - 1e-9 || v > hi + 1e-9) continue;
                int labelled = 0;
                for (int i = 0; i < setn[s]; i++) labelled |= sets[s][i] == m;
                if (labelled && a->n < MAX_TICKS) {
                    a->tick[a->n] = v;
                    if (m == 1)
                        label_decade(a->label[a->n++], k);
                    else
                        label_value(a->label[a->n++], m * pow(10, k));
                } else if (!labelled && a->nminor < MAX_MINOR && px_per_decade >= 30) {
                    a->minor[a->nminor++] = v;
                }
            }
        if (a->n >= (s ? 2 : 3) && a->n <= target + 1) {
            log_top_label(a);
            return;
        }
    }
    a->nminor = 0;
    // Under a factor of ~2 (e.g. a loss between 2.1 and 2.4 on a log axis): linear ticks.
    double v[MAX_TICKS];
    int n;
    double step = linear_ticks(pow(10, lo), pow(10, hi), target, v, &n);
    a->n = 0;
    for (int i = 0; i < n; i++)
        if (v[i] > 0) a->tick[a->n++] = log10(v[i]);
    Axis tmp = *a;
    for (int i = 0; i < n; i++) tmp.tick[i] = v[i];
    tmp.n = n;
    label_linear(&tmp, step);
    for (int i = 0, j = 0; i < n; i++)
        if (v[i] > 0) memcpy(a->label[j++], tmp.label[i], LABEL_LEN);
}

static void axis_ticks(Axis *a, double target, double len_px) {
    if (target < 2) target = 2;
    if (a->log) {
        ticks_log(a, target, len_px / (a->hi - a->lo));
        return;
    }
    a->nminor = 0;
    double step = linear_ticks(a->lo, a->hi, target, a->tick, &a->n);
    label_linear(a, step);
}

// Axis units to a continuous pixel coordinate along [p0, p0 + len]; `flip` for y (up).
static double axis_px(const Axis *a, double v, double p0, double len, int flip) {
    double t = (v - a->lo) / (a->hi - a->lo);
    return flip ? p0 + len - t * len : p0 + t * len;
}

// ---------------------------------------------------------------- anti-aliased lines

// Coverage of one series over the plot area, built segment by segment with max() so that
// joints are not drawn twice, then blended once in the series colour. `occ` remembers where
// any series drew, for the legend placement.
typedef struct Canvas {
    int x0, y0, w, h;
    float *cov;
    uint8_t *occ;
} Canvas;

typedef struct Pen {
    double radius;    // half the line width + 0.5: coverage is clamp(radius - distance)
    double on, off;   // dash lengths in pixels (off == 0: solid)
    double arc;       // distance already travelled, so dashes run on across segments
} Pen;

// Liang-Barsky: the part [t0, t1] of a + t*d inside the box; 0 if none.
static int clip_segment(double ax, double ay, double dx, double dy, double xmin, double ymin,
                        double xmax, double ymax, double *t0, double *t1) {
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {ax - xmin, xmax - ax, ay - ymin, ymax - ay};
    *t0 = 0;
    *t1 = 1;
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > *t1) return 0;
            if (r > *t0) *t0 = r;
        } else {
            if (r < *t0) return 0;
            if (r < *t1) *t1 = r;
        }
    }
    return 1;
}

// Covers every pixel whose centre lies within pen->radius of the segment (round caps), so a
// point on its own shows as a dot. Only the rows and columns near the segment are visited.
static void canvas_segment(Canvas *c, Pen *pen, double ax, double ay, double bx, double by) {
    double R = pen->radius, dx = bx - ax, dy = by - ay;
    double len = sqrt(dx * dx + dy * dy);
    double arc0 = pen->arc;
    pen->arc += len;
    double t0, t1;
    if (!clip_segment(ax, ay, dx, dy, c->x0 - R, c->y0 - R, c->x0 + c->w + R, c->y0 + c->h + R,
                      &t0, &t1))
        return;
    arc0 += t0 * len;
    double sx = ax + t0 * dx, sy = ay + t0 * dy, ex = ax + t1 * dx, ey = ay + t1 * dy;
    dx = ex - sx;
    dy = ey - sy;
    double l2 = dx * dx + dy * dy, l = sqrt(l2);
    int j0 = (int)floor(fmin(sy, ey) - R), j1 = (int)ceil(fmax(sy, ey) + R);
    if (j0 < c->y0) j0 = c->y0;
    if (j1 > c->y0 + c->h - 1) j1 = c->y0 + c->h - 1;
    double xlo = fmin(sx, ex) - R, xhi = fmax(sx, ex) + R;
    for (int j = j0; j <= j1; j++) {
        double py = j + 0.5, a = xlo, b = xhi;
        if (fabs(dy) > 1e-6) { // the band around the line crosses this row over a short run
            double xc = sx + (py - sy) * dx / dy, half = R * l / fabs(dy);
            a = fmax(a, xc - half);
            b = fmin(b, xc + half);
        }
        int i0 = (int)floor(a), i1 = (int)ceil(b);
        if (i0 < c->x0) i0 = c->x0;
        if (i1 > c->x0 + c->w - 1) i1 = c->x0 + c->w - 1;
        for (int i = i0; i <= i1; i++) {
            double px = i + 0.5, t = 0;
            if (l2 > 0) {
                t = ((px - sx) * dx + (py - sy) * dy) / l2;
                t = t < 0 ? 0 : t > 1 ? 1 : t;
            }
            double qx = sx + t * dx - px, qy = sy + t * dy - py;
            double cov = R - sqrt(qx * qx + qy * qy);
            if (cov <= 0) continue;
            if (pen->off > 0 && fmod(arc0 + t * l, pen->on + pen->off) >= pen->on) continue;
            float *p = &c->cov[(size_t)(j - c->y0) * (size_t)c->w + (size_t)(i - c->x0)];
            if ((float)cov > *p) *p = cov > 1 ? 1.0f : (float)cov;
        }
    }
}

static void canvas_flush(Canvas *c, Image *img, uint32_t rgb) {
    for (int j = 0; j < c->h; j++)
        for (int i = 0; i < c->w; i++) {
            size_t k = (size_t)j * (size_t)c->w + (size_t)i;
            float a = c->cov[k];
            if (a <= 0) continue;
            px_blend(img, c->x0 + i, c->y0 + j, rgb, a);
            if (a > 0.3f) c->occ[k] = 1;
            c->cov[k] = 0;
        }
}

// ---------------------------------------------------------------- surface: pixels, and SVG

// Everything is drawn into the image; when svg is set, each primitive is also written as an
// SVG element at the same pixel coordinates, so an SVG has exactly the PNG's layout (the
// legend is still placed by the pixels the curves cover) but scales without blur.
typedef struct Svg {
    Text t;
    int clips; // clipPath ids handed out
} Svg;

typedef struct Surface {
    Image *img;
    Svg *svg; // NULL: pixels only
} Surface;

// Text content with &, <, > and quotes escaped; bytes the font has no glyph for as '?', as
// the PNG draws them.
static void svg_text_content(Svg *g, const char *t) {
    for (; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '&')
            text_printf(&g->t, "&amp;");
        else if (c == '<')
            text_printf(&g->t, "&lt;");
        else if (c == '>')
            text_printf(&g->t, "&gt;");
        else if (c == '"')
            text_printf(&g->t, "&quot;");
        else
            text_printf(&g->t, "%c", c >= 32 && c < 127 ? c : '?');
    }
}

static void sf_rect(Surface *sf, int x0, int y0, int x1, int y1, uint32_t rgb, float a) {
    fill_rect(sf->img, x0, y0, x1, y1, rgb, a);
    if (!sf->svg || x1 <= x0 || y1 <= y0) return;
    text_printf(&sf->svg->t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%06X\"", x0, y0, x1 - x0,
                y1 - y0, (unsigned)rgb);
    if (a < 1) text_printf(&sf->svg->t, " fill-opacity=\"%.2f\"", a);
    text_printf(&sf->svg->t, "/>\n");
}

// A straight run `thick` pixels across, dashed `on`/`off` (on 0: solid), as a line down the
// middle of the pixels it covers.
static void svg_run(Svg *g, double x0, double y0, double x1, double y1, int thick, int on, int off, uint32_t rgb) {
    text_printf(&g->t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#%06X\" stroke-width=\"%d\"", x0,
                y0, x1, y1, (unsigned)rgb, thick);
    if (on) text_printf(&g->t, " stroke-dasharray=\"%d %d\"", on, off);
    text_printf(&g->t, "/>\n");
}

static void sf_hline(Surface *sf, int x0, int x1, int y, int thick, int on, int off, uint32_t rgb) {
    hline(sf->img, x0, x1, y, thick, on, off, rgb);
    if (sf->svg && x1 > x0) svg_run(sf->svg, x0, y + thick / 2.0, x1, y + thick / 2.0, thick, on, off, rgb);
}

static void sf_vline(Surface *sf, int x, int y0, int y1, int thick, int on, int off, uint32_t rgb) {
    vline(sf->img, x, y0, y1, thick, on, off, rgb);
    if (sf->svg && y1 > y0) svg_run(sf->svg, x + thick / 2.0, y0, x + thick / 2.0, y1, thick, on, off, rgb);
}

// The bitmap font's cell is FONT_HEIGHT*scale high with its baseline FONT_ASCENT*scale down;
// the SVG text sits on the same baseline, stretched to the same width (textLength), so
// nothing the layout measured moves.
static void svg_text(Svg *g, double x, double y, const char *t, int scale, int bold, uint32_t rgb, int up) {
    int w = font_text_width(t, scale, bold);
    if (w <= 0) return;
    if (up)
        text_printf(&g->t, "<text transform=\"translate(%.1f %.1f) rotate(-90)\"", x + FONT_ASCENT * scale, y);
    else
        text_printf(&g->t, "<text x=\"%.1f\" y=\"%.1f\"", x, y + FONT_ASCENT * scale);
    text_printf(&g->t, " font-size=\"%d\" textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\" fill=\"#%06X\"%s>",
                FONT_HEIGHT * scale, w, (unsigned)rgb, bold ? " font-weight=\"bold\"" : "");
    svg_text_content(g, t);
    text_printf(&g->t, "</text>\n");
}

static void sf_text(Surface *sf, int x, int y, const char *t, int scale, int bold, uint32_t rgb) {
    font_draw_text(sf->img, x, y, t, scale, bold, rgb);
    if (sf->svg) svg_text(sf->svg, x, y, t, scale, bold, rgb, 0);
}

static void sf_text_up(Surface *sf, int x, int y, const char *t, int scale, int bold, uint32_t rgb) {
    font_draw_text_up(sf->img, x, y, t, scale, bold, rgb);
    if (sf->svg) svg_text(sf->svg, x, y, t, scale, bold, rgb, 1);
}

// ---------------------------------------------------------------- one panel

// Pixel geometry of one panel; every length follows the integer scale s.
typedef struct Panel {
    const PlotPanel *p;
    int s, pad, gap, tick, fh, cap; // scale, spacings, text line and capital heights
    int px0, px1;                   // the panel's columns in the image
    int x0, y0, w, h;               // plot area, inside the frame
    int has_right;
    Axis ax, ay, ay2;               // ay2: right axis, always linear (momentum, accuracy)
    int leg_below;                  // 1: the legend goes under the x axis title, outside the data
    int leg_h;                      // the pixel rows reserved for it there
} Panel;

static uint32_t series_color(const PlotSeries *s, int index) {
    return s->color ? s->color : palette[index % NPALETTE];
}

static int has_text(const char *s) { return s && *s; }

static const Axis *series_yaxis(const Panel *P, const PlotSeries *sr) {
    return sr->right_axis ? &P->ay2 : &P->ay;
}

// s itself if it fits in maxw pixels, else its longest prefix that does with "..." appended,
// cut at a space when one is near the end so that no word is left half.
static const char *fit_text(char *buf, size_t size, const char *s, int maxw, int scale, int bold) {
    if (font_text_width(s, scale, bold) <= maxw) return s;
    size_t n = strlen(s);
    if (n > size - 4) n = size - 4;
    for (; n > 0; n--) {
        memcpy(buf, s, n);
        memcpy(buf + n, "...", 4);
        if (font_text_width(buf, scale, bold) <= maxw) break;
    }
    size_t cut = n;
    while (cut > 0 && s[cut - 1] != ' ') cut--;
    while (cut > 0 && s[cut - 1] == ' ') cut--;
    if (cut >= n * 2 / 3 && cut > 0) memcpy(buf + cut, "...", 4);
    if (n == 0) buf[0] = '\0';
    return buf;
}

// Pixel column (row when flip) of a tick, or -1 outside the plot area. A tick exactly at a
// limit lands on the edge pixel instead of being dropped.
static int tick_px(const Axis *a, double v, int p0, int len, int flip) {
    double t = axis_px(a, v, p0, len, flip);
    if (!(t >= p0 - 0.5 && t <= p0 + len + 0.5)) return -1;
    int i = (int)floor(t);
    return i < p0 ? p0 : i > p0 + len - 1 ? p0 + len - 1 : i;
}

// Limits from the points that will be drawn: both coordinates valid on their axes.
static void panel_limits(Panel *P) {
    const PlotPanel *p = P->p;
    P->ax.log = p->logx;
    P->ay.log = p->logy;
    Range rx = {0}, ry = {0}, ry2 = {0};
    for (int i = 0; i < p->nseries; i++) {
        const PlotSeries *sr = &p->series[i];
        P->has_right |= sr->right_axis != 0;
        for (int k = 0; k < sr->n; k++) {
            double x, y;
            if (!to_axis(sr->x[k], P->ax.log, &x) || !to_axis(sr->y[k], series_yaxis(P, sr)->log, &y))
                continue;
            range_add(&rx, x);
            range_add(sr->right_axis ? &ry2 : &ry, y);
        }
    }
    for (int i = 0; p->vlines_in_range && i < p->nvlines; i++) {
        double x;
        if (to_axis(p->vlines[i], P->ax.log, &x)) range_add(&rx, x);
    }
    axis_limits(&P->ax, rx, 0.02);
    axis_limits(&P->ay, ry, 0.05);
    axis_limits(&P->ay2, ry2, 0.05);
}

// Margins and ticks. The vertical margins come first: the y ticks depend only on the plot
// height, so their labels can be measured before the horizontal margins are fixed, and the
// x ticks then thin out until their labels have room. Returns 0 if no plot area fits.
static int panel_layout(Panel *P, int img_h) {
    const PlotPanel *p = P->p;
    int s = P->s;
    P->y0 = P->pad + (has_text(p->title) ? P->fh + 2 * P->gap : P->cap / 2);
    int bottom = s + P->tick + P->gap + P->fh + (has_text(p->xlabel) ? P->gap + P->fh : 0) + P->gap + P->leg_h;
    P->h = img_h - P->y0 - bottom;
    if (P->h < 8 * s) return 0;
    double ytarget = fmin(P->h / (60.0 * s), 10);
    axis_ticks(&P->ay, ytarget, P->h);
    measure_labels(&P->ay, s);
    if (P->has_right) {
        axis_ticks(&P->ay2, ytarget, P->h);
        measure_labels(&P->ay2, s);
    }
    int left = P->pad + (has_text(p->ylabel) ? P->fh + 2 * P->gap : 0) + P->ay.maxw + P->gap + P->tick + s;
    int right = P->has_right ? s + P->tick + P->gap + P->ay2.maxw +
                                   (has_text(p->y2label) ? 2 * P->gap + P->fh : 0) + P->pad
                             : 2 * P->pad; // room for half of the last x label
    P->x0 = P->px0 + left;
    P->w = P->px1 - P->px0 - left - right;
    if (P->w < 8 * s) return 0;
    for (double target = P->w / (70.0 * s);; target -= 1) {
        axis_ticks(&P->ax, target, P->w);
        measure_labels(&P->ax, s);
        if ((P->ax.maxw + 12 * s) * P->ax.n <= P->w || target <= 2) break;
    }
    return 1;
}

// Light grid at the major ticks of x and the left axis, then dashed phase markers.
static void draw_grid(Surface *sf, const Panel *P) {
    int s = P->s;
    for (int i = 0; i < P->ax.n; i++) {
        int x = tick_px(&P->ax, P->ax.tick[i], P->x0, P->w, 0);
        if (x >= 0) sf_vline(sf, x, P->y0, P->y0 + P->h, s, 0, 0, C_GRID);
    }
    for (int i = 0; i < P->ay.n; i++) {
        int y = tick_px(&P->ay, P->ay.tick[i], P->y0, P->h, 1);
        if (y >= 0) sf_hline(sf, P->x0, P->x0 + P->w, y, s, 0, 0, C_GRID);
    }
    for (int i = 0; i < P->p->nvlines; i++) {
        double v;
        if (!to_axis(P->p->vlines[i], P->ax.log, &v)) continue;
        int x = tick_px(&P->ax, v, P->x0, P->w, 0);
        if (x >= 0) sf_vline(sf, x, P->y0, P->y0 + P->h, s, 5 * s, 4 * s, C_VLINE);
    }
}

// The markers' labels, one row each from the top of the plot area, right of their line
// (left of it when they would cross the frame); drawn over the curves so they stay legible,
// and counted as occupied so the legend goes elsewhere.
static void draw_vlabels(Surface *sf, const Panel *P, Canvas *cv) {
    const PlotPanel *p = P->p;
    int s = P->s, row = 0;
    for (int i = 0; p->vlabels && i < p->nvlines; i++) {
        double v;
        if (!has_text(p->vlabels[i]) || !to_axis(p->vlines[i], P->ax.log, &v)) continue;
        int x = tick_px(&P->ax, v, P->x0, P->w, 0);
        if (x < 0) continue;
        char buf[128];
        const char *t = fit_text(buf, sizeof buf, p->vlabels[i], P->w - 4 * s, s, 0);
        int tw = font_text_width(t, s, 0), lx = x + 3 * s, y = P->y0 + 3 * s + row++ * (P->fh + s);
        if (lx + tw > P->x0 + P->w - 2 * s) lx = x - 2 * s - tw;
        if (lx < P->x0 + 2 * s) lx = P->x0 + 2 * s;
        if (y + P->fh > P->y0 + P->h) break;
        sf_rect(sf, lx - s, y - s, lx + tw + s, y + P->fh, C_BG, 0.8f);
        sf_text(sf, lx, y, t, s, 0, C_TEXT);
        for (int j = y - s; j < y + P->fh; j++)
            for (int k = lx - s; k < lx + tw + s; k++)
                if (j >= cv->y0 && j < cv->y0 + cv->h && k >= cv->x0 && k < cv->x0 + cv->w)
                    cv->occ[(size_t)(j - cv->y0) * (size_t)cv->w + (size_t)(k - cv->x0)] = 1;
    }
}

// Pixel position of point k of a series; 0 if it cannot be drawn (NaN/Inf, <= 0 on a log axis).
static int series_point(const Panel *P, const PlotSeries *sr, int k, double *X, double *Y) {
    double x, y;
    const Axis *yax = series_yaxis(P, sr);
    if (k >= sr->n || !to_axis(sr->x[k], P->ax.log, &x) || !to_axis(sr->y[k], yax->log, &y)) return 0;
    *X = axis_px(&P->ax, x, P->x0, P->w, 0);
    *Y = axis_px(yax, y, P->y0, P->h, 1);
    return isfinite(*X) && isfinite(*Y);
}

// Series in order, so later ones are drawn over earlier ones. A point that cannot be drawn
// breaks the line; a drawable point between two breaks shows as a dot.
static void draw_series(Surface *sf, const Panel *P, Canvas *cv) {
    Svg *g = sf->svg;
    if (g) { // curves stay inside the plot area, as the pixels do
        text_printf(&g->t, "<clipPath id=\"area%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n",
                    g->clips, P->x0, P->y0, P->w, P->h);
        text_printf(&g->t,
                    "<g clip-path=\"url(#area%d)\" fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\n",
                    g->clips++);
    }
    for (int i = 0; i < P->p->nseries; i++) {
        const PlotSeries *sr = &P->p->series[i];
        double w = P->s; // half of the 2-pixel line width
        Pen pen = {w + 0.5, sr->dashed ? 7.0 * w : 0, sr->dashed ? 5.0 * w : 0, 0};
        double px = 0, py = 0, X = 0, Y = 0, nx = 0, ny = 0;
        int have = 0, cur = series_point(P, sr, 0, &X, &Y), open = 0;
        uint32_t color = series_color(sr, i);
        for (int k = 0; k < sr->n; k++) {
            int next = series_point(P, sr, k + 1, &nx, &ny);
            if (cur) {
                if (have) {
                    canvas_segment(cv, &pen, px, py, X, Y);
                    if (g && !open) { // dashes with flat ends, as the pixels have them
                        text_printf(&g->t, "<path stroke=\"#%06X\" stroke-width=\"%.0f\"", (unsigned)color, 2 * w);
                        if (sr->dashed)
                            text_printf(&g->t, " stroke-dasharray=\"%.0f %.0f\" stroke-linecap=\"butt\"", pen.on,
                                        pen.off);
                        text_printf(&g->t, " d=\"M%.2f %.2f", px, py);
                        open = 1;
                    }
                    if (g) text_printf(&g->t, " L%.2f %.2f", X, Y);
                } else if (!next) { // a bit wider than the line, so a lone point is seen
                    Pen dot = {pen.radius + w, 0, 0, 0};
                    canvas_segment(cv, &dot, X, Y, X, Y);
                    if (g)
                        text_printf(&g->t, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" fill=\"#%06X\"/>\n", X, Y, 2 * w,
                                    (unsigned)color);
                }
                px = X;
                py = Y;
            }
            if (g && open && !next) { // the line breaks (or ends) here
                text_printf(&g->t, "\"/>\n");
                open = 0;
            }
            have = cur;
            cur = next;
            X = nx;
            Y = ny;
        }
        canvas_flush(cv, sf->img, color);
    }
    if (g) text_printf(&g->t, "</g>\n");
}

// Frame just outside the plot area (so it is never painted over), ticks outward, labels.
static void draw_axes(Surface *sf, const Panel *P) {
    int s = P->s, x0 = P->x0, y0 = P->y0, w = P->w, h = P->h, tick = P->tick;
    sf_hline(sf, x0 - s, x0 + w + s, y0 - s, s, 0, 0, C_FRAME);
    sf_hline(sf, x0 - s, x0 + w + s, y0 + h, s, 0, 0, C_FRAME);
    sf_vline(sf, x0 - s, y0 - s, y0 + h + s, s, 0, 0, C_FRAME);
    sf_vline(sf, x0 + w, y0 - s, y0 + h + s, s, 0, 0, C_FRAME);

    const Axis *ax = &P->ax;
    int ty = y0 + h + s, ly = ty + tick + P->gap;
    for (int i = 0; i < ax->n; i++) {
        int x = tick_px(ax, ax->tick[i], x0, w, 0);
        if (x < 0) continue;
        sf_vline(sf, x, ty, ty + tick, s, 0, 0, C_FRAME);
        int lw = font_text_width(ax->label[i], s, 0), lx = x - lw / 2;
        if (lx + lw > P->px1 - s) lx = P->px1 - s - lw; // stay inside this panel
        if (lx < P->px0 + s) lx = P->px0 + s;
        sf_text(sf, lx, ly, ax->label[i], s, 0, C_TICKTEXT);
    }
    for (int i = 0; i < ax->nminor; i++) {
        int x = tick_px(ax, ax->minor[i], x0, w, 0);
        if (x >= 0) sf_vline(sf, x, ty, ty + tick / 2 + 1, s, 0, 0, C_FRAME);
    }
    for (int right = 0; right <= P->has_right; right++) {
        const Axis *a = right ? &P->ay2 : &P->ay;
        int tx = right ? x0 + w + s : x0 - s - tick, minor = tick / 2 + 1;
        for (int i = 0; i < a->n; i++) {
            int y = tick_px(a, a->tick[i], y0, h, 1);
            if (y < 0) continue;
            sf_hline(sf, tx, tx + tick, y, s, 0, 0, C_FRAME);
            int lw = font_text_width(a->label[i], s, 0);
            int lx = right ? tx + tick + P->gap : tx - P->gap - lw;
            sf_text(sf, lx, y + s / 2 - P->cap / 2, a->label[i], s, 0, C_TICKTEXT);
        }
        for (int i = 0; i < a->nminor; i++) {
            int y = tick_px(a, a->minor[i], y0, h, 1);
            if (y >= 0) sf_hline(sf, right ? tx : tx + tick - minor, right ? tx + minor : tx + tick, y, s, 0, 0, C_FRAME);
        }
    }
}

// Axis titles. With a right axis, a title whose axis carries a single series takes that
// series' colour, so it is clear which curve is read against which axis.
static void draw_axis_titles(Surface *sf, const Panel *P) {
    const PlotPanel *p = P->p;
    int s = P->s;
    char buf[256];
    uint32_t lcol = C_TEXT, rcol = C_TEXT;
    if (P->has_right) {
        int nl = 0, nr = 0, il = 0, ir = 0;
        for (int i = 0; i < p->nseries; i++) {
            if (p->series[i].right_axis)
                nr++, ir = i;
            else
                nl++, il = i;
        }
        if (nl == 1) lcol = series_color(&p->series[il], il);
        if (nr == 1) rcol = series_color(&p->series[ir], ir);
    }
    if (has_text(p->xlabel)) {
        const char *t = fit_text(buf, sizeof buf, p->xlabel, P->w, s, 0);
        int w = font_text_width(t, s, 0);
        int y = P->y0 + P->h + s + P->tick + P->gap + P->fh + P->gap;
        sf_text(sf, P->x0 + (P->w - w) / 2, y, t, s, 0, C_TEXT);
    }
    if (has_text(p->ylabel)) {
        const char *t = fit_text(buf, sizeof buf, p->ylabel, P->h, s, 0);
        int w = font_text_width(t, s, 0);
        sf_text_up(sf, P->px0 + P->pad, P->y0 + (P->h + w) / 2, t, s, 0, lcol);
    }
    if (P->has_right && has_text(p->y2label)) {
        const char *t = fit_text(buf, sizeof buf, p->y2label, P->h, s, 0);
        int w = font_text_width(t, s, 0);
        int x = P->px1 - P->pad - P->fh;
        sf_text_up(sf, x, P->y0 + (P->h + w) / 2, t, s, 0, rcol);
    }
}

// Title centred over the plot area, shortened with "..." if it is wider than the panel.
static void draw_title(Surface *sf, const Panel *P) {
    if (!has_text(P->p->title)) return;
    char buf[256];
    int room = P->px1 - P->px0 - 2 * P->pad;
    const char *t = fit_text(buf, sizeof buf, P->p->title, room, P->s, 1);
    int tw = font_text_width(t, P->s, 1);
    int cx = P->w > 0 ? P->x0 + P->w / 2 : (P->px0 + P->px1) / 2;
    int tx = cx - tw / 2;
    if (tx + tw > P->px1 - P->pad) tx = P->px1 - P->pad - tw;
    if (tx < P->px0 + P->pad) tx = P->px0 + P->pad;
    sf_text(sf, tx, P->pad, t, P->s, 1, C_TEXT);
}

typedef struct Box {
    int x, y, w, h;
} Box;

// Data pixels under a box grown by `margin`, from a summed-area table of the occupancy
// (sat is (h+1) x (w+1), sat[j][i] = pixels drawn in rows < j, columns < i of the plot area).
static long box_occupancy(const Canvas *c, const long *sat, Box b, int margin) {
    int i0 = b.x - margin - c->x0, i1 = b.x + b.w + margin - c->x0;
    int j0 = b.y - margin - c->y0, j1 = b.y + b.h + margin - c->y0;
    i0 = i0 < 0 ? 0 : i0 > c->w ? c->w : i0;
    i1 = i1 < 0 ? 0 : i1 > c->w ? c->w : i1;
    j0 = j0 < 0 ? 0 : j0 > c->h ? c->h : j0;
    j1 = j1 < 0 ? 0 : j1 > c->h ? c->h : j1;
    size_t W = (size_t)c->w + 1;
    return sat[j1 * W + i1] - sat[j0 * W + i1] - sat[j1 * W + i0] + sat[j0 * W + i0];
}

// Where the legend hides the least data: first matplotlib's nine spots in its order of
// preference (corners first); if each covers some data, any position on a fine grid that
// covers less, nearest to the frame among equals so it does not float without need.
static Box legend_place(const Canvas *c, int bw, int bh, int s, long *covered) {
    size_t W = (size_t)c->w + 1;
    long *sat = xcalloc(W * ((size_t)c->h + 1), sizeof(long));
    for (int j = 0; j < c->h; j++) {
        long row = 0;
        for (int i = 0; i < c->w; i++) {
            row += c->occ[(size_t)j * (size_t)c->w + (size_t)i];
            sat[(size_t)(j + 1) * W + (size_t)(i + 1)] = sat[(size_t)j * W + (size_t)(i + 1)] + row;
        }
    }
    int inset = 8 * s, margin = 3 * s;
    int L = c->x0 + inset, R = c->x0 + c->w - inset - bw, T = c->y0 + inset, B = c->y0 + c->h - inset - bh;
    if (R < L) R = L;
    if (B < T) B = T;
    int CX = (L + R) / 2, CY = (T + B) / 2;
    const int cand[9][2] = {{R, T}, {L, T}, {L, B}, {R, B}, {R, CY}, {L, CY}, {CX, B}, {CX, T}, {CX, CY}};
    Box best = {R, T, bw, bh};
    long best_occ = -1;
    for (int k = 0; k < 9; k++) {
        Box t = {cand[k][0], cand[k][1], bw, bh};
        long occ = box_occupancy(c, sat, t, margin);
        if (best_occ < 0 || occ < best_occ) best_occ = occ, best = t;
    }
    if (best_occ > 0) {
        long grid_occ = -1;
        int grid_edge = 0;
        Box grid = best;
        for (int y = T; y <= B; y += 2 * s)
            for (int x = L; x <= R; x += 2 * s) {
                Box t = {x, y, bw, bh};
                long occ = box_occupancy(c, sat, t, margin);
                int edge = (x - L < R - x ? x - L : R - x) + (y - T < B - y ? y - T : B - y);
                if (grid_occ < 0 || occ < grid_occ || (occ == grid_occ && edge < grid_edge))
                    grid_occ = occ, grid_edge = edge, grid = t;
            }
        if (grid_occ < best_occ) best = grid, best_occ = grid_occ;
    }
    free(sat);
    if (covered) *covered = best_occ;
    return best;
}

// The legend's rows: every named series (64 at most), its full name.
typedef struct Legend {
    int n, idx[64];
    char text[64][256]; // names; below the plot: wrapped, lines separated by '\n'
    int lines[64], width[64];
} Legend;

enum { LEG_ROW = FONT_HEIGHT + 3 }; // legend line height, in units of the scale

static void legend_collect(const PlotPanel *p, Legend *L) {
    L->n = 0;
    for (int i = 0; i < p->nseries && L->n < 64; i++) {
        if (!has_text(p->series[i].name)) continue;
        snprintf(L->text[L->n], sizeof L->text[0], "%s", p->series[i].name);
        L->idx[L->n++] = i;
    }
}

// Whether the legend fits inside the plot area without cutting a name or leaving a row out
// (the box stays under half the plot width).
static int legend_fits_inside(const Panel *P, const Legend *L) {
    int s = P->s, pad = 6 * s, swatch = 22 * s, gap = 6 * s, row = LEG_ROW * s;
    int maxname = P->w / 2 - 2 * pad - swatch - gap, rows = (P->h - 16 * s - 2 * pad + 3 * s) / row;
    if (L->n > rows || maxname < 4 * s) return 0;
    for (int k = 0; k < L->n; k++)
        if (font_text_width(L->text[k], s, 0) > maxname) return 0;
    return 1;
}

// Greedy word wrap of src into lines at most maxw pixels wide, '\n' between them; a word
// wider than a line is split. Returns the number of lines; *widest the widest line's width.
static int wrap_text(char *dst, size_t size, const char *src, int maxw, int s, int *widest) {
    size_t n = 0;
    int lines = 1;
    *widest = 0;
    char line[256] = "";
    size_t ll = 0;
    for (const char *w = src; *w;) {
        while (*w == ' ') w++;
        if (!*w) break;
        size_t wl = strcspn(w, " ");
        char cand[256];
        snprintf(cand, sizeof cand, "%s%s%.*s", line, ll ? " " : "", (int)wl, w);
        if (font_text_width(cand, s, 0) <= maxw || !ll) {
            if (!ll && font_text_width(cand, s, 0) > maxw) { // one long word: cut it at the width
                size_t k = wl;
                while (k > 1) {
                    snprintf(cand, sizeof cand, "%.*s", (int)k, w);
                    if (font_text_width(cand, s, 0) <= maxw) break;
                    k--;
                }
                wl = k;
            }
            snprintf(line, sizeof line, "%s", cand);
            ll = strlen(line);
            w += wl;
            continue;
        }
        int lw = font_text_width(line, s, 0);
        if (lw > *widest) *widest = lw;
        n += (size_t)snprintf(dst + n, n < size ? size - n : 0, "%s\n", line);
        if (n >= size) n = size - 1;
        lines++;
        line[0] = 0;
        ll = 0;
    }
    int lw = font_text_width(line, s, 0);
    if (lw > *widest) *widest = lw;
    snprintf(dst + n, n < size ? size - n : 0, "%s", line);
    return lines;
}

// The legend under the plot: entries in columns as many as the panel's width holds, row
// by row; a name wider than the panel is wrapped, never cut. Returns the height it needs
// (0 when there is nothing to show); *cols and *colw its columns.
static int legend_below_layout(const Panel *P, Legend *L, int *cols, int *colw) {
    int s = P->s, swatch = 22 * s, gap = 6 * s, colgap = 14 * s;
    int avail = P->px1 - P->px0 - 2 * P->pad, maxname = avail - swatch - gap, widest = 0;
    if (!L->n || maxname < 8 * s) return 0;
    for (int k = 0; k < L->n; k++) {
        char buf[256];
        L->lines[k] = wrap_text(buf, sizeof buf, L->text[k], maxname, s, &L->width[k]);
        memcpy(L->text[k], buf, sizeof buf);
        if (L->width[k] > widest) widest = L->width[k];
    }
    *colw = swatch + gap + widest + colgap;
    *cols = (avail + colgap) / *colw;
    if (*cols < 1) *cols = 1;
    if (*cols > L->n) *cols = L->n;
    int h = 0;
    for (int k = 0; k < L->n; k += *cols) {
        int most = 1;
        for (int j = k; j < k + *cols && j < L->n; j++)
            if (L->lines[j] > most) most = L->lines[j];
        h += most * LEG_ROW * s;
    }
    return h + 2 * P->gap;
}

static void draw_legend_below(Surface *sf, const Panel *P, const Legend *L, int cols, int colw) {
    int s = P->s, swatch = 22 * s, gap = 6 * s, colgap = 14 * s, row = LEG_ROW * s;
    int y = P->y0 + P->h + s + P->tick + P->gap + P->fh + (has_text(P->p->xlabel) ? P->gap + P->fh : 0) + 2 * P->gap;
    int x0 = P->px0 + (P->px1 - P->px0 - (cols * colw - colgap)) / 2;
    if (x0 < P->px0 + P->pad) x0 = P->px0 + P->pad;
    for (int k = 0; k < L->n; k += cols) {
        int most = 1;
        for (int j = k; j < k + cols && j < L->n; j++) {
            const PlotSeries *sr = &P->p->series[L->idx[j]];
            int x = x0 + (j - k) * colw, mid = y + P->cap / 2 - s + 1;
            sf_hline(sf, x, x + swatch, mid, 2 * s, sr->dashed ? 6 * s : 0, 4 * s, series_color(sr, L->idx[j]));
            const char *t = L->text[j];
            for (int line = 0; *t; line++) {
                size_t len = strcspn(t, "\n");
                char buf[256];
                snprintf(buf, sizeof buf, "%.*s", (int)len, t);
                sf_text(sf, x + swatch + gap, y + line * row, buf, s, 0, C_TEXT);
                t += len + (t[len] == '\n');
            }
            if (L->lines[j] > most) most = L->lines[j];
        }
        y += most * row;
    }
}

// One row per named series, inside the plot area where it hides the least data: a swatch
// in its colour and dash, then the name. Names are shortened to keep the box under half the
// plot width and rows that do not fit are left out; this is the fallback when the panel has
// no room for the legend below it.
static void draw_legend(Surface *sf, const Panel *P, const Canvas *cv) {
    const PlotPanel *p = P->p;
    int s = P->s, pad = 6 * s, swatch = 22 * s, gap = 6 * s, row = LEG_ROW * s;
    int maxname = P->w / 2 - 2 * pad - swatch - gap, rows = (P->h - 16 * s - 2 * pad + 3 * s) / row;
    if (maxname < 4 * s || rows < 1) return;
    char names[64][96]; // legend rows shown, shortened
    int idx[64], n = 0, maxw = 0;
    for (int i = 0; i < p->nseries && n < rows && n < 64; i++) {
        if (!has_text(p->series[i].name)) continue;
        const char *t = fit_text(names[n], sizeof names[n], p->series[i].name, maxname, s, 0);
        if (t != names[n]) snprintf(names[n], sizeof names[n], "%s", t);
        int w = font_text_width(names[n], s, 0);
        if (w > maxw) maxw = w;
        idx[n++] = i;
    }
    if (!n) return;
    Box b = legend_place(cv, pad + swatch + gap + maxw + pad, 2 * pad + n * row - 3 * s, s, NULL);
    // Slightly see-through, like matplotlib's, so a curve beneath still shows.
    sf_rect(sf, b.x, b.y, b.x + b.w, b.y + b.h, C_BG, 0.88f);
    sf_hline(sf, b.x, b.x + b.w, b.y, s, 0, 0, C_LEGEND_EDGE);
    sf_hline(sf, b.x, b.x + b.w, b.y + b.h - s, s, 0, 0, C_LEGEND_EDGE);
    sf_vline(sf, b.x, b.y, b.y + b.h, s, 0, 0, C_LEGEND_EDGE);
    sf_vline(sf, b.x + b.w - s, b.y, b.y + b.h, s, 0, 0, C_LEGEND_EDGE);
    for (int k = 0; k < n; k++) {
        const PlotSeries *sr = &p->series[idx[k]];
        int y = b.y + pad + k * row, mid = y + P->cap / 2 - s + 1;
        sf_hline(sf, b.x + pad, b.x + pad + swatch, mid, 2 * s, sr->dashed ? 6 * s : 0, 4 * s,
              series_color(sr, idx[k]));
        sf_text(sf, b.x + pad + swatch + gap, y, names[k], s, 0, C_TEXT);
    }
}

static void panel_init(Panel *P, int px0, int px1, const PlotPanel *p, int s) {
    memset(P, 0, sizeof *P);
    P->p = p;
    P->s = s;
    P->pad = 8 * s;
    P->gap = 4 * s;
    P->tick = 5 * s;
    P->fh = FONT_HEIGHT * s;
    P->cap = FONT_ASCENT * s;
    P->px0 = px0;
    P->px1 = px1;
    panel_limits(P);
}

// Whether the legend, inside the plot area, would hide data wherever it went: the curves
// and marker labels are drawn once into a scratch image to find out.
static int legend_covers_data(const Panel *P, const Legend *L, int img_w, int img_h) {
    int s = P->s, pad = 6 * s, swatch = 22 * s, gap = 6 * s, maxw = 0;
    for (int k = 0; k < L->n; k++) {
        int w = font_text_width(L->text[k], s, 0);
        if (w > maxw) maxw = w;
    }
    Image scratch;
    image_alloc(&scratch, img_w, img_h);
    Surface sf = {&scratch, NULL};
    Canvas cv = {P->x0, P->y0, P->w, P->h, NULL, NULL};
    cv.cov = xcalloc((size_t)P->w * (size_t)P->h, sizeof(float));
    cv.occ = xcalloc((size_t)P->w * (size_t)P->h, 1);
    draw_series(&sf, P, &cv);
    draw_vlabels(&sf, P, &cv);
    long covered = 0;
    legend_place(&cv, pad + swatch + gap + maxw + pad, 2 * pad + L->n * LEG_ROW * s - 3 * s, s, &covered);
    free(cv.cov);
    free(cv.occ);
    image_free(&scratch);
    return covered > 0;
}

static void render_panel(Surface *sf, int px0, int px1, const PlotPanel *p, int s) {
    Panel P;
    panel_init(&P, px0, px1, p, s);
    int ok = panel_layout(&P, sf->img->h);
    Legend L;
    legend_collect(p, &L);
    int cols = 1, colw = 0;
    if (ok && L.n && (!legend_fits_inside(&P, &L) || legend_covers_data(&P, &L, sf->img->w, sf->img->h))) {
        // Under the plot, where it hides nothing and no name is cut, if the panel has room.
        Panel B;
        panel_init(&B, px0, px1, p, s);
        B.leg_below = 1;
        B.leg_h = legend_below_layout(&B, &L, &cols, &colw);
        if (B.leg_h > 0 && B.leg_h <= sf->img->h / 2 && panel_layout(&B, sf->img->h)) P = B;
    }
    draw_title(sf, &P); // even when the image is too small for anything else
    if (!ok) return;
    draw_grid(sf, &P);
    Canvas cv = {P.x0, P.y0, P.w, P.h, NULL, NULL};
    cv.cov = xcalloc((size_t)P.w * (size_t)P.h, sizeof(float));
    cv.occ = xcalloc((size_t)P.w * (size_t)P.h, 1);
    draw_series(sf, &P, &cv);
    draw_vlabels(sf, &P, &cv);
    draw_axes(sf, &P);
    draw_axis_titles(sf, &P);
    if (P.leg_below)
        draw_legend_below(sf, &P, &L, cols, colw);
    else
        draw_legend(sf, &P, &cv);
    free(cv.cov);
    free(cv.occ);
}

// ---------------------------------------------------------------- entry points

static int check_panels(int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    if (width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE)
        return err_set(e, ERR_INPUT, "plot: image size %dx%d outside %d..%d", width, height,
                       MIN_SIDE, MAX_SIDE);
    if (!panels || npanels < 1) return err_set(e, ERR_INPUT, "plot: no panels");
    if (width / npanels < MIN_SIDE)
        return err_set(e, ERR_INPUT, "plot: %d panels do not fit in %d pixels", npanels, width);
    for (int i = 0; i < npanels; i++) {
        const PlotPanel *p = &panels[i];
        if (p->nseries < 0 || (p->nseries > 0 && !p->series))
            return err_set(e, ERR_INPUT, "plot: panel %d: bad series list", i);
        if (p->nvlines < 0 || (p->nvlines > 0 && !p->vlines) || (p->vlabels && p->nvlines <= 0))
            return err_set(e, ERR_INPUT, "plot: panel %d: bad vlines list", i);
        for (int k = 0; k < p->nseries; k++) {
            const PlotSeries *s = &p->series[k];
            if (s->n < 0 || (s->n > 0 && (!s->x || !s->y)))
                return err_set(e, ERR_INPUT, "plot: panel %d series %d (%s): n=%d without data", i,
                               k, has_text(s->name) ? s->name : "unnamed", s->n);
        }
    }
    return ERR_OK;
}

// One scale for all panels: 1 up to about 900x500 per panel, then 2, 3... so text and lines
// keep their proportions on large images.
static int pick_scale(int width, int height, int npanels) {
    double f = fmin(height / 500.0, (double)width / npanels / 450.0);
    int s = (int)floor(f + 0.3);
    return s < 1 ? 1 : s > 8 ? 8 : s;
}

static int render(Image *img, Svg *svg, int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    img->w = img->h = 0;
    img->rgb = NULL;
    int rc = check_panels(width, height, panels, npanels, e);
    if (rc) return rc;
    image_alloc(img, width, height);
    memset(img->rgb, 0xFF, (size_t)width * (size_t)height * 3);
    int s = pick_scale(width, height, npanels);
    Surface sf = {img, svg};
    if (svg)
        text_printf(&svg->t,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                    "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"%d\" height=\"%d\" "
                    "fill=\"#FFFFFF\"/>\n",
                    width, height, width, height, width, height);
    for (int i = 0; i < npanels; i++)
        render_panel(&sf, (int)((long)width * i / npanels), (int)((long)width * (i + 1) / npanels),
                     &panels[i], s);
    if (svg) text_printf(&svg->t, "</svg>\n");
    return ERR_OK;
}

int plot_render(Image *img, int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    return render(img, NULL, width, height, panels, npanels, e);
}

int plot_render_svg(char **svg, int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    Svg g = {{0}, 0};
    Image img;
    int rc = render(&img, &g, width, height, panels, npanels, e);
    image_free(&img);
    if (rc) {
        free(g.t.s);
        g.t.s = NULL;
    }
    *svg = g.t.s;
    return rc;
}

int plot_write_svg(const char *path, int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    char *svg;
    if (plot_render_svg(&svg, width, height, panels, npanels, e)) return err_prefix(e, "%s", path);
    int rc = outfile_write_text(path, svg, e);
    free(svg);
    return rc;
}

int plot_format(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && !strcasecmp(path + n - 4, ".png")) return PLOT_PNG;
    if (n > 4 && !strcasecmp(path + n - 4, ".svg")) return PLOT_SVG;
    return -1;
}

int plot_check_path(const char *path, Err *e) {
    if (plot_format(path) >= 0) return ERR_OK;
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash) && dot[1])
        return err_set(e, ERR_INPUT, "%s: a plot is written as PNG (.png) or SVG (.svg), not '%s'", path, dot);
    return err_set(e, ERR_INPUT, "%s: a plot is written as PNG (.png) or SVG (.svg); name the file with one of them",
                   path);
}

int plot_write(const char *path, int width, int height, const PlotPanel *panels, int npanels, Err *e) {
    if (plot_check_path(path, e)) return e->code;
    return plot_format(path) == PLOT_SVG ? plot_write_svg(path, width, height, panels, npanels, e)
                                         : plot_write_png(path, width, height, panels, npanels, e);
}

int plot_write_png(const char *path, int width, int height, const PlotPanel *panels, int npanels,
                   Err *e) {
    Image img;
    int rc = plot_render(&img, width, height, panels, npanels, e);
    if (rc) return err_prefix(e, "%s", path);
    rc = png_write_rgb(path, &img, e); // its message names the path
    image_free(&img);
    return rc;
}
