/* fl-core.c — see fl-core.h. */
#include "fl-core.h"

#include <util/bmem.h>
#include <util/platform.h>

#include <stdlib.h>
#include <string.h>

#define T(s) obs_module_text(s)

#define INFO_INTERVAL_NS 500000000ULL    /* info line: at most twice a second */
#define PUBLISH_INTERVAL_NS 2000000000ULL /* new numbers while the state stays the same */

#define NOTICE_NS 10000000000ULL /* a Save/Load note stays 10 s in the info line */

enum fl_state { FL_ST_RUNNING, FL_ST_LOADING, FL_ST_ERROR, FL_ST_PAUSED };

enum fl_request { FL_REQ_NONE, FL_REQ_SAVE, FL_REQ_LOAD };

/* ---- module paths -------------------------------------------------------- */

static char *g_assets_dir;
static char *g_ort_library;

const char *fl_assets_dir(void)
{
	return g_assets_dir;
}

const char *fl_onnxruntime_library(void)
{
	return g_ort_library;
}

static bool is_dir(const char *path)
{
	os_dir_t *d = os_opendir(path);
	if (!d)
		return false;
	os_closedir(d);
	return true;
}

void fl_paths_init(void)
{
	fl_paths_free();

	/* ONNX Runtime: next to this module's binary (make install puts it there). */
	const char *bin = obs_get_module_binary_path(obs_current_module());
	if (bin && *bin) {
		struct dstr path = {0};
		dstr_copy(&path, bin);
		char *slash = strrchr(path.array, '/');
		if (slash) {
			dstr_resize(&path, (size_t)(slash - path.array) + 1);
		} else {
			dstr_copy(&path, "./");
		}
		dstr_cat(&path, "libonnxruntime.so.1");
		if (os_file_exists(path.array))
			g_ort_library = os_get_abs_path_ptr(path.array);
		dstr_free(&path);
	}

	/* Models and faces: the module's data folder when it has them (the
	 * installed layout); else the library finds its own (FACELIVE_THIRD_PARTY
	 * or the third_party/ folder of a source tree). */
	char *data = obs_module_file("");
	if (data && *data) {
		struct dstr models = {0}, faces = {0};
		dstr_printf(&models, "%s/models", data);
		dstr_printf(&faces, "%s/faces", data);
		if (is_dir(models.array) || is_dir(faces.array))
			g_assets_dir = os_get_abs_path_ptr(data);
		dstr_free(&models);
		dstr_free(&faces);
	}
	bfree(data);
}

void fl_paths_free(void)
{
	bfree(g_assets_dir);
	bfree(g_ort_library);
	g_assets_dir = g_ort_library = NULL;
}

/* ---- settings <-> config JSON (libobs's obs_data reads and writes it) ----- */

/* A group of the config ("swapper", "detector", ...), created in cfg. */
static obs_data_t *group_of(obs_data_t *cfg, const char *name)
{
	obs_data_t *g = obs_data_get_obj(cfg, name);
	if (!g) {
		g = obs_data_create();
		obs_data_set_obj(cfg, name, g);
	}
	return g; /* the caller releases it */
}

/* Enumerations must not be sent empty (a scene saved by an older version). */
static void put_enum(obs_data_t *to, obs_data_t *s, const char *setting, const char *key)
{
	const char *v = obs_data_get_string(s, setting);
	if (v && *v)
		obs_data_set_string(to, key, v);
}

/* Paths: "" means the library's default. At init an empty path is simply
 * omitted; a live update sends "" so that clearing a path restores the
 * default instead of keeping the previous file. */
static void put_path(obs_data_t *to, obs_data_t *s, const char *setting, const char *key, bool for_init)
{
	const char *v = obs_data_get_string(s, setting);
	if (!v)
		v = "";
	if (*v || !for_init)
		obs_data_set_string(to, key, v);
}

/* Numbers the profile and level fill in: sent only when the user changed
 * them in the properties (obs_data_has_user_value), so that a setting left at
 * its default stays the profile's to choose, and one the user set is never
 * overridden by the profile or the auto-tuner. */
static void put_tuned_int(obs_data_t *to, obs_data_t *s, const char *setting, const char *key)
{
	if (obs_data_has_user_value(s, setting))
		obs_data_set_int(to, key, obs_data_get_int(s, setting));
}

/* swapper.backend, and with kserve the inference server: its keys go only
 * with kserve, so that a half-typed address left behind does not fail a
 * local swap. An empty url or model is sent as it is: the engine's error
 * then says what is missing. */
static void put_server(obs_data_t *g, obs_data_t *s, bool for_init)
{
	put_enum(g, s, "swapper.backend", "backend");
	const char *backend = obs_data_get_string(s, "swapper.backend");
	if (!backend || strcmp(backend, "kserve") != 0)
		return;
	obs_data_t *srv = group_of(g, "server");
	static const char *const strings[][2] = {
		{"swapper.server.url", "url"}, {"swapper.server.model", "model"}, {"swapper.server.version", "version"}};
	for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
		const char *v = obs_data_get_string(s, strings[i][0]);
		obs_data_set_string(srv, strings[i][1], v ? v : "");
	}
	obs_data_set_int(srv, "timeout_ms", obs_data_get_int(s, "swapper.server.timeout_ms"));
	obs_data_set_int(srv, "max_in_flight", obs_data_get_int(s, "swapper.server.max_in_flight"));
	put_path(srv, s, "swapper.server.fallback", "fallback", for_init);
	obs_data_t *tls = group_of(srv, "tls");
	put_path(tls, s, "swapper.server.tls.ca", "ca", for_init);
	put_path(tls, s, "swapper.server.tls.cert", "cert", for_init);
	put_path(tls, s, "swapper.server.tls.key", "key", for_init);
	obs_data_release(tls);
	obs_data_release(srv);
}

