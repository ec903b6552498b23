/*
 * outbox.c: the SQL side of the outbox: gw_enqueue, gw_queue_sms, the SMS
 * trigger, and waking the workers when a transaction that queued commits.
 *
 * A row is written in the caller's transaction (a rollback sends nothing)
 * as the extension owner, so application roles need no privilege on the
 * table.  Params are checked with the same code that will build the request,
 * so a caller's mistake is an ERROR at enqueue time, not a dead row later.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "account.h"
#include "compat.h"
#include "cost.h"
#include "journal.h"
#include "jsonutil.h"
#include "launcher.h"
#include "outbox.h"
#include "request.h"
#include "rights.h"
#include "route.h"
#include "shmem.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_enqueue);
PG_FUNCTION_INFO_V1(gw_queue_sms);
PG_FUNCTION_INFO_V1(gw_wake);
PG_FUNCTION_INFO_V1(gw_sms_trigger);

static bool gw_wake_at_commit = false;
static bool gw_xact_cb_registered = false;
/* [costs][routed]: costs, the segments and encoding columns (0.4.0; an
 * older outbox has none); routed, the route columns of a routed row (0.4.0:
 * older schemas have no routes, so never need them) */
static SPIPlanPtr gw_insert_plan[2][2];	/* a caller's key: may exist */
static SPIPlanPtr gw_insert_new_plan[2][2];	/* no caller's key: new */
static SPIPlanPtr gw_existing_plan = NULL;

static void
gw_xact_cb(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (gw_wake_at_commit)
				gw_shmem_wake_workers();
			gw_wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			gw_wake_at_commit = false;
			break;
		default:
			break;
	}
}

/* Wake the workers when this transaction commits; a rollback costs nothing. */
static void
gw_wake_on_commit(void)
{
	if (!gw_xact_cb_registered)
	{
		RegisterXactCallback(gw_xact_cb, NULL);
		gw_xact_cb_registered = true;
	}
	gw_wake_at_commit = true;
}

int64
gw_outbox_enqueue(const char *account, const char *operation, Jsonb *params,
				  Datum send_at, bool send_at_null, const char *key,
				  const GwRouteChoice *route)
{
	const GwAccount *acc;
	const GwOperation *op;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext scratch;
	char	   *acc_name;
	bool		payment;
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', 'n', 'n', 'n', 'n'};
	int			segments = 0;
	const char *encoding = NULL;
	bool		routed = (route != NULL);
	Oid			save_userid;
	int			save_sec;
	int64		id = 0;
	int			rc;
	bool		caller_key;
	bool		costs;

	gw_rights_require(account, GW_RIGHT_SEND);
	gw_require_writable("queue messages");
	gw_launcher_require_served();
	acc = gw_account_get(account);
	op = gw_operation_lookup(acc->provider, operation);
	acc_name = pstrdup(acc->name);
	payment = (op->flags & GW_OP_PAYMENT) != 0;
	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	/* The idempotency key goes to the provider wherever it takes one. */
	if (key != NULL && (key[0] == '\0' || strlen(key) > 200))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency key must be 1 to 200 characters long")));
	if (op->key_param)
	{
		char	   *given = gw_jsonb_get_text(params, op->key_param);

		if (key && given && strcmp(key, given) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("idempotency_key \"%s\" and param \"%s\" \"%s\" differ",
							key, op->key_param, given),
					 errhint("Give the key once: as idempotency_key, or as param %s.",
							 op->key_param)));
		if (key == NULL)
			key = given;
		if (key)
			params = gw_jsonb_set_text(params, op->key_param, key);
	}
	caller_key = (key != NULL);

	/*
	 * Check it the way the worker will build it.  A provider that dictates
	 * its keys' form (VTpass's request_id starts with the time in Lagos)
	 * keeps the key its builder made; otherwise a row without a key gets
	 * gateway's own, which the worker puts in the request.
	 */
	scratch = AllocSetContextCreate(CurrentMemoryContext, "gateway enqueue check",
									ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(scratch);
	{
		GwCall		call;

		gw_call_prepare(&call, acc, operation, params);
		/* what it sends, counted as gw_sms_info() counts (cost.c) */
		if (!gw_cost_sms(&call, &segments, &encoding))
			encoding = NULL;
		explicit_bzero(call.body.data, call.body.len);
		explicit_bzero(call.url.data, call.url.len);
		if (key == NULL && (op->flags & GW_OP_OWN_KEY) && op->key_param &&
			gw_param(&call, op->key_param))
			key = MemoryContextStrdup(oldcxt, gw_param(&call, op->key_param));
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(scratch);
	if (key && !caller_key && op->key_param)
		params = gw_jsonb_set_text(params, op->key_param, key);

	values[0] = CStringGetTextDatum(acc_name);
	values[1] = CStringGetTextDatum(operation);
	values[2] = JsonbPGetDatum(params);
	values[3] = send_at;
	if (send_at_null)
		nulls[3] = 'n';
	if (key)
		values[4] = CStringGetTextDatum(key);
	else
	{
		values[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	values[5] = BoolGetDatum(payment);
	if (encoding)
	{
		values[6] = Int32GetDatum(segments);
		values[7] = CStringGetTextDatum(encoding);
		nulls[6] = nulls[7] = ' ';
	}
	/* a routed row: its route, and the account to fall back to */
	if (route)
	{
		values[8] = CStringGetTextDatum(route->route);
		nulls[8] = ' ';
		if (route->fallback)
		{
			values[9] = CStringGetTextDatum(route->fallback);
			nulls[9] = ' ';
		}
	}

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	costs = gw_cost_columns();
	if (gw_insert_plan[costs][routed] == NULL)
	{
		Oid			types[10] = {TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID, BOOLOID,
		INT4OID, TEXTOID, TEXTOID, TEXTOID};
		char	   *cols = psprintf("%s%s", costs ? ", segments, encoding" : "",
									routed ? ", route, fallback" : "");
		char	   *vals = psprintf("%s%s", costs ? ", $7, $8" : "", routed ? ", $9, $10" : "");

		gw_insert_plan[costs][routed] = gw_saved_plan(psprintf(
			"INSERT INTO gateway.outbox (account, operation, params, send_at,"
			"                            next_attempt_at, idempotency_key, key_given, payment%s)"
			" VALUES ($1, $2, $3, coalesce($4, pg_catalog.now()),"
			"         coalesce($4, pg_catalog.now()), $5, true, $6%s)"
			" ON CONFLICT (account, idempotency_key) WHERE key_given DO NOTHING"
			" RETURNING id", cols, vals), 10, types);
		gw_insert_new_plan[costs][routed] = gw_saved_plan(psprintf(
			"INSERT INTO gateway.outbox (account, operation, params, send_at,"
			"                            next_attempt_at, payment%s)"
			" VALUES ($1, $2, $3, coalesce($4, pg_catalog.now()),"
			"         coalesce($4, pg_catalog.now()), $6%s)"
			" RETURNING id", cols, vals), 10, types);
	}
	if (gw_existing_plan == NULL)
		gw_existing_plan = gw_saved_plan(
			"SELECT id FROM gateway.outbox"
			" WHERE account OPERATOR(pg_catalog.=) $1"
			"   AND idempotency_key OPERATOR(pg_catalog.=) $2 AND key_given", 2,
			(Oid[]) {TEXTOID, TEXTOID});
	/* Only a given key (the caller's, or the provider's own form) can be
	 * there already: only then the slower, speculative insert. */
	rc = SPI_execute_plan(key ? gw_insert_plan[costs][routed] : gw_insert_new_plan[costs][routed],
						  values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "outbox insert failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		gw_wake_on_commit();
	}
	else
	{
		/*
		 * The key was used before: the first row stands for this one.  The
		 * insert waited for a transaction that was queueing the same key to
		 * commit; not read-only, so that (in READ COMMITTED) a fresh snapshot
		 * sees that row.
		 */
		Datum		kv[2] = {values[0], values[4]};
		bool		isnull;

		rc = gw_execute_indexed(gw_existing_plan, kv, NULL);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not find the outbox row of idempotency key \"%s\"", key),
					 errhint("Another transaction is queueing the same key; try again.")));
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return id;
}

/*
 * Refuse, before anything is sent, a synchronous call whose outcome
 * gw_outbox_record_sync would have to record but could not (a payment on a
 * standby or in a read-only transaction): the money must never move
 * unrecorded.  Calls that record nothing (SMS, balances, status queries) may
 * run anywhere.
 */
void
gw_outbox_check_sync(const char *account, const char *operation)
{
	const GwAccount *acc = gw_account_get(account);

	if (gw_operation_lookup(acc->provider, operation)->flags & GW_OP_PAYMENT)
		gw_require_writable("make a payment");
}

/*
 * Keep a synchronous payment where its callback will look for it: a
 * finished outbox row (sent, delivered, failed; unknown rows wait for the
 * callback or an operator, never for the worker).  Only payments: the SMS
 * path writes nothing.  In the caller's transaction, like a queued row;
 * under the key of its journal entry, which the worker adopts if this row
 * never commits (journal.c).
 */
void
gw_outbox_record_sync(const char *account, const char *operation, Jsonb *params,
					  Jsonb *result, GwOutboxStatus outbox, const char *match_key,
					  const char *cost)
{
	/* [an outbox with cost][0: gateway's own key; 1: the journal's (the
	 * payment went out)] */
	static SPIPlanPtr plans[2][2];
	const GwAccount *acc = gw_account_get(account);
	const GwOperation *op = gw_operation_lookup(acc->provider, operation);
	char	   *ref = gw_jsonb_get_text(result, "provider_ref");
	const char *key = gw_journal_key();
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;
	bool		costs;

	if (!(op->flags & GW_OP_PAYMENT))
		return;
	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	values[0] = CStringGetTextDatum(acc->name);
	values[1] = CStringGetTextDatum(operation);
	values[2] = JsonbPGetDatum(params);
	values[3] = CStringGetTextDatum(gw_outbox_status_name(outbox));
	values[4] = ref ? CStringGetTextDatum(ref) : (Datum) 0;
	nulls[4] = ref ? ' ' : 'n';
	values[5] = JsonbPGetDatum(result);
	values[6] = match_key ? CStringGetTextDatum(match_key) : (Datum) 0;
	nulls[6] = match_key ? ' ' : 'n';
	values[7] = key ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[7] = key ? ' ' : 'n';
	values[8] = cost ? CStringGetTextDatum(cost) : (Datum) 0;
	nulls[8] = cost ? ' ' : 'n';

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	costs = gw_cost_columns();
	if (plans[costs][key != NULL] == NULL)
		plans[costs][key != NULL] = gw_saved_plan(psprintf(
			"INSERT INTO gateway.outbox (account, operation, params, status, attempts,"
			"                            provider_ref, result, last_error, payment,"
			"                            next_attempt_at, sent_at, match_key%s%s)"
			" VALUES ($1, $2, $3, $4::gateway.outbox_status, 1, $5, $6,"
			"         $6 OPERATOR(pg_catalog.->>) 'error', true, 'infinity',"
			"         CASE WHEN $4 IN ('sent', 'delivered') THEN pg_catalog.now() END, $7%s%s)",
			costs ? ", cost" : "", key ? ", idempotency_key" : "",
			costs ? ", $9::pg_catalog.numeric" : "", key ? ", $8" : ""),
			9, (Oid[]) {TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID});
	if (SPI_execute_plan(plans[costs][key != NULL], values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording a payment failed");
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/* Whether any provider's operation of this name moves money. */
static bool
gw_operation_is_payment(const char *operation)
{
	int			np;
	const GwProvider *const *ps = gw_providers(&np);

	for (int i = 0; i < np; i++)
	{
		const GwOperation *op = gw_operation_find(ps[i], operation);

		if (op && (op->flags & GW_OP_PAYMENT))
			return true;
	}
	return false;
}

/*
 * gw_enqueue through a route: only the plain SMS of the chosen account's
 * provider, in the params every provider shares (recipient, message,
 * sender_id), so that the worker can build it for the fallback's provider.
 */
static int64
gw_enqueue_routed(const char *name, const char *operation, Jsonb *params,
				  Datum send_at, bool send_at_null, const char *key)
{
	GwRouteChoice rc;
	const GwProvider *p;
	const GwOperation *op;
	const char *opname;
	char	   *recipient;
	Jsonb	   *sms;

	if (gw_operation_is_payment(operation))
		gw_route_refuse(name, "a payment");
	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	recipient = gw_jsonb_get_text(params, "recipient");
	if (recipient == NULL)
		recipient = gw_jsonb_get_text(params, "recipients");
	(void) gw_route_resolve(name, recipient, &rc);
	p = gw_account_get(rc.account)->provider;
	op = gw_operation_lookup(p, operation);
	if (!(op->flags & GW_OP_SMS) ||
		!((p->sms_op && strcmp(operation, p->sms_op) == 0) ||
		  (p->queue_sms_op && strcmp(operation, p->queue_sms_op) == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("route \"%s\" cannot send operation \"%s\"", name, operation),
				 errhint("A route sends plain SMS (sms.send, or gw_queue_sms); name an account for %s.",
						 operation)));
	{
		JsonbIterator *it = JsonbIteratorInit(&params->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *k;

			if (tok != WJB_KEY)
				continue;
			k = pnstrdup(v.val.string.val, v.val.string.len);
			if (strcmp(k, "recipient") != 0 && strcmp(k, "recipients") != 0 &&
				strcmp(k, "message") != 0 && strcmp(k, "sender_id") != 0 &&
				!(op->key_param && strcmp(k, op->key_param) == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("param \"%s\" cannot go through route \"%s\"", k, name),
						 errhint("A route takes recipient, message and sender_id, which every provider shares.")));
		}
	}
	sms = gw_route_sms_params(p, &opname, rc.recipient, gw_jsonb_get_text(params, "message"),
							  gw_jsonb_get_text(params, "sender_id"));
	if (op->key_param && gw_jsonb_get_text(params, op->key_param) && key == NULL)
		key = gw_jsonb_get_text(params, op->key_param);
	return gw_outbox_enqueue(rc.account, opname, sms, send_at, send_at_null, key, &rc);
}

/* gw_enqueue(account, operation, params, send_at, idempotency_key) */
Datum
gw_enqueue(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *operation = gw_arg_text(fcinfo, 1);
	Jsonb	   *params = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);

	gw_require(account, "account");
	gw_require(operation, "operation");
	if (gw_route_is(account))
		PG_RETURN_INT64(gw_enqueue_routed(account, operation, params,
										  PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3),
										  PG_ARGISNULL(3), gw_arg_text(fcinfo, 4)));
	PG_RETURN_INT64(gw_outbox_enqueue(account, operation, params,
									  PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3),
									  PG_ARGISNULL(3),
									  gw_arg_text(fcinfo, 4), NULL));
}

/* Params of the provider's queued-SMS operation. */
static Jsonb *
gw_sms_params(const GwOperation *op, const char *recipient, const char *message,
			  const char *sender_id)
{
	const char *keys[3] = {"recipient", "message", "sender_id"};
	char	   *vals[3] = {(char *) recipient, (char *) message, (char *) sender_id};

	for (const GwParamSpec *s = op->params; s->name; s++)
		if (strcmp(s->name, "recipients") == 0)
			keys[0] = "recipients";
	return gw_jsonb_object(keys, vals, 3);
}

static int64
gw_queue_sms_internal(const char *account, const char *recipient, const char *message,
					  const char *sender_id, Datum send_at, bool send_at_null, const char *key)
{
	const GwAccount *acc;
	const GwProvider *p;
	const char *opname;
	GwRouteChoice rc;

	if (gw_route_resolve(account, recipient, &rc))
	{
		Jsonb	   *params = gw_route_sms_params(gw_account_get(rc.account)->provider, &opname,
												 rc.recipient, message, sender_id);

		return gw_outbox_enqueue(rc.account, opname, params, send_at, send_at_null, key, &rc);
	}
	gw_rights_require(account, GW_RIGHT_SEND);
	acc = gw_account_get(account);
	p = acc->provider;
	opname = p->queue_sms_op ? p->queue_sms_op : p->sms_op;

	if (opname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("provider \"%s\" cannot send SMS", p->name),
				 errhint("gw_operations() lists what %s offers.", p->name)));
	return gw_outbox_enqueue(account, opname,
							 gw_sms_params(gw_operation_lookup(p, opname),
										   recipient, message, sender_id),
							 send_at, send_at_null, key, NULL);
}

/* gw_queue_sms(account, recipient, message, sender_id, send_at, idempotency_key) */
Datum
gw_queue_sms(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *recipient = gw_arg_text(fcinfo, 1);
	char	   *message = gw_arg_text(fcinfo, 2);

	gw_require(account, "account");
	gw_require(recipient, "recipient");
	gw_require(message, "message");
	PG_RETURN_INT64(gw_queue_sms_internal(account, recipient, message,
										  gw_arg_text(fcinfo, 3),
										  PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
										  PG_ARGISNULL(4),
										  gw_arg_text(fcinfo, 5)));
}

/* gateway.wake(): wake the workers at commit. */
Datum
gw_wake(PG_FUNCTION_ARGS)
{
	gw_wake_on_commit();
	PG_RETURN_VOID();
}

/* The value of column name in tuple, as text ("" for NULL); ERROR if none. */
static char *
gw_column_text(Relation rel, HeapTuple tuple, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attno = SPI_fnumber(desc, name);
	char	   *val;

	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of gw_sms_trigger does not exist in table \"%s\"",
						name, RelationGetRelationName(rel)),
				 errhint("Name a column of %s in the trigger's arguments or its {{placeholders}}.",
						 RelationGetRelationName(rel))));
	val = SPI_getvalue(tuple, desc, attno);
	return val ? val : "";
}

