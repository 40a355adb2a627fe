/*
 * facelive.h — the C contract of libfacelive, a live face-swap engine.
 *
 * This header is hand-written and is the only public interface. The header
 * that `go build -buildmode=c-shared` generates is a build artefact: never
 * include it.
 *
 * Model of use
 *   facelive_handle h = facelive_init("{}", err, sizeof err);   // starts the pipeline
 *   loop:
 *     facelive_submit_frame(h, &camera_frame);   // copies the frame, never blocks beyond that copy
 *     facelive_get_frame(h, &out, 0);            // newest processed frame, if any
 *   facelive_shutdown(h);
 *
 * Threads
 *   Every function may be called from any thread, concurrently, on the same
 *   or different handles. No function keeps a pointer the caller passed once
 *   it has returned, and no pointer the library returns (except
 *   facelive_version_string) must be freed or kept by the caller.
 *   The library is written in Go: a thread that calls it keeps the Go
 *   runtime's 32 KiB alternate signal stack (sigaltstack) from then on, and
 *   the runtime adds SA_ONSTACK to the signal handlers installed before it
 *   loaded. A host whose signal handler does heavy work (OBS Studio 29 runs
 *   its whole window-closing code, a modal dialog included, in its SIGINT
 *   handler) should call the library from threads of its own, never from
 *   the thread such a handler may run on.
 *
 * Errors
 *   Functions that return int return FACELIVE_OK (0), FACELIVE_EAGAIN (1) or a
 *   negative FACELIVE_E* code. A failing call stores a message that names the
 *   problem and the fix: read it with facelive_last_error(h, ...) on the same
 *   handle, or facelive_last_error(0, ...) for calls that had no valid handle
 *   (facelive_init, unknown or shut-down handles). Messages are not cleared by
 *   later successful calls (like errno).
 *
 * Faults
 *   An internal fault never takes the host down. It poisons the handle it
 *   happened on: from then on every call on that handle returns
 *   FACELIVE_EINTERNAL, but submit and get keep carrying frames through
 *   unmodified so the stream never freezes. Shut the handle down and create a
 *   new one to recover. Other handles are not affected.
 */
#ifndef FACELIVE_H
#define FACELIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. Compare with facelive_abi_version() at run time. */
#define FACELIVE_ABI_VERSION 1

/* ---- status codes ------------------------------------------------------ */

#define FACELIVE_OK          0   /* success */
#define FACELIVE_EAGAIN      1   /* not an error: no frame now (get), or the frame was not queued (submit) */
#define FACELIVE_EINVAL     (-1) /* bad argument: NULL pointer, bad size or stride, bad JSON, unknown key, value out of range */
#define FACELIVE_EBADHANDLE (-2) /* 0, never issued, or already shut down */
#define FACELIVE_ENOMEM     (-3) /* out of memory or over the memory budget */
#define FACELIVE_EMODEL     (-4) /* a model or face file is missing, corrupt or has the wrong signature */
                                 /* (models load in the background: see facelive_submit_frame) */
#define FACELIVE_ECLOSED    (-5) /* the handle was shut down while facelive_get_frame was waiting */
#define FACELIVE_EINTERNAL  (-6) /* handle poisoned by an internal fault; frames leave unprocessed ("unprocessed") */
#define FACELIVE_ERANGE     (-7) /* the caller's buffer is too small; the message says how large it must be */
#define FACELIVE_EFORMAT    (-8) /* unknown pixel format, or the output frame does not match the stream's format/size */

/* ---- frames -------------------------------------------------------------- */

/*
 * Pixel formats. Plane layout (w = width, h = height, rows of each plane are
 * linesize[i] bytes apart; linesize[i] must be at least the row size given):
 *
 *   format   planes  plane 0 row      plane 1 row        plane 2 row        size rules
 *   BGRA     1       w*4 B,G,R,A      -                  -                  any w, h
 *   RGBA     1       w*4 R,G,B,A      -                  -                  any w, h
 *   BGRX     1       w*4 B,G,R,X      -                  -                  any w, h (X is kept as given)
 *   BGR24    1       w*3 B,G,R        -                  -                  any w, h
 *   RGB24    1       w*3 R,G,B        -                  -                  any w, h
 *   NV12     2       w   Y (h rows)   w   UV interleaved (h/2 rows)         w, h even
 *   I420     3       w   Y (h rows)   w/2 U (h/2 rows)   w/2 V (h/2 rows)   w, h even
 *   YUY2     1       w*2 Y0 U Y1 V    -                  -                  w even
 *
 * Width and height are 1..16384. A linesize is at most FACELIVE_MAX_LINESIZE:
 * no real row is padded by more, and the cap stops a garbage struct from
 * sending the library far past the caller's memory. Unused data[]/linesize[]
 * entries are ignored.
 */
