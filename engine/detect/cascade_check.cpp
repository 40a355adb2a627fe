// See cascade_check.h.
#include "cascade_check.h"

#include <cstdio>
#include <exception>

#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>

extern "C" int fl_cascade_check(const char *path, char *err, size_t errlen) {
    try {
        cv::CascadeClassifier c;
        if (c.load(path) && !c.empty()) {
            return 1;
        }
        std::snprintf(err, errlen, "not an OpenCV cascade classifier");
    } catch (const cv::Exception &e) {
        // e.err is the short message ("Input file is invalid"); what() adds
        // OpenCV's source location over several lines.
        std::snprintf(err, errlen, "OpenCV: %s", e.err.c_str());
    } catch (const std::exception &e) {
        std::snprintf(err, errlen, "%s", e.what());
    } catch (...) {
        std::snprintf(err, errlen, "unknown C++ exception");
    }
    return 0;
}
