// dlib_shim.cc — dlib's 68-point shape predictor behind a C API (dlib_shim.h).
//
// We read dlib's shape_predictor file format ourselves (the same fields
// dlib::deserialize(shape_predictor&) reads) into a struct we own, because
// dlib::shape_predictor::operator() rounds every landmark to whole pixels
// (full_object_detection stores integer points). The cascade below is dlib's
// own algorithm (Kazemi & Sullivan 2014 as implemented in
// dlib/image_processing/shape_predictor.h), evaluated on a caller-owned grey
// buffer without copying it, with the box and the result kept in floating
// point.
//
// Every C++ exception stops at the C boundary: the functions catch
// everything and report it as text.

#include "dlib_shim.h"

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/serialize.h>

#include <cerrno>
#include <cstdint>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <vector>

// One cascade's trees, flattened at load: dlib keeps every leaf in a heap
// matrix of its own (two dependent cache misses per tree, over ~65 MB read
// at random); here a cascade's leaves are one array, tree after tree, so a
// fit finds every tree's leaf first and then sums them with the next rows
// prefetched. The sums run in dlib's order: the result is the same.
struct flat_split {
    uint32_t idx1, idx2;
    float thresh;
};
struct flat_cascade {
    size_t trees = 0, nsplit = 0, nleaf = 0;
    std::vector<flat_split> splits;  // trees * nsplit
    std::vector<float> leaves;       // trees * nleaf * dims
};

struct fl_dlib {
    dlib::matrix<float, 0, 1> initial_shape;
    std::vector<std::vector<dlib::impl::regression_tree> > forests;  // emptied once flattened
    std::vector<std::vector<unsigned long> > anchor_idx;
    std::vector<std::vector<dlib::vector<float, 2> > > deltas;
    std::vector<flat_cascade> flat;
};

