/*
 * facelive C host example.
 *
 * Shows the whole life of a handle from a plain C program:
 *   1. create a handle from a config JSON and install a log callback,
 *   2. submit synthetic camera frames (a moving gradient, NV12 then BGRA,
 *      1280x720, rows padded the way real capture buffers are),
 *   3. fetch the processed frames and check them,
 *   4. read the metrics and shut down.
 *
 * The engine is built with the "none" swapper here, so it passes frames
 * through: every output must be byte-identical to the input frame with the
 * same pts. The program exits non-zero with a message on any mismatch.
 *
 * Build: see README.md next to this file.
 */
#include <facelive.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH        1280
#define HEIGHT       720
#define FRAMES       120        /* per pixel format */
#define FRAME_NS     33333333LL /* 30 fps */
#define GET_TIMEOUT  20         /* ms to wait for a processed frame */

/* ---- logging ------------------------------------------------------------- */

/* The library may call this from its own threads: keep it thread-safe and quick. */
static void on_log(int level, const char *msg, void *user)
{
    static const char *names[] = {"?", "error", "warn", "info", "debug"};
    (void)user;
    fprintf(stderr, "[facelive] %s %s\n", (level >= 1 && level <= 4) ? names[level] : "?", msg);
}

/* Prints the handle's last error (h = 0: the last error of a call without a handle). */
static void print_last_error(facelive_handle h, const char *what, int status)
{
    char msg[1024];
    facelive_last_error(h, msg, sizeof msg);
    fprintf(stderr, "c-host: %s failed with %d: %s\n", what, status, msg);
}

/* ---- frames ---------------------------------------------------------------- */

/* Bytes in one row of plane i, and rows in plane i (only the formats we use). */
static uint32_t row_bytes(uint32_t format, int plane, uint32_t w)
{
    if (format == FACELIVE_FORMAT_BGRA) return plane == 0 ? w * 4 : 0;
    if (format == FACELIVE_FORMAT_NV12) return plane < 2 ? w : 0; /* Y row, or interleaved UV row */
    return 0;
}

static uint32_t plane_rows(uint32_t format, int plane, uint32_t h)
{
    if (plane == 0) return h;
    if (format == FACELIVE_FORMAT_NV12 && plane == 1) return h / 2;
    return 0;
}

/* Capture APIs pad rows (to 64 bytes and beyond); round up and add 64 so
 * there is always padding here and the library must honour linesize. */
static uint32_t padded_stride(uint32_t row) { return ((row + 63u) & ~63u) + 64u; }

/* Allocates a frame description with its own planes (the caller owns them). */
static int alloc_frame(facelive_frame *f, uint32_t format, uint32_t w, uint32_t h)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof(facelive_frame);
    f->format = format;
    f->width = w;
    f->height = h;
    f->pts_ns = FACELIVE_PTS_NONE;
    for (int i = 0; i < 4 && row_bytes(format, i, w) > 0; i++) {
        f->linesize[i] = padded_stride(row_bytes(format, i, w));
        size_t size = (size_t)f->linesize[i] * plane_rows(format, i, h);
        f->data[i] = malloc(size);
        if (f->data[i] == NULL) return -1;
        memset(f->data[i], 0xEE, size); /* padding we never compare */
    }
    return 0;
}

static void free_frame(facelive_frame *f)
{
    for (int i = 0; i < 4; i++) free(f->data[i]);
    memset(f, 0, sizeof *f);
}

/* Draws frame number n of a gradient that moves a few pixels per frame. */
static void draw_gradient(facelive_frame *f, int64_t n)
{
    for (uint32_t y = 0; y < f->height; y++) {
        if (f->format == FACELIVE_FORMAT_BGRA) {
            uint8_t *p = f->data[0] + (size_t)y * f->linesize[0];
            for (uint32_t x = 0; x < f->width; x++) {
                p[4 * x + 0] = (uint8_t)(x + 8 * n);     /* B */
                p[4 * x + 1] = (uint8_t)(y + 4 * n);     /* G */
                p[4 * x + 2] = (uint8_t)(x + y + n);     /* R */
                p[4 * x + 3] = 255;                      /* A */
            }
        } else { /* NV12 */
            uint8_t *luma = f->data[0] + (size_t)y * f->linesize[0];
            for (uint32_t x = 0; x < f->width; x++) luma[x] = (uint8_t)(x + y + 8 * n);
            if (y % 2 == 0) {
                uint8_t *uv = f->data[1] + (size_t)(y / 2) * f->linesize[1];
                for (uint32_t x = 0; x < f->width; x += 2) {
                    uv[x + 0] = (uint8_t)(x + 4 * n); /* U */
                    uv[x + 1] = (uint8_t)(y + 2 * n); /* V */
                }
            }
        }
    }
}

/* Compares the meaningful bytes of every row (never the padding). */
static int same_pixels(const facelive_frame *a, const facelive_frame *b)
{
    for (int i = 0; i < 4; i++) {
        uint32_t row = row_bytes(a->format, i, a->width);
        for (uint32_t y = 0; y < plane_rows(a->format, i, a->height) && row > 0; y++) {
            if (memcmp(a->data[i] + (size_t)y * a->linesize[i], b->data[i] + (size_t)y * b->linesize[i], row) != 0)
                return 0;
        }
    }
    return 1;
}

/* ---- metrics --------------------------------------------------------------- */

/* Reads the integer value of "key" from a flat JSON text; enough for the
 * metrics' counters. Returns 0 and sets *ok = 0 when the key is missing. */