static void build_config(struct dstr *out, obs_data_t *s, bool for_init)
{
	obs_data_t *cfg = obs_data_create();
	/* An OBS filter is a live stream: realtime (newest frame wins) or
	 * balanced. Quality and batch hold frames back for every one to be
	 * processed, which a camera cannot wait for; a scene saved by an older
	 * version with one of them gets balanced. */
	const char *mode = obs_data_get_string(s, "mode");
	if (mode && (strcmp(mode, "quality") == 0 || strcmp(mode, "batch") == 0))
		mode = "balanced";
	if (mode && *mode)
		obs_data_set_string(cfg, "mode", mode);
	else if (for_init)
		obs_data_set_string(cfg, "mode", "realtime");
	/* What a frame the models did not process shows (loading, a failure):
	 * auto hides it whole for blur and pixelate, passes it for a swap. */
	put_enum(cfg, s, "unprocessed", "unprocessed");
	put_enum(cfg, s, "profile", "profile");
	put_enum(cfg, s, "level", "level");
	if (obs_data_has_user_value(s, "execution_provider"))
		put_enum(cfg, s, "execution_provider", "execution_provider");
	if (for_init) {
		if (g_assets_dir)
			obs_data_set_string(cfg, "assets_dir", g_assets_dir);
		if (g_ort_library)
			obs_data_set_string(cfg, "onnxruntime_library", g_ort_library);
	}
	obs_data_t *g = group_of(cfg, "swapper");
	put_enum(g, s, "swapper.kind", "kind");
	put_path(g, s, "swapper.face", "face", for_init);
	put_path(g, s, "swapper.model", "model", for_init);
	put_path(g, s, "swapper.arcface_model", "arcface_model", for_init);
	put_server(g, s, for_init);
	obs_data_release(g);
	g = group_of(cfg, "detector");
	put_tuned_int(g, s, "detector.interval", "interval");
	put_tuned_int(g, s, "detector.max_faces", "max_faces");
	obs_data_release(g);
	g = group_of(cfg, "merge");
	put_tuned_int(g, s, "merge.erode", "erode");
	put_tuned_int(g, s, "merge.blur", "blur");
	obs_data_set_double(g, "opacity", obs_data_get_double(s, "merge.opacity"));
	put_enum(g, s, "merge.color_transfer", "color_transfer");
	put_enum(g, s, "merge.live_eyes", "live_eyes");
	put_enum(g, s, "merge.live_mouth", "live_mouth");
	obs_data_release(g);
	g = group_of(cfg, "overlay");
	obs_data_set_bool(g, "stats", obs_data_get_bool(s, "overlay.stats"));
	obs_data_set_bool(g, "disclosure", obs_data_get_bool(s, "overlay.disclosure"));
	obs_data_release(g);
	dstr_copy(out, obs_data_get_json(cfg));
	obs_data_release(cfg);
}

/* The member at a dotted path ("error.hint") of a JSON object, or NULL;
 * the caller releases it. */
static obs_data_item_t *member(obs_data_t *root, const char *path)
{
	const char *dot = strchr(path, '.');
	if (!dot)
		return obs_data_item_byname(root, path);
	char name[64];
	size_t n = (size_t)(dot - path);
	if (n >= sizeof name)
		return NULL;
	memcpy(name, path, n);
	name[n] = 0;
	obs_data_t *child = obs_data_get_obj(root, name);
	if (!child)
		return NULL;
	obs_data_item_t *item = member(child, dot + 1);
	obs_data_release(child);
	return item;
}

/* Typed reads of a member; false (nothing written) when it is absent or of
 * another type. */
static bool get_string(obs_data_t *root, const char *path, struct dstr *out)
{
	obs_data_item_t *it = member(root, path);
	bool ok = it && obs_data_item_gettype(it) == OBS_DATA_STRING;
	if (ok)
		dstr_copy(out, obs_data_item_get_string(it));
	obs_data_item_release(&it);
	return ok;
}

static bool get_number(obs_data_t *root, const char *path, double *out)
{
	obs_data_item_t *it = member(root, path);
	bool ok = it && obs_data_item_gettype(it) == OBS_DATA_NUMBER;
	if (ok)
		*out = obs_data_item_get_double(it);
	obs_data_item_release(&it);
	return ok;
}

static bool get_bool(obs_data_t *root, const char *path, bool *out)
{
	obs_data_item_t *it = member(root, path);
	bool ok = it && obs_data_item_gettype(it) == OBS_DATA_BOOLEAN;
	if (ok)
		*out = obs_data_item_get_bool(it);
	obs_data_item_release(&it);
	return ok;
}

/* The reverse, after "Load config": show what the file set (the setting
 * names are the config's dotted keys). */
static void settings_from_config(obs_data_t *s, const char *json)
{
	static const char *const strings[] = {"mode",
					      "profile",
					      "level",
					      "unprocessed",
					      "execution_provider",
					      "swapper.kind",
					      "swapper.face",
					      "swapper.model",
					      "swapper.arcface_model",
					      "swapper.backend",
					      "swapper.server.url",
					      "swapper.server.model",
					      "swapper.server.version",
					      "swapper.server.tls.ca",
					      "swapper.server.tls.cert",
					      "swapper.server.tls.key",
					      "swapper.server.fallback",
					      "merge.color_transfer",
					      "merge.live_eyes",
					      "merge.live_mouth"};
	static const char *const ints[] = {"detector.interval", "detector.max_faces", "merge.erode", "merge.blur",
					   "swapper.server.timeout_ms", "swapper.server.max_in_flight"};
	static const char *const bools[] = {"overlay.stats", "overlay.disclosure"};
	obs_data_t *cfg = obs_data_create_from_json(json);
	if (!cfg)
		return;
	struct dstr v = {0};
	for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
		if (get_string(cfg, strings[i], &v))
			obs_data_set_string(s, strings[i], v.array ? v.array : "");
	dstr_free(&v);
	double d;
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
		if (get_number(cfg, ints[i], &d))
			obs_data_set_int(s, ints[i], (long long)d);
	if (get_number(cfg, "merge.opacity", &d))
		obs_data_set_double(s, "merge.opacity", d);
	bool b;
	for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
		if (get_bool(cfg, bools[i], &b))
			obs_data_set_bool(s, bools[i], b);
	obs_data_release(cfg);
}

/* ---- engine life cycle ---------------------------------------------------- */

static const char *source_name(struct fl_core *c)
{
	const char *n = c->source ? obs_source_get_name(c->source) : NULL;
	return n ? n : "?";
}

/* Starts an engine for a whole config; 0 and the reason in err on failure. */
static facelive_handle start_engine(struct fl_core *c, const char *json, struct dstr *err)
{
	char msg[2048] = "";
	facelive_handle h = facelive_init(json, msg, sizeof msg);
	if (h) {
		FL_LOG(LOG_INFO, "'%s': engine started (handle %llu)", source_name(c), (unsigned long long)h);
		FL_LOG(LOG_DEBUG, "'%s': config %s", source_name(c), json);
		dstr_copy(err, "");
	} else {
		if (!*msg)
			facelive_last_error(0, msg, sizeof msg);
		if (!*msg)
			snprintf(msg, sizeof msg, "facelive_init failed");
		FL_LOG(LOG_WARNING, "'%s': engine did not start, frames pass through: %s", source_name(c), msg);
		dstr_copy(err, msg);
	}
	return h;
}

static void set_str(struct fl_core *c, struct dstr *field, const char *value)
{
	pthread_mutex_lock(&c->lock);
	dstr_copy(field, value ? value : "");
	pthread_mutex_unlock(&c->lock);
}

/* (Re)starts the engine: the new handle replaces the old one, which is shut
 * down. The frame callbacks may still hold the old handle for one call: the
 * library answers such a call with an error code, never a crash. */
