/*
 * soak.c — a long run of live 720p NV12 frames through libfacelive's C ABI,
 * watching for leaks.
 *
 * Plain C11 against the public header only, as a host would use it: one
 * handle in realtime mode, and for every frame facelive_submit_frame then
 * facelive_get_frame (a short timeout). Every --every frames it prints the
 * frame count, the rate, the resident memory (/proc/self/statm) and the
 * library's goroutine count: the "goroutines" key of facelive_get_metrics
 * when the library reports one, else the process's OS threads
 * (/proc/self/status "Threads:") as the visible proxy (Go's threads stay
 * flat while its goroutines do, a leak of blocked goroutines in cgo calls
 * shows up as threads). At the end it prints the growth, from a warm
 * baseline (after the first --every frames: pools, caches and the Go heap
 * have settled) and from the first frame.
 *
 * Frames: --input FILE, raw 1280x720 NV12 frames back to back (scripts/soak.sh
 * makes a one-second clip of the astronaut photo moving, with `facelive
 * makeclip` and ffmpeg), played in a loop; without --input a synthetic frame
 * (a gradient with a moving bright disc: no face, so the detector runs and
 * nothing is swapped).
 *
 * Usage: facelive-soak [--input FILE.nv12] [--every N] [--timeout-ms N]
 *                      [FRAMES [CONFIG_JSON]]
 *   FRAMES       frames to submit (default 200000)
 *   CONFIG_JSON  engine config (default SOAK_DEFAULT_CONFIG below)
 *
 * Exit status: 0 done; 1 an unexpected status from the library (the message
 * names the call, the frame and facelive_last_error), or the face pipeline
 * failed to load; 2 bad usage or an unreadable input; 130 interrupted (the
 * summary so far is still printed).
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define W 1280
#define H 720
#define FRAME_BYTES ((size_t)W * H * 3 / 2)
#define MAX_INPUT_FRAMES 300 /* 10 s of 30 fps: about 400 MB */

/* The astronaut's face swapped with the default photo, live; level "custom"
 * keeps the tuner from changing workers and quality during the run, so the
 * memory a steady workload needs stays put. */
#define SOAK_DEFAULT_CONFIG "{\"mode\":\"realtime\",\"level\":\"custom\",\"swapper\":{\"kind\":\"photo\"}}"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in MiB, from /proc/self/statm (its second field, in pages). */
static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (n != 2) return -1;
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* The process's OS threads, from /proc/self/status. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    int threads = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) {
            threads = atoi(line + 8);
            break;
        }
    }
    fclose(f);
    return threads;
}

static char g_metrics[1 << 16];

/* Reads the metrics JSON into g_metrics; 0 on success. */
static int read_metrics(facelive_handle h)
{
    int st = facelive_get_metrics(h, g_metrics, sizeof g_metrics);
    if (st != FACELIVE_OK) g_metrics[0] = '\0';
    return st;
}

/* A top-level number in g_metrics ("key": 123), or -1 when it is not there. */
static double metric_number(const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(g_metrics, pat);
    if (p == NULL) return -1;
    p += strlen(pat);
    while (*p == ' ') p++;
    char *end;
    double v = strtod(p, &end);
    return end == p ? -1 : v;
}

/* The library's goroutine count when its metrics have one, else -1. */
static int goroutines(facelive_handle h)
{
    if (read_metrics(h) != FACELIVE_OK) return -1;
    double g = metric_number("goroutines");
    return g < 0 ? -1 : (int)g;
}

static void last_error(facelive_handle h, char *buf, size_t len)
{
    if (facelive_last_error(h, buf, len) < 0 || buf[0] == '\0') facelive_last_error(0, buf, len);
}

static int fail_call(facelive_handle h, const char *call, int st, long frame)
{
    char msg[2048];
    last_error(h, msg, sizeof msg);
    fprintf(stderr, "soak: FAIL: %s returned %d at frame %ld: %s\n", call, st, frame, msg);
    return 1;
}

