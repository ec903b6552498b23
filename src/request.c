/*
 * request.c: one call's life: prepare, send, complete.  The synchronous
 * functions send with gw_http_perform; the outbox worker sends the same
 * prepared requests many at a time.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "journal.h"
#include "mask.h"
#include "jsonutil.h"
#include "optout.h"
#include "pause.h"
#include "request.h"
#include "result.h"
#include "shmem.h"
#include "stats.h"

/* Scratch memory of the synchronous path, reset at the start of every call. */
static MemoryContext gw_call_cxt = NULL;

static bool
gw_looks_like_json(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return *s == '{' || *s == '[';
}

void
gw_call_prepare(GwCall *call, const GwAccount *acc, const char *operation, Jsonb *params)
{
	memset(call, 0, sizeof(*call));
	call->account = acc;
	call->op = gw_operation_lookup(acc->provider, operation);
	call->method = call->op->method;
	initStringInfo(&call->url);
	initStringInfo(&call->body);
	gw_params_check(call, params);
	gw_optout_filter(call);
	if (call->refused == NULL)
		call->op->build(call);
}

void
gw_call_authorize(GwCall *call, bool refresh)
{
	if (call->account->provider->authorize && call->refused == NULL)
		call->account->provider->authorize(call, refresh);
}

void
gw_call_request(GwCall *call, GwHttpRequest *req)
{
	/* the hosts allowed now, not when the account was stored; a call
	 * refused before it was built goes nowhere */
	if (call->refused == NULL && !call->unsendable)
		gw_http_require_allowed(call->url.data, "request");
	memset(req, 0, sizeof(*req));
	req->method = call->method;
	req->url = call->url.data;
	req->body = call->body.len ? call->body.data : NULL;
	req->body_len = call->body.len;
	req->content_type = call->content_type;
	req->authorization = call->authorization;
	/* libcurl resends on a reused connection that died: never a payment */
	req->fresh_connection = (call->op->flags & GW_OP_PAYMENT) != 0;
}

/* The result's fields that hold what the provider said. */
static const char *const gw_provider_fields[] = {"data", "error", "provider_ref", NULL};

Jsonb *
gw_call_complete(GwCall *call)
{
	const GwAccount *acc = call->account;
	GwSecrets	secrets;
	Jsonb	   *result;
	ListCell   *lc;

	secrets.v = acc->secrets;
	secrets.n = acc->nsecrets;
	secrets.more = list_copy(call->secrets);
	secrets.min_len = 0;
	/* the credential of the Authorization header (VTpass: Basic's base64) */
	if (call->authorization)
	{
		const char *sp = strchr(call->authorization, ' ');

		secrets.more = lappend(secrets.more, pstrdup(sp ? sp + 1 : call->authorization));
		secrets.more = lappend(secrets.more, pstrdup(call->authorization));
	}

	/* The request held secrets: wipe it. */
	explicit_bzero(call->body.data, call->body.len);
	explicit_bzero(call->url.data, call->url.len);
	if (call->authorization)
		explicit_bzero(call->authorization, strlen(call->authorization));

	/*
	 * JSON is parsed as it came and masked value by value in the result
	 * (short secrets too), so masking never changes what it means.  Other
	 * text is masked before its parser reads it, with the secrets that
	 * cannot be mistaken for the provider's words (mask.h).
	 */
	if (call->resp.net_error == GW_NET_OK && call->refused == NULL &&
		gw_looks_like_json(call->resp.body))
		call->json = gw_json_parse(call->resp.body, call->resp.body_len);
	if (call->json == NULL)
	{
		secrets.min_len = GW_MASK_SHORT;
		(void) gw_mask_text(&secrets, call->resp.body);
		secrets.min_len = 0;
	}
	(void) gw_mask_text(&secrets, call->resp.error);
	if (call->resp.net_error == GW_NET_OK && call->refused == NULL)
	{
		call->status = GW_UNKNOWN;
		call->op->parse(call);
	}
	result = gw_mask_jsonb_fields(&secrets, gw_result_build(call), gw_provider_fields);
	gw_stat_call(call);

	if (call->resp.body)
		explicit_bzero(call->resp.body, call->resp.body_len);
	foreach(lc, secrets.more)
		explicit_bzero(lfirst(lc), strlen(lfirst(lc)));
	return result;
}

Jsonb *
gw_call_run(const char *account, const char *operation, Jsonb *params,
			GwOutboxStatus *outbox, char **match_key, char **cost)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	const GwAccount *acc;
	GwCall		call;
	GwHttpRequest req;
	Jsonb	   *result;
	Jsonb	   *copy;

	if (gw_call_cxt == NULL)
		gw_call_cxt = AllocSetContextCreate(TopMemoryContext, "gateway call",
											ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(gw_call_cxt);

	acc = gw_account_get(account);
	gw_pause_require_active(acc);
	gw_journal_forget_key();
	MemoryContextSwitchTo(gw_call_cxt);

	gw_call_prepare(&call, acc, operation, params);
	gw_call_authorize(&call, false);
	if (!call.unsendable && call.refused == NULL)
	{
		gw_call_request(&call, &req);
		/* a payment is written down before it goes out (journal.c) */
		if ((call.op->flags & GW_OP_PAYMENT) && gw_shmem_ready())
			gw_journal_open(acc, call.op, params,
							call.op->key_param ? gw_param(&call, call.op->key_param) : NULL);
		gw_http_perform(&req, &call.resp);
	}

	/* A provider whose token was refused gets one fresh token and one retry. */
	if (!call.unsendable && call.refused == NULL && call.resp.status == 401 && acc->provider->authorize)
	{
		gw_call_authorize(&call, true);
		if (!call.unsendable)
		{
			gw_call_request(&call, &req);
			gw_http_perform(&req, &call.resp);
		}
	}

	call.row = NULL;
	result = gw_call_complete(&call);
	MemoryContextSwitchTo(oldcxt);
	copy = palloc(VARSIZE(result));
	memcpy(copy, result, VARSIZE(result));
	if (outbox)
		*outbox = call.outcome.outbox;
	if (match_key)
		*match_key = call.match_key ? pstrdup(call.match_key) : NULL;
	if (cost)
		*cost = call.cost ? pstrdup(call.cost) : NULL;
	MemoryContextReset(gw_call_cxt);
	return copy;
}
