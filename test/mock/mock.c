/*
 * gw-mock: a mock of the five providers gateway talks to, on one port.
 *
 *   gw-mock --port 18089 [--bind 127.0.0.1] [--threads N] [--no-record]
 *           [--max-records N] [--max-record-mb N]
 *
 * libmicrohttpd with a pool of internal epoll threads. A delayed answer
 * (fault delay_ms, VTpass timeout number) suspends its connection and a
 * timer thread resumes it, so one slow request never holds a thread.
 */
#include "mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)

enum phase
{
	PH_NEW, PH_BODY, PH_WAIT, PH_DONE
};

/* ---------------------------------------------------------- delay timer */

typedef struct tent
{
	uint64_t	due;
	struct MHD_Connection *conn;
} tent;

static pthread_mutex_t g_tlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_tcond;
static tent *g_heap;
static size_t g_heap_n;
static size_t g_heap_cap;
static bool g_timer_stop;
static bool g_resumed_at_stop;

static void
heap_push(tent t)
{
	size_t		i;

	if (g_heap_n == g_heap_cap)
	{
		g_heap_cap = g_heap_cap ? g_heap_cap * 2 : 64;
		g_heap = xrealloc(g_heap, g_heap_cap * sizeof(tent));
	}
	i = g_heap_n++;
	while (i > 0 && g_heap[(i - 1) / 2].due > t.due)
	{
		g_heap[i] = g_heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	g_heap[i] = t;
}

static tent
heap_pop(void)
{
	tent		top = g_heap[0];
	tent		last = g_heap[--g_heap_n];
	size_t		i = 0;

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= g_heap_n)
			break;
		if (c + 1 < g_heap_n && g_heap[c + 1].due < g_heap[c].due)
			c++;
		if (last.due <= g_heap[c].due)
			break;
		g_heap[i] = g_heap[c];
		i = c;
	}
	if (g_heap_n > 0)
		g_heap[i] = last;
	return top;
}

/* Resume connections whose delay is over; on stop, all of them. */
static void *
timer_main(void *arg)
{
	struct MHD_Connection *batch[256];

	(void) arg;
	pthread_mutex_lock(&g_tlock);
	for (;;)
	{
		size_t		n = 0,
					i;
		uint64_t	now = now_mono_ms();

		while (g_heap_n > 0 && n < 256 && (g_timer_stop || g_heap[0].due <= now))
			batch[n++] = heap_pop().conn;
		if (n > 0 && g_timer_stop)
			g_resumed_at_stop = true;
		if (n > 0)
		{
			pthread_mutex_unlock(&g_tlock);
			for (i = 0; i < n; i++)
				MHD_resume_connection(batch[i]);
			pthread_mutex_lock(&g_tlock);
			continue;
		}
		if (g_timer_stop)
			break;
		if (g_heap_n == 0)
			pthread_cond_wait(&g_tcond, &g_tlock);
		else
		{
			struct timespec ts;
			uint64_t	wait = g_heap[0].due - now;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t) (wait / 1000);
			ts.tv_nsec += (long) (wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L)
			{
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&g_tcond, &g_tlock, &ts);
		}
	}
	pthread_mutex_unlock(&g_tlock);
	return NULL;
}

/* Suspend the connection for ms; false when shutting down (answer now). */
bool
delay_connection(struct MHD_Connection *c, long ms)
{
	tent		t;

	pthread_mutex_lock(&g_tlock);
	if (g_timer_stop)
	{
		pthread_mutex_unlock(&g_tlock);
		return false;
	}
	/* suspend before the timer can see it, so a resume never comes first */
	MHD_suspend_connection(c);
	t.due = now_mono_ms() + (uint64_t) ms;
	t.conn = c;
	heap_push(t);
	pthread_cond_signal(&g_tcond);
	pthread_mutex_unlock(&g_tlock);
	return true;
}

/* -------------------------------------------------------------- request */

const char *
req_header(req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct hdr
{
	const char *name;
	size_t		nlen;
	const char *value;
	size_t		vlen;
} hdr;

typedef struct hdrs
{
	hdr			h[128];
	size_t		n;
} hdrs;

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			   const char *value, size_t value_size)
{
	hdrs	   *hs = cls;

	(void) kind;
	if (hs->n < 128)
	{
		hs->h[hs->n].name = key;
		hs->h[hs->n].nlen = key_size;
		hs->h[hs->n].value = value ? value : "";
		hs->h[hs->n].vlen = value ? value_size : 0;
		hs->n++;
	}
	return MHD_YES;
}

