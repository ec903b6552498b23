/*
 * gw-mock: the providers' routes, each under its own path prefix.
 *
 *   /vaspro/...                         VasPro (JSON POST)
 *   /mspace/mspaceservice/wr/sms/...    MSpace (GET, name=value path segments)
 *   /umeskia/api/v1/...                 Umeskia (JSON POST)
 *   /vtpass/api/...                     VTpass (Basic auth)
 *   /nenasasa/api/v1/...                Nenasasa (OAuth 2.0 password grant)
 *
 * Magic values (README.md lists them all) pick the failure paths.
 */
#include "mock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------- helpers */

static bool
prefix_cut(const char *path, size_t len, const char *prefix, const char **rest, size_t *rlen)
{
	size_t		n = strlen(prefix);

	if (len < n || memcmp(path, prefix, n) != 0)
		return false;
	if (len > n && path[n] != '/')
		return false;
	*rest = path + n;
	*rlen = len - n;
	return true;
}

static bool
seq_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool
method_is(req *r, const char *m)
{
	return strcmp(r->method, m) == 0;
}

/* Digits of a phone number, at most 31 of them. */
static void
digits_of(const char *s, size_t n, char *out)
{
	size_t		i,
				w = 0;

	for (i = 0; s && i < n && w < 31; i++)
		if (s[i] >= '0' && s[i] <= '9')
			out[w++] = s[i];
	out[w] = '\0';
}

/* The last nine digits of a phone number ("" when shorter). */
static const char *
last9(const char *digits)
{
	size_t		n = strlen(digits);

	return n >= 9 ? digits + n - 9 : "";
}

/* Broken-down time in a fixed UTC offset (hours). */
static struct tm
tm_at(int offset_hours)
{
	time_t		t = time(NULL) + offset_hours * 3600;
	struct tm	tm;

	gmtime_r(&t, &tm);
	return tm;
}

static void
kv_sep(sb *b)
{
	if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
		sb_putc(b, ',');
}

static void
kv_str(sb *b, const char *k, const char *v)
{
	kv_sep(b);
	sb_json_cstr(b, k);
	sb_putc(b, ':');
	sb_json_cstr(b, v);
}

static void
kv_strn(sb *b, const char *k, const char *v, size_t n)
{
	kv_sep(b);
	sb_json_cstr(b, k);
	sb_putc(b, ':');
	sb_json_str(b, v, n);
}

static void
kv_jv(sb *b, const char *k, const jv *v)
{
	kv_sep(b);
	sb_json_cstr(b, k);
	sb_putc(b, ':');
	sb_jv(b, v);
}

static void
kv_int(sb *b, const char *k, long long v)
{
	kv_sep(b);
	sb_json_cstr(b, k);
	sb_printf(b, ":%lld", v);
}

static void
kv_raw(sb *b, const char *k, const char *json)
{
	kv_sep(b);
	sb_json_cstr(b, k);
	sb_putc(b, ':');
	sb_puts(b, json);
}

/* Text of a scalar value, "" for anything else. */
static const char *
jtxt(const jv *v, size_t *n)
{
	const char *s = jstr(v, n);

	if (s == NULL)
	{
		*n = 0;
		return "";
	}
	return s;
}

static char *
jtxt_dup(const jv *v)
{
	size_t		n;
	const char *s = jtxt(v, &n);

	return xstrndup(s, n);
}

/* A JSON number for a value that may be a number or a numeric string. */
static void
put_number(sb *b, const jv *v, double fallback)
{
	double		d;

	if (!jnum(v, &d))
		d = fallback;
	if (d == floor(d) && fabs(d) < 1e15)
		sb_printf(b, "%.0f", d);
	else
		sb_printf(b, "%.2f", d);
}

/* Body as JSON, or as a form when it is not JSON and looks like one. */
static jv *
parse_body(req *r, bool allow_form)
{
	jv		   *v = json_parse(&r->a, r->body, r->body_len);

	if (v == NULL && allow_form && r->body_len > 0 && r->body[0] != '{' && r->body[0] != '[')
		v = form_parse(&r->a, r->body, r->body_len);
	return v;
}

/* A value from the stored JSON of a record. */
static const char *
rec_str(const jv *rec, const char *key)
{
	const char *s = jstr(jget(rec, key), NULL);

	return s ? s : "";
}

static long
rec_int(const jv *rec, const char *key)
{
	double		d;

	return jnum(jget(rec, key), &d) ? (long) d : 0;
}

/* A 10-character M-Pesa style receipt, unique per process. */
static void
make_receipt(char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint64_t	n = next_seq() * 2654435761ULL + 0x5A17ULL;
	int			i;

	out[0] = 'S';
	for (i = 9; i >= 1; i--)
	{
		out[i] = alphabet[n % 36];
		n /= 36;
	}
	out[10] = '\0';
}

/* ------------------------------------------------- STK push result codes */

typedef struct stk_case
{
	const char *last9;
	int			code;
	const char *desc;
} stk_case;

static const stk_case stk_cases[] = {
	{"700000001", 1, "The balance is insufficient for the transaction."},
	{"700001032", 1032, "Request cancelled by user"},
	{"700001037", 1037, "DS timeout user cannot be reached"},
	{"700001025", 1025, "An error occurred while sending a push request"},
	{"700009999", 9999, "An error occurred while sending a push request."},
	{"700002001", 2001, "The initiator information is invalid."},
	{"700001019", 1019, "Transaction has expired"},
	{"700001001", 1001, "Unable to lock subscriber, a transaction is already in process for the current subscriber"},
	{"700000099", -1, "Request accepted for processing"},
};

/* Result code for a phone number: -1 pending, 0 paid, else a failure. */
static int
stk_result(const char *phone, size_t n, const char **desc)
{
	char		d[32];
	size_t		i;

	digits_of(phone, n, d);
	for (i = 0; i < sizeof(stk_cases) / sizeof(stk_cases[0]); i++)
		if (strcmp(last9(d), stk_cases[i].last9) == 0)
		{
			*desc = stk_cases[i].desc;
			return stk_cases[i].code;
		}
	*desc = "Success. Request accepted for processing";
	return 0;
}

/* Store a checkout under id in map m, as a small JSON record. */
static void
stk_store(enum smap m, const char *id, const char *merchant, const char *checkout,
		  const char *tid, const jv *phone, const jv *amount, const jv *reference)
{
	sb			rec = {0};
	size_t		plen = 0;
	const char *ph = jstr(phone, &plen);
	const char *desc;
	int			code = stk_result(ph, plen, &desc);
	char		receipt[16];
	struct tm	tm = tm_at(3);
	char		date[32];

	make_receipt(receipt);
	strftime(date, sizeof(date), "%Y%m%d%H%M%S", &tm);
	sb_putc(&rec, '{');
	kv_str(&rec, "merchant", merchant);
	kv_str(&rec, "checkout", checkout);
	kv_str(&rec, "tid", tid);
	kv_strn(&rec, "phone", ph ? ph : "", ph ? plen : 0);
	kv_sep(&rec);
	sb_puts(&rec, "\"amount\":");
	put_number(&rec, amount, 0);
	if (jgiven(reference))
		kv_jv(&rec, "reference", reference);
	kv_int(&rec, "code", code);
	kv_str(&rec, "desc", desc);
	kv_str(&rec, "receipt", receipt);
	kv_str(&rec, "date", date);
	sb_putc(&rec, '}');
	state_lock();
	state_put(m, id, strlen(id), rec.p, rec.len);
	state_unlock();
	sb_free(&rec);
}

/* Load a stored JSON record into the arena; NULL if unknown. The caller
 * holds the state lock. */
static jv *
rec_load_locked(arena *a, enum smap m, const char *id, size_t idlen)
{
	size_t		vlen;
	const char *v = state_get(m, id, idlen, &vlen);

	return v ? json_parse(a, arena_strndup(a, v, vlen), vlen) : NULL;
}

static jv *
stk_load(arena *a, enum smap m, const char *id, size_t idlen)
{
	jv		   *rec;

	state_lock();
	rec = rec_load_locked(a, m, id, idlen);
	state_unlock();
	return rec;
}

/* ============================================================== VasPro */

static void
vp_error(reply *o, int status, const char *desc)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_puts(&o->body, "{\"code\":\"Error\",\"statusDescription\":");
	sb_json_cstr(&o->body, desc);
	sb_putc(&o->body, '}');
}

static void
vp_invalid(reply *o, const char *label, const char *what)
{
	char		msg[256];

	snprintf(msg, sizeof(msg), "Validation Error: %s %s", label, what);
	vp_error(o, 422, msg);
}

/* data is a JSON text (object or array). */
static void
vp_ok(reply *o, int status, const char *desc, const char *data)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_puts(&o->body, "{\"code\":\"Success\",\"statusDescription\":");
	sb_json_cstr(&o->body, desc);
	if (data)
	{
		sb_puts(&o->body, ",\"data\":");
		sb_puts(&o->body, data);
	}
	sb_putc(&o->body, '}');
}

/* The first of names that is given; 422 when none is. */
static jv *
vp_need(reply *o, const jv *b, const char *label, const char *const *names)
{
	for (; *names; names++)
	{
		jv		   *v = jget(b, *names);

		if (jgiven(v))
			return v;
	}
	vp_invalid(o, label, "is required");
	return NULL;
}

/* enqueue, required by the document: 0 or 1 (only 1 where it says
 * "should always be set to 1"). */
static bool
vp_enqueue(reply *o, const jv *b, bool only_one)
{
	jv		   *v = vp_need(o, b, "enqueue", NAMES("enqueue"));
	double		d;

	if (v == NULL)
		return false;
	if (!jnum(v, &d) || (d != 1 && (only_one || d != 0)))
	{
		vp_invalid(o, "enqueue", only_one ? "must be 1" : "must be 0 or 1");
		return false;
	}
	return true;
}

/* Billing and sender checks that follow validation. */
static bool
vp_gate(reply *o, const jv *key, const jv *short_code)
{
	if (jeq(key, "lowbalance"))
	{
		vp_error(o, 402, "Payment is Required");
		return false;
	}
	if (short_code && jeq(short_code, "NOTCONFIG"))
	{
		vp_error(o, 420, "Service Configuration Error");
		return false;
	}
	return true;
}

static int
vp_credits(const jv *message)
{
	size_t		n = 0;
	const char *s = jstr(message, &n);

	return sms_segments(s ? s : "", s ? n : 0, NULL, NULL);
}

static void
vp_log_message(const char *id, const jv *sender, const char *recipients, const jv *message)
{
	size_t		n = 0;
	const char *m = jstr(message, &n);

	messages_add("vaspro", id, jstr(sender, NULL), recipients, m, n);
}

