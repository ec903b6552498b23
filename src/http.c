/*
 * http.c: synchronous HTTP over libcurl for backends.
 *
 * One multi handle and one easy handle live for the whole backend, so the
 * connection to a provider is reused from call to call.  Requests run through
 * the multi interface so that a cancel or statement_timeout interrupts a slow
 * provider within a poll interval.  Everything curl allocates lives outside
 * palloc memory and stays owned by these static handles: an ERROR thrown
 * mid-request leaks nothing, the next call simply starts over.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <poll.h>

#include "common/base64.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "compat.h"
#include "http.h"

int			gw_connect_timeout_ms = 5000;
int			gw_request_timeout_ms = 30000;
int			gw_max_response_kb = 1024;
bool		gw_tls_verify = true;
char	   *gw_ca_file = NULL;

static CURLM *gw_multi = NULL;
static CURL *gw_easy = NULL;
static bool gw_easy_attached = false;	/* gw_easy is in gw_multi */
static struct curl_slist *gw_headers = NULL;

/* The answer being received; malloc'd, reused across calls. */
typedef struct GwRecvBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		too_large;
	bool		oom;
} GwRecvBuf;

static GwRecvBuf gw_recv;

static void gw_classify_error(CURL *h, GwRecvBuf *rb, CURLcode rc, GwHttpResponse *resp);

/* Poll interval while waiting: bounds the delay before a cancel is seen. */
#define GW_POLL_MS 50

void
gw_http_init(void)
{
	if (gw_multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	gw_easy = curl_easy_init();
	gw_multi = curl_multi_init();
	if (gw_easy == NULL || gw_multi == NULL)
	{
		if (gw_easy)
			curl_easy_cleanup(gw_easy);
		if (gw_multi)
			curl_multi_cleanup(gw_multi);
		gw_easy = NULL;
		gw_multi = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create libcurl handles")));
	}
	curl_multi_setopt(gw_multi, CURLMOPT_MAXCONNECTS, 32L);
}

static size_t
gw_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	GwRecvBuf  *rb = (GwRecvBuf *) userdata;
	size_t		n = size * nmemb;

	if (rb->len + n > rb->limit)
	{
		rb->too_large = true;
		return 0;				/* abort the transfer */
	}
	if (rb->len + n + 1 > rb->cap)
	{
		size_t		ncap = Max(rb->cap * 2, rb->len + n + 1);
		char	   *nd;

		ncap = Max(ncap, 8192);
		nd = realloc(rb->data, ncap);
		if (nd == NULL)
		{
			rb->oom = true;
			return 0;
		}
		rb->data = nd;
		rb->cap = ncap;
	}
	memcpy(rb->data + rb->len, ptr, n);
	rb->len += n;
	return n;
}

char	   *gw_allowed_hosts = NULL;
bool		gw_allow_http = false;

/* Whether one entry of the list names host (case-insensitive, IPv6 with or
 * without brackets). */
static bool
gw_host_matches(const char *entry, int len, const char *host)
{
	size_t		hl = strlen(host);

	if (len >= 2 && entry[0] == '[' && entry[len - 1] == ']')
	{
		entry++;
		len -= 2;
	}
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
	{
		host++;
		hl -= 2;
	}
	return (size_t) len == hl && pg_strncasecmp(entry, host, hl) == 0;
}

static bool
gw_host_allowed(const char *host)
{
	const char *p = gw_allowed_hosts ? gw_allowed_hosts : "";

	while (*p)
	{
		const char *e;
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		end = e;
		while (end > p && end[-1] == ' ')
			end--;
		if (end > p && gw_host_matches(p, end - p, host))
			return true;
		p = e;
	}
	return false;
}

