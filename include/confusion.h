// confusion.h: a classifier's results per class: the confusion matrix, per-class accuracy,
// and their CSV files and PNG heat map (what `onecycle eval` prints and writes with --out).
//
// count[t * classes + p] is the number of images of true class t predicted as class p; the
// prediction is the arg max of the logits (ties: the lower class, as predict_top). A row
// sums to the images of its class, the diagonal to the images scored right.
#ifndef ONECYCLE_CONFUSION_H
#define ONECYCLE_CONFUSION_H
#include "common.h"

typedef struct Confusion {
    int classes;
    long *count; // (classes, classes)
} Confusion;

void confusion_init(Confusion *c, int classes);
void confusion_free(Confusion *c);
// Adds nb images: logits (nb, classes) row by row, labels y (nb).
void confusion_add(Confusion *c, const float *logits, const int *y, int nb);
// Images of true class t, and those of them predicted right.
long confusion_class_images(const Confusion *c, int t);
long confusion_class_correct(const Confusion *c, int t);
long confusion_total(const Confusion *c);
long confusion_correct(const Confusion *c);

// A class's name for output: names[k] when names is given, else "class k".
const char *confusion_class_name(const char *const *names, int k, char *buf, size_t cap);

// Writes, under dir: per_class.csv (`class,name,images,correct,accuracy`, one row per
// class), confusion.csv (a header `true\predicted,NAME...`, then one row per true class:
// its name and its counts) and confusion.png (a heat map: each cell shaded by its share
// of the row, i.e. of the true class's images, with the counts written in when the cells
// are large enough). names may be NULL. Errors (ERR_RUNTIME) name the file.
int confusion_write_csv(const Confusion *c, const char *const *names, const char *dir, Err *e);
int confusion_write_png(const Confusion *c, const char *const *names, const char *path, const char *title, Err *e);

#endif
