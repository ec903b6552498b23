/*
 * jsonutil.h: reading jsonb params and writing small JSON documents.
 */
#ifndef GW_JSONUTIL_H
#define GW_JSONUTIL_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* The value under key in a jsonb object, or NULL when absent or JSON null. */
extern JsonbValue *gw_jsonb_get(Jsonb *jb, const char *key);

/* A scalar under key as text (strings unquoted), or NULL when absent/null.
 * Objects and arrays come back as their JSON text. */
extern char *gw_jsonb_get_text(Jsonb *jb, const char *key);

/* The same for a value found inside a container (nested objects). */
extern char *gw_jsonbvalue_text(JsonbValue *v);

/* Follow a path of keys through nested objects ("data", "correlator", NULL). */
extern char *gw_jsonb_path_text(Jsonb *jb, const char *const *path);

/* An object of string values from parallel arrays; NULL values are left out. */
extern Jsonb *gw_jsonb_object(const char *const *keys, char *const *vals, int n);

/* A copy of object jb with key set to the string val (added or replaced). */
extern Jsonb *gw_jsonb_set_text(Jsonb *jb, const char *key, const char *val);

/* Parse JSON text into jsonb without ever raising an error; NULL when invalid. */
extern Jsonb *gw_json_parse(char *text, int len);

/* A JSON object being written into a StringInfo. */
typedef struct GwJsonWriter
{
	StringInfo	buf;
	bool		first;
} GwJsonWriter;

extern void gw_jw_begin(GwJsonWriter *w, StringInfo buf);
extern void gw_jw_str(GwJsonWriter *w, const char *key, const char *val);
extern void gw_jw_int(GwJsonWriter *w, const char *key, int64 val);
extern void gw_jw_raw(GwJsonWriter *w, const char *key, const char *json);
extern void gw_jw_end(GwJsonWriter *w);

#endif
