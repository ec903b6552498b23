/*
 * http.h: the HTTP layer.  http.c is the only file that includes curl.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"

/* How a request failed below HTTP. */
typedef enum GwNetError
{
	GW_NET_OK = 0,
	GW_NET_NOT_SENT,			/* refused, unresolved, connect timeout: never sent */
	GW_NET_TIMEOUT,				/* sent, no (complete) answer in time */
	GW_NET_IO,					/* sent, connection broke or answer garbled */
	GW_NET_TOO_LARGE,			/* answer above gateway.max_response_size */
	GW_NET_TLS,					/* certificate or handshake failure: never sent */
	GW_NET_OTHER				/* anything else (bad URL, out of memory) */
} GwNetError;

typedef struct GwHttpRequest
{
	const char *method;			/* "GET" or "POST" */
	const char *url;
	const char *body;			/* POST body or NULL */
	int			body_len;
	const char *content_type;	/* NULL: none */
	const char *authorization;	/* Authorization header value or NULL */
	bool		fresh_connection;	/* never on a reused connection: libcurl
									 * resends a request whose reused
									 * connection died, which a payment must
									 * never be */
} GwHttpRequest;

typedef struct GwHttpResponse
{
	long		status;			/* HTTP status; 0 when no answer */
	GwNetError	net_error;
	char	   *error;			/* palloc'd, for net errors; never holds the URL */
	char	   *body;			/* palloc'd, NUL-terminated */
	int			body_len;
	double		elapsed_ms;
	int			retry_after_s;	/* Retry-After of a 429/503, else 0 */
} GwHttpResponse;

/* GUCs */
extern int	gw_connect_timeout_ms;
extern int	gw_request_timeout_ms;
extern int	gw_max_response_kb;
extern bool gw_tls_verify;
extern char *gw_ca_file;
extern char *gw_allowed_hosts;
extern bool gw_allow_http;

/* The providers' production hosts: gateway.allowed_hosts's default. */
#define GW_DEFAULT_ALLOWED_HOSTS \
	"api.vaspro.co.ke,api.umeskiasoftwares.com,vtpass.com,nenasasa.com"

/* GUC check hook of gateway.allowed_hosts. */
extern bool gw_allowed_hosts_check(char **newval, void **extra, GucSource source);

/*
 * NULL when url may be requested: http(s), a host in gateway.allowed_hosts,
 * plain http only with gateway.allow_http.  Else why not (palloc'd; names
 * the host, never the whole URL, which may hold credentials).
 */
extern char *gw_http_url_refusal(const char *url);

/* ERROR (42501) unless url may be requested; what: "base_url", "request". */
extern void gw_http_require_allowed(const char *url, const char *what);

extern void gw_http_init(void);

/* Send one request and wait for its answer; honours cancel and
 * statement_timeout.  Never raises for network failures. */
extern void gw_http_perform(const GwHttpRequest *req, GwHttpResponse *resp);

/*
 * Many requests in flight at once (the outbox worker).  A pool owns its curl
 * handles; requests are tagged by the caller and come back, finished, in
 * the order they finish.
 */
typedef struct GwHttpPool GwHttpPool;

extern GwHttpPool *gw_http_pool_create(int size);
extern int	gw_http_pool_free_slots(GwHttpPool *pool);
extern int	gw_http_pool_in_flight(GwHttpPool *pool);
/* Start a request; false when no slot is free.  req's strings are copied. */
extern bool gw_http_pool_start(GwHttpPool *pool, const GwHttpRequest *req, void *tag);
/* Start the transfers just added; with timeout_ms > 0, also wait up to
 * timeout_ms for a socket to be ready and move the ready transfers along. */
extern void gw_http_pool_run(GwHttpPool *pool, int timeout_ms);
/* The next finished request: its tag and response (palloc'd in the current
 * context); false when none is finished. */
extern bool gw_http_pool_next(GwHttpPool *pool, void **tag, GwHttpResponse *resp);

/* Percent-encode UTF-8 text for a URL path segment or query value. */
extern void gw_http_append_escaped(StringInfo buf, const char *s);

/* base64 of "user:password" for Basic authentication. */
extern char *gw_http_basic_auth(const char *user, const char *password);

#endif
