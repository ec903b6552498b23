/*
 * provider.h: what a provider is.  A provider file holds a table of
 * operations plus a request builder and a response parser; everything the
 * providers share (params, result shape, HTTP) is written once elsewhere.
 */
#ifndef GW_PROVIDER_H
#define GW_PROVIDER_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "http.h"
#include "outcome.h"

struct GwAccount;
struct GwJsonWriter;
struct GwToken;


/* How a param is checked and normalized before the builder sees it. */
typedef enum GwParamType
{
	GW_P_TEXT,					/* any non-empty scalar, as text */
	GW_P_MESSAGE,				/* SMS text: non-empty */
	GW_P_SENDER,				/* sender id: 1..11 characters */
	GW_P_PHONE,					/* one phone number, normalized */
	GW_P_PHONES,				/* phone numbers: array or comma list, normalized */
	GW_P_INT,					/* integer */
	GW_P_AMOUNT,				/* positive number */
	GW_P_JSON					/* any JSON value, passed through */
} GwParamType;

typedef struct GwParamSpec
{
	const char *name;			/* our name, the same for every provider */
	GwParamType type;
	bool		required;
	const char *field;			/* the provider's field; NULL: the builder
								 * places it itself */
} GwParamSpec;


#define GW_OP_PAYMENT	0x01	/* moves money: never retried blindly */
#define GW_OP_SMS		0x02	/* sends a message */
#define GW_OP_OWN_KEY	0x04	/* the provider dictates its key's form: a
								 * queued row without a key keeps the one
								 * the builder makes (VTpass request_id) */

/* One call on its way: what the builder fills and the parser reads. */
typedef struct GwCall
{
	const struct GwAccount *account;
	const struct GwOperation *op;
	char	  **pvals;			/* param values by op->params index, checked
								 * and normalized; NULL when not given.  JSON
								 * params hold JSON text. */

	/* request, filled by the builder */
	const char *method;
	StringInfoData url;
	StringInfoData body;
	const char *content_type;
	char	   *authorization;
	List	   *secrets;		/* strings of this call to keep out of the
								 * answer, e.g. OAuth tokens */
	bool		unsendable;		/* authorize could not get a token: send
								 * nothing; resp holds the token call's
								 * answer for the parser and the result */
	const char *refused;		/* gateway refuses to send (every recipient
								 * opted out): the result is rejected with
								 * this error, nothing is sent */

	/* answer */
	GwHttpResponse resp;
	Jsonb	   *json;			/* the answer parsed as JSON, or NULL */

	/* outcome, filled by the parser for answers with HTTP 2xx */
	GwStatus	status;
	char	   *provider_ref;
	char	   *error;
	bool		malformed;		/* the answer is not what the provider sends */
	GwRetry		retry;			/* retryable, when not the default */
	char	   *data;			/* JSON text for "data"; NULL: the answer itself */
	char	   *match_key;		/* what the provider's callbacks will name this
								 * request by (a payment's checkout or
								 * transaction request id) */
	GwPaid		paid;			/* a customer's payment the answer reports */
	char	   *cost;			/* what the provider says the request cost
								 * us, a plain decimal (gw_cost_number);
								 * NULL when its answer does not say */

	/* set by the caller before gw_call_complete: the outbox row, or NULL */
	const GwRowState *row;
	/* set by gw_call_complete: outcome.c's decision */
	GwOutcome	outcome;
} GwCall;

/*
 * A callback as the provider's parser reads it (see parse_callback).  The
 * keys name the row it is about; status is what it says (delivered: the
 * message reached the phone, or the customer paid; failed: it did not;
 * pending or unknown: nothing final).
 */
typedef struct GwInbound
{
	const char *kind;			/* "dlr" or "payment" */
	char	   *key;			/* dlr: our idempotency key (uniqueId);
								 * payment: the row's match_key */
	char	   *key2;			/* another match_key to try, or NULL */
	char	   *correlator;		/* dlr: the provider's reference of the send */
	GwStatus	status;
	GwPaid		paid;			/* payment: what it says was paid */
	char	   *code;			/* the provider's code, as sent */
	char	   *description;	/* the provider's words, or ours */
	char	   *detail;			/* JSON text kept under result->'callback' */
	char	   *error;			/* the body can never be applied: why */
} GwInbound;

typedef void (*GwBuildFn) (GwCall *call);
typedef void (*GwParseFn) (GwCall *call);

