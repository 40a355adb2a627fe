/*
 * fl-filter.c — "facelive_filter", the async video filter for camera sources.
 *
 * filter_video hands OBS's frame to facelive as it is (its planes and
 * linesizes, no conversion), then writes the newest processed frame that
 * came since the last call straight back into the same OBS frame. That one
 * was fetched from the library by a thread of the filter's own
 * (fl-fetcher.h): the graphics thread never waits in facelive_get_frame. The
 * frame keeps the timestamp OBS gave it. When no processed frame came: with
 * blur or pixelate the frame is always held back (a privacy filter never
 * shows the face it hides; while its models load the library hides whole
 * frames itself); otherwise, while the models load (or on an error) the
 * frame passes through unmodified, and once the engine swaps it is held back
 * (OBS keeps showing the last swapped one) for up to a second.
 *
 * libobs calls filter_video on its graphics thread, with the parent source's
 * async mutex held, for each frame it is about to show, and does so for a
 * camera in a scene nobody sees too: while the source is neither shown nor
 * on the program output (its show and activate counts) nothing is
 * submitted, and the engine idles.
 */
#include "fl-core.h"
#include "fl-fetcher.h"

#include <math.h>
#include <media-io/video-io.h>
#include <util/platform.h>

/* How long frames may be held back while the engine catches up (see fl_filter_video). */
#define HOLD_LIMIT_NS 1000000000ULL

struct fl_filter {
	struct fl_core core; /* first: fl_get_properties takes the data pointer as a core */
	/* The Cr → R entry of OBS's YUV → RGB matrix for BT.601 and BT.709,
	 * limited [0] and full [1] range: how color_matrix_of tells them apart. */
	float cr601[2], cr709[2];
	struct fl_fetcher fetcher; /* processed frames out of the engine, off the graphics thread */
};

static const char *fl_filter_name(void *type_data)
{
	(void)type_data;
	return obs_module_text("FaceliveFilter");
}

static void *fl_filter_create(obs_data_t *settings, obs_source_t *source)
{
	struct fl_filter *f = bzalloc(sizeof *f);
	for (int full = 0; full < 2; full++) {
		float m[16], lo[3], hi[3];
		enum video_range_type range = full ? VIDEO_RANGE_FULL : VIDEO_RANGE_PARTIAL;
		video_format_get_parameters(VIDEO_CS_601, range, m, lo, hi);
		f->cr601[full] = m[2];
		video_format_get_parameters(VIDEO_CS_709, range, m, lo, hi);
		f->cr709[full] = m[2];
	}
	fl_core_init(&f->core, source, settings, "filter");
	fl_fetcher_start(&f->fetcher, &f->core); /* when it cannot start, frames pass through (logged) */
	return f;
}

static void fl_filter_destroy(void *data)
{
	struct fl_filter *f = data;
	fl_fetcher_stop(&f->fetcher); /* first: its thread uses the engine's handle */
	fl_core_free(&f->core);
	bfree(f);
}

static void fl_filter_update(void *data, obs_data_t *settings)
{
	struct fl_filter *f = data;
	fl_core_update(&f->core, settings);
}

/* The matrix of an OBS frame: OBS hands over the YUV → RGB matrix itself
 * (obs_source_frame.color_matrix, row-major: R = m[0]·Y + m[1]·Cb +
 * m[2]·Cr + m[3]); its Cr → R entry is 1.596/1.402 for BT.601 and
 * 1.793/1.575 for BT.709 (limited/full). Anything else (BT.2100 from an
 * HDR source) is nearest to BT.709. */
static uint32_t color_matrix_of(const struct fl_filter *f, const struct obs_source_frame *frame)
{
	int full = frame->full_range ? 1 : 0;
	float cr = frame->color_matrix[2];
	return fabsf(cr - f->cr709[full]) < fabsf(cr - f->cr601[full]) ? FACELIVE_COLOR_MATRIX_BT709
									 : FACELIVE_COLOR_MATRIX_BT601;
}

/* The facelive format of an OBS frame format, or FACELIVE_FORMAT_UNKNOWN. */
static uint32_t map_format(enum video_format format, int *planes)
{
	switch (format) {
	case VIDEO_FORMAT_NV12:
		*planes = 2;
		return FACELIVE_FORMAT_NV12;
	case VIDEO_FORMAT_I420:
		*planes = 3;
		return FACELIVE_FORMAT_I420;
	case VIDEO_FORMAT_YUY2:
		*planes = 1;
		return FACELIVE_FORMAT_YUY2;
	case VIDEO_FORMAT_BGRA:
		*planes = 1;
		return FACELIVE_FORMAT_BGRA;
	case VIDEO_FORMAT_BGRX:
		*planes = 1;
		return FACELIVE_FORMAT_BGRX;
	case VIDEO_FORMAT_RGBA:
		*planes = 1;
		return FACELIVE_FORMAT_RGBA;
	default:
		*planes = 0;
		return FACELIVE_FORMAT_UNKNOWN;
	}
}

