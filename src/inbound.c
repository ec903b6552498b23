/*
 * inbound.c: callbacks from providers (see inbound.h): gw_ingest and
 * gateway.ingest_text, the listener's entry.
 *
 * A callback is applied in a subtransaction, then recorded in
 * gateway.inbound, as the extension owner, with the row it updated and what
 * came of it: whatever goes wrong while applying it (but a transient error,
 * which keeps nothing: the provider sends it again), the record is kept,
 * with what went wrong in its note.  Its id is taken first, for the outbox
 * row's result to name it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "account.h"
#include "compat.h"
#include "inbound.h"
#include "listener.h"
#include "rights.h"
#include "stats.h"
#include "jsonutil.h"
#include "msisdn.h"
#include "outcome.h"
#include "provider.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_ingest);
PG_FUNCTION_INFO_V1(gw_ingest_text);

static const char *const gw_inbound_kinds[] = {
	"dlr", "payment", "subscription", "mo", "ussd", NULL
};

static SPIPlanPtr gw_record_plan = NULL;
static SPIPlanPtr gw_apply_plan = NULL;
static SPIPlanPtr gw_match_plans[4] = {NULL, NULL, NULL, NULL};
static SPIPlanPtr gw_update_plan = NULL;

/*
 * How a callback finds its row, the provider's keys in turn: a payment by
 * its match_key; a delivery report by our idempotency key (gateway's own
 * "gw<8 hex>-<id>" names the row, a caller's is in the unique index), else
 * by the correlator the send was answered with.  Every one locks the row.
 */
#define GW_MATCH_COLUMNS "SELECT o.id, o.status::text, o.payment, o.params, o.operation," \
	" o.match_key FROM gateway.outbox o"
static const char *const gw_match_sql[4] = {
	GW_MATCH_COLUMNS
	" WHERE o.match_key OPERATOR(pg_catalog.=) ANY ($2) AND o.match_key IS NOT NULL"
	"   AND o.account OPERATOR(pg_catalog.=) $1 AND o.payment"
	" ORDER BY o.id DESC LIMIT 1 FOR UPDATE",
	GW_MATCH_COLUMNS
	" WHERE o.id OPERATOR(pg_catalog.=) $3 AND o.account OPERATOR(pg_catalog.=) $1"
	"   AND o.idempotency_key OPERATOR(pg_catalog.=) ($2)[1] AND NOT o.key_given"
	" FOR UPDATE",
	GW_MATCH_COLUMNS
	" WHERE o.account OPERATOR(pg_catalog.=) $1"
	"   AND o.idempotency_key OPERATOR(pg_catalog.=) ($2)[1] AND o.key_given"
	" FOR UPDATE",
	GW_MATCH_COLUMNS
	" WHERE o.provider_ref OPERATOR(pg_catalog.=) ($2)[1] AND o.account OPERATOR(pg_catalog.=) $1"
	" ORDER BY o.id DESC LIMIT 1 FOR UPDATE",
};

/* The row a callback names, locked. */
typedef struct GwMatched
{
	int64		id;
	GwOutboxStatus status;
	bool		payment;
	Jsonb	   *params;
	char	   *operation;
	char	   *match_key;
} GwMatched;

/* What applying a callback did. */
typedef struct GwApplied
{
	int64		outbox_id;
	char	   *status;
	char	   *note;
	char	   *error;			/* the body cannot be taken */
	char	   *reply;			/* ussd */
} GwApplied;

static void
gw_inbound_check_kind(const char *kind)
{
	for (int i = 0; gw_inbound_kinds[i]; i++)
		if (strcmp(kind, gw_inbound_kinds[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("unknown callback kind \"%s\"", kind),
			 errhint("The kinds are dlr, payment, subscription, mo and ussd.")));
}

/* Insert the callback into gateway.inbound and NOTIFY (at commit); its id. */
/*
 * The next id of gateway.inbound, taken before the callback is applied:
 * the outbox row's result names the callback that changed it.  As the
 * extension owner, as the INSERT is.
 */
static int64
gw_inbound_next_id(void)
{
	Oid			seq = get_relname_relid("inbound_id_seq", get_namespace_oid("gateway", false));
	Oid			save_userid;
	int			save_sec;
	int64		id;

	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sequence gateway.inbound_id_seq does not exist"),
				 errhint("Run ALTER EXTENSION gateway UPDATE, or create the extension again.")));
	gw_as_owner_begin(&save_userid, &save_sec);
	id = DatumGetInt64(DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(seq)));
	gw_as_owner_end(save_userid, save_sec);
	return id;
}

