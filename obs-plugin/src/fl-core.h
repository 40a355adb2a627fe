/*
 * fl-core.h — what both facelive filters share: the engine handle and its
 * life cycle, settings ↔ config JSON, the properties, and the live info line.
 *
 * Threads. create/update/get_properties and the buttons run on OBS's UI
 * thread (or whichever thread the host calls them from) and never call the
 * library: starting and stopping the engine, settings, restarts, Save/Load
 * config and the info line are the plugin's worker thread's (one per
 * filter). A loaded config reaches the settings through a
 * UI task (obs_queue_task), as OBS wants settings written. destroy runs on
 * libobs's destruction thread. filter_video and video_render run on
 * libobs's graphics thread and only copy frames in and out (they submit;
 * each filter's fetcher thread, fl-fetcher.h, gets); show/hide and
 * activate/deactivate run there too and only wake the worker. The toggle hotkey
 * runs on libobs's hotkey thread and only enables or disables the filter. The handle is
 * an atomic integer: a frame callback that races with a restart merely gets
 * FACELIVE_EBADHANDLE from the old handle and passes its frame through (the
 * library never reuses handles). Strings are guarded by one short mutex that
 * is never held across a library call that can take time.
 */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <obs-module.h>
#include <util/dstr.h>
#include <util/threading.h>

#include <facelive.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FL_LOG(level, fmt, ...) blog(level, "[facelive] " fmt, ##__VA_ARGS__)

/* Module-wide paths, found once in obs_module_load (NULL when absent). */
void fl_paths_init(void);
void fl_paths_free(void);
const char *fl_assets_dir(void);
const char *fl_onnxruntime_library(void);

#define FL_TIMING_SAMPLES 1000

#define FL_HAS_CUDA 1
#define FL_HAS_TENSORRT 2

struct fl_core {
	obs_source_t *source;
	const char *timing_label; /* "filter" or "render" */

	_Atomic uint64_t handle; /* facelive_handle; 0 = none (init failed) */

	pthread_mutex_t lock; /* guards everything below */
	struct dstr init_error;   /* why facelive_init failed; empty when it did not */
	struct dstr config_error; /* last failed set_config; cleared on success */
	struct dstr frame_error;  /* last submit error (bad size/format) */
	struct dstr info;         /* the info line now shown */
	int info_state;           /* enum fl_state of info */
	bool info_notice;         /* info carries a Save/Load note */
	uint64_t last_info_ns;    /* refresh throttle */
	uint64_t last_publish_ns; /* when info was last published (settings, properties) */
	uint64_t samples[FL_TIMING_SAMPLES]; /* ns spent in the frame callback */
	size_t nsamples, next_sample;

	/* Set by the info refresh (and update) while the engine's output must
	 * not be shown: the face pipeline failed, the last settings were
	 * rejected, or the handle is poisoned. The library keeps running the
	 * previous models in those cases (a rejected config changes nothing),
	 * so the frame callbacks pass frames through untouched instead. */
	_Atomic bool bypass;

	/* Set by the info refresh while the engine swaps (face pipeline ready,
	 * nothing in error): then a frame the engine has not caught up with is
	 * held back rather than shown with the real face. */
	_Atomic bool swapping;
	/* Set at once by fl_core_update while the swapper is blur or pixelate:
	 * then no frame the library did not write is ever shown (a privacy
	 * filter never shows the face it hides; the library itself hides the
	 * frames its models did not process). */
	_Atomic bool privacy;
	/* Until the worker has started the first engine (fl_core_init). */
	_Atomic bool starting;
	/* Set by the "Restart engine" button: the worker starts a new engine
	 * from the current settings. */
	_Atomic bool restart;
	/* The GPU execution providers the engine can run (its metrics'
	 * execution_providers_available, read by the worker): FL_HAS_* bits. */
	_Atomic int gpu_providers;
	/* Set by the frame thread while the filter's source is neither shown
	 * anywhere (preview, projector, program) nor on the program output:
	 * then no frame is submitted and the engine idles (fl_core_set_paused). */
	_Atomic bool paused;
	/* The frontend hotkey that enables/disables the filter (its bindings
	 * are saved in the filter's settings, "toggle_hotkey"). */
	obs_hotkey_id toggle_hotkey;
	/* A Save/Load config button's request for the worker (guarded by lock):
	 * FL_REQ_* and the file. */
	int config_req;
	struct dstr config_req_path;
	/* A short note for the info line after Save/Load ("config saved to
	 * …"), until notice_until_ns (guarded by lock). */
	struct dstr notice;
	bool notice_error; /* the note is why a Save/Load failed */
	uint64_t notice_until_ns;
	_Atomic uint64_t last_out_ns; /* frame thread: when a processed frame last went out */
	_Atomic uint64_t held;        /* frames held back (dropped) because the engine was behind */

