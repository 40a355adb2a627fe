/*
 * fl-render-filter.c — "facelive_render_filter", the effect filter that works
 * on any source (scenes, window and game captures, images...).
 *
 * Once per output frame, in video_render on the graphics thread:
 *   1. render the filter's target into a BGRA texrender;
 *   2. stage it into one of two staging surfaces, while mapping the one
 *      staged on the previous frame (so the GPU copy has had a whole frame
 *      to finish and the map never stalls);
 *   3. submit that mapped frame to facelive as BGRA (linesize from the map);
 *   4. take the newest processed frame that came since, fetched by a
 *      thread of the filter's own (fl-fetcher.h: the graphics thread never
 *      waits in facelive_get_frame), into a plugin-owned buffer; when there
 *      is a new one, upload it into a texture.
 * Then draw the processed texture; before the first processed frame, draw
 * the source unchanged (obs_source_skip_video_filter), or, with blur or
 * pixelate, nothing: a privacy filter never shows the face it hides. A change of the
 * target's size recreates the texrender, surfaces, buffer and texture.
 */
#include "fl-core.h"
#include "fl-fetcher.h"

#include <graphics/vec4.h>
#include <util/platform.h>

struct fl_render {
	struct fl_core core; /* first: fl_get_properties takes the data pointer as a core */

	/* Graphics thread only. */
	gs_texrender_t *texrender;
	gs_stagesurf_t *stage[2];
	bool staged[2]; /* holds a frame not yet submitted */
	int cur;        /* the surface staged this frame */
	uint32_t width, height;
	uint8_t *buf; /* processed frame, width * 4 bytes per row */
	gs_texture_t *tex;
	bool have_processed;
	uint64_t last_frame_time; /* obs_get_video_frame_time of the last capture */

	struct fl_fetcher fetcher; /* processed frames out of the engine, off the graphics thread */
};

static const char *fl_render_name(void *type_data)
{
	(void)type_data;
	return obs_module_text("FaceliveRenderFilter");
}

/* Frees the GPU objects; call inside the graphics context. */
static void free_gpu(struct fl_render *r)
{
	gs_texrender_destroy(r->texrender);
	gs_stagesurface_destroy(r->stage[0]);
	gs_stagesurface_destroy(r->stage[1]);
	gs_texture_destroy(r->tex);
	r->texrender = NULL;
	r->stage[0] = r->stage[1] = NULL;
	r->tex = NULL;
	r->staged[0] = r->staged[1] = false;
	r->have_processed = false;
	r->width = r->height = 0;
	bfree(r->buf);
	r->buf = NULL;
}

/* (Re)creates everything for a w x h target. */
static bool alloc_gpu(struct fl_render *r, uint32_t w, uint32_t h)
{
	free_gpu(r);
	r->texrender = gs_texrender_create(GS_BGRA, GS_ZS_NONE);
	r->stage[0] = gs_stagesurface_create(w, h, GS_BGRA);
	r->stage[1] = gs_stagesurface_create(w, h, GS_BGRA);
	r->tex = gs_texture_create(w, h, GS_BGRA, 1, NULL, GS_DYNAMIC);
	r->buf = bmalloc((size_t)w * h * 4);
	if (!r->texrender || !r->stage[0] || !r->stage[1] || !r->tex) {
		FL_LOG(LOG_WARNING, "render filter: cannot create %ux%u textures", w, h);
		free_gpu(r);
		return false;
	}
	r->width = w;
	r->height = h;
	r->cur = 0;
	return true;
}

static void *fl_render_create(obs_data_t *settings, obs_source_t *source)
{
	struct fl_render *r = bzalloc(sizeof *r);
	fl_core_init(&r->core, source, settings, "render");
	fl_fetcher_start(&r->fetcher, &r->core); /* when it cannot start, the source is drawn unchanged (logged) */
	return r;
}

static void fl_render_destroy(void *data)
{
	struct fl_render *r = data;
	fl_fetcher_stop(&r->fetcher); /* first: its thread uses the engine's handle */
	obs_enter_graphics();
	free_gpu(r);
	obs_leave_graphics();
	fl_core_free(&r->core);
	bfree(r);
}

static void fl_render_update(void *data, obs_data_t *settings)
{
	struct fl_render *r = data;
	fl_core_update(&r->core, settings);
}

/* Step 1: the target, as it would be drawn, into the texrender. */
static bool render_target(struct fl_render *r, obs_source_t *target)
{
	gs_texrender_reset(r->texrender);
	if (!gs_texrender_begin_with_color_space(r->texrender, r->width, r->height, GS_CS_SRGB))
		return false;
	struct vec4 clear;
	vec4_zero(&clear);
	gs_clear(GS_CLEAR_COLOR, &clear, 0.0f, 0);
	gs_ortho(0.0f, (float)r->width, 0.0f, (float)r->height, -100.0f, 100.0f);
	gs_blend_state_push();
	gs_blend_function(GS_BLEND_ONE, GS_BLEND_ZERO);
	/* As libobs' own filter chain does: the filter's parent, when it draws
	 * with the default effect (not custom-draw, not async), must be drawn
	 * with obs_source_default_render, or it renders black. */
	uint32_t flags = obs_source_get_output_flags(target);
	if (target == obs_filter_get_parent(r->core.source) && !(flags & OBS_SOURCE_CUSTOM_DRAW) &&
	    !(flags & OBS_SOURCE_ASYNC))
		obs_source_default_render(target);
	else
		obs_source_video_render(target);
	gs_blend_state_pop();
	gs_texrender_end(r->texrender);
	return true;
}

