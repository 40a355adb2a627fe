/*
 * kserve_test.c — swapper.backend "kserve" through the public header only:
 * the same faces as the local backend, through an inference server.
 *
 *   facelive-kserve-test SERVER MODELS SCENE.bgra
 *
 * SERVER is tests/kserve-server built (facelive-kserve-server: the tests'
 * stand-in for NVIDIA Triton, a KServe v2 gRPC server running one ONNX
 * model with ONNX Runtime), MODELS the folder tools/testmodels/gen.py
 * wrote (dfm.onnx, inswapper.onnx, arcface.onnx), SCENE a raw 1280x720 BGRA
 * frame with a real face (ctest's privacy-scene fixture). For the DFM and
 * the InSwapper model in turn, the test starts the server on a free
 * loopback port with that model, then runs two handles in mode quality
 * (every frame processed, in order): one with the model local, one with
 * "backend":"kserve" and the server's address. It feeds both the scene
 * until a face is swapped, then 3 frames more, and checks that the last
 * frames out agree byte for byte within 1 level, that the face changed
 * (more than 2000 bytes off the input by more than 8 levels), and that the
 * kserve handle's metrics say the server answered and swapped the faces.
 *
 * No timing is asserted: the time bounds (the server's start, a face within
 * 120 s, the server's stop) only end a test that hangs.
 *
 * Output: one line per failure, what was measured, then
 * "kserve_test: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { W = 1280, H = 720, STRIDE = W * 4, MORE = 3 };

static int g_pass, g_fail;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            g_pass++;                                                           \
        } else {                                                                \
            g_fail++;                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static uint8_t *read_raw(const char *path, size_t n)
{
    uint8_t *buf = malloc(n);
    FILE *fp = fopen(path, "rb");
    if (buf == NULL || fp == NULL || fread(buf, 1, n, fp) != n) {
        fprintf(stderr, "kserve_test: cannot read %zu bytes from %s\n", n, path);
        exit(2);
    }
    fclose(fp);
    return buf;
}

/* ---- the server process ------------------------------------------------ */

struct server {
    pid_t pid;
    int in;  /* its stdin: closing it stops the server */
    int out; /* its stdout: the first line is its address */
    char addr[128];
};

/* Starts SERVER -model MODEL and reads the address it prints (at most 60 s).
 * It starts before any handle exists: the process spawns no child once the
 * library's threads run. */
