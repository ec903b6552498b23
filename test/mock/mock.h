/*
 * gw-mock: shared declarations.
 *
 * mock.c            daemon, request lifecycle, delays, control API
 * mock_store.c      request log, faults, config, keyed state, message log
 * mock_json.c       arena, string builder, JSON reader/writer, decoders
 * mock_providers.c  the five providers' routes
 * mock_wire.c       answers that misbehave on the wire, the port that hangs
 */
#ifndef GW_MOCK_H
#define GW_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;

/* ---------------------------------------------------------------- memory */

/* Abort on allocation failure: the mock has no sensible way to go on. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);

/* A per-request bump allocator, freed in one go. */
typedef struct arena_block arena_block;
typedef struct arena
{
	arena_block *head;
} arena;

void *arena_alloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
void arena_free(arena *a);

/* A growable byte string, always NUL-terminated. */
typedef struct sb
{
	char	   *p;
	size_t		len;
	size_t		cap;
} sb;

void sb_put(sb *b, const char *s, size_t n);
void sb_puts(sb *b, const char *s);
void sb_putc(sb *b, char c);
void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a quoted JSON string; invalid UTF-8 bytes become \u00XX. */
void sb_json_str(sb *b, const char *s, size_t n);
void sb_json_cstr(sb *b, const char *s);
void sb_free(sb *b);
/* Hand the buffer over to the caller (never NULL). */
char *sb_take(sb *b, size_t *len);

/* ------------------------------------------------------------------ JSON */

enum jtype
{
	JV_NULL, JV_FALSE, JV_TRUE, JV_NUM, JV_STR, JV_ARR, JV_OBJ
};

typedef struct jv jv;
struct jv
{
	enum jtype	type;
	const char *key;			/* member name inside an object */
	size_t		klen;
	const char *s;				/* string: decoded bytes; number: source text */
	size_t		len;
	double		num;
	size_t		count;			/* members of an array or object */
	jv		   *child;
	jv		   *next;
};

/* Parse one JSON document; NULL when it is not valid JSON. */
jv *json_parse(arena *a, const char *text, size_t len);
/* Member of an object by name (NULL if absent or obj not an object). */
jv *jget(const jv *obj, const char *key);
/* First member present under any of the NULL-terminated names. */
jv *jget_any(const jv *obj, const char *const *names);
/* Text of a string or number value, else NULL. */
const char *jstr(const jv *v, size_t *len);
/* A value counts as given when present, not null and not "". */
bool jgiven(const jv *v);
/* Numeric value of a number or numeric string; false otherwise. */
bool jnum(const jv *v, double *out);
/* Append a value re-serialised as JSON. */
void sb_jv(sb *b, const jv *v);
bool jeq(const jv *v, const char *s);

/* application/x-www-form-urlencoded into an object of strings. */
jv *form_parse(arena *a, const char *text, size_t len);

/* Percent-decoding into the arena; plus_space turns '+' into ' '. */
char *pct_decode(arena *a, const char *s, size_t n, size_t *outlen, bool plus_space);
/* Value of name in a raw query string (decoded), NULL if absent. */
char *query_param(arena *a, const char *query, const char *name);
/* Standard base64 (padding optional); NULL on bad input. */
char *base64_decode(arena *a, const char *s, size_t n, size_t *outlen);

/* SMS segments for a UTF-8 message (GSM-7 or UCS-2 rules). */
int sms_segments(const char *s, size_t n, bool *ucs2, size_t *chars);

/* --------------------------------------------------------------- request */

#define FAULT_MAX_HEADERS 8

typedef struct reply
{
	int			status;
	const char *ctype;
	sb			body;
	bool		drop;			/* close the connection, answer nothing */
	long		delay_ms;		/* answer after this long */
	const char *hdr_name;		/* one optional extra header */
	char		hdr_value[256];
	const char *xhdr[2 * FAULT_MAX_HEADERS];	/* a fault's headers: name, value, ... */
	int			nxhdr;
	/* How the body goes on the wire (mock_wire.c): chunk > 0 sends it chunk
	 * bytes every interval_ms; cut stops after cut_at bytes (-1: half), with
	 * a pause of interval_ms, then closes (a reset when reset is set) while
	 * Content-Length still promises the whole body. */
	long		chunk;
	long		interval_ms;
	bool		cut;
	bool		reset;
	long		cut_at;
} reply;

typedef struct req
{
	struct MHD_Connection *conn;
	arena		a;
	char	   *uri;			/* raw request target */
	char	   *path;			/* raw path, still percent-encoded */
	size_t		path_len;
	char	   *query;			/* raw query string, "" if none */
	const char *method;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	size_t		body_seen;		/* bytes sent by the client */
	bool		too_large;
	int			phase;
	reply		out;
	void	   *stream;			/* control API streaming context */
} req;

/* Header value by (case-insensitive) name, NULL if absent. */
const char *req_header(req *r, const char *name);
/* All request headers as a JSON object, names lower-cased. */
void req_headers_json(req *r, sb *b);

void reply_json(reply *o, int status, const char *json);
void reply_text(reply *o, int status, const char *ctype, const char *text);

/* Provider dispatch; false when the path belongs to no provider. */
bool providers_route(req *r, reply *o);
/* The payment-result callback a provider would send for a checkout id
 * (VasPro CheckoutRequestID or Umeskia tranasaction_request_id):
 * 1 written to out, 0 unknown id, -1 no result yet (pending). */
