/*
 * abi_test.c — the C ABI contract test of libfacelive.
 *
 * Plain C11 + pthreads against the public header only. Every assertion is
 * what include/facelive.h promises; where the library does something the
 * header does not promise, the test stays silent about it.
 *
 * Output: one line per failed CHECK (file:line, the expression, and the
 * last_error messages), one line per bad call (its code and message), and at
 * the end "abi_test: N passed, N failed". Exit status 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================== */
/* harness                                                                  */
/* ======================================================================== */

static atomic_int g_pass;
static atomic_int g_fail;
static _Thread_local facelive_handle g_handle; /* whose last_error a failure prints */

static void print_errors(void)
{
    char msg[1024];
    if (g_handle != 0) {
        int st = facelive_last_error(g_handle, msg, sizeof msg);
        fprintf(stderr, "    last_error(h=%" PRIu64 ") [%d]: %s\n", g_handle, st, msg);
    }
    facelive_last_error(0, msg, sizeof msg);
    fprintf(stderr, "    last_error(0): %s\n", msg);
}

static int check_impl(int ok, const char *expr, const char *file, int line)
{
    if (ok) {
        atomic_fetch_add(&g_pass, 1);
        return 1;
    }
    atomic_fetch_add(&g_fail, 1);
    fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
    print_errors();
    return 0;
}

/* CHECK(cond): counts a pass or prints the failure. Evaluates to cond. */
#define CHECK(cond) check_impl((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

/* CHECK_ST(call, want): a status code, printing got vs want on failure. */
static int check_st_impl(int got, int want, const char *expr, const char *file, int line)
{
    if (got == want) {
        atomic_fetch_add(&g_pass, 1);
        return 1;
    }
    atomic_fetch_add(&g_fail, 1);
    fprintf(stderr, "FAIL %s:%d: %s returned %d, want %d\n", file, line, expr, got, want);
    print_errors();
    return 0;
}
#define CHECK_ST(call, want) check_st_impl((call), (want), #call, __FILE__, __LINE__)

/* A failure noted by a worker thread, printed at most a few times. */
static void thread_fail(atomic_int *counter, const char *fmt, ...)
{
    if (atomic_fetch_add(counter, 1) < 5) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "    thread: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void section(const char *name)
{
    printf("--- %s\n", name);
    fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- bad calls ------------------------------------------------------------- */

static int g_bad_calls;

/*
 * One bad call: its status must be `want`, and facelive_last_error(errh)
 * must return a non-empty message, which must contain `hint` when given
 * (the header promises the message names the key, path or size). Prints the
 * message so reviewers can judge it.
 */
static void bad_impl(const char *what, int got, int want, facelive_handle errh, const char *hint, const char *file,
                     int line)
{
    char msg[2048];
    int st = facelive_last_error(errh, msg, sizeof msg);
    g_bad_calls++;
    printf("  bad #%-2d %-62s -> %3d  \"%s\"\n", g_bad_calls, what, got, msg);
    if (got != want) {
        atomic_fetch_add(&g_fail, 1);
        fprintf(stderr, "FAIL %s:%d: %s returned %d, want %d\n", file, line, what, got, want);
        print_errors();
    } else {
        atomic_fetch_add(&g_pass, 1);
    }
    /* last_error on a handle that was shut down returns EBADHANDLE with the reason. */
    check_impl(st == FACELIVE_OK || st == FACELIVE_EBADHANDLE, "last_error status is OK/EBADHANDLE", file, line);
    check_impl(msg[0] != '\0', "last_error message is not empty", file, line);
    if (hint != NULL && strstr(msg, hint) == NULL) {
        atomic_fetch_add(&g_fail, 1);
        fprintf(stderr, "FAIL %s:%d: %s: message does not mention \"%s\"\n", file, line, what, hint);
    }
}
#define BAD(what, call, want, errh, hint) bad_impl(what, (call), (want), (errh), (hint), __FILE__, __LINE__)

/* ======================================================================== */
/* frames                                                                   */
/* ======================================================================== */

static int nplanes(uint32_t fmt)
{
    switch (fmt) {
    case FACELIVE_FORMAT_NV12: return 2;
    case FACELIVE_FORMAT_I420: return 3;
    case FACELIVE_FORMAT_BGRA:
    case FACELIVE_FORMAT_RGBA:
    case FACELIVE_FORMAT_BGRX:
    case FACELIVE_FORMAT_BGR24:
    case FACELIVE_FORMAT_RGB24:
    case FACELIVE_FORMAT_YUY2: return 1;
    }
    return 0;
}

/* The header's plane table: bytes per row and rows of plane i. */
static uint32_t row_bytes(uint32_t fmt, int plane, uint32_t w)
{
    switch (fmt) {
    case FACELIVE_FORMAT_BGRA:
    case FACELIVE_FORMAT_RGBA:
    case FACELIVE_FORMAT_BGRX: return plane == 0 ? w * 4 : 0;
    case FACELIVE_FORMAT_BGR24:
    case FACELIVE_FORMAT_RGB24: return plane == 0 ? w * 3 : 0;
    case FACELIVE_FORMAT_YUY2: return plane == 0 ? w * 2 : 0;
    case FACELIVE_FORMAT_NV12: return plane < 2 ? w : 0;
    case FACELIVE_FORMAT_I420: return plane == 0 ? w : plane < 3 ? w / 2 : 0;
    }
    return 0;
}

static uint32_t plane_rows(uint32_t fmt, int plane, uint32_t h)
{
    if (plane >= nplanes(fmt)) return 0;
    return plane == 0 ? h : h / 2;
}

static const char *format_name(uint32_t fmt)
{
    static const char *names[] = {"UNKNOWN", "BGRA", "RGBA", "BGRX", "BGR24", "RGB24", "NV12", "I420", "YUY2"};
    return fmt < 9 ? names[fmt] : "?";
}

/*
 * Allocates a frame whose planes are separate mallocs with
 * linesize = row + pad. The last row is not padded: the buffer is exactly
 * (rows-1)*linesize + row bytes, so an over-read shows up under valgrind.
 */
static void frame_alloc(facelive_frame *f, uint32_t fmt, uint32_t w, uint32_t h, uint32_t pad)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof(facelive_frame);
    f->format = fmt;
    f->width = w;
    f->height = h;
    f->pts_ns = 0;
    for (int i = 0; i < nplanes(fmt); i++) {
        uint32_t row = row_bytes(fmt, i, w), rows = plane_rows(fmt, i, h);
        f->linesize[i] = row + pad;
        size_t size = (size_t)(rows - 1) * f->linesize[i] + row;
        f->data[i] = malloc(size);
        if (f->data[i] == NULL) {
            fprintf(stderr, "abi_test: out of memory\n");
            exit(2);
        }
        memset(f->data[i], 0xA5, size); /* padding bytes keep this value */
    }
}

static void frame_free(facelive_frame *f)
{
    for (int i = 0; i < 4; i++) free(f->data[i]);
    memset(f, 0, sizeof *f);
}

static uint8_t pattern(uint32_t seed, int plane, uint32_t x, uint32_t y)
{
    return (uint8_t)(seed * 131u + (uint32_t)plane * 71u + x * 7u + y * 13u + (x * y >> 3));
}

/* Fills every row's meaningful bytes with a pattern derived from seed. */
static void frame_fill(facelive_frame *f, uint32_t seed)
{
    for (int i = 0; i < nplanes(f->format); i++) {
        uint32_t row = row_bytes(f->format, i, f->width);
        for (uint32_t y = 0; y < plane_rows(f->format, i, f->height); y++) {
            uint8_t *p = f->data[i] + (size_t)y * f->linesize[i];
            for (uint32_t x = 0; x < row; x++) p[x] = pattern(seed, i, x, y);
        }
    }
}

/* Whether every row's meaningful bytes equal the pattern of seed. */
static int frame_matches(const facelive_frame *f, uint32_t seed)
{
    for (int i = 0; i < nplanes(f->format); i++) {
        uint32_t row = row_bytes(f->format, i, f->width);
        for (uint32_t y = 0; y < plane_rows(f->format, i, f->height); y++) {
            const uint8_t *p = f->data[i] + (size_t)y * f->linesize[i];
            for (uint32_t x = 0; x < row; x++)
                if (p[x] != pattern(seed, i, x, y)) return 0;
        }
    }
    return 1;
}

/* Whether the padding after each row (but the last) still holds 0xA5. */
static int padding_untouched(const facelive_frame *f)
{
    for (int i = 0; i < nplanes(f->format); i++) {
        uint32_t row = row_bytes(f->format, i, f->width);
        for (uint32_t y = 0; y + 1 < plane_rows(f->format, i, f->height); y++) {
            const uint8_t *p = f->data[i] + (size_t)y * f->linesize[i];
            for (uint32_t x = row; x < f->linesize[i]; x++)
                if (p[x] != 0xA5) return 0;
        }
    }
    return 1;
}

/* ---- small JSON and text helpers ----------------------------------------- */

/* The integer value of "key" in a flat JSON object; *ok = 0 when missing. */
static long long json_int(const char *json, const char *key, int *ok)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (p == NULL) {
        *ok = 0;
        return 0;
    }
    p += strlen(pat);
    while (*p == ' ') p++;
    return strtoll(p, NULL, 10);
}