void
req_headers_json(req *r, sb *b)
{
	hdrs		hs;
	size_t		i,
				j;
	bool		first = true;

	hs.n = 0;
	MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_header, &hs);
	sb_putc(b, '{');
	for (i = 0; i < hs.n; i++)
	{
		char	   *lower;
		sb			val = {0};
		bool		dup = false;

		for (j = 0; j < i && !dup; j++)
			dup = hs.h[j].nlen == hs.h[i].nlen &&
				strncasecmp(hs.h[j].name, hs.h[i].name, hs.h[i].nlen) == 0;
		if (dup)
			continue;
		/* repeated headers are joined with ", " as HTTP allows */
		sb_put(&val, hs.h[i].value, hs.h[i].vlen);
		for (j = i + 1; j < hs.n; j++)
			if (hs.h[j].nlen == hs.h[i].nlen &&
				strncasecmp(hs.h[j].name, hs.h[i].name, hs.h[i].nlen) == 0)
			{
				sb_put(&val, ", ", 2);
				sb_put(&val, hs.h[j].value, hs.h[j].vlen);
			}
		lower = arena_strndup(&r->a, hs.h[i].name, hs.h[i].nlen);
		for (j = 0; j < hs.h[i].nlen; j++)
			if (lower[j] >= 'A' && lower[j] <= 'Z')
				lower[j] = (char) (lower[j] - 'A' + 'a');
		if (!first)
			sb_putc(b, ',');
		first = false;
		sb_json_str(b, lower, hs.h[i].nlen);
		sb_putc(b, ':');
		sb_json_str(b, val.p ? val.p : "", val.len);
		sb_free(&val);
	}
	sb_putc(b, '}');
}

void
reply_json(reply *o, int status, const char *json)
{
	o->status = status;
	o->ctype = "application/json";
	o->body.len = 0;
	sb_puts(&o->body, json);
}

void
reply_text(reply *o, int status, const char *ctype, const char *text)
{
	o->status = status;
	o->ctype = ctype;
	o->body.len = 0;
	sb_puts(&o->body, text);
}

/* Called by MHD with the raw request target, before anything is parsed. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	req		   *r = xmalloc(sizeof(req));
	const char *p = uri,
			   *q;
	size_t		n;

	(void) cls;
	memset(r, 0, sizeof(req));
	r->conn = c;
	/* absolute-form targets: drop scheme and authority */
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0)
	{
		p = strstr(p, "://") + 3;
		p = strchr(p, '/') ? strchr(p, '/') : "/";
	}
	n = strlen(p);
	r->uri = arena_strndup(&r->a, p, n);
	q = memchr(r->uri, '?', n);
	if (q)
	{
		r->path_len = (size_t) (q - r->uri);
		r->path = arena_strndup(&r->a, r->uri, r->path_len);
		r->query = r->uri + r->path_len + 1;
	}
	else
	{
		r->path_len = n;
		r->path = r->uri;
		r->query = r->uri + n;
	}
	return r;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		enum MHD_RequestTerminationCode toe)
{
	req		   *r = *con_cls;

	(void) cls;
	(void) c;
	(void) toe;
	if (r == NULL)
		return;
	free(r->body);
	sb_free(&r->out.body);
	arena_free(&r->a);
	free(r);
	*con_cls = NULL;
}

/* Keep the URL as received: routes decode what they need themselves. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void) cls;
	(void) c;
	return strlen(s);
}

static enum MHD_Result
queue_reply(req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t		len;
	char	   *body;

	r->phase = PH_DONE;
	if (r->out.drop)
		return MHD_NO;
	if (r->out.chunk > 0 || r->out.cut)
		resp = wire_response(r->conn, &r->out);
	else
	{
		body = sb_take(&r->out.body, &len);
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(body);
	}
	if (resp == NULL)
		return MHD_NO;
	if (r->out.ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->out.ctype);
	if (r->out.hdr_name)
		MHD_add_response_header(resp, r->out.hdr_name, r->out.hdr_value);
	for (int i = 0; i + 1 < r->out.nxhdr; i += 2)
		MHD_add_response_header(resp, r->out.xhdr[i], r->out.xhdr[i + 1]);
	ret = MHD_queue_response(r->conn, (unsigned int) r->out.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---------------------------------------------------------- control API */

static const char *g_bind_addr = "127.0.0.1";

