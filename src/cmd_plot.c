// cmd_plot.c: `onecycle plot LOG.csv...`: training curves of runs (curves.c), overlaid.
#include "cli.h"
#include "cmd.h"
#include "curves.h"
#include "lrfind.h"
#include "plot.h"
#include "outfile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct PlotArgs {
    const char *labels;
} PlotArgs;

static int plot_option(void *ctx, const char *s, const char *v) {
    (void)s;
    ((PlotArgs *)ctx)->labels = v;
    return ERR_OK;
}

int cmd_plot(int argc, char **argv) {
    static const CliOption own[] = {{"--labels", 1}, {NULL, 0}};
    PlotArgs pa = {0};
    const CliSpec spec = {"plot", CLI_PNG, own, plot_option, &pa, CLI_MAX_ARGS};
    static CliArgs a;
    int rc = cli_parse(&a, &spec, argc, argv);
    if (rc) return rc;
    const char **logs = a.args, *png = a.png ? a.png : "curves.png";
    const char **labels = NULL;
    char *label_buf = NULL;
    int nlogs = a.nargs, nlabels = 0;
    if (pa.labels) {
        label_buf = strdup(pa.labels);
        labels = xcalloc(strlen(pa.labels) + 2, sizeof(char *));
        for (char *p = label_buf;;) {
            labels[nlabels++] = p;
            p = strchr(p, ',');
            if (!p) break;
            *p++ = 0;
        }
    }
    if (!rc && !nlogs) rc = cli_usage_error("%s", "plot needs at least one LOG.csv");
    if (!rc && labels && nlabels != nlogs) {
        char buf[64];
        snprintf(buf, sizeof buf, "%d label%s for %d log%s", nlabels, plural_s(nlabels), nlogs, plural_s(nlogs));
        rc = cli_usage_error("--labels: need one label per log, got %s", buf);
    }
    Err e = {0};
    if (!rc && (plot_check_path(png, &e) || outfile_check(png, &e))) rc = cli_fail(&e); // .png or .svg, a file
    outfile_clean_on_signal();
    size_t len0 = nlogs ? strlen(logs[0]) : 0;
    if (!rc && nlogs == 1 && len0 >= 11 && !strcmp(logs[0] + len0 - 11, "lr_find.csv")) {
        // An LR range test redrawn from its CSV, as lr-find drew it.
        LrFindCurve *c = NULL;
        int nc = 0, with_eval;
        if (lrfind_read_csv(logs[0], &c, &nc, &with_eval, &e) ||
            lrfind_write_png(png, c, nc, lrfind_csv_is_linear(&c[0]), with_eval, &e))
            rc = cli_fail(&e);
        else
            printf("wrote %s (%d LR range test curve%s)\n", png, nc, plural_s(nc));
        for (int k = 0; k < nc; k++) lrfind_curve_free(&c[k]);
        free(c);
    } else if (!rc) {
        if (curves_write_png(logs, labels, nlogs, png, &e))
            rc = cli_fail(&e);
        else
            printf("wrote %s (%d log%s)\n", png, nlogs, plural_s(nlogs));
    }
    free(labels);
    free(label_buf);
    return rc;
}
