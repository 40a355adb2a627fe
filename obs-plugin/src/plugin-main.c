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

bool obs_module_load(void)
{
	uint32_t abi = facelive_abi_version();
	if (abi != FACELIVE_ABI_VERSION) {
		FL_LOG(LOG_ERROR, "libfacelive.so has ABI %u, this plugin was built for %u: reinstall the plugin",
		       abi, FACELIVE_ABI_VERSION);
		return false;
	}
	facelive_set_log_callback(fl_log, NULL);
	fl_paths_init();
	obs_register_source(&fl_filter_info);
	obs_register_source(&fl_render_filter_info);
	FL_LOG(LOG_INFO, "loaded %s (ABI %u); assets %s; onnxruntime %s", facelive_version_string(), abi,
	       fl_assets_dir() ? fl_assets_dir() : "(the library's own search)",
	       fl_onnxruntime_library() ? fl_onnxruntime_library() : "(the library's own search)");
	return true;
}

void obs_module_unload(void)
{
	facelive_set_log_callback(NULL, NULL);
	fl_paths_free();
	FL_LOG(LOG_INFO, "unloaded");
}