/* api/create and premium/create: one recipient. */
static void
vp_single(req *r, reply *o, jv *b, bool premium)
{
	jv		   *key,
			   *sc,
			   *to,
			   *msg,
			   *link = NULL;
	char		corr[48];
	sb			d = {0};
	char	   *data;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(sc = vp_need(o, b, "shortCode", NAMES("shortCode"))) ||
		!(to = vp_need(o, b, "recipient", NAMES("recipient", "recepient"))) ||
		!(msg = vp_need(o, b, "message", NAMES("message"))) ||
		!vp_enqueue(o, b, false))
		return;
	if (premium && !(link = vp_need(o, b, "link_id", NAMES("link_id"))))
		return;
	if (!vp_gate(o, key, sc))
		return;
	make_correlator(corr, sizeof(corr));
	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_int(&d, "credits", vp_credits(msg));
	kv_int(&d, "recipients", 1);
	if (premium)
		kv_jv(&d, "link_id", link);
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
	vp_log_message(corr, sc, jstr(to, NULL), msg);
}

static void
vp_sms(req *r, reply *o, jv *b)
{
	vp_single(r, o, b, false);
}

static void
vp_premium(req *r, reply *o, jv *b)
{
	vp_single(r, o, b, true);
}

/* Count recipients of contacts (object with recipients, array or string)
 * and join them with commas into out. */
static size_t
vp_recipients(const jv *contacts, sb *out)
{
	const jv   *list = contacts;
	const jv   *it;
	size_t		count = 0;

	if (contacts && contacts->type == JV_OBJ)
		list = jget(contacts, "recipients");
	if (list == NULL)
		return 0;
	if (list->type == JV_ARR)
	{
		for (it = list->child; it; it = it->next)
			if (jgiven(it) && jstr(it, NULL))
			{
				if (count++)
					sb_putc(out, ',');
				sb_put(out, it->s, it->len);
			}
		return count;
	}
	if (list->type == JV_STR || list->type == JV_NUM)
	{
		size_t		i = 0;

		while (i < list->len)
		{
			size_t		start,
						end;

			while (i < list->len && (list->s[i] == ' ' || list->s[i] == ','))
				i++;
			start = i;
			while (i < list->len && list->s[i] != ',')
				i++;
			end = i;
			while (end > start && list->s[end - 1] == ' ')
				end--;
			if (end > start)
			{
				if (count++)
					sb_putc(out, ',');
				sb_put(out, list->s + start, end - start);
			}
		}
	}
	return count;
}

static void
vp_bulk(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *sc,
			   *msg,
			   *uid,
			   *sched;
	sb			to = {0},
				d = {0},
				k = {0};
	size_t		n;
	double		flag;
	char		corr[48];
	const char *seen;
	size_t		klen,
				uidlen;
	const char *uids;
	char	   *data;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(sc = vp_need(o, b, "shortCode", NAMES("shortCode"))) ||
		!(msg = vp_need(o, b, "message", NAMES("message"))) ||
		!(uid = vp_need(o, b, "uniqueId", NAMES("uniqueId", "uniqueID"))) ||
		!vp_enqueue(o, b, false))
		return;
	n = vp_recipients(jget(b, "contacts"), &to);
	if (n == 0)
	{
		vp_invalid(o, "contacts.recipients", "is required");
		goto done;
	}
	if (!(sched = vp_need(o, b, "isScheduled", NAMES("isScheduled"))))
		goto done;
	if (!jnum(sched, &flag) || (flag != 1 && flag != 2))
	{
		vp_invalid(o, "isScheduled", "must be 1 or 2");
		goto done;
	}
	if (flag == 1 &&
		(!vp_need(o, b, "scheduleDate", NAMES("scheduleDate", "scheduleDate ")) ||
		 !vp_need(o, b, "scheduleTime", NAMES("scheduleTime", "scheduleTime "))))
		goto done;
	if (!vp_gate(o, key, sc))
		goto done;

	/* duplicates are per apiKey */
	uids = jstr(uid, &uidlen);
	if (uids == NULL)
	{
		vp_invalid(o, "uniqueId", "must be a string");
		goto done;
	}
	{
		size_t		kl;
		const char *ks = jtxt(key, &kl);

		sb_put(&k, ks, kl);
	}
	sb_putc(&k, '\0');
	sb_put(&k, uids, uidlen);
	klen = k.len;
	state_lock();
	seen = state_get(MAP_VASPRO_BULK, k.p, klen, NULL);
	if (seen)
		snprintf(corr, sizeof(corr), "%s", seen);
	else
	{
		make_correlator(corr, sizeof(corr));
		state_put(MAP_VASPRO_BULK, k.p, klen, corr, strlen(corr));
	}
	state_unlock();

	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_strn(&d, "uniqueId", uids, uidlen);
	if (!seen)
	{
		kv_int(&d, "credits", (long long) vp_credits(msg) * (long long) n);
		kv_int(&d, "recipients", (long long) n);
	}
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, seen ? 202 : 200, seen ? "Duplicated Request" : "Request is Successfully Processed", data);
	free(data);
	if (!seen)
		vp_log_message(corr, sc, to.p, msg);
done:
	sb_free(&to);
	sb_free(&k);
}

static void
vp_nested(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *sc,
			   *md,
			   *it;
	sb			d = {0},
				items = {0};
	char		corr[48],
				label[64];
	long long	credits = 0;
	size_t		i = 0;
	char	   *data;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(sc = vp_need(o, b, "shortCode", NAMES("shortCode"))) ||
		!(md = vp_need(o, b, "messageData", NAMES("messageData"))) ||
		!vp_need(o, b, "uniqueId", NAMES("uniqueId", "uniqueID")) ||
		!vp_enqueue(o, b, false))
		return;
	if (md->type != JV_ARR || md->count == 0)
	{
		vp_invalid(o, "messageData", md->type == JV_ARR ? "is required" : "must be an array");
		return;
	}
	for (it = md->child; it; it = it->next, i++)
	{
		if (it->type != JV_OBJ)
		{
			snprintf(label, sizeof(label), "messageData[%zu]", i);
			vp_invalid(o, label, "must be an object");
			return;
		}
#define NEED_ITEM(field, ...) \
		do { \
			snprintf(label, sizeof(label), "messageData[%zu].%s", i, field); \
			if (!vp_need(o, it, label, NAMES(__VA_ARGS__))) \
				return; \
		} while (0)
		NEED_ITEM("recepient", "recepient", "recipient");
		NEED_ITEM("message", "message");
		NEED_ITEM("uniqueId", "uniqueId", "uniqueID");
#undef NEED_ITEM
	}
	if (!vp_gate(o, key, sc))
		return;

	make_correlator(corr, sizeof(corr));
	sb_putc(&items, '[');
	for (it = md->child; it; it = it->next)
	{
		char		c[48];
		jv		   *to = jget_any(it, NAMES("recepient", "recipient"));
		jv		   *msg = jget(it, "message");
		int			cr = vp_credits(msg);

		make_correlator(c, sizeof(c));
		credits += cr;
		kv_sep(&items);
		sb_putc(&items, '{');
		kv_jv(&items, "uniqueId", jget_any(it, NAMES("uniqueId", "uniqueID")));
		kv_str(&items, "correlator", c);
		kv_jv(&items, "recipient", to);
		kv_int(&items, "credits", cr);
		sb_putc(&items, '}');
		vp_log_message(c, sc, jstr(to, NULL), msg);
	}
	sb_putc(&items, ']');
	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_int(&d, "credits", credits);
	kv_int(&d, "recipients", (long long) md->count);
	kv_raw(&d, "messages", items.p);
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
	sb_free(&items);
}

