/*
 * faces_test.c — a face for each person, through the public header only.
 *
 *   facelive-faces-test A.bgra B.bgra RED.png BLUE.png
 *
 * A and B are raw 300x300 BGRA crops of two real people (sample3.jpg, each
 * face centred), made by ctest's fixture with ffmpeg; RED and BLUE are the
 * same source photo (the astronaut) tinted red and blue. The test moves
 * the two people for 5 s at 30 fps on a grey 1280x720 frame (drift side to
 * side and bob, never crossing), with swapper.faces giving RED to the face
 * at position 0 (leftmost) and BLUE to position 1, colour transfer off so
 * that the tint shows. Every frame of the clip, each face must wear its own
 * source: the mean of R - B in the middle of the face moves up by more than
 * TINT_SEEN levels for RED, down for BLUE (an unswapped face: about 0).
 * The people are already moving when the measured clip starts: LEAD_IN
 * frames of the same motion come first, while the gate confirms the new
 * faces. (From a standstill, the tracker's slide check (main, 36f4503)
 * leaves the left face unpasted on the first frame that moves.)
 *
 * It also checks that matching by a reference photo is refused by
 * facelive_init without swapper.arcface_model, with a message naming it.
 *
 * Output: one line per failure (the first few), the worst shifts seen, then
 * "faces_test: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 1280, H = 720, STRIDE = W * 4, P = 300, FRAMES = 150, LEAD_IN = 10 };

/* The faces' side in the crops (px): sample3's boxes of 231 and 225 px,
 * scaled by 300/400. The middle measured is half of it around the centre. */
static const double FACE_SIDE = 170;
static const double TINT_SEEN = 25;

static int g_pass, g_fail, g_reported;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            g_pass++;                                                         \
        } else {                                                              \
            g_fail++;                                                         \
            if (g_reported++ < 10) {                                          \
                fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
                fprintf(stderr, __VA_ARGS__);                                 \
                fputc('\n', stderr);                                          \
            }                                                                 \
        }                                                                     \
    } while (0)

static uint8_t *read_raw(const char *path, size_t n)
{
    uint8_t *buf = malloc(n);
    FILE *fp = fopen(path, "rb");
    if (buf == NULL || fp == NULL || fread(buf, 1, n, fp) != n) {
        fprintf(stderr, "faces_test: cannot read %zu bytes from %s\n", n, path);
        exit(2);
    }
    fclose(fp);
    return buf;
}

/* Where the people are in frame i: the centres of their faces. */
static void place(int i, double c[2][2])
{
    const double pi = 3.14159265358979323846, s = i / 30.0;
    c[0][0] = 330 + 90 * sin(2 * pi * s / 5);
    c[0][1] = 360 + 40 * sin(2 * pi * s / 1.25);
    c[1][0] = 950 - 90 * sin(2 * pi * s / 5 + 0.7);
    c[1][1] = 360 + 40 * cos(2 * pi * s / 1.6);
}

/* render paints the two crops, centred on c, onto grey. */
static void render(uint8_t *dst, uint8_t *const crops[2], double c[2][2])
{
    memset(dst, 128, (size_t)STRIDE * H);
    for (int k = 0; k < 2; k++) {
        int x0 = (int)lround(c[k][0]) - P / 2, y0 = (int)lround(c[k][1]) - P / 2;
        for (int y = 0; y < P; y++)
            memcpy(dst + (size_t)(y0 + y) * STRIDE + 4 * (size_t)x0, crops[k] + (size_t)y * P * 4, (size_t)P * 4);
    }
}

/* red_shift is the mean change of R - B from in to out in the middle of
 * the face centred at (cx, cy). */