/* Render {{column}} placeholders of template from tuple. */
char *
gw_render(Relation rel, HeapTuple tuple, const char *template)
{
	StringInfoData out;
	const char *p = template;

	initStringInfo(&out);
	while (*p)
	{
		const char *open = strstr(p, "{{");
		const char *close;
		char	   *name;

		if (open == NULL)
		{
			appendStringInfoString(&out, p);
			break;
		}
		close = strstr(open + 2, "}}");
		if (close == NULL)
		{
			appendStringInfoString(&out, p);
			break;
		}
		appendBinaryStringInfo(&out, p, open - p);
		/* the name, without surrounding spaces */
		{
			const char *a = open + 2;
			const char *b = close;

			while (a < b && *a == ' ')
				a++;
			while (b > a && b[-1] == ' ')
				b--;
			name = pnstrdup(a, b - a);
		}
		appendStringInfoString(&out, gw_column_text(rel, tuple, name));
		p = close + 2;
	}
	return out.data;
}

/*
 * gw_sms_trigger(account, recipient_column, template): an AFTER INSERT or
 * UPDATE ... FOR EACH ROW trigger that queues one SMS per row.
 */
Datum
gw_sms_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	HeapTuple	tuple;
	char	   *recipient;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("gw_sms_trigger() must be called as a trigger")));
	tg = td->tg_trigger;
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("gw_sms_trigger() must fire AFTER INSERT or UPDATE FOR EACH ROW")));
	/*
	 * EXECUTE on a trigger function is checked when the trigger is created,
	 * not when it fires: check that whoever inserts may queue.
	 */
	if (gw_proc_aclcheck(fcinfo->flinfo->fn_oid, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to queue SMS with gw_sms_trigger()"),
				 errhint("SELECT gw_grant_sender(role) lets a role queue messages.")));
	if (tg->tgnargs != 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gw_sms_trigger() takes 3 arguments, got %d", tg->tgnargs),
				 errhint("EXECUTE FUNCTION gw_sms_trigger('account', 'phone_column', 'Karibu {{name}}!')")));
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	recipient = gw_column_text(td->tg_relation, tuple, tg->tgargs[1]);
	if (recipient[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"%s\" holds no phone number", tg->tgargs[1]),
				 errhint("Fire the trigger only for rows that have one, e.g. WHEN (NEW.%s IS NOT NULL).",
						 tg->tgargs[1])));
	(void) gw_queue_sms_internal(tg->tgargs[0], recipient,
								 gw_render(td->tg_relation, tuple, tg->tgargs[2]),
								 NULL, (Datum) 0, true, NULL);
	return PointerGetDatum(NULL);
}
