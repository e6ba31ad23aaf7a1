// pngio.c: PNG read/write through libpng's simplified API.
#include "pngio.h"
#include "outfile.h"
#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

int image_alloc(Image *img, int w, int h) {
    img->w = w;
    img->h = h;
    img->rgb = xcalloc((size_t)w * (size_t)h, 3);
    return ERR_OK;
}

void image_free(Image *img) {
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

int png_write_rgb(const char *path, const Image *img, Err *e) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    p.width = (png_uint_32)img->w;
    p.height = (png_uint_32)img->h;
    p.format = PNG_FORMAT_RGB;
    OutFile of; // temp file renamed over path: never through a link, never into a FIFO
    if (outfile_open(&of, path, e)) return e->code;
    errno = 0;
    if (!png_image_write_to_stdio(&p, of.f, 0, img->rgb, img->w * 3, NULL)) {
        int en = errno; // a full disk: libpng says only "Write Error"
        outfile_abort(&of);
        return err_set(e, ERR_RUNTIME, "%s: cannot write PNG: %s%s%s%s; the incomplete file is removed", path,
                       p.message, en ? " (" : "", en ? strerror(en) : "", en ? ")" : "");
    }
    return outfile_commit(&of, 0, e);
}

int png_read_rgb(const char *path, Image *img, Err *e) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    FILE *f = fs_fopen_regular(path, "a PNG file", NULL, e); // a FIFO would block
    if (!f) return e->code;
    if (!png_image_begin_read_from_stdio(&p, f)) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: not a readable PNG: %s", path, p.message);
    }
    if ((uint64_t)p.width * p.height > PNG_MAX_PIXELS) {
        png_image_free(&p);
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: %ux%u pixels is too large (at most %d)", path, p.width, p.height,
                       PNG_MAX_PIXELS);
    }
    p.format = PNG_FORMAT_RGB;
    // 16-bit files without gamma information are sRGB as 8-bit ones are (what image tools
    // write), not linear light; transparency is composited onto white.
    p.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    const png_color white = {255, 255, 255};
    image_alloc(img, (int)p.width, (int)p.height);
    int ok = png_image_finish_read(&p, &white, img->rgb, img->w * 3, NULL);
    fclose(f);
    if (!ok) {
        image_free(img);
        png_image_free(&p);
        return err_set(e, ERR_INPUT, "%s: corrupt PNG: %s", path, p.message);
    }
    return ERR_OK;
}