/*
 * Record a callback once it has been applied (or refused): one INSERT with
 * what it updated and what came of it, and its NOTIFY.
 */
static void
gw_inbound_record(int64 id, const char *account, const char *kind, Jsonb *payload,
				  const char *raw, int64 outbox_id, const char *note)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(account);
	values[2] = CStringGetTextDatum(kind);
	values[3] = payload ? JsonbPGetDatum(payload) : (Datum) 0;
	nulls[3] = payload ? ' ' : 'n';
	values[4] = raw ? CStringGetTextDatum(raw) : (Datum) 0;
	nulls[4] = raw ? ' ' : 'n';
	values[5] = Int64GetDatum(outbox_id);
	nulls[5] = outbox_id > 0 ? ' ' : 'n';
	values[6] = note ? CStringGetTextDatum(note) : (Datum) 0;
	nulls[6] = note ? ' ' : 'n';

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_record_plan == NULL)
		gw_record_plan = gw_saved_plan(
			"WITH i AS ("
			"  INSERT INTO gateway.inbound (id, account, kind, payload, raw, outbox_id, note)"
			"  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)"
			" SELECT pg_catalog.pg_notify('gateway_inbound', id::text) FROM i",
			7, (Oid[]) {INT8OID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, INT8OID, TEXTOID});
	if (SPI_execute_plan(gw_record_plan, values, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "recording a callback failed");
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/* The answer object (see inbound.h). */
static Jsonb *
gw_inbound_answer(int64 id, const char *kind, int64 outbox_id, const char *status,
				  const char *note, const char *error, const char *reply)
{
	StringInfoData buf;
	GwJsonWriter w;

	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_int(&w, "recorded", id);
	gw_jw_str(&w, "kind", kind);
	if (outbox_id > 0)
		gw_jw_int(&w, "outbox_id", outbox_id);
	else
		gw_jw_raw(&w, "outbox_id", "null");
	gw_jw_str(&w, "status", status);
	gw_jw_str(&w, "note", note);
	gw_jw_str(&w, "error", error);
	if (reply)
		gw_jw_str(&w, "reply", reply);
	gw_jw_end(&w);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}


/* Run match plan i; true with *m filled when a row was found. */
static bool
gw_inbound_match_one(int i, const char *account, Datum keys, int64 id, GwMatched *m,
					 MemoryContext cxt)
{
	Datum		values[3];
	bool		isnull;
	HeapTuple	t;
	TupleDesc	d;
	MemoryContext old;

	values[0] = CStringGetTextDatum(account);
	values[1] = keys;
	values[2] = Int64GetDatum(id);
	if (gw_match_plans[i] == NULL)
		gw_match_plans[i] = gw_saved_plan(gw_match_sql[i], 3,
										  (Oid[]) {TEXTOID, TEXTARRAYOID, INT8OID});
	if (SPI_execute_plan(gw_match_plans[i], values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "matching a callback failed");
	if (SPI_processed == 0)
		return false;
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(cxt);
	m->id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
	m->status = gw_outbox_status_from_name(SPI_getvalue(t, d, 2));
	m->payment = DatumGetBool(SPI_getbinval(t, d, 3, &isnull));
	m->params = DatumGetJsonbPCopy(SPI_getbinval(t, d, 4, &isnull));
	m->operation = SPI_getvalue(t, d, 5);
	m->match_key = SPI_getvalue(t, d, 6);
	MemoryContextSwitchTo(old);
	return true;
}

/* The row the callback names, by the provider's keys; false: none. */
static bool
gw_inbound_match(const char *account, const GwInbound *in, GwMatched *m, MemoryContext cxt)
{
	Datum		k[2];
	int			n = 0;

	if (strcmp(in->kind, "payment") == 0)
	{
		if (in->key)
			k[n++] = CStringGetTextDatum(in->key);
		if (in->key2)
			k[n++] = CStringGetTextDatum(in->key2);
		return gw_inbound_match_one(0, account, PointerGetDatum(
										construct_array(k, n, TEXTOID, -1, false, TYPALIGN_INT)),
									0, m, cxt);
	}
	if (in->key)
	{
		Datum		keys;
		const char *dash = strrchr(in->key, '-');
		int64		id = 0;

		k[0] = CStringGetTextDatum(in->key);
		keys = PointerGetDatum(construct_array(k, 1, TEXTOID, -1, false, TYPALIGN_INT));
		/* gateway's own key carries the row id */
		if (strncmp(in->key, "gw", 2) == 0 && dash && dash[1] != '\0' &&
			strspn(dash + 1, "0123456789") == strlen(dash + 1) && strlen(dash + 1) <= 18)
			id = strtoll(dash + 1, NULL, 10);
		if (id > 0 && gw_inbound_match_one(1, account, keys, id, m, cxt))
			return true;
		if (gw_inbound_match_one(2, account, keys, 0, m, cxt))
			return true;
	}
	if (in->correlator)
	{
		k[0] = CStringGetTextDatum(in->correlator);
		return gw_inbound_match_one(3, account, PointerGetDatum(
										construct_array(k, 1, TEXTOID, -1, false, TYPALIGN_INT)),
									0, m, cxt);
	}
	return false;
}

/* The details kept under result->'callback'. */
static Jsonb *
gw_inbound_details(int64 id, const GwInbound *in, const GwOutcome *o)
{
	StringInfoData buf;
	GwJsonWriter w;
	Jsonb	   *common;
	Jsonb	   *detail;

	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, "kind", in->kind);
	gw_jw_int(&w, "inbound_id", id);
	if (strcmp(in->kind, "payment") == 0)
	{
		gw_jw_raw(&w, "paid", o->outbox == GW_OB_DELIVERED ? "true" : "false");
		gw_jw_str(&w, "result_code", in->code);
		gw_jw_str(&w, "result_desc", in->description);
		gw_jw_str(&w, "amount", in->paid.amount);
		gw_jw_str(&w, "receipt", in->paid.receipt);
		gw_jw_str(&w, "phone", in->paid.phone);
		gw_jw_str(&w, "check", o->check);
	}
	gw_jw_end(&w);
	common = gw_json_parse(buf.data, buf.len);
	if (in->detail == NULL)
		return common;
	detail = gw_json_parse(in->detail, strlen(in->detail));
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_strip_nulls, DirectFunctionCall2(
												  jsonb_concat, JsonbPGetDatum(common),
												  JsonbPGetDatum(detail))));
}

