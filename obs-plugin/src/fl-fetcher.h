/*
 * fl-fetcher.h — processed frames out of the engine on a thread of the
 * filter's own, so that OBS's graphics thread never calls facelive_get_frame.
 *
 * Why: a call into libfacelive is a call into Go. The graphics thread's
 * facelive_submit_frame wakes an engine worker, and Go queued that worker
 * on the graphics thread's own processor (P); the get that followed was then
 * often preempted to hand the P over, and the graphics thread slept 1-5 ms
 * (about 1 % of frames at NV12 1080p in the headless libobs test: the call's
 * p99 1.2-2.1 ms, 0.7-0.8 ms with this thread). The graphics thread still
 * submits (a copy into the engine), then takes the newest processed frame
 * from here: a mutex held only to swap two pointers, and a copy.
 *
 * Three buffers, each owned by one side at a time: got (the fetcher's, the
 * library writes into it), ready (shared: the newest processed frame not yet
 * taken) and show (the graphics thread's, copied out of).
 */
#ifndef FL_FETCHER_H
#define FL_FETCHER_H

#include "fl-core.h"

#include <pthread.h>

struct fl_frame_buf {
	uint8_t *mem;
	size_t cap;
	facelive_frame desc; /* format, size, tight linesizes, planes into mem; pts once written */
};

struct fl_fetcher {
	struct fl_core *core;
	pthread_mutex_t lock; /* guards everything below; held only to swap or copy a few fields */
	pthread_cond_t wake;  /* a frame was submitted, or stop */
	struct fl_frame_buf bufs[3];
	struct fl_frame_buf *got, *ready, *show;
	bool has_ready; /* ready holds a processed frame not yet taken */
	bool stop;
	uint64_t submitted;    /* frames the library took */
	facelive_frame stream; /* format and size of the newest frame submitted */
	pthread_t thread;
	bool started;
};

/* create: starts the thread (false, logged, when it cannot start). */
bool fl_fetcher_start(struct fl_fetcher *x, struct fl_core *core);
/* destroy: stops and joins the thread (it waits at most 50 ms in the
 * library), frees the buffers. */
void fl_fetcher_stop(struct fl_fetcher *x);

/* Graphics thread, after facelive_submit_frame took in (FACELIVE_OK, or
 * FACELIVE_EINTERNAL from a poisoned handle, which lets frames out
 * unmodified): there is a frame to wait for, in in's format and size. */
void fl_fetcher_submitted(struct fl_fetcher *x, const facelive_frame *in);

/* Graphics thread: writes the newest processed frame not yet taken over
 * out's planes when one came and has out's format and size; returns whether
 * it wrote one (out's own pts_ns is left as it is). */
bool fl_fetcher_take(struct fl_fetcher *x, const facelive_frame *out);

#endif
