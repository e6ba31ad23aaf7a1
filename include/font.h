// font.h: the built-in bitmap font for plot text.
// Printable ASCII (32..126), drawn for this project: glyphs 5 pixels wide on a 12-row cell
// (9 rows above the baseline for capitals, digits and ascenders, 3 below for descenders),
// spaced proportionally so "0.001" stays compact. Drawn at an integer scale, optionally bold.
// Other bytes (control characters, UTF-8) draw as '?'.
#ifndef ONECYCLE_FONT_H
#define ONECYCLE_FONT_H
#include "pngio.h"

enum {
    FONT_ASCENT = 9,  // rows from the top of the cell to the baseline
    FONT_DESCENT = 3, // rows below the baseline
    FONT_HEIGHT = 12  // cell height; lines of text need FONT_HEIGHT*scale pixels
};

// Width in pixels of s drawn at this scale; 0 for "" or NULL.
int font_text_width(const char *s, int scale, int bold);

// Draws s left to right from x, with the top of the cell at y. Pixels outside img are skipped.
// Bold thickens every stroke by one font pixel to the right (and widens each glyph by one).
void font_draw_text(Image *img, int x, int y, const char *s, int scale, int bold, uint32_t rgb);

// Draws s rotated 90 degrees counter-clockwise, reading bottom to top as a y axis title does.
// It fills the box x .. x + FONT_HEIGHT*scale - 1 (glyph tops face left) and
// y - font_text_width(s) .. y - 1: the text starts at y and runs upwards.
void font_draw_text_up(Image *img, int x, int y, const char *s, int scale, int bold, uint32_t rgb);

// 1 if pixel (col, row) of character c's 5x12 glyph is ink, else 0 (also outside the glyph).
int font_glyph_pixel(int c, int col, int row);

#endif
