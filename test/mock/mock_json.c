/*
 * gw-mock: memory helpers, string builder, a small JSON reader and writer,
 * and the decoders the routes need (percent, form, base64, SMS segments).
 *
 * The reader takes any byte string and never reads past its end; a document
 * that is not valid JSON (RFC 8259) gives NULL. Nesting is limited so that
 * hostile input cannot exhaust the stack.
 */
#include "mock.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128

/* ---------------------------------------------------------------- memory */

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fputs("gw-mock: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
	{
		fputs("gw-mock: out of memory\n", stderr);
		abort();
	}
	return q;
}

char *
xstrndup(const char *s, size_t n)
{
	char	   *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct arena_block
{
	arena_block *next;
	size_t		used;
	size_t		size;
	char		data[];
};

void *
arena_alloc(arena *a, size_t n)
{
	arena_block *b = a->head;

	n = (n + 15) & ~(size_t) 15;
	if (b == NULL || b->size - b->used < n)
	{
		size_t		size = n > 8192 ? n : 8192;

		b = xmalloc(sizeof(arena_block) + size);
		b->used = 0;
		b->size = size;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

char *
arena_strndup(arena *a, const char *s, size_t n)
{
	char	   *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
arena_free(arena *a)
{
	while (a->head)
	{
		arena_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

/* ------------------------------------------------------- string builder */

static void
sb_grow(sb *b, size_t extra)
{
	size_t		need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	b->p = xrealloc(b->p, b->cap);
}

void
sb_put(sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sb_puts(sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void
sb_putc(sb *b, char c)
{
	sb_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void
sb_printf(sb *b, const char *fmt, ...)
{
	va_list		ap;
	char		tmp[256];
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if ((size_t) n < sizeof(tmp))
	{
		sb_put(b, tmp, (size_t) n);
		return;
	}
	sb_grow(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* Length of the valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t	c;
	size_t		len,
				i;

	if (s[0] < 0x80)
	{
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
	{
		len = 2;
		c = s[0] & 0x1F;
	}
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		len = 3;
		c = s[0] & 0x0F;
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		len = 4;
		c = s[0] & 0x07;
	}
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
		(c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

void
sb_json_str(sb *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	sb_grow(b, n + 2);
	sb_putc(b, '"');
	while (i < n)
	{
		size_t		run = i;

		/* copy plain ASCII runs in one go */
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i)
		{
			sb_put(b, (const char *) s + i, run - i);
			i = run;
			continue;
		}
		if (s[i] == '"')
			sb_put(b, "\\\"", 2);
		else if (s[i] == '\\')
			sb_put(b, "\\\\", 2);
		else if (s[i] == '\n')
			sb_put(b, "\\n", 2);
		else if (s[i] == '\r')
			sb_put(b, "\\r", 2);
		else if (s[i] == '\t')
			sb_put(b, "\\t", 2);
		else if (s[i] < 0x20)
			sb_printf(b, "\\u%04x", s[i]);
		else
		{
			uint32_t	cp;
			size_t		len = utf8_seq(s + i, n - i, &cp);

			if (len == 0)
			{
				sb_printf(b, "\\u%04x", s[i]);
				i++;
				continue;
			}
			/* U+2028/2029 are valid JSON but break some line readers */
			if (cp == 0x2028 || cp == 0x2029)
				sb_printf(b, "\\u%04x", cp);
			else
				sb_put(b, (const char *) s + i, len);
			i += len;
			continue;
		}
		i++;
	}
	sb_putc(b, '"');
}

void
sb_json_cstr(sb *b, const char *s)
{
	if (s == NULL)
		sb_puts(b, "null");
	else
		sb_json_str(b, s, strlen(s));
}

void
sb_free(sb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *
sb_take(sb *b, size_t *len)
{
	char	   *p;

	if (b->p == NULL)
		sb_grow(b, 0), b->p[0] = '\0';
	p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---------------------------------------------------------- JSON reader */

typedef struct jparser
{
	arena	   *a;
	const unsigned char *p;
	const unsigned char *end;
	int			depth;
} jparser;

static void
skip_ws(jparser *js)
{
	while (js->p < js->end &&
		   (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r'))
		js->p++;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
read_hex4(jparser *js, uint32_t *out)
{
	uint32_t	v = 0;
	int			i;

	if (js->end - js->p < 4)
		return false;
	for (i = 0; i < 4; i++)
	{
		int			h = hexval(js->p[i]);

		if (h < 0)
			return false;
		v = (v << 4) | (uint32_t) h;
	}
	js->p += 4;
	*out = v;
	return true;
}

static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Parse a string at js->p (on the opening quote) into the arena. */
static bool
parse_string(jparser *js, const char **out, size_t *outlen)
{
	const unsigned char *start;
	char	   *buf,
			   *w;

	js->p++;
	start = js->p;
	/* the decoded form is never longer than the source */
	while (js->p < js->end && *js->p != '"')
	{
		if (*js->p == '\\' && js->end - js->p < 2)
			return false;
		js->p += *js->p == '\\' ? 2 : 1;
	}
	if (js->p >= js->end)
		return false;
	buf = arena_alloc(js->a, (size_t) (js->p - start) + 1);
	w = buf;
	{
		const unsigned char *q = start,
				   *stop = js->p;

		while (q < stop)
		{
			unsigned char c = *q++;

			if (c < 0x20)
				return false;	/* raw control characters are not allowed */
			if (c != '\\')
			{
				*w++ = (char) c;
				continue;
			}
			if (q >= stop)
				return false;
			c = *q++;
			switch (c)
			{
				case '"':
					*w++ = '"';
					break;
				case '\\':
					*w++ = '\\';
					break;
				case '/':
					*w++ = '/';
					break;
				case 'b':
					*w++ = '\b';
					break;
				case 'f':
					*w++ = '\f';
					break;
				case 'n':
					*w++ = '\n';
					break;
				case 'r':
					*w++ = '\r';
					break;
				case 't':
					*w++ = '\t';
					break;
				case 'u':
					{
						jparser		h = *js;
						uint32_t	cp,
									lo;

						h.p = q;
						h.end = stop;
						if (!read_hex4(&h, &cp))
							return false;
						q = h.p;
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							/* a high surrogate wants a low one next */
							if (stop - q >= 6 && q[0] == '\\' && q[1] == 'u')
							{
								h.p = q + 2;
								if (!read_hex4(&h, &lo))
									return false;
								if (lo >= 0xDC00 && lo <= 0xDFFF)
								{
									cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
									q = h.p;
								}
								else
									cp = 0xFFFD;
							}
							else
								cp = 0xFFFD;
						}
						else if (cp >= 0xDC00 && cp <= 0xDFFF)
							cp = 0xFFFD;
						/* \uXXXX is 6 source bytes, at most 4 decoded */
						w += utf8_put(w, cp);
						break;
					}
				default:
					return false;
			}
		}
	}
	*w = '\0';
	js->p++;					/* closing quote */
	*out = buf;
	*outlen = (size_t) (w - buf);
	return true;
}

static bool
parse_number(jparser *js, jv *v)
{
	const unsigned char *start = js->p;

	if (js->p < js->end && *js->p == '-')
		js->p++;
	if (js->p >= js->end)
		return false;
	if (*js->p == '0')
		js->p++;
	else if (*js->p >= '1' && *js->p <= '9')
		while (js->p < js->end && isdigit(*js->p))
			js->p++;
	else
		return false;
	if (js->p < js->end && *js->p == '.')
	{
		js->p++;
		if (js->p >= js->end || !isdigit(*js->p))
			return false;
		while (js->p < js->end && isdigit(*js->p))
			js->p++;
	}
	if (js->p < js->end && (*js->p == 'e' || *js->p == 'E'))
	{
		js->p++;
		if (js->p < js->end && (*js->p == '+' || *js->p == '-'))
			js->p++;
		if (js->p >= js->end || !isdigit(*js->p))
			return false;
		while (js->p < js->end && isdigit(*js->p))
			js->p++;
	}
	v->type = JV_NUM;
	v->s = arena_strndup(js->a, (const char *) start, (size_t) (js->p - start));
	v->len = (size_t) (js->p - start);
	v->num = strtod(v->s, NULL);
	return true;
}

static bool
match_word(jparser *js, const char *w)
{
	size_t		n = strlen(w);

	if ((size_t) (js->end - js->p) < n || memcmp(js->p, w, n) != 0)
		return false;
	js->p += n;
	return true;
}

static jv *parse_value(jparser *js);

static bool
parse_container(jparser *js, jv *v, bool object)
{
	jv		   *last = NULL;
	char		close = object ? '}' : ']';

	if (++js->depth > JSON_MAX_DEPTH)
		return false;
	js->p++;
	skip_ws(js);
	if (js->p < js->end && *js->p == close)
	{
		js->p++;
		js->depth--;
		return true;
	}
	for (;;)
	{
		const char *key = NULL;
		size_t		klen = 0;
		jv		   *item;

		skip_ws(js);
		if (object)
		{
			if (js->p >= js->end || *js->p != '"' || !parse_string(js, &key, &klen))
				return false;
			skip_ws(js);
			if (js->p >= js->end || *js->p != ':')
				return false;
			js->p++;
		}
		item = parse_value(js);
		if (item == NULL)
			return false;
		item->key = key;
		item->klen = klen;
		if (last)
			last->next = item;
		else
			v->child = item;
		last = item;
		v->count++;
		skip_ws(js);
		if (js->p >= js->end)
			return false;
		if (*js->p == ',')
		{
			js->p++;
			continue;
		}
		if (*js->p == close)
		{
			js->p++;
			break;
		}
		return false;
	}
	js->depth--;
	return true;
}

static jv *
parse_value(jparser *js)
{
	jv		   *v;

	skip_ws(js);
	if (js->p >= js->end)
		return NULL;
	v = arena_alloc(js->a, sizeof(jv));
	memset(v, 0, sizeof(jv));
	switch (*js->p)
	{
		case '{':
			v->type = JV_OBJ;
			return parse_container(js, v, true) ? v : NULL;
		case '[':
			v->type = JV_ARR;
			return parse_container(js, v, false) ? v : NULL;
		case '"':
			v->type = JV_STR;
			return parse_string(js, &v->s, &v->len) ? v : NULL;
		case 't':
			v->type = JV_TRUE;
			v->s = "true";
			v->len = 4;
			return match_word(js, "true") ? v : NULL;
		case 'f':
			v->type = JV_FALSE;
			v->s = "false";
			v->len = 5;
			return match_word(js, "false") ? v : NULL;
		case 'n':
			v->type = JV_NULL;
			return match_word(js, "null") ? v : NULL;
		default:
			return parse_number(js, v) ? v : NULL;
	}
}

jv *
json_parse(arena *a, const char *text, size_t len)
{
	jparser		js;
	jv		   *v;

	if (text == NULL)
		return NULL;
	js.a = a;
	js.p = (const unsigned char *) text;
	js.end = js.p + len;
	js.depth = 0;
	/* tolerate a UTF-8 byte order mark */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		js.p += 3;
	v = parse_value(&js);
	if (v == NULL)
		return NULL;
	skip_ws(&js);
	return js.p == js.end ? v : NULL;
}

jv *
jget(const jv *obj, const char *key)
{
	size_t		n;
	jv		   *m;

	if (obj == NULL || obj->type != JV_OBJ)
		return NULL;
	n = strlen(key);
	for (m = obj->child; m; m = m->next)
		if (m->klen == n && memcmp(m->key, key, n) == 0)
			return m;
	return NULL;
}

jv *
jget_any(const jv *obj, const char *const *names)
{
	for (; *names; names++)
	{
		jv		   *v = jget(obj, *names);

		if (v && v->type != JV_NULL)
			return v;
	}
	return NULL;
}

const char *
jstr(const jv *v, size_t *len)
{
	if (v == NULL || (v->type != JV_STR && v->type != JV_NUM))
		return NULL;
	if (len)
		*len = v->len;
	return v->s;
}

bool
jgiven(const jv *v)
{
	if (v == NULL || v->type == JV_NULL)
		return false;
	if (v->type == JV_STR)
	{
		size_t		i;

		for (i = 0; i < v->len; i++)
			if (!isspace((unsigned char) v->s[i]))
				return true;
		return false;
	}
	return true;
}

bool
jnum(const jv *v, double *out)
{
	char	   *end;
	double		d;

	if (v == NULL)
		return false;
	if (v->type == JV_NUM)
	{
		*out = v->num;
		return true;
	}
	if (v->type != JV_STR || v->len == 0 || v->len > 64 || memchr(v->s, '\0', v->len))
		return false;
	d = strtod(v->s, &end);
	while (*end && isspace((unsigned char) *end))
		end++;
	if (*end != '\0' || end == v->s || isnan(d) || isinf(d))
		return false;
	*out = d;
	return true;
}

bool
jeq(const jv *v, const char *s)
{
	size_t		n;
	const char *t = jstr(v, &n);

	return t && n == strlen(s) && memcmp(t, s, n) == 0;
}

void
sb_jv(sb *b, const jv *v)
{
	const jv   *m;

	if (v == NULL)
	{
		sb_puts(b, "null");
		return;
	}
	switch (v->type)
	{
		case JV_NULL:
			sb_puts(b, "null");
			break;
		case JV_TRUE:
			sb_puts(b, "true");
			break;
		case JV_FALSE:
			sb_puts(b, "false");
			break;
		case JV_NUM:
			sb_put(b, v->s, v->len);
			break;
		case JV_STR:
			sb_json_str(b, v->s, v->len);
			break;
		case JV_ARR:
		case JV_OBJ:
			sb_putc(b, v->type == JV_ARR ? '[' : '{');
			for (m = v->child; m; m = m->next)
			{
				if (m != v->child)
					sb_putc(b, ',');
				if (v->type == JV_OBJ)
				{
					sb_json_str(b, m->key, m->klen);
					sb_putc(b, ':');
				}
				sb_jv(b, m);
			}
			sb_putc(b, v->type == JV_ARR ? ']' : '}');
			break;
	}
}

/* ------------------------------------------------------------- decoders */

char *
pct_decode(arena *a, const char *s, size_t n, size_t *outlen, bool plus_space)
{
	char	   *out = arena_alloc(a, n + 1);
	size_t		i,
				w = 0;

	for (i = 0; i < n; i++)
	{
		if (s[i] == '%' && i + 2 < n &&
			hexval((unsigned char) s[i + 1]) >= 0 && hexval((unsigned char) s[i + 2]) >= 0)
		{
			out[w++] = (char) (hexval((unsigned char) s[i + 1]) * 16 +
							   hexval((unsigned char) s[i + 2]));
			i += 2;
		}
		else if (plus_space && s[i] == '+')
			out[w++] = ' ';
		else
			out[w++] = s[i];
	}
	out[w] = '\0';
	if (outlen)
		*outlen = w;
	return out;
}

char *
query_param(arena *a, const char *query, const char *name)
{
	size_t		nlen = strlen(name);
	const char *p = query;

	while (p && *p)
	{
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t) (end - p));
		const char *kend = eq ? eq : end;
		size_t		klen;
		char	   *key = pct_decode(a, p, (size_t) (kend - p), &klen, true);

		if (klen == nlen && memcmp(key, name, nlen) == 0)
			return eq ? pct_decode(a, eq + 1, (size_t) (end - eq - 1), NULL, true)
				: arena_strndup(a, "", 0);
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

jv *
form_parse(arena *a, const char *text, size_t len)
{
	jv		   *obj = arena_alloc(a, sizeof(jv));
	jv		   *last = NULL;
	size_t		i = 0;

	memset(obj, 0, sizeof(jv));
	obj->type = JV_OBJ;
	while (i < len)
	{
		size_t		end = i,
					eq;
		jv		   *m;

		while (end < len && text[end] != '&')
			end++;
		eq = i;
		while (eq < end && text[eq] != '=')
			eq++;
		if (end > i)
		{
			m = arena_alloc(a, sizeof(jv));
			memset(m, 0, sizeof(jv));
			m->type = JV_STR;
			m->key = pct_decode(a, text + i, eq - i, &m->klen, true);
			if (eq < end)
				m->s = pct_decode(a, text + eq + 1, end - eq - 1, &m->len, true);
			else
				m->s = "";
			if (last)
				last->next = m;
			else
				obj->child = m;
			last = m;
			obj->count++;
		}
		i = end + 1;
	}
	return obj;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *
base64_decode(arena *a, const char *s, size_t n, size_t *outlen)
{
	char	   *out = arena_alloc(a, n * 3 / 4 + 4);
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		i,
				w = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
	{
		int			v = b64val((unsigned char) s[i]);

		if (v < 0)
			return NULL;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[w++] = (char) ((acc >> bits) & 0xFF);
		}
	}
	out[w] = '\0';
	if (outlen)
		*outlen = w;
	return out;
}

/* ----------------------------------------------------------- SMS length */

/* Septets a code point takes in GSM 03.38 (0: not in the alphabet). */
static int
gsm_septets(uint32_t cp)
{
	static const uint32_t basic[] = {
		0xA3, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0xD8, 0xF8, 0xC5, 0xE5,
		0x394, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E,
		0xC6, 0xE6, 0xDF, 0xC9, 0xA4, 0xA1, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF,
		0xE4, 0xF6, 0xF1, 0xFC, 0xE0
	};
	size_t		i;

	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp < 0x80)
	{
		if (cp < 0x20 || cp == 0x7F || cp == '`')
			return cp == '\f' ? 2 : 0;
		if (strchr("[\\]^{|}~", (int) cp))
			return 2;
		return 1;
	}
	if (cp == 0x20AC)
		return 2;
	for (i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (basic[i] == cp)
			return 1;
	return 0;
}

int
sms_segments(const char *str, size_t n, bool *ucs2, size_t *chars)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0,
				septets = 0,
				units = 0,
				nchars = 0;
	bool		gsm = true;

	while (i < n)
	{
		uint32_t	cp;
		size_t		len = utf8_seq(s + i, n - i, &cp);
		int			sep;

		if (len == 0)
		{
			cp = 0xFFFD;
			len = 1;
		}
		i += len;
		nchars++;
		sep = gsm_septets(cp);
		if (sep == 0)
			gsm = false;
		septets += (size_t) sep;
		units += cp > 0xFFFF ? 2 : 1;
	}
	if (ucs2)
		*ucs2 = !gsm;
	if (chars)
		*chars = nchars;
	if (gsm)
		return septets <= 160 ? 1 : (int) ((septets + 152) / 153);
	return units <= 70 ? 1 : (int) ((units + 66) / 67);
}