typedef enum facelive_format {
    FACELIVE_FORMAT_UNKNOWN = 0,
    FACELIVE_FORMAT_BGRA    = 1,
    FACELIVE_FORMAT_RGBA    = 2,
    FACELIVE_FORMAT_BGRX    = 3,
    FACELIVE_FORMAT_BGR24   = 4,
    FACELIVE_FORMAT_RGB24   = 5,
    FACELIVE_FORMAT_NV12    = 6,
    FACELIVE_FORMAT_I420    = 7,
    FACELIVE_FORMAT_YUY2    = 8
} facelive_format;

#define FACELIVE_MAX_DIMENSION 16384
#define FACELIVE_MAX_LINESIZE  1048576

/* facelive_get_frame writes this to out->pts_ns whenever it writes no frame. */
#define FACELIVE_PTS_NONE INT64_MIN

/*
 * A frame description. The caller owns the pixel memory in every case.
 * Set struct_size = sizeof(facelive_frame): later ABI versions may append
 * fields, and the library reads only the fields struct_size covers.
 */
typedef struct facelive_frame {
    uint32_t struct_size;  /* sizeof(facelive_frame) of the caller's header */
    uint32_t format;       /* a facelive_format */
    uint32_t width;        /* pixels */
    uint32_t height;       /* pixels */
    uint8_t *data[4];      /* plane pointers (see the table above) */
    uint32_t linesize[4];  /* bytes from one row of a plane to the next */
    int64_t  pts_ns;       /* presentation timestamp, carried through unchanged */
    /* Appended after ABI 1's first fields: the library reads them only when
     * struct_size covers them, and a library that predates them ignores
     * them, which is always correct (see FACELIVE_FRAME_HOLDS_INPUT). */
    uint32_t flags;        /* FACELIVE_FRAME_* bits; 0 = default behaviour */
    uint32_t reserved;     /* set to 0 */
    /* Appended next: how a YUV frame (NV12, I420, YUY2) encodes RGB, read by
     * facelive_submit_frame when struct_size covers them (RGB formats ignore
     * them). 0, 0 is BT.601 limited range, what USB webcams send and what
     * older hosts get. Converting with the wrong pair shifts the colours of a
     * pasted face against the frame around it. */
    uint32_t color_matrix; /* FACELIVE_COLOR_MATRIX_* */
    uint32_t color_range;  /* FACELIVE_COLOR_RANGE_* */
} facelive_frame;

#define FACELIVE_COLOR_MATRIX_BT601 0u /* SD video, most USB webcams (the default) */
#define FACELIVE_COLOR_MATRIX_BT709 1u /* HD video; OBS's default colour space */
#define FACELIVE_COLOR_RANGE_LIMITED 0u /* Y 16-235, Cb/Cr 16-240 (the default) */
#define FACELIVE_COLOR_RANGE_FULL 1u    /* Y, Cb, Cr 0-255 */

/*
 * out->flags bit for facelive_get_frame (facelive_submit_frame ignores
 * flags). It promises that out's planes already hold, unchanged, the frame
 * the caller submitted with pts out->pts_ns: typically the host gets into
 * the very buffer it submitted from. When the frame returned is that one,
 * the library writes only the pixels the pipeline changed (the face regions
 * and the overlay labels), a small part of the frame; for any other frame it
 * writes the whole frame, as without the flag. Use unique pts values.
 */
#define FACELIVE_FRAME_HOLDS_INPUT 0x1u

/*
 * out->flags bit that facelive_get_frame sets or clears on every frame it
 * writes (when struct_size covers flags): set when the face models processed
 * the frame; clear when the frame left unprocessed, as the config key
 * "unprocessed" says: unchanged ("pass", the default for swaps), the last
 * processed frame ("hold"), or whole-frame pixelated ("hide", the default for
 * the blur and pixelate swappers, which so never show the face they hide).
 * Frames leave unprocessed while the models load or after they failed to
 * load, and on a poisoned handle. With swapper.kind "none" every frame counts
 * as processed. Ignored in what the caller passes in.
 */
