// pngio.h: 8-bit RGB images to and from PNG files (libpng).
#ifndef ONECYCLE_PNGIO_H
#define ONECYCLE_PNGIO_H
#include "common.h"

typedef struct Image {
    int w, h;
    uint8_t *rgb; // (h, w, 3)
} Image;

int image_alloc(Image *img, int w, int h); // zeroed (black)
void image_free(Image *img);
// Writes atomically enough for plots: to path directly. Errors name the file.
int png_write_rgb(const char *path, const Image *img, Err *e);
#define PNG_MAX_PIXELS (1 << 27) // larger images are refused (ERR_INPUT) before allocating
// Reads any PNG, converting to 8-bit RGB: palette and gray expand to RGB; 16-bit samples
// are taken as sRGB-encoded when the file has no gamma chunk (v -> round(v/257)); alpha is
// composited onto white (libpng's simplified API, in linear light).
int png_read_rgb(const char *path, Image *img, Err *e);

#endif