static double red_shift(const uint8_t *in, const uint8_t *out, double cx, double cy)
{
    int h = (int)(FACE_SIDE / 4), x0 = (int)lround(cx) - h, y0 = (int)lround(cy) - h;
    double sum = 0;
    for (int y = y0; y < y0 + 2 * h; y++) {
        const uint8_t *a = in + (size_t)y * STRIDE, *b = out + (size_t)y * STRIDE;
        for (int x = x0; x < x0 + 2 * h; x++)
            sum += ((double)b[4 * x + 2] - b[4 * x]) - ((double)a[4 * x + 2] - a[4 * x]);
    }
    return sum / (4.0 * h * h);
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

/* json_safe: the paths go into the config as they are. */
static int json_safe(const char *s)
{
    return strpbrk(s, "\"\\") == NULL;
}

static void run_clip(uint8_t *const crops[2], const char *red, const char *blue)
{
    char cfg[4096], err[1024];
    snprintf(cfg, sizeof cfg,
             "{\"mode\":\"quality\",\"merge\":{\"color_transfer\":\"none\"},\"swapper\":{\"kind\":\"photo\",\"faces\":["
             "{\"face\":\"%s\",\"match\":\"position\",\"index\":0},"
             "{\"face\":\"%s\",\"match\":\"position\",\"index\":1}]}}",
             red, blue);
    facelive_handle h = facelive_init(cfg, err, sizeof err);
    CHECK(h != 0, "init: %s", err);
    if (h == 0)
        return;
    uint8_t *in = malloc((size_t)STRIDE * H), *out = malloc((size_t)STRIDE * H);
    double worst[2] = {INFINITY, INFINITY};
    int frames = 0;
    for (int i = -LEAD_IN; i < FRAMES; i++) {
        double c[2][2];
        place(i, c);
        render(in, crops, c);
        facelive_frame fi, fo;
        int64_t pts = (int64_t)(i + LEAD_IN + 1) * (1000000000 / 30);
        describe(&fi, in, pts);
        int st = facelive_submit_frame(h, &fi);
        CHECK(st == FACELIVE_OK, "frame %d: submit: %d", i, st);
        describe(&fo, out, 0);
        st = facelive_get_frame(h, &fo, 60000);
        CHECK(st == FACELIVE_OK, "frame %d: get: %d", i, st);
        if (st != FACELIVE_OK) {
            facelive_last_error(h, err, sizeof err);
            fprintf(stderr, "    last_error: %s\n", err);
            break;
        }
        if (i < 0)
            continue;
        frames++;
        CHECK(fo.pts_ns == pts, "frame %d: pts %" PRId64 ", want %" PRId64, i, fo.pts_ns, pts);
        CHECK(fo.flags & FACELIVE_FRAME_PROCESSED, "frame %d: not processed", i);
        double red_side = red_shift(in, out, c[0][0], c[0][1]), blue_side = red_shift(in, out, c[1][0], c[1][1]);
        CHECK(red_side > TINT_SEEN, "frame %d: the left face (%.0f,%.0f) does not wear the red source: R-B shift %+.1f", i,
              c[0][0], c[0][1], red_side);
        CHECK(blue_side < -TINT_SEEN, "frame %d: the right face (%.0f,%.0f) does not wear the blue source: R-B shift %+.1f",
              i, c[1][0], c[1][1], blue_side);
        worst[0] = fmin(worst[0], red_side);
        worst[1] = fmin(worst[1], -blue_side);
    }
    printf("faces_test: %d frames; the least R-B shift toward its own source: left (red) %+.1f, right (blue) %+.1f (seen above %.0f)\n",
           frames, worst[0], worst[1], TINT_SEEN);
    CHECK(frames == FRAMES, "%d frames of %d came out", frames, FRAMES);
    CHECK(facelive_shutdown(h) == FACELIVE_OK, "shutdown");
    free(in);
    free(out);
}

/* A reference photo needs an ArcFace model: init refuses and says so. */
static void run_reference_refused(const char *photo)
{
    char cfg[4096], err[1024] = "";
    snprintf(cfg, sizeof cfg,
             "{\"swapper\":{\"faces\":[{\"face\":\"%s\",\"match\":\"reference\",\"reference\":\"%s\"}]}}", photo,
             photo);
    facelive_handle h = facelive_init(cfg, err, sizeof err);
    CHECK(h == 0, "init accepted a reference match without swapper.arcface_model");
    CHECK(strstr(err, "swapper.faces[0]") != NULL && strstr(err, "swapper.arcface_model") != NULL,
          "the message names neither the entry nor the fix: %s", err);
    if (h != 0)
        facelive_shutdown(h);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s A.bgra B.bgra RED.png BLUE.png (A, B: raw 300x300 BGRA)\n", argv[0]);
        return 2;
    }
    if (!json_safe(argv[3]) || !json_safe(argv[4])) {
        fprintf(stderr, "faces_test: the photo paths must not hold quotes or backslashes\n");
        return 2;
    }
    uint8_t *crops[2] = {read_raw(argv[1], (size_t)P * P * 4), read_raw(argv[2], (size_t)P * P * 4)};
    run_reference_refused(argv[3]);
    run_clip(crops, argv[3], argv[4]);
    free(crops[0]);
    free(crops[1]);
    printf("faces_test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