/* Set the row's status from the callback: the one UPDATE. */
static void
gw_inbound_update(int64 row, const GwOutcome *o, Jsonb *details)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(row);
	values[1] = CStringGetTextDatum(gw_outbox_status_name(o->outbox));
	values[2] = JsonbPGetDatum(details);
	values[3] = o->error ? CStringGetTextDatum(o->error) : (Datum) 0;
	nulls[3] = o->error ? ' ' : 'n';
	values[4] = Int64GetDatum(o->delay_ms);
	if (gw_update_plan == NULL)
		gw_update_plan = gw_saved_plan(
			"UPDATE gateway.outbox o"
			"   SET status = $2::gateway.outbox_status,"
			"       result = pg_catalog.jsonb_set(coalesce(o.result, '{}'), '{callback}', $3),"
			"       last_error = $4,"
			"       next_attempt_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'unknown'"
			"                               AND o.status OPERATOR(pg_catalog.<>) 'sending'"
			"            THEN (CASE WHEN $5 OPERATOR(pg_catalog.<) 0 THEN 'infinity'::timestamptz"
			"                  ELSE pg_catalog.now() END)"
			"            ELSE o.next_attempt_at END,"
			"       sent_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'delivered'"
			"            THEN coalesce(o.sent_at, pg_catalog.now()) ELSE o.sent_at END,"
			"       updated_at = pg_catalog.now()"
			" WHERE o.id OPERATOR(pg_catalog.=) $1",
			5, (Oid[]) {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT8OID});
	if (SPI_execute_plan(gw_update_plan, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "applying a callback failed");
}

