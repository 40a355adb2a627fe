// cv.h: the few OpenCV calls libfacelive makes (core, imgproc, objdetect),
// behind a C interface that lets no C++ exception escape into Go (one would
// abort the whole process, OBS included).
#ifndef FACELIVE_CV_H
#define FACELIVE_CV_H

#include <stddef.h>
#include <stdint.h>

/* Internal to libfacelive: hidden, so the library exports only the ABI of
 * include/facelive.h. */
#pragma GCC visibility push(hidden)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_cascade fl_cascade;

// fl_cascade_load loads an OpenCV cascade classifier; NULL with a
// NUL-terminated reason in err (errlen bytes) when it cannot.
fl_cascade *fl_cascade_load(const char *path, char *err, size_t errlen);

// fl_cascade_detect runs detectMultiScale on an 8-bit grey image and
// writes up to max_rects rectangles (x, y, w, h) into rects. It returns how
// many it found (those past max_rects are not written), or -1 with a reason
// in err.
int fl_cascade_detect(fl_cascade *c, const uint8_t *grey, int w, int h, int stride, double scale,
                      int min_neighbors, int min_size, int *rects, int max_rects, char *err, size_t errlen);

void fl_cascade_free(fl_cascade *c);

// fl_text_size measures text in Hershey simplex at scale and thickness:
// 0 with its width and height above the baseline, -1 on error.
int fl_text_size(const char *text, double scale, int thick, int *w, int *h);

// fl_put_text draws text in white (255), anti-aliased, into an 8-bit grey
// image with its baseline's left end at (x, y); 0, or -1 on error.
int fl_put_text(uint8_t *dst, int w, int h, int stride, const char *text, int x, int y, double scale, int thick);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif
