/*
 * call.c: the synchronous SQL functions.  Each is thin: check its arguments,
 * turn them into params, hand them to gw_call_run (request.c).
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "account.h"
#include "jsonutil.h"
#include "outbox.h"
#include "provider.h"
#include "request.h"
#include "circuit.h"
#include "rights.h"
#include "route.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_call);
PG_FUNCTION_INFO_V1(gw_send_sms);
PG_FUNCTION_INFO_V1(gw_stk_push);
PG_FUNCTION_INFO_V1(gw_balance);
PG_FUNCTION_INFO_V1(gw_operations);

/* The provider's operation behind a shortcut, or a clear ERROR. */
static const char *
gw_shortcut_op(const char *account, const char *opname, const char *shortcut)
{
	const GwAccount *acc = gw_account_get(account);

	if (opname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("provider \"%s\" has no operation behind %s()",
						acc->provider->name, shortcut),
				 errhint("gw_operations() lists what %s offers; call one with gw_call().",
						 acc->provider->name)));
	return opname;
}

/* Run a call now; a payment is also recorded for its callback. */
static Jsonb *
gw_call_sync(const char *account, const char *operation, Jsonb *params)
{
	Jsonb	   *result;
	GwOutboxStatus outbox;
	char	   *match_key;
	char	   *cost;

	gw_outbox_check_sync(account, operation);
	result = gw_call_run(account, operation, params, &outbox, &match_key, &cost);
	gw_outbox_record_sync(account, operation, params, result, outbox, match_key, cost);
	return result;
}

/* gw_call(account, operation, params) */
Datum
gw_call(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *operation = gw_arg_text(fcinfo, 1);

	gw_require(account, "account");
	gw_require(operation, "operation");
	gw_route_refuse(account, "gw_call");
	gw_rights_require(account, GW_RIGHT_SEND);
	PG_RETURN_JSONB_P(gw_call_sync(account, operation,
								   PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2)));
}

/* gw_send_sms(account, recipient, message, sender_id) */
Datum
gw_send_sms(PG_FUNCTION_ARGS)
{
	static const char *keys[] = {"recipient", "message", "sender_id"};
	char	   *vals[3];
	char	   *account = gw_arg_text(fcinfo, 0);
	const char *op;
	GwRouteChoice rc;
	Jsonb	   *result;

	vals[0] = gw_arg_text(fcinfo, 1);
	vals[1] = gw_arg_text(fcinfo, 2);
	vals[2] = gw_arg_text(fcinfo, 3);

	gw_require(account, "account");
	gw_require(vals[0], "recipient");
	gw_require(vals[1], "message");
	memset(&rc, 0, sizeof(rc));
	if (gw_route_resolve(account, vals[0], &rc))
	{
		account = gw_route_pick(&rc);
		vals[0] = rc.recipient;
	}
	gw_rights_require(account, GW_RIGHT_SEND);
	op = gw_shortcut_op(account, gw_account_get(account)->provider->sms_op, "gw_send_sms");
	result = gw_call_run(account, op, gw_jsonb_object(keys, vals, 3), NULL, NULL, NULL);
	if (rc.route != NULL)
	{
		/* which account the route took */
		static const char *rkeys[] = {"route", "account"};
		char	   *rvals[2] = {rc.route, account};

		result = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(result),
													JsonbPGetDatum(gw_jsonb_object(rkeys, rvals, 2))));
	}
	PG_RETURN_JSONB_P(result);
}

/* gw_stk_push(account, phone, amount, reference, description) */
Datum
gw_stk_push(PG_FUNCTION_ARGS)
{
	static const char *keys[] = {"phone", "amount", "reference", "description"};
	char	   *vals[4];
	char	   *account = gw_arg_text(fcinfo, 0);
	const char *op;

	vals[0] = gw_arg_text(fcinfo, 1);
	vals[1] = PG_ARGISNULL(2) ? NULL :
		DatumGetCString(DirectFunctionCall1(numeric_out, PG_GETARG_DATUM(2)));
	vals[2] = gw_arg_text(fcinfo, 3);
	vals[3] = gw_arg_text(fcinfo, 4);
	gw_require(account, "account");
	gw_require(vals[0], "phone");
	gw_require(vals[1], "amount");
	gw_route_refuse(account, "a payment");
	gw_rights_require(account, GW_RIGHT_SEND);
	op = gw_shortcut_op(account, gw_account_get(account)->provider->stk_op, "gw_stk_push");
	PG_RETURN_JSONB_P(gw_call_sync(account, op, gw_jsonb_object(keys, vals, 4)));
}

/* gw_balance(account) */
Datum
gw_balance(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	const char *op;

	gw_require(account, "account");
	gw_route_refuse(account, "gw_balance");
	gw_rights_require(account, GW_RIGHT_SEND);
	op = gw_shortcut_op(account, gw_account_get(account)->provider->balance_op, "gw_balance");
	PG_RETURN_JSONB_P(gw_call_run(account, op, NULL, NULL, NULL, NULL));
}

static Datum
gw_names_array(const GwOperation *op, bool required)
{
	Datum		elems[64];
	int			n = 0;

	for (const GwParamSpec *s = op->params; s->name && n < 64; s++)
		if (s->required == required)
			elems[n++] = CStringGetTextDatum(s->name);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* gw_operations(): every operation of every provider. */
Datum
gw_operations(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const GwProvider *const *ps;
	int			np;

	InitMaterializedSRF(fcinfo, 0);
	ps = gw_providers(&np);
	for (int i = 0; i < np; i++)
	{
		for (int j = 0; j < ps[i]->nops; j++)
		{
			const GwOperation *op = &ps[i]->ops[j];
			Datum		values[8];
			bool		nulls[8] = {0};

			values[0] = CStringGetTextDatum(ps[i]->name);
			values[1] = CStringGetTextDatum(op->name);
			values[2] = CStringGetTextDatum(op->description);
			values[3] = CStringGetTextDatum(op->method);
			values[4] = CStringGetTextDatum(op->path);
			values[5] = gw_names_array(op, true);
			values[6] = gw_names_array(op, false);
			values[7] = BoolGetDatum((op->flags & GW_OP_PAYMENT) != 0);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
