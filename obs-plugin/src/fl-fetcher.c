/*
 * fl-fetcher.c — see fl-fetcher.h.
 */
#include "fl-fetcher.h"

#include <string.h>
#include <util/bmem.h>
#include <util/platform.h>

/* How long the fetcher waits in facelive_get_frame at a time; also the
 * longest destroy waits for it. */
#define GET_WAIT_MS 50

/* The planes of a frame in facelive's layout (include/facelive.h): bytes
 * per row and rows of each. Returns the number of planes, 0 for a format
 * the library does not take. */
static int plane_layout(uint32_t format, uint32_t w, uint32_t h, size_t row[4], size_t rows[4])
{
	switch (format) {
	case FACELIVE_FORMAT_NV12:
		row[0] = w, rows[0] = h;
		row[1] = w, rows[1] = h / 2; /* interleaved U,V pairs */
		return 2;
	case FACELIVE_FORMAT_I420:
		row[0] = w, rows[0] = h;
		row[1] = row[2] = w / 2;
		rows[1] = rows[2] = h / 2;
		return 3;
	case FACELIVE_FORMAT_YUY2:
		row[0] = (size_t)w * 2, rows[0] = h;
		return 1;
	case FACELIVE_FORMAT_BGRA:
	case FACELIVE_FORMAT_BGRX:
	case FACELIVE_FORMAT_RGBA:
		row[0] = (size_t)w * 4, rows[0] = h;
		return 1;
	default:
		return 0;
	}
}

static bool same_geometry(const facelive_frame *a, const facelive_frame *b)
{
	return a->format == b->format && a->width == b->width && a->height == b->height;
}

/* Lays b out, tightly packed, for frames of like's format and size; grows
 * its memory only when the size grows (a camera switching resolution). */
static bool buf_fit(struct fl_frame_buf *b, const facelive_frame *like)
{
	if (b->mem && same_geometry(&b->desc, like))
		return true;
	size_t row[4] = {0}, rows[4] = {0};
	int planes = plane_layout(like->format, like->width, like->height, row, rows);
	if (planes == 0)
		return false;
	size_t need = 0;
	for (int i = 0; i < planes; i++)
		need += row[i] * rows[i];
	if (need > b->cap) {
		uint8_t *mem = brealloc(b->mem, need);
		if (!mem)
			return false;
		b->mem = mem;
		b->cap = need;
	}
	facelive_frame d = {0};
	d.struct_size = sizeof d;
	d.format = like->format;
	d.width = like->width;
	d.height = like->height;
	size_t off = 0;
	for (int i = 0; i < planes; i++) {
		d.data[i] = b->mem + off;
		d.linesize[i] = (uint32_t)row[i];
		off += row[i] * rows[i];
	}
	d.pts_ns = FACELIVE_PTS_NONE;
	b->desc = d;
	return true;
}

/* Copies the planes of src into dst, row by row where the strides differ;
 * both have the same format and size. */
static void copy_planes(const facelive_frame *dst, const facelive_frame *src)
{
	size_t row[4] = {0}, rows[4] = {0};
	int planes = plane_layout(src->format, src->width, src->height, row, rows);
	for (int i = 0; i < planes; i++) {
		if (dst->linesize[i] == row[i] && src->linesize[i] == row[i]) {
			memcpy(dst->data[i], src->data[i], row[i] * rows[i]);
			continue;
		}
		for (size_t y = 0; y < rows[i]; y++)
			memcpy(dst->data[i] + y * dst->linesize[i], src->data[i] + y * src->linesize[i], row[i]);
	}
}

static void swap_bufs(struct fl_frame_buf **a, struct fl_frame_buf **b)
{
	struct fl_frame_buf *t = *a;
	*a = *b;
	*b = t;
}

static void *fetcher_main(void *arg)
{
	struct fl_fetcher *x = arg;
	os_set_thread_name("facelive: fetch");
	uint64_t idle_at = 0; /* x->submitted when the last wait came back empty */
	for (;;) {
		pthread_mutex_lock(&x->lock);
		while (!x->stop && x->submitted == idle_at)
			pthread_cond_wait(&x->wake, &x->lock);
		if (x->stop) {
			pthread_mutex_unlock(&x->lock);
			break;
		}
		facelive_frame stream = x->stream;
		uint64_t submitted = x->submitted;
		pthread_mutex_unlock(&x->lock);

		facelive_handle h = fl_core_handle(x->core);
		/* The output in the newest stream's format and size: the library
		 * then drops frames of an older size on the way (a camera that
		 * switched resolution) instead of returning FACELIVE_EFORMAT. */
		if (!h || !buf_fit(x->got, &stream)) {
			idle_at = submitted;
			continue;
		}
		x->got->desc.flags = 0;
		x->got->desc.pts_ns = FACELIVE_PTS_NONE;
		int rc = facelive_get_frame(h, &x->got->desc, GET_WAIT_MS);
		fl_core_note_get(x->core, h, rc);
		/* pts_ns alone says whether a frame was written (a poisoned
		 * handle writes frames unmodified and says EINTERNAL). */
		if (x->got->desc.pts_ns != FACELIVE_PTS_NONE) {
			pthread_mutex_lock(&x->lock);
			swap_bufs(&x->got, &x->ready);
			x->has_ready = true;
			pthread_mutex_unlock(&x->lock);
			continue;
		}
		/* Nothing came in time, or the handle went away (a restart):
		 * wait for the next frame submitted rather than spin. */
		idle_at = submitted;
	}
	return NULL;
}

bool fl_fetcher_start(struct fl_fetcher *x, struct fl_core *core)
{
	x->core = core;
	x->got = &x->bufs[0];
	x->ready = &x->bufs[1];
	x->show = &x->bufs[2];
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->wake, NULL);
	if (pthread_create(&x->thread, NULL, fetcher_main, x) != 0) {
		FL_LOG(LOG_ERROR, "cannot start the thread that fetches processed frames: frames pass through");
		return false;
	}
	x->started = true;
	return true;
}

void fl_fetcher_stop(struct fl_fetcher *x)
{
	if (x->started) {
		pthread_mutex_lock(&x->lock);
		x->stop = true;
		pthread_cond_broadcast(&x->wake);
		pthread_mutex_unlock(&x->lock);
		pthread_join(x->thread, NULL);
		x->started = false;
	}
	for (size_t i = 0; i < sizeof x->bufs / sizeof x->bufs[0]; i++) {
		bfree(x->bufs[i].mem);
		x->bufs[i] = (struct fl_frame_buf){0};
	}
	pthread_cond_destroy(&x->wake);
	pthread_mutex_destroy(&x->lock);
}

void fl_fetcher_submitted(struct fl_fetcher *x, const facelive_frame *in)
{
	pthread_mutex_lock(&x->lock);
	x->stream.format = in->format;
	x->stream.width = in->width;
	x->stream.height = in->height;
	x->submitted++;
	pthread_mutex_unlock(&x->lock);
	pthread_cond_signal(&x->wake);
}

bool fl_fetcher_take(struct fl_fetcher *x, const facelive_frame *out)
{
	pthread_mutex_lock(&x->lock);
	bool fresh = x->has_ready;
	if (fresh) {
		swap_bufs(&x->ready, &x->show);
		x->has_ready = false;
	}
	pthread_mutex_unlock(&x->lock);
	if (!fresh || !same_geometry(&x->show->desc, out))
		return false; /* none new, or one of the size before a resolution switch */
	copy_planes(out, &x->show->desc);
	return true;
}