static void
vp_sub_manage(req *r, reply *o, jv *b)
{
	jv		   *tok,
			   *msisdn,
			   *pid;
	char		corr[48];
	sb			d = {0};
	char	   *data;

	(void) r;
	if (!(tok = vp_need(o, b, "token", NAMES("token"))) ||
		!(msisdn = vp_need(o, b, "msisdn", NAMES("msisdn"))) ||
		!(pid = vp_need(o, b, "product_id", NAMES("product_id"))) ||
		!vp_gate(o, tok, NULL))
		return;
	make_correlator(corr, sizeof(corr));
	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_jv(&d, "msisdn", msisdn);
	kv_jv(&d, "product_id", pid);
	kv_str(&d, "status", "Optin Initiated");
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_sub_products(req *r, reply *o, jv *b)
{
	static const struct
	{
		long		id;
		const char *name;
		const char *start;
		const char *stop;
		double		cost;
	}			products[] = {
		{123456, "Mock Daily Tips", "START123456", "STOP123456", 10.00},
		{123457, "Mock News Alerts", "START123457", "STOP123457", 5.00},
	};
	jv		   *tok,
			   *sc;
	double		want = 0,
				lim = 10,
				off = 0;
	bool		filter;
	sb			d = {0};
	size_t		i,
				skipped = 0,
				shown = 0;
	char	   *data;

	(void) r;
	if (!(tok = vp_need(o, b, "token", NAMES("token"))) ||
		!(sc = vp_need(o, b, "short_code", NAMES("short_code"))) ||
		!vp_gate(o, tok, NULL))
		return;
	filter = jgiven(jget(b, "product_id")) && jnum(jget(b, "product_id"), &want);
	if (jgiven(jget(b, "limit")) && jnum(jget(b, "limit"), &lim) && lim < 0)
		lim = 0;
	if (jgiven(jget(b, "offset")) && jnum(jget(b, "offset"), &off) && off < 0)
		off = 0;
	sb_putc(&d, '[');
	for (i = 0; i < sizeof(products) / sizeof(products[0]); i++)
	{
		if (filter && (double) products[i].id != want)
			continue;
		if ((double) skipped++ < off)
			continue;
		if ((double) shown >= lim)
			break;
		shown++;
		kv_sep(&d);
		sb_putc(&d, '{');
		kv_int(&d, "product_id", products[i].id);
		kv_str(&d, "service_name", products[i].name);
		kv_jv(&d, "short_code", sc);
		kv_str(&d, "start_keyword", products[i].start);
		kv_str(&d, "stop_keyword", products[i].stop);
		kv_sep(&d);
		sb_printf(&d, "\"mt_cost\":%.2f", products[i].cost);
		sb_putc(&d, '}');
	}
	sb_putc(&d, ']');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_sub_broadcast(req *r, reply *o, jv *b)
{
	jv		   *tok,
			   *msg,
			   *pid,
			   *camp;
	char		corr[48];
	sb			d = {0};
	char	   *data;

	(void) r;
	if (!(tok = vp_need(o, b, "token", NAMES("token"))) ||
		!(msg = vp_need(o, b, "message", NAMES("message"))) ||
		!(pid = vp_need(o, b, "product_id", NAMES("product_id"))) ||
		!(camp = vp_need(o, b, "campaign_name", NAMES("campaign_name"))) ||
		!vp_gate(o, tok, NULL))
		return;
	make_correlator(corr, sizeof(corr));
	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_sep(&d);
	sb_printf(&d, "\"campaign_id\":\"CMP%llu\"", (unsigned long long) next_seq());
	kv_jv(&d, "campaign_name", camp);
	kv_jv(&d, "product_id", pid);
	if (jget(b, "unique_id"))
		kv_jv(&d, "unique_id", jget(b, "unique_id"));
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_sub_delete(req *r, reply *o, jv *b)
{
	jv		   *tok,
			   *msisdn,
			   *pid;
	sb			d = {0};
	char	   *data;

	(void) r;
	if (!(tok = vp_need(o, b, "token", NAMES("token"))) ||
		!(msisdn = vp_need(o, b, "msisdn", NAMES("msisdn"))) ||
		!(pid = vp_need(o, b, "product_id", NAMES("product_id"))) ||
		!vp_gate(o, tok, NULL))
		return;
	sb_putc(&d, '{');
	kv_jv(&d, "msisdn", msisdn);
	kv_jv(&d, "product_id", pid);
	kv_str(&d, "status", "Deleted");
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_groups(req *r, reply *o, jv *b)
{
	jv		   *key;
	double		lim = 10;
	sb			d = {0};
	char	   *data;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) || !vp_gate(o, key, NULL))
		return;
	if (jgiven(jget(b, "limit")))
		jnum(jget(b, "limit"), &lim);
	sb_putc(&d, '{');
	if (jget(b, "unique_id"))
		kv_jv(&d, "unique_id", jget(b, "unique_id"));
	kv_sep(&d);
	sb_puts(&d, "\"groups\":[");
	if (lim >= 1)
		sb_puts(&d, "{\"contact_groupId\":1,\"group_name\":\"Mock Customers\",\"contacts\":2}");
	if (lim >= 2)
		sb_puts(&d, ",{\"contact_groupId\":2,\"group_name\":\"Mock Staff\",\"contacts\":1}");
	sb_puts(&d, "]}");
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_contact(req *r, reply *o, jv *b, bool edit)
{
	jv		   *key,
			   *msisdn,
			   *grp,
			   *uid,
			   *cid = NULL;
	sb			d = {0};
	char	   *data;
	int			i;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(msisdn = vp_need(o, b, "msisdn", NAMES("msisdn"))))
		return;
	if (edit && !(cid = vp_need(o, b, "contact_id", NAMES("contact_id"))))
		return;
	if (!(uid = vp_need(o, b, "unique_id", NAMES("unique_id"))) ||
		!(grp = vp_need(o, b, "contact_groupId", NAMES("contact_groupId"))) ||
		!vp_gate(o, key, NULL))
		return;
	sb_putc(&d, '{');
	if (edit)
		kv_jv(&d, "contact_id", cid);
	else
		kv_int(&d, "contact_id", (long long) next_seq());
	kv_jv(&d, "msisdn", msisdn);
	kv_jv(&d, "contact_groupId", grp);
	kv_jv(&d, "unique_id", uid);
	for (i = 1; i <= 5; i++)
	{
		char		f[32];

		snprintf(f, sizeof(f), "custom_field%d", i);
		if (jget(b, f))
			kv_jv(&d, f, jget(b, f));
	}
	if (jget(b, "custom_tag"))
		kv_jv(&d, "custom_tag", jget(b, "custom_tag"));
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

static void
vp_contact_add(req *r, reply *o, jv *b)
{
	vp_contact(r, o, b, false);
}

static void
vp_contact_edit(req *r, reply *o, jv *b)
{
	vp_contact(r, o, b, true);
}

/* ws_CO_<ddmmyyyyHHMMSS><6 digits>, and the merchant id beside it. */
static void
make_checkout_ids(char *checkout, size_t clen, char *merchant, size_t mlen, char *tid, size_t tlen)
{
	struct tm	tm = tm_at(3);
	char		stamp[32];
	unsigned long long n = (unsigned long long) next_seq();

	strftime(stamp, sizeof(stamp), "%d%m%Y%H%M%S", &tm);
	snprintf(checkout, clen, "ws_CO_%s%06llu", stamp, n % 1000000);
	snprintf(merchant, mlen, "%05llu-%llu-1", (n * 7919) % 100000, n);
	if (tid)
		snprintf(tid, tlen, "UMSPID%s%06llu", stamp, n % 1000000);
}

static void
vp_checkout(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *amount,
			   *phone,
			   *paybill;
	char		checkout[64],
				merchant[64],
				corr[48];
	sb			d = {0};
	char	   *data;
	double		amt;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(amount = vp_need(o, b, "amount", NAMES("amount"))) ||
		!(phone = vp_need(o, b, "phoneNumber", NAMES("phoneNumber"))) ||
		!(paybill = vp_need(o, b, "paybillNumber", NAMES("paybillNumber"))))
		return;
	if (!jnum(amount, &amt) || amt <= 0)
	{
		vp_invalid(o, "amount", "must be a positive number");
		return;
	}
	if (!vp_gate(o, key, NULL))
		return;
	make_checkout_ids(checkout, sizeof(checkout), merchant, sizeof(merchant), NULL, 0);
	make_correlator(corr, sizeof(corr));
	stk_store(MAP_VASPRO_CHECKOUT, checkout, merchant, checkout, "", phone, amount, NULL);
	sb_putc(&d, '{');
	kv_str(&d, "correlator", corr);
	kv_str(&d, "MerchantRequestID", merchant);
	kv_str(&d, "CheckoutRequestID", checkout);
	kv_str(&d, "ResponseCode", "0");
	kv_str(&d, "ResponseDescription", "Success. Request accepted for processing");
	kv_str(&d, "CustomerMessage", "Success. Request accepted for processing");
	kv_jv(&d, "amount", amount);
	kv_jv(&d, "phoneNumber", phone);
	kv_jv(&d, "paybillNumber", paybill);
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
}

/* Reward duplicates per apiKey: true (and 202 answered) when seen. */
static bool
vp_reward_dup(reply *o, const jv *key, const jv *uid, char *corr, size_t clen)
{
	sb			k = {0};
	size_t		ulen;
	const char *u = jstr(uid, &ulen);
	const char *seen;

	if (u == NULL)
	{
		vp_invalid(o, "unique_id", "must be a string");
		return true;
	}
	{
		size_t		kl;
		const char *ks = jtxt(key, &kl);

		sb_put(&k, ks, kl);
	}
	sb_putc(&k, '\0');
	sb_put(&k, u, ulen);
	state_lock();
	seen = state_get(MAP_VASPRO_REWARD, k.p, k.len, NULL);
	if (seen)
		snprintf(corr, clen, "%s", seen);
	else
	{
		make_correlator(corr, clen);
		state_put(MAP_VASPRO_REWARD, k.p, k.len, corr, strlen(corr));
	}
	state_unlock();
	sb_free(&k);
	if (seen)
	{
		sb			d = {0};
		char	   *data;

		sb_putc(&d, '{');
		kv_str(&d, "correlator", corr);
		kv_jv(&d, "unique_id", uid);
		sb_putc(&d, '}');
		data = sb_take(&d, NULL);
		vp_ok(o, 202, "Duplicated Request", data);
		free(data);
		return true;
	}
	return false;
}

static void
vp_reward_done(reply *o, const jv *key, sb *d)
{
	char	   *data = sb_take(d, NULL);
	char	   *keyz = jtxt_dup(key);

	rewards_add(keyz, data);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(keyz);
	free(data);
}

static void
vp_rewards_view(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *uid;
	sb			d = {0},
				list = {0};
	char	   *data,
			   *keyz;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(uid = vp_need(o, b, "unique_id", NAMES("unique_id"))) ||
		!vp_enqueue(o, b, true) || !vp_gate(o, key, NULL))
		return;
	keyz = jtxt_dup(key);
	rewards_json(&list, keyz, 100);
	free(keyz);
	sb_putc(&d, '{');
	kv_jv(&d, "unique_id", uid);
	kv_raw(&d, "transactions", list.p);
	sb_putc(&d, '}');
	data = sb_take(&d, NULL);
	vp_ok(o, 200, "Request is Successfully Processed", data);
	free(data);
	sb_free(&list);
}

static void
vp_rewards_bulk(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *uid,
			   *util,
			   *payload,
			   *it;
	char		corr[48],
				label[64];
	sb			d = {0};
	double		total = 0;
	size_t		i = 0;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(uid = vp_need(o, b, "unique_id", NAMES("unique_id"))) ||
		!(util = vp_need(o, b, "utilityID", NAMES("utilityID"))) ||
		!(payload = vp_need(o, b, "payload", NAMES("payload", "payLoad"))) ||
		!vp_enqueue(o, b, true))
		return;
	{
		double		u;

		if (!jnum(util, &u) || (u != 4 && u != 5 && u != 6 && u != 7))
		{
			vp_invalid(o, "utilityID", "must be 4, 5, 6 or 7");
			return;
		}
		if (u == 7)
		{
			vp_error(o, 404, "KPLC Post-paid Tokens are NOT available");
			return;
		}
	}
	if (payload->type != JV_ARR || payload->count == 0)
	{
		vp_invalid(o, "payload", payload->type == JV_ARR ? "is required" : "must be an array");
		return;
	}
	for (it = payload->child; it; it = it->next, i++)
	{
		double		amt;

		snprintf(label, sizeof(label), "payload[%zu].phone", i);
		if (!vp_need(o, it, label, NAMES("phone")))
			return;
		snprintf(label, sizeof(label), "payload[%zu].amount", i);
		if (!vp_need(o, it, label, NAMES("amount")))
			return;
		snprintf(label, sizeof(label), "payload[%zu].uniqueId", i);
		if (!vp_need(o, it, label, NAMES("uniqueId")))
			return;
		if (jnum(jget(it, "amount"), &amt))
			total += amt;
	}
	if (!vp_gate(o, key, NULL) || vp_reward_dup(o, key, uid, corr, sizeof(corr)))
		return;
	sb_putc(&d, '{');
	kv_str(&d, "type", "bulk");
	kv_jv(&d, "unique_id", uid);
	kv_str(&d, "correlator", corr);
	kv_jv(&d, "utilityID", util);
	kv_int(&d, "count", (long long) payload->count);
	kv_sep(&d);
	sb_printf(&d, "\"amount\":%.2f", total);
	kv_str(&d, "status", "Success");
	sb_putc(&d, '}');
	vp_reward_done(o, key, &d);
}

static void
vp_airtime(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *uid,
			   *amount,
			   *msisdn;
	char		corr[48];
	sb			d = {0};

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(uid = vp_need(o, b, "unique_id", NAMES("unique_id"))) ||
		!(amount = vp_need(o, b, "amount", NAMES("amount"))) ||
		!(msisdn = vp_need(o, b, "msisdn", NAMES("msisdn"))) ||
		!vp_gate(o, key, NULL) || vp_reward_dup(o, key, uid, corr, sizeof(corr)))
		return;
	sb_putc(&d, '{');
	kv_str(&d, "type", "airtime");
	kv_jv(&d, "unique_id", uid);
	kv_str(&d, "correlator", corr);
	kv_jv(&d, "msisdn", msisdn);
	kv_jv(&d, "amount", amount);
	kv_str(&d, "status", "Success");
	sb_putc(&d, '}');
	vp_reward_done(o, key, &d);
}

