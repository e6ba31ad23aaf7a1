// plot.h: line charts as PNG (libpng + a small built-in bitmap font).
// One module for every plot of the project: schedules, LR-finder curves, training curves.
#ifndef ONECYCLE_PLOT_H
#define ONECYCLE_PLOT_H
#include "common.h"
#include "pngio.h"

typedef struct PlotSeries {
    const char *name;   // legend text; NULL or "" leaves the series out of the legend
    const double *x, *y; // both required when n > 0
    int n;
    int right_axis;     // 1: plotted against the panel's right y axis
    uint32_t color;     // 0xRRGGBB; 0 = pick from the palette by index in the panel
                        // (colour-blind safe, Okabe-Ito); for black ask for 0x010101
    int dashed;
} PlotSeries;

typedef struct PlotPanel {
    const char *title;
    const char *xlabel, *ylabel, *y2label; // y2label used when any series has right_axis
    int logx, logy;                        // log10 axes (values <= 0 are skipped); logy is
                                           // the left axis only, the right one stays linear
    const PlotSeries *series;
    int nseries;
    const double *vlines;                  // x positions of vertical markers (e.g. phase
                                           // boundaries), dashed grey; outside the x range: not drawn
    int nvlines;
    const char *const *vlabels;            // NULL, or a label per marker (NULL or "": none), written
                                           // at the top of the plot area beside it, one row each
    int vlines_in_range;                   // 1: the x range grows to hold every marker
} PlotPanel;

// Renders panels side by side in a width x height RGB image and writes it as PNG.
// Axes have ticks with numeric labels, axis titles, a legend; NaN/Inf points break lines and a
// point alone between breaks shows as a dot. Text and line widths grow with the image (one
// integer scale: 1 up to about 900x500 per panel). Errors: ERR_INPUT for a bad request (size
// outside 16..16384, no panels, n > 0 without data), ERR_RUNTIME when the file cannot be
// written; the message names the path.
int plot_write_png(const char *path, int width, int height, const PlotPanel *panels, int npanels, Err *e);

// The same figure as SVG: every line, rectangle and text of the PNG as a vector element at
// the same coordinates (text in a sans-serif font stretched to the bitmap font's widths,
// curves clipped to their plot area), so it scales for papers and slides. Same errors.
int plot_write_svg(const char *path, int width, int height, const PlotPanel *panels, int npanels, Err *e);
// PNG or SVG by the file's extension (.png, .svg, any case); any other is ERR_INPUT naming
// it, before anything is drawn.
enum { PLOT_PNG, PLOT_SVG };
int plot_format(const char *path); // PLOT_PNG, PLOT_SVG, or -1
int plot_check_path(const char *path, Err *e);
int plot_write(const char *path, int width, int height, const PlotPanel *panels, int npanels, Err *e);
// The SVG text in memory (*svg malloc'd; NULL on error). Used by tests.
int plot_render_svg(char **svg, int width, int height, const PlotPanel *panels, int npanels, Err *e);

// Renders into memory (img->rgb allocated here; free with image_free). Used by tests.
// On error img is left empty (rgb NULL).
int plot_render(Image *img, int width, int height, const PlotPanel *panels, int npanels, Err *e);

#endif
