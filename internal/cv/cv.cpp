// See cv.h.
#include "cv.h"

#include <cstdio>
#include <exception>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

struct fl_cascade {
    cv::CascadeClassifier c;
    std::vector<cv::Rect> found;
};

// reason writes the exception being handled into err.
static void reason(char *err, size_t errlen) {
    try {
        throw;
    } catch (const cv::Exception &e) {
        // e.err is the short message ("Input file is invalid"); what() adds
        // OpenCV's source location over several lines.
        std::snprintf(err, errlen, "OpenCV: %s", e.err.c_str());
    } catch (const std::exception &e) {
        std::snprintf(err, errlen, "%s", e.what());
    } catch (...) {
        std::snprintf(err, errlen, "unknown C++ exception");
    }
}

extern "C" fl_cascade *fl_cascade_load(const char *path, char *err, size_t errlen) {
    fl_cascade *c = nullptr;
    try {
        c = new fl_cascade;
        if (c->c.load(path) && !c->c.empty()) {
            return c;
        }
        std::snprintf(err, errlen, "not an OpenCV cascade classifier");
    } catch (...) {
        reason(err, errlen);
    }
    delete c;
    return nullptr;
}

extern "C" int fl_cascade_detect(fl_cascade *c, const uint8_t *grey, int w, int h, int stride, double scale,
                                 int min_neighbors, int min_size, int *rects, int max_rects, char *err,
                                 size_t errlen) {
    try {
        cv::Mat m(h, w, CV_8UC1, const_cast<uint8_t *>(grey), static_cast<size_t>(stride));
        c->c.detectMultiScale(m, c->found, scale, min_neighbors, 0, cv::Size(min_size, min_size), cv::Size());
        int n = static_cast<int>(c->found.size());
        for (int i = 0; i < n && i < max_rects; i++) {
            const cv::Rect &r = c->found[i];
            rects[4 * i] = r.x;
            rects[4 * i + 1] = r.y;
            rects[4 * i + 2] = r.width;
            rects[4 * i + 3] = r.height;
        }
        return n;
    } catch (...) {
        reason(err, errlen);
    }
    return -1;
}

extern "C" void fl_cascade_free(fl_cascade *c) { delete c; }

extern "C" int fl_text_size(const char *text, double scale, int thick, int *w, int *h) {
    try {
        int baseline = 0;
        cv::Size s = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, thick, &baseline);
        *w = s.width;
        *h = s.height;
        return 0;
    } catch (...) {
    }
    return -1;
}

extern "C" int fl_put_text(uint8_t *dst, int w, int h, int stride, const char *text, int x, int y, double scale,
                           int thick) {
    try {
        cv::Mat m(h, w, CV_8UC1, dst, static_cast<size_t>(stride));
        cv::putText(m, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255), thick, cv::LINE_AA,
                    false);
        return 0;
    } catch (...) {
    }
    return -1;
}
