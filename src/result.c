/*
 * result.c: the one result shape of every call, and the one place that maps
 * network failures, HTTP statuses and provider verdicts to it.
 *
 * The rule, whatever the provider:
 *   - never sent (refused, unresolved, connect timeout): failed, retryable;
 *   - sent but the outcome is not known (timeout, broken or unreadable
 *     answer, 5xx): unknown; retryable when a retry carries the same
 *     idempotency key, never for payments, which are reconciled by a status
 *     query instead, nor for messages sent without a key;
 *   - 429 and 503: failed, retryable (the provider says it did nothing);
 *   - other 4xx: rejected, not retryable (the request itself is wrong);
 *   - 2xx: what the provider's parser says; retryable when it failed and is
 *     not a payment, unless the parser decides (call->retry);
 *   - a request that could not get its token was never sent: the token
 *     call's outcome as above, but never unknown (failed, retryable).
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "account.h"
#include "jsonutil.h"
#include "result.h"

static void
gw_push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
gw_push_str(JsonbParseState **st, const char *key, const char *val)
{
	JsonbValue	v;

	gw_push_key(st, key);
	if (val == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) val;
		v.val.string.len = strlen(val);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
gw_push_bool(JsonbParseState **st, const char *key, bool val)
{
	JsonbValue	v;

	gw_push_key(st, key);
	v.type = jbvBool;
	v.val.boolean = val;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
gw_push_num(JsonbParseState **st, const char *key, Datum numeric)
{
	JsonbValue	v;

	gw_push_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(numeric);
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
gw_push_jsonb(JsonbParseState **st, const char *key, Jsonb *jb)
{
	JsonbValue	v;

	gw_push_key(st, key);
	if (jb == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	if (JB_ROOT_IS_SCALAR(jb))
	{
		/* a raw scalar is stored as a one-element array */
		JsonbExtractScalar(&jb->root, &v);
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &jb->root;
	v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * Whether a request whose outcome is unknown may be sent again: never a
 * payment (it is reconciled instead), nor a message sent without an
 * idempotency key (the provider could not tell a second copy from a new
 * message).
 */
static bool
gw_resendable(const GwCall *call)
{
	int			flags = call->op->flags;

	if (flags & GW_OP_PAYMENT)
		return false;
	return !(flags & GW_OP_SMS) || call->op->key_param != NULL;
}

/* Decide status, retryable and error from what happened. */
static void
gw_classify(GwCall *call, GwStatus *status, bool *retryable, char **error)
{
	GwHttpResponse *r = &call->resp;
	bool		payment = (call->op->flags & GW_OP_PAYMENT) != 0;
	long		code = r->status;

	*error = call->error;
	if (call->refused)
	{
		*status = GW_REJECTED;
		*retryable = false;
		*error = pstrdup(call->refused);
		return;
	}
	switch (r->net_error)
	{
		case GW_NET_OK:
			break;
		case GW_NET_NOT_SENT:
			*status = GW_FAILED;
			*retryable = true;
			*error = r->error;
			return;
		case GW_NET_TLS:
		case GW_NET_OTHER:
			*status = GW_FAILED;
			*retryable = false;
			*error = r->error;
			return;
		case GW_NET_TIMEOUT:
		case GW_NET_IO:
		case GW_NET_TOO_LARGE:
			*status = GW_UNKNOWN;
			*retryable = gw_resendable(call);
			*error = r->error;
			return;
	}

	if (code >= 200 && code < 300)
	{
		if (call->malformed)
		{
			*status = GW_UNKNOWN;
			*retryable = gw_resendable(call);
			if (*error == NULL)
				*error = psprintf("unreadable answer from %s (HTTP %ld)",
								  call->account->provider->name, code);
			return;
		}
		*status = call->status;
		if (call->retry != GW_RETRY_DEFAULT)
			*retryable = (call->retry == GW_RETRY_YES);
		else
			*retryable = (call->status == GW_FAILED && !payment);
		return;
	}
	if (code == 429 || code == 503)
	{
		*status = GW_FAILED;
		*retryable = true;
	}
	else if (code >= 500 || code == 408)
	{
		*status = payment ? GW_UNKNOWN : GW_FAILED;
		*retryable = !payment;
	}
	else if (code >= 400)
	{
		*status = GW_REJECTED;
		*retryable = false;
	}
	else
	{
		*status = GW_FAILED;
		*retryable = false;
		if (*error == NULL)
			*error = psprintf("unexpected HTTP status %ld", code);
		return;
	}
	if (*error == NULL)
		*error = psprintf("HTTP %ld from %s", code, call->account->provider->name);
}

Jsonb *
gw_result_build(GwCall *call)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	GwStatus	status = GW_UNKNOWN;
	bool		retryable = false;
	char	   *error = NULL;
	bool		ok;
	Jsonb	   *data = NULL;

	gw_classify(call, &status, &retryable, &error);
	if (call->unsendable && status == GW_UNKNOWN)
	{
		/* only the token call went out: the request itself never did */
		status = GW_FAILED;
		retryable = true;
	}
	ok = (status == GW_ACCEPTED || status == GW_DELIVERED || status == GW_PENDING);
	if (ok)
		error = NULL;
	if (error)
		gw_account_redact(call->account, error);

	if (call->data)
		data = gw_json_parse(call->data, strlen(call->data));
	else if (call->json)
		data = call->json;
	else if (call->resp.body_len > 0)
	{
		/* not JSON: keep the text as a JSON string */
		StringInfoData s;

		initStringInfo(&s);
		escape_json(&s, call->resp.body);
		data = gw_json_parse(s.data, s.len);
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	gw_push_bool(&st, "ok", ok);
	gw_push_str(&st, "status", gw_status_name(status));
	gw_push_str(&st, "provider", call->account->provider->name);
	gw_push_str(&st, "operation", call->op->name);
	gw_push_str(&st, "provider_ref", call->provider_ref);
	if (call->resp.status > 0)
		gw_push_num(&st, "http_status",
					DirectFunctionCall1(int4_numeric, Int32GetDatum((int32) call->resp.status)));
	else
		gw_push_str(&st, "http_status", NULL);
	gw_push_str(&st, "error", error);
	gw_push_bool(&st, "retryable", retryable);
	gw_push_num(&st, "elapsed_ms",
				DirectFunctionCall1(float8_numeric,
									Float8GetDatum(round(call->resp.elapsed_ms * 10.0) / 10.0)));
	gw_push_jsonb(&st, "data", data);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}
