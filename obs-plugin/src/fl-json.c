/* fl-json.c — see fl-json.h. */
#include "fl-json.h"

#include <stdint.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------ */

void fl_json_quote(struct dstr *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	dstr_cat_ch(out, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"':
			dstr_cat(out, "\\\"");
			break;
		case '\\':
			dstr_cat(out, "\\\\");
			break;
		case '\n':
			dstr_cat(out, "\\n");
			break;
		case '\r':
			dstr_cat(out, "\\r");
			break;
		case '\t':
			dstr_cat(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
				dstr_cat(out, esc);
			} else {
				/* UTF-8 bytes pass through: JSON text is UTF-8. */
				dstr_cat_ch(out, (char)*p);
			}
		}
	}
	dstr_cat_ch(out, '"');
}

static void member(struct fl_json_writer *w, const char *name)
{
	if (!w->first[w->depth])
		dstr_cat_ch(w->out, ',');
	w->first[w->depth] = false;
	fl_json_quote(w->out, name);
	dstr_cat_ch(w->out, ':');
}

void fl_jw_begin(struct fl_json_writer *w, struct dstr *out)
{
	w->out = out;
	w->depth = 0;
	w->first[0] = w->first[1] = true;
	dstr_copy(out, "{");
}

void fl_jw_end(struct fl_json_writer *w)
{
	while (w->depth > 0)
		fl_jw_group_end(w);
	dstr_cat_ch(w->out, '}');
}

void fl_jw_group_begin(struct fl_json_writer *w, const char *name)
{
	if (w->depth > 0)
		fl_jw_group_end(w);
	member(w, name);
	dstr_cat_ch(w->out, '{');
	w->depth = 1;
	w->first[1] = true;
}

void fl_jw_group_end(struct fl_json_writer *w)
{
	if (w->depth == 0)
		return;
	dstr_cat_ch(w->out, '}');
	w->depth = 0;
}

void fl_jw_string(struct fl_json_writer *w, const char *name, const char *value)
{
	member(w, name);
	fl_json_quote(w->out, value);
}

void fl_jw_int(struct fl_json_writer *w, const char *name, long long value)
{
	member(w, name);
	dstr_catf(w->out, "%lld", value);
}

void fl_jw_float(struct fl_json_writer *w, const char *name, double value)
{
	/* By hand: printf's %f follows LC_NUMERIC, which may write a comma. */
	if (!(value == value)) /* NaN */
		value = 0;
	if (value > 1e9)
		value = 1e9;
	if (value < -1e9)
		value = -1e9;
	bool neg = value < 0;
	long long scaled = (long long)((neg ? -value : value) * 10000.0 + 0.5);
	member(w, name);
	dstr_catf(w->out, "%s%lld.%04lld", neg ? "-" : "", scaled / 10000, scaled % 10000);
}

void fl_jw_bool(struct fl_json_writer *w, const char *name, bool value)
{
	member(w, name);
	dstr_cat(w->out, value ? "true" : "false");
}

/* ---- reading ------------------------------------------------------------ */

/* Skips a string starting at p (which points at its opening quote); returns
 * the byte after the closing quote, or NULL when the text ends first. */
static const char *skip_string(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return NULL;
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* The end (the closing '}') of the object whose '{' is at p, or NULL. */
static const char *object_end(const char *p)
{
	int depth = 0;
	while (*p) {
		if (*p == '"') {
			p = skip_string(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p;
		}
		p++;
	}
	return NULL;
}

/* The value of member `name` ("\"name\":" pattern) in [begin, end), after
 * any whitespace (get_config's JSON is indented, the metrics' is compact). */
static const char *find_member(const char *begin, const char *end, const char *name)
{
	char pattern[96];
	size_t n = strlen(name);
	if (n + 4 > sizeof pattern)
		return NULL;
	pattern[0] = '"';
	memcpy(pattern + 1, name, n);
	pattern[n + 1] = '"';
	pattern[n + 2] = ':';
	pattern[n + 3] = 0;
	const char *hit = strstr(begin, pattern);
	if (!hit || (end && hit >= end))
		return NULL;
	const char *v = hit + n + 3;
	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	return v;
}

const char *fl_json_find(const char *json, const char *key)
{
	if (!json || !key)
		return NULL;
	const char *dot = strchr(key, '.');
	if (!dot)
		return find_member(json, NULL, key);
	char group[64];
	size_t n = (size_t)(dot - key);
	if (n >= sizeof group)
		return NULL;
	memcpy(group, key, n);
	group[n] = 0;
	const char *obj = find_member(json, NULL, group);
	if (!obj || *obj != '{')
		return NULL;
	const char *end = object_end(obj);
	if (!end)
		return NULL;
	return find_member(obj, end, dot + 1);
}

bool fl_json_parse_number(const char *p, double *out)
{
	if (!p)
		return false;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return false;
	double v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	if (*p == '.') {
		double scale = 0.1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			v += (*p - '0') * scale;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		bool eneg = false;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		int e = 0;
		while (*p >= '0' && *p <= '9' && e < 400)
			e = e * 10 + (*p++ - '0');
		for (; e > 0; e--)
			v = eneg ? v / 10 : v * 10;
	}
	*out = neg ? -v : v;
	return true;
}

double fl_json_get_number(const char *json, const char *key, double def)
{
	double v;
	return fl_json_parse_number(fl_json_find(json, key), &v) ? v : def;
}

bool fl_json_get_bool(const char *json, const char *key, bool def)
{
	const char *p = fl_json_find(json, key);
	if (p && strncmp(p, "true", 4) == 0)
		return true;
	if (p && strncmp(p, "false", 5) == 0)
		return false;
	return def;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

static void cat_utf8(struct dstr *out, uint32_t cp)
{
	char b[5] = {0};
	if (cp < 0x80) {
		b[0] = (char)cp;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
	}
	dstr_cat(out, b);
}

bool fl_json_get_string(const char *json, const char *key, struct dstr *out)
{
	dstr_copy(out, "");
	const char *p = fl_json_find(json, key);
	if (!p || *p != '"')
		return false;
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			dstr_cat_ch(out, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			dstr_cat_ch(out, '\n');
			break;
		case 't':
			dstr_cat_ch(out, '\t');
			break;
		case 'r':
			dstr_cat_ch(out, '\r');
			break;
		case 'b':
			dstr_cat_ch(out, '\b');
			break;
		case 'f':
			dstr_cat_ch(out, '\f');
			break;
		case 'u': {
			uint32_t cp, lo;
			if (!read_hex4(p + 1, &cp))
				return true; /* malformed: keep what we have */
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u' && read_hex4(p + 3, &lo) &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (cp == 0)
				cp = ' ';
			cat_utf8(out, cp);
			break;
		}
		case 0:
			return true;
		default: /* \" \\ \/ */
			dstr_cat_ch(out, *p);
		}
	}
	return true;
}
