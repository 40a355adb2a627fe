/*
 * privacy_test.c — a privacy filter never shows the face it hides, from the
 * first frame of a cold start, through the public header only.
 *
 *   facelive-privacy-test quality  SCENE   first frame out is pixelated
 *   facelive-privacy-test realtime SCENE   3 s at 30 fps: no frame shows the face
 *
 * SCENE is a raw 1280x720 BGRA frame holding a real face (the astronaut photo,
 * made by ctest's fixture with ffmpeg) inside FACE_BOX. Each mode runs in a
 * process of its own, so nothing is cached: the models load while frames come.
 *
 * "Hidden" is measured, not trusted: inside the face, the fine structure of
 * the frame out must not follow the original's (see likeness). Both the
 * pixelate swapper's face and a whole-frame hide pass; a face let through
 * unprocessed fails.
 *
 * Output: one line per failure, then "privacy_test: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { W = 1280, H = 720, STRIDE = W * 4 };

/* Inside the astronaut's face in SCENE (the pixelate swapper changes
 * (469,91)-(713,380) there): eyes, nose and mouth. */
static const int FACE_X0 = 500, FACE_Y0 = 130, FACE_X1 = 680, FACE_Y1 = 350;

/* A hidden face shows at most this likeness to the original (see likeness). */
static const double HIDDEN_LIKENESS = 0.5;

