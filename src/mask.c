/*
 * mask.c: keeping secrets out of what a call returns (see mask.h).
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "mask.h"

static bool
gw_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		c >= 0x80;
}

/* Mark in hit[] where secret stands in s (len bytes). */
static void
gw_mask_mark(const char *secret, int min_len, const char *s, size_t len, bool *hit)
{
	size_t		n = strlen(secret);
	const char *p = s;

	if (n == 0 || n < (size_t) min_len || n > len)
		return;
	/* one byte on each time: overlapping occurrences of one secret too */
	while ((p = strstr(p, secret)) != NULL)
	{
		size_t		at = p - s;

		if (n >= GW_MASK_SHORT ||
			((at == 0 || !gw_word_byte((unsigned char) s[at - 1])) &&
			 !gw_word_byte((unsigned char) s[at + n])))
			memset(hit + at, true, n);
		p++;
	}
}

bool
gw_mask_text(const GwSecrets *secrets, char *s)
{
	size_t		len;
	bool	   *hit;
	bool		any = false;
	ListCell   *lc;

	if (s == NULL || (len = strlen(s)) == 0)
		return false;
	hit = palloc0(len);
	for (int i = 0; i < secrets->n; i++)
		gw_mask_mark(secrets->v[i], secrets->min_len, s, len, hit);
	foreach(lc, secrets->more)
		gw_mask_mark(lfirst(lc), secrets->min_len, s, len, hit);
	for (size_t i = 0; i < len; i++)
		if (hit[i])
		{
			s[i] = '*';
			any = true;
		}
	pfree(hit);
	return any;
}

/* Mask one scalar in place (a copy of its string); whether it changed. */
static bool
gw_mask_scalar(const GwSecrets *secrets, JsonbValue *v)
{
	char	   *text;

	if (v->type == jbvString)
	{
		text = pnstrdup(v->val.string.val, v->val.string.len);
		if (!gw_mask_text(secrets, text))
			return false;
		v->val.string.val = text;
		return true;
	}
	if (v->type == jbvNumeric)
	{
		text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		if (!gw_mask_text(secrets, text))
			return false;
		v->type = jbvString;
		v->val.string.val = text;
		v->val.string.len = strlen(text);
		return true;
	}
	return false;
}

/*
 * One walk over j's top-level fields: with st NULL it only says whether a
 * value would change; with st it also builds the masked copy in *st.
 */
static bool
gw_mask_walk(const GwSecrets *secrets, Jsonb *j, const char *const *fields,
			 JsonbParseState **st, JsonbValue **res)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	bool		in_field = false;
	bool		changed = false;

	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		bool		masks = false;

		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				depth++;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				if (depth == 1)
					in_field = false;
				break;
			case WJB_KEY:
				if (depth == 1)
				{
					in_field = false;
					for (const char *const *f = fields; *f; f++)
						if (strlen(*f) == v.val.string.len &&
							memcmp(*f, v.val.string.val, v.val.string.len) == 0)
							in_field = true;
				}
				else
					masks = in_field;
				break;
			default:			/* WJB_VALUE, WJB_ELEM */
				masks = in_field;
				break;
		}
		if (masks && gw_mask_scalar(secrets, &v))
		{
			changed = true;
			if (st == NULL)
				return true;
		}
		if (st != NULL)
			*res = pushJsonbValue(st, tok,
								  tok == WJB_BEGIN_OBJECT || tok == WJB_END_OBJECT ||
								  tok == WJB_END_ARRAY ? NULL : &v);
		if ((tok == WJB_VALUE || tok == WJB_ELEM) && depth == 1)
			in_field = false;
	}
	return changed;
}

Jsonb *
gw_mask_jsonb_fields(const GwSecrets *secrets, Jsonb *j, const char *const *fields)
{
	JsonbParseState *st = NULL;
	JsonbValue *res = NULL;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return j;
	/* most results hold no secret: look first, copy only when one is there */
	if (!gw_mask_walk(secrets, j, fields, NULL, NULL))
		return j;
	gw_mask_walk(secrets, j, fields, &st, &res);
	return JsonbValueToJsonb(res);
}