namespace {

void set_err(char *err, size_t errlen, const std::string &msg) {
    if (err == nullptr || errlen == 0) {
        return;
    }
    size_t n = msg.size() < errlen - 1 ? msg.size() : errlen - 1;
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

// validate checks what the cascade indexes, so that a file dlib parses but
// whose numbers are wrong (a different model, damaged bytes) is an error at
// load time instead of an out-of-bounds read at fit time.
std::string validate(const fl_dlib &m) {
    const unsigned long dims = m.initial_shape.size();
    if (dims == 0 || dims % 2 != 0) {
        return "the initial shape has " + std::to_string(dims) + " coordinates";
    }
    if (dims != FL_DLIB_OUT) {
        return "it predicts " + std::to_string(dims / 2) + " points, not " + std::to_string(FL_DLIB_PARTS);
    }
    const size_t cascades = m.forests.size();
    if (cascades == 0 || m.anchor_idx.size() != cascades || m.deltas.size() != cascades) {
        return "inconsistent cascade counts (" + std::to_string(cascades) + " forests, " +
               std::to_string(m.anchor_idx.size()) + " anchor sets, " + std::to_string(m.deltas.size()) +
               " delta sets)";
    }
    for (size_t c = 0; c < cascades; ++c) {
        const size_t npix = m.deltas[c].size();
        if (m.anchor_idx[c].size() != npix) {
            return "cascade " + std::to_string(c) + " has mismatched feature pixel tables";
        }
        for (unsigned long a : m.anchor_idx[c]) {
            if (a >= dims / 2) {
                return "cascade " + std::to_string(c) + " anchors a pixel to point " + std::to_string(a);
            }
        }
        for (size_t t = 0; t < m.forests[c].size(); ++t) {
            const dlib::impl::regression_tree &tree = m.forests[c][t];
            if (tree.leaf_values.size() != tree.splits.size() + 1) {
                return "tree " + std::to_string(t) + " of cascade " + std::to_string(c) + " has " +
                       std::to_string(tree.splits.size()) + " splits and " +
                       std::to_string(tree.leaf_values.size()) + " leaves";
            }
            for (const dlib::impl::split_feature &s : tree.splits) {
                if (s.idx1 >= npix || s.idx2 >= npix || !std::isfinite(s.thresh)) {
                    return "tree " + std::to_string(t) + " of cascade " + std::to_string(c) +
                           " splits on a pixel that does not exist";
                }
            }
            for (const dlib::matrix<float, 0, 1> &leaf : tree.leaf_values) {
                if ((unsigned long)leaf.size() != dims) {
                    return "tree " + std::to_string(t) + " of cascade " + std::to_string(c) +
                           " has a leaf of the wrong size";
                }
            }
        }
    }
    return "";
}

// fit is dlib::shape_predictor::operator() with a float box and float output.
// flatten moves m's validated forests into m.flat. Every tree of a cascade
// must have the same depth (dlib's training makes them so); otherwise it
// says why.
std::string flatten(fl_dlib &m) {
    const size_t dims = m.initial_shape.size();
    m.flat.resize(m.forests.size());
    for (size_t c = 0; c < m.forests.size(); ++c) {
        flat_cascade &fc = m.flat[c];
        const std::vector<dlib::impl::regression_tree> &trees = m.forests[c];
        fc.trees = trees.size();
        fc.nsplit = trees.empty() ? 0 : trees[0].splits.size();
        fc.nleaf = fc.nsplit + 1;
        fc.splits.reserve(fc.trees * fc.nsplit);
        fc.leaves.reserve(fc.trees * fc.nleaf * dims);
        for (const dlib::impl::regression_tree &t : trees) {
            if (t.splits.size() != fc.nsplit) {
                return "cascade " + std::to_string(c) + " has trees of different depths";
            }
            for (const dlib::impl::split_feature &s : t.splits) {
                fc.splits.push_back({(uint32_t)s.idx1, (uint32_t)s.idx2, s.thresh});
            }
            for (const dlib::matrix<float, 0, 1> &leaf : t.leaf_values) {
                fc.leaves.insert(fc.leaves.end(), &leaf(0), &leaf(0) + dims);
            }
        }
    }
    std::vector<std::vector<dlib::impl::regression_tree> >().swap(m.forests);  // not kept twice
#ifdef __GLIBC__
    // The forests were ~7500 × 16 small leaf blocks: glibc keeps such freed
    // memory in its arenas, and the process would carry ~65 MB it no longer
    // uses. Hand it back.
    malloc_trim(0);
#endif
    return "";
}

// How many trees ahead fit prefetches a leaf: enough to cover a miss to
// memory at a few nanoseconds per tree.
constexpr size_t kPrefetchTrees = 8;

// sample is the grey value of one pixel: the byte itself (a Y plane, or
// YUY2's Y at offset 0 of its 2 bytes), or OpenCV's fixed-point BT.601
// luma of the R, G, B bytes at offsets r, g, b (COLOR_BGR2GRAY).
inline float sample(const unsigned char *q, int r, int g, int b) {
    if (g < 0) {
        return q[0];
    }
    return (float)((4899u * q[r] + 9617u * q[g] + 1868u * q[b] + (1u << 13)) >> 14);
}

void fit(const fl_dlib &m, const unsigned char *pix, long width, long height, long stride, int bpp, int r,
         int g, int bch, double x0, double y0, double x1, double y1, float *out) {
    // dlib's unnormalizing_tform(rect): (0,0) → top-left corner, (1,1) →
    // bottom-right corner, where a rectangle's right and bottom are
    // inclusive: for our exclusive x1, y1 that is x1-1, y1-1.
    const double sx = (x1 - 1) - x0, sy = (y1 - 1) - y0;

    dlib::matrix<float, 0, 1> current = m.initial_shape;
    const size_t dims = current.size();
    std::vector<float> values;
    std::vector<const float *> rows;
    for (size_t c = 0; c < m.flat.size(); ++c) {
        const dlib::point_transform_affine t = dlib::impl::find_tform_between_shapes(m.initial_shape, current);
        const dlib::matrix<double, 2, 2> &tm = t.get_m();
        const float a = (float)tm(0, 0), b = (float)tm(0, 1), cc = (float)tm(1, 0), d = (float)tm(1, 1);

        const std::vector<unsigned long> &anchors = m.anchor_idx[c];
        const std::vector<dlib::vector<float, 2> > &deltas = m.deltas[c];
        values.resize(deltas.size());
        for (size_t i = 0; i < deltas.size(); ++i) {
            const unsigned long k = anchors[i];
            const float nx = a * deltas[i].x() + b * deltas[i].y() + current(2 * k);
            const float ny = cc * deltas[i].x() + d * deltas[i].y() + current(2 * k + 1);
            // dlib converts the pixel position to a point by rounding.
            const long px = (long)std::floor(x0 + sx * nx + 0.5);
            const long py = (long)std::floor(y0 + sy * ny + 0.5);
            if (px >= 0 && py >= 0 && px < width && py < height) {
                values[i] = sample(pix + py * stride + px * bpp, r, g, bch);
            } else {
                values[i] = 0;
            }
        }
        // Every tree's leaf first (the splits are small and stay cached)...
        const flat_cascade &fc = m.flat[c];
        rows.resize(fc.trees);
        for (size_t t2 = 0; t2 < fc.trees; ++t2) {
            const flat_split *s = &fc.splits[t2 * fc.nsplit];
            size_t i = 0;
            while (i < fc.nsplit) {
                i = values[s[i].idx1] - values[s[i].idx2] > s[i].thresh ? 2 * i + 1 : 2 * i + 2;
            }
            rows[t2] = &fc.leaves[(t2 * fc.nleaf + (i - fc.nsplit)) * dims];
        }
        // ...then the sum, in dlib's order, with the leaves ahead on their way.
        float *cur = &current(0);
        for (size_t t2 = 0; t2 < fc.trees; ++t2) {
            if (t2 + kPrefetchTrees < fc.trees) {
                const char *next = (const char *)rows[t2 + kPrefetchTrees];
                for (size_t off = 0; off < dims * sizeof(float); off += 64) {
                    __builtin_prefetch(next + off);
                }
                __builtin_prefetch(next + dims * sizeof(float) - 1);  // a row need not start a line
            }
            const float *row = rows[t2];
            for (size_t k = 0; k < dims; ++k) {
                cur[k] += row[k];
            }
        }
    }
    for (long i = 0; i < FL_DLIB_PARTS; ++i) {
        out[2 * i] = (float)(x0 + sx * current(2 * i));
        out[2 * i + 1] = (float)(y0 + sy * current(2 * i + 1));
    }
}

}  // namespace

extern "C" fl_dlib *fl_dlib_create(const char *path, char *err, size_t errlen) {
    fl_dlib *m = nullptr;
    try {
        if (path == nullptr) {
            set_err(err, errlen, "no path");
            return nullptr;
        }
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            set_err(err, errlen, std::strerror(errno));
            return nullptr;
        }
        m = new fl_dlib;
        int version = 0;
        dlib::deserialize(version, in);
        if (version != 1) {
            delete m;
            set_err(err, errlen,
                    "not a dlib shape predictor (format version " + std::to_string(version) + ", want 1)");
            return nullptr;
        }
        dlib::deserialize(m->initial_shape, in);
        dlib::deserialize(m->forests, in);
        dlib::deserialize(m->anchor_idx, in);
        dlib::deserialize(m->deltas, in);
        std::string bad = validate(*m);
        if (bad.empty()) {
            bad = flatten(*m);
        }
        if (!bad.empty()) {
            delete m;
            set_err(err, errlen, "not a 68-point dlib shape predictor: " + bad);
            return nullptr;
        }
        return m;
    } catch (const dlib::serialization_error &e) {
        delete m;
        // dlib's message is several lines ("... while deserializing ..."):
        // make it one, with single spaces.
        std::string what;
        for (const char *c = e.what(); *c != '\0'; ++c) {
            const bool space = *c == ' ' || *c == '\n' || *c == '\t';
            if (space && (what.empty() || what.back() == ' ')) continue;
            what.push_back(space ? ' ' : *c);
        }
        while (!what.empty() && what.back() == ' ') what.pop_back();
        set_err(err, errlen, "truncated or corrupt (dlib: " + what + ")");
    } catch (const std::bad_alloc &) {
        delete m;
        set_err(err, errlen, "corrupt (its sizes ask for more memory than there is)");
    } catch (const std::exception &e) {
        delete m;
        set_err(err, errlen, std::string("corrupt (") + e.what() + ")");
    } catch (...) {
        delete m;
        set_err(err, errlen, "unknown C++ exception while reading it");
    }
    return nullptr;
}