static void restart_engine(struct fl_core *c, const char *json)
{
	struct dstr err = {0};
	facelive_handle h = start_engine(c, json, &err);
	facelive_handle old = atomic_exchange_explicit(&c->handle, h, memory_order_acq_rel);
	if (old) {
		facelive_shutdown(old);
		FL_LOG(LOG_INFO, "'%s': engine stopped (handle %llu)", source_name(c), (unsigned long long)old);
	}
	pthread_mutex_lock(&c->lock);
	dstr_copy(&c->init_error, err.array ? err.array : "");
	dstr_copy(&c->config_error, "");
	dstr_copy(&c->frame_error, "");
	c->nsamples = c->next_sample = 0;
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->submit_rc, FACELIVE_OK);
	atomic_store(&c->starting, false);
	dstr_free(&err);
}

/* Worker: applies settings queued by fl_core_update. */
static void apply_settings(struct fl_core *c, const char *partial, const char *full)
{
	facelive_handle h = fl_core_handle(c);
	if (!h) {
		/* The last init failed: these settings may fix it. */
		restart_engine(c, full);
		return;
	}
	int rc = facelive_set_config(h, partial);
	if (rc == FACELIVE_OK) {
		set_str(c, &c->config_error, "");
	} else if (rc == FACELIVE_EINTERNAL || rc == FACELIVE_EBADHANDLE) {
		/* A poisoned handle recovers only by a new one. */
		FL_LOG(LOG_WARNING, "'%s': engine handle %s, restarting it", source_name(c),
		       rc == FACELIVE_EINTERNAL ? "poisoned by an internal fault" : "gone");
		restart_engine(c, full);
	} else {
		char msg[2048] = "";
		facelive_last_error(h, msg, sizeof msg);
		FL_LOG(LOG_WARNING, "'%s': settings not applied (%d): %s", source_name(c), rc, msg);
		set_str(c, &c->config_error, msg);
	}
}

#define WORKER_PERIOD_MS 250

/* A loaded config on its way to the filter's settings, on the UI thread. */
struct loaded_config {
	obs_weak_source_t *source;
	char *json;
};

/* UI task: the settings show what the loaded file set (and the properties
 * view, if open, shows the settings). */
static void apply_loaded(void *param)
{
	struct loaded_config *lc = param;
	obs_source_t *source = obs_weak_source_get_source(lc->source);
	if (source) {
		obs_data_t *d = obs_data_create();
		settings_from_config(d, lc->json);
		obs_source_update(source, d); /* the engine has them already: set_config changes nothing */
		obs_data_release(d);
		obs_source_update_properties(source);
		obs_source_release(source);
	}
	obs_weak_source_release(lc->source);
	bfree(lc->json);
	bfree(lc);
}

/* Worker: a Save/Load config button's request. */
static void run_config_request(struct fl_core *c, int req, const char *path)
{
	facelive_handle h = fl_core_handle(c);
	bool save = req == FL_REQ_SAVE;
	char msg[2048] = "";
	if (!h) {
		snprintf(msg, sizeof msg, "the engine is not running, so there is no config to %s",
			 save ? "save" : "load into");
	} else if (save) {
		if (facelive_save_config(h, path) != FACELIVE_OK)
			facelive_last_error(h, msg, sizeof msg);
	} else if (facelive_load_config(h, path) != FACELIVE_OK) {
		facelive_last_error(h, msg, sizeof msg);
	} else {
		/* What the file set, for the settings (the engine runs it already). */
		char *json = NULL;
		size_t len = 16384;
		for (int tries = 0; tries < 4; tries++, len *= 4) {
			json = brealloc(json, len);
			if (facelive_get_config(h, json, len) == FACELIVE_OK)
				break;
			json[0] = 0;
		}
		if (json && *json && c->source) {
			struct loaded_config *lc = bzalloc(sizeof *lc);
			lc->source = obs_source_get_weak_source(c->source);
			lc->json = json;
			json = NULL;
			obs_queue_task(OBS_TASK_UI, apply_loaded, lc, false);
		}
		bfree(json);
	}
	/* A note for the info line, an error one when it failed: the engine
	 * runs on as it was, so frames do not pass through for it. */
	pthread_mutex_lock(&c->lock);
	if (*msg)
		dstr_copy(&c->notice, msg);
	else
		dstr_printf(&c->notice, "config %s %s", save ? "saved to" : "loaded from", path);
	c->notice_error = *msg != 0;
	c->notice_until_ns = os_gettime_ns() + NOTICE_NS;
	pthread_mutex_unlock(&c->lock);
	if (*msg)
		FL_LOG(LOG_WARNING, "'%s': %s config: %s", source_name(c), save ? "save" : "load", msg);
	else
		FL_LOG(LOG_INFO, "'%s': config %s %s", source_name(c), save ? "saved to" : "loaded from", path);
}

static void *worker_main(void *arg)
{
	struct fl_core *c = arg;
	os_set_thread_name("facelive-filter");
	struct dstr partial = {0}, full = {0}, path = {0};
	while (!atomic_load(&c->stopping)) {
		if (atomic_exchange(&c->restart, false)) {
			/* The button: a new engine from the settings as they are. */
			obs_data_t *s = obs_source_get_settings(c->source);
			struct dstr json = {0};
			build_config(&json, s, true);
			obs_data_release(s);
			FL_LOG(LOG_INFO, "'%s': restarting the engine (button)", source_name(c));
			restart_engine(c, json.array);
			dstr_free(&json);
			fl_core_refresh_info(c, true);
		}
		pthread_mutex_lock(&c->lock);
		bool have = c->pending;
		if (have) {
			/* Only the newest settings matter: a burst of changes is applied once. */
			dstr_move(&partial, &c->pending_partial);
			dstr_move(&full, &c->pending_full);
			c->pending = false;
		}
		int req = c->config_req;
		c->config_req = FL_REQ_NONE;
		dstr_move(&path, &c->config_req_path);
		pthread_mutex_unlock(&c->lock);
		if (have)
			apply_settings(c, partial.array, full.array);
		if (req != FL_REQ_NONE)
			run_config_request(c, req, path.array ? path.array : "");
		fl_core_refresh_info(c, have || req != FL_REQ_NONE);
		if (!have && req == FL_REQ_NONE)
			os_event_timedwait(c->wake, WORKER_PERIOD_MS);
	}
	dstr_free(&partial);
	dstr_free(&full);
	dstr_free(&path);
	/* The engine stops here too: the library is called from this thread
	 * and the frame thread only (see fl_core_init). */
	facelive_handle h = atomic_exchange(&c->handle, 0);
	if (h) {
		facelive_shutdown(h);
		FL_LOG(LOG_INFO, "'%s': engine stopped (handle %llu)", source_name(c), (unsigned long long)h);
	}
	return NULL;
}

void fl_core_poke(struct fl_core *c)
{
	if (c && c->wake)
		os_event_signal(c->wake);
}

/* From this call on, a privacy filter (blur, pixelate) shows no frame the
 * library did not write; nor does a swap told to hide what it has not
 * processed (unprocessed hide): the real face must not show while its
 * models load. */