bool
gw_allowed_hosts_check(char **newval, void **extra, GucSource source)
{
	const char *p = *newval ? *newval : "";

	while (*p)
	{
		const char *e;
		const char *end;
		int			colons = 0;

		while (*p == ' ' || *p == ',')
			p++;
		e = p;
		while (*e && *e != ',')
			e++;
		end = e;
		while (end > p && end[-1] == ' ')
			end--;
		for (const char *c = p; c < end; c++)
		{
			if (*c == ':')
				colons++;
			if (*c == '/' || *c == '@' || *c == ' ' || *c == '*' || *c == '?' || *c == '#')
			{
				GUC_check_errdetail("\"%.*s\" is not a host name or address.", (int) (end - p), p);
				GUC_check_errhint("List host names or addresses separated by commas, without scheme, port or path.");
				return false;
			}
		}
		if (colons == 1)
		{
			GUC_check_errdetail("\"%.*s\" has a port.", (int) (end - p), p);
			GUC_check_errhint("List hosts without ports: any port of a listed host is allowed.");
			return false;
		}
		p = e;
	}
	return true;
}

char *
gw_http_url_refusal(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *why = NULL;

	if (u == NULL)
		return pstrdup("out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		why = pstrdup("the URL cannot be parsed");
	else if (pg_strcasecmp(scheme, "https") != 0 && pg_strcasecmp(scheme, "http") != 0)
		why = psprintf("scheme %s is not http or https", scheme);
	else if (pg_strcasecmp(scheme, "http") == 0 && !gw_allow_http)
		why = psprintf("plain http to %s is off (gateway.allow_http)", host);
	else if (!gw_host_allowed(host))
		why = psprintf("host %s is not in gateway.allowed_hosts", host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return why;
}

void
gw_http_require_allowed(const char *url, const char *what)
{
	char	   *why = gw_http_url_refusal(url);

	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s refused: %s", what, why),
				 errhint("A superuser lists the hosts accounts may use in gateway.allowed_hosts (and allows plain http with gateway.allow_http), then reloads.")));
}

/*
 * The options a handle keeps from request to request: set once, and again
 * (after a curl_easy_reset) only when a reload changed one of the settings
 * behind them.  ca is malloc'd.
 */
typedef struct GwHandleConf
{
	bool		set;
	bool		allow_http;
	bool		tls_verify;
	int			connect_ms;
	int			request_ms;
	char	   *ca;
} GwHandleConf;

static GwHandleConf gw_conf;	/* gw_easy's */

static bool
gw_conf_current(const GwHandleConf *c)
{
	const char *ca = (gw_ca_file && gw_ca_file[0]) ? gw_ca_file : NULL;

	return c->set && c->allow_http == gw_allow_http && c->tls_verify == gw_tls_verify &&
		c->connect_ms == gw_connect_timeout_ms && c->request_ms == gw_request_timeout_ms &&
		((c->ca == NULL && ca == NULL) || (c->ca && ca && strcmp(c->ca, ca) == 0));
}

/* Whether headers already hold exactly the lines req needs. */
static bool
gw_headers_current(const struct curl_slist *h, const GwHttpRequest *req)
{
	/* "Expect:", "Accept: ...", then Content-Type and Authorization if any */
	if (h == NULL || (h = h->next) == NULL)
		return false;
	h = h->next;
	if (req->content_type)
	{
		if (h == NULL || strncmp(h->data, "Content-Type: ", 14) != 0 ||
			strcmp(h->data + 14, req->content_type) != 0)
			return false;
		h = h->next;
	}
	if (req->authorization)
	{
		if (h == NULL || strncmp(h->data, "Authorization: ", 15) != 0 ||
			strcmp(h->data + 15, req->authorization) != 0)
			return false;
		h = h->next;
	}
	return h == NULL;
}

