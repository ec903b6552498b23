/*
 * jsonutil.c: reading jsonb params and writing small JSON documents.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "compat.h"
#include "jsonutil.h"

JsonbValue *
gw_jsonb_get(Jsonb *jb, const char *key)
{
	JsonbValue *v;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

char *
gw_jsonbvalue_text(JsonbValue *v)
{
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				return JsonbToCString(&buf, v->val.binary.data, v->val.binary.len);
			}
		default:
			return NULL;
	}
}

char *
gw_jsonb_get_text(Jsonb *jb, const char *key)
{
	return gw_jsonbvalue_text(gw_jsonb_get(jb, key));
}

char *
gw_jsonb_path_text(Jsonb *jb, const char *const *path)
{
	JsonbContainer *c;
	JsonbValue *v = NULL;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	c = &jb->root;
	for (; *path; path++)
	{
		if (c == NULL || !JsonContainerIsObject(c))
			return NULL;
		v = getKeyJsonValueFromContainer(c, *path, strlen(*path), NULL);
		if (v == NULL)
			return NULL;
		c = (v->type == jbvBinary) ? v->val.binary.data : NULL;
	}
	return gw_jsonbvalue_text(v);
}

/*
 * Whether jsonb_in can take this text without raising an ERROR that the
 * grammar check does not catch: a number too large for numeric, or nesting
 * deep enough to exhaust the stack.  No provider answers like that.
 */
#define GW_JSON_MAX_DIGITS	990

static bool
gw_json_within_limits(const char *s, int len)
{
	int			depth = 0;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '"')
		{
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		}
		else if (c == '[' || c == '{')
		{
			if (++depth > 100)
				return false;
		}
		else if (c == ']' || c == '}')
			depth--;
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			int			start = i;
			int			digits = 0;
			long		e = 0;
			bool		in_exp = false;

			for (; i < len && s[i] != '\0' && strchr("0123456789+-.eE", s[i]) != NULL; i++)
			{
				if (s[i] == 'e' || s[i] == 'E')
					in_exp = true;
				else if (s[i] < '0' || s[i] > '9')
					continue;
				else if (!in_exp)
					digits++;
				else if ((e = e * 10 + (s[i] - '0')) > GW_JSON_MAX_DIGITS)
					return false;
			}
			i--;

			/*
			 * Its printed form (numeric_out: no exponent, at most digits + e
			 * digits, a sign and a point) must pass here too: bounding the
			 * digits, not only the literal, keeps every value this accepts
			 * acceptable again once printed.
			 */
			if (i - start + 1 > GW_JSON_MAX_DIGITS + 10 || digits + e > GW_JSON_MAX_DIGITS)
				return false;
		}
	}
	return true;
}

Jsonb *
gw_json_parse(char *text, int len)
{
	JsonLexContext *lex;

	/* Check encoding, limits and grammar first: jsonb_in would raise an ERROR. */
	if (!pg_verifymbstr(text, len, true) || !gw_json_within_limits(text, len))
		return NULL;
	lex = gw_json_lexer(text, len, true);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

void
gw_jw_begin(GwJsonWriter *w, StringInfo buf)
{
	w->buf = buf;
	w->first = true;
	appendStringInfoChar(buf, '{');
}

static void
gw_jw_key(GwJsonWriter *w, const char *key)
{
	if (!w->first)
		appendStringInfoChar(w->buf, ',');
	w->first = false;
	escape_json(w->buf, key);
	appendStringInfoChar(w->buf, ':');
}

void
gw_jw_str(GwJsonWriter *w, const char *key, const char *val)
{
	gw_jw_key(w, key);
	if (val == NULL)
		appendStringInfoString(w->buf, "null");
	else
		escape_json(w->buf, val);
}

void
gw_jw_int(GwJsonWriter *w, const char *key, int64 val)
{
	gw_jw_key(w, key);
	appendStringInfo(w->buf, INT64_FORMAT, val);
}

void
gw_jw_raw(GwJsonWriter *w, const char *key, const char *json)
{
	gw_jw_key(w, key);
	appendStringInfoString(w->buf, json ? json : "null");
}

void
gw_jw_end(GwJsonWriter *w)
{
	appendStringInfoChar(w->buf, '}');
}

Jsonb *
gw_jsonb_set_text(Jsonb *jb, const char *key, const char *val)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	JsonbValue	k,
				v;
	size_t		klen = strlen(key);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (jb != NULL && JB_ROOT_IS_OBJECT(jb))
	{
		JsonbIterator *it = JsonbIteratorInit(&jb->root);
		JsonbIteratorToken tok;
		bool		skip = false;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				skip = (v.val.string.len == klen &&
						memcmp(v.val.string.val, key, klen) == 0);
				if (!skip)
					pushJsonbValue(&st, WJB_KEY, &v);
			}
			else if (tok == WJB_VALUE && !skip)
				pushJsonbValue(&st, WJB_VALUE, &v);
		}
	}
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = klen;
	v.type = jbvString;
	v.val.string.val = (char *) val;
	v.val.string.len = strlen(val);
	pushJsonbValue(&st, WJB_KEY, &k);
	pushJsonbValue(&st, WJB_VALUE, &v);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

Jsonb *
gw_jsonb_object(const char *const *keys, char *const *vals, int n)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	k,
					v;

		if (vals[i] == NULL)
			continue;
		k.type = jbvString;
		k.val.string.val = (char *) keys[i];
		k.val.string.len = strlen(keys[i]);
		v.type = jbvString;
		v.val.string.val = vals[i];
		v.val.string.len = strlen(vals[i]);
		pushJsonbValue(&st, WJB_KEY, &k);
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}