static void note_privacy(struct fl_core *c, obs_data_t *settings)
{
	const char *kind = obs_data_get_string(settings, "swapper.kind");
	const char *unprocessed = obs_data_get_string(settings, "unprocessed");
	atomic_store(&c->privacy, strcmp(kind, "blur") == 0 || strcmp(kind, "pixelate") == 0 ||
					  (unprocessed && strcmp(unprocessed, "hide") == 0));
}

/* ---- the toggle hotkey, shown or not ------------------------------------ */

/* Hotkey thread: a press enables or disables the filter, as its eye icon in
 * the Filters dialog does (a disabled filter passes frames unchanged). */
static void on_toggle_hotkey(void *data, obs_hotkey_id id, obs_hotkey_t *hotkey, bool pressed)
{
	(void)id;
	(void)hotkey;
	struct fl_core *c = data;
	if (!pressed || !c->source)
		return;
	bool enable = !obs_source_enabled(c->source);
	obs_source_set_enabled(c->source, enable);
	FL_LOG(LOG_INFO, "'%s': %s (hotkey)", source_name(c), enable ? "enabled" : "disabled");
}

/* Registers the hotkey (Settings › Hotkeys lists it by the filter's name)
 * with the bindings the settings saved. Filters are private sources, for
 * which libobs registers no source hotkeys: it is a frontend hotkey, and
 * the filter keeps its bindings itself (fl_core_save). */
static void register_hotkey(struct fl_core *c, obs_data_t *settings)
{
	static _Atomic unsigned long next_id;
	c->toggle_hotkey = OBS_INVALID_HOTKEY_ID;
	if (!c->source)
		return;
	char name[64];
	snprintf(name, sizeof name, "facelive.toggle.%lu", atomic_fetch_add(&next_id, 1) + 1);
	struct dstr desc = {0};
	dstr_printf(&desc, "%s: %s", T("ToggleHotkey"), source_name(c));
	c->toggle_hotkey = obs_hotkey_register_frontend(name, desc.array, on_toggle_hotkey, c);
	dstr_free(&desc);
	obs_data_array_t *bindings = obs_data_get_array(settings, "toggle_hotkey");
	if (bindings && c->toggle_hotkey != OBS_INVALID_HOTKEY_ID)
		obs_hotkey_load(c->toggle_hotkey, bindings);
	obs_data_array_release(bindings);
}

void fl_core_save(void *data, obs_data_t *settings)
{
	struct fl_core *c = data;
	if (c->toggle_hotkey == OBS_INVALID_HOTKEY_ID)
		return;
	obs_data_array_t *bindings = obs_hotkey_save(c->toggle_hotkey);
	obs_data_set_array(settings, "toggle_hotkey", bindings);
	obs_data_array_release(bindings);
}

/* show/hide/activate/deactivate: libobs calls them on a filter when its
 * source changes (graphics thread). They only wake the worker so that the
 * info line follows at once: libobs also calls show and then hide on the
 * filter as a source of its own (a filter is never shown itself), so the
 * truth is the source's own counts, read per frame (fl_core_set_paused). */
void fl_core_show(void *data)
{
	fl_core_poke(data);
}

void fl_core_hide(void *data)
{
	fl_core_poke(data);
}

void fl_core_activate(void *data)
{
	fl_core_poke(data);
}

void fl_core_deactivate(void *data)
{
	fl_core_poke(data);
}

void fl_core_set_paused(struct fl_core *c, obs_source_t *parent)
{
	bool paused = parent && !obs_source_showing(parent) && !obs_source_active(parent);
	if (paused == atomic_load_explicit(&c->paused, memory_order_relaxed))
		return;
	atomic_store(&c->paused, paused);
	FL_LOG(LOG_INFO, "'%s': %s", source_name(c),
	       paused ? "not shown anywhere: the engine pauses (no frame is processed)"
		      : "shown: the engine processes frames");
	fl_core_poke(c);
}

void fl_core_init(struct fl_core *c, obs_source_t *source, obs_data_t *settings, const char *timing_label)
{
	memset(c, 0, sizeof *c);
	c->source = source;
	c->timing_label = timing_label;
	atomic_init(&c->handle, 0);
	atomic_init(&c->submit_rc, FACELIVE_OK);
	atomic_init(&c->unsupported_format, 0);
	atomic_init(&c->logged_formats, 0);
	atomic_init(&c->bypass, false);
	atomic_init(&c->swapping, false);
	atomic_init(&c->privacy, false);
	atomic_init(&c->restart, false);
	atomic_init(&c->gpu_providers, 0);
	atomic_init(&c->paused, false);
	note_privacy(c, settings);
	atomic_init(&c->last_out_ns, 0);
	atomic_init(&c->held, 0);
	atomic_init(&c->stopping, false);
	pthread_mutex_init(&c->lock, NULL);
	c->info_state = -1;
	register_hotkey(c, settings);
	/* The worker starts the engine, as it applies settings: OBS's UI
	 * thread never calls into the library. (A thread that calls into Go
	 * keeps Go's 32 KiB signal stack as its alternate stack, and Debian's
	 * OBS 29 runs its whole close-the-window code, a modal dialog
	 * included, inside its SIGINT handler: on that stack it overflowed
	 * into the engine's memory.) */
	build_config(&c->pending_full, settings, true);
	dstr_copy_dstr(&c->pending_partial, &c->pending_full);
	c->pending = true;
	atomic_init(&c->starting, true);
	if (os_event_init(&c->wake, OS_EVENT_TYPE_AUTO) == 0 &&
	    pthread_create(&c->worker, NULL, worker_main, c) == 0) {
		c->worker_started = true;
	} else {
		FL_LOG(LOG_ERROR, "'%s': could not start the worker thread; the engine starts and settings "
				  "changes apply on the caller's thread",
		       source_name(c));
		c->pending = false;
		restart_engine(c, c->pending_full.array);
		fl_core_refresh_info(c, true);
	}
}

void fl_core_update(struct fl_core *c, obs_data_t *settings)
{
	note_privacy(c, settings); /* at once, before the worker applies the settings */
	struct dstr partial = {0}, full = {0};
	build_config(&partial, settings, false);
	build_config(&full, settings, true);
	if (!c->worker_started) {
		apply_settings(c, partial.array, full.array);
		fl_core_refresh_info(c, true);
		dstr_free(&partial);
		dstr_free(&full);
		return;
	}
	pthread_mutex_lock(&c->lock);
	dstr_move(&c->pending_partial, &partial);
	dstr_move(&c->pending_full, &full);
	c->pending = true;
	pthread_mutex_unlock(&c->lock);
	os_event_signal(c->wake);
}

