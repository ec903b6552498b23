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

/*
 * gw_json_parse builds its jsonb as it parses, in one pass, as jsonb_in
 * does; jsonb_in itself would raise an ERROR for text that is not JSON, and
 * checking the text first would parse it twice.
 */
typedef struct GwJsonBuild
{
	JsonbParseState *st;
	JsonbValue *res;
	bool		too_long;		/* a string longer than jsonb holds */
} GwJsonBuild;

/*
 * A string jsonb can hold (jsonb_in raises an ERROR for a longer one): else
 * the document is refused, as text that is not JSON is.  Only an answer
 * allowed to be larger than 256 MB can have one.
 */
static bool
gw_jb_string(GwJsonBuild *b, JsonbValue *v, char *s)
{
	size_t		len = strlen(s);

	if (len > JENTRY_OFFLENMASK)
	{
		b->too_long = true;
		return false;
	}
	v->type = jbvString;
	v->val.string.val = s;
	v->val.string.len = len;
	return true;
}

/* An object's or array's start or end: a token without a value. */
#define GW_JB_STRUCT_ACTION(name, token) \
static GW_JSON_ACTION \
name(void *state) \
{ \
	GwJsonBuild *b = state; \
	if (!b->too_long) \
		b->res = pushJsonbValue(&b->st, (token), NULL); \
	GW_JSON_ACTION_DONE; \
}
GW_JB_STRUCT_ACTION(gw_jb_object_start, WJB_BEGIN_OBJECT)
GW_JB_STRUCT_ACTION(gw_jb_object_end, WJB_END_OBJECT)
GW_JB_STRUCT_ACTION(gw_jb_array_start, WJB_BEGIN_ARRAY)
GW_JB_STRUCT_ACTION(gw_jb_array_end, WJB_END_ARRAY)

static GW_JSON_ACTION
gw_jb_field(void *state, char *fname, bool isnull)
{
	GwJsonBuild *b = state;
	JsonbValue	k;

	if (b->too_long || !gw_jb_string(b, &k, fname))
		GW_JSON_ACTION_DONE;
	b->res = pushJsonbValue(&b->st, WJB_KEY, &k);
	GW_JSON_ACTION_DONE;
}

static GW_JSON_ACTION
gw_jb_scalar(void *state, char *token, JsonTokenType type)
{
	GwJsonBuild *b = state;
	JsonbValue	v;

	if (b->too_long)
		GW_JSON_ACTION_DONE;
	switch (type)
	{
		case JSON_TOKEN_STRING:
			if (!gw_jb_string(b, &v, token))
				GW_JSON_ACTION_DONE;
			break;
		case JSON_TOKEN_NUMBER:
			/* the grammar and gw_json_within_limits passed it: numeric takes it */
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = (type == JSON_TOKEN_TRUE);
			break;
		default:
			v.type = jbvNull;
			break;
	}
	if (b->st == NULL)
	{
		/* a document that is one scalar: jsonb keeps it as a raw scalar */
		JsonbValue	a;

		a.type = jbvArray;
		a.val.array.rawScalar = true;
		a.val.array.nElems = 1;
		pushJsonbValue(&b->st, WJB_BEGIN_ARRAY, &a);
		pushJsonbValue(&b->st, WJB_ELEM, &v);
		b->res = pushJsonbValue(&b->st, WJB_END_ARRAY, NULL);
	}
	else
		b->res = pushJsonbValue(&b->st, b->st->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE, &v);
	GW_JSON_ACTION_DONE;
}

Jsonb *
gw_json_parse(char *text, int len)
{
	GwJsonBuild b = {NULL, NULL, false};
	JsonSemAction sem = {0};
	JsonLexContext *lex;

	/* numbers numeric cannot take, nesting that would exhaust the stack */
	if (!pg_verifymbstr(text, len, true) || !gw_json_within_limits(text, len))
		return NULL;
	sem.semstate = &b;
	sem.object_start = gw_jb_object_start;
	sem.object_end = gw_jb_object_end;
	sem.array_start = gw_jb_array_start;
	sem.array_end = gw_jb_array_end;
	sem.object_field_start = gw_jb_field;
	sem.scalar = gw_jb_scalar;
	lex = gw_json_lexer(text, len, true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || b.too_long || b.res == NULL)
		return NULL;
	return JsonbValueToJsonb(b.res);
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