int providers_callback(const char *id, sb *out);

/* ---------------------------------------------------------------- store */

typedef struct config
{
	double		nenasasa_token_ttl;		/* seconds */
	double		nenasasa_refresh_ttl;	/* seconds */
	long		vtpass_timeout_ms;
	bool		record;
} config;

void store_init(size_t max_records, size_t max_bytes, bool record);
void store_reset(void);
config config_get(void);
/* Apply a JSON object of settings; on error fills err and returns false. */
bool config_set(const jv *obj, char *err, size_t errlen);
void config_json(sb *b);

/* Request log. */
void log_request(req *r);
uint64_t log_requests_seen(void);
size_t log_count(void);
uint64_t log_generation(void);
/* Append the NDJSON line of the next record with id > *cursor (and <= last)
 * whose raw path starts with prefix; false when none is left. */
bool log_next_line(uint64_t *cursor, uint64_t last, const char *prefix,
				   uint64_t gen, sb *out);
uint64_t log_last_id(void);

/* Faults. */
enum fault_action
{
	FA_STATUS, FA_DROP, FA_MALFORMED, FA_DELAY, FA_TRICKLE, FA_RESET,
	FA_TRUNCATE, FA_LARGE
};

typedef struct fault
{
	struct fault *next;
	uint64_t	id;
	char	   *prefix;
	long		count;
	int			status;
	char	   *body;
	char	   *ctype;
	long		delay_ms;
	enum fault_action action;
	bool		answer;			/* status or body given: answer them, not the
								 * provider (trickle, reset, truncate) */
	char	   *match;			/* only requests whose body holds this */
	char	   *hdrs[2 * FAULT_MAX_HEADERS];	/* name, value, ... */
	int			nhdrs;
	long		chunk;			/* trickle: bytes per write */
	long		interval_ms;	/* trickle: between writes; reset, truncate:
								 * the pause before the cut */
	long		after;			/* reset, truncate: bytes sent; -1: half */
	long		size;			/* large: body bytes */
} fault;

bool fault_add(const jv *obj, char *err, size_t errlen, uint64_t *id);
/* Consume one count of the first fault matching the request's path and
 * body; copy into *out. */
bool fault_take(const char *path, size_t path_len, const char *body, size_t body_len,
				fault *out);
void fault_release(fault *f);
void faults_json(sb *b);

/* Keyed state: named maps of key -> string, under one lock. */
enum smap
{
	MAP_VASPRO_BULK,		/* apiKey \0 uniqueId -> correlator */
	MAP_VASPRO_REWARD,		/* apiKey \0 unique_id -> correlator */
	MAP_VASPRO_CHECKOUT,	/* CheckoutRequestID -> stk record */
	MAP_UMESKIA_SMS,		/* request_id -> sms record */
	MAP_UMESKIA_STK,		/* tranasaction_request_id -> stk record */
	MAP_UMESKIA_VOUCHER,	/* api_key \0 voucher -> "1" */
	MAP_VTPASS_TX,			/* request_id -> requery body */
	MAP_NENASASA_ACCESS,	/* access token -> record */
	MAP_NENASASA_REFRESH,	/* refresh token -> record */
	MAP_COUNT
};

void state_lock(void);
void state_unlock(void);
/* Both below expect the state lock held. Returned pointers stay valid until
 * the entry is replaced or the state is reset (do not keep them unlocked). */
const char *state_get(enum smap m, const char *key, size_t klen, size_t *vlen);
void state_put(enum smap m, const char *key, size_t klen, const char *val, size_t vlen);
void state_del(enum smap m, const char *key, size_t klen);

/* Reward transactions, for /v3/rewards/view/transaction. */
void rewards_add(const char *api_key, const char *json_obj);
void rewards_json(sb *b, const char *api_key, size_t limit);

/* Decoded accepted messages, for GET /_mock/messages. */
void messages_add(const char *provider, const char *id, const char *sender,
				  const char *recipient, const char *message, size_t msglen);
bool messages_next_line(uint64_t *cursor, uint64_t last, const char *provider,
						uint64_t gen, sb *out);
uint64_t messages_last_id(void);
uint64_t messages_generation(void);

/* Unique sequence numbers, never reset. */
uint64_t next_seq(void);
/* A correlator-style unique id. */
void make_correlator(char *buf, size_t len);

/* ------------------------------------------------------------------ wire */

/* Suspend a connection for ms (mock.c's timer resumes it); false when
 * shutting down. Call from the access handler or a content reader only. */
bool delay_connection(struct MHD_Connection *c, long ms);

struct MHD_Response;
/* The response for a reply whose body must misbehave (o->chunk or o->cut);
 * takes the body. NULL on failure. */
struct MHD_Response *wire_response(struct MHD_Connection *c, reply *o);
/* A 200 JSON answer of about size bytes (a padded VasPro success). */
void reply_large(reply *o, long size);
/* The port of a listener that never accepts, opened on first use on addr
 * (its queue is kept full, so a connect hangs until the client gives up);
 * -1 on failure. */
int hang_port(const char *addr);

/* Milliseconds of a monotonic clock / wall clock. */
uint64_t now_mono_ms(void);
double now_wall(void);

#endif
