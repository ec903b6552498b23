/*
 * result.c: the one result shape of every call, built from outcome.c's
 * decision (which also sets the call's outbox status, call->outcome).
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

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

Jsonb *
gw_result_build(GwCall *call)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	GwStatus	status;
	bool		retryable;
	char	   *error;
	bool		ok;
	Jsonb	   *data = NULL;

	gw_outcome_decide(call, &call->outcome);
	status = call->outcome.status;
	retryable = call->outcome.retryable;
	error = call->outcome.error;
	ok = (status == GW_ACCEPTED || status == GW_DELIVERED || status == GW_PENDING);

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

	/*
	 * The keys in jsonb's own order (shorter first, then bytewise): the
	 * object's sort at its end then finds them sorted and moves nothing.
	 */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	gw_push_bool(&st, "ok", ok);
	gw_push_jsonb(&st, "data", data);
	gw_push_str(&st, "error", error);
	gw_push_str(&st, "status", gw_status_name(status));
	gw_push_str(&st, "provider", call->account->provider->name);
	gw_push_str(&st, "operation", call->op->name);
	gw_push_bool(&st, "retryable", retryable);
	/* tenths of a millisecond, without formatting a float */
	gw_push_num(&st, "elapsed_ms",
				NumericGetDatum(int64_div_fast_to_numeric((int64) llround(call->resp.elapsed_ms * 10.0), 1)));
	if (call->resp.status > 0)
		gw_push_num(&st, "http_status", NumericGetDatum(int64_to_numeric(call->resp.status)));
	else
		gw_push_str(&st, "http_status", NULL);
	gw_push_str(&st, "provider_ref", call->provider_ref);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}