static void frame_desc(facelive_frame *f, uint8_t *y)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->format = FACELIVE_FORMAT_NV12;
    f->width = W;
    f->height = H;
    f->data[0] = y;
    f->data[1] = y + (size_t)W * H;
    f->linesize[0] = W;
    f->linesize[1] = W;
}

/* A synthetic frame: a diagonal luma gradient, neutral chroma, and a bright
 * disc whose position moves with k. */
static void synth_frame(uint8_t *buf, int k)
{
    int cx = 320 + (k * 7) % 640, cy = 200 + (k * 3) % 320, r = 90;
    for (int y = 0; y < H; y++) {
        uint8_t *row = buf + (size_t)y * W;
        for (int x = 0; x < W; x++) {
            int dx = x - cx, dy = y - cy;
            row[x] = dx * dx + dy * dy < r * r ? 200 : (uint8_t)(16 + (x + y) * 200 / (W + H));
        }
    }
    memset(buf + (size_t)W * H, 128, (size_t)W * H / 2);
}

/* Loads raw NV12 frames; returns how many, 0 on error (message printed). */
static int load_input(const char *path, uint8_t **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "soak: cannot open --input %s: %s\n", path, strerror(errno));
        return 0;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "soak: cannot seek in %s: %s\n", path, strerror(errno));
        fclose(f);
        return 0;
    }
    long size = ftell(f);
    rewind(f);
    if (size <= 0 || (size_t)size % FRAME_BYTES != 0) {
        fprintf(stderr, "soak: --input %s has %ld bytes, not a whole number of 1280x720 NV12 frames (%zu bytes each)\n",
                path, size, FRAME_BYTES);
        fclose(f);
        return 0;
    }
    int n = (int)((size_t)size / FRAME_BYTES);
    if (n > MAX_INPUT_FRAMES) n = MAX_INPUT_FRAMES;
    uint8_t *buf = malloc((size_t)n * FRAME_BYTES);
    if (buf == NULL || fread(buf, FRAME_BYTES, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "soak: cannot read %d frames from %s\n", n, path);
        free(buf);
        fclose(f);
        return 0;
    }
    fclose(f);
    *out = buf;
    return n;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: facelive-soak [--input FILE.nv12] [--every N] [--timeout-ms N] [FRAMES [CONFIG_JSON]]\n"
            "  FRAMES       frames to submit (default 200000)\n"
            "  CONFIG_JSON  engine config (default %s)\n"
            "  --input      raw 1280x720 NV12 frames, played in a loop (default: a synthetic frame, no face)\n"
            "  --every      print a sample every N frames (default 10000)\n"
            "  --timeout-ms facelive_get_frame's wait after each submit (default 20)\n",
            SOAK_DEFAULT_CONFIG);
}

static int parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