/*
 * A delivery report or payment result: the account's provider reads it, the
 * row it names is found and locked, outcome.c decides, one UPDATE applies.
 */
static void
gw_inbound_apply_outcome(GwApplied *out, int64 id, const GwAccount *acc, const char *kind,
						 Jsonb *payload)
{
	const GwProvider *p = acc->provider;
	GwInbound	in = {0};
	GwMatched	m = {0};
	GwOutcome	o;
	Oid			save_userid;
	int			save_sec;
	bool		found;
	MemoryContext cxt = CurrentMemoryContext;

	in.kind = kind;
	in.status = GW_UNKNOWN;
	if (p->parse_callback == NULL || !p->parse_callback(kind, payload, &in))
	{
		out->error = psprintf("%s sends no %s callbacks", p->name,
							  strcmp(kind, "dlr") == 0 ? "delivery report" : "payment");
		out->note = out->error;
		return;
	}
	if (in.error)
	{
		out->error = in.error;
		out->note = in.error;
		return;
	}

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* SPI calls leave SPI's memory current: what this leaves (notes, status)
	 * is made in cxt, to outlive SPI */
	found = gw_inbound_match(acc->name, &in, &m, cxt);
	MemoryContextSwitchTo(cxt);
	if (!found)
		out->note = strcmp(kind, "dlr") == 0
			? "no outbox row has this uniqueId or correlator"
			: "no payment has this checkout or transaction request id";
	else if (strcmp(kind, "dlr") == 0 && m.payment)
		out->note = "the row is a payment: a delivery report never changes it";
	else
	{
		const GwOperation *op = gw_operation_find(p, m.operation);
		char	   *amount = gw_jsonb_get_text(m.params, "amount");
		char	   *phone = gw_jsonb_get_text(m.params, "phone");
		const char *why;

		if (phone)
			phone = gw_msisdn_normalize(phone, acc->country, &why);
		out->outbox_id = m.id;
		if (!gw_outcome_callback(&in, m.payment, amount, phone, acc->country,
								 op && op->reconcile_op &&
								 (!op->reconcile_by_match_key || m.match_key),
								 &o))
			out->note = strcmp(kind, "dlr") == 0
				? psprintf("delivery status %s recorded; the row is left %s",
						   in.code ? in.code : "missing", gw_outbox_status_name(m.status))
				: psprintf("payment still pending; the row is left %s",
						   gw_outbox_status_name(m.status));
		else if (gw_outbox_status_final(m.status))
			out->note = psprintf("the row is already %s: unchanged",
								 gw_outbox_status_name(m.status));
		else
		{
			gw_inbound_update(m.id, &o, gw_inbound_details(id, &in, &o));
			MemoryContextSwitchTo(cxt);
			out->status = pstrdup(gw_outbox_status_name(o.outbox));
			if (o.check)
				out->note = psprintf("needs checking: %s", o.check);
		}
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/* gateway.apply_inbound as the owner: subscription, mo. */
static void
gw_inbound_apply_sql(GwApplied *out, int64 id, const GwAccount *acc, const char *kind,
					 Jsonb *payload)
{
	Datum		values[5];
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	Datum		d;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(acc->name);
	values[2] = CStringGetTextDatum(kind);
	values[3] = JsonbPGetDatum(payload);
	values[4] = CStringGetTextDatum(acc->country ? acc->country : "KE");
	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_apply_plan == NULL)
		gw_apply_plan = gw_saved_plan(
			"SELECT gateway.apply_inbound($1, $2, $3, $4, $5)",
			5, (Oid[]) {INT8OID, TEXTOID, TEXTOID, JSONBOID, TEXTOID});
	if (SPI_execute_plan(gw_apply_plan, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "applying a callback failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Jsonb	   *r = DatumGetJsonbPCopy(d);
		char	   *oid = gw_jsonb_get_text(r, "outbox_id");

		out->outbox_id = oid ? strtoll(oid, NULL, 10) : 0;
		out->status = gw_jsonb_get_text(r, "status");
		out->note = gw_jsonb_get_text(r, "note");
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/*
 * The account's USSD handler: the function named in option ussd_handler with
 * exactly (text, text, text, text) returning text.  Resolved with the
 * handler's pinned search_path, as the role it runs as (gw_inbound_ussd).
 */
static Oid
gw_ussd_handler(const GwAccount *acc)
{
	char	   *name = gw_account_option(acc, "ussd_handler");
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			fn;

	if (name == NULL || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("account \"%s\" has no ussd_handler option", acc->name)));
	fn = LookupFuncName(gw_qualified_name_list(name), 4, argtypes, true);
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("ussd_handler %s(text, text, text, text) does not exist", name)));
	if (get_func_rettype(fn) != TEXTOID || get_func_retset(fn))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("ussd_handler %s must return text", name)));
	if (gw_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for ussd_handler %s", name)));
	return fn;
}