#define FACELIVE_FRAME_PROCESSED 0x2u

/* ---- handles ------------------------------------------------------------- */

/* A pipeline instance. 0 is never a valid handle; handles are never reused. */
typedef uint64_t facelive_handle;

/* ---- logging ------------------------------------------------------------- */

#define FACELIVE_LOG_ERROR 1
#define FACELIVE_LOG_WARN  2
#define FACELIVE_LOG_INFO  3
#define FACELIVE_LOG_DEBUG 4

/*
 * A log sink. `msg` is NUL-terminated and valid only during the call.
 * It may be called from any thread, including threads the library creates,
 * and from several threads at once: it must be thread-safe, return quickly,
 * and must not call facelive_set_log_callback.
 */
typedef void (*facelive_log_fn)(int level, const char *msg, void *user);

#ifndef FACELIVE_BUILDING_LIBRARY /* the library's own build sees cgo's prototypes instead */

/* ---- functions ----------------------------------------------------------- */

/* The FACELIVE_ABI_VERSION the library was built with. Never fails. */
uint32_t facelive_abi_version(void);

/* A static, NUL-terminated version string ("facelive 0.1.0 (go1.26 linux/amd64)").
 * Owned by the library: do not free. Never fails. */
const char *facelive_version_string(void);

/*
 * Creates a pipeline and starts its threads. Returns quickly: heavy models
 * load in the background; until they are ready frames leave as the config key
 * "unprocessed" says (see FACELIVE_FRAME_PROCESSED), except in the ordered
 * modes "quality" and "batch", where frames wait for the models.
 *
 * config_json: NULL or "{}" for defaults, else a JSON object of config keys
 *              (see README, "Config"). Unknown keys, wrong types and values
 *              out of range are errors that name the key and what is allowed.
 * err/errlen:  where to write a NUL-terminated message on failure (truncated
 *              to errlen). May be NULL/0; the message is then still available
 *              from facelive_last_error(0, ...).
 * Returns a handle, or 0 on failure.
 */
facelive_handle facelive_init(const char *config_json, char *err, size_t errlen);

/*
 * Copies a frame into the pipeline (honouring every plane's linesize) and
 * returns; it never waits for processing. The frame's memory may be reused
 * as soon as the call returns.
 *
 * Returns FACELIVE_OK when the frame was queued. FACELIVE_EAGAIN (not an
 * error) when it was not queued, for one of two reasons the metrics tell
 * apart: the pipeline is full and pushes back (skip "none", and "adaptive" in
 * the ordered modes quality and batch): the frame was not taken, is counted in
 * frames_refused, not in frames_submitted, and should be submitted again after
 * fetching output; or the skip policy dropped it (drop_newest, and "adaptive"
 * in realtime/balanced): it counts as submitted and dropped. FACELIVE_EINVAL
 * for a NULL frame, NULL planes, a struct_size smaller than version 1's, a
 * width/height of 0 or over FACELIVE_MAX_DIMENSION, an odd width/height the
 * format forbids, or a linesize shorter than a row or over
 * FACELIVE_MAX_LINESIZE; FACELIVE_EFORMAT for an unknown format;
 * FACELIVE_EBADHANDLE (also when the handle is shut down during the call);
 * FACELIVE_EMODEL while the face models named by the config failed to load
 * (a corrupt or wrong model, a photo without a face; the message names the
 * file and what was expected): the frame was still taken and will come out
 * unmodified, until a facelive_set_config fixes it; FACELIVE_EINTERNAL on a
 * poisoned handle (the frame was still taken and will come out unmodified).
 *
 * The stream's format and size may change between frames (a camera switching
 * resolution); frames keep their own format and size through the pipeline.
 */
int facelive_submit_frame(facelive_handle h, const facelive_frame *f);