typedef struct {
    long long submitted, output, dropped, in_flight, refused;
} counters;

/* Reads the four frame counters; returns the get_metrics status, or -100 when a key is missing. */
static int read_counters(facelive_handle h, counters *c)
{
    char buf[8192];
    int st = facelive_get_metrics(h, buf, sizeof buf);
    if (st != FACELIVE_OK) return st;
    int ok = 1;
    c->submitted = json_int(buf, "frames_submitted", &ok);
    c->output = json_int(buf, "frames_output", &ok);
    c->dropped = json_int(buf, "frames_dropped", &ok);
    c->in_flight = json_int(buf, "in_flight", &ok);
    c->refused = json_int(buf, "frames_refused", &ok);
    return ok ? FACELIVE_OK : -100;
}

static int invariant_holds(const counters *c)
{
    return c->submitted == c->output + c->dropped + c->in_flight;
}

/* Whether the text contains a decimal number >= min. */
static int mentions_number_at_least(const char *s, long long min)
{
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9' && (p == s || p[-1] < '0' || p[-1] > '9')) {
            if (strtoll(p, NULL, 10) >= min) return 1;
        }
    }
    return 0;
}

static void get_config_str(facelive_handle h, char *buf, size_t len)
{
    buf[0] = '\0';
    CHECK_ST(facelive_get_config(h, buf, len), FACELIVE_OK);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fputs(text, f);
    return fclose(f);
}

static char g_tmpdir[64];

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_tmpdir, name);
}

/* ---- log callback -------------------------------------------------------- */

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_log_calls;
static int g_log_started; /* saw "pipeline started" */
static int g_log_bad_level;
static char g_log_first[256];
static int g_log_user_ok = 1;
static int g_log_tag;

static void on_log(int level, const char *msg, void *user)
{
    pthread_mutex_lock(&g_log_mu);
    g_log_calls++;
    if (user != &g_log_tag) g_log_user_ok = 0;
    if (level < FACELIVE_LOG_ERROR || level > FACELIVE_LOG_DEBUG) g_log_bad_level++;
    if (msg != NULL && strstr(msg, "pipeline started") != NULL) g_log_started = 1;
    if (g_log_first[0] == '\0' && msg != NULL) snprintf(g_log_first, sizeof g_log_first, "%d %s", level, msg);
    pthread_mutex_unlock(&g_log_mu);
}

/* ======================================================================== */
/* 1. happy path: every function at least once                              */
/* ======================================================================== */

/* Submits a frame of fmt/size with padded input rows and fetches it into
 * an output whose linesize uses out_pad; checks every row and the pts. */
static void round_trip(facelive_handle h, uint32_t fmt, uint32_t w, uint32_t hgt, uint32_t in_pad, uint32_t out_pad,
                       int64_t pts)
{
    facelive_frame in, out;
    frame_alloc(&in, fmt, w, hgt, in_pad);
    frame_alloc(&out, fmt, w, hgt, out_pad);
    uint32_t seed = (uint32_t)pts;
    frame_fill(&in, seed);
    in.pts_ns = pts;
    out.pts_ns = 12345;
    int st_in = facelive_submit_frame(h, &in);
    /* The caller may reuse the memory at once: scribble over it. */
    frame_fill(&in, seed + 1);
    int st_out = facelive_get_frame(h, &out, 3000);
    int ok = CHECK_ST(st_in, FACELIVE_OK) & CHECK_ST(st_out, FACELIVE_OK) & CHECK(out.pts_ns == pts) &
             CHECK(frame_matches(&out, seed)) & CHECK(padding_untouched(&out));
    printf("  round trip %-5s %ux%u in linesize %u out linesize %u: %s\n", format_name(fmt), w, hgt, in.linesize[0],
           out.linesize[0], ok ? "ok" : "FAILED");
    frame_free(&in);
    frame_free(&out);
}

static void test_happy_path(void)
{
    section("test_happy_path");
    g_handle = 0;
    CHECK(facelive_abi_version() == FACELIVE_ABI_VERSION);
    const char *v = facelive_version_string();
    CHECK(v != NULL && v[0] != '\0');
    CHECK(v == facelive_version_string() || (v != NULL && strcmp(v, facelive_version_string()) == 0));
    printf("  version: %s\n", v ? v : "(null)");

    facelive_set_log_callback(on_log, &g_log_tag);

    char err[256] = "untouched";
    facelive_handle hn = facelive_init(NULL, err, sizeof err);
    CHECK(hn != 0);
    /* The ABI copies are checked byte for byte on a pass-through handle: with
     * a swapper, a pattern the detector takes for a face would be changed. */
    facelive_handle h = facelive_init("{\"swapper\":{\"kind\":\"none\"}}", NULL, 0);
    CHECK(h != 0);
    CHECK(h != hn);
    g_handle = h;
    if (h == 0 || hn == 0) return;

    /* Every format, padded input rows (row + 13), separately malloc'd planes. */
    static const struct {
        uint32_t fmt, w, h;
    } formats[] = {
        {FACELIVE_FORMAT_BGRA, 641, 359}, {FACELIVE_FORMAT_RGBA, 641, 359}, {FACELIVE_FORMAT_BGRX, 641, 359},
        {FACELIVE_FORMAT_BGR24, 641, 359}, {FACELIVE_FORMAT_RGB24, 641, 359}, {FACELIVE_FORMAT_NV12, 640, 358},
        {FACELIVE_FORMAT_I420, 640, 358}, {FACELIVE_FORMAT_YUY2, 640, 359},
    };
    int64_t pts = 1000;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        round_trip(h, formats[i].fmt, formats[i].w, formats[i].h, 13, 13, pts++);
        round_trip(h, formats[i].fmt, formats[i].w, formats[i].h, 13, 0, pts++);  /* tight output */
        round_trip(h, formats[i].fmt, formats[i].w, formats[i].h, 0, 71, pts++);  /* tight input */
    }
    /* The handle from init(NULL) works too, and negative pts are carried. */
    round_trip(hn, FACELIVE_FORMAT_NV12, 64, 48, 13, 13, -5);
    /* Size edges: 1x1 and the maximum dimension. */
    round_trip(h, FACELIVE_FORMAT_BGRA, 1, 1, 0, 3, pts++);
    round_trip(h, FACELIVE_FORMAT_BGR24, FACELIVE_MAX_DIMENSION, 2, 5, 0, pts++);
    round_trip(h, FACELIVE_FORMAT_I420, 2, FACELIVE_MAX_DIMENSION, 13, 1, pts++);

    /* A struct_size larger than ours (a later ABI appending fields) is accepted. */
    {
        facelive_frame in, out;
        frame_alloc(&in, FACELIVE_FORMAT_BGRA, 32, 8, 0);
        frame_alloc(&out, FACELIVE_FORMAT_BGRA, 32, 8, 0);
        frame_fill(&in, 77);
        in.pts_ns = 77;
        in.struct_size = sizeof(facelive_frame) + 16;
        out.struct_size = sizeof(facelive_frame) + 16;
        CHECK_ST(facelive_submit_frame(h, &in), FACELIVE_OK);
        CHECK_ST(facelive_get_frame(h, &out, 3000), FACELIVE_OK);
        CHECK(out.pts_ns == 77 && frame_matches(&out, 77));
        frame_free(&in);
        frame_free(&out);
    }

    /* Config: partial set, get, save, load. */
    char cfg[8192], cfg2[8192];
    CHECK_ST(facelive_set_config(h, "{\"mode\":\"balanced\"}"), FACELIVE_OK);
    get_config_str(h, cfg, sizeof cfg);
    CHECK(strstr(cfg, "balanced") != NULL);
    CHECK(strstr(cfg, "\"swapper\"") != NULL); /* the whole config, not just the partial one */
    printf("  config: %s\n", cfg);

    char path[256];
    tmp_path(path, sizeof path, "saved.json");
    CHECK_ST(facelive_save_config(h, path), FACELIVE_OK);
    CHECK(access(path, R_OK) == 0);
    CHECK_ST(facelive_set_config(h, "{\"mode\":\"quality\",\"skip\":\"drop_newest\"}"), FACELIVE_OK);
    get_config_str(h, cfg2, sizeof cfg2);
    CHECK(strstr(cfg2, "quality") != NULL && strcmp(cfg, cfg2) != 0);
    CHECK_ST(facelive_load_config(h, path), FACELIVE_OK);
    get_config_str(h, cfg2, sizeof cfg2);
    CHECK(strcmp(cfg, cfg2) == 0);
    /* The saved file configures a new handle identically. */
    {
        FILE *f = fopen(path, "r");
        char text[8192] = "";
        if (CHECK(f != NULL)) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        facelive_handle h2 = facelive_init(text, err, sizeof err);
        if (CHECK(h2 != 0)) {
            get_config_str(h2, cfg2, sizeof cfg2);
            CHECK(strcmp(cfg, cfg2) == 0);
            CHECK_ST(facelive_shutdown(h2), FACELIVE_OK);
        }
    }

    /* Metrics. */
    char metrics[8192];
    CHECK_ST(facelive_get_metrics(h, metrics, sizeof metrics), FACELIVE_OK);
    printf("  metrics: %s\n", metrics);
    counters c;
    CHECK_ST(read_counters(h, &c), FACELIVE_OK);
    CHECK(invariant_holds(&c));
    CHECK(c.output >= 24);

    /* last_error with a big buffer is OK, on a handle and globally. */
    char msg[1024];
    CHECK_ST(facelive_last_error(h, msg, sizeof msg), FACELIVE_OK);
    CHECK_ST(facelive_last_error(0, msg, sizeof msg), FACELIVE_OK);

    CHECK_ST(facelive_shutdown(hn), FACELIVE_OK);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);

    /* Handles are never reused. */
    facelive_handle h3 = facelive_init("{}", err, sizeof err);
    CHECK(h3 != 0 && h3 != h && h3 != hn);
    CHECK_ST(facelive_shutdown(h3), FACELIVE_OK);

    pthread_mutex_lock(&g_log_mu);
    int calls = g_log_calls, started = g_log_started, bad_level = g_log_bad_level, user_ok = g_log_user_ok;
    printf("  log callback: %d calls, first: \"%s\", saw \"pipeline started\": %s\n", calls, g_log_first,
           started ? "yes" : "no");
    pthread_mutex_unlock(&g_log_mu);
    CHECK(calls > 0);
    CHECK(bad_level == 0);
    CHECK(user_ok);

    /* Removing the callback stops the calls. */
    facelive_set_log_callback(NULL, NULL);
    pthread_mutex_lock(&g_log_mu);
    calls = g_log_calls;
    pthread_mutex_unlock(&g_log_mu);
    facelive_handle h4 = facelive_init("{}", err, sizeof err);
    CHECK(h4 != 0);
    CHECK_ST(facelive_shutdown(h4), FACELIVE_OK);
    pthread_mutex_lock(&g_log_mu);
    CHECK(g_log_calls == calls);
    pthread_mutex_unlock(&g_log_mu);
    facelive_set_log_callback(on_log, &g_log_tag);
    g_handle = 0;
}

