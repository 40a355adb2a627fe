/*
 * fl-json.h — the little JSON the plugin needs: writing a config object with
 * properly escaped strings, and reading a few keys out of the library's own
 * compact JSON (facelive_get_metrics, facelive_get_config).
 *
 * The reader is deliberately tiny (strstr-based): it relies on the library
 * writing Go's encoding/json output — `"key":` with no space before the
 * colon (indented or compact), keys unique inside one object, every '"'
 * inside a string escaped — so a search for `"key":` can only match a real
 * key. It never allocates except for fl_json_get_string.
 * Numbers are parsed and written by hand, independent of the C locale (Qt
 * sets LC_NUMERIC from the environment, where ',' may be the decimal point).
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <util/dstr.h>

/* ---- writing ------------------------------------------------------------ */

/* A JSON object being written into a dstr. Nested one level (groups such as
 * "swapper": {...}), which is all the config needs. */
struct fl_json_writer {
	struct dstr *out;
	bool first[2]; /* no member written yet at depth 0 / 1 */
	int depth;
};

void fl_jw_begin(struct fl_json_writer *w, struct dstr *out);
void fl_jw_end(struct fl_json_writer *w);
void fl_jw_group_begin(struct fl_json_writer *w, const char *name);
void fl_jw_group_end(struct fl_json_writer *w);
void fl_jw_string(struct fl_json_writer *w, const char *name, const char *value);
void fl_jw_int(struct fl_json_writer *w, const char *name, long long value);
/* value is written with 4 decimals ("0.7500"), clamped to [-1e9, 1e9]. */
void fl_jw_float(struct fl_json_writer *w, const char *name, double value);
void fl_jw_bool(struct fl_json_writer *w, const char *name, bool value);

/* Appends s to out as a JSON string literal, quotes included. */
void fl_json_quote(struct dstr *out, const char *s);

/* ---- reading ------------------------------------------------------------ */

/*
 * Returns a pointer to the value of key in json, or NULL. key is dotted for
 * one level of nesting: "latency_ms.p50", "swapper.kind"; the member is then
 * searched only inside that group's object.
 */
const char *fl_json_find(const char *json, const char *key);

/* Reads a number at p (as fl_json_find returns it). false if p is not one. */
bool fl_json_parse_number(const char *p, double *out);

/* Convenience readers; return def when the key is missing or has another type. */
double fl_json_get_number(const char *json, const char *key, double def);
bool fl_json_get_bool(const char *json, const char *key, bool def);
/* Unescapes the string value of key into out (which is cleared first).
 * Returns false (out left empty) when the key is missing or not a string. */
bool fl_json_get_string(const char *json, const char *key, struct dstr *out);

#endif
