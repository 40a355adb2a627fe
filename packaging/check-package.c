/*
 * check-package.c — a tiny C host, built by scripts/check-package.sh with
 * only `pkg-config --cflags --libs facelive` against a package's files.
 *
 *   check-package                 prints the ABI and version: it compiled, linked and loaded
 *   check-package ASSETS_DIR      also starts a blur pipeline on ASSETS_DIR (its detector
 *                                 runs on ONNX Runtime), waits up to 60 s for its models and
 *                                 prints "onnxruntime PATH": the ONNX Runtime the engine
 *                                 loaded by itself, read from /proc/self/maps
 *
 * Exit status 0 when all went well, 1 otherwise (with a message).
 */
#define _POSIX_C_SOURCE 200809L

#include <facelive.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	printf("abi %u (header %u), %s\n", facelive_abi_version(), (unsigned)FACELIVE_ABI_VERSION,
	       facelive_version_string());
	if (facelive_abi_version() != FACELIVE_ABI_VERSION) {
		fprintf(stderr, "check-package: the library's ABI is not the header's\n");
		return 1;
	}
	if (argc < 2)
		return 0;

	char config[4096], err[512];
	snprintf(config, sizeof config, "{\"mode\":\"quality\",\"swapper\":{\"kind\":\"blur\"},\"assets_dir\":\"%s\"}",
		 argv[1]);
	facelive_handle h = facelive_init(config, err, sizeof err);
	if (!h) {
		fprintf(stderr, "check-package: facelive_init: %s\n", err);
		return 1;
	}
	static char metrics[65536];
	int ready = 0;
	for (int i = 0; i < 600 && !ready; i++) {
		if (facelive_get_metrics(h, metrics, sizeof metrics) == FACELIVE_OK &&
		    !strstr(metrics, "\"face_pipeline\":\"loading\""))
			ready = 1;
		else
			sleep_ms(100);
	}
	if (!ready || !strstr(metrics, "\"face_pipeline\":\"ready\"")) {
		fprintf(stderr, "check-package: the models did not load: %.600s\n", metrics);
		facelive_shutdown(h);
		return 1;
	}

	int found = 0;
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];
	while (maps && fgets(line, sizeof line, maps)) {
		char *p = strchr(line, '/');
		if (p && strstr(p, "libonnxruntime.so")) {
			p[strcspn(p, "\n")] = 0;
			printf("onnxruntime %s\n", p);
			found = 1;
			break;
		}
	}
	if (maps)
		fclose(maps);
	facelive_shutdown(h);
	if (!found) {
		fprintf(stderr, "check-package: no ONNX Runtime is loaded (the detector fell back to Haar?)\n");
		return 1;
	}
	return 0;
}