/*
 * Writes the oldest processed frame not yet returned into the caller's `out`
 * (in realtime mode that is always the newest one: older results are
 * dropped as soon as a newer one is ready). The caller owns out's planes and
 * sets out->struct_size, format, width, height, data and linesize; they must
 * match the frame's format and size. The library writes the pixels and
 * out->pts_ns (the pts the frame was submitted with).
 *
 * Whenever no frame is written and `out` is a valid description, out->pts_ns
 * is set to FACELIVE_PTS_NONE, so a host can always tell whether it got one.
 *
 * With FACELIVE_FRAME_HOLDS_INPUT in out->flags (and out->pts_ns naming the
 * frame out holds), only the changed pixels are written when that frame is
 * the one returned: submit + get then cost about one copy of the frame
 * instead of two. A call that writes no frame sets pts_ns to
 * FACELIVE_PTS_NONE as always, so set it again before calling once more.
 * Unknown flag bits are FACELIVE_EINVAL.
 *
 * Waits at most timeout_ms milliseconds (0 = do not wait).
 * Returns FACELIVE_OK; FACELIVE_EAGAIN when no frame is ready in time;
 * FACELIVE_EFORMAT when out's format or size differs from the frame's (the
 * frame is kept for the next call, and the message names both); FACELIVE_EINVAL
 * for a bad `out`; FACELIVE_ECLOSED when the handle was shut down while
 * waiting; FACELIVE_EBADHANDLE; FACELIVE_EINTERNAL on a poisoned handle (a
 * frame, unmodified, was still written when one was ready).
 */
int facelive_get_frame(facelive_handle h, facelive_frame *out, uint32_t timeout_ms);

/*
 * Merges a partial config (a JSON object) into the current one and applies it
 * live, without dropping the stream. Validated strictly first: on any error
 * nothing changes. Returns FACELIVE_OK, FACELIVE_EINVAL (message names the
 * key and the allowed values), FACELIVE_EMODEL (a named file is missing),
 * FACELIVE_EBADHANDLE (also when the handle is shut down during the call),
 * FACELIVE_EINTERNAL.
 */
int facelive_set_config(facelive_handle h, const char *json);

/*
 * Writes the whole current config (get_config) or the metrics (get_metrics)
 * as NUL-terminated JSON into buf. Returns FACELIVE_OK; FACELIVE_ERANGE when
 * len is too small (buf then holds "" and the message says the size needed);
 * FACELIVE_EINVAL for a NULL buf or len 0; FACELIVE_EBADHANDLE. These two keep
 * working on a poisoned handle (metrics then say "poisoned": true).
 */
int facelive_get_config(facelive_handle h, char *buf, size_t len);
int facelive_get_metrics(facelive_handle h, char *buf, size_t len);

/*
 * Saves the current config to a JSON file (written to a temporary file and
 * renamed, so a crash never leaves half a file), or loads one: load validates
 * the file and applies it like facelive_set_config. Returns FACELIVE_OK,
 * FACELIVE_EINVAL (NULL/empty path, unreadable or invalid file: the message
 * names the path and the problem), FACELIVE_EMODEL, FACELIVE_EBADHANDLE,
 * FACELIVE_EINTERNAL.
 */
int facelive_save_config(facelive_handle h, const char *path);
int facelive_load_config(facelive_handle h, const char *path);

/*
 * Writes the message of the last failing call on handle h (h = 0: the last
 * failure of a call that had no valid handle) into buf, NUL-terminated,
 * truncated to len. Writes "" when there was none. Returns FACELIVE_OK;
 * FACELIVE_ERANGE when the message was truncated; FACELIVE_EINVAL for a NULL
 * buf or len 0; FACELIVE_EBADHANDLE for an unknown h (buf then says why the
 * handle is invalid). Thread-safe.
 */
int facelive_last_error(facelive_handle h, char *buf, size_t len);

/*
 * Installs a process-wide log sink (NULL removes it). `user` is passed back
 * unchanged. See facelive_log_fn for the threads it is called on. A line
 * already being delivered on another thread when this returns may still
 * reach the previous sink: keep its `user` data alive until your last
 * facelive_shutdown has returned.
 */
void facelive_set_log_callback(facelive_log_fn cb, void *user);

/*
 * Stops the pipeline's threads, frees its buffers and invalidates the handle.
 * Calls waiting in facelive_get_frame on it return FACELIVE_ECLOSED. Safe to
 * call twice: the second call returns FACELIVE_EBADHANDLE and does nothing.
 * Returns FACELIVE_OK or FACELIVE_EBADHANDLE.
 */
int facelive_shutdown(facelive_handle h);

#endif /* FACELIVE_BUILDING_LIBRARY */

#ifdef __cplusplus
}
#endif

#endif /* FACELIVE_H */