extern "C" void fl_dlib_destroy(fl_dlib *p) { delete p; }

extern "C" int fl_dlib_fit(const fl_dlib *p, const unsigned char *pix, int width, int height, int stride,
                           int bpp, int r, int g, int b, double x0, double y0, double x1, double y1, float *out,
                           char *err, size_t errlen) {
    try {
        if (p == nullptr || pix == nullptr || out == nullptr) {
            set_err(err, errlen, "fl_dlib_fit: NULL argument");
            return 1;
        }
        if (width < 1 || height < 1 || bpp < 1 || bpp > 4 || stride < width * bpp ||
            (g >= 0 && (r < 0 || b < 0 || r >= bpp || g >= bpp || b >= bpp))) {
            set_err(err, errlen, "fl_dlib_fit: bad image geometry");
            return 1;
        }
        if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1)) || !(x1 > x0) ||
            !(y1 > y0)) {
            set_err(err, errlen, "fl_dlib_fit: empty or non-finite box");
            return 1;
        }
        fit(*p, pix, width, height, stride, bpp, r, g, b, x0, y0, x1, y1, out);
        return 0;
    } catch (const std::exception &e) {
        set_err(err, errlen, std::string("dlib: ") + e.what());
    } catch (...) {
        set_err(err, errlen, "dlib: unknown C++ exception");
    }
    return 1;
}