/* ======================================================================== */
/* 2. bad calls                                                             */
/* ======================================================================== */

static void bad_frames(facelive_handle h)
{
    facelive_frame good, nv12, i420, yuy2, f;
    frame_alloc(&good, FACELIVE_FORMAT_BGRA, 64, 48, 8);
    frame_alloc(&nv12, FACELIVE_FORMAT_NV12, 64, 48, 8);
    frame_alloc(&i420, FACELIVE_FORMAT_I420, 64, 48, 8);
    frame_alloc(&yuy2, FACELIVE_FORMAT_YUY2, 64, 48, 8);

    BAD("submit_frame(h, NULL)", facelive_submit_frame(h, NULL), FACELIVE_EINVAL, h, NULL);
    BAD("get_frame(h, NULL, 0)", facelive_get_frame(h, NULL, 0), FACELIVE_EINVAL, h, NULL);
    BAD("get_frame(h, NULL, 100)", facelive_get_frame(h, NULL, 100), FACELIVE_EINVAL, h, NULL);

    f = good; f.data[0] = NULL;
    BAD("submit BGRA with data[0] NULL", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.data[1] = NULL;
    BAD("submit NV12 with data[1] NULL", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = i420; f.data[2] = NULL;
    BAD("submit I420 with data[2] NULL", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.struct_size = 0;
    BAD("submit struct_size 0", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.struct_size = offsetof(facelive_frame, pts_ns); /* a header without pts */
    BAD("submit struct_size without pts_ns", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.color_matrix = 7;
    BAD("submit color_matrix 7", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, "color_matrix");
    f = nv12; f.color_range = 2;
    BAD("submit color_range 2", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, "color_range");
    f = good; f.width = 0;
    BAD("submit width 0", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.height = 0;
    BAD("submit height 0", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.width = FACELIVE_MAX_DIMENSION + 1; f.linesize[0] = f.width * 4;
    BAD("submit width 16385", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.height = FACELIVE_MAX_DIMENSION + 1;
    BAD("submit height 16385", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.width = 0xFFFFFFFFu; f.height = 0xFFFFFFFFu;
    BAD("submit width/height 0xFFFFFFFF", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.width = 63;
    BAD("submit NV12 odd width 63", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = i420; f.width = 63;
    BAD("submit I420 odd width 63", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = yuy2; f.width = 63;
    BAD("submit YUY2 odd width 63", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.height = 47;
    BAD("submit NV12 odd height 47", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = i420; f.height = 47;
    BAD("submit I420 odd height 47", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.linesize[0] = 64 * 4 - 1;
    BAD("submit BGRA linesize[0] = row-1", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.linesize[0] = 0;
    BAD("submit BGRA linesize[0] = 0", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.linesize[0] = 63;
    BAD("submit NV12 linesize[0] = row-1", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = nv12; f.linesize[1] = 63;
    BAD("submit NV12 linesize[1] = row-1", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = i420; f.linesize[2] = 31;
    BAD("submit I420 linesize[2] = w/2-1", facelive_submit_frame(h, &f), FACELIVE_EINVAL, h, NULL);
    f = good; f.format = FACELIVE_FORMAT_UNKNOWN;
    BAD("submit format 0 (UNKNOWN)", facelive_submit_frame(h, &f), FACELIVE_EFORMAT, h, NULL);
    f = good; f.format = 99;
    BAD("submit format 99", facelive_submit_frame(h, &f), FACELIVE_EFORMAT, h, NULL);

    /* Bad output descriptions. pts_ns is left alone only when out is invalid. */
    f = good; f.struct_size = 0;
    BAD("get_frame out struct_size 0", facelive_get_frame(h, &f, 0), FACELIVE_EINVAL, h, NULL);
    f = good; f.data[0] = NULL;
    BAD("get_frame out data[0] NULL", facelive_get_frame(h, &f, 0), FACELIVE_EINVAL, h, NULL);
    f = good; f.linesize[0] = 4;
    BAD("get_frame out linesize[0] < row", facelive_get_frame(h, &f, 0), FACELIVE_EINVAL, h, NULL);
    f = good; f.format = 99;
    BAD("get_frame out format 99", facelive_get_frame(h, &f, 0), FACELIVE_EFORMAT, h, NULL);

    /* Nothing submitted: EAGAIN (not an error) and pts = NONE. */
    f = good; f.pts_ns = 42;
    CHECK_ST(facelive_get_frame(h, &f, 0), FACELIVE_EAGAIN);
    CHECK(f.pts_ns == FACELIVE_PTS_NONE);
    f.pts_ns = 42;
    double t0 = now_s();
    CHECK_ST(facelive_get_frame(h, &f, 100), FACELIVE_EAGAIN);
    CHECK(f.pts_ns == FACELIVE_PTS_NONE);
    printf("  get_frame(timeout 100 ms) with nothing submitted: EAGAIN after %.0f ms\n", (now_s() - t0) * 1000);

    /* The output must match the frame: a wrong size or format is EFORMAT,
     * names both, and the frame stays for the next call. */
    facelive_frame small, wrongfmt;
    frame_alloc(&small, FACELIVE_FORMAT_BGRA, 32, 48, 0);
    frame_alloc(&wrongfmt, FACELIVE_FORMAT_RGBA, 64, 48, 8);
    frame_fill(&good, 500);
    good.pts_ns = 500;
    CHECK_ST(facelive_submit_frame(h, &good), FACELIVE_OK);
    small.pts_ns = 1;
    BAD("get_frame out 32x48, frame 64x48", facelive_get_frame(h, &small, 3000), FACELIVE_EFORMAT, h, "32x48");
    CHECK(small.pts_ns == FACELIVE_PTS_NONE);
    {
        char msg[1024];
        facelive_last_error(h, msg, sizeof msg);
        CHECK(strstr(msg, "64x48") != NULL); /* names both */
    }
    wrongfmt.pts_ns = 1;
    BAD("get_frame out RGBA, frame BGRA", facelive_get_frame(h, &wrongfmt, 3000), FACELIVE_EFORMAT, h, "RGBA");
    CHECK(wrongfmt.pts_ns == FACELIVE_PTS_NONE);
    f = good;
    frame_alloc(&f, FACELIVE_FORMAT_BGRA, 64, 48, 3);
    CHECK_ST(facelive_get_frame(h, &f, 0), FACELIVE_OK); /* kept: still there */
    CHECK(f.pts_ns == 500 && frame_matches(&f, 500));
    CHECK_ST(facelive_get_frame(h, &f, 0), FACELIVE_EAGAIN);
    frame_free(&f);
    frame_free(&small);
    frame_free(&wrongfmt);

    frame_free(&good);
    frame_free(&nv12);
    frame_free(&i420);
    frame_free(&yuy2);
}

static void bad_init(void)
{
    char err[512];
    char last[512];
    facelive_handle h;

    struct {
        const char *what, *json, *hint;
    } cases[] = {
        {"init broken JSON", "{\"mode\": ", NULL},
        {"init not an object", "[1,2]", NULL},
        {"init empty string", "", NULL},
        {"init unknown key", "{\"bogus_key\": 1}", "bogus_key"},
        {"init unknown nested key", "{\"swapper\": {\"foo\": 1}}", "swapper.foo"},
        {"init out-of-range value", "{\"target_fps\": 1000}", "target_fps"},
        {"init bad enum value", "{\"mode\": \"turbo\"}", "mode"},
        {"init wrong type", "{\"workers\": \"two\"}", "workers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(err, 'x', sizeof err);
        err[sizeof err - 1] = '\0';
        h = facelive_init(cases[i].json, err, sizeof err);
        char what[128];
        snprintf(what, sizeof what, "%s %s -> handle %" PRIu64, cases[i].what, cases[i].json, h);
        BAD(what, h == 0 ? FACELIVE_EINVAL : FACELIVE_OK, FACELIVE_EINVAL, 0, cases[i].hint);
        /* The same message in err and in last_error(0). */
        facelive_last_error(0, last, sizeof last);
        CHECK(err[0] != '\0' && strcmp(err, last) == 0);
        if (h != 0) facelive_shutdown(h);
    }

    /* A small err buffer is truncated and NUL-terminated. */
    memset(err, 'x', sizeof err);
    h = facelive_init("{\"bogus_key\": 1}", err, 8);
    BAD("init unknown key, errlen 8", h == 0 ? FACELIVE_EINVAL : FACELIVE_OK, FACELIVE_EINVAL, 0, "bogus_key");
    CHECK(memchr(err, '\0', 8) != NULL);
    CHECK(strlen(err) == 7);
    CHECK(err[8] == 'x');
    /* NULL err: the message is still in last_error(0). */
    h = facelive_init("{\"mode\": 7}", NULL, 0);
    BAD("init wrong type, err NULL", h == 0 ? FACELIVE_EINVAL : FACELIVE_OK, FACELIVE_EINVAL, 0, "mode");
    /* A file the config names is missing: init fails (EMODEL for set_config). */
    h = facelive_init("{\"swapper\": {\"face\": \"/nonexistent/face.png\"}}", err, sizeof err);
    BAD("init swapper.face missing file", h == 0 ? FACELIVE_EINVAL : FACELIVE_OK, FACELIVE_EINVAL, 0,
        "/nonexistent/face.png");
    if (h != 0) facelive_shutdown(h);
}

static void bad_config(facelive_handle h)
{
    char before[8192], after[8192], msg[1024];
    get_config_str(h, before, sizeof before);

    struct {
        const char *what, *json;
        int want;
        const char *hint;
    } cases[] = {
        {"set_config broken JSON", "{\"mode\": \"balanced\"", FACELIVE_EINVAL, NULL},
        {"set_config trailing garbage", "{\"mode\": \"balanced\"} x", FACELIVE_EINVAL, NULL},
        {"set_config not an object", "\"balanced\"", FACELIVE_EINVAL, NULL},
        {"set_config unknown nested key swapper.foo", "{\"swapper\": {\"foo\": 1}}", FACELIVE_EINVAL, "swapper.foo"},
        {"set_config unknown key, valid key first", "{\"mode\":\"batch\",\"zzz\":1}", FACELIVE_EINVAL, "zzz"},
        {"set_config wrong type", "{\"workers\": \"two\"}", FACELIVE_EINVAL, "workers"},
        {"set_config wrong type (object for enum)", "{\"mode\": {}}", FACELIVE_EINVAL, "mode"},
        {"set_config out of range", "{\"detector\": {\"threshold\": 2}}", FACELIVE_EINVAL, "detector.threshold"},
        {"set_config non-integer int", "{\"workers\": 1.5}", FACELIVE_EINVAL, "workers"},
        {"set_config bad enum", "{\"mode\": \"balanced \"}", FACELIVE_EINVAL, "mode"},
        {"set_config missing named file", "{\"swapper\": {\"face\": \"/nonexistent/face.png\"}}", FACELIVE_EMODEL,
         "/nonexistent/face.png"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s %s", cases[i].what, cases[i].json);
        BAD(what, facelive_set_config(h, cases[i].json), cases[i].want, h, cases[i].hint);
        get_config_str(h, after, sizeof after);
        CHECK(strcmp(before, after) == 0); /* nothing changed */
    }
    BAD("set_config(h, NULL)", facelive_set_config(h, NULL), FACELIVE_EINVAL, h, NULL);

    /* Buffers too small: ERANGE, buf = "", message says the size needed. */
    char small[4] = "abc";
    size_t need = strlen(before) + 1;
    BAD("get_config 4-byte buffer", facelive_get_config(h, small, sizeof small), FACELIVE_ERANGE, h, NULL);
    CHECK(small[0] == '\0');
    facelive_last_error(h, msg, sizeof msg);
    {
        char num[32];
        snprintf(num, sizeof num, "%zu", need);
        CHECK(strstr(msg, num) != NULL);
    }
    memcpy(small, "abc", 4);
    BAD("get_metrics 4-byte buffer", facelive_get_metrics(h, small, sizeof small), FACELIVE_ERANGE, h, NULL);
    CHECK(small[0] == '\0');
    facelive_last_error(h, msg, sizeof msg);
    CHECK(mentions_number_at_least(msg, 100));
    /* Exactly strlen bytes (no room for the NUL) is still too small; +1 fits. */
    char *exact = malloc(need);
    if (CHECK(exact != NULL)) {
        BAD("get_config buffer of strlen(json) bytes", facelive_get_config(h, exact, need - 1), FACELIVE_ERANGE, h,
            NULL);
        CHECK(exact[0] == '\0');
        CHECK_ST(facelive_get_config(h, exact, need), FACELIVE_OK);
        CHECK(strcmp(exact, before) == 0);
        free(exact);
    }
    BAD("get_config(h, NULL, 100)", facelive_get_config(h, NULL, 100), FACELIVE_EINVAL, h, NULL);
    BAD("get_config(h, buf, 0)", facelive_get_config(h, small, 0), FACELIVE_EINVAL, h, NULL);
    BAD("get_metrics(h, NULL, 100)", facelive_get_metrics(h, NULL, 100), FACELIVE_EINVAL, h, NULL);
    BAD("get_metrics(h, buf, 0)", facelive_get_metrics(h, small, 0), FACELIVE_EINVAL, h, NULL);

    /* last_error truncation: ERANGE and NUL-terminated. */
    facelive_set_config(h, "{\"bogus_key_for_a_long_message\": 1}");
    char full[1024];
    CHECK_ST(facelive_last_error(h, full, sizeof full), FACELIVE_OK);
    CHECK(strlen(full) > 4);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    CHECK_ST(facelive_last_error(h, tiny, 4), FACELIVE_ERANGE);
    CHECK(tiny[3] == '\0' && strlen(tiny) == 3 && strncmp(tiny, full, 3) == 0);
    CHECK(tiny[4] == 'x');
    tiny[0] = 'x';
    CHECK_ST(facelive_last_error(h, tiny, 1), FACELIVE_ERANGE);
    CHECK(tiny[0] == '\0');
    CHECK_ST(facelive_last_error(0, tiny, 4), FACELIVE_ERANGE); /* the global one is long, too */
    CHECK(strlen(tiny) == 3);
    printf("  last_error(h, buf, 4) -> ERANGE \"%s\"  (full: \"%s\")\n", tiny, full);
    BAD("last_error(h, NULL, 100)", facelive_last_error(h, NULL, 100), FACELIVE_EINVAL, 0, NULL);
    BAD("last_error(h, buf, 0)", facelive_last_error(h, tiny, 0), FACELIVE_EINVAL, 0, NULL);

    /* Files. */
    char path[256], missing_dir[300];
    snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir/config.json", g_tmpdir);
    BAD("save_config into a nonexistent directory", facelive_save_config(h, missing_dir), FACELIVE_EINVAL, h,
        missing_dir);
    CHECK(access(missing_dir, F_OK) != 0);
    BAD("save_config(h, NULL)", facelive_save_config(h, NULL), FACELIVE_EINVAL, h, NULL);
    BAD("save_config(h, \"\")", facelive_save_config(h, ""), FACELIVE_EINVAL, h, NULL);
    BAD("save_config onto a directory", facelive_save_config(h, g_tmpdir), FACELIVE_EINVAL, h, NULL);

    tmp_path(path, sizeof path, "missing.json");
    BAD("load_config of a missing file", facelive_load_config(h, path), FACELIVE_EINVAL, h, path);
    tmp_path(path, sizeof path, "broken.json");
    write_file(path, "{\"mode\": \"batch\", ");
    BAD("load_config of broken JSON", facelive_load_config(h, path), FACELIVE_EINVAL, h, path);
    tmp_path(path, sizeof path, "unknown.json");
    write_file(path, "{\"mode\": \"batch\", \"nope\": true}");
    BAD("load_config with an unknown key", facelive_load_config(h, path), FACELIVE_EINVAL, h, "nope");
    tmp_path(path, sizeof path, "range.json");
    write_file(path, "{\"mode\": \"batch\", \"merge\": {\"opacity\": 3}}");
    BAD("load_config with a value out of range", facelive_load_config(h, path), FACELIVE_EINVAL, h, "merge.opacity");
    tmp_path(path, sizeof path, "empty.json");
    write_file(path, "");
    BAD("load_config of an empty file", facelive_load_config(h, path), FACELIVE_EINVAL, h, path);
    BAD("load_config of a directory", facelive_load_config(h, g_tmpdir), FACELIVE_EINVAL, h, g_tmpdir);
    tmp_path(path, sizeof path, "model.json");
    write_file(path, "{\"mode\": \"batch\", \"swapper\": {\"face\": \"/nonexistent/face.png\"}}");
    BAD("load_config naming a missing file", facelive_load_config(h, path), FACELIVE_EMODEL, h,
        "/nonexistent/face.png");
    BAD("load_config(h, NULL)", facelive_load_config(h, NULL), FACELIVE_EINVAL, h, NULL);
    get_config_str(h, after, sizeof after);
    CHECK(strcmp(before, after) == 0);
}

static void bad_handles(void)
{
    char buf[256];
    facelive_frame f;
    frame_alloc(&f, FACELIVE_FORMAT_BGRA, 16, 16, 0);
    frame_fill(&f, 1);
    char path[256];
    tmp_path(path, sizeof path, "badhandle.json");

    char err[256];
    facelive_handle live = facelive_init("{}", err, sizeof err);
    facelive_handle dead = facelive_init("{}", err, sizeof err);
    CHECK(live != 0 && dead != 0);
    CHECK_ST(facelive_shutdown(dead), FACELIVE_OK);

    const struct {
        facelive_handle h;
        const char *name;
    } hs[] = {{0, "0"}, {999999, "999999 (never issued)"}, {dead, "shut down"}, {UINT64_MAX, "UINT64_MAX"}};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        facelive_handle h = hs[i].h;
        char what[128];
#define BADH(fn, call)                                                        \
    do {                                                                      \
        snprintf(what, sizeof what, "%s on handle %s", fn, hs[i].name);       \
        BAD(what, call, FACELIVE_EBADHANDLE, 0, NULL);                        \
    } while (0)
        BADH("submit_frame", facelive_submit_frame(h, &f));
        /* "Whenever no frame is written and out is a valid description,
         * out->pts_ns is set to FACELIVE_PTS_NONE": that includes a bad handle. */
        f.pts_ns = 9;
        BADH("get_frame", facelive_get_frame(h, &f, 0));
        CHECK(f.pts_ns == FACELIVE_PTS_NONE);
        f.pts_ns = 9;
        BADH("get_frame(timeout 1000)", facelive_get_frame(h, &f, 1000));
        CHECK(f.pts_ns == FACELIVE_PTS_NONE);
        BADH("set_config", facelive_set_config(h, "{\"mode\":\"balanced\"}"));
        BADH("get_config", facelive_get_config(h, buf, sizeof buf));
        BADH("get_metrics", facelive_get_metrics(h, buf, sizeof buf));
        BADH("save_config", facelive_save_config(h, path));
        BADH("load_config", facelive_load_config(h, path));
        BADH("shutdown", facelive_shutdown(h));
#undef BADH
        if (h != 0) {
            /* last_error on an unknown handle: EBADHANDLE, buf says why. */
            buf[0] = '\0';
            CHECK_ST(facelive_last_error(h, buf, sizeof buf), FACELIVE_EBADHANDLE);
            CHECK(buf[0] != '\0');
            printf("  last_error(%s) -> EBADHANDLE \"%s\"\n", hs[i].name, buf);
        }
    }
    CHECK(access(path, F_OK) != 0); /* save on a bad handle wrote nothing */

    /* The live handle was not disturbed by any of this. */
    g_handle = live;
    f.pts_ns = 3;
    CHECK_ST(facelive_submit_frame(live, &f), FACELIVE_OK);
    f.pts_ns = 0;
    CHECK_ST(facelive_get_frame(live, &f, 3000), FACELIVE_OK);
    CHECK(f.pts_ns == 3 && frame_matches(&f, 1));

    /* Double shutdown. */
    CHECK_ST(facelive_shutdown(live), FACELIVE_OK);
    BAD("second shutdown of a handle", facelive_shutdown(live), FACELIVE_EBADHANDLE, 0, NULL);
    g_handle = 0;
    frame_free(&f);
}

/* Size change mid-stream in an ordered mode: frames keep their own size;
 * a get with the old size after the new frame is next is EFORMAT. */
static void size_change_ordered(void)
{
    char err[256];
    facelive_handle h = facelive_init("{\"mode\":\"quality\",\"swapper\":{\"kind\":\"none\"}}", err, sizeof err);
    if (!CHECK(h != 0)) return;
    g_handle = h;
    facelive_frame big, little, out_big, out_little;
    frame_alloc(&big, FACELIVE_FORMAT_BGRA, 640, 360, 13);
    frame_alloc(&little, FACELIVE_FORMAT_BGRA, 320, 240, 13);
    frame_alloc(&out_big, FACELIVE_FORMAT_BGRA, 640, 360, 0);
    frame_alloc(&out_little, FACELIVE_FORMAT_BGRA, 320, 240, 0);
    frame_fill(&big, 1);
    frame_fill(&little, 2);
    big.pts_ns = 1;
    little.pts_ns = 2;
    CHECK_ST(facelive_submit_frame(h, &big), FACELIVE_OK);
    CHECK_ST(facelive_submit_frame(h, &little), FACELIVE_OK);
    CHECK_ST(facelive_get_frame(h, &out_big, 3000), FACELIVE_OK);
    CHECK(out_big.pts_ns == 1 && frame_matches(&out_big, 1));
    BAD("quality: get_frame out 640x360 when the next frame is 320x240", facelive_get_frame(h, &out_big, 3000),
        FACELIVE_EFORMAT, h, "320x240");
    CHECK(out_big.pts_ns == FACELIVE_PTS_NONE);
    CHECK_ST(facelive_get_frame(h, &out_little, 0), FACELIVE_OK);
    CHECK(out_little.pts_ns == 2 && frame_matches(&out_little, 2));
    CHECK_ST(facelive_get_frame(h, &out_little, 0), FACELIVE_EAGAIN);
    counters c;
    CHECK_ST(read_counters(h, &c), FACELIVE_OK);
    CHECK(c.submitted == 2 && c.output == 2 && c.in_flight == 0 && c.dropped == 0);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    frame_free(&big);
    frame_free(&little);
    frame_free(&out_big);
    frame_free(&out_little);
    g_handle = 0;
}

/* The same in realtime mode, where only the newest result is kept: once
 * both frames were handled, the one left is the 320x240 frame. */
static void size_change_realtime(void)
{
    char err[256];
    facelive_handle h = facelive_init("{\"mode\":\"realtime\",\"swapper\":{\"kind\":\"none\"}}", err, sizeof err);
    if (!CHECK(h != 0)) return;
    g_handle = h;
    facelive_frame big, little, out_big, out_little;
    frame_alloc(&big, FACELIVE_FORMAT_BGRA, 640, 360, 13);
    frame_alloc(&little, FACELIVE_FORMAT_BGRA, 320, 240, 13);
    frame_alloc(&out_big, FACELIVE_FORMAT_BGRA, 640, 360, 0);
    frame_alloc(&out_little, FACELIVE_FORMAT_BGRA, 320, 240, 0);
    frame_fill(&big, 1);
    frame_fill(&little, 2);
    big.pts_ns = 1;
    little.pts_ns = 2;
    CHECK_ST(facelive_submit_frame(h, &big), FACELIVE_OK);
    int st = facelive_submit_frame(h, &little);
    CHECK(st == FACELIVE_OK || st == FACELIVE_EAGAIN);
    if (st == FACELIVE_OK) {
        /* Wait until one of the two was superseded (or evicted). */
        counters c = {0, 0, 0, 0, 0};
        for (int i = 0; i < 300 && read_counters(h, &c) == FACELIVE_OK && c.dropped < 1; i++) sleep_ms(10);
        CHECK(c.dropped == 1);
        BAD("realtime: get_frame out 640x360 after a 320x240 frame", facelive_get_frame(h, &out_big, 3000),
            FACELIVE_EFORMAT, h, "320x240");
        CHECK(out_big.pts_ns == FACELIVE_PTS_NONE);
        CHECK_ST(facelive_get_frame(h, &out_little, 3000), FACELIVE_OK);
        CHECK(out_little.pts_ns == 2 && frame_matches(&out_little, 2));
    } else { /* the 320x240 frame was dropped: the 640x360 one comes out */
        CHECK_ST(facelive_get_frame(h, &out_big, 3000), FACELIVE_OK);
        CHECK(out_big.pts_ns == 1);
    }
    CHECK_ST(facelive_get_frame(h, &out_little, 0), FACELIVE_EAGAIN);
    CHECK_ST(facelive_get_frame(h, &out_big, 0), FACELIVE_EAGAIN);
    counters c;
    CHECK_ST(read_counters(h, &c), FACELIVE_OK);
    CHECK(invariant_holds(&c) && c.in_flight == 0 && c.output == 1);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    frame_free(&big);
    frame_free(&little);
    frame_free(&out_big);
    frame_free(&out_little);
    g_handle = 0;
}

static void test_bad_calls(void)
{
    section("test_bad_calls");
    char err[256];
    facelive_handle h = facelive_init("{}", err, sizeof err);
    if (!CHECK(h != 0)) return;
    g_handle = h;
    bad_frames(h);
    bad_init();
    g_handle = h;
    bad_config(h);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    g_handle = 0;
    bad_handles();
    size_change_ordered();
    size_change_realtime();
    printf("  %d bad calls checked\n", g_bad_calls);
}

/* ======================================================================== */
/* 3. header edge cases (contract as written)                               */
/* ======================================================================== */

static void test_header_edges(void)
{
    section("test_header_edges");
    char err[256];

    /* Padding up to FACELIVE_MAX_LINESIZE is honoured; beyond it is EINVAL
     * (the header's guard against garbage strides). */
    facelive_handle h = facelive_init("{}", err, sizeof err);
    if (!CHECK(h != 0)) return;
    g_handle = h;
    facelive_frame in, out;
    frame_alloc(&in, FACELIVE_FORMAT_BGRA, 16, 4, FACELIVE_MAX_LINESIZE - 64);
    frame_alloc(&out, FACELIVE_FORMAT_BGRA, 16, 4, 0);
    frame_fill(&in, 9);
    in.pts_ns = 9;
    int st = facelive_submit_frame(h, &in);
    printf("  submit BGRA 16x4 with linesize %u (FACELIVE_MAX_LINESIZE) -> %d\n", in.linesize[0], st);
    if (CHECK_ST(st, FACELIVE_OK)) {
        CHECK_ST(facelive_get_frame(h, &out, 3000), FACELIVE_OK);
        CHECK(out.pts_ns == 9 && frame_matches(&out, 9));
    }
    in.linesize[0] = FACELIVE_MAX_LINESIZE + 1;
    BAD("submit linesize over FACELIVE_MAX_LINESIZE", facelive_submit_frame(h, &in), FACELIVE_EINVAL, h, "linesize[0]");
    frame_free(&in);
    frame_free(&out);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);

    /* submit's EAGAIN is either back-pressure (ordered modes with "adaptive"
     * or skip "none": not taken, counted in frames_refused and not submitted)
     * or a drop (counted as submitted and dropped). Flood without fetching. */
    static const char *configs[] = {"{\"mode\":\"quality\",\"swapper\":{\"kind\":\"none\"}}",
                                    "{\"mode\":\"quality\",\"skip\":\"adaptive\",\"swapper\":{\"kind\":\"none\"}}",
                                    "{\"mode\":\"realtime\",\"skip\":\"drop_newest\",\"swapper\":{\"kind\":\"none\"}}"};
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        h = facelive_init(configs[k], err, sizeof err);
        if (!CHECK(h != 0)) continue;
        g_handle = h;
        frame_alloc(&in, FACELIVE_FORMAT_BGRA, 64, 48, 0);
        frame_fill(&in, 3);
        int eagain = 0, okn = 0;
        for (int i = 0; i < 200; i++) {
            in.pts_ns = i;
            st = facelive_submit_frame(h, &in);
            if (st == FACELIVE_EAGAIN) eagain++;
            else if (st == FACELIVE_OK) okn++;
        }
        counters c;
        CHECK_ST(read_counters(h, &c), FACELIVE_OK);
        printf("  %s: 200 submits without fetching: %d OK, %d EAGAIN; frames_submitted %lld, frames_dropped %lld\n",
               configs[k], okn, eagain, c.submitted, c.dropped);
        CHECK(eagain > 0);
        if (k < 2) { /* quality: back-pressure, nothing dropped */
            CHECK(c.refused == eagain && c.dropped == 0 && c.submitted == okn);
        } else { /* drop_newest: every EAGAIN is a counted drop */
            CHECK(c.dropped >= eagain && c.submitted == 200 && c.refused == 0);
        }
        CHECK(invariant_holds(&c));
        frame_free(&in);
        CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    }
    g_handle = 0;

    /* FACELIVE_FRAME_HOLDS_INPUT: a host that gets into the buffer it
     * submitted from. Only what the pipeline changed is written (here the
     * disclosure label at the bottom); a byte the host changed after
     * submitting, far from the label, survives. Without the flag, or naming
     * another pts, the whole frame is written. Unknown bits are EINVAL. */
    h = facelive_init("{\"mode\":\"quality\",\"swapper\":{\"kind\":\"none\"},\"overlay\":{\"disclosure\":true}}",
                      err, sizeof err);
    if (!CHECK(h != 0)) return;
    g_handle = h;
    frame_alloc(&in, FACELIVE_FORMAT_NV12, 640, 360, 32);
    struct { uint32_t flags; int64_t holds; int kept; } cases[] = {
        {FACELIVE_FRAME_HOLDS_INPUT, 101, 1}, /* holds this very frame: the marker survives */
        {FACELIVE_FRAME_HOLDS_INPUT, 7, 0},   /* holds another frame: whole frame written */
        {0, 103, 0},                          /* no flag: whole frame written */
    };
    for (int k = 0; k < 3; k++) {
        frame_fill(&in, 4);
        in.flags = 0;
        in.pts_ns = 101 + k;
        if (!CHECK_ST(facelive_submit_frame(h, &in), FACELIVE_OK)) break;
        in.data[0][5 * in.linesize[0] + 600] ^= 0xFF; /* the host reuses its buffer */
        in.flags = cases[k].flags;
        in.pts_ns = cases[k].holds;
        CHECK_ST(facelive_get_frame(h, &in, 3000), FACELIVE_OK);
        int kept = in.data[0][5 * in.linesize[0] + 600] != pattern(4, 0, 600, 5);
        int label = in.data[0][340 * in.linesize[0] + 20] != pattern(4, 0, 20, 340);
        printf("  get with flags %u, holding pts %lld, frame %lld out: marker %s, label %s\n", cases[k].flags,
               (long long)cases[k].holds, (long long)in.pts_ns, kept ? "kept" : "overwritten",
               label ? "drawn" : "missing");
        CHECK(in.pts_ns == 101 + k && kept == cases[k].kept && label && padding_untouched(&in));
    }
    in.flags = 0;
    CHECK_ST(facelive_submit_frame(h, &in), FACELIVE_OK);
    in.flags = 0x80;
    BAD("get with an unknown flag bit", facelive_get_frame(h, &in, 3000), FACELIVE_EINVAL, h, "flags");
    in.flags = 0;
    frame_free(&in);
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    g_handle = 0;
}

/* ======================================================================== */
/* 4. concurrency                                                           */
/* ======================================================================== */

#define CT_THREADS 4
#define CT_FRAMES  2500
#define CT_TRIES   4 /* submits of one frame while EAGAIN */
#define CT_W       64
#define CT_H       48
#define CT_PTS(t, i) ((int64_t)(t) * 1000000 + (i))

enum { ST_NONE, ST_TRYING, ST_OK, ST_EAGAIN };

typedef struct {
    facelive_handle h;
    int ordered;
    atomic_uchar state[CT_THREADS][CT_FRAMES];
    atomic_int seen[CT_THREADS][CT_FRAMES];
    atomic_int submit_errors, get_errors, bad_pixels, bad_pts, metric_errors, invariant_broken;
    atomic_int gets_ok, metric_reads, submit_calls;
    atomic_int stop;
} ct_shared;

typedef struct {
    ct_shared *s;
    int t;
    int64_t *got; /* pts in the order this thread got them */
    int ngot;
} ct_thread;

/* Checks one output: a pts some thread tried to submit, the right pixels, not seen before. */
static void ct_check_output(ct_shared *s, const facelive_frame *out)
{
    int64_t pts = out->pts_ns;
    int64_t t = pts / 1000000, i = pts % 1000000;
    if (pts < 0 || t >= CT_THREADS || i >= CT_FRAMES || atomic_load(&s->state[t][i]) == ST_NONE) {
        thread_fail(&s->bad_pts, "output pts %" PRId64 " was never submitted", pts);
        return;
    }
    if (atomic_fetch_add(&s->seen[t][i], 1) != 0) thread_fail(&s->bad_pts, "pts %" PRId64 " came out twice", pts);
    if (!frame_matches(out, (uint32_t)pts)) thread_fail(&s->bad_pixels, "pixels of pts %" PRId64 " differ", pts);
}

static void *ct_submitter(void *arg)
{
    ct_thread *me = arg;
    ct_shared *s = me->s;
    facelive_frame in, out;
    frame_alloc(&in, FACELIVE_FORMAT_BGRA, CT_W, CT_H, 4);
    frame_alloc(&out, FACELIVE_FORMAT_BGRA, CT_W, CT_H, 12);
    for (int i = 0; i < CT_FRAMES; i++) {
        int64_t pts = CT_PTS(me->t, i);
        frame_fill(&in, (uint32_t)pts);
        in.pts_ns = pts;
        atomic_store(&s->state[me->t][i], ST_TRYING);
        /* A frame submit did not queue (EAGAIN) never comes out, so trying
         * the same pts again cannot duplicate it; a few tries keep the
         * ordered modes (which push back when full) busy. */
        for (int try = 0; try < CT_TRIES; try++) {
            int st = facelive_submit_frame(s->h, &in);
            atomic_fetch_add(&s->submit_calls, 1);
            if (st == FACELIVE_OK) atomic_store(&s->state[me->t][i], ST_OK);
            else if (st == FACELIVE_EAGAIN) atomic_store(&s->state[me->t][i], ST_EAGAIN);
            else thread_fail(&s->submit_errors, "submit pts %" PRId64 " returned %d", pts, st);

            /* Full: give the workers a moment before trying again. */
            st = facelive_get_frame(s->h, &out, st == FACELIVE_EAGAIN ? 2 : 0);
            if (st == FACELIVE_OK) {
                atomic_fetch_add(&s->gets_ok, 1);
                me->got[me->ngot++] = out.pts_ns;
                ct_check_output(s, &out);
            } else if (st != FACELIVE_EAGAIN) {
                thread_fail(&s->get_errors, "get returned %d", st);
            } else if (out.pts_ns != FACELIVE_PTS_NONE) {
                thread_fail(&s->get_errors, "get returned EAGAIN with pts %" PRId64, out.pts_ns);
            }
            if (atomic_load(&s->state[me->t][i]) == ST_OK) break;
        }
    }
    frame_free(&in);
    frame_free(&out);
    return NULL;
}

static void *ct_metrics_reader(void *arg)
{
    ct_shared *s = arg;
    while (!atomic_load(&s->stop)) {
        counters c;
        int st = read_counters(s->h, &c);
        atomic_fetch_add(&s->metric_reads, 1);
        if (st != FACELIVE_OK) {
            thread_fail(&s->metric_errors, "get_metrics returned %d", st);
        } else if (!invariant_holds(&c)) {
            thread_fail(&s->invariant_broken, "frames_submitted %lld != output %lld + dropped %lld + in_flight %lld",
                        c.submitted, c.output, c.dropped, c.in_flight);
        }
    }
    return NULL;
}

/* Per source thread, pts must increase along one sequence of gets made by
 * one thread (the library hands frames out in its order; gets by different
 * threads may be recorded in another order, so only this is observable).
 * last[] carries the newest pts per source across sequences. */
static int ct_order_violations(const int64_t *got, int n, int64_t last[CT_THREADS])
{
    int bad = 0;
    for (int k = 0; k < n; k++) {
        int64_t t = got[k] / 1000000;
        if (t < 0 || t >= CT_THREADS) continue;
        if (got[k] <= last[t]) bad++;
        last[t] = got[k];
    }
    return bad;
}

static void concurrency_mode(const char *mode)
{
    char cfg[128], err[256];
    snprintf(cfg, sizeof cfg, "{\"mode\":\"%s\",\"swapper\":{\"kind\":\"none\"}}", mode);
    ct_shared *s = calloc(1, sizeof *s);
    if (!CHECK(s != NULL)) return;
    s->h = facelive_init(cfg, err, sizeof err);
    s->ordered = strcmp(mode, "quality") == 0 || strcmp(mode, "batch") == 0;
    if (!CHECK(s->h != 0)) {
        free(s);
        return;
    }
    g_handle = s->h;
    double t0 = now_s();

    ct_thread th[CT_THREADS];
    pthread_t tid[CT_THREADS], mtid;
    CHECK(pthread_create(&mtid, NULL, ct_metrics_reader, s) == 0);
    for (int t = 0; t < CT_THREADS; t++) {
        th[t].s = s;
        th[t].t = t;
        th[t].ngot = 0;
        th[t].got = malloc(sizeof(int64_t) * CT_FRAMES * CT_TRIES);
        CHECK(th[t].got != NULL);
        CHECK(pthread_create(&tid[t], NULL, ct_submitter, &th[t]) == 0);
    }
    for (int t = 0; t < CT_THREADS; t++) pthread_join(tid[t], NULL);
    atomic_store(&s->stop, 1);
    pthread_join(mtid, NULL);

    /* Drain. */
    facelive_frame out;
    frame_alloc(&out, FACELIVE_FORMAT_BGRA, CT_W, CT_H, 0);
    int64_t *drained = malloc(sizeof(int64_t) * CT_THREADS * CT_FRAMES);
    int ndrained = 0, st;
    while ((st = facelive_get_frame(s->h, &out, 50)) == FACELIVE_OK && ndrained < CT_THREADS * CT_FRAMES) {
        drained[ndrained++] = out.pts_ns;
        ct_check_output(s, &out);
    }
    CHECK_ST(st, FACELIVE_EAGAIN);

    int oks = 0, eagains = 0, dropped_came_out = 0;
    for (int t = 0; t < CT_THREADS; t++)
        for (int i = 0; i < CT_FRAMES; i++) {
            int state = atomic_load(&s->state[t][i]);
            oks += state == ST_OK;
            eagains += state == ST_EAGAIN;
            if (state == ST_EAGAIN && atomic_load(&s->seen[t][i]) != 0) dropped_came_out++;
        }

    /* Order: within each getter thread's sequence, then the drain after all of them. */
    int order_bad = 0;
    int64_t last_all[CT_THREADS];
    for (int t = 0; t < CT_THREADS; t++) last_all[t] = INT64_MIN;
    for (int g = 0; g < CT_THREADS; g++) {
        int64_t last[CT_THREADS];
        for (int t = 0; t < CT_THREADS; t++) last[t] = INT64_MIN;
        order_bad += ct_order_violations(th[g].got, th[g].ngot, last);
        for (int t = 0; t < CT_THREADS; t++)
            if (last[t] > last_all[t]) last_all[t] = last[t];
    }
    order_bad += ct_order_violations(drained, ndrained, last_all);

    counters c = {0, 0, 0, 0, 0};
    CHECK_ST(read_counters(s->h, &c), FACELIVE_OK);
    int gets = atomic_load(&s->gets_ok) + ndrained;
    printf("  %-8s %d submit calls; frames: %d OK, %d EAGAIN; gets during: %d, drained: %d; metrics reads: %d; "
           "submitted %lld output %lld dropped %lld in_flight %lld; order violations %d; %.2f s\n",
           mode, atomic_load(&s->submit_calls), oks, eagains, atomic_load(&s->gets_ok), ndrained, atomic_load(&s->metric_reads), c.submitted,
           c.output, c.dropped, c.in_flight, order_bad, now_s() - t0);

    CHECK(atomic_load(&s->submit_errors) == 0);
    CHECK(atomic_load(&s->get_errors) == 0);
    CHECK(atomic_load(&s->bad_pixels) == 0);
    CHECK(atomic_load(&s->bad_pts) == 0);
    CHECK(dropped_came_out == 0);  /* a frame submit did not queue never comes out */
    CHECK(atomic_load(&s->metric_errors) == 0);
    CHECK(atomic_load(&s->invariant_broken) == 0);
    CHECK(atomic_load(&s->metric_reads) > 0);
    CHECK(oks + eagains == CT_THREADS * CT_FRAMES);
    CHECK(invariant_holds(&c));
    CHECK(c.in_flight == 0);
    CHECK(c.output == gets);
    CHECK(c.submitted >= oks && c.submitted <= atomic_load(&s->submit_calls));
    if (s->ordered) CHECK(order_bad == 0);

    CHECK_ST(facelive_shutdown(s->h), FACELIVE_OK);
    frame_free(&out);
    free(drained);
    for (int t = 0; t < CT_THREADS; t++) free(th[t].got);
    free(s);
    g_handle = 0;
}

static void test_concurrency(void)
{
    section("test_concurrency");
    static const char *modes[] = {"realtime", "balanced", "quality", "batch"};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) concurrency_mode(modes[m]);
}

/* ======================================================================== */
/* 5. shutdown while get_frame waits                                        */
/* ======================================================================== */

typedef struct {
    facelive_handle h;
    int status;
    int64_t pts;
    double seconds;
} waiter;

static void *wait_for_frame(void *arg)
{
    waiter *w = arg;
    facelive_frame out;
    frame_alloc(&out, FACELIVE_FORMAT_BGRA, 64, 48, 0);
    out.pts_ns = 7;
    double t0 = now_s();
    w->status = facelive_get_frame(w->h, &out, 5000);
    w->seconds = now_s() - t0;
    w->pts = out.pts_ns;
    frame_free(&out);
    return NULL;
}

static void test_shutdown_while_waiting(void)
{
    section("test_shutdown_while_waiting");
    char err[256];
    facelive_handle h = facelive_init("{}", err, sizeof err);
    if (!CHECK(h != 0)) return;
    enum { N = 3 };
    waiter w[N];
    pthread_t tid[N];
    for (int i = 0; i < N; i++) {
        w[i].h = h;
        w[i].status = 999;
        CHECK(pthread_create(&tid[i], NULL, wait_for_frame, &w[i]) == 0);
    }
    sleep_ms(300); /* let them enter the wait */
    double t0 = now_s();
    CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
    double shutdown_s = now_s() - t0;
    for (int i = 0; i < N; i++) {
        pthread_join(tid[i], NULL);
        printf("  waiter %d: status %d after %.3f s (shutdown took %.3f s), pts %" PRId64 "\n", i, w[i].status,
               w[i].seconds, shutdown_s, w[i].pts);
        CHECK(w[i].status == FACELIVE_ECLOSED || w[i].status == FACELIVE_EBADHANDLE);
        CHECK(w[i].seconds < 2.0); /* well before the 5 s timeout */
        if (w[i].status == FACELIVE_ECLOSED) CHECK(w[i].pts == FACELIVE_PTS_NONE);
    }
    /* Where the message of the ECLOSED call can be read: the handle is shut
     * down, so last_error(h) says why it is invalid; print both for review. */
    char m0[512], mh[512];
    facelive_last_error(0, m0, sizeof m0);
    int st = facelive_last_error(h, mh, sizeof mh);
    printf("  after ECLOSED: last_error(0) = \"%s\"; last_error(h) = %d \"%s\"\n", m0, st, mh);
    CHECK(st == FACELIVE_EBADHANDLE && mh[0] != '\0');
}

/* ======================================================================== */
/* 6. shutdown racing with every other call                                 */
/* ======================================================================== */

/* Each function may only return the codes its header text lists; a call
 * racing with shutdown either saw the handle live or saw it gone. */
enum { RACE_SUBMIT, RACE_GET, RACE_SET, RACE_METRICS, RACE_SAVE, RACE_N };
static const char *race_names[RACE_N] = {"submit_frame", "get_frame", "set_config", "get_metrics", "save_config"};

typedef struct {
    facelive_handle h;
    int which;
    atomic_int *go;
    int counts[16]; /* by -status (0..8), EAGAIN at 9 */
    int undocumented;
    int last_undocumented;
} racer;

static int documented(int which, int st)
{
    switch (which) {
    case RACE_SUBMIT: /* OK, EAGAIN, EINVAL, EFORMAT, EBADHANDLE, EINTERNAL */
        return st == FACELIVE_OK || st == FACELIVE_EAGAIN || st == FACELIVE_EBADHANDLE;
    case RACE_GET: /* OK, EAGAIN, EFORMAT, EINVAL, ECLOSED, EBADHANDLE, EINTERNAL */
        return st == FACELIVE_OK || st == FACELIVE_EAGAIN || st == FACELIVE_ECLOSED || st == FACELIVE_EBADHANDLE;
    case RACE_SET: /* OK, EINVAL, EMODEL, EBADHANDLE, EINTERNAL */
    case RACE_SAVE:
    case RACE_METRICS: /* OK, ERANGE, EINVAL, EBADHANDLE */
        return st == FACELIVE_OK || st == FACELIVE_EBADHANDLE;
    }
    return 0;
}

static void *race_loop(void *arg)
{
    racer *r = arg;
    facelive_frame f;
    frame_alloc(&f, FACELIVE_FORMAT_BGRA, 32, 16, 0);
    frame_fill(&f, 5);
    char buf[4096], path[256];
    tmp_path(path, sizeof path, "race.json");
    while (!atomic_load(r->go)) {
    }
    for (int i = 0; i < 100000; i++) {
        int st = 0;
        switch (r->which) {
        case RACE_SUBMIT: f.pts_ns = i; st = facelive_submit_frame(r->h, &f); break;
        case RACE_GET: st = facelive_get_frame(r->h, &f, 1); break;
        case RACE_SET: st = facelive_set_config(r->h, (i & 1) ? "{\"mode\":\"balanced\"}" : "{\"mode\":\"quality\"}"); break;
        case RACE_METRICS: st = facelive_get_metrics(r->h, buf, sizeof buf); break;
        case RACE_SAVE: st = facelive_save_config(r->h, path); break;
        }
        r->counts[st == FACELIVE_EAGAIN ? 9 : (st <= 0 && st >= -8) ? -st : 10]++;
        if (!documented(r->which, st)) {
            r->undocumented++;
            r->last_undocumented = st;
        }
        if (st == FACELIVE_EBADHANDLE) break; /* gone: every later call says the same */
    }
    frame_free(&f);
    return NULL;
}

static void test_shutdown_races(void)
{
    section("test_shutdown_races");
    int totals[RACE_N][16];
    int undocumented[RACE_N], last_bad[RACE_N];
    memset(totals, 0, sizeof totals);
    memset(undocumented, 0, sizeof undocumented);
    memset(last_bad, 0, sizeof last_bad);
    for (int round = 0; round < 40; round++) {
        char err[256];
        facelive_handle h = facelive_init(round % 2 ? "{\"mode\":\"quality\",\"swapper\":{\"kind\":\"none\"}}" : "{\"swapper\":{\"kind\":\"none\"}}", err, sizeof err);
        if (!CHECK(h != 0)) return;
        atomic_int go;
        atomic_init(&go, 0);
        racer r[RACE_N];
        pthread_t tid[RACE_N];
        for (int k = 0; k < RACE_N; k++) {
            memset(&r[k], 0, sizeof r[k]);
            r[k].h = h;
            r[k].which = k;
            r[k].go = &go;
            pthread_create(&tid[k], NULL, race_loop, &r[k]);
        }
        atomic_store(&go, 1);
        sleep_ms(2 + round % 7);
        CHECK_ST(facelive_shutdown(h), FACELIVE_OK);
        for (int k = 0; k < RACE_N; k++) {
            pthread_join(tid[k], NULL);
            for (int c = 0; c < 16; c++) totals[k][c] += r[k].counts[c];
            undocumented[k] += r[k].undocumented;
            if (r[k].undocumented) last_bad[k] = r[k].last_undocumented;
        }
    }
    for (int k = 0; k < RACE_N; k++) {
        printf("  %-12s OK %d, EAGAIN %d, ECLOSED %d, EBADHANDLE %d, other %d; undocumented statuses: %d (e.g. %d)\n",
               race_names[k], totals[k][0], totals[k][9], totals[k][5], totals[k][2],
               totals[k][1] + totals[k][3] + totals[k][4] + totals[k][6] + totals[k][7] + totals[k][8] + totals[k][10],
               undocumented[k], last_bad[k]);
        if (undocumented[k] != 0)
            fprintf(stderr, "    %s racing with shutdown returned %d, which its header text does not list\n",
                    race_names[k], last_bad[k]);
        CHECK(undocumented[k] == 0);
    }
    char path[256];
    tmp_path(path, sizeof path, "race.json");
    unlink(path);
}

/* ======================================================================== */

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/facelive-abi-XXXXXX");
    if (mkdtemp(g_tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }

    test_happy_path();
    test_bad_calls();
    test_header_edges();
    test_concurrency();
    test_shutdown_while_waiting();
    test_shutdown_races();

    facelive_set_log_callback(NULL, NULL);

    /* Remove the temporary directory (only the files we made). */
    static const char *files[] = {"saved.json", "broken.json", "unknown.json", "range.json", "empty.json",
                                  "model.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        tmp_path(path, sizeof path, files[i]);
        unlink(path);
    }
    rmdir(g_tmpdir);

    int pass = atomic_load(&g_pass), fail = atomic_load(&g_fail);
    printf("abi_test: %d passed, %d failed\n", pass, fail);
    return fail == 0 ? 0 : 1;
}