void fl_core_free(struct fl_core *c)
{
	if (c->toggle_hotkey != OBS_INVALID_HOTKEY_ID)
		obs_hotkey_unregister(c->toggle_hotkey);
	if (c->worker_started) {
		atomic_store(&c->stopping, true);
		os_event_signal(c->wake);
		pthread_join(c->worker, NULL);
	}
	if (c->wake)
		os_event_destroy(c->wake);
	dstr_free(&c->pending_partial);
	dstr_free(&c->pending_full);
	facelive_handle h = atomic_exchange(&c->handle, 0);
	if (h) {
		facelive_shutdown(h);
		FL_LOG(LOG_INFO, "'%s': engine stopped (handle %llu)", source_name(c), (unsigned long long)h);
	}
	dstr_free(&c->init_error);
	dstr_free(&c->config_error);
	dstr_free(&c->frame_error);
	dstr_free(&c->config_req_path);
	dstr_free(&c->notice);
	dstr_free(&c->info);
	pthread_mutex_destroy(&c->lock);
}

/* ---- frame-thread notes ---------------------------------------------------- */

void fl_core_record_time(struct fl_core *c, uint64_t ns)
{
	pthread_mutex_lock(&c->lock);
	c->samples[c->next_sample] = ns;
	c->next_sample = (c->next_sample + 1) % FL_TIMING_SAMPLES;
	if (c->nsamples < FL_TIMING_SAMPLES)
		c->nsamples++;
	pthread_mutex_unlock(&c->lock);
}

static bool is_frame_error(int rc)
{
	return rc == FACELIVE_EINVAL || rc == FACELIVE_EFORMAT || rc == FACELIVE_ENOMEM;
}

/* A frame call's result, kept in *last: a frame error (EINVAL, EFORMAT,
 * ENOMEM) is logged and shown only when the result changes, so a bad frame
 * at frame rate costs nothing more. EAGAIN is the normal case, and the
 * bypass handles a poisoned or lost handle. */
static void note_frame_rc(struct fl_core *c, facelive_handle h, int rc, _Atomic int *last, const char *what)
{
	int prev = atomic_exchange(last, rc);
	if (rc == prev || !is_frame_error(rc))
		return;
	char msg[1024] = "";
	facelive_last_error(h, msg, sizeof msg);
	FL_LOG(LOG_WARNING, "'%s': %s (%d): %s", source_name(c), what, rc, msg);
	set_str(c, &c->frame_error, msg);
}

void fl_core_note_submit(struct fl_core *c, facelive_handle h, int rc)
{
	note_frame_rc(c, h, rc, &c->submit_rc, "frame not taken");
}

void fl_core_note_get(struct fl_core *c, facelive_handle h, int rc)
{
	note_frame_rc(c, h, rc, &c->get_rc, "no frame out"); /* EFORMAT: the output does not match the stream */
}

void fl_core_note_format(struct fl_core *c, int video_format, bool supported)
{
	if (supported) {
		if (atomic_load_explicit(&c->unsupported_format, memory_order_relaxed))
			atomic_store(&c->unsupported_format, 0);
		return;
	}
	atomic_store(&c->unsupported_format, video_format + 1);
	uint64_t bit = 1ULL << ((unsigned)video_format & 63);
	if (!(atomic_fetch_or(&c->logged_formats, bit) & bit))
		FL_LOG(LOG_WARNING,
		       "'%s': video format %s is not supported, frames pass through unchanged "
		       "(supported: NV12, I420, YUY2, BGRA, BGRX, RGBA)",
		       source_name(c), get_video_format_name((enum video_format)video_format));
}

/* ---- the info line --------------------------------------------------------- */