typedef struct stream
{
	bool		messages;
	uint64_t	cursor;
	uint64_t	last;
	uint64_t	gen;
	uint64_t	limit;
	uint64_t	emitted;
	char	   *filter;
	sb			pend;
	size_t		off;
} stream;

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream	   *s = cls;
	size_t		n = 0;

	(void) pos;
	while (n < max)
	{
		if (s->off < s->pend.len)
		{
			size_t		k = s->pend.len - s->off;

			if (k > max - n)
				k = max - n;
			memcpy(buf + n, s->pend.p + s->off, k);
			s->off += k;
			n += k;
			continue;
		}
		s->pend.len = 0;
		s->off = 0;
		if (s->limit && s->emitted >= s->limit)
			break;
		if (!(s->messages
			  ? messages_next_line(&s->cursor, s->last, s->filter, s->gen, &s->pend)
			  : log_next_line(&s->cursor, s->last, s->filter, s->gen, &s->pend)))
			break;
		s->emitted++;
	}
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t) n;
}

static void
stream_free(void *cls)
{
	stream	   *s = cls;

	sb_free(&s->pend);
	free(s->filter);
	free(s);
}

static enum MHD_Result
control_stream(req *r, bool messages)
{
	stream	   *s = xmalloc(sizeof(stream));
	char	   *since = query_param(&r->a, r->query, "since");
	char	   *limit = query_param(&r->a, r->query, "limit");
	char	   *filter = query_param(&r->a, r->query, messages ? "provider" : "prefix");
	struct MHD_Response *resp;
	enum MHD_Result ret;

	memset(s, 0, sizeof(stream));
	s->messages = messages;
	s->cursor = since ? strtoull(since, NULL, 10) : 0;
	s->limit = limit ? strtoull(limit, NULL, 10) : 0;
	s->filter = filter && *filter ? xstrndup(filter, strlen(filter)) : NULL;
	s->gen = messages ? messages_generation() : log_generation();
	s->last = messages ? messages_last_id() : log_last_id();
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
											 stream_read, s, stream_free);
	if (resp == NULL)
	{
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	r->phase = PH_DONE;
	ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool
path_is(req *r, const char *p)
{
	size_t		n = strlen(p);

	return r->path_len == n && memcmp(r->path, p, n) == 0;
}

static enum MHD_Result
control(req *r)
{
	reply	   *o = &r->out;
	bool		get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	bool		post = strcmp(r->method, "POST") == 0;
	char		err[256];

	o->status = 200;
	o->ctype = "application/json";
	if (path_is(r, "/_mock/health"))
	{
		if (!get)
			goto bad_method;
		reply_text(o, 200, "text/plain; charset=utf-8", "ok");
	}
	else if (path_is(r, "/_mock/requests") || path_is(r, "/_mock/messages"))
	{
		if (!get)
			goto bad_method;
		return control_stream(r, path_is(r, "/_mock/messages"));
	}
	else if (path_is(r, "/_mock/stats"))
	{
		if (!get)
			goto bad_method;
		sb_printf(&o->body, "{\"requests\":%llu,\"recorded\":%zu}",
				  (unsigned long long) log_requests_seen(), log_count());
	}
	else if (path_is(r, "/_mock/reset"))
	{
		if (!post)
			goto bad_method;
		store_reset();
		reply_json(o, 200, "{\"reset\":true}");
	}
	else if (path_is(r, "/_mock/fault") || path_is(r, "/_mock/faults"))
	{
		if (get)
			faults_json(&o->body);
		else if (post)
		{
			jv		   *body = json_parse(&r->a, r->body, r->body_len);
			uint64_t	id;

			if (body == NULL)
				reply_json(o, 400, "{\"error\":\"body is not valid JSON\"}");
			else if (!fault_add(body, err, sizeof(err), &id))
			{
				o->status = 400;
				sb_puts(&o->body, "{\"error\":");
				sb_json_cstr(&o->body, err);
				sb_putc(&o->body, '}');
			}
			else
				sb_printf(&o->body, "{\"id\":%llu}", (unsigned long long) id);
		}
		else
			goto bad_method;
	}
	else if (path_is(r, "/_mock/config"))
	{
		if (post)
		{
			jv		   *body = json_parse(&r->a, r->body, r->body_len);

			if (body == NULL || !config_set(body, err, sizeof(err)))
			{
				o->status = 400;
				sb_puts(&o->body, "{\"error\":");
				sb_json_cstr(&o->body, body ? err : "body is not valid JSON");
				sb_putc(&o->body, '}');
				return queue_reply(r);
			}
		}
		else if (!get)
			goto bad_method;
		config_json(&o->body);
	}
	else if (path_is(r, "/_mock/hang"))
	{
		int			port;

		if (!post)
			goto bad_method;
		port = hang_port(g_bind_addr);
		if (port < 0)
			reply_json(o, 500, "{\"error\":\"cannot open the hanging port\"}");
		else
			sb_printf(&o->body, "{\"port\":%d}", port);
	}
	else if (path_is(r, "/_mock/callback"))
	{
		char	   *id = query_param(&r->a, r->query, "id");

		int			found;

		if (!get)
			goto bad_method;
		found = id ? providers_callback(id, &o->body) : 0;
		if (found == 0)
			reply_json(o, 404, "{\"error\":\"unknown checkout id\"}");
		else if (found < 0)
			reply_json(o, 409, "{\"error\":\"the payment has no result yet\"}");
	}
	else
		reply_json(o, 404, "{\"error\":\"unknown control route\"}");
	return queue_reply(r);

bad_method:
	reply_json(o, 405, "{\"error\":\"method not allowed\"}");
	return queue_reply(r);
}

/* ------------------------------------------------------------- dispatch */

/* Whether the fault changes how the answer goes on the wire; then its status
 * or body, when given, are the answer, else the provider's is. */
static bool
fault_on_wire(const fault *f)
{
	return f->action == FA_TRICKLE || f->action == FA_RESET || f->action == FA_TRUNCATE;
}

/* What a fault adds to the answer chosen: its content type and headers (kept
 * in the request's arena: the fault copy goes first), how the body goes. */
static void
fault_apply(req *r, const fault *f)
{
	reply	   *o = &r->out;

	if (f->action == FA_DROP)
		return;
	if (f->action == FA_STATUS || f->action == FA_MALFORMED || (f->answer && fault_on_wire(f)))
		o->ctype = arena_strndup(&r->a, f->ctype, strlen(f->ctype));
	for (int i = 0; i < f->nhdrs; i++)
		o->xhdr[o->nxhdr++] = arena_strndup(&r->a, f->hdrs[i], strlen(f->hdrs[i]));
	if (f->action == FA_TRICKLE)
	{
		o->chunk = f->chunk;
		o->interval_ms = f->interval_ms;
	}
	else if (f->action == FA_RESET || f->action == FA_TRUNCATE)
	{
		o->cut = true;
		o->reset = (f->action == FA_RESET);
		o->cut_at = f->after;
		o->interval_ms = f->interval_ms;
	}
}

static enum MHD_Result
finish(req *r)
{
	fault		f;
	bool		faulted;
	long		delay = 0;

	if (r->path_len >= 7 && memcmp(r->path, "/_mock/", 7) == 0)
	{
		if (!r->too_large)
			return control(r);
		reply_json(&r->out, 413, "{\"error\":\"request body too large\"}");
		return queue_reply(r);
	}

	log_request(r);
	faulted = fault_take(r->path, r->path_len, r->body, r->body_len, &f);
	if (r->too_large)
		reply_json(&r->out, 413, "{\"error\":\"request body too large\"}");
	else if (faulted && (f.action == FA_STATUS || (f.answer && fault_on_wire(&f))))
		reply_text(&r->out, f.status, f.ctype, f.body);
	else if (faulted && f.action == FA_MALFORMED)
		reply_text(&r->out, 200, f.ctype, f.body);
	else if (faulted && f.action == FA_DROP)
		r->out.drop = true;
	else if (faulted && f.action == FA_LARGE)
		reply_large(&r->out, f.size);
	else if (!providers_route(r, &r->out))
		reply_json(&r->out, 404, "{\"error\":\"no such provider route\"}");
	if (faulted)
	{
		fault_apply(r, &f);
		delay = f.delay_ms;
		fault_release(&f);
	}
	delay += r->out.delay_ms;
	if (delay > 0 && delay_connection(r->conn, delay))
	{
		r->phase = PH_WAIT;
		return MHD_YES;
	}
	return queue_reply(r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
		   const char *method, const char *version, const char *upload,
		   size_t *upload_size, void **con_cls)
{
	req		   *r = *con_cls;

	(void) cls;
	(void) version;
	if (r == NULL)
	{
		r = on_uri(NULL, url, c);
		*con_cls = r;
	}
	r->conn = c;
	r->method = method;
	switch (r->phase)
	{
		case PH_NEW:
			{
				const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

				r->phase = PH_BODY;
				if (cl && strtoull(cl, NULL, 10) > MAX_BODY)
				{
					/* refuse at once; MHD closes the connection after */
					r->too_large = true;
					r->body_seen = (size_t) strtoull(cl, NULL, 10);
					return finish(r);
				}
				if (*upload_size == 0)
					return MHD_YES;
			}
			/* FALLTHROUGH */
		case PH_BODY:
			if (*upload_size > 0)
			{
				size_t		n = *upload_size;

				r->body_seen += n;
				if (r->body_len + n > MAX_BODY)
					r->too_large = true;
				else
				{
					if (r->body_len + n + 1 > r->body_cap)
					{
						size_t		cap = r->body_cap ? r->body_cap : 1024;

						while (cap < r->body_len + n + 1)
							cap *= 2;
						r->body = xrealloc(r->body, cap);
						r->body_cap = cap;
					}
					memcpy(r->body + r->body_len, upload, n);
					r->body_len += n;
					r->body[r->body_len] = '\0';
				}
				*upload_size = 0;
				return MHD_YES;
			}
			return finish(r);
		case PH_WAIT:
			return queue_reply(r);
		default:
			return MHD_NO;
	}
}

/* ------------------------------------------------------------------ main */

static void
usage(FILE *f)
{
	fputs("usage: gw-mock --port PORT [--bind ADDR] [--threads N] [--no-record]\n"
		  "               [--max-records N] [--max-record-mb N]\n", f);
}

static long
arg_num(const char *opt, const char *v, long min, long max)
{
	char	   *end;
	long		n;

	if (v == NULL)
	{
		fprintf(stderr, "gw-mock: %s needs a value\n", opt);
		exit(2);
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
	{
		fprintf(stderr, "gw-mock: bad value for %s: %s\n", opt, v);
		exit(2);
	}
	return n;
}

int
main(int argc, char **argv)
{
	long		port = -1,
				threads = 2,
				max_records = 1000000,
				max_mb = 1024;
	const char *bind_addr = "127.0.0.1";
	bool		record = true;
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	sigset_t	sigs;
	pthread_t	timer;
	pthread_condattr_t ca;
	unsigned int flags;
	int			i,
				sig;

	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--port") == 0)
			port = arg_num(a, v, 0, 65535), i++;
		else if (strcmp(a, "--bind") == 0)
		{
			if (v == NULL)
			{
				usage(stderr);
				return 2;
			}
			bind_addr = v;
			g_bind_addr = v;
			i++;
		}
		else if (strcmp(a, "--threads") == 0)
			threads = arg_num(a, v, 1, 64), i++;
		else if (strcmp(a, "--no-record") == 0)
			record = false;
		else if (strcmp(a, "--max-records") == 0)
			max_records = arg_num(a, v, 1, 100000000), i++;
		else if (strcmp(a, "--max-record-mb") == 0)
			max_mb = arg_num(a, v, 1, 1 << 20), i++;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			usage(stdout);
			return 0;
		}
		else
		{
			usage(stderr);
			return 2;
		}
	}
	if (port < 0)
	{
		usage(stderr);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
	{
		fprintf(stderr, "gw-mock: --bind needs an IPv4 address, got %s\n", bind_addr);
		return 2;
	}

	store_init((size_t) max_records, (size_t) max_mb << 20, record);

	/* signals go to sigwait below; threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g_tcond, &ca);
	if (pthread_create(&timer, NULL, timer_main, NULL) != 0)
	{
		fputs("gw-mock: cannot start the timer thread\n", stderr);
		return 1;
	}

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	d = MHD_start_daemon(flags, (uint16_t) port, NULL, NULL, on_request, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
						 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) (threads > 1 ? threads : 0),
						 MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
						 MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
						 MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 300,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 4096,
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (128 * 1024),
						 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) 1024,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		fprintf(stderr, "gw-mock: cannot listen on %s:%ld\n", bind_addr, port);
		return 1;
	}
	{
		/* --port 0 picks a free port: print the one bound */
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

		if (di && di->port)
			port = di->port;
	}
	printf("gw-mock listening on %s:%ld\n", bind_addr, port);
	fflush(stdout);

	do
	{
		if (sigwait(&sigs, &sig) != 0)
			sig = 0;
	} while (sig != SIGINT && sig != SIGTERM);

	/* resume every delayed connection, then stop */
	pthread_mutex_lock(&g_tlock);
	g_timer_stop = true;
	pthread_cond_signal(&g_tcond);
	pthread_mutex_unlock(&g_tlock);
	pthread_join(timer, NULL);
	/* let the resumed connections send their answers before closing */
	if (g_resumed_at_stop)
		usleep(100 * 1000);
	MHD_stop_daemon(d);
	return 0;
}