static long long json_int(const char *json, const char *key, int *ok)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    if (p == NULL) {
        *ok = 0;
        return 0;
    }
    p += strlen(pattern);
    while (*p == ' ') p++;
    return strtoll(p, NULL, 10);
}

/* ---- the stream ------------------------------------------------------------ */

static int64_t last_pts = FACELIVE_PTS_NONE;
static int outputs = 0;

/* Checks one output frame: pts increasing, pixels equal to the input with
 * that pts (regenerated into `expect`). Returns 0 when it is right. */
static int check_output(const facelive_frame *out, facelive_frame *expect)
{
    if (out->pts_ns <= last_pts) {
        fprintf(stderr, "c-host: pts %" PRId64 " came after %" PRId64 ": not strictly increasing\n", out->pts_ns, last_pts);
        return -1;
    }
    if (out->pts_ns % FRAME_NS != 0) {
        fprintf(stderr, "c-host: pts %" PRId64 " was never submitted\n", out->pts_ns);
        return -1;
    }
    last_pts = out->pts_ns;
    draw_gradient(expect, out->pts_ns / FRAME_NS);
    if (!same_pixels(out, expect)) {
        fprintf(stderr, "c-host: output frame pts %" PRId64 " differs from the frame submitted with it\n", out->pts_ns);
        return -1;
    }
    outputs++;
    return 0;
}

/* Submits FRAMES frames of one format, numbered from first, and fetches
 * what comes out. Returns 0 on success. */
static int run_stream(facelive_handle h, uint32_t format, int64_t first)
{
    facelive_frame in, out, expect;
    int rc = -1;
    if (alloc_frame(&in, format, WIDTH, HEIGHT) || alloc_frame(&out, format, WIDTH, HEIGHT) ||
        alloc_frame(&expect, format, WIDTH, HEIGHT)) {
        fprintf(stderr, "c-host: out of memory\n");
        goto done;
    }
    for (int64_t n = first; n < first + FRAMES; n++) {
        draw_gradient(&in, n);
        in.pts_ns = n * FRAME_NS;
        int st = facelive_submit_frame(h, &in);
        if (st < 0) {
            print_last_error(h, "facelive_submit_frame", st);
            goto done;
        }
        /* FACELIVE_EAGAIN: the skip policy dropped it (counted in the metrics). */

        st = facelive_get_frame(h, &out, GET_TIMEOUT);
        if (st == FACELIVE_OK) {
            if (check_output(&out, &expect)) goto done;
        } else if (st != FACELIVE_EAGAIN) {
            print_last_error(h, "facelive_get_frame", st);
            goto done;
        }
    }
    /* Drain what is still in the pipeline before the format changes. */
    for (;;) {
        int st = facelive_get_frame(h, &out, 200);
        if (st == FACELIVE_EAGAIN) break;
        if (st != FACELIVE_OK) {
            print_last_error(h, "facelive_get_frame", st);
            goto done;
        }
        if (check_output(&out, &expect)) goto done;
    }
    rc = 0;
done:
    free_frame(&in);
    free_frame(&out);
    free_frame(&expect);
    return rc;
}

int main(void)
{
    if (facelive_abi_version() != FACELIVE_ABI_VERSION) {
        fprintf(stderr, "c-host: library ABI %u, header ABI %d\n", facelive_abi_version(), FACELIVE_ABI_VERSION);
        return 1;
    }
    printf("c-host: %s\n", facelive_version_string());
    facelive_set_log_callback(on_log, NULL);

    char err[512];
    /* swapper "none": this example checks that frames come back byte for
     * byte. Drop it (the default is the photo swapper) to swap faces. */
    facelive_handle h = facelive_init("{\"mode\":\"realtime\",\"swapper\":{\"kind\":\"none\"}}", err, sizeof err);
    if (h == 0) {
        fprintf(stderr, "c-host: facelive_init failed: %s\n", err);
        return 1;
    }

    int failed = run_stream(h, FACELIVE_FORMAT_NV12, 0) || run_stream(h, FACELIVE_FORMAT_BGRA, FRAMES);

    char metrics[4096];
    int st = facelive_get_metrics(h, metrics, sizeof metrics);
    if (st != FACELIVE_OK) {
        print_last_error(h, "facelive_get_metrics", st);
        failed = 1;
    } else {
        printf("c-host: metrics %s\n", metrics);
        int ok = 1;
        long long submitted = json_int(metrics, "frames_submitted", &ok);
        long long output = json_int(metrics, "frames_output", &ok);
        long long dropped = json_int(metrics, "frames_dropped", &ok);
        long long in_flight = json_int(metrics, "in_flight", &ok);
        if (!ok) {
            fprintf(stderr, "c-host: metrics lack a frame counter\n");
            failed = 1;
        } else if (submitted != output + dropped + in_flight) {
            fprintf(stderr, "c-host: frames_submitted %lld != frames_output %lld + frames_dropped %lld + in_flight %lld\n",
                    submitted, output, dropped, in_flight);
            failed = 1;
        } else if (output != outputs) {
            fprintf(stderr, "c-host: frames_output %lld, but we fetched %d frames\n", output, outputs);
            failed = 1;
        }
    }

    st = facelive_shutdown(h);
    if (st != FACELIVE_OK) {
        print_last_error(0, "facelive_shutdown", st);
        failed = 1;
    }
    facelive_set_log_callback(NULL, NULL);

    if (failed) {
        fprintf(stderr, "c-host: FAILED\n");
        return 1;
    }
    printf("c-host: OK: %d of %d frames came back byte-identical, in pts order\n", outputs, 2 * FRAMES);
    return 0;
}