static void error_line(struct dstr *out, const char *msg, const char *hint)
{
	if (!msg || !*msg)
		msg = "unknown error";
	/* The hint comes from the engine (the metrics' error.hint) or from
	 * what failed here; messages are never parsed for one. */
	if (!hint || !*hint)
		hint = "check the settings above; the OBS log (Help \xe2\x80\xba Log Files) has the details";
	dstr_printf(out, "Error: %s \xe2\x80\x94 fix: %s", msg, hint);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Appends " · filter 0.9 ms p50 / 2.1 ms p99" (label from the filter kind). */
static void cat_timing(struct fl_core *c, struct dstr *out)
{
	uint64_t s[FL_TIMING_SAMPLES];
	size_t n;
	pthread_mutex_lock(&c->lock);
	n = c->nsamples;
	memcpy(s, c->samples, n * sizeof *s);
	pthread_mutex_unlock(&c->lock);
	if (n == 0) {
		dstr_catf(out, " \xc2\xb7 %s: no frames yet", c->timing_label);
		return;
	}
	qsort(s, n, sizeof *s, cmp_u64);
	double p50 = (double)s[(n - 1) * 50 / 100] / 1e6;
	double p99 = (double)s[(n - 1) * 99 / 100] / 1e6;
	dstr_catf(out, " \xc2\xb7 %s %.1f ms p50 / %.1f ms p99", c->timing_label, p50, p99);
}

void fl_core_refresh_info(struct fl_core *c, bool force)
{
	uint64_t now = os_gettime_ns();
	pthread_mutex_lock(&c->lock);
	if (!force && c->last_info_ns && now - c->last_info_ns < INFO_INTERVAL_NS) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->last_info_ns = now;
	pthread_mutex_unlock(&c->lock);

	facelive_handle h = fl_core_handle(c);
	char metrics[16384] = "";
	bool have = h && facelive_get_metrics(h, metrics, sizeof metrics) == FACELIVE_OK;

	struct dstr pipeline = {0}, last_error = {0}, hint = {0}, text = {0}, notice = {0};
	bool poisoned = false;
	bool remote = false, remote_up = true; /* swapper.backend kserve: is the server answering? */
	bool on_fallback = false;              /* and do the faces come from the local fallback model? */
	double fps = 0, latency = 0, faces = 0;
	obs_data_t *m = have ? obs_data_create_from_json(metrics) : NULL;
	have = m != NULL;
	if (have) {
		get_string(m, "face_pipeline", &pipeline);
		get_string(m, "last_error", &last_error);
		get_string(m, "error.hint", &hint); /* what fixes it, from the engine */
		get_bool(m, "poisoned", &poisoned);
		remote = get_bool(m, "remote.up", &remote_up);
		get_bool(m, "remote.fallback_active", &on_fallback);
		get_number(m, "fps_out", &fps);
		get_number(m, "latency_ms.p50", &latency);
		get_number(m, "faces", &faces);
		/* The GPU providers the runtime has, for the properties' list
		 * (absent until the models are loaded: nothing changes then). */
		obs_data_t *av = obs_data_get_obj(m, "execution_providers_available");
		if (av) {
			atomic_store(&c->gpu_providers, (obs_data_get_bool(av, "cuda") ? FL_HAS_CUDA : 0) |
								(obs_data_get_bool(av, "tensorrt") ? FL_HAS_TENSORRT : 0));
			obs_data_release(av);
		}
		obs_data_release(m);
	}
	const char *pl = pipeline.array ? pipeline.array : "";
	const char *le = last_error.array ? last_error.array : "";
	int unsupported = atomic_load(&c->unsupported_format);
	bool frame_err = is_frame_error(atomic_load(&c->submit_rc));

	enum fl_state state = FL_ST_ERROR;
	pthread_mutex_lock(&c->lock);
	bool bypass = (have && (poisoned || strcmp(pl, "failed") == 0)) || !dstr_is_empty(&c->config_error);
	if (unsupported) {
		struct dstr msg = {0};
		dstr_printf(&msg, "the video format %s is not supported, frames pass through unchanged",
			    get_video_format_name((enum video_format)(unsupported - 1)));
		error_line(&text, msg.array,
			   "set the source to NV12, I420, YUY2, BGRA, BGRX or RGBA, or use "
			   "\xe2\x80\x9c" "Face Swap (facelive, any source)\xe2\x80\x9d");
		dstr_free(&msg);
	} else if (!h && atomic_load(&c->starting)) {
		state = FL_ST_LOADING;
		dstr_copy(&text, "Starting the engine\xe2\x80\xa6");
	} else if (!h) {
		error_line(&text, dstr_is_empty(&c->init_error) ? "the engine is not running" : c->init_error.array,
			   NULL);
	} else if (!have) {
		error_line(&text, "the engine does not answer", "change any setting to restart it");
	} else if (poisoned) {
		error_line(&text, *le ? le : "internal fault",
			   "press \xe2\x80\x9cRestart engine\xe2\x80\x9d or change any setting (the OBS log has the details)");
	} else if (strcmp(pl, "failed") == 0) {
		error_line(&text, le, hint.array);
	} else if (!dstr_is_empty(&c->config_error)) {
		error_line(&text, c->config_error.array, hint.array); /* the refusal's hint, by its key */
	} else if (frame_err && !dstr_is_empty(&c->frame_error)) {
		error_line(&text, c->frame_error.array,
			   "check the source's video format and size (NV12, I420, YUY2, BGRA, BGRX or RGBA, even width and "
			   "height), or use \xe2\x80\x9c" "Face Swap (facelive, any source)\xe2\x80\x9d");
	} else if (fl_core_paused(c)) {
		state = FL_ST_PAUSED;
		dstr_copy(&text, "Paused: the source is not shown anywhere, so no frame is processed");
	} else if (strcmp(pl, "loading") == 0) {
		state = FL_ST_LOADING;
		dstr_copy(&text, "Loading models\xe2\x80\xa6");
	} else {
		state = FL_ST_RUNNING;
	}
	bool noticed = !dstr_is_empty(&c->notice) && now < c->notice_until_ns &&
		       (state == FL_ST_RUNNING || state == FL_ST_LOADING || state == FL_ST_PAUSED);
	if (noticed && c->notice_error) {
		/* a failed Save/Load: an error line for a while, the engine untouched */
		state = FL_ST_ERROR;
		error_line(&text, c->notice.array,
			   "choose another file under Advanced (\xe2\x80\x9cSave config to\xe2\x80\x9d, "
			   "\xe2\x80\x9cLoad config from\xe2\x80\x9d)");
	} else if (noticed) {
		dstr_copy_dstr(&notice, &c->notice);
	}
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->swapping, have && !bypass && !poisoned && strcmp(pl, "ready") == 0);
	if (bypass != atomic_exchange(&c->bypass, bypass))
		FL_LOG(LOG_INFO, "'%s': %s", source_name(c),
		       bypass ? "frames pass through unchanged until the error is fixed" : "swapping again");
	if (state == FL_ST_RUNNING) {
		dstr_printf(&text, "fps %.1f \xc2\xb7 latency %.1f ms \xc2\xb7 faces %d", fps, latency, (int)faces);
		cat_timing(c, &text);
		if (remote && !remote_up && *le) /* frames flow; faces wait for the server */
			dstr_catf(&text, " \xc2\xb7 inference server: %s", le);
		if (remote && on_fallback)
			dstr_cat(&text, " \xc2\xb7 faces swapped by the local fallback model");
		uint64_t held = atomic_load(&c->held);
		if (held)
			dstr_catf(&text, " \xc2\xb7 %llu frames held back while the engine caught up",
				  (unsigned long long)held);
	}
	if (!dstr_is_empty(&notice))
		dstr_catf(&text, " \xc2\xb7 %s", notice.array);

	/* Publish: the info line kept in c->info (the property's description,
	 * read whenever the properties are built) and, only when the state
	 * changes (running, loading, an error and its text), the
	 * update_properties signal that makes OBS's properties view rebuild
	 * itself: new numbers alone never rebuild it under the user's hands (it
	 * interrupted a slider drag). The settings object is never written here:
	 * the UI thread owns it. */
	pthread_mutex_lock(&c->lock);
	bool changed = !c->info.array || strcmp(c->info.array, text.array) != 0;
	bool has_notice = !dstr_is_empty(&notice);
	/* a Save/Load note appearing or going is a change of state too */
	bool state_changed = (int)state != c->info_state || has_notice != c->info_notice;
	bool publish = changed && (force || state_changed || state != FL_ST_RUNNING ||
				   now - c->last_publish_ns >= PUBLISH_INTERVAL_NS);
	if (publish) {
		dstr_copy_dstr(&c->info, &text);
		c->info_state = (int)state;
		c->info_notice = has_notice;
		c->last_publish_ns = now;
	}
	pthread_mutex_unlock(&c->lock);

	if (publish) {
		if ((state != FL_ST_RUNNING || state_changed) && !has_notice) /* the request logged itself */
			FL_LOG(state == FL_ST_ERROR ? LOG_WARNING : LOG_INFO, "'%s': %s", source_name(c), text.array);
		if (c->source && (state != FL_ST_RUNNING || state_changed))
			obs_source_update_properties(c->source);
	}

	dstr_free(&pipeline);
	dstr_free(&last_error);
	dstr_free(&hint);
	dstr_free(&text);
	dstr_free(&notice);
}

/* ---- defaults and properties -------------------------------------------- */

void fl_get_defaults(obs_data_t *s)
{
	/* The library's defaults (facelive config default). */
	obs_data_set_default_string(s, "swapper.kind", "photo");
	obs_data_set_default_string(s, "swapper.face", "");
	obs_data_set_default_string(s, "swapper.model", "");
	obs_data_set_default_string(s, "swapper.arcface_model", "");
	obs_data_set_default_string(s, "swapper.backend", "local");
	obs_data_set_default_string(s, "swapper.server.url", "");
	obs_data_set_default_string(s, "swapper.server.model", "");
	obs_data_set_default_string(s, "swapper.server.version", "");
	obs_data_set_default_int(s, "swapper.server.timeout_ms", 1000);
	obs_data_set_default_int(s, "swapper.server.max_in_flight", 4);
	obs_data_set_default_string(s, "swapper.server.tls.ca", "");
	obs_data_set_default_string(s, "swapper.server.tls.cert", "");
	obs_data_set_default_string(s, "swapper.server.tls.key", "");
	obs_data_set_default_string(s, "swapper.server.fallback", "");
	obs_data_set_default_string(s, "mode", "realtime");
	obs_data_set_default_string(s, "unprocessed", "auto");
	obs_data_set_default_string(s, "profile", "auto");
	obs_data_set_default_string(s, "level", "balanced");
	obs_data_set_default_int(s, "detector.interval", 0);
	obs_data_set_default_int(s, "detector.max_faces", 4);
	obs_data_set_default_int(s, "merge.erode", 5);
	obs_data_set_default_int(s, "merge.blur", 25);
	obs_data_set_default_double(s, "merge.opacity", 1.0);
	obs_data_set_default_string(s, "merge.color_transfer", "rct");
	obs_data_set_default_string(s, "merge.live_eyes", "auto");
	obs_data_set_default_string(s, "merge.live_mouth", "auto");
	obs_data_set_default_string(s, "execution_provider", "auto");
	obs_data_set_default_bool(s, "overlay.stats", false);
	obs_data_set_default_bool(s, "overlay.disclosure", false);
	obs_data_set_default_string(s, "config_path", "");
	obs_data_set_default_string(s, "config_load_path", "");
}