static int g_pass, g_fail;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            g_pass++;                                                     \
        } else {                                                          \
            g_fail++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* likeness is how much of the original's fine structure out still shows:
 * the correlation, inside the face box, between the two frames' differences
 * of horizontally and vertically neighbouring pixels (green channel). The
 * original itself scores 1; a face let through unprocessed scores ~1; a
 * pixelated face keeps only block edges, which do not follow the original's
 * fine structure. */
static double likeness(const uint8_t *out, const uint8_t *orig)
{
    double so = 0, sr = 0, soo = 0, srr = 0, sor = 0;
    long n = 0;
    for (int y = FACE_Y0; y < FACE_Y1; y++) {
        const uint8_t *o = out + (size_t)y * STRIDE, *r = orig + (size_t)y * STRIDE;
        for (int x = FACE_X0; x < FACE_X1; x++) {
            for (int k = 0; k < 2; k++) {
                size_t next = k == 0 ? 4 * (size_t)(x + 1) + 1 : 4 * (size_t)x + 1 + STRIDE;
                double a = (double)o[next] - o[4 * x + 1], b = (double)r[next] - r[4 * x + 1];
                so += a, sr += b, soo += a * a, srr += b * b, sor += a * b;
                n++;
            }
        }
    }
    double cov = sor / n - (so / n) * (sr / n);
    double vo = soo / n - (so / n) * (so / n), vr = srr / n - (sr / n) * (sr / n);
    if (vo <= 0 || vr <= 0)
        return 0; /* a flat face box shows nothing */
    return cov / sqrt(vo * vr);
}

static void describe(facelive_frame *f, uint8_t *pix, int64_t pts)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->format = FACELIVE_FORMAT_BGRA;
    f->width = W;
    f->height = H;
    f->data[0] = pix;
    f->linesize[0] = STRIDE;
    f->pts_ns = pts;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void print_error(facelive_handle h)
{
    char msg[1024];
    facelive_last_error(h, msg, sizeof msg);
    fprintf(stderr, "    last_error: %s\n", msg);
}

/* check_hidden checks that one output frame does not show the face. */
static double g_most; /* the highest likeness seen */
static void check_hidden(const uint8_t *out, const uint8_t *scene, int64_t pts, uint32_t flags)
{
    double l = likeness(out, scene);
    if (l > g_most)
        g_most = l;
    CHECK(l < HIDDEN_LIKENESS, "frame pts %" PRId64 " (%s) shows the face: likeness %.2f to the original", pts,
          (flags & FACELIVE_FRAME_PROCESSED) ? "processed" : "unprocessed", l);
}

/* Quality mode waits for the models: the first frame out is the first frame
 * in, processed, with its face pixelated. */
static void run_quality(const uint8_t *scene, uint8_t *out)
{
    char err[512];
    facelive_handle h = facelive_init("{\"mode\":\"quality\",\"swapper\":{\"kind\":\"pixelate\"}}", err, sizeof err);
    CHECK(h != 0, "init: %s", err);
    if (h == 0)
        return;
    facelive_frame in, o;
    describe(&in, (uint8_t *)scene, 1000);
    int st = facelive_submit_frame(h, &in);
    CHECK(st == FACELIVE_OK, "submit: %d", st);
    describe(&o, out, 0);
    st = facelive_get_frame(h, &o, 120000);
    CHECK(st == FACELIVE_OK, "get: %d", st);
    if (st != FACELIVE_OK) {
        print_error(h);
    } else {
        CHECK(o.pts_ns == 1000, "pts %" PRId64 ", want the first frame's 1000", o.pts_ns);
        CHECK(o.flags & FACELIVE_FRAME_PROCESSED, "flags %#x: the first frame was not processed", o.flags);
        check_hidden(out, scene, o.pts_ns, o.flags);
    }
    CHECK(facelive_shutdown(h) == FACELIVE_OK, "shutdown");
}

/* Realtime mode never waits: while the models load, frames leave hidden
 * (unprocessed = hide, the default for pixelate); once they are ready, the
 * face is pixelated. 90 frames paced at 30 fps, each awaited up to 100 ms. */
static void run_realtime(const uint8_t *scene, uint8_t *out)
{
    char err[512];
    facelive_handle h = facelive_init("{\"mode\":\"realtime\",\"swapper\":{\"kind\":\"pixelate\"}}", err, sizeof err);
    CHECK(h != 0, "init: %s", err);
    if (h == 0)
        return;
    const int64_t period = 1000000000 / 30;
    int outs = 0, processed = 0;
    int64_t start = now_ns();
    for (int i = 0; i < 90; i++) {
        facelive_frame in, o;
        describe(&in, (uint8_t *)scene, (int64_t)(i + 1) * period);
        int st = facelive_submit_frame(h, &in);
        CHECK(st == FACELIVE_OK || st == FACELIVE_EAGAIN, "submit %d: %d", i, st);
        describe(&o, out, 0);
        st = facelive_get_frame(h, &o, 100);
        if (st == FACELIVE_OK) {
            outs++;
            if (o.flags & FACELIVE_FRAME_PROCESSED)
                processed++;
            check_hidden(out, scene, o.pts_ns, o.flags);
        } else {
            CHECK(st == FACELIVE_EAGAIN, "get %d: %d", i, st);
        }
        sleep_ns(start + (int64_t)(i + 1) * period - now_ns());
    }
    for (;;) { /* what is still in flight comes out hidden too */
        facelive_frame o;
        describe(&o, out, 0);
        if (facelive_get_frame(h, &o, 2000) != FACELIVE_OK)
            break;
        outs++;
        if (o.flags & FACELIVE_FRAME_PROCESSED)
            processed++;
        check_hidden(out, scene, o.pts_ns, o.flags);
    }
    printf("privacy_test realtime: %d frames out, %d processed, %d left while the models loaded\n", outs, processed,
           outs - processed);
    CHECK(outs > 0, "no frame came out");
    CHECK(facelive_shutdown(h) == FACELIVE_OK, "shutdown");
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "quality") != 0 && strcmp(argv[1], "realtime") != 0)) {
        fprintf(stderr, "usage: %s quality|realtime SCENE.bgra (raw 1280x720 BGRA)\n", argv[0]);
        return 2;
    }
    uint8_t *scene = malloc((size_t)STRIDE * H), *out = malloc((size_t)STRIDE * H);
    FILE *fp = fopen(argv[2], "rb");
    if (scene == NULL || out == NULL || fp == NULL || fread(scene, 1, (size_t)STRIDE * H, fp) != (size_t)STRIDE * H) {
        fprintf(stderr, "privacy_test: cannot read %s (a raw 1280x720 BGRA frame)\n", argv[2]);
        return 2;
    }
    fclose(fp);
    memcpy(out, scene, (size_t)STRIDE * H);
    CHECK(likeness(out, scene) > 0.99, "the measure does not recognise the face itself (%.2f)", likeness(out, scene));
    if (strcmp(argv[1], "quality") == 0)
        run_quality(scene, out);
    else
        run_realtime(scene, out);
    printf("privacy_test %s: the most any frame out looked like the face: likeness %.2f (hidden below %.2f)\n",
           argv[1], g_most, HIDDEN_LIKENESS);
    free(scene);
    free(out);
    printf("privacy_test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