	/* The worker thread applies settings and refreshes the info line, so
	 * that neither OBS's UI thread nor its graphics thread waits on the
	 * engine (a settings change may restart it). */
	pthread_t worker;
	bool worker_started;
	os_event_t *wake;
	_Atomic bool stopping;
	struct dstr pending_partial; /* guarded by lock: settings not yet applied */
	struct dstr pending_full;    /* the same settings as a whole config, for a restart */
	bool pending;

	/* Frame-thread state, read by the info refresh. */
	_Atomic int submit_rc;          /* last facelive_submit_frame result */
	_Atomic int get_rc;             /* last facelive_get_frame result */
	_Atomic int unsupported_format; /* enum video_format of the last frame if unsupported, else 0 */
	_Atomic uint64_t logged_formats; /* bit per enum video_format already logged as unsupported */
};

/* create: initialises the core; the worker starts the engine from settings. */
void fl_core_init(struct fl_core *c, obs_source_t *source, obs_data_t *settings, const char *timing_label);
/* update: queues settings for the worker, which applies them live (or
 * retries a failed init / restarts a poisoned handle). Returns at once. */
void fl_core_update(struct fl_core *c, obs_data_t *settings);
/* destroy: stops the worker, which shuts the engine down. */
void fl_core_free(struct fl_core *c);

static inline facelive_handle fl_core_handle(struct fl_core *c)
{
	return atomic_load_explicit(&c->handle, memory_order_acquire);
}

/* Frame thread: whether to leave frames alone (see bypass). */
static inline bool fl_core_bypass(struct fl_core *c)
{
	return atomic_load_explicit(&c->bypass, memory_order_relaxed);
}

/* Frame thread: one sample of time spent in the frame callback. */
void fl_core_record_time(struct fl_core *c, uint64_t ns);
/* Frame thread: the result of a submit (keeps the info line's frame error). */
void fl_core_note_submit(struct fl_core *c, facelive_handle h, int rc);
/* Frame thread, after facelive_get_frame: logs and shows a frame error
 * once per change of the result. */
void fl_core_note_get(struct fl_core *c, facelive_handle h, int rc);
/* Frame thread: a frame in a format facelive cannot take (0 = the format is fine). */
void fl_core_note_format(struct fl_core *c, int video_format, bool supported);

/* Frame thread: whether the engine is paused (see paused). */
static inline bool fl_core_paused(struct fl_core *c)
{
	return atomic_load_explicit(&c->paused, memory_order_relaxed);
}

/* Frame thread, per frame: paused from the source's own show and activate
 * counts (logged and shown when it changes). */
void fl_core_set_paused(struct fl_core *c, obs_source_t *parent);

/* Source-info callbacks both filters share (data is a struct fl_core *, the
 * filter's first member): show/hide/activate/deactivate wake the worker
 * (the info line follows at once); save keeps the toggle hotkey's bindings
 * in the settings. */
void fl_core_show(void *data);
void fl_core_hide(void *data);
void fl_core_activate(void *data);
void fl_core_deactivate(void *data);
void fl_core_save(void *data, obs_data_t *settings);

/* Frame thread: whether only frames the library wrote may be shown (see privacy). */
static inline bool fl_core_privacy(struct fl_core *c)
{
	return atomic_load_explicit(&c->privacy, memory_order_relaxed);
}

/* Frame thread: whether the engine swaps faces now (see swapping). */
static inline bool fl_core_swapping(struct fl_core *c)
{
	return atomic_load_explicit(&c->swapping, memory_order_relaxed);
}

/* Worker thread: refreshes the info line from the metrics, at most twice a
 * second unless force, and publishes it (the "info" property's description
 * and obs_source_update_properties): a change of state at once, new numbers
 * at most every 2 s. */
void fl_core_refresh_info(struct fl_core *c, bool force);

/* Wakes the worker so that the info line is refreshed soon. */
void fl_core_poke(struct fl_core *c);

/* Shared source-info callbacks. */
void fl_get_defaults(obs_data_t *settings);
obs_properties_t *fl_get_properties(void *data); /* data is a struct fl_core * (first member) or NULL */

#endif