/* A field as text: the first of the names present. */
static pg_noinline char *
gw_field(Jsonb *payload, const char *a, const char *b)
{
	char	   *v = gw_jsonb_get_text(payload, a);

	return (v == NULL && b) ? gw_jsonb_get_text(payload, b) : v;
}

/*
 * Call the handler, as the role handlers run as (gateway.listen_role, never
 * the caller), in a security-restricted operation, inside a GUC nest level
 * rolled back afterwards (a handler's set_config stays in the handler), with
 * search_path pg_catalog, pg_temp.  Its reply, or NULL with the reason in
 * out->note.
 */
static char *
gw_ussd_call(GwApplied *out, const GwAccount *acc, const char *const *args)
{
	char	   *why;
	bool		refused;
	Oid			role = gw_handler_role(&why, &refused);
	Oid			save_userid;
	int			save_sec;
	int			nest;
	Oid			fn;
	LOCAL_FCINFO(fcinfo, 4);
	FmgrInfo	flinfo;
	Datum		r;
	char	   *reply = NULL;

	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no role to run the ussd_handler as: %s", why),
				 errhint("USSD handlers run as gateway.listen_role, a role without superuser, CREATEROLE or server file access.")));

	/* the subtransaction's abort restores all of it after an ERROR */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	fn = gw_ussd_handler(acc);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 4, InvalidOid, NULL, NULL);
	for (int i = 0; i < 4; i++)
	{
		fcinfo->args[i].value = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		fcinfo->args[i].isnull = (args[i] == NULL);
	}
	r = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		out->note = "the ussd_handler returned NULL";
	else
	{
		reply = TextDatumGetCString(r);
		if (strncmp(reply, "CON ", 4) != 0 && strncmp(reply, "END ", 4) != 0)
		{
			out->note = psprintf("the ussd_handler's answer does not start with \"CON \" or \"END \": %.60s",
								 reply);
			reply = NULL;
		}
	}

	/* whatever the handler set, even for the session, ends with it */
	AtEOXact_GUC(false, nest);
	SetUserIdAndSecContext(save_userid, save_sec);
	return reply;
}

/*
 * Run the USSD handler; its reply, or "END" with an apology and the reason
 * in out->note.  A cancel (the listener's deadline, statement_timeout) is
 * not the handler's failure: it goes on up.
 */