static void
vp_electricity(req *r, reply *o, jv *b)
{
	jv		   *key,
			   *uid,
			   *amount,
			   *msisdn,
			   *atype,
			   *bill;
	char		corr[48];
	sb			d = {0};
	unsigned long long n;
	double		t;

	(void) r;
	if (!(key = vp_need(o, b, "apiKey", NAMES("apiKey"))) ||
		!(uid = vp_need(o, b, "unique_id", NAMES("unique_id"))) ||
		!(amount = vp_need(o, b, "amount", NAMES("amount"))) ||
		!(msisdn = vp_need(o, b, "msisdn", NAMES("msisdn"))) ||
		!(atype = vp_need(o, b, "account_type", NAMES("account_type"))) ||
		!(bill = vp_need(o, b, "bill_reference", NAMES("bill_reference"))))
		return;
	if (!jnum(atype, &t) || (t != 1 && t != 2))
	{
		vp_invalid(o, "account_type", "must be 1 or 2");
		return;
	}
	if (t == 2)
	{
		vp_error(o, 404, "KPLC Postpaid is NOT available");
		return;
	}
	if (!vp_gate(o, key, NULL) || vp_reward_dup(o, key, uid, corr, sizeof(corr)))
		return;
	n = (unsigned long long) next_seq();
	n = (n ^ (n >> 31)) * 0x9E3779B97F4A7C15ULL;
	n = (n ^ (n >> 29)) % 10000000000000000ULL;
	sb_putc(&d, '{');
	kv_str(&d, "type", "electricity");
	kv_jv(&d, "unique_id", uid);
	kv_str(&d, "correlator", corr);
	kv_jv(&d, "msisdn", msisdn);
	kv_jv(&d, "amount", amount);
	kv_jv(&d, "account_type", atype);
	kv_jv(&d, "bill_reference", bill);
	kv_sep(&d);
	sb_printf(&d, "\"token\":\"%04llu-%04llu-%04llu-%04llu-%04llu\"",
			  n % 9000 + 1000, (n / 1000000000000ULL) % 10000,
			  (n / 100000000ULL) % 10000, (n / 10000ULL) % 10000, n % 10000);
	kv_str(&d, "status", "Success");
	sb_putc(&d, '}');
	vp_reward_done(o, key, &d);
}

typedef void (*vp_fn) (req *r, reply *o, jv *b);

static const struct
{
	const char *path;
	vp_fn		fn;
}			vp_routes[] = {
	{"/v3/BulkSMS/bulk/create", vp_bulk},
	{"/v3/BulkSMS/api/create", vp_sms},
	{"/v3/BulkSMS/premium/create", vp_premium},
	{"/v3/BulkSMS/bulk/nested", vp_nested},
	{"/subscription/v3/manage", vp_sub_manage},
	{"/subscription/sms/v3/fetch/products", vp_sub_products},
	{"/subscription/sms/v3/create/broadcast", vp_sub_broadcast},
	{"/subscription/sms/v3/delete/sub", vp_sub_delete},
	{"/v3/contact/api/groups", vp_groups},
	{"/v3/contact/api/add", vp_contact_add},
	{"/v3/contact/api/edit", vp_contact_edit},
	{"/v3/checkout/mpesa", vp_checkout},
	{"/v3/rewards/view/transaction", vp_rewards_view},
	{"/v3/rewards/bulk", vp_rewards_bulk},
	{"/v3/rewards/airtime", vp_airtime},
	{"/v3/rewards/electricity", vp_electricity},
};

static void
vaspro(req *r, reply *o, const char *rest, size_t rlen)
{
	size_t		i;
	jv		   *b;

	for (i = 0; i < sizeof(vp_routes) / sizeof(vp_routes[0]); i++)
		if (seq_is(rest, rlen, vp_routes[i].path))
			break;
	if (i == sizeof(vp_routes) / sizeof(vp_routes[0]))
	{
		vp_error(o, 404, "Resource is NOT available or Invalid Request");
		return;
	}
	b = json_parse(&r->a, r->body, r->body_len);
	if (b == NULL || b->type != JV_OBJ)
	{
		vp_error(o, 400, "Bad Request");
		return;
	}
	vp_routes[i].fn(r, o, b);
}

/* ============================================================== MSpace */

#define MS_AUTH_FAIL "Error 100: Authentication Failure"
#define MS_MAX_PARAMS 32

typedef struct ms_param
{
	const char *name;
	size_t		nlen;
	const char *value;
	size_t		vlen;
} ms_param;

typedef struct ms_params
{
	ms_param	p[MS_MAX_PARAMS];
	size_t		n;
} ms_params;

static const char *
ms_get(const ms_params *ps, const char *name, size_t *len)
{
	size_t		i;

	for (i = 0; i < ps->n; i++)
		if (seq_is(ps->p[i].name, ps->p[i].nlen, name))
		{
			if (len)
				*len = ps->p[i].vlen;
			return ps->p[i].value;
		}
	return NULL;
}

static void
ms_text(reply *o, int status, const char *text)
{
	reply_text(o, status, "text/plain; charset=utf-8", text);
}

static bool
ms_value_is(const ms_params *ps, const char *name, const char *lit)
{
	size_t		n;
	const char *v = ms_get(ps, name, &n);

	return v && seq_is(v, n, lit);
}

/* Positive whole number of SMS, else -1. */
static long
ms_count(const char *s, size_t n)
{
	long		v = 0;
	size_t		i;

	if (s == NULL || n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > 0 ? v : -1;
}

static void
ms_topup(reply *o, const ms_params *ps, const char *target)
{
	size_t		tlen,
				nlen;
	const char *who = ms_get(ps, target, &tlen);
	const char *num = ms_get(ps, "noofsms", &nlen);
	long		count;
	sb			t = {0};

	if (who == NULL || tlen == 0 || num == NULL || nlen == 0)
	{
		sb_printf(&t, "Error 101: Missing parameter %s", (who == NULL || tlen == 0) ? target : "noofsms");
		ms_text(o, 200, t.p);
		sb_free(&t);
		return;
	}
	if (ms_value_is(ps, "username", "lowbalance"))
	{
		ms_text(o, 200, "Insufficient Balance");
		return;
	}
	if (ms_value_is(ps, "username", "notreseller"))
	{
		ms_text(o, 200, "You are not Authorized to make this transaction, Kindly Contact Providers for help");
		return;
	}
	count = ms_count(num, nlen);
	if (count < 0 || seq_is(who, tlen, "notsuccessful"))
	{
		ms_text(o, 200, "Top up not Successful");
		return;
	}
	if (seq_is(who, tlen, "nodeduct"))
	{
		ms_text(o, 200, "Failed to deduct your account");
		return;
	}
	if (seq_is(who, tlen, "unknown"))
	{
		sb_puts(&t, "Failed to top up ");
		sb_put(&t, who, tlen);
		sb_puts(&t, " account");
	}
	else
	{
		sb_printf(&t, "Successful Top up of %ld SMS to ", count);
		sb_put(&t, who, tlen);
		sb_putc(&t, '.');
	}
	ms_text(o, 200, t.p);
	sb_free(&t);
}

static void
ms_sendtext(reply *o, const ms_params *ps)
{
	static const char *const need[] = {"senderid", "recipient", "message"};
	size_t		i,
				slen,
				rlen,
				mlen;
	const char *sender = ms_get(ps, "senderid", &slen);
	const char *to = ms_get(ps, "recipient", &rlen);
	const char *msg = ms_get(ps, "message", &mlen);
	struct tm	tm = tm_at(3);
	char		stamp[40];
	struct timespec ts;
	sb			out = {0};
	char	   *senderz;

	for (i = 0; i < 3; i++)
	{
		size_t		n;
		const char *v = ms_get(ps, need[i], &n);

		if (v == NULL || n == 0)
		{
			sb_printf(&out, "Error 101: Missing parameter %s", need[i]);
			ms_text(o, 200, out.p);
			sb_free(&out);
			return;
		}
	}
	if (ms_value_is(ps, "username", "lowbalance"))
	{
		ms_text(o, 200, "Insufficient Balance");
		return;
	}
	if (seq_is(sender, slen, "INVALID"))
	{
		ms_text(o, 200, "Invalid sender ID");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	/* the document's own format: date and time run together */
	strftime(stamp, sizeof(stamp), "%Y-%m-%d%H:%M:%S", &tm);
	senderz = xstrndup(sender, slen);
	sb_putc(&out, '[');
	i = 0;
	while (i <= rlen)
	{
		size_t		start = i,
					end;
		char		id[32];
		char	   *one;

		while (i < rlen && to[i] != ',')
			i++;
		end = i++;
		if (end == start)
			continue;
		snprintf(id, sizeof(id), "%llu", 10000000ULL + (unsigned long long) next_seq());
		kv_sep(&out);
		sb_printf(&out, "{\"messageId\": \"%s\", \"responseTime\": \"%s:%03ld\", \"status\": \"successful\"}",
				  id, stamp, ts.tv_nsec / 1000000);
		one = xstrndup(to + start, end - start);
		messages_add("mspace", id, senderz, one, msg, mlen);
		free(one);
	}
	sb_putc(&out, ']');
	free(senderz);
	reply_text(o, 200, "application/json", out.p);
	sb_free(&out);
}

/* An application server's 404 page: it echoes the path as received. */
static void
ms_not_found(req *r, reply *o)
{
	sb			t = {0};

	sb_puts(&t, "<!doctype html><html><head><title>HTTP Status 404 - Not Found</title></head>"
			"<body><h1>HTTP Status 404 - Not Found</h1><p><b>Message</b> ");
	sb_put(&t, r->path, r->path_len);
	sb_puts(&t, "</p><p><b>Description</b> The origin server did not find a current "
			"representation for the target resource.</p></body></html>");
	reply_text(o, 404, "text/html;charset=utf-8", t.p);
	sb_free(&t);
}

/* A crash whose message echoes the decoded path. */
static void
ms_crash(req *r, reply *o)
{
	size_t		n;
	char	   *path = pct_decode(&r->a, r->path, r->path_len, &n, false);
	sb			t = {0};

	sb_puts(&t, "Internal Server Error: cannot process ");
	sb_put(&t, path, n);
	reply_text(o, 500, "text/plain; charset=utf-8", t.p);
	sb_free(&t);
}

static void
mspace(req *r, reply *o, const char *rest, size_t rlen)
{
	ms_params	ps;
	const char *method = NULL;
	size_t		mlen = 0,
				i = 0;
	char	   *m;

	if (!method_is(r, "GET") && !method_is(r, "HEAD"))
	{
		ms_text(o, 405, "Error 405: Method Not Allowed");
		return;
	}
	ps.n = 0;
	/* segments are split on literal '/'; %2F inside a value stays in it */
	while (i < rlen)
	{
		size_t		start,
					end,
					eq;

		while (i < rlen && rest[i] == '/')
			i++;
		start = i;
		while (i < rlen && rest[i] != '/')
			i++;
		end = i;
		if (end == start)
			continue;
		if (method == NULL)
		{
			size_t		n;

			m = pct_decode(&r->a, rest + start, end - start, &n, false);
			/* the document writes "balance /username=": allow the space */
			while (n > 0 && m[n - 1] == ' ')
				m[--n] = '\0';
			method = m;
			mlen = n;
			continue;
		}
		for (eq = start; eq < end && rest[eq] != '='; eq++)
			;
		if (eq == end || ps.n == MS_MAX_PARAMS)
			continue;
		ps.p[ps.n].name = pct_decode(&r->a, rest + start, eq - start, &ps.p[ps.n].nlen, false);
		ps.p[ps.n].value = pct_decode(&r->a, rest + eq + 1, end - eq - 1, &ps.p[ps.n].vlen, false);
		ps.n++;
	}
	if (method == NULL ||
		(!seq_is(method, mlen, "balance") && !seq_is(method, mlen, "sendtext") &&
		 !seq_is(method, mlen, "subusers") && !seq_is(method, mlen, "resellerclients") &&
		 !seq_is(method, mlen, "resellerclienttopup") && !seq_is(method, mlen, "subacctopup") &&
		 !seq_is(method, mlen, "login")))
	{
		ms_not_found(r, o);
		return;
	}
	{
		size_t		ulen,
					plen;
		const char *u = ms_get(&ps, "username", &ulen);
		const char *p = ms_get(&ps, "password", &plen);

		if (u == NULL || ulen == 0 || p == NULL || plen == 0 || seq_is(p, plen, "wrong"))
		{
			ms_text(o, 200, MS_AUTH_FAIL);
			return;
		}
	}
	if (ms_value_is(&ps, "username", "crash"))
	{
		ms_crash(r, o);
		return;
	}
	if (ms_value_is(&ps, "username", "internalerror"))
	{
		ms_text(o, 200, "Internal service error");
		return;
	}
	if (seq_is(method, mlen, "balance"))
		ms_text(o, 200, ms_value_is(&ps, "username", "lowbalance") ? "0" : "50");
	else if (seq_is(method, mlen, "login"))
		ms_text(o, 200, "User exists.");
	else if (seq_is(method, mlen, "subusers"))
		reply_text(o, 200, "application/json",
				   ms_value_is(&ps, "username", "nosubs") ? "[]" :
				   "[{\"smsBalance\": \"20\", \"subUserName\": \"subuser1\"},{\"smsBalance\": \"18\", \"subUserName\": \"subuser2\"}]");
	else if (seq_is(method, mlen, "resellerclients"))
		reply_text(o, 200, "application/json",
				   ms_value_is(&ps, "username", "nosubs") ? "[]" :
				   "[{\"smsBalance\": \"20\", \"clientname\": \"client1\"}, {\"smsBalance\": \"18\", \"clientname\": \"client2\"}]");
	else if (seq_is(method, mlen, "resellerclienttopup"))
		ms_topup(o, &ps, "clientname");
	else if (seq_is(method, mlen, "subacctopup"))
		ms_topup(o, &ps, "subaccname");
	else
		ms_sendtext(o, &ps);
}

/* ============================================================= Umeskia */

static void
um_error(reply *o, int status, const char *msg)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_printf(&o->body, "{\"ResultCode\":\"%d\",\"errorMessage\":", status);
	sb_json_cstr(&o->body, msg);
	sb_putc(&o->body, '}');
}

static jv *
um_need(reply *o, const jv *b, const char *name)
{
	jv		   *v = jget(b, name);
	char		msg[128];

	if (jgiven(v))
		return v;
	snprintf(msg, sizeof(msg), "%s is required", name);
	um_error(o, 400, msg);
	return NULL;
}

static const struct
{
	const char *code;
	const char *price;
	const char *num;
	const char *unit;
	const char *type;
	const char *conn;
	const char *validity;
	const char *devices;
}			um_plans[] = {
	{"U77434129", "10", "5", " Mbps", "speed", "Speed plan", "1 Hour", "1"},
	{"U69568596", "10", "30", " Minutes", "time", "Time plan", "30 Minutes", "2"},
	{"U46169734", "10", "10", " MB", "data", "Data plan", "1 Hour", "1"},
	{"U54849986", "20", "15", " Hours", "time", "Time plan", "15 Hours", "2"},
	{"U92191578", "35", "24", " Hours", "time", "Time plan", "24 Hours", "2"},
	{"U42514542", "200", "1", " Week", "time", "Time plan", "1 Week", "2"},
};

#define UM_NPLANS (sizeof(um_plans) / sizeof(um_plans[0]))

static void
um_sms(reply *o, jv *b)
{
	jv		   *sender = jget(b, "Sender_Id"),
			   *msg,
			   *phone;
	char		id[32];
	struct tm	tm = tm_at(3);
	char		stamp[32];
	size_t		mlen,
				chars;
	const char *m;
	bool		ucs2;
	int			units;
	sb			rec = {0};

	if (!(msg = um_need(o, b, "message")) || !(phone = um_need(o, b, "phone")))
		return;
	if (jeq(jget(b, "api_key"), "lowbalance"))
	{
		um_error(o, 402, "Insufficient sms balance");
		return;
	}
	if (jeq(sender, "INVALID"))
	{
		um_error(o, 400, "Invalid sender id");
		return;
	}
	snprintf(id, sizeof(id), "840%016llu", (unsigned long long) next_seq());
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	m = jstr(msg, &mlen);
	if (m == NULL)
		m = "", mlen = 0;
	units = sms_segments(m, mlen, &ucs2, &chars);
	sb_putc(&rec, '{');
	kv_str(&rec, "time", stamp);
	kv_jv(&rec, "sender", jgiven(sender) ? sender : NULL);
	kv_jv(&rec, "phone", phone);
	kv_jv(&rec, "message", msg);
	kv_int(&rec, "units", units);
	kv_int(&rec, "length", (long long) chars);
	kv_str(&rec, "type", ucs2 ? "unicode" : "text");
	sb_putc(&rec, '}');
	state_lock();
	state_put(MAP_UMESKIA_SMS, id, strlen(id), rec.p, rec.len);
	state_unlock();
	sb_free(&rec);
	messages_add("umeskia", id, jgiven(sender) ? jstr(sender, NULL) : "UMS_SMS",
				 jstr(phone, NULL), m, mlen);
	o->status = 200;
	sb_puts(&o->body, "{\"success\":\"200\",\"massage\":\"Message sent sucessfully.\",\"request_id\":");
	sb_json_cstr(&o->body, id);
	sb_putc(&o->body, '}');
}

static void
um_delivery(req *r, reply *o, jv *b)
{
	jv		   *rid,
			   *rec;
	size_t		idlen;
	const char *id;
	char		d[32];
	const char *status = "Delivered";
	const jv   *phone;

	if (!(rid = um_need(o, b, "request_id")))
		return;
	id = jstr(rid, &idlen);
	rec = id ? stk_load(&r->a, MAP_UMESKIA_SMS, id, idlen) : NULL;
	if (rec == NULL)
	{
		um_error(o, 404, "Request id not found");
		return;
	}
	phone = jget(rec, "phone");
	{
		size_t		n = 0;
		const char *p = jstr(phone, &n);

		digits_of(p, n, d);
	}
	if (strcmp(last9(d), "799000001") == 0)
		status = "Pending";
	else if (strcmp(last9(d), "799000002") == 0)
		status = "Failed";
	o->status = 200;
	sb_putc(&o->body, '{');
	kv_str(&o->body, "ResultCode", "200");
	kv_jv(&o->body, "request_id", rid);
	kv_str(&o->body, "submitted_time", rec_str(rec, "time"));
	kv_str(&o->body, "send_time", rec_str(rec, "time"));
	if (jgiven(jget(rec, "sender")))
		kv_jv(&o->body, "sender_id", jget(rec, "sender"));
	else
		kv_str(&o->body, "sender_id", "UMS_SMS");	/* the portal's default */
	kv_jv(&o->body, "recepient", phone);
	kv_int(&o->body, "sms_unit", rec_int(rec, "units"));
	kv_int(&o->body, "sms_length", rec_int(rec, "length"));
	kv_str(&o->body, "sms_type", rec_str(rec, "type"));
	kv_jv(&o->body, "message", jget(rec, "message"));
	kv_str(&o->body, "status", status);
	sb_putc(&o->body, '}');
}

static void
um_stk(reply *o, jv *b)
{
	jv		   *acct,
			   *amount,
			   *msisdn;
	char		checkout[64],
				merchant[64],
				tid[64];
	double		amt;

	if (!(acct = um_need(o, b, "account_id")) || !(amount = um_need(o, b, "amount")) ||
		!(msisdn = um_need(o, b, "msisdn")))
		return;
	if (!jnum(amount, &amt) || amt <= 0)
	{
		um_error(o, 400, "amount must be a positive number");
		return;
	}
	make_checkout_ids(checkout, sizeof(checkout), merchant, sizeof(merchant), tid, sizeof(tid));
	stk_store(MAP_UMESKIA_STK, tid, merchant, checkout, tid, msisdn, amount, jget(b, "reference"));
	o->status = 200;
	sb_puts(&o->body, "{\"success\":\"200\",\"massage\":\"Request sent sucessfully.\",\"tranasaction_request_id\":");
	sb_json_cstr(&o->body, tid);
	sb_putc(&o->body, '}');
}

static void
um_status(req *r, reply *o, jv *b)
{
	jv		   *tid = jget_any(b, NAMES("tranasaction_request_id", "tranasaction_request_id "));
	jv		   *rec;
	size_t		n;
	const char *id;
	long		code;

	if (!jgiven(tid))
	{
		um_error(o, 400, "tranasaction_request_id is required");
		return;
	}
	id = jstr(tid, &n);
	rec = id ? stk_load(&r->a, MAP_UMESKIA_STK, id, n) : NULL;
	if (rec == NULL)
	{
		um_error(o, 404, "Transaction not found");
		return;
	}
	code = rec_int(rec, "code");
	o->status = 200;
	sb_putc(&o->body, '{');
	kv_str(&o->body, "ResultCode", "200");
	kv_str(&o->body, "ResultDesc", code == 0 ? "Success. Request accepted for processing" : rec_str(rec, "desc"));
	kv_str(&o->body, "TransactionID", rec_str(rec, "tid"));
	kv_str(&o->body, "TransactionStatus", code == 0 ? "Completed" : code < 0 ? "Pending" : "Failed");
	kv_sep(&o->body);
	if (code < 0)
		sb_puts(&o->body, "\"TransactionCode\":\"\"");
	else
		sb_printf(&o->body, "\"TransactionCode\":\"%ld\"", code);
	kv_str(&o->body, "TransactionReceipt", code == 0 ? rec_str(rec, "receipt") : "");
	kv_sep(&o->body);
	sb_puts(&o->body, "\"TransactionAmount\":\"");
	sb_jv(&o->body, jget(rec, "amount"));
	sb_putc(&o->body, '"');
	kv_str(&o->body, "Msisdn", rec_str(rec, "phone"));
	kv_str(&o->body, "TransactionDate", rec_str(rec, "date"));
	kv_str(&o->body, "TransactionReference", rec_str(rec, "reference"));
	sb_putc(&o->body, '}');
}

static void
um_plans_reply(reply *o, jv *b)
{
	jv		   *station;
	size_t		i;
	sb		   *s = &o->body;

	if (!(station = um_need(o, b, "station_id")))
		return;
	o->status = 200;
	sb_puts(s, "{\"ResultCode\":\"200\",\"message\":");
	{
		sb			m = {0};
		size_t		n = 0;
		const char *st = jstr(station, &n);

		sb_puts(&m, "Request sent successfully. ");
		if (st)
			sb_put(&m, st, n);
		sb_json_str(s, m.p, m.len);
		sb_free(&m);
	}
	sb_puts(s, ",\"ComapanyName\":\"UMESKIA SOFTWARES\",\"CompanyInfo\":{\"Address\":\"Nairobi, Kenya\","
			"\"Contact\":{\"Email\":\"info@umeskiasoftwares.com\",\"Phone\":\"0113015674\"},"
			"\"Logo\":\"https://portal.umeskiasoftwares.com/companylogo/mock_logo.png\","
			"\"Description\":\"SOLVING PROBLEMS WITH THE POWER OF TECHNOLOGY.\","
			"\"Website\":\"www.umeskiasoftwares.com\",\"primaryColor\":\"#420505\",\"secondaryColor\":\"#0c2b03\"},"
			"\"stationData\":{\"stationName\":\"MOCK HOTSPOT\",\"stationLocation\":\"Nairobi, Kenya\","
			"\"stationPool\":\"MOCK-POOL\",\"remoteIp\":\"192.168.74.1\",\"nasPassword\":\"273641958\","
			"\"localIp\":\"192.146.98.1\",\"domainName\":\"ums.net\"");
	kv_jv(s, "stationId", station);
	sb_puts(s, ",\"customerCare\":\"0113015674\",\"stationPackages\":[");
	for (i = 0; i < UM_NPLANS; i++)
	{
		kv_sep(s);
		sb_putc(s, '{');
		kv_str(s, "planCode", um_plans[i].code);
		kv_str(s, "price", um_plans[i].price);
		kv_str(s, "numericExpiration", um_plans[i].num);
		kv_str(s, "stringExpiration", um_plans[i].unit);
		kv_str(s, "planType", um_plans[i].type);
		kv_str(s, "connectionType", um_plans[i].conn);
		kv_str(s, "validityPeriod", um_plans[i].validity);
		kv_str(s, "allowedDevices", um_plans[i].devices);
		sb_putc(s, '}');
	}
	sb_puts(s, "]}}");
}

static void
um_voucher(reply *o, jv *b)
{
	jv		   *plan,
			   *voucher;
	size_t		i,
				vlen;
	const char *v;
	sb			k = {0};
	bool		dup;
	char		name[64];

	if (!(plan = um_need(o, b, "plan_code")) || !(voucher = um_need(o, b, "voucher_code")))
		return;
	for (i = 0; i < UM_NPLANS; i++)
		if (jeq(plan, um_plans[i].code))
			break;
	if (i == UM_NPLANS)
	{
		um_error(o, 404, "Plan not found");
		return;
	}
	v = jstr(voucher, &vlen);
	if (v == NULL)
	{
		um_error(o, 400, "voucher_code must be a string");
		return;
	}
	{
		size_t		klen = 0;
		const char *key = jstr(jget(b, "api_key"), &klen);

		sb_put(&k, key ? key : "", klen);
	}
	sb_putc(&k, '\0');
	sb_put(&k, v, vlen);
	state_lock();
	dup = state_get(MAP_UMESKIA_VOUCHER, k.p, k.len, NULL) != NULL;
	if (!dup)
		state_put(MAP_UMESKIA_VOUCHER, k.p, k.len, "1", 1);
	state_unlock();
	sb_free(&k);
	if (dup)
	{
		um_error(o, 409, "Voucher already registered");
		return;
	}
	snprintf(name, sizeof(name), "%s", um_plans[i].validity);
	for (vlen = 0; name[vlen]; vlen++)
		if (name[vlen] >= 'a' && name[vlen] <= 'z')
			name[vlen] = (char) (name[vlen] - 'a' + 'A');
	o->status = 200;
	sb_putc(&o->body, '{');
	kv_str(&o->body, "ResultCode", "200");
	kv_str(&o->body, "message", "Voucher registered successfully");
	kv_jv(&o->body, "registeredVoucher", voucher);
	kv_str(&o->body, "stationId", "UMS26595527");
	kv_str(&o->body, "stationName", "MOCK HOTSPOT");
	kv_str(&o->body, "stationLocation", "Nairobi, Kenya");
	kv_jv(&o->body, "planCode", plan);
	kv_str(&o->body, "planName", name);
	kv_raw(&o->body, "planPrice", um_plans[i].price);
	sb_putc(&o->body, '}');
}

static void
umeskia(req *r, reply *o, const char *rest, size_t rlen)
{
	static const char *const routes[] = {
		"/sms", "/smsbalance", "/smsdelivery", "/intiatestk", "/transactionstatus",
		"/isp/hostspotplans", "/isp/registervoucher"
	};
	size_t		i;
	jv		   *b;

	o->ctype = "application/json";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (seq_is(rest, rlen, routes[i]))
			break;
	if (i == sizeof(routes) / sizeof(routes[0]))
	{
		um_error(o, 404, "Not found");
		return;
	}
	if (!method_is(r, "POST"))
	{
		um_error(o, 405, "Method not allowed");
		return;
	}
	b = json_parse(&r->a, r->body, r->body_len);
	if (b == NULL || b->type != JV_OBJ)
	{
		um_error(o, 400, "Invalid JSON body");
		return;
	}
	if (!um_need(o, b, "api_key") || !um_need(o, b, "email"))
		return;
	if (jeq(jget(b, "api_key"), "wrong"))
	{
		um_error(o, 401, "Invalid api key or email");
		return;
	}
	switch (i)
	{
		case 0:
			um_sms(o, b);
			break;
		case 1:
			o->status = 200;
			sb_printf(&o->body, "{\"success\":\"200\",\"creditBalance\":%d}",
					  jeq(jget(b, "api_key"), "lowbalance") ? 0 : 100);
			break;
		case 2:
			um_delivery(r, o, b);
			break;
		case 3:
			um_stk(o, b);
			break;
		case 4:
			um_status(r, o, b);
			break;
		case 5:
			um_plans_reply(o, b);
			break;
		default:
			um_voucher(o, b);
			break;
	}
}

/* ============================================================== VTpass */

static void
vt_code(reply *o, int status, const char *code, const char *desc, const char *errors)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_printf(&o->body, "{\"code\":\"%s\",\"response_description\":", code);
	sb_json_cstr(&o->body, desc);
	if (errors)
	{
		sb_puts(&o->body, ",\"content\":{\"errors\":");
		sb_json_cstr(&o->body, errors);
		sb_putc(&o->body, '}');
	}
	sb_putc(&o->body, '}');
}

/* Basic auth: any user with a non-empty password except "wrong". */
static bool
vt_auth(req *r, reply *o)
{
	const char *h = req_header(r, "Authorization");
	char	   *dec;
	size_t		n;
	char	   *colon;

	if (h && strncasecmp(h, "Basic ", 6) == 0)
	{
		h += 6;
		while (*h == ' ')
			h++;
		dec = base64_decode(&r->a, h, strlen(h), &n);
		colon = dec ? memchr(dec, ':', n) : NULL;
		if (colon && colon > dec && (size_t) (colon - dec) + 1 < n &&
			!seq_is(colon + 1, n - (size_t) (colon - dec) - 1, "wrong"))
			return true;
	}
	vt_code(o, 401, "087", "INVALID CREDENTIALS", NULL);
	snprintf(o->hdr_value, sizeof(o->hdr_value), "Basic realm=\"VTpass\"");
	o->hdr_name = "WWW-Authenticate";
	return false;
}

static const struct
{
	const char *code;
	const char *name;
	int			amount;
}			vt_variations[] = {
	{"vt-500", "Spectranet N500", 500},
	{"vt-1000", "Spectranet N1000", 1000},
	{"vt-2000", "Spectranet N2000", 2000},
	{"vt-5000", "Spectranet N5000", 5000},
};

#define VT_NVAR (sizeof(vt_variations) / sizeof(vt_variations[0]))

static void
vt_variations_reply(req *r, reply *o)
{
	char	   *sid = query_param(&r->a, r->query, "serviceID");
	int			pass;
	size_t		i;

	if (sid == NULL || *sid == '\0')
	{
		vt_code(o, 200, "011", "INVALID ARGUMENTS", "serviceID is required");
		return;
	}
	if (strcmp(sid, "spectranet") != 0)
	{
		vt_code(o, 200, "012", "PRODUCT DOES NOT EXIST", NULL);
		return;
	}
	o->status = 200;
	sb_puts(&o->body, "{\"response_description\":\"000\",\"content\":{\"ServiceName\":\"Spectranet\","
			"\"serviceID\":\"spectranet\",\"convinience_fee\":\"0 %\"");
	/* the document lists the plans twice, once misspelt */
	for (pass = 0; pass < 2; pass++)
	{
		sb_puts(&o->body, pass == 0 ? ",\"variations\":[" : ",\"varations\":[");
		for (i = 0; i < VT_NVAR; i++)
		{
			kv_sep(&o->body);
			sb_putc(&o->body, '{');
			kv_str(&o->body, "variation_code", vt_variations[i].code);
			kv_str(&o->body, "name", vt_variations[i].name);
			kv_int(&o->body, "variation_amount", vt_variations[i].amount);
			kv_str(&o->body, "fixedPrice", "Yes");
			sb_putc(&o->body, '}');
		}
		sb_putc(&o->body, ']');
	}
	sb_puts(&o->body, "}}");
}

enum vt_outcome
{
	VT_DELIVERED, VT_PENDING, VT_UNEXPECTED, VT_NORESPONSE, VT_TIMEOUT, VT_FAILED
};

static enum vt_outcome
vt_outcome_of(const jv *biller, const jv *phone)
{
	static const struct
	{
		const char *number;
		enum vt_outcome outcome;
	}			cases[] = {
		{"1212121212", VT_DELIVERED},
		{"201000000000", VT_PENDING},
		{"500000000000", VT_UNEXPECTED},
		{"400000000000", VT_NORESPONSE},
		{"300000000000", VT_TIMEOUT},
	};
	const jv   *which[2] = {biller, phone};
	int			w;
	size_t		i;

	/* billersCode first, then phone */
	for (w = 0; w < 2; w++)
	{
		size_t		n = 0;
		const char *s = jstr(which[w], &n);
		char		d[32];

		digits_of(s, n, d);
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (strcmp(d, cases[i].number) == 0)
				return cases[i].outcome;
	}
	return VT_FAILED;
}

/* The transaction answer body (pay and requery share it). */
static void
vt_tx_body(sb *s, const char *code, const char *desc, const char *status,
		   const jv *rid, const jv *biller, const jv *phone, int unit_price,
		   int quantity, const char *txid)
{
	struct tm	tm = tm_at(1);		/* Africa/Lagos */
	char		date[48];
	int			total = unit_price * quantity;
	bool		delivered = strcmp(status, "delivered") == 0;
	unsigned long long pin = ((unsigned long long) next_seq() * 2654435761ULL) % 100000000ULL;

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S.000000", &tm);
	sb_printf(s, "{\"code\":\"%s\",\"content\":{\"transactions\":{", code);
	kv_str(s, "status", status);
	kv_str(s, "product_name", "Spectranet");
	kv_jv(s, "unique_element", biller);
	kv_int(s, "unit_price", unit_price);
	kv_int(s, "quantity", quantity);
	kv_raw(s, "service_verification", "null");
	kv_str(s, "channel", "api");
	kv_int(s, "commission", total * 4 / 100);
	kv_int(s, "total_amount", total - total * 4 / 100);
	kv_raw(s, "discount", "null");
	kv_str(s, "type", "Data Services");
	kv_str(s, "email", "sandbox@vtpass.com");
	kv_jv(s, "phone", phone);
	kv_raw(s, "name", "null");
	kv_int(s, "convinience_fee", 0);
	kv_int(s, "amount", total);
	kv_str(s, "platform", "api");
	kv_str(s, "method", "api");
	kv_str(s, "transactionId", txid);
	sb_puts(s, "}}");
	kv_str(s, "response_description", desc);
	kv_jv(s, "requestId", rid);
	kv_sep(s);
	sb_printf(s, "\"amount\":\"%d.00\"", total);
	kv_sep(s);
	sb_printf(s, "\"transaction_date\":{\"date\":\"%s\",\"timezone_type\":3,\"timezone\":\"Africa/Lagos\"}", date);
	if (delivered)
	{
		sb_printf(s, ",\"purchased_code\":\"PIN: %08llu, S/N:%08llu\"", pin, (pin * 7 + 13) % 100000000ULL);
		sb_printf(s, ",\"cards\":[{\"serialNumber\":\"%08llu\",\"pin\":\"%08llu\",\"expiresOn\":\"2040-10-12\",\"value\":%d}]",
				  (pin * 7 + 13) % 100000000ULL, pin, unit_price);
	}
	sb_putc(s, '}');
}

static void
vt_pay(req *r, reply *o)
{
	static const char *const need[] = {"request_id", "serviceID", "billersCode", "variation_code", "phone"};
	jv		   *b = parse_body(r, true);
	jv		   *rid,
			   *biller,
			   *phone,
			   *var;
	size_t		i,
				rlen;
	const char *ridstr;
	double		q = 1;
	int			unit = 0,
				quantity;
	char		txid[48];
	enum vt_outcome outcome;
	sb			now = {0},
				later = {0};
	bool		dup;
	config		c = config_get();

	if (b == NULL || b->type != JV_OBJ)
	{
		vt_code(o, 200, "011", "INVALID ARGUMENTS", "body must be JSON or a form");
		return;
	}
	for (i = 0; i < 5; i++)
		if (!jgiven(jget(b, need[i])))
		{
			char		msg[64];

			snprintf(msg, sizeof(msg), "%s is required", need[i]);
			vt_code(o, 200, "011", "INVALID ARGUMENTS", msg);
			return;
		}
	rid = jget(b, "request_id");
	biller = jget(b, "billersCode");
	phone = jget(b, "phone");
	var = jget(b, "variation_code");
	if (!jeq(jget(b, "serviceID"), "spectranet"))
	{
		vt_code(o, 200, "012", "PRODUCT DOES NOT EXIST", NULL);
		return;
	}
	for (i = 0; i < VT_NVAR; i++)
		if (jeq(var, vt_variations[i].code))
			unit = vt_variations[i].amount;
	if (unit == 0)
	{
		vt_code(o, 200, "010", "VARIATION CODE DOES NOT EXIST", NULL);
		return;
	}
	if (jgiven(jget(b, "quantity")) && (!jnum(jget(b, "quantity"), &q) || q < 1 || q > 100))
	{
		vt_code(o, 200, "011", "INVALID ARGUMENTS", "quantity must be 1-100");
		return;
	}
	quantity = (int) q;
	ridstr = jstr(rid, &rlen);
	if (ridstr == NULL)
	{
		vt_code(o, 200, "011", "INVALID ARGUMENTS", "request_id must be a string");
		return;
	}
	snprintf(txid, sizeof(txid), "%013llu%013llu",
			 (unsigned long long) (now_wall() * 1000), (unsigned long long) next_seq());
	outcome = vt_outcome_of(biller, phone);

	/* what the pay answers now, and what a requery answers afterwards */
	switch (outcome)
	{
		case VT_DELIVERED:
		case VT_TIMEOUT:
			vt_tx_body(&now, "000", "TRANSACTION SUCCESSFUL", "delivered", rid, biller, phone, unit, quantity, txid);
			sb_put(&later, now.p, now.len);
			break;
		case VT_PENDING:
			vt_tx_body(&now, "099", "TRANSACTION IS PROCESSING", "pending", rid, biller, phone, unit, quantity, txid);
			sb_put(&later, now.p, now.len);
			break;
		case VT_UNEXPECTED:
			sb_puts(&now, "{\"code\":\"090\",\"response_description\":\"UNEXPECTED RESPONSE\",\"requestId\":");
			sb_jv(&now, rid);
			sb_puts(&now, ",\"content\":{\"transactions\":{\"status\":\"unknown\"}}}");
			vt_tx_body(&later, "000", "TRANSACTION SUCCESSFUL", "delivered", rid, biller, phone, unit, quantity, txid);
			break;
		case VT_NORESPONSE:
		case VT_FAILED:
			vt_tx_body(&now, "016", "TRANSACTION FAILED", "failed", rid, biller, phone, unit, quantity, txid);
			sb_put(&later, now.p, now.len);
			break;
	}
	state_lock();
	dup = state_get(MAP_VTPASS_TX, ridstr, rlen, NULL) != NULL;
	if (!dup)
		state_put(MAP_VTPASS_TX, ridstr, rlen, later.p, later.len);
	state_unlock();
	if (dup)
		vt_code(o, 200, "014", "REQUEST ID ALREADY EXIST", NULL);
	else
	{
		o->status = 200;
		o->ctype = "application/json";
		sb_put(&o->body, now.p, now.len);
		if (outcome == VT_NORESPONSE)
			o->drop = true;
		else if (outcome == VT_TIMEOUT)
			o->delay_ms = c.vtpass_timeout_ms;
	}
	sb_free(&now);
	sb_free(&later);
}

static void
vt_requery(req *r, reply *o)
{
	jv		   *b = parse_body(r, true);
	jv		   *rid = jget(b, "request_id");
	size_t		n,
				vlen;
	const char *id = jstr(rid, &n);
	const char *v;

	if (b == NULL || !jgiven(rid) || id == NULL)
	{
		vt_code(o, 200, "011", "INVALID ARGUMENTS", "request_id is required");
		return;
	}
	state_lock();
	v = state_get(MAP_VTPASS_TX, id, n, &vlen);
	if (v)
	{
		o->status = 200;
		o->ctype = "application/json";
		o->body.len = 0;
		sb_put(&o->body, v, vlen);
	}
	state_unlock();
	if (v == NULL)
		vt_code(o, 200, "015", "INVALID REQUEST ID", NULL);
}

static void
vtpass(req *r, reply *o, const char *rest, size_t rlen)
{
	bool		variations = seq_is(rest, rlen, "/service-variations");
	bool		pay = seq_is(rest, rlen, "/pay");
	bool		requery = seq_is(rest, rlen, "/requery");

	if (!variations && !pay && !requery)
	{
		vt_code(o, 404, "404", "NOT FOUND", NULL);
		return;
	}
	if (variations ? !method_is(r, "GET") : !method_is(r, "POST"))
	{
		vt_code(o, 405, "405", "METHOD NOT ALLOWED", NULL);
		return;
	}
	if (!vt_auth(r, o))
		return;
	if (variations)
		vt_variations_reply(r, o);
	else if (pay)
		vt_pay(r, o);
	else
		vt_requery(r, o);
}

/* ============================================================ Nenasasa */

static void
nn_oauth_error(reply *o, int status, const char *error, const char *desc)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_printf(&o->body, "{\"error\":\"%s\",\"error_description\":", error);
	sb_json_cstr(&o->body, desc);
	sb_putc(&o->body, '}');
}

static void
make_token(char *out, size_t len, const char *kind)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint64_t	x = next_seq() * 0x9E3779B97F4A7C15ULL ^ (uint64_t) (now_wall() * 1e6);
	size_t		i,
				w;

	w = (size_t) snprintf(out, len, "%s", kind);
	for (i = 0; i < 30 && w + 1 < len; i++)
	{
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[w++] = alphabet[x % 62];
	}
	out[w] = '\0';
}

/* A token record: {"exp":<monotonic ms>,"user":"..."}. */
static void
nn_store(enum smap m, const char *token, double ttl, const char *user, size_t ulen)
{
	sb			rec = {0};

	sb_printf(&rec, "{\"exp\":%llu,\"user\":",
			  (unsigned long long) (now_mono_ms() + (uint64_t) (ttl * 1000)));
	sb_json_str(&rec, user, ulen);
	sb_putc(&rec, '}');
	state_put(m, token, strlen(token), rec.p, rec.len);
	sb_free(&rec);
}

/* 1 valid (user copied into the arena), 0 unknown, -1 expired.
 * The caller holds the state lock. */
static int
nn_check(req *r, enum smap m, const char *token, size_t tlen, char **user)
{
	jv		   *rec = rec_load_locked(&r->a, m, token, tlen);
	double		exp;

	if (rec == NULL)
		return 0;
	if (!jnum(jget(rec, "exp"), &exp) || (double) now_mono_ms() >= exp)
		return -1;
	*user = (char *) rec_str(rec, "user");
	return 1;
}

static void
nn_token(req *r, reply *o)
{
	jv		   *b = parse_body(r, true);
	jv		   *grant = jget(b, "grant_type");
	jv		   *client = jget(b, "client_id");
	jv		   *user = jget(b, "username");
	jv		   *pass = jget(b, "password");
	jv		   *refresh = jget(b, "refresh_token");
	config		c = config_get();
	char		access_tok[64],
				refresh_tok[64];
	const char *uname = "";
	size_t		ulen = 0;
	char	   *stored_user = NULL;

	if (!method_is(r, "POST"))
	{
		nn_oauth_error(o, 405, "invalid_request", "Method not allowed.");
		return;
	}
	if (b == NULL || b->type != JV_OBJ)
	{
		nn_oauth_error(o, 400, "invalid_request", "The request body is not valid JSON.");
		return;
	}
	if (!jgiven(grant))
	{
		nn_oauth_error(o, 400, "unsupported_grant_type", "grant_type is required.");
		return;
	}
	if (!jeq(grant, "password") && !jeq(grant, "refresh_token"))
	{
		nn_oauth_error(o, 400, "unsupported_grant_type", "Only password and refresh_token grants are supported.");
		return;
	}
	if (!jgiven(client) || jeq(client, "wrong"))
	{
		nn_oauth_error(o, 401, "invalid_client", "Invalid client_id.");
		return;
	}
	if (jeq(grant, "refresh_token") && jgiven(refresh))
	{
		size_t		n;
		const char *t = jstr(refresh, &n);
		int			ok;

		state_lock();
		ok = t ? nn_check(r, MAP_NENASASA_REFRESH, t, n, &stored_user) : 0;
		if (ok == 1)
			state_del(MAP_NENASASA_REFRESH, t, n);	/* refresh tokens rotate */
		state_unlock();
		if (ok != 1)
		{
			nn_oauth_error(o, 400, "invalid_grant", ok < 0 ? "Refresh token has expired." : "Invalid refresh token.");
			return;
		}
		uname = stored_user;
		ulen = strlen(stored_user);
	}
	else
	{
		/* the password grant; the document's refresh call sends the same */
		if (!jgiven(user) || !jgiven(pass))
		{
			nn_oauth_error(o, 400, "invalid_request", "username and password are required.");
			return;
		}
		if (jeq(pass, "wrong"))
		{
			nn_oauth_error(o, 400, "invalid_grant", "Invalid credentials given.");
			return;
		}
		uname = jstr(user, &ulen);
		if (uname == NULL)
			uname = "", ulen = 0;
	}
	make_token(access_tok, sizeof(access_tok), "nsa_");
	make_token(refresh_tok, sizeof(refresh_tok), "nsr_");
	state_lock();
	nn_store(MAP_NENASASA_ACCESS, access_tok, c.nenasasa_token_ttl, uname, ulen);
	nn_store(MAP_NENASASA_REFRESH, refresh_tok, c.nenasasa_refresh_ttl, uname, ulen);
	state_unlock();
	o->status = 200;
	o->ctype = "application/json";
	sb_puts(&o->body, "{\"access_token\":");
	sb_json_cstr(&o->body, access_tok);
	if (c.nenasasa_token_ttl == floor(c.nenasasa_token_ttl))
		sb_printf(&o->body, ",\"expires_in\":%.0f", c.nenasasa_token_ttl);
	else
		sb_printf(&o->body, ",\"expires_in\":%.3f", c.nenasasa_token_ttl);
	sb_puts(&o->body, ",\"token_type\":\"Bearer\",\"scope\":\"read write groups\",\"refresh_token\":");
	sb_json_cstr(&o->body, refresh_tok);
	sb_putc(&o->body, '}');
}