static obs_property_t *add_list(obs_properties_t *props, const char *name, const char *desc,
				const char *const *values, const char *const *texts, size_t n)
{
	obs_property_t *p =
		obs_properties_add_list(props, name, T(desc), OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_STRING);
	for (size_t i = 0; i < n; i++)
		obs_property_list_add_string(p, T(texts[i]), values[i]);
	return p;
}

#define ADD_LIST(props, name, desc, values, texts) \
	add_list(props, name, desc, values, texts, sizeof(values) / sizeof(*(values)))

static bool on_kind_modified(obs_properties_t *props, obs_property_t *p, obs_data_t *s)
{
	(void)p;
	const char *kind = obs_data_get_string(s, "swapper.kind");
	bool photo = strcmp(kind, "photo") == 0, dfm = strcmp(kind, "dfm") == 0,
	     ins = strcmp(kind, "inswapper") == 0;
	obs_property_set_visible(obs_properties_get(props, "swapper.face"), photo || ins);
	obs_property_set_visible(obs_properties_get(props, "swapper.model"), dfm || ins);
	obs_property_set_visible(obs_properties_get(props, "swapper.arcface_model"), ins);
	/* kept eyes and mouth are a swap's: nothing to keep under blur */
	obs_property_set_visible(obs_properties_get(props, "merge.live_eyes"), photo || dfm || ins);
	obs_property_set_visible(obs_properties_get(props, "merge.live_mouth"), photo || dfm || ins);
	return true;
}

/* The inference server's settings, shown only with backend kserve. */
static const char *const server_settings[] = {
	"swapper.server.url",         "swapper.server.model",   "swapper.server.version",
	"swapper.server.timeout_ms",  "swapper.server.max_in_flight",
	"swapper.server.tls.ca",      "swapper.server.tls.cert", "swapper.server.tls.key",
	"swapper.server.fallback"};

static bool on_backend_modified(obs_properties_t *props, obs_property_t *p, obs_data_t *s)
{
	(void)p;
	const char *backend = obs_data_get_string(s, "swapper.backend");
	bool kserve = backend && strcmp(backend, "kserve") == 0;
	for (size_t i = 0; i < sizeof server_settings / sizeof *server_settings; i++)
		obs_property_set_visible(obs_properties_get(props, server_settings[i]), kserve);
	return true;
}

static void show_info(struct fl_core *c, obs_properties_t *props)
{
	obs_property_t *info = obs_properties_get(props, "info");
	if (!c || !info)
		return;
	pthread_mutex_lock(&c->lock);
	obs_property_set_description(info, c->info.array ? c->info.array : "");
	obs_property_text_set_info_type(info, c->info_state == FL_ST_ERROR ? OBS_TEXT_INFO_ERROR
					      : c->info_state == FL_ST_LOADING ? OBS_TEXT_INFO_WARNING
									       : OBS_TEXT_INFO_NORMAL);
	pthread_mutex_unlock(&c->lock);
}

/* The Save/Load config buttons: the worker saves to the file named in
 * "config_path" or loads the one in "config_load_path" (never on the UI
 * thread: the file may sit on a slow disk); the info line says how it
 * went. */
static bool config_button(struct fl_core *c, int req)
{
	if (!c)
		return false;
	obs_data_t *s = obs_source_get_settings(c->source);
	const char *setting = req == FL_REQ_SAVE ? "config_path" : "config_load_path";
	const char *path = obs_data_get_string(s, setting);
	pthread_mutex_lock(&c->lock);
	if (!path || !*path) {
		dstr_printf(&c->notice, "no config file chosen: choose a .json file in \xe2\x80\x9c%s\xe2\x80\x9d first",
			    T(req == FL_REQ_SAVE ? "SaveConfigTo" : "LoadConfigFrom"));
		c->notice_error = true;
		c->notice_until_ns = os_gettime_ns() + NOTICE_NS;
	} else {
		c->config_req = req;
		dstr_copy(&c->config_req_path, path);
	}
	pthread_mutex_unlock(&c->lock);
	obs_data_release(s);
	fl_core_poke(c); /* the worker runs it and publishes the info line */
	return false;
}

static bool on_save_config(obs_properties_t *props, obs_property_t *p, void *data)
{
	(void)props;
	(void)p;
	return config_button(data, FL_REQ_SAVE);
}

static bool on_load_config(obs_properties_t *props, obs_property_t *p, void *data)
{
	(void)props;
	(void)p;
	return config_button(data, FL_REQ_LOAD);
}

/* The button: the worker restarts the engine (never on the UI thread). */
static bool on_restart(obs_properties_t *props, obs_property_t *p, void *data)
{
	(void)props;
	(void)p;
	struct fl_core *c = data;
	if (!c)
		return false;
	atomic_store(&c->restart, true);
	fl_core_poke(c);
	return false;
}

