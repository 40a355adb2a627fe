/*
 * dlib_shim.h — the C API of the dlib 68-point shape predictor shim.
 *
 * Only this header is seen by cgo; dlib_shim.cc is C++ and catches every C++
 * exception before it reaches this boundary.
 *
 * Threads: fl_dlib_create may run on any thread. A loaded predictor is
 * read-only, so fl_dlib_fit may be called on one predictor from several
 * threads at once. fl_dlib_destroy must not race with fl_dlib_fit (the Go side
 * guards it with a lock).
 *
 * No pointer passed in is kept after a call returns.
 */
#ifndef FACELIVE_DLIB_SHIM_H
#define FACELIVE_DLIB_SHIM_H

#include <stddef.h>

/* Internal to libfacelive: hidden, so the library exports only the ABI of
 * include/facelive.h. */
#pragma GCC visibility push(hidden)

#ifdef __cplusplus
extern "C" {
#endif

/* The number of landmarks the shim fits, and the floats fl_dlib_fit writes. */
#define FL_DLIB_PARTS 68
#define FL_DLIB_OUT (2 * FL_DLIB_PARTS)

typedef struct fl_dlib fl_dlib;

/*
 * fl_dlib_create loads a dlib shape predictor file (e.g.
 * shape_predictor_68_face_landmarks.dat). On success it returns the
 * predictor. On failure (file missing or unreadable, not a shape predictor,
 * truncated, not 68 points, out of memory) it returns NULL and writes a
 * NUL-terminated message of at most errlen bytes into err.
 */
fl_dlib *fl_dlib_create(const char *path, char *err, size_t errlen);

/* fl_dlib_destroy frees a predictor; NULL is ignored. */
void fl_dlib_destroy(fl_dlib *p);

/*
 * fl_dlib_fit fits the 68 landmarks of the face in box (x0, y0 inclusive
 * top-left; x1, y1 exclusive bottom-right, in pixels of the image) on an
 * image of 8-bit pixels of bpp bytes: pixel (x, y) starts at
 * pix[y*stride + x*bpp], 0 <= x < width, 0 <= y < height. Its grey value is
 * that first byte when g < 0 (a Y plane, YUY2), else the BT.601 luma of the
 * bytes at offsets r, g, b (OpenCV's COLOR_BGR2GRAY). Only the pixels the
 * predictor samples are read, and none outside the image (the predictor sees
 * them as 0): the caller passes a region of its frame, no copy. out receives
 * x0, y0, x1, y1, ... of the 68 points in image pixel coordinates (pixel
 * centres at integers).
 *
 * Returns 0 on success; otherwise non-zero with a NUL-terminated message of at
 * most errlen bytes in err.
 */
int fl_dlib_fit(const fl_dlib *p, const unsigned char *pix, int width, int height, int stride, int bpp,
                int r, int g, int b, double x0, double y0, double x1, double y1, float *out, char *err,
                size_t errlen);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif
