/*
 * gw-mock: everything the mock remembers between requests.
 *
 * - the request log: a ring of pre-rendered NDJSON records, bounded by count
 *   and by bytes, oldest evicted first;
 * - the message log: the decoded messages the providers accepted;
 * - faults: a FIFO of injected failures;
 * - config: settings changed through POST /_mock/config;
 * - keyed state (duplicates, transactions, tokens): hash maps under one lock.
 *
 * POST /_mock/reset clears all of it; ids restart at 1.
 */
#define _GNU_SOURCE				/* memmem */
#include "mock.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ time */

uint64_t
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static atomic_uint_fast64_t g_seq;
static unsigned long g_epoch;

uint64_t
next_seq(void)
{
	return (uint64_t) atomic_fetch_add(&g_seq, 1) + 1;
}

void
make_correlator(char *buf, size_t len)
{
	snprintf(buf, len, "%08lx%012llu", g_epoch, (unsigned long long) next_seq());
}

/* ------------------------------------------------------------------ ring */

/* One record: a match key (raw path, provider name) and the JSON text that
 * follows {"id":N, in its line. */
typedef struct rec
{
	uint64_t	id;
	uint32_t	key_len;
	uint32_t	rest_len;
	char		data[];
} rec;

typedef struct ring
{
	pthread_mutex_t lock;
	rec		  **slots;
	size_t		alloc;
	size_t		head;
	size_t		count;
	size_t		bytes;
	size_t		max_records;
	size_t		max_bytes;
	uint64_t	next_id;
	uint64_t	gen;
} ring;

static void
ring_init(ring *r, size_t max_records, size_t max_bytes)
{
	pthread_mutex_init(&r->lock, NULL);
	r->max_records = max_records ? max_records : 1;
	r->max_bytes = max_bytes;
	r->next_id = 1;
}

static void
ring_evict_one(ring *r)
{
	rec		   *old = r->slots[r->head];

	r->bytes -= sizeof(rec) + old->key_len + old->rest_len;
	free(old);
	r->slots[r->head] = NULL;
	r->head = (r->head + 1) % r->alloc;
	r->count--;
}

/* Store a record; returns its id. */
static uint64_t
ring_add(ring *r, const char *key, size_t klen, const char *rest, size_t rlen)
{
	size_t		size = sizeof(rec) + klen + rlen;
	rec		   *x = xmalloc(size);
	uint64_t	id;

	x->key_len = (uint32_t) klen;
	x->rest_len = (uint32_t) rlen;
	memcpy(x->data, key, klen);
	memcpy(x->data + klen, rest, rlen);

	pthread_mutex_lock(&r->lock);
	while (r->count > 0 &&
		   (r->count >= r->max_records || r->bytes + size > r->max_bytes))
		ring_evict_one(r);
	if (r->count == r->alloc)
	{
		size_t		nalloc = r->alloc ? r->alloc * 2 : 1024;
		rec		  **ns;
		size_t		i;

		if (nalloc > r->max_records)
			nalloc = r->max_records;
		ns = xmalloc(nalloc * sizeof(rec *));
		for (i = 0; i < r->count; i++)
			ns[i] = r->slots[(r->head + i) % r->alloc];
		free(r->slots);
		r->slots = ns;
		r->alloc = nalloc;
		r->head = 0;
	}
	id = x->id = r->next_id++;
	r->slots[(r->head + r->count) % r->alloc] = x;
	r->count++;
	r->bytes += size;
	pthread_mutex_unlock(&r->lock);
	return id;
}

static void
ring_clear(ring *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->count > 0)
		ring_evict_one(r);
	r->head = 0;
	r->next_id = 1;
	r->gen++;
	pthread_mutex_unlock(&r->lock);
}

static bool
key_match(const rec *x, const char *prefix, bool exact)
{
	size_t		n;

	if (prefix == NULL || prefix[0] == '\0')
		return true;
	n = strlen(prefix);
	if (exact ? x->key_len != n : x->key_len < n)
		return false;
	return memcmp(x->data, prefix, n) == 0;
}

/* Render the next matching record after *cursor (id <= last) into out. */
static bool
ring_next(ring *r, uint64_t *cursor, uint64_t last, const char *prefix,
		  bool exact, uint64_t gen, sb *out)
{
	bool		found = false;

	pthread_mutex_lock(&r->lock);
	if (gen == r->gen && r->count > 0)
	{
		uint64_t	first = r->slots[r->head]->id;
		uint64_t	want = *cursor + 1;
		size_t		idx;

		if (want < first)
			want = first;
		for (idx = (size_t) (want - first); idx < r->count; idx++)
		{
			rec		   *x = r->slots[(r->head + idx) % r->alloc];

			if (x->id > last)
				break;
			*cursor = x->id;
			if (key_match(x, prefix, exact))
			{
				sb_printf(out, "{\"id\":%llu,", (unsigned long long) x->id);
				sb_put(out, x->data + x->key_len, x->rest_len);
				sb_putc(out, '\n');
				found = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

static ring g_log;
static ring g_msgs;
static atomic_uint_fast64_t g_seen;

void
log_request(req *r)
{
	sb			rest = {0};
	size_t		keep = r->body_len < 65536 ? r->body_len : 65536;
	config		c = config_get();

	atomic_fetch_add(&g_seen, 1);
	if (!c.record)
		return;
	sb_printf(&rest, "\"ts\":%.3f,\"method\":", now_wall());
	sb_json_cstr(&rest, r->method);
	sb_puts(&rest, ",\"path\":");
	sb_json_str(&rest, r->path, r->path_len);
	sb_puts(&rest, ",\"query\":");
	sb_json_cstr(&rest, r->query);
	sb_puts(&rest, ",\"headers\":");
	req_headers_json(r, &rest);
	sb_puts(&rest, ",\"body\":");
	sb_json_str(&rest, r->body ? r->body : "", keep);
	sb_printf(&rest, ",\"body_size\":%zu,\"body_truncated\":%s}",
			  r->body_seen, r->body_seen > keep ? "true" : "false");
	ring_add(&g_log, r->path, r->path_len, rest.p, rest.len);
	sb_free(&rest);
}

uint64_t
log_requests_seen(void)
{
	return (uint64_t) atomic_load(&g_seen);
}

size_t
log_count(void)
{
	size_t		n;

	pthread_mutex_lock(&g_log.lock);
	n = g_log.count;
	pthread_mutex_unlock(&g_log.lock);
	return n;
}

uint64_t
log_generation(void)
{
	uint64_t	g;

	pthread_mutex_lock(&g_log.lock);
	g = g_log.gen;
	pthread_mutex_unlock(&g_log.lock);
	return g;
}

uint64_t
log_last_id(void)
{
	uint64_t	id;

	pthread_mutex_lock(&g_log.lock);
	id = g_log.next_id - 1;
	pthread_mutex_unlock(&g_log.lock);
	return id;
}

bool
log_next_line(uint64_t *cursor, uint64_t last, const char *prefix,
			  uint64_t gen, sb *out)
{
	return ring_next(&g_log, cursor, last, prefix, false, gen, out);
}

void
messages_add(const char *provider, const char *id, const char *sender,
			 const char *recipient, const char *message, size_t msglen)
{
	sb			rest = {0};

	sb_printf(&rest, "\"ts\":%.3f,\"provider\":", now_wall());
	sb_json_cstr(&rest, provider);
	sb_puts(&rest, ",\"message_id\":");
	sb_json_cstr(&rest, id);
	sb_puts(&rest, ",\"sender\":");
	sb_json_cstr(&rest, sender);
	sb_puts(&rest, ",\"recipient\":");
	sb_json_cstr(&rest, recipient);
	sb_puts(&rest, ",\"message\":");
	sb_json_str(&rest, message ? message : "", message ? msglen : 0);
	sb_putc(&rest, '}');
	ring_add(&g_msgs, provider, strlen(provider), rest.p, rest.len);
	sb_free(&rest);
}

uint64_t
messages_generation(void)
{
	uint64_t	g;

	pthread_mutex_lock(&g_msgs.lock);
	g = g_msgs.gen;
	pthread_mutex_unlock(&g_msgs.lock);
	return g;
}

bool
messages_next_line(uint64_t *cursor, uint64_t last, const char *provider,
				   uint64_t gen, sb *out)
{
	return ring_next(&g_msgs, cursor, last, provider, true, gen, out);
}

uint64_t
messages_last_id(void)
{
	uint64_t	id;

	pthread_mutex_lock(&g_msgs.lock);
	id = g_msgs.next_id - 1;
	pthread_mutex_unlock(&g_msgs.lock);
	return id;
}

/* ---------------------------------------------------------------- config */

static pthread_mutex_t g_cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static config g_cfg;
static config g_cfg_default;

config
config_get(void)
{
	config		c;

	pthread_mutex_lock(&g_cfg_lock);
	c = g_cfg;
	pthread_mutex_unlock(&g_cfg_lock);
	return c;
}

bool
config_set(const jv *obj, char *err, size_t errlen)
{
	config		c;
	const jv   *m;

	if (obj == NULL || obj->type != JV_OBJ)
	{
		snprintf(err, errlen, "body must be a JSON object");
		return false;
	}
	c = config_get();
	for (m = obj->child; m; m = m->next)
	{
		double		d;
		char		key[64];

		snprintf(key, sizeof(key), "%.*s", (int) (m->klen < 63 ? m->klen : 63), m->key);
		if (strcmp(key, "record") == 0)
		{
			if (m->type != JV_TRUE && m->type != JV_FALSE)
			{
				snprintf(err, errlen, "record must be true or false");
				return false;
			}
			c.record = m->type == JV_TRUE;
			continue;
		}
		if (strcmp(key, "nenasasa_token_ttl") != 0 &&
			strcmp(key, "nenasasa_refresh_ttl") != 0 &&
			strcmp(key, "vtpass_timeout_ms") != 0)
		{
			snprintf(err, errlen, "unknown setting: %s", key);
			return false;
		}
		if (m->type != JV_NUM || !jnum(m, &d) || d < 0 || d > 1e9)
		{
			snprintf(err, errlen, "%s must be a number >= 0", key);
			return false;
		}
		if (strcmp(key, "nenasasa_token_ttl") == 0)
			c.nenasasa_token_ttl = d;
		else if (strcmp(key, "nenasasa_refresh_ttl") == 0)
			c.nenasasa_refresh_ttl = d;
		else
			c.vtpass_timeout_ms = (long) d;
	}
	pthread_mutex_lock(&g_cfg_lock);
	g_cfg = c;
	pthread_mutex_unlock(&g_cfg_lock);
	return true;
}

static void
sb_num(sb *b, double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		sb_printf(b, "%.0f", d);
	else
		sb_printf(b, "%.3f", d);
}

void
config_json(sb *b)
{
	config		c = config_get();

	sb_puts(b, "{\"nenasasa_token_ttl\":");
	sb_num(b, c.nenasasa_token_ttl);
	sb_puts(b, ",\"nenasasa_refresh_ttl\":");
	sb_num(b, c.nenasasa_refresh_ttl);
	sb_printf(b, ",\"vtpass_timeout_ms\":%ld,\"record\":%s,\"max_records\":%zu,\"max_record_bytes\":%zu}",
			  c.vtpass_timeout_ms, c.record ? "true" : "false",
			  g_log.max_records, g_log.max_bytes);
}

/* ---------------------------------------------------------------- faults */

static pthread_mutex_t g_fault_lock = PTHREAD_MUTEX_INITIALIZER;
static fault *g_faults;
static uint64_t g_fault_id;

void
fault_release(fault *f)
{
	free(f->prefix);
	free(f->body);
	free(f->ctype);
	free(f->match);
	for (int i = 0; i < f->nhdrs; i++)
		free(f->hdrs[i]);
	memset(f, 0, sizeof(*f));
}

static void
fault_free(fault *f)
{
	fault_release(f);
	free(f);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

/* A deep copy, for a request to use after the lock is gone. */
static void
fault_copy(const fault *f, fault *out)
{
	*out = *f;
	out->next = NULL;
	out->prefix = dup_or_null(f->prefix);
	out->body = dup_or_null(f->body);
	out->ctype = dup_or_null(f->ctype);
	out->match = dup_or_null(f->match);
	for (int i = 0; i < f->nhdrs; i++)
		out->hdrs[i] = dup_or_null(f->hdrs[i]);
}

static bool
has_crlf(const char *s, size_t n)
{
	return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL;
}

/* "headers": {"Name": "value", ...} */
static bool
fault_headers(fault *f, const jv *obj, char *err, size_t errlen)
{
	const jv   *h;

	if (obj->type != JV_OBJ)
	{
		snprintf(err, errlen, "headers must be an object of strings");
		return false;
	}
	for (h = obj->child; h; h = h->next)
	{
		if (h->type != JV_STR || h->klen == 0 || has_crlf(h->key, h->klen) ||
			memchr(h->key, ':', h->klen) || has_crlf(h->s, h->len))
		{
			snprintf(err, errlen, "headers must be an object of strings without CR, LF or ':' in names");
			return false;
		}
		if (f->nhdrs == 2 * FAULT_MAX_HEADERS)
		{
			snprintf(err, errlen, "at most %d headers", FAULT_MAX_HEADERS);
			return false;
		}
		f->hdrs[f->nhdrs++] = xstrndup(h->key, h->klen);
		f->hdrs[f->nhdrs++] = xstrndup(h->s, h->len);
	}
	return true;
}

/* A whole number field in [min, max]. */
static bool
fault_long(const jv *m, const char *key, long min, long max, long *out,
		   char *err, size_t errlen)
{
	double		d;

	if (!jnum(m, &d) || d < min || d > max || d != floor(d))
	{
		snprintf(err, errlen, "%s must be an integer %ld-%ld", key, min, max);
		return false;
	}
	*out = (long) d;
	return true;
}

bool
fault_add(const jv *obj, char *err, size_t errlen, uint64_t *id)
{
	fault	   *f;
	const jv   *m;
	bool		has_status = false,
				has_body = false,
				has_action = false;
	double		d;

	if (obj == NULL || obj->type != JV_OBJ)
	{
		snprintf(err, errlen, "body must be a JSON object");
		return false;
	}
	f = xmalloc(sizeof(fault));
	memset(f, 0, sizeof(fault));
	f->count = 1;
	f->status = 500;
	f->chunk = 1;
	f->interval_ms = -1;
	f->after = -1;
	f->size = 2 * 1024 * 1024;
	for (m = obj->child; m; m = m->next)
	{
		char		key[64];

		snprintf(key, sizeof(key), "%.*s", (int) (m->klen < 63 ? m->klen : 63), m->key);
		if (strcmp(key, "prefix") == 0)
		{
			if (m->type != JV_STR)
				goto bad_type;
			f->prefix = xstrndup(m->s, m->len);
		}
		else if (strcmp(key, "count") == 0)
		{
			if (!jnum(m, &d) || d < 1 || d > 1e12 || d != floor(d))
			{
				snprintf(err, errlen, "count must be an integer >= 1");
				goto fail;
			}
			f->count = (long) d;
		}
		else if (strcmp(key, "status") == 0)
		{
			if (!jnum(m, &d) || d < 100 || d > 599 || d != floor(d))
			{
				snprintf(err, errlen, "status must be an HTTP status 100-599");
				goto fail;
			}
			f->status = (int) d;
			has_status = true;
		}
		else if (strcmp(key, "body") == 0)
		{
			sb			b = {0};

			if (m->type == JV_STR)
				sb_put(&b, m->s, m->len);
			else
				sb_jv(&b, m);
			free(f->body);
			f->body = sb_take(&b, NULL);
			has_body = true;
		}
		else if (strcmp(key, "content_type") == 0)
		{
			if (m->type != JV_STR || has_crlf(m->s, m->len))
				goto bad_type;
			f->ctype = xstrndup(m->s, m->len);
		}
		else if (strcmp(key, "match") == 0)
		{
			if (m->type != JV_STR || m->len == 0)
				goto bad_type;
			f->match = xstrndup(m->s, m->len);
		}
		else if (strcmp(key, "headers") == 0)
		{
			if (!fault_headers(f, m, err, errlen))
				goto fail;
		}
		else if (strcmp(key, "chunk") == 0)
		{
			if (!fault_long(m, key, 1, 1 << 20, &f->chunk, err, errlen))
				goto fail;
		}
		else if (strcmp(key, "interval_ms") == 0)
		{
			if (!fault_long(m, key, 0, 60000, &f->interval_ms, err, errlen))
				goto fail;
		}
		else if (strcmp(key, "after") == 0)
		{
			if (!fault_long(m, key, 0, 1 << 30, &f->after, err, errlen))
				goto fail;
		}
		else if (strcmp(key, "size") == 0)
		{
			if (!fault_long(m, key, 64, 64L << 20, &f->size, err, errlen))
				goto fail;
		}
		else if (strcmp(key, "delay_ms") == 0)
		{
			if (!jnum(m, &d) || d < 0 || d > 3600000)
			{
				snprintf(err, errlen, "delay_ms must be a number 0-3600000");
				goto fail;
			}
			f->delay_ms = (long) d;
		}
		else if (strcmp(key, "action") == 0)
		{
			if (jeq(m, "status"))
				f->action = FA_STATUS;
			else if (jeq(m, "drop"))
				f->action = FA_DROP;
			else if (jeq(m, "malformed"))
				f->action = FA_MALFORMED;
			else if (jeq(m, "delay"))
				f->action = FA_DELAY;
			else if (jeq(m, "trickle"))
				f->action = FA_TRICKLE;
			else if (jeq(m, "reset"))
				f->action = FA_RESET;
			else if (jeq(m, "truncate"))
				f->action = FA_TRUNCATE;
			else if (jeq(m, "large"))
				f->action = FA_LARGE;
			else
			{
				snprintf(err, errlen, "action must be status, drop, malformed, delay, trickle, reset, truncate or large");
				goto fail;
			}
			has_action = true;
		}
		else
		{
			snprintf(err, errlen, "unknown field: %s", key);
			goto fail;
		}
		continue;
bad_type:
		snprintf(err, errlen, "%s must be a string", key);
		goto fail;
	}
	if (!has_action)
		f->action = (f->delay_ms > 0 && !has_status && !has_body) ? FA_DELAY : FA_STATUS;
	f->answer = has_status || has_body;
	if (f->interval_ms < 0)
		f->interval_ms = (f->action == FA_TRICKLE) ? 100 : 50;
	if (f->body == NULL && (f->action == FA_STATUS || f->answer))
		f->body = xstrndup("{\"error\":\"injected\"}", 20);
	if (f->body == NULL && f->action == FA_MALFORMED)
		f->body = xstrndup("{\"code\":\"Success\",\"data\":", 25);
	if (f->ctype == NULL)
		f->ctype = xstrndup("application/json", 16);

	pthread_mutex_lock(&g_fault_lock);
	f->id = ++g_fault_id;
	*id = f->id;
	{
		fault	  **tail = &g_faults;

		while (*tail)
			tail = &(*tail)->next;
		*tail = f;
	}
	pthread_mutex_unlock(&g_fault_lock);
	return true;

fail:
	fault_free(f);
	return false;
}

bool
fault_take(const char *path, size_t path_len, const char *body, size_t body_len,
		   fault *out)
{
	fault	  **pp;
	bool		found = false;

	pthread_mutex_lock(&g_fault_lock);
	for (pp = &g_faults; *pp; pp = &(*pp)->next)
	{
		fault	   *f = *pp;
		size_t		n = f->prefix ? strlen(f->prefix) : 0;

		if (n > path_len || memcmp(path, f->prefix ? f->prefix : "", n) != 0)
			continue;
		if (f->match && (body == NULL ||
						 memmem(body, body_len, f->match, strlen(f->match)) == NULL))
			continue;
		fault_copy(f, out);
		if (--f->count <= 0)
		{
			*pp = f->next;
			fault_free(f);
		}
		found = true;
		break;
	}
	pthread_mutex_unlock(&g_fault_lock);
	return found;
}

void
faults_json(sb *b)
{
	static const char *const names[] = {"status", "drop", "malformed", "delay", "trickle",
	"reset", "truncate", "large"};
	fault	   *f;

	pthread_mutex_lock(&g_fault_lock);
	sb_putc(b, '[');
	for (f = g_faults; f; f = f->next)
	{
		if (f != g_faults)
			sb_putc(b, ',');
		sb_printf(b, "{\"id\":%llu,\"prefix\":", (unsigned long long) f->id);
		sb_json_cstr(b, f->prefix);
		sb_printf(b, ",\"count\":%ld,\"action\":\"%s\",\"status\":%d,\"delay_ms\":%ld,\"content_type\":",
				  f->count, names[f->action], f->status, f->delay_ms);
		sb_json_cstr(b, f->ctype);
		sb_puts(b, ",\"body\":");
		sb_json_cstr(b, f->body);
		sb_puts(b, ",\"match\":");
		sb_json_cstr(b, f->match);
		sb_puts(b, ",\"headers\":{");
		for (int i = 0; i < f->nhdrs; i += 2)
		{
			if (i > 0)
				sb_putc(b, ',');
			sb_json_cstr(b, f->hdrs[i]);
			sb_putc(b, ':');
			sb_json_cstr(b, f->hdrs[i + 1]);
		}
		sb_printf(b, "},\"chunk\":%ld,\"interval_ms\":%ld,\"after\":%ld,\"size\":%ld}",
				  f->chunk, f->interval_ms, f->after, f->size);
	}
	sb_putc(b, ']');
	pthread_mutex_unlock(&g_fault_lock);
}

static void
faults_clear(void)
{
	pthread_mutex_lock(&g_fault_lock);
	while (g_faults)
	{
		fault	   *next = g_faults->next;

		fault_free(g_faults);
		g_faults = next;
	}
	pthread_mutex_unlock(&g_fault_lock);
}

/* ---------------------------------------------------------- keyed state */

#define MAP_MAX_ENTRIES 1000000

typedef struct entry
{
	struct entry *next;
	uint64_t	hash;
	size_t		klen;
	size_t		vlen;
	char	   *val;
	char		key[];
} entry;

typedef struct hmap
{
	entry	  **buckets;
	size_t		nbuckets;
	size_t		count;
} hmap;

static pthread_mutex_t g_state_lock = PTHREAD_MUTEX_INITIALIZER;
static hmap g_maps[MAP_COUNT];

void
state_lock(void)
{
	pthread_mutex_lock(&g_state_lock);
}

void
state_unlock(void)
{
	pthread_mutex_unlock(&g_state_lock);
}

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
hmap_clear(hmap *m)
{
	size_t		i;

	for (i = 0; i < m->nbuckets; i++)
		while (m->buckets[i])
		{
			entry	   *next = m->buckets[i]->next;

			free(m->buckets[i]->val);
			free(m->buckets[i]);
			m->buckets[i] = next;
		}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = 0;
	m->count = 0;
}

static entry **
hmap_find(hmap *m, const char *key, size_t klen, uint64_t h)
{
	entry	  **pp;

	if (m->nbuckets == 0)
		return NULL;
	for (pp = &m->buckets[h & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			return pp;
	return NULL;
}

const char *
state_get(enum smap which, const char *key, size_t klen, size_t *vlen)
{
	entry	  **pp = hmap_find(&g_maps[which], key, klen, fnv1a(key, klen));

	if (pp == NULL)
		return NULL;
	if (vlen)
		*vlen = (*pp)->vlen;
	return (*pp)->val;
}

void
state_put(enum smap which, const char *key, size_t klen, const char *val, size_t vlen)
{
	hmap	   *m = &g_maps[which];
	uint64_t	h = fnv1a(key, klen);
	entry	  **pp = hmap_find(m, key, klen, h);
	entry	   *e;

	if (pp)
	{
		free((*pp)->val);
		(*pp)->val = xstrndup(val, vlen);
		(*pp)->vlen = vlen;
		return;
	}
	/* bounded memory: a full map starts over */
	if (m->count >= MAP_MAX_ENTRIES)
		hmap_clear(m);
	if (m->count + 1 > m->nbuckets * 3 / 4)
	{
		size_t		nb = m->nbuckets ? m->nbuckets * 2 : 64;
		entry	  **buckets = xmalloc(nb * sizeof(entry *));
		size_t		i;

		memset(buckets, 0, nb * sizeof(entry *));
		for (i = 0; i < m->nbuckets; i++)
			while (m->buckets[i])
			{
				entry	   *x = m->buckets[i];

				m->buckets[i] = x->next;
				x->next = buckets[x->hash & (nb - 1)];
				buckets[x->hash & (nb - 1)] = x;
			}
		free(m->buckets);
		m->buckets = buckets;
		m->nbuckets = nb;
	}
	e = xmalloc(sizeof(entry) + klen);
	e->hash = h;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->val = xstrndup(val, vlen);
	e->vlen = vlen;
	e->next = m->buckets[h & (m->nbuckets - 1)];
	m->buckets[h & (m->nbuckets - 1)] = e;
	m->count++;
}

void
state_del(enum smap which, const char *key, size_t klen)
{
	entry	  **pp = hmap_find(&g_maps[which], key, klen, fnv1a(key, klen));

	if (pp)
	{
		entry	   *e = *pp;

		*pp = e->next;
		free(e->val);
		free(e);
		g_maps[which].count--;
	}
}

/* -------------------------------------------------------------- rewards */

#define REWARDS_MAX 10000

typedef struct reward
{
	char	   *api_key;
	char	   *json;
} reward;

static reward g_rewards[REWARDS_MAX];
static size_t g_rewards_next;		/* total ever added since reset */

void
rewards_add(const char *api_key, const char *json_obj)
{
	reward	   *r;

	state_lock();
	r = &g_rewards[g_rewards_next % REWARDS_MAX];
	free(r->api_key);
	free(r->json);
	r->api_key = xstrndup(api_key, strlen(api_key));
	r->json = xstrndup(json_obj, strlen(json_obj));
	g_rewards_next++;
	state_unlock();
}

void
rewards_json(sb *b, const char *api_key, size_t limit)
{
	size_t		i,
				n = 0;

	state_lock();
	sb_putc(b, '[');
	for (i = g_rewards_next; i > 0 && i + REWARDS_MAX > g_rewards_next && n < limit; i--)
	{
		reward	   *r = &g_rewards[(i - 1) % REWARDS_MAX];

		if (r->api_key == NULL || strcmp(r->api_key, api_key) != 0)
			continue;
		if (n++)
			sb_putc(b, ',');
		sb_puts(b, r->json);
	}
	sb_putc(b, ']');
	state_unlock();
}

/* ---------------------------------------------------------------- reset */

static bool g_record_default;

void
store_init(size_t max_records, size_t max_bytes, bool record)
{
	g_epoch = (unsigned long) time(NULL);
	ring_init(&g_log, max_records, max_bytes);
	ring_init(&g_msgs, 100000, (size_t) 64 << 20);
	g_record_default = record;
	g_cfg_default.nenasasa_token_ttl = 36000;
	g_cfg_default.nenasasa_refresh_ttl = 36000;
	g_cfg_default.vtpass_timeout_ms = 30000;
	g_cfg_default.record = record;
	g_cfg = g_cfg_default;
}

void
store_reset(void)
{
	size_t		i;

	ring_clear(&g_log);
	ring_clear(&g_msgs);
	faults_clear();
	state_lock();
	for (i = 0; i < MAP_COUNT; i++)
		hmap_clear(&g_maps[i]);
	for (i = 0; i < REWARDS_MAX; i++)
	{
		free(g_rewards[i].api_key);
		free(g_rewards[i].json);
		g_rewards[i].api_key = g_rewards[i].json = NULL;
	}
	g_rewards_next = 0;
	state_unlock();
	pthread_mutex_lock(&g_cfg_lock);
	g_cfg = g_cfg_default;
	pthread_mutex_unlock(&g_cfg_lock);
	atomic_store(&g_seen, 0);
}