/* Steps 2-4. */
static void capture(struct fl_render *r, obs_source_t *target, facelive_handle h)
{
	if (!render_target(r, target))
		return;

	gs_stage_texture(r->stage[r->cur], gs_texrender_get_texture(r->texrender));
	r->staged[r->cur] = true;

	int prev = r->cur ^ 1;
	uint8_t *data;
	uint32_t linesize;
	if (r->staged[prev] && gs_stagesurface_map(r->stage[prev], &data, &linesize)) {
		facelive_frame in = {0};
		in.struct_size = sizeof in;
		in.format = FACELIVE_FORMAT_BGRA;
		in.width = r->width;
		in.height = r->height;
		in.data[0] = data;
		in.linesize[0] = linesize;
		in.pts_ns = (int64_t)obs_get_video_frame_time();
		int rc = facelive_submit_frame(h, &in);
		fl_core_note_submit(&r->core, h, rc);
		if (rc == FACELIVE_OK || rc == FACELIVE_EINTERNAL) /* taken (a poisoned handle lets it out unmodified) */
			fl_fetcher_submitted(&r->fetcher, &in);
		gs_stagesurface_unmap(r->stage[prev]);
	}
	r->staged[prev] = false;
	r->cur = prev; /* next frame stages into the surface just read */

	facelive_frame out = {0};
	out.struct_size = sizeof out;
	out.format = FACELIVE_FORMAT_BGRA;
	out.width = r->width;
	out.height = r->height;
	out.data[0] = r->buf;
	out.linesize[0] = r->width * 4;
	if (fl_fetcher_take(&r->fetcher, &out)) {
		/* Only a new processed frame is uploaded; otherwise the cached texture is drawn. */
		gs_texture_set_image(r->tex, r->buf, r->width * 4, false);
		r->have_processed = true;
	}
}

static void draw_processed(struct fl_render *r)
{
	gs_effect_t *effect = obs_get_base_effect(OBS_EFFECT_DEFAULT);
	gs_eparam_t *image = gs_effect_get_param_by_name(effect, "image");

	/* The texture holds sRGB-encoded bytes, like the texrender they came from. */
	const bool previous = gs_framebuffer_srgb_enabled();
	gs_enable_framebuffer_srgb(true);
	gs_effect_set_texture_srgb(image, r->tex);
	while (gs_effect_loop(effect, "Draw"))
		gs_draw_sprite(r->tex, 0, r->width, r->height);
	gs_enable_framebuffer_srgb(previous);
}

static void fl_render_video(void *data, gs_effect_t *effect)
{
	(void)effect;
	struct fl_render *r = data;
	obs_source_t *target = obs_filter_get_target(r->core.source);
	facelive_handle h = r->fetcher.started ? fl_core_handle(&r->core) : 0;
	uint32_t w = target ? obs_source_get_base_width(target) : 0;
	uint32_t hgt = target ? obs_source_get_base_height(target) : 0;
	bool privacy = fl_core_privacy(&r->core);
	if (!h || !w || !hgt || fl_core_bypass(&r->core)) {
		r->have_processed = false; /* never show a stale swap afterwards */
		if (!privacy) /* a privacy filter draws nothing rather than the face */
			obs_source_skip_video_filter(r->core.source);
		return;
	}
	if (w != r->width || hgt != r->height) {
		if (!alloc_gpu(r, w, hgt)) {
			obs_source_skip_video_filter(r->core.source);
			return;
		}
	}

	/* Once per output frame, however many views render this filter. */
	uint64_t frame_time = obs_get_video_frame_time();
	if (frame_time != r->last_frame_time) {
		r->last_frame_time = frame_time;
		uint64_t t0 = os_gettime_ns();
		capture(r, target, h);
		fl_core_record_time(&r->core, os_gettime_ns() - t0);
	}

	if (r->have_processed)
		draw_processed(r);
	else if (!privacy) /* a privacy filter draws nothing until the library wrote a frame */
		obs_source_skip_video_filter(r->core.source);
}

struct obs_source_info fl_render_filter_info = {
	.id = "facelive_render_filter",
	.type = OBS_SOURCE_TYPE_FILTER,
	.output_flags = OBS_SOURCE_VIDEO | OBS_SOURCE_SRGB,
	.get_name = fl_render_name,
	.create = fl_render_create,
	.destroy = fl_render_destroy,
	.update = fl_render_update,
	.get_defaults = fl_get_defaults,
	.get_properties = fl_get_properties,
	.video_render = fl_render_video,
	.show = fl_core_show,
	.hide = fl_core_hide,
	.activate = fl_core_activate,
	.deactivate = fl_core_deactivate,
	.save = fl_core_save,
};