static void
nn_unauthorized(reply *o, const char *detail, const char *error)
{
	o->status = 401;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_puts(&o->body, "{\"detail\":");
	sb_json_cstr(&o->body, detail);
	sb_putc(&o->body, '}');
	o->hdr_name = "WWW-Authenticate";
	if (error)
		snprintf(o->hdr_value, sizeof(o->hdr_value), "Bearer realm=\"api\", error=\"%s\"", error);
	else
		snprintf(o->hdr_value, sizeof(o->hdr_value), "Bearer realm=\"api\"");
}

static void
nn_send(req *r, reply *o)
{
	static const char *const need[] = {"chid", "message", "alias", "msisdn"};
	const char *h = req_header(r, "Authorization");
	char	   *user = NULL;
	int			ok = 0;
	jv		   *b;
	size_t		i,
				mlen = 0;
	long long	action;
	double		balance;
	const char *m;
	int			units;
	char		id[32];

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
	{
		nn_unauthorized(o, "Authentication credentials were not provided.", NULL);
		return;
	}
	h += 7;
	while (*h == ' ')
		h++;
	state_lock();
	ok = nn_check(r, MAP_NENASASA_ACCESS, h, strlen(h), &user);
	state_unlock();
	if (ok != 1)
	{
		nn_unauthorized(o, ok < 0 ? "Token has expired." : "Invalid token.", "invalid_token");
		return;
	}
	if (!method_is(r, "POST"))
	{
		reply_json(o, 405, "{\"detail\":\"Method not allowed.\"}");
		return;
	}
	b = json_parse(&r->a, r->body, r->body_len);
	if (b == NULL || b->type != JV_OBJ)
	{
		reply_json(o, 400, "{\"detail\":\"JSON parse error.\"}");
		return;
	}
	for (i = 0; i < 4; i++)
		if (!jgiven(jget(b, need[i])))
		{
			o->status = 400;
			o->ctype = "application/json";
			sb_printf(&o->body, "{\"response\":{},\"action_id\":null,\"response_status\":\"400\","
					  "\"overall_status\":\"400\",\"last_response\":\"%s is required\"}", need[i]);
			return;
		}
	m = jstr(jget(b, "message"), &mlen);
	if (m == NULL)
		m = "", mlen = 0;
	units = sms_segments(m, mlen, NULL, NULL);

	/* action ids and the float balance live with the tokens */
	state_lock();
	{
		size_t		vlen;
		const char *v = state_get(MAP_NENASASA_ACCESS, "#float", 6, &vlen);
		char		buf[64];

		balance = v ? strtod(v, NULL) : 80000.0;
		v = state_get(MAP_NENASASA_ACCESS, "#action", 7, &vlen);
		action = v ? strtoll(v, NULL, 10) + 1 : 1646;
		snprintf(buf, sizeof(buf), "%lld", action);
		state_put(MAP_NENASASA_ACCESS, "#action", 7, buf, strlen(buf));
		if (strcmp(user, "lowbalance") != 0)
		{
			balance -= units;
			snprintf(buf, sizeof(buf), "%.2f", balance);
			state_put(MAP_NENASASA_ACCESS, "#float", 6, buf, strlen(buf));
		}
	}
	state_unlock();

	o->status = 200;
	o->ctype = "application/json";
	sb_puts(&o->body, "{\"response\":{\"validate_institution\":\"Institution captured\","
			"\"get_gateway_profile\":\"Got Gateway Profile\",");
	sb_printf(&o->body, "\"get_sms_notification\":\"Notification Captured: %lld\",", action - 1512);
	if (strcmp(user, "lowbalance") == 0)
	{
		sb_printf(&o->body, "\"debit_float\":\"Insufficient float balance\"},\"action_id\":%lld,"
				  "\"response_status\":\"51\",\"overall_status\":\"51\","
				  "\"last_response\":\"Insufficient float balance\"}", action);
		return;
	}
	sb_printf(&o->body, "\"debit_float\":\"Float Debited with: %d.00 balance: %.2f\","
			  "\"send_notiification\":\"Notification Sent. Please check SMS\"},"
			  "\"action_id\":%lld,\"response_status\":\"00\",\"overall_status\":\"00\","
			  "\"last_response\":\"Notification Sent. Please check SMS\"}", units, balance, action);
	snprintf(id, sizeof(id), "%lld", action);
	messages_add("nenasasa", id, jstr(jget(b, "alias"), NULL), jstr(jget(b, "msisdn"), NULL), m, mlen);
}

static void
nenasasa(req *r, reply *o, const char *rest, size_t rlen)
{
	if (seq_is(rest, rlen, "/token") || seq_is(rest, rlen, "/token/"))
		nn_token(r, o);
	else if (rlen > 1)
		nn_send(r, o);
	else
		reply_json(o, 404, "{\"detail\":\"Not found.\"}");
}

/* ============================================================ dispatch */

bool
providers_route(req *r, reply *o)
{
	const char *rest;
	size_t		rlen;

	o->status = 200;
	o->ctype = "application/json";
	if (prefix_cut(r->path, r->path_len, "/vaspro", &rest, &rlen))
		vaspro(r, o, rest, rlen);
	else if (prefix_cut(r->path, r->path_len, "/mspace/mspaceservice/wr/sms", &rest, &rlen))
		mspace(r, o, rest, rlen);
	else if (prefix_cut(r->path, r->path_len, "/mspace", &rest, &rlen))
		ms_text(o, 404, "Error 404: Not Found");
	else if (prefix_cut(r->path, r->path_len, "/umeskia/api/v1", &rest, &rlen))
		umeskia(r, o, rest, rlen);
	else if (prefix_cut(r->path, r->path_len, "/umeskia", &rest, &rlen))
		um_error(o, 404, "Not found");
	else if (prefix_cut(r->path, r->path_len, "/vtpass/api", &rest, &rlen))
		vtpass(r, o, rest, rlen);
	else if (prefix_cut(r->path, r->path_len, "/vtpass", &rest, &rlen))
		vt_code(o, 404, "404", "NOT FOUND", NULL);
	else if (prefix_cut(r->path, r->path_len, "/nenasasa/api/v1", &rest, &rlen))
		nenasasa(r, o, rest, rlen);
	else if (prefix_cut(r->path, r->path_len, "/nenasasa", &rest, &rlen))
		reply_json(o, 404, "{\"detail\":\"Not found.\"}");
	else
		return false;
	return true;
}

int
providers_callback(const char *id, sb *out)
{
	arena		a = {0};
	jv		   *rec = stk_load(&a, MAP_VASPRO_CHECKOUT, id, strlen(id));
	bool		vaspro_rec = rec != NULL;
	long		code;
	int			found = 1;

	if (rec == NULL)
		rec = stk_load(&a, MAP_UMESKIA_STK, id, strlen(id));
	if (rec == NULL)
	{
		arena_free(&a);
		return 0;
	}
	code = rec_int(rec, "code");
	if (code < 0)
		found = -1;
	else if (vaspro_rec)
	{
		/* M-Pesa's STK callback, as the aggregator forwards it */
		char		d[32];
		size_t		n = 0;
		const char *ph = jstr(jget(rec, "phone"), &n);

		digits_of(ph, n, d);
		if (d[0] == '0' && strlen(d) == 10)
		{
			memmove(d + 3, d + 1, strlen(d));
			memcpy(d, "254", 3);
		}
		sb_puts(out, "{\"Body\":{\"stkCallback\":{");
		kv_str(out, "MerchantRequestID", rec_str(rec, "merchant"));
		kv_str(out, "CheckoutRequestID", rec_str(rec, "checkout"));
		kv_int(out, "ResultCode", code);
		kv_str(out, "ResultDesc", code == 0 ? "The service request is processed successfully." : rec_str(rec, "desc"));
		if (code == 0)
		{
			sb_puts(out, ",\"CallbackMetadata\":{\"Item\":[{\"Name\":\"Amount\",\"Value\":");
			sb_jv(out, jget(rec, "amount"));
			sb_puts(out, "},{\"Name\":\"MpesaReceiptNumber\",\"Value\":");
			sb_json_cstr(out, rec_str(rec, "receipt"));
			sb_printf(out, "},{\"Name\":\"TransactionDate\",\"Value\":%s}", rec_str(rec, "date"));
			sb_printf(out, ",{\"Name\":\"PhoneNumber\",\"Value\":%s}]}", d[0] ? d : "0");
		}
		sb_puts(out, "}}}");
	}
	else
	{
		/* Umeskia's "dump" */
		sb_putc(out, '{');
		kv_int(out, "ResponseCode", code);
		kv_str(out, "ResponseDescription", rec_str(rec, "desc"));
		kv_str(out, "MerchantRequestID", rec_str(rec, "merchant"));
		kv_str(out, "CheckoutRequestID", rec_str(rec, "checkout"));
		kv_str(out, "TransactionID", rec_str(rec, "tid"));
		kv_jv(out, "TransactionAmount", jget(rec, "amount"));
		if (code == 0)
		{
			kv_str(out, "TransactionReceipt", rec_str(rec, "receipt"));
			kv_str(out, "TransactionDate", rec_str(rec, "date"));
		}
		kv_str(out, "TransactionReference", rec_str(rec, "reference"));
		kv_str(out, "Msisdn", rec_str(rec, "phone"));
		sb_putc(out, '}');
	}
	arena_free(&a);
	return found;
}