static void
gw_set_options(CURL *h, GwHandleConf *conf, struct curl_slist **headers, GwRecvBuf *rb,
			   const GwHttpRequest *req)
{
	if (!gw_conf_current(conf))
	{
		curl_easy_reset(h);		/* keeps the connection cache of the multi */
		if (*headers)
		{
			curl_slist_free_all(*headers);
			*headers = NULL;
		}
		free(conf->ca);
		conf->ca = NULL;
		conf->set = false;
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, gw_allow_http ? "http,https" : "https");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "gateway/" GW_VERSION);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) gw_connect_timeout_ms);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) gw_request_timeout_ms);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, gw_tls_verify ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, gw_tls_verify ? 2L : 0L);
		if (gw_ca_file && gw_ca_file[0])
		{
			conf->ca = strdup(gw_ca_file);
			if (conf->ca == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
			curl_easy_setopt(h, CURLOPT_CAINFO, gw_ca_file);
		}
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gw_write_cb);
		conf->allow_http = gw_allow_http;
		conf->tls_verify = gw_tls_verify;
		conf->connect_ms = gw_connect_timeout_ms;
		conf->request_ms = gw_request_timeout_ms;
		conf->set = true;
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, req->fresh_connection ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rb);

	if (!gw_headers_current(*headers, req))
	{
		if (*headers)
		{
			curl_slist_free_all(*headers);
			*headers = NULL;
		}
		/* No "Expect: 100-continue" round trip for larger bodies. */
		*headers = curl_slist_append(*headers, "Expect:");
		*headers = curl_slist_append(*headers, "Accept: application/json, text/plain, */*");
		if (req->content_type)
		{
			char		line[128];

			snprintf(line, sizeof(line), "Content-Type: %s", req->content_type);
			*headers = curl_slist_append(*headers, line);
		}
		if (req->authorization)
		{
			char	   *line = psprintf("Authorization: %s", req->authorization);

			*headers = curl_slist_append(*headers, line);
			/* curl copied it; wipe our copy of the secret */
			explicit_bzero(line, strlen(line));
			pfree(line);
		}
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
	}

	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
	{
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) req->body_len);
		/* COPYPOSTFIELDS: the caller's buffer may go before the transfer ends */
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

static void
gw_recv_reset(GwRecvBuf *rb)
{
	/* a buffer an answer grew, whose taking an ERROR cut short */
	if (rb->cap > 1024 * 1024)
	{
		free(rb->data);
		rb->data = NULL;
		rb->cap = 0;
	}
	rb->len = 0;
	rb->too_large = false;
	rb->oom = false;
	rb->limit = (size_t) gw_max_response_kb * 1024;
}

/* Copy a finished transfer's answer into resp (palloc'd).  May raise (out
 * of memory): the handle is detached from its multi handle before. */
static void
gw_take_response(CURL *h, GwRecvBuf *rb, CURLcode rc, GwHttpResponse *resp)
{
	curl_off_t	retry_after = 0;

	if (rc == CURLE_OK)
	{
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->net_error = GW_NET_OK;
		if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK)
			resp->retry_after_s = (int) Min(retry_after, 3600);
	}
	else
		gw_classify_error(h, rb, rc, resp);

	/* the first part of an answer too large to take is nobody's business */
	if (resp->net_error == GW_NET_TOO_LARGE)
		rb->len = 0;
	resp->body = palloc(rb->len + 1);
	if (rb->len > 0)
		memcpy(resp->body, rb->data, rb->len);
	resp->body[rb->len] = '\0';
	resp->body_len = (int) rb->len;

	/* Give back a buffer that a large answer grew. */
	if (rb->cap > 1024 * 1024)
	{
		free(rb->data);
		rb->data = NULL;
		rb->cap = 0;
	}
}

/* Map a curl failure to our classes and a message that never holds the URL. */
static void
gw_classify_error(CURL *h, GwRecvBuf *rb, CURLcode rc, GwHttpResponse *resp)
{
	curl_off_t	sent = 0;

	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
	resp->error = pstrdup(curl_easy_strerror(rc));
	switch (rc)
	{
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			resp->net_error = GW_NET_NOT_SENT;
			/* our words: libcurl's change between its versions */
			resp->error = pstrdup(rc == CURLE_COULDNT_CONNECT ? "could not connect to the server" :
								  rc == CURLE_COULDNT_RESOLVE_HOST ? "could not resolve the host name" :
								  "could not resolve the proxy's host name");
			break;
		case CURLE_OPERATION_TIMEDOUT:
			resp->net_error = (sent > 0) ? GW_NET_TIMEOUT : GW_NET_NOT_SENT;
			if (sent == 0)
				resp->error = psprintf("could not connect within %d ms",
									   Min(gw_connect_timeout_ms, gw_request_timeout_ms));
			else
				resp->error = psprintf("no complete answer within gateway.request_timeout (%d ms)",
									   gw_request_timeout_ms);
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
			resp->net_error = GW_NET_TLS;
			break;
		case CURLE_WRITE_ERROR:
			if (rb->too_large)
			{
				resp->net_error = GW_NET_TOO_LARGE;
				resp->error = psprintf("response larger than gateway.max_response_size (%d kB)",
									   gw_max_response_kb);
			}
			else
				resp->net_error = GW_NET_OTHER;
			break;
		case CURLE_SEND_ERROR:
			resp->net_error = (sent > 0) ? GW_NET_IO : GW_NET_NOT_SENT;
			break;
		case CURLE_ABORTED_BY_CALLBACK:
			resp->net_error = (sent > 0) ? GW_NET_IO : GW_NET_NOT_SENT;
			resp->error = pstrdup("request interrupted");
			break;
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			resp->net_error = GW_NET_IO;
			break;
		default:
			resp->net_error = GW_NET_OTHER;
			break;
	}
}

