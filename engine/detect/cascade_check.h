// cascade_check.h: load an OpenCV cascade without letting a C++ exception
// escape into Go (which would abort the whole process, OBS included).
#ifndef FACELIVE_DETECT_CASCADE_CHECK_H
#define FACELIVE_DETECT_CASCADE_CHECK_H

#include <stddef.h>

/* Internal to libfacelive: hidden, so the library exports only the ABI of
 * include/facelive.h. */
#pragma GCC visibility push(hidden)

#ifdef __cplusplus
extern "C" {
#endif

// fl_cascade_check loads the cascade at path into a throw-away
// cv::CascadeClassifier. It returns 1 when that works, else 0 with a
// NUL-terminated reason in err (errlen bytes).
int fl_cascade_check(const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif
