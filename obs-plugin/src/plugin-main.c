/*
 * plugin-main.c — the OBS module of facelive: registers the two filters and
 * routes the library's log into OBS's log.
 *
 * The real work is in libfacelive.so (include/facelive.h), which this module
 * links normally and finds next to itself (RUNPATH $ORIGIN). The library is
 * linked -z nodelete and never unloaded; so is this module, because the
 * library's threads may still be delivering a log line to fl_log.
 */
#include "fl-core.h"

OBS_DECLARE_MODULE()
OBS_MODULE_USE_DEFAULT_LOCALE("facelive", "en-US")

extern struct obs_source_info fl_filter_info;
extern struct obs_source_info fl_render_filter_info;

MODULE_EXPORT const char *obs_module_name(void)
{
	return "facelive";
}

MODULE_EXPORT const char *obs_module_description(void)
{
	return obs_module_text("Description");
}

/* facelive's log sink: any thread, must be quick and thread-safe (blog is). */
static void fl_log(int level, const char *msg, void *user)
{
	(void)user;
	int obs_level;
	switch (level) {
	case FACELIVE_LOG_ERROR:
		obs_level = LOG_ERROR;
		break;
	case FACELIVE_LOG_WARN:
		obs_level = LOG_WARNING;
		break;
	case FACELIVE_LOG_INFO:
		obs_level = LOG_INFO;
		break;
	default:
		obs_level = LOG_DEBUG;
		break;
	}
	blog(obs_level, "[facelive] %s", msg ? msg : "");
}

/* What obs_module_load and obs_module_unload ask of the library. */
struct lib_call {
	bool load;
	uint32_t abi;
	const char *version;
};

static void *lib_call_main(void *arg)
{
	struct lib_call *lc = arg;
	if (lc->load) {
		lc->abi = facelive_abi_version();
		if (lc->abi == FACELIVE_ABI_VERSION) {
			lc->version = facelive_version_string();
			facelive_set_log_callback(fl_log, NULL);
		}
	} else {
		facelive_set_log_callback(NULL, NULL);
	}
	return NULL;
}

/* Runs lib_call_main on a thread of its own and waits for it. OBS loads
 * and unloads modules on its UI thread, which must never call into the
 * library: a thread that calls into Go keeps Go's 32 KiB signal stack as
 * its alternate stack for good (see fl_core_init), and OBS's SIGINT
 * handler runs its close-the-window code there. A short-lived thread takes
 * the stack with it. */
static void call_library(struct lib_call *lc)
{
	pthread_t t;
	if (pthread_create(&t, NULL, lib_call_main, lc) == 0)
		pthread_join(t, NULL);
	else
		lib_call_main(lc); /* no thread to spare: here, then */
}

bool obs_module_load(void)
{
	struct lib_call lc = {.load = true};
	call_library(&lc);
	if (lc.abi != FACELIVE_ABI_VERSION) {
		FL_LOG(LOG_ERROR, "libfacelive.so has ABI %u, this plugin was built for %u: reinstall the plugin",
		       lc.abi, FACELIVE_ABI_VERSION);
		return false;
	}
	fl_paths_init();
	obs_register_source(&fl_filter_info);
	obs_register_source(&fl_render_filter_info);
	FL_LOG(LOG_INFO, "loaded %s (ABI %u); assets %s; onnxruntime %s", lc.version ? lc.version : "?", lc.abi,
	       fl_assets_dir() ? fl_assets_dir() : "(the library's own search)",
	       fl_onnxruntime_library() ? fl_onnxruntime_library() : "(the library's own search)");
	return true;
}

void obs_module_unload(void)
{
	struct lib_call lc = {.load = false};
	call_library(&lc);
	fl_paths_free();
	FL_LOG(LOG_INFO, "unloaded");
}