static struct obs_source_frame *fl_filter_video(void *data, struct obs_source_frame *frame)
{
	struct fl_filter *f = data;
	if (!frame)
		return frame;
	fl_core_set_paused(&f->core, obs_filter_get_parent(f->core.source));
	facelive_handle h = f->fetcher.started ? fl_core_handle(&f->core) : 0;
	bool privacy = fl_core_privacy(&f->core);
	if (!h || fl_core_bypass(&f->core)) {
		/* No engine, or it is in error (the info line says why): pass
		 * through. Not with a privacy filter: without an engine it shows
		 * nothing new; in error the library still hides every frame. */
		if (!privacy)
			return frame;
		if (!h)
			goto hold;
	}

	if (fl_core_paused(&f->core)) {
		/* Nobody sees this source (hidden scene): nothing is submitted.
		 * A privacy filter still shows nothing new: the frame OBS keeps
		 * for when the source is shown again must not be the face. */
		if (privacy)
			goto hold;
		return frame;
	}

	uint64_t t0 = os_gettime_ns();
	int planes;
	uint32_t format = map_format(frame->format, &planes);
	fl_core_note_format(&f->core, (int)frame->format, format != FACELIVE_FORMAT_UNKNOWN);
	if (format == FACELIVE_FORMAT_UNKNOWN)
		return frame;

	facelive_frame in = {0};
	in.struct_size = sizeof in;
	in.format = format;
	in.width = frame->width;
	in.height = frame->height;
	for (int i = 0; i < planes; i++) {
		in.data[i] = frame->data[i];
		in.linesize[i] = frame->linesize[i];
	}
	in.pts_ns = (int64_t)frame->timestamp;
	in.color_matrix = color_matrix_of(f, frame);
	in.color_range = frame->full_range ? FACELIVE_COLOR_RANGE_FULL : FACELIVE_COLOR_RANGE_LIMITED;
	int rc = facelive_submit_frame(h, &in);
	fl_core_note_submit(&f->core, h, rc);
	if (rc == FACELIVE_OK || rc == FACELIVE_EINTERNAL) /* taken (a poisoned handle lets it out unmodified) */
		fl_fetcher_submitted(&f->fetcher, &in);
	/* The newest processed frame that came since the last call (in
	 * realtime mode typically the previous frame), fetched by the
	 * fetcher's thread, written over this frame's own planes. */
	bool wrote = fl_fetcher_take(&f->fetcher, &in);

	uint64_t t1 = os_gettime_ns();
	fl_core_record_time(&f->core, t1 - t0);
	if (wrote) {
		atomic_store_explicit(&f->core.last_out_ns, t1, memory_order_relaxed);
	} else if (privacy || (fl_core_swapping(&f->core) &&
			       t1 - atomic_load_explicit(&f->core.last_out_ns, memory_order_relaxed) < HOLD_LIMIT_NS)) {
		/* The engine has not caught up with this frame: showing it would
		 * flash the real face between swapped frames, or leak the face a
		 * privacy filter hides. Hold it back; OBS keeps showing the last
		 * frame. A swap after HOLD_LIMIT_NS without any processed frame is
		 * stuck, and a moving picture wins over a frozen one; a privacy
		 * filter never lets the face out. */
		goto hold;
	}
	/* frame->timestamp stays the one OBS gave. */
	return frame;
hold:
	atomic_fetch_add_explicit(&f->core.held, 1, memory_order_relaxed);
	obs_source_release_frame(obs_filter_get_parent(f->core.source), frame);
	return NULL;
}

struct obs_source_info fl_filter_info = {
	.id = "facelive_filter",
	.type = OBS_SOURCE_TYPE_FILTER,
	.output_flags = OBS_SOURCE_VIDEO | OBS_SOURCE_ASYNC,
	.get_name = fl_filter_name,
	.create = fl_filter_create,
	.destroy = fl_filter_destroy,
	.update = fl_filter_update,
	.get_defaults = fl_get_defaults,
	.get_properties = fl_get_properties,
	.filter_video = fl_filter_video,
	.show = fl_core_show,
	.hide = fl_core_hide,
	.activate = fl_core_activate,
	.deactivate = fl_core_deactivate,
	.save = fl_core_save,
};