void
gw_http_perform(const GwHttpRequest *req, GwHttpResponse *resp)
{
	instr_time	start,
				end;
	CURLcode	rc = CURLE_OK;
	CURLMsg    *msg;
	int			running = 1;
	int			left;
	bool		interrupted = false;

	gw_http_init();
	memset(resp, 0, sizeof(*resp));
	/* a request an ERROR cut short is still attached: let it go */
	if (gw_easy_attached)
	{
		curl_multi_remove_handle(gw_multi, gw_easy);
		gw_easy_attached = false;
	}
	gw_recv_reset(&gw_recv);
	{
		char	   *why = gw_http_url_refusal(req->url);

		if (why != NULL)
		{
			resp->net_error = GW_NET_NOT_SENT;
			resp->error = why;
			return;
		}
	}

	INSTR_TIME_SET_CURRENT(start);
	gw_set_options(gw_easy, &gw_conf, &gw_headers, &gw_recv, req);
	if (curl_multi_add_handle(gw_multi, gw_easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start an HTTP request")));
	gw_easy_attached = true;

	while (running)
	{
		if (curl_multi_perform(gw_multi, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		curl_multi_poll(gw_multi, NULL, 0, GW_POLL_MS, NULL);
		if (QueryCancelPending || ProcDiePending)
		{
			/*
			 * Drop the request (and its connection) before we longjmp.  It
			 * cannot be resumed: if the interrupt turns out not to throw, the
			 * request ends as interrupted, never silently sent twice.
			 */
			curl_multi_remove_handle(gw_multi, gw_easy);
			gw_easy_attached = false;
			CHECK_FOR_INTERRUPTS();
			interrupted = true;
			break;
		}
	}

	rc = interrupted ? CURLE_ABORTED_BY_CALLBACK : CURLE_GOT_NOTHING;
	while (!interrupted && (msg = curl_multi_info_read(gw_multi, &left)) != NULL)
	{
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == gw_easy)
			rc = msg->data.result;
	}
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	resp->elapsed_ms = INSTR_TIME_GET_MILLISEC(end);

	if (gw_easy_attached)
	{
		curl_multi_remove_handle(gw_multi, gw_easy);
		gw_easy_attached = false;
	}
	gw_take_response(gw_easy, &gw_recv, rc, resp);
}

/* One transfer slot of a pool. */
typedef struct GwPoolSlot
{
	CURL	   *easy;
	struct curl_slist *headers;
	GwHandleConf conf;
	GwRecvBuf	recv;
	void	   *tag;
	bool		busy;
	instr_time	start;
} GwPoolSlot;

/*
 * The pool runs libcurl's multi interface event-driven
 * (curl_multi_socket_action): libcurl tells us, through gw_pool_socket_cb,
 * which sockets it waits on and for what, and through gw_pool_timer_cb when
 * it next wants to run a timeout; one poll() waits on those sockets, and only
 * the transfers whose socket is ready (or whose timer is due) are moved.
 * curl_multi_perform, by contrast, visits every transfer in flight on every
 * call and checks each one's socket with a poll() of its own.
 */
struct GwHttpPool
{
	CURLM	   *multi;
	int			size;
	int			in_flight;
	GwPoolSlot *slots;
	int		   *free_stack;		/* indexes of idle slots */
	int			nfree;
	struct pollfd *fds;			/* the sockets libcurl waits on */
	int			nfds;
	int			fds_cap;
	int64		timer_at;		/* when libcurl's timeout is due (µs); -1: none */
};

static int64
gw_now_us(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return (int64) INSTR_TIME_GET_MICROSEC(now);
}

/* libcurl: wait on socket s for what (or stop waiting on it) */
static int
gw_pool_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	GwHttpPool *pool = (GwHttpPool *) userp;
	int			i;

	for (i = 0; i < pool->nfds; i++)
		if (pool->fds[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < pool->nfds)
			pool->fds[i] = pool->fds[--pool->nfds];
		return 0;
	}
	if (i == pool->nfds)
	{
		if (pool->nfds == pool->fds_cap)
		{
			/* malloc'd: called from inside libcurl, where an ERROR must not go */
			int			cap = pool->fds_cap * 2;
			struct pollfd *fds = realloc(pool->fds, sizeof(struct pollfd) * cap);

			if (fds == NULL)
				return -1;		/* libcurl fails the transfer */
			pool->fds = fds;
			pool->fds_cap = cap;
		}
		pool->fds[pool->nfds++].fd = s;
	}
	pool->fds[i].events = ((what & CURL_POLL_IN) ? POLLIN : 0) |
		((what & CURL_POLL_OUT) ? POLLOUT : 0);
	pool->fds[i].revents = 0;
	return 0;
}

/* libcurl: run a timeout in timeout_ms (-1: no timeout wanted) */
static int
gw_pool_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	GwHttpPool *pool = (GwHttpPool *) userp;

	pool->timer_at = timeout_ms < 0 ? -1 : gw_now_us() + (int64) timeout_ms * 1000;
	return 0;
}

GwHttpPool *
gw_http_pool_create(int size)
{
	GwHttpPool *pool;

	gw_http_init();
	pool = MemoryContextAllocZero(TopMemoryContext, sizeof(GwHttpPool));
	pool->multi = curl_multi_init();
	if (pool->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	curl_multi_setopt(pool->multi, CURLMOPT_MAXCONNECTS, (long) size * 2);
	curl_multi_setopt(pool->multi, CURLMOPT_SOCKETFUNCTION, gw_pool_socket_cb);
	curl_multi_setopt(pool->multi, CURLMOPT_SOCKETDATA, pool);
	curl_multi_setopt(pool->multi, CURLMOPT_TIMERFUNCTION, gw_pool_timer_cb);
	curl_multi_setopt(pool->multi, CURLMOPT_TIMERDATA, pool);
	pool->timer_at = -1;
	pool->fds_cap = size * 2 + 4;
	pool->fds = malloc(sizeof(struct pollfd) * pool->fds_cap);
	if (pool->fds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	pool->size = size;
	pool->slots = MemoryContextAllocZero(TopMemoryContext, sizeof(GwPoolSlot) * size);
	pool->free_stack = MemoryContextAlloc(TopMemoryContext, sizeof(int) * size);
	for (int i = 0; i < size; i++)
	{
		pool->slots[i].easy = curl_easy_init();
		if (pool->slots[i].easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		curl_easy_setopt(pool->slots[i].easy, CURLOPT_PRIVATE, &pool->slots[i]);
		pool->free_stack[pool->nfree++] = size - 1 - i;
	}
	return pool;
}

int
gw_http_pool_free_slots(GwHttpPool *pool)
{
	return pool->nfree;
}

int
gw_http_pool_in_flight(GwHttpPool *pool)
{
	return pool->in_flight;
}

bool
gw_http_pool_start(GwHttpPool *pool, const GwHttpRequest *req, void *tag)
{
	GwPoolSlot *slot;

	if (pool->nfree == 0)
		return false;
	slot = &pool->slots[pool->free_stack[--pool->nfree]];
	gw_recv_reset(&slot->recv);
	gw_set_options(slot->easy, &slot->conf, &slot->headers, &slot->recv, req);
	curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot);
	slot->tag = tag;
	slot->busy = true;
	INSTR_TIME_SET_CURRENT(slot->start);
	if (curl_multi_add_handle(pool->multi, slot->easy) != CURLM_OK)
	{
		slot->busy = false;
		pool->free_stack[pool->nfree++] = slot - pool->slots;
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start an HTTP request")));
	}
	pool->in_flight++;
	return true;
}

/* Run libcurl's timeout when it is due. */
static void
gw_pool_timer_run(GwHttpPool *pool)
{
	int			running;

	if (pool->timer_at >= 0 && pool->timer_at <= gw_now_us())
	{
		pool->timer_at = -1;	/* the callback sets the next one */
		curl_multi_socket_action(pool->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

void
gw_http_pool_run(GwHttpPool *pool, int timeout_ms)
{
	int			wait_ms;
	int			nready;
	int			running;
	curl_socket_t ready_fd[64];
	int			ready_mask[64];
	int			nfds;

	gw_pool_timer_run(pool);
	/*
	 * Without a wait, only libcurl's due timeout runs (it starts the
	 * transfers just added); the sockets are looked at by the next call
	 * that may wait, which returns as soon as one is ready.
	 */
	if (pool->in_flight == 0 || timeout_ms <= 0)
		return;
	wait_ms = timeout_ms;
	if (pool->timer_at >= 0)
	{
		int64		until = (pool->timer_at - gw_now_us() + 999) / 1000;

		wait_ms = (int) Max(0, Min(until, (int64) wait_ms));
	}
	nfds = pool->nfds;
	nready = poll(pool->fds, nfds, wait_ms);
	if (nready > 0)
	{
		/*
		 * The sockets that are ready, copied out first: socket_action calls
		 * back and changes pool->fds.  More than fit here wait for the next
		 * call (poll finds them ready again at once).
		 */
		int			n = 0;

		for (int i = 0; i < nfds && n < lengthof(ready_fd); i++)
		{
			short		re = pool->fds[i].revents;

			if (re == 0)
				continue;
			ready_fd[n] = pool->fds[i].fd;
			ready_mask[n] = ((re & POLLIN) ? CURL_CSELECT_IN : 0) |
				((re & POLLOUT) ? CURL_CSELECT_OUT : 0) |
				((re & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
			n++;
		}
		for (int i = 0; i < n; i++)
			curl_multi_socket_action(pool->multi, ready_fd[i], ready_mask[i], &running);
	}
	gw_pool_timer_run(pool);
}

bool
gw_http_pool_next(GwHttpPool *pool, void **tag, GwHttpResponse *resp)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(pool->multi, &left)) != NULL)
	{
		GwPoolSlot *slot = NULL;
		instr_time	end;
		CURLcode	rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &slot);
		memset(resp, 0, sizeof(*resp));
		INSTR_TIME_SET_CURRENT(end);
		INSTR_TIME_SUBTRACT(end, slot->start);
		resp->elapsed_ms = INSTR_TIME_GET_MILLISEC(end);
		/* the slot is free again before anything that may raise */
		curl_multi_remove_handle(pool->multi, slot->easy);
		*tag = slot->tag;
		slot->busy = false;
		slot->tag = NULL;
		pool->free_stack[pool->nfree++] = slot - pool->slots;
		pool->in_flight--;
		gw_take_response(slot->easy, &slot->recv, rc, resp);
		return true;
	}
	return false;
}

void
gw_http_append_escaped(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
			appendStringInfoChar(buf, (char) c);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[c >> 4]);
			appendStringInfoChar(buf, hex[c & 15]);
		}
	}
}

char *
gw_http_basic_auth(const char *user, const char *password)
{
	char	   *plain = psprintf("%s:%s", user, password);
	int			plen = strlen(plain);
	char	   *out = palloc(pg_b64_enc_len(plen) + 7);
	int			n;

	memcpy(out, "Basic ", 6);
	n = gw_b64_encode(plain, plen, out + 6, pg_b64_enc_len(plen));
	out[6 + Max(n, 0)] = '\0';
	explicit_bzero(plain, plen);
	pfree(plain);
	return out;
}