static void
gw_inbound_ussd(GwApplied *out, const GwAccount *acc, Jsonb *payload)
{
	char	   *msisdn = gw_field(payload, "msisdn", NULL);
	char	   *session = gw_field(payload, "sessionID", "sessionId");
	char	   *input = gw_field(payload, "input", NULL);
	char	   *code = gw_field(payload, "accessPoint", "serviceCode");
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile reply = NULL;

	if (msisdn == NULL || session == NULL)
	{
		out->error = "a USSD request needs msisdn and sessionID";
		out->note = out->error;
		return;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		const char *args[4] = {msisdn, session, input ? input : "", code};

		reply = gw_ussd_call(out, acc, args);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (ed->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(ed);
		out->note = psprintf("the ussd_handler failed: %s", ed->message);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	out->reply = reply ? reply : "END Sorry, this service is not available right now. Please try again later.";
}

typedef struct GwApplyArgs
{
	GwApplied  *out;
	int64		id;
	const GwAccount *acc;
	const char *kind;
	Jsonb	   *payload;
} GwApplyArgs;

static void
gw_inbound_apply_step(void *arg)
{
	GwApplyArgs *a = (GwApplyArgs *) arg;

	if (strcmp(a->kind, "dlr") == 0 || strcmp(a->kind, "payment") == 0)
		gw_inbound_apply_outcome(a->out, a->id, a->acc, a->kind, a->payload);
	else
		gw_inbound_apply_sql(a->out, a->id, a->acc, a->kind, a->payload);
}

/*
 * Apply a recorded callback; an ERROR while applying becomes out->error
 * (the body can never be applied), but a transient one (a lock or statement
 * timeout, a deadlock, a serialization failure) is raised: nothing is kept
 * and the listener answers 503, so the provider sends it again.
 */
static void
gw_inbound_apply(GwApplied *out, int64 id, const GwAccount *acc, const char *kind,
				 Jsonb *payload)
{
	GwApplyArgs a = {out, id, acc, kind, payload};
	char	   *error = gw_try_subxact_ex(gw_inbound_apply_step, &a, CurrentMemoryContext, true);

	if (error)
	{
		out->outbox_id = 0;
		out->status = NULL;
		out->error = error;
		out->note = error;
	}
}

Jsonb *
gw_inbound_ingest(const char *account, const char *kind, const char *body, Jsonb *payload)
{
	const GwAccount *acc = gw_account_get(account);
	int64		id;
	const char *error = NULL;

	gw_inbound_check_kind(kind);
	if (payload == NULL && body != NULL)
	{
		char	   *copy = pstrdup(body);

		payload = gw_json_parse(copy, strlen(copy));
	}
	id = gw_inbound_next_id();
	if (payload == NULL)
		error = "the body is not JSON";
	else if (!JB_ROOT_IS_OBJECT(payload))
		error = "the body is not a JSON object";
	if (error)
	{
		gw_inbound_record(id, acc->name, kind, payload, payload ? NULL : body, 0, error);
		gw_stat_callback(acc->name, kind, GW_CB_REFUSED);
		return gw_inbound_answer(id, kind, 0, NULL, error, error, NULL);
	}
	{
		GwApplied	a = {0};

		if (strcmp(kind, "ussd") == 0)
			gw_inbound_ussd(&a, acc, payload);
		else
			gw_inbound_apply(&a, id, acc, kind, payload);
		gw_inbound_record(id, acc->name, kind, payload, NULL, a.outbox_id, a.note);
		gw_stat_callback(acc->name, kind,
						 a.error ? GW_CB_REFUSED :
						 (a.status || a.reply) ? GW_CB_APPLIED :
						 a.outbox_id > 0 ? GW_CB_IGNORED : GW_CB_UNMATCHED);
		return gw_inbound_answer(id, kind, a.outbox_id, a.status, a.note, a.error, a.reply);
	}
}

/* gw_ingest(account, kind, payload) */
Datum
gw_ingest(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *kind = gw_arg_text(fcinfo, 1);

	gw_require(account, "account");
	gw_require(kind, "kind");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payload must not be null")));
	gw_rights_require(account, GW_RIGHT_ADMIN);
	PG_RETURN_JSONB_P(gw_inbound_ingest(account, kind, NULL, PG_GETARG_JSONB_P(2)));
}

/* gateway.ingest_text(account, kind, body): the body as received. */
Datum
gw_ingest_text(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *kind = gw_arg_text(fcinfo, 1);
	char	   *body = gw_arg_text(fcinfo, 2);

	gw_require(account, "account");
	gw_require(kind, "kind");
	PG_RETURN_JSONB_P(gw_inbound_ingest(account, kind, body ? body : "", NULL));
}