static int server_start(struct server *s, const char *bin, const char *model)
{
    int in[2], out[2];
    memset(s, 0, sizeof *s);
    if (pipe(in) != 0 || pipe(out) != 0) {
        perror("kserve_test: pipe");
        return 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    char *argv[] = {(char *)bin, "-model", (char *)model, NULL};
    int rc = posix_spawn(&s->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    s->in = in[1];
    s->out = out[0];
    if (rc != 0) {
        fprintf(stderr, "kserve_test: cannot start %s: %s\n", bin, strerror(rc));
        s->pid = 0;
        return 0;
    }
    size_t n = 0;
    int64_t deadline = now_ns() + 60 * (int64_t)1000000000;
    while (n + 1 < sizeof s->addr) {
        struct pollfd p = {s->out, POLLIN, 0};
        int left = (int)((deadline - now_ns()) / 1000000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t got = read(s->out, s->addr + n, 1);
        if (got <= 0 || s->addr[n] == '\n')
            break;
        n++;
    }
    s->addr[n] = 0;
    if (n == 0 || strchr(s->addr, ':') == NULL) {
        fprintf(stderr, "kserve_test: %s printed no address (got \"%s\")\n", bin, s->addr);
        return 0;
    }
    return 1;
}

/* Closes the server's stdin, as a test that dies would: it must stop by
 * itself (at most 30 s; then it is killed and that is a failure). */
static void server_stop(struct server *s)
{
    if (s->in > 0)
        close(s->in);
    if (s->pid > 0) {
        int status = 0;
        pid_t done = 0;
        for (int i = 0; i < 3000 && done == 0; i++) {
            done = waitpid(s->pid, &status, WNOHANG);
            if (done == 0)
                sleep_ms(10);
        }
        CHECK(done == s->pid, "the server did not stop within 30 s of its stdin closing");
        if (done == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
        } else {
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server ended with status %#x", status);
        }
    }
    if (s->out > 0)
        close(s->out);
    memset(s, 0, sizeof *s);
}

/* ---- frames and metrics ------------------------------------------------ */

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

/* The number after "key": in a metrics JSON document (-1 when absent). */
static double metric(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtod(p, NULL);
}

static void print_error(facelive_handle h)
{
    char err[1024] = "";
    facelive_last_error(h, err, sizeof err);
    fprintf(stderr, "    last_error: %s\n", err);
}

/* Feeds the scene until h pastes a face, then MORE frames; out holds the
 * last frame out. Returns the frames fed, 0 on failure. */
static int swap_scene(facelive_handle h, const char *what, const uint8_t *scene, uint8_t *out, char *metrics,
                      size_t mlen)
{
    int64_t deadline = now_ns() + 120 * (int64_t)1000000000;
    int more = -1;
    for (int64_t pts = 1;; pts++) {
        facelive_frame in, o;
        describe(&in, (uint8_t *)scene, pts);
        int st = facelive_submit_frame(h, &in);
        if (st != FACELIVE_OK) {
            CHECK(st == FACELIVE_OK, "%s: submit: %d", what, st);
            print_error(h);
            return 0;
        }
        describe(&o, out, 0);
        st = facelive_get_frame(h, &o, 120000);
        if (st != FACELIVE_OK || o.pts_ns != pts) {
            CHECK(st == FACELIVE_OK && o.pts_ns == pts, "%s: get: %d, pts %" PRId64 " want %" PRId64, what, st,
                  o.pts_ns, pts);
            print_error(h);
            return 0;
        }
        if (facelive_get_metrics(h, metrics, mlen) != FACELIVE_OK) {
            CHECK(0, "%s: get_metrics failed", what);
            return 0;
        }
        if (more < 0 && strstr(metrics, "\"face_pipeline\":\"ready\"") && metric(metrics, "faces") > 0)
            more = MORE;
        if (more >= 0 && more-- == 0)
            return (int)pts;
        if (now_ns() > deadline) {
            CHECK(0, "%s: no face swapped within 120 s (%" PRId64 " frames); metrics %s", what, pts, metrics);
            print_error(h);
            return 0;
        }
    }
}

/* ---- the test ----------------------------------------------------------- */

/* One swapper kind: dfm or inswapper, and the model file the server runs
 * (in MODELS; the local backend loads the same file). */
struct model_case {
    const char *name;
    const char *served;
};

static void run_case(const struct model_case *c, const char *server_bin, const char *models, const uint8_t *scene)
{
    char served[1024], arcface[1024];
    snprintf(served, sizeof served, "%s/%s", models, c->served);
    snprintf(arcface, sizeof arcface, "%s/arcface.onnx", models);
    struct server srv;
    int up = server_start(&srv, server_bin, served);
    CHECK(up, "%s: the server did not start", c->name);
    if (!up) {
        server_stop(&srv);
        return;
    }
    printf("kserve_test: %s: the server runs %s on %s\n", c->name, c->served, srv.addr);

    char swapper[4096], cfg[8192], err[1024] = "";
    if (strcmp(c->name, "inswapper") == 0)
        snprintf(swapper, sizeof swapper, "\"kind\":\"inswapper\",\"model\":\"%s\",\"arcface_model\":\"%s\"", served,
                 arcface);
    else
        snprintf(swapper, sizeof swapper, "\"kind\":\"dfm\",\"model\":\"%s\"", served);
    const char *common = "\"mode\":\"quality\",\"workers\":1,\"detector\":{\"interval\":1}";
    snprintf(cfg, sizeof cfg, "{%s,\"swapper\":{%s}}", common, swapper);
    facelive_handle local = facelive_init(cfg, err, sizeof err);
    CHECK(local != 0, "%s: init local: %s", c->name, err);
    snprintf(cfg, sizeof cfg,
             "{%s,\"swapper\":{%s,\"backend\":\"kserve\",\"server\":{\"url\":\"%s\",\"model\":\"celeb\",\"timeout_ms\":30000}}}",
             common, swapper, srv.addr);
    facelive_handle remote = facelive_init(cfg, err, sizeof err);
    CHECK(remote != 0, "%s: init kserve: %s", c->name, err);

    size_t n = (size_t)STRIDE * H;
    uint8_t *want = malloc(n), *got = malloc(n);
    char lm[16384], rm[16384];
    int lf = local ? swap_scene(local, "local", scene, want, lm, sizeof lm) : 0;
    int rf = remote ? swap_scene(remote, "kserve", scene, got, rm, sizeof rm) : 0;
    if (lf && rf) {
        int worst = 0;
        long moved = 0;
        const char *rtt = strstr(rm, "\"remote_rtt_ms\"");
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)want[i] - (int)got[i]);
            if (d > worst)
                worst = d;
            if (abs((int)got[i] - (int)scene[i]) > 8)
                moved++;
        }
        printf("kserve_test: %s: local swapped after %d frames, kserve after %d; largest difference %d levels; %ld bytes "
               "swapped; kserve round trip p50 %.1f ms, %.0f requests\n",
               c->name, lf, rf, worst, moved, rtt ? metric(rtt, "p50") : -1, metric(rm, "requests"));
        CHECK(moved > 2000, "%s: only %ld bytes differ from the input: the face was not swapped", c->name, moved);
        CHECK(worst <= 1, "%s: kserve's frame differs from the local backend's by up to %d levels, want <= 1", c->name,
              worst);
        CHECK(strstr(rm, "\"remote\":{") != NULL && strstr(rm, "\"up\":true") != NULL && metric(rm, "requests") > 0 &&
                  metric(rm, "errors") == 0 && metric(rm, "server_frames") > MORE && metric(rm, "fallback_frames") == 0,
              "%s: the kserve handle's metrics do not say the server swapped: %s", c->name, rm);
        CHECK(strstr(lm, "\"remote\":{") == NULL, "%s: the local handle reports a server: %s", c->name, lm);
    }
    if (local)
        CHECK(facelive_shutdown(local) == FACELIVE_OK, "%s: shutdown local", c->name);
    if (remote)
        CHECK(facelive_shutdown(remote) == FACELIVE_OK, "%s: shutdown kserve", c->name);
    free(want);
    free(got);
    server_stop(&srv);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SERVER MODELS SCENE.bgra (SCENE: raw 1280x720 BGRA)\n", argv[0]);
        return 2;
    }
    if (strpbrk(argv[2], "\"\\") != NULL || strlen(argv[2]) > 900) {
        fprintf(stderr, "kserve_test: the models folder must not hold quotes or backslashes, nor be longer than 900 bytes\n");
        return 2;
    }
    /* A server that dies must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    uint8_t *scene = read_raw(argv[3], (size_t)STRIDE * H);
    static const struct model_case cases[] = {
        {"dfm", "dfm.onnx"},
        {"inswapper", "inswapper.onnx"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i], argv[1], argv[2], scene);
    free(scene);
    printf("kserve_test: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