static void fmt_duration(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long frames = 200000, every = 10000, timeout_ms = 20;
    const char *config = SOAK_DEFAULT_CONFIG, *input = NULL;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--input") == 0 && i + 1 < argc) {
            input = argv[++i];
        } else if (strcmp(a, "--every") == 0 && i + 1 < argc) {
            if (!parse_long(argv[++i], 1, 100000000, &every)) {
                fprintf(stderr, "soak: --every %s: want a whole number from 1\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--timeout-ms") == 0 && i + 1 < argc) {
            if (!parse_long(argv[++i], 0, 10000, &timeout_ms)) {
                fprintf(stderr, "soak: --timeout-ms %s: want 0..10000\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "soak: unknown option or missing value: %s\n", a);
            usage();
            return 2;
        } else if (positional == 0) {
            if (!parse_long(a, 1, 1000000000, &frames)) {
                fprintf(stderr, "soak: FRAMES %s: want a whole number from 1\n", a);
                return 2;
            }
            positional++;
        } else if (positional == 1) {
            config = a;
            positional++;
        } else {
            fprintf(stderr, "soak: too many arguments at %s\n", a);
            usage();
            return 2;
        }
    }
    /* The warm baseline: after the first `every` frames, or halfway through a short run. */
    long warm_at = frames >= 2 * every ? every : (frames / 2 > 0 ? frames / 2 : 1);

    uint8_t *clip = NULL;
    int clip_frames = 0;
    if (input != NULL) {
        clip_frames = load_input(input, &clip);
        if (clip_frames == 0) return 2;
    } else {
        clip_frames = 8; /* the disc moves through 8 positions */
        clip = malloc((size_t)clip_frames * FRAME_BYTES);
        if (clip == NULL) {
            fprintf(stderr, "soak: out of memory for the synthetic frames\n");
            return 2;
        }
        for (int k = 0; k < clip_frames; k++) synth_frame(clip + (size_t)k * FRAME_BYTES, k * 13);
    }
    uint8_t *outbuf = malloc(FRAME_BYTES);
    if (outbuf == NULL) {
        fprintf(stderr, "soak: out of memory for the output frame\n");
        return 2;
    }
    memset(outbuf, 0, FRAME_BYTES);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double rss_before_init = rss_mib();
    char err[1024];
    facelive_handle h = facelive_init(config, err, sizeof err);
    if (h == 0) {
        fprintf(stderr, "soak: FAIL: facelive_init(%s): %s\n", config, err);
        return 1;
    }

    /* Models load in the background; wait until the face pipeline is ready
     * (or off, for a config without one) so every counted frame does the work. */
    double t_wait = now_s();
    const char *state = "";
    for (;;) {
        int st = read_metrics(h);
        if (st != FACELIVE_OK) return fail_call(h, "facelive_get_metrics", st, 0);
        if (strstr(g_metrics, "\"face_pipeline\":\"ready\"") != NULL) {
            state = "ready";
            break;
        }
        if (strstr(g_metrics, "\"face_pipeline\":\"off\"") != NULL) {
            state = "off (no face models in this config)";
            break;
        }
        if (strstr(g_metrics, "\"face_pipeline\":\"failed\"") != NULL) {
            fprintf(stderr, "soak: FAIL: the face pipeline failed to load; metrics: %s\n", g_metrics);
            facelive_shutdown(h);
            return 1;
        }
        if (now_s() - t_wait > 120 || g_stop) {
            fprintf(stderr, "soak: FAIL: the face pipeline was not ready after %.0f s; metrics: %s\n",
                    now_s() - t_wait, g_metrics);
            facelive_shutdown(h);
            return 1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int use_goroutines = goroutines(h) >= 0;
    const char *gname = use_goroutines ? "goroutines" : "threads";

    printf("soak: %s%s\n", facelive_version_string(),
           use_goroutines ? "" : "; no \"goroutines\" in the metrics: OS threads (/proc/self/status) are the proxy");
    printf("soak: %ld frames of 1280x720 NV12 through the C ABI, %s (%d frame%s in a loop), get timeout %ld ms\n",
           frames, input ? input : "synthetic frames, no face", clip_frames, clip_frames == 1 ? "" : "s", timeout_ms);
    printf("soak: config %s; face pipeline %s after %.1f s; RSS %.1f MiB before init\n", config, state,
           now_s() - t_wait, rss_before_init);

    facelive_frame in, out;
    frame_desc(&out, outbuf);
    long submitted = 0, not_queued = 0, got = 0, done = 0;
    double rss_first = 0, rss_warm = 0, rss_end = 0;
    int g_first = 0, g_warm = 0, g_end = 0;
    double t0 = now_s(), t_last = t0;
    long n_last = 0;
    int rc = 0;
    for (long i = 1; i <= frames; i++) {
        if (g_stop) {
            rc = 130;
            break;
        }
        frame_desc(&in, clip + (size_t)((i - 1) % clip_frames) * FRAME_BYTES);
        in.pts_ns = (int64_t)i * 33333333;
        int st = facelive_submit_frame(h, &in);
        if (st == FACELIVE_OK)
            submitted++;
        else if (st == FACELIVE_EAGAIN)
            not_queued++;
        else {
            rc = fail_call(h, "facelive_submit_frame", st, i);
            break;
        }
        st = facelive_get_frame(h, &out, (uint32_t)timeout_ms);
        if (st == FACELIVE_OK)
            got++;
        else if (st != FACELIVE_EAGAIN) {
            rc = fail_call(h, "facelive_get_frame", st, i);
            break;
        }
        done = i;

        if (i == 1) {
            rss_first = rss_mib();
            g_first = use_goroutines ? goroutines(h) : thread_count();
        }
        if (i == warm_at) {
            rss_warm = rss_mib();
            g_warm = use_goroutines ? goroutines(h) : thread_count();
        }
        if (i % every == 0 || i == frames) {
            double t = now_s(), el = t - t0;
            double rss = rss_mib();
            int g = use_goroutines ? goroutines(h) : thread_count();
            char eta[32];
            fmt_duration(el / (double)i * (double)(frames - i), eta, sizeof eta);
            printf("soak: %9ld frames  %6.1f fps (last %6.1f)  RSS %7.1f MiB  %s %3d  out %ld  not queued %ld  ETA %s\n",
                   i, (double)i / el, (double)(i - n_last) / (t - t_last), rss, gname, g, got, not_queued, eta);
            t_last = t;
            n_last = i;
        }
    }
    double elapsed = now_s() - t0;
    rss_end = rss_mib();
    g_end = use_goroutines ? goroutines(h) : thread_count();
    int mst = read_metrics(h);
    if (mst != FACELIVE_OK && rc == 0) rc = fail_call(h, "facelive_get_metrics", mst, done);

    if (done < warm_at) { /* stopped before the warm baseline: use the first frame */
        rss_warm = rss_first;
        g_warm = g_first;
    }
    char dur[32];
    fmt_duration(elapsed, dur, sizeof dur);
    printf("soak: %ld frames in %s (%.1f fps): submit OK %ld, not queued (EAGAIN) %ld; get OK %ld\n", done, dur,
           done > 0 ? (double)done / elapsed : 0.0, submitted, not_queued, got);
    if (mst == FACELIVE_OK)
        printf("soak: engine: frames_submitted %.0f, frames_dropped %.0f, frames_processed %.0f, frames_output %.0f, "
               "detections %.0f, faces (last frame) %.0f, buffers_outstanding %.0f\n",
               metric_number("frames_submitted"), metric_number("frames_dropped"), metric_number("frames_processed"),
               metric_number("frames_output"), metric_number("detections"), metric_number("faces"),
               metric_number("buffers_outstanding"));
    printf("soak: RSS after the first frame %.1f MiB, growth from there to the end %+.1f MiB; %s %d -> %d\n", rss_first,
           rss_end - rss_first, gname, g_first, g_end);
    if (use_goroutines)
        printf("soak: %ld frames, RSS start %.1f MiB → end %.1f MiB (growth %+.1f MiB), goroutines %d → %d\n", done,
               rss_warm, rss_end, rss_end - rss_warm, g_warm, g_end);
    else
        printf("soak: %ld frames, RSS start %.1f MiB → end %.1f MiB (growth %+.1f MiB), goroutines n/a: threads %d → %d\n",
               done, rss_warm, rss_end, rss_end - rss_warm, g_warm, g_end);
    printf("soak: (start = the warm baseline after frame %ld)\n", done < warm_at ? 1L : warm_at);

    int sst = facelive_shutdown(h);
    if (sst != FACELIVE_OK && rc == 0) rc = fail_call(h, "facelive_shutdown", sst, done);
    free(outbuf);
    free(clip);
    if (rc == 130) fprintf(stderr, "soak: interrupted after %ld frames\n", done);
    return rc;
}