obs_properties_t *fl_get_properties(void *data)
{
	struct fl_core *c = data;
	obs_properties_t *props = obs_properties_create();

	obs_property_t *info = obs_properties_add_text(props, "info", "", OBS_TEXT_INFO);
	obs_property_text_set_info_word_wrap(info, true);
	show_info(c, props);

	static const char *const kinds[] = {"photo", "dfm", "inswapper", "blur", "pixelate", "none"};
	static const char *const kind_texts[] = {"Swapper.Photo", "Swapper.DFM",      "Swapper.InSwapper",
						 "Swapper.Blur",  "Swapper.Pixelate", "Swapper.None"};
	obs_property_t *kind = ADD_LIST(props, "swapper.kind", "Swapper", kinds, kind_texts);
	obs_property_set_modified_callback(kind, on_kind_modified);

	obs_properties_add_path(props, "swapper.face", T("FacePhoto"), OBS_PATH_FILE,
				"Images (*.png *.jpg *.jpeg *.bmp *.webp)", NULL);
	obs_properties_add_path(props, "swapper.model", T("Model"), OBS_PATH_FILE, "Models (*.dfm *.onnx)", NULL);
	obs_properties_add_path(props, "swapper.arcface_model", T("ArcFaceModel"), OBS_PATH_FILE, "ONNX models (*.onnx)",
				NULL);

	/* Your own eyes and mouth through the swapped face (blinks, speech):
	 * automatic keeps them for the photo swap, not for models. */
	static const char *const live[] = {"auto", "on", "off"};
	static const char *const live_eyes_texts[] = {"LiveEyes.Auto", "LiveEyes.On", "LiveEyes.Off"};
	static const char *const live_mouth_texts[] = {"LiveMouth.Auto", "LiveMouth.On", "LiveMouth.Off"};
	ADD_LIST(props, "merge.live_eyes", "LiveEyes", live, live_eyes_texts);
	ADD_LIST(props, "merge.live_mouth", "LiveMouth", live, live_mouth_texts);

	static const char *const modes[] = {"realtime", "balanced"}; /* live modes only: see build_config */
	static const char *const mode_texts[] = {"Mode.Realtime", "Mode.Balanced"};
	ADD_LIST(props, "mode", "Mode", modes, mode_texts);

	static const char *const unprocessed[] = {"auto", "pass", "hold", "hide"};
	static const char *const unprocessed_texts[] = {"Unprocessed.Auto", "Unprocessed.Pass", "Unprocessed.Hold",
							"Unprocessed.Hide"};
	ADD_LIST(props, "unprocessed", "Unprocessed", unprocessed, unprocessed_texts);

	static const char *const profiles[] = {"auto", "low", "medium", "high", "workstation"};
	static const char *const profile_texts[] = {"Profile.Auto", "Profile.Low", "Profile.Medium", "Profile.High",
						    "Profile.Workstation"};
	ADD_LIST(props, "profile", "Profile", profiles, profile_texts);

	obs_properties_add_bool(props, "overlay.disclosure", T("DisclosureOverlay"));
	obs_properties_add_bool(props, "overlay.stats", T("StatsOverlay"));
	obs_properties_add_button2(props, "restart_engine", T("RestartEngine"), on_restart, c);

	/* What the profile and the auto-tuner choose unless the user does, and
	 * the config files, apart under "Advanced": a streamer needs the
	 * settings above. */
	obs_properties_t *adv = obs_properties_create();

	static const char *const levels[] = {"balanced", "conservative", "aggressive", "custom"};
	static const char *const level_texts[] = {"Level.Balanced", "Level.Conservative", "Level.Aggressive",
						  "Level.Custom"};
	ADD_LIST(adv, "level", "Level", levels, level_texts);

	obs_properties_add_int(adv, "detector.interval", T("DetectionInterval"), 0, 1000, 1);
	obs_properties_add_int_slider(adv, "detector.max_faces", T("MaxFaces"), 1, 16, 1);
	obs_properties_add_int_slider(adv, "merge.erode", T("Erode"), 0, 64, 1);
	obs_properties_add_int_slider(adv, "merge.blur", T("Blur"), 0, 255, 1);
	obs_properties_add_float_slider(adv, "merge.opacity", T("Opacity"), 0.0, 1.0, 0.01);

	static const char *const transfers[] = {"rct", "none"};
	static const char *const transfer_texts[] = {"ColorTransfer.RCT", "ColorTransfer.None"};
	ADD_LIST(adv, "merge.color_transfer", "ColorTransfer", transfers, transfer_texts);

	/* Only what the runtime can run (the engine's
	 * execution_providers_available), and the value a scene already holds. */
	obs_property_t *ep = obs_properties_add_list(adv, "execution_provider", T("ExecutionProvider"),
						     OBS_COMBO_TYPE_LIST, OBS_COMBO_FORMAT_STRING);
	obs_property_list_add_string(ep, T("ExecutionProvider.Auto"), "auto");
	obs_property_list_add_string(ep, T("ExecutionProvider.CPU"), "cpu");
	int gpu = c ? atomic_load(&c->gpu_providers) : 0;
	obs_data_t *cur = c && c->source ? obs_source_get_settings(c->source) : NULL;
	const char *held = cur ? obs_data_get_string(cur, "execution_provider") : "";
	if ((gpu & FL_HAS_CUDA) || strcmp(held, "cuda") == 0)
		obs_property_list_add_string(ep, T("ExecutionProvider.CUDA"), "cuda");
	if ((gpu & FL_HAS_TENSORRT) || strcmp(held, "tensorrt") == 0)
		obs_property_list_add_string(ep, T("ExecutionProvider.TensorRT"), "tensorrt");
	obs_data_release(cur);

	/* Where the dfm or inswapper model runs: here, or on an inference
	 * server (README: Beyond one machine); the server's settings only
	 * with the server. */
	static const char *const backends[] = {"local", "kserve"};
	static const char *const backend_texts[] = {"Backend.Local", "Backend.KServe"};
	obs_property_t *backend = ADD_LIST(adv, "swapper.backend", "Backend", backends, backend_texts);
	obs_property_set_modified_callback(backend, on_backend_modified);
	obs_properties_add_text(adv, "swapper.server.url", T("ServerURL"), OBS_TEXT_DEFAULT);
	obs_properties_add_text(adv, "swapper.server.model", T("ServerModel"), OBS_TEXT_DEFAULT);
	obs_properties_add_text(adv, "swapper.server.version", T("ServerVersion"), OBS_TEXT_DEFAULT);
	obs_properties_add_int(adv, "swapper.server.timeout_ms", T("ServerTimeout"), 1, 60000, 50);
	obs_properties_add_int_slider(adv, "swapper.server.max_in_flight", T("ServerMaxInFlight"), 1, 16, 1);
	obs_properties_add_path(adv, "swapper.server.tls.ca", T("ServerTLSCA"), OBS_PATH_FILE, "PEM (*.pem *.crt);;All files (*)",
				NULL);
	obs_properties_add_path(adv, "swapper.server.tls.cert", T("ServerTLSCert"), OBS_PATH_FILE,
				"PEM (*.pem *.crt);;All files (*)", NULL);
	obs_properties_add_path(adv, "swapper.server.tls.key", T("ServerTLSKey"), OBS_PATH_FILE,
				"PEM (*.pem *.key);;All files (*)", NULL);
	obs_properties_add_path(adv, "swapper.server.fallback", T("ServerFallback"), OBS_PATH_FILE,
				"Models (*.dfm *.onnx)", NULL);

	obs_properties_add_path(adv, "config_path", T("SaveConfigTo"), OBS_PATH_FILE_SAVE, "JSON (*.json)", NULL);
	obs_properties_add_button2(adv, "save_config", T("SaveConfig"), on_save_config, c);
	obs_properties_add_path(adv, "config_load_path", T("LoadConfigFrom"), OBS_PATH_FILE, "JSON (*.json)", NULL);
	obs_properties_add_button2(adv, "load_config", T("LoadConfig"), on_load_config, c);

	obs_properties_add_group(props, "advanced", T("Advanced"), OBS_GROUP_NORMAL, adv);
	return props;
}