typedef struct GwOperation
{
	const char *name;			/* "sms.send" */
	const char *description;
	const char *method;			/* "GET" or "POST" */
	const char *path;			/* documented path, for gw_operations() */
	const GwParamSpec *params;	/* ends with {NULL} */
	int			flags;
	GwBuildFn	build;
	GwParseFn	parse;

	/*
	 * For the outbox.  key_param: the param that carries the idempotency key
	 * to the provider (VasPro unique_id, VTpass request_id, Umeskia
	 * reference); the worker fills it with the row's key, so a retry carries
	 * the same key.  NULL when the provider takes none.
	 *
	 * reconcile_op: for a payment whose outcome is unknown, the operation of
	 * the same provider that asks for its status, and reconcile_param the
	 * param of that operation that takes the row's idempotency key.  NULL
	 * when the provider cannot be asked by our key (the row then waits for
	 * a callback or an operator).
	 */
	const char *key_param;
	const char *reconcile_op;
	const char *reconcile_param;
	bool		reconcile_by_match_key;	/* the status query takes the row's
										 * match_key (the provider's id of the
										 * request), not our key */
} GwOperation;

typedef struct GwProvider
{
	const char *name;
	const char *base_url;		/* production URL; NULL: must be given */
	const char *const *credentials;	/* required credential fields, NULL-ended */
	const GwOperation *ops;
	int			nops;
	const char *sms_op;			/* op behind gw_send_sms, or NULL */
	const char *queue_sms_op;	/* op behind gw_queue_sms when it differs
								 * (one that takes an idempotency key) */
	const char *stk_op;			/* op behind gw_stk_push, or NULL */
	const char *balance_op;		/* op behind gw_balance, or NULL */
	double		rate_limit;		/* default messages per second; 0: none */

	/*
	 * Optional: set call->authorization for a built request, from a token
	 * the provider hands out (OAuth).  refresh: the last token was refused
	 * with 401, get a new one.  Add the tokens to call->secrets.  When no
	 * token can be had, set call->unsendable and put the token call's answer
	 * in call->resp: the request is not sent and the parser reports the
	 * failure.  NULL for providers whose key is in the request itself.
	 */
	void		(*authorize) (GwCall *call, bool refresh);

	/*
	 * The same in steps, for the outbox worker, which sends the token
	 * request through its pool, outside any transaction, once for all the
	 * claimed rows of an account.  token_request: the request (a refresh
	 * grant with refresh_token, else with the password), its strings in
	 * the current memory context.  token_answer: the token of its answer
	 * (wiped from the answer); false when it holds none, resp->error set
	 * for a network failure.  authorize_with: give a built call a token,
	 * adding it to call->secrets.  NULL where authorize is.
	 */
	void		(*token_request) (const struct GwAccount *acc, const char *refresh_token,
								  GwHttpRequest *req);
	bool		(*token_answer) (GwHttpResponse *resp, TimestampTz fetched_at,
								 struct GwToken *tok);
	void		(*authorize_with) (GwCall *call, const struct GwToken *tok);

	/*
	 * Optional: read a callback of kind "dlr" or "payment" (the account's
	 * provider's, never guessed from the body) into in, from the provider's
	 * own code table.  A body that can never be applied sets in->error;
	 * false: this provider sends no callbacks of that kind.
	 */
	bool		(*parse_callback) (const char *kind, Jsonb *body, GwInbound *in);
} GwProvider;

/* Registry (provider.c) */
extern const GwProvider *gw_provider_find(const char *name);
extern const GwProvider *const *gw_providers(int *n);
extern const GwOperation *gw_operation_find(const GwProvider *p, const char *name);
extern const GwOperation *gw_operation_lookup(const GwProvider *p, const char *name);
extern void gw_params_check(GwCall *call, Jsonb *params);

/* Builder helpers shared by providers */
extern char *gw_param(GwCall *call, const char *name);
/* The same, or NULL when the operation has no such param. */
extern char *gw_param_find(GwCall *call, const char *name);
/* Give a param a value the builder made up (a generated key), so that later
 * readers (the outbox, which keeps the key for retries) see it. */
extern void gw_param_set(GwCall *call, const char *name, char *value);
extern void gw_call_url(GwCall *call, const char *path);
extern char *gw_default_sender(GwCall *call, const char *fallback);
extern char *gw_callback(GwCall *call);
extern void gw_write_params(GwCall *call, struct GwJsonWriter *w);
extern char *gw_random_id(const char *prefix);

/* The providers */
extern const GwProvider gw_vaspro;
extern const GwProvider gw_mspace;
extern const GwProvider gw_umeskia;
extern const GwProvider gw_vtpass;
extern const GwProvider gw_nenasasa;

#endif
