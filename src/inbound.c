/*
 * inbound.c: callbacks from providers (see inbound.h): gw_ingest and
 * gateway.ingest_text, the listener's entry.
 *
 * A callback is applied in a subtransaction, then recorded in
 * gateway.inbound, as the extension owner, with the row it updated and what
 * came of it: whatever goes wrong while applying it (but a transient error,
 * which keeps nothing: the provider sends it again), the record is kept,
 * with what went wrong in its note.  Its id is taken first, for the outbox
 * row's result to name it.  Callbacks that come together (the listener's
 * batch) are applied together: the delivery reports and payment results in
 * one subtransaction, with one statement to find their rows, one to lock
 * them, one UPDATE; then one INSERT records them all.  Only when that
 * subtransaction fails is each applied in one of its own.
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
#include "utils/numeric.h"
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
static SPIPlanPtr gw_find_plan = NULL;
static SPIPlanPtr gw_find_correlator_plan = NULL;
static SPIPlanPtr gw_lock_plans[2] = {NULL, NULL};
static SPIPlanPtr gw_update_plan = NULL;

/*
 * How a callback finds its row, the provider's keys in turn: a payment by
 * its match_key; a delivery report by our idempotency key (gateway's own
 * "gw<8 hex>-<id>" names the row, a caller's is in the unique index), else
 * by the correlator the send was answered with.  One statement finds the
 * rows of a batch of callbacks by their keys, in their order (coalesce stops
 * at the first key that names a row); another, only for those it did not
 * find, by the correlator (no index has it: a scan); gw_lock_sql then locks
 * the rows found.
 */
static const char gw_find_sql[] =
	"SELECT coalesce("
	"  (SELECT o.id FROM gateway.outbox o"
	"    WHERE u.pay AND o.match_key OPERATOR(pg_catalog.=) ANY (ARRAY[u.k1, u.k2])"
	"      AND o.match_key IS NOT NULL AND o.account OPERATOR(pg_catalog.=) u.acc AND o.payment"
	"    ORDER BY o.id DESC LIMIT 1),"
	"  (SELECT o.id FROM gateway.outbox o"
	"    WHERE NOT u.pay AND o.id OPERATOR(pg_catalog.=) u.rid AND o.account OPERATOR(pg_catalog.=) u.acc"
	"      AND o.idempotency_key OPERATOR(pg_catalog.=) u.k1 AND NOT o.key_given),"
	"  (SELECT o.id FROM gateway.outbox o"
	"    WHERE NOT u.pay AND o.account OPERATOR(pg_catalog.=) u.acc"
	"      AND o.idempotency_key OPERATOR(pg_catalog.=) u.k1 AND o.key_given))"
	" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
	"      pg_catalog.unnest($4), pg_catalog.unnest($5))"
	"   WITH ORDINALITY AS u(acc, pay, k1, k2, rid, n)"
	" ORDER BY u.n";

static const char gw_find_correlator_sql[] =
	"SELECT (SELECT o.id FROM gateway.outbox o"
	"         WHERE o.provider_ref OPERATOR(pg_catalog.=) u.corr"
	"           AND o.account OPERATOR(pg_catalog.=) u.acc"
	"         ORDER BY o.id DESC LIMIT 1)"
	" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
	"   WITH ORDINALITY AS u(acc, corr, n)"
	" ORDER BY u.n";

/*
 * The rows of a set of callbacks are locked without waiting (NOWAIT): a row
 * another session holds fails the set (SQLSTATE 55P03, transient: raised),
 * which the listener then applies a callback at a time, each waiting for its
 * own row as long as gateway.callback_lock_timeout allows, so that a row
 * held elsewhere holds up its own callback only.  A single callback waits.
 */
#define GW_LOCK_COLUMNS "SELECT o.id, o.status::text, o.payment, o.params, o.operation, o.match_key" \
	"  FROM gateway.outbox o WHERE o.id OPERATOR(pg_catalog.=) ANY ($1)"
static const char *const gw_lock_sql[2] = {
	GW_LOCK_COLUMNS " FOR UPDATE",
	GW_LOCK_COLUMNS " FOR UPDATE NOWAIT",
};

/* Set the rows' status from their callbacks: the one UPDATE. */
static const char gw_update_sql[] =
	"UPDATE gateway.outbox o"
	"   SET status = u.status::gateway.outbox_status,"
	"       result = pg_catalog.jsonb_set(coalesce(o.result, '{}'), '{callback}', u.details),"
	"       last_error = u.error,"
	"       next_attempt_at = CASE WHEN u.status OPERATOR(pg_catalog.=) 'unknown'"
	"                               AND o.status OPERATOR(pg_catalog.<>) 'sending'"
	"            THEN (CASE WHEN u.delay OPERATOR(pg_catalog.<) 0 THEN 'infinity'::timestamptz"
	"                  ELSE pg_catalog.now() END)"
	"            ELSE o.next_attempt_at END,"
	"       sent_at = CASE WHEN u.status OPERATOR(pg_catalog.=) 'delivered'"
	"            THEN coalesce(o.sent_at, pg_catalog.now()) ELSE o.sent_at END,"
	"       updated_at = pg_catalog.now()"
	"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
	"                  pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(id, status, details, error, delay)"
	" WHERE o.id OPERATOR(pg_catalog.=) u.id AND o.id OPERATOR(pg_catalog.=) ANY ($1)";

/* Record callbacks once applied (or refused), and NOTIFY each (at commit). */
static const char gw_record_sql[] =
	"WITH i AS ("
	"  INSERT INTO gateway.inbound (id, account, kind, payload, raw, outbox_id, note)"
	"  SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
	"    pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))"
	"  RETURNING id)"
	" SELECT pg_catalog.pg_notify('gateway_inbound', id::text) FROM i";

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

/* A callback on its way through gw_inbound_ingest_many. */
typedef struct GwItem
{
	GwCallback *cb;
	const GwAccount *acc;
	Jsonb	   *payload;
	int64		id;				/* its gateway.inbound id */
	bool		outcome;		/* a delivery report or payment result */
	GwApplied	a;
	/* gw_inbound_outcomes' */
	GwInbound	in;
	int64		row;			/* the outbox row its keys name, 0: none */
	bool		locked;
	GwMatched	m;
} GwItem;

/* A C string as a text Datum, *isnull set when it is NULL. */
static Datum
gw_text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

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

/*
 * The next id of gateway.inbound, taken before the callback is applied:
 * the outbox row's result names the callback that changed it.  As the
 * extension owner, as the INSERT is.  *seqp: the sequence, once looked up
 * (InvalidOid before), for the next callback of the batch.
 */
static int64
gw_inbound_next_id(Oid *seqp)
{
	Oid			seq = OidIsValid(*seqp) ? *seqp
		: get_relname_relid("inbound_id_seq", get_namespace_oid("gateway", false));
	Oid			save_userid;
	int			save_sec;
	int64		id;

	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sequence gateway.inbound_id_seq does not exist"),
				 errhint("Run ALTER EXTENSION gateway UPDATE, or create the extension again.")));
	*seqp = seq;
	gw_as_owner_begin(&save_userid, &save_sec);
	id = DatumGetInt64(DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(seq)));
	gw_as_owner_end(save_userid, save_sec);
	return id;
}

/*
 * Record callbacks once applied (or refused): one INSERT with what each
 * updated and what came of it, and a NOTIFY each.  A payload that is not
 * JSON is kept raw.
 */
static void
gw_inbound_record(GwItem *items, int n)
{
	Datum		v[7][GW_INGEST_MAX];
	bool		nl[7][GW_INGEST_MAX];
	Datum		args[7];
	static const Oid elems[7] = {INT8OID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, INT8OID, TEXTOID};
	Oid			save_userid;
	int			save_sec;

	Assert(n <= GW_INGEST_MAX);
	for (int i = 0; i < n; i++)
	{
		GwItem	   *it = &items[i];

		v[0][i] = Int64GetDatum(it->id);
		nl[0][i] = false;
		v[1][i] = gw_text_or_null(it->acc->name, &nl[1][i]);
		v[2][i] = gw_text_or_null(it->cb->kind, &nl[2][i]);
		v[3][i] = it->payload ? JsonbPGetDatum(it->payload) : (Datum) 0;
		nl[3][i] = (it->payload == NULL);
		v[4][i] = gw_text_or_null(it->payload ? NULL : it->cb->body, &nl[4][i]);
		v[5][i] = Int64GetDatum(it->a.outbox_id);
		nl[5][i] = (it->a.outbox_id <= 0);
		v[6][i] = gw_text_or_null(it->a.note, &nl[6][i]);
	}
	for (int c = 0; c < 7; c++)
		args[c] = gw_array(v[c], nl[c], n, elems[c]);

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_record_plan == NULL)
		gw_record_plan = gw_saved_plan(gw_record_sql, 7,
									   (Oid[]) {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID,
												TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID});
	if (SPI_execute_plan(gw_record_plan, args, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "recording a callback failed");
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/* A key of the answer object and its value, pushed onto st. */
static void
gw_answer_push(JsonbParseState **st, const char *key, JsonbValue *v)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, v);
}

static void
gw_answer_push_text(JsonbParseState **st, const char *key, const char *val)
{
	JsonbValue	v;

	v.type = val ? jbvString : jbvNull;
	if (val)
	{
		v.val.string.val = (char *) val;
		v.val.string.len = strlen(val);
	}
	gw_answer_push(st, key, &v);
}

static void
gw_answer_push_int(JsonbParseState **st, const char *key, int64 val, bool isnull)
{
	JsonbValue	v;

	v.type = isnull ? jbvNull : jbvNumeric;
	if (!isnull)
		v.val.numeric = int64_to_numeric(val);
	gw_answer_push(st, key, &v);
}

/* The answer object (see inbound.h), built as jsonb: no text to parse. */
static Jsonb *
gw_inbound_answer(int64 id, const char *kind, int64 outbox_id, const char *status,
				  const char *note, const char *error, const char *reply)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	gw_answer_push_int(&st, "recorded", id, false);
	gw_answer_push_text(&st, "kind", kind);
	gw_answer_push_int(&st, "outbox_id", outbox_id, outbox_id <= 0);
	gw_answer_push_text(&st, "status", status);
	gw_answer_push_text(&st, "note", note);
	gw_answer_push_text(&st, "error", error);
	if (reply)
		gw_answer_push_text(&st, "reply", reply);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* Run a find statement over args; the ids it gives in out (0: none). */
static void
gw_inbound_find_run(SPIPlanPtr plan, Datum *args, int n, int64 *out)
{
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "matching a callback failed");
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		out[i] = isnull ? 0 : DatumGetInt64(d);
	}
}

/*
 * Find the rows the callbacks name (->row, 0 for none): by their keys, then
 * those not found by their correlators.
 */
static void
gw_inbound_find(GwItem **items, int n)
{
	Datum		v[5][GW_INGEST_MAX];
	bool		nl[5][GW_INGEST_MAX];
	Datum		args[5];
	int64		rows[GW_INGEST_MAX];
	int			idx[GW_INGEST_MAX];
	int			k = 0;
	static const Oid elems[5] = {TEXTOID, BOOLOID, TEXTOID, TEXTOID, INT8OID};

	for (int i = 0; i < n; i++)
	{
		const GwInbound *in = &items[i]->in;
		bool		pay = (strcmp(in->kind, "payment") == 0);
		const char *dash = in->key ? strrchr(in->key, '-') : NULL;
		int64		rid = 0;

		/* gateway's own key carries the row id */
		if (!pay && in->key && strncmp(in->key, "gw", 2) == 0 && dash && dash[1] != '\0' &&
			strspn(dash + 1, "0123456789") == strlen(dash + 1) && strlen(dash + 1) <= 18)
			rid = strtoll(dash + 1, NULL, 10);
		v[0][i] = gw_text_or_null(items[i]->acc->name, &nl[0][i]);
		v[1][i] = BoolGetDatum(pay);
		nl[1][i] = false;
		v[2][i] = gw_text_or_null(in->key, &nl[2][i]);
		v[3][i] = gw_text_or_null(pay ? in->key2 : NULL, &nl[3][i]);
		v[4][i] = Int64GetDatum(rid);
		nl[4][i] = (rid <= 0);
	}
	for (int c = 0; c < 5; c++)
		args[c] = gw_array(v[c], nl[c], n, elems[c]);
	if (gw_find_plan == NULL)
		gw_find_plan = gw_saved_plan(gw_find_sql, 5,
									 (Oid[]) {TEXTARRAYOID, BOOLARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
											  INT8ARRAYOID});
	gw_inbound_find_run(gw_find_plan, args, n, rows);
	for (int i = 0; i < n; i++)
	{
		const GwInbound *in = &items[i]->in;

		items[i]->row = rows[i];
		if (rows[i] == 0 && in->correlator && strcmp(in->kind, "payment") != 0)
		{
			v[0][k] = CStringGetTextDatum(items[i]->acc->name);
			v[1][k] = CStringGetTextDatum(in->correlator);
			idx[k++] = i;
		}
	}
	if (k == 0)
		return;
	args[0] = gw_array(v[0], NULL, k, TEXTOID);
	args[1] = gw_array(v[1], NULL, k, TEXTOID);
	if (gw_find_correlator_plan == NULL)
		gw_find_correlator_plan = gw_saved_plan(gw_find_correlator_sql, 2,
												(Oid[]) {TEXTARRAYOID, TEXTARRAYOID});
	gw_inbound_find_run(gw_find_correlator_plan, args, k, rows);
	for (int j = 0; j < k; j++)
		items[idx[j]]->row = rows[j];
}

/*
 * Lock the rows found (no two items name one), without waiting when nowait,
 * and read them into ->m.
 */
static void
gw_inbound_lock(GwItem **items, int n, bool nowait, MemoryContext cxt)
{
	Datum		ids[GW_INGEST_MAX];
	int			k = 0;
	Datum		arg;

	for (int i = 0; i < n; i++)
		if (items[i]->row > 0)
			ids[k++] = Int64GetDatum(items[i]->row);
	if (k == 0)
		return;
	arg = gw_array(ids, NULL, k, INT8OID);
	if (gw_lock_plans[nowait] == NULL)
		gw_lock_plans[nowait] = gw_saved_plan(gw_lock_sql[nowait], 1, (Oid[]) {INT8ARRAYOID});
	if (gw_execute_indexed(gw_lock_plans[nowait], &arg, NULL) != SPI_OK_SELECT)
		elog(ERROR, "matching a callback failed");
	for (uint64 t = 0; t < SPI_processed; t++)
	{
		HeapTuple	tup = SPI_tuptable->vals[t];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, d, 1, &isnull));

		for (int i = 0; i < n; i++)
		{
			GwMatched  *m = &items[i]->m;
			MemoryContext old;

			if (items[i]->row != id)
				continue;
			old = MemoryContextSwitchTo(cxt);
			m->id = id;
			m->status = gw_outbox_status_from_name(SPI_getvalue(tup, d, 2));
			m->payment = DatumGetBool(SPI_getbinval(tup, d, 3, &isnull));
			m->params = DatumGetJsonbPCopy(SPI_getbinval(tup, d, 4, &isnull));
			m->operation = SPI_getvalue(tup, d, 5);
			m->match_key = SPI_getvalue(tup, d, 6);
			MemoryContextSwitchTo(old);
			items[i]->locked = true;
		}
	}
}

/* The details kept under result->'callback'. */
static Jsonb *
gw_inbound_details(int64 id, const GwInbound *in, const GwOutcome *o)
{
	StringInfoData buf;
	GwJsonWriter w;
	Jsonb	   *details;

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
	/*
	 * The provider's detail object's members after ours, in one text parsed
	 * once: a key in both is the detail's, as jsonb_concat would have it.
	 */
	if (in->detail != NULL)
	{
		const char *open = strchr(in->detail, '{');
		const char *close = strrchr(in->detail, '}');

		if (open == NULL || close == NULL || close < open)
			elog(ERROR, "a callback's detail is not a JSON object: %s", in->detail);
		buf.len--;				/* our closing brace */
		buf.data[buf.len] = '\0';
		if (strspn(open + 1, " \t\r\n") < (size_t) (close - open - 1))
			appendStringInfoChar(&buf, ',');
		appendBinaryStringInfo(&buf, open + 1, close - open);
	}
	details = gw_json_parse(buf.data, buf.len);
	if (details == NULL || !JB_ROOT_IS_OBJECT(details))
		elog(ERROR, "a callback's details are not a JSON object: %s", buf.data);
	/* with the provider's detail, a field with nothing in it is left out */
	if (in->detail == NULL || strstr(buf.data, "null") == NULL)
		return details;
	/* strip_in_arrays false: 18 added it, the ones before ignore it */
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_strip_nulls, JsonbPGetDatum(details),
											  BoolGetDatum(false)));
}

/* The UPDATEs decided so far, as gw_update_sql's arrays. */
typedef struct GwUpdates
{
	int			n;
	Datum		v[5][GW_INGEST_MAX];
	bool		nl[5][GW_INGEST_MAX];
} GwUpdates;

static void
gw_inbound_update(GwUpdates *u)
{
	Datum		args[5];
	static const Oid elems[5] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT8OID};

	if (u->n == 0)
		return;
	for (int c = 0; c < 5; c++)
		args[c] = gw_array(u->v[c], u->nl[c], u->n, elems[c]);
	if (gw_update_plan == NULL)
		gw_update_plan = gw_saved_plan(gw_update_sql, 5,
									   (Oid[]) {INT8ARRAYOID, TEXTARRAYOID, JSONBARRAYOID,
												TEXTARRAYOID, INT8ARRAYOID});
	if (gw_execute_indexed(gw_update_plan, args, NULL) != SPI_OK_UPDATE)
		elog(ERROR, "applying a callback failed");
	u->n = 0;
}

/*
 * What a delivery report or payment result does to the row it names, now
 * locked: outcome.c decides; an UPDATE is added to u.
 */
static void
gw_inbound_decide(GwItem *it, GwUpdates *u)
{
	const GwProvider *p = it->acc->provider;
	const char *kind = it->cb->kind;
	GwApplied  *out = &it->a;
	GwMatched  *m = &it->m;
	GwOutcome	o;

	if (!it->locked)
		out->note = strcmp(kind, "dlr") == 0
			? "no outbox row has this uniqueId or correlator"
			: "no payment has this checkout or transaction request id";
	else if (strcmp(kind, "dlr") == 0 && m->payment)
		out->note = "the row is a payment: a delivery report never changes it";
	else
	{
		const GwOperation *op = gw_operation_find(p, m->operation);
		char	   *amount = gw_jsonb_get_text(m->params, "amount");
		char	   *phone = gw_jsonb_get_text(m->params, "phone");
		const char *why;
		int			i = u->n;

		if (phone)
			phone = gw_msisdn_normalize(phone, it->acc->country, &why);
		out->outbox_id = m->id;
		if (!gw_outcome_callback(&it->in, m->payment, amount, phone, it->acc->country,
								 op && op->reconcile_op &&
								 (!op->reconcile_by_match_key || m->match_key),
								 &o))
			out->note = strcmp(kind, "dlr") == 0
				? psprintf("delivery status %s recorded; the row is left %s",
						   it->in.code ? it->in.code : "missing", gw_outbox_status_name(m->status))
				: psprintf("payment still pending; the row is left %s",
						   gw_outbox_status_name(m->status));
		else if (gw_outbox_status_final(m->status))
			out->note = psprintf("the row is already %s: unchanged",
								 gw_outbox_status_name(m->status));
		else
		{
			u->v[0][i] = Int64GetDatum(m->id);
			u->nl[0][i] = false;
			u->v[1][i] = CStringGetTextDatum(gw_outbox_status_name(o.outbox));
			u->nl[1][i] = false;
			u->v[2][i] = JsonbPGetDatum(gw_inbound_details(it->id, &it->in, &o));
			u->nl[2][i] = false;
			u->v[3][i] = gw_text_or_null(o.error, &u->nl[3][i]);
			u->v[4][i] = Int64GetDatum(o.delay_ms);
			u->nl[4][i] = false;
			u->n++;
			out->status = pstrdup(gw_outbox_status_name(o.outbox));
			if (o.check)
				out->note = psprintf("needs checking: %s", o.check);
		}
	}
}

/*
 * Delivery reports and payment results: the account's provider reads each;
 * the rows they name are found and locked, outcome.c decides, one UPDATE
 * applies them all.  Two callbacks for one row go in turn: the second is
 * decided on what the first left.
 */
static void
gw_inbound_outcomes(GwItem **items, int n)
{
	MemoryContext cxt = CurrentMemoryContext;
	GwItem	  **this_round = palloc(n * sizeof(GwItem *));
	GwItem	  **later = palloc(n * sizeof(GwItem *));
	GwUpdates  *u = palloc(sizeof(GwUpdates));
	int			nthis = 0;
	Oid			save_userid;
	int			save_sec;

	u->n = 0;
	for (int i = 0; i < n; i++)
	{
		GwItem	   *it = items[i];
		const GwProvider *p = it->acc->provider;

		it->in.kind = it->cb->kind;
		it->in.status = GW_UNKNOWN;
		if (p->parse_callback == NULL || !p->parse_callback(it->cb->kind, it->payload, &it->in))
		{
			it->a.error = psprintf("%s sends no %s callbacks", p->name,
								   strcmp(it->cb->kind, "dlr") == 0 ? "delivery report" : "payment");
			it->a.note = it->a.error;
		}
		else if (it->in.error)
		{
			it->a.error = it->in.error;
			it->a.note = it->in.error;
		}
		else
			this_round[nthis++] = it;
	}

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	while (nthis > 0)
	{
		int			nlater = 0;
		int			nnow = 0;

		gw_inbound_find(this_round, nthis);
		/* SPI calls leave SPI's memory current: what is kept is made in cxt */
		MemoryContextSwitchTo(cxt);
		for (int i = 0; i < nthis; i++)
		{
			bool		again = false;

			for (int j = 0; j < nnow && !again; j++)
				again = (this_round[i]->row > 0 && this_round[j]->row == this_round[i]->row);
			if (again)
				later[nlater++] = this_round[i];
			else
				this_round[nnow++] = this_round[i];
		}
		gw_inbound_lock(this_round, nnow, n > 1, cxt);
		MemoryContextSwitchTo(cxt);
		for (int i = 0; i < nnow; i++)
			gw_inbound_decide(this_round[i], u);
		gw_inbound_update(u);
		MemoryContextSwitchTo(cxt);
		memcpy(this_round, later, nlater * sizeof(GwItem *));
		nthis = nlater;
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

typedef struct GwOutcomesArgs
{
	GwItem	  **items;
	int			n;
} GwOutcomesArgs;

static void
gw_inbound_outcomes_step(void *arg)
{
	GwOutcomesArgs *a = (GwOutcomesArgs *) arg;

	gw_inbound_outcomes(a->items, a->n);
}

/* The outcome of one item applied in a subtransaction failed: it says why. */
static void
gw_inbound_failed(GwItem *it, char *error)
{
	memset(&it->a, 0, sizeof(it->a));
	it->a.error = error;
	it->a.note = error;
}

/*
 * Apply delivery reports and payment results together, in a subtransaction;
 * an ERROR while applying them is tried again one callback at a time, and
 * one's ERROR becomes its out->error (the body can never be applied).  A
 * transient one (a lock or statement timeout, a deadlock, a serialization
 * failure) is raised: nothing is kept and the listener answers 503, so the
 * provider sends it again.
 */
static void
gw_inbound_apply_outcomes(GwItem **items, int n)
{
	GwOutcomesArgs a = {items, n};
	char	   *error;

	if (n == 0)
		return;
	error = gw_try_subxact_ex(gw_inbound_outcomes_step, &a, CurrentMemoryContext, true);
	if (error == NULL)
		return;
	if (n == 1)
	{
		gw_inbound_failed(items[0], error);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		GwItem	   *it = items[i];

		memset(&it->a, 0, sizeof(it->a));
		memset(&it->in, 0, sizeof(it->in));
		memset(&it->m, 0, sizeof(it->m));
		it->row = 0;
		it->locked = false;
		a.items = &items[i];
		a.n = 1;
		error = gw_try_subxact_ex(gw_inbound_outcomes_step, &a, CurrentMemoryContext, true);
		if (error)
			gw_inbound_failed(it, error);
	}
}

/*
 * gateway.apply_inbound as the owner (subscription, mo), in a subtransaction
 * as gw_inbound_apply_outcomes.
 */
static void
gw_inbound_apply_sql_step(void *arg)
{
	GwItem	   *it = (GwItem *) arg;

	gw_inbound_apply_sql(&it->a, it->id, it->acc, it->cb->kind, it->payload);
}

void
gw_inbound_ingest_many(GwCallback *cbs, int n)
{
	GwItem	   *items = palloc0(n * sizeof(GwItem));
	GwItem	  **outcomes = palloc(n * sizeof(GwItem *));
	int			nout = 0;
	Oid			seq = InvalidOid;

	if (n > GW_INGEST_MAX)
		elog(ERROR, "at most %d callbacks are ingested together", GW_INGEST_MAX);
	for (int i = 0; i < n; i++)
	{
		GwItem	   *it = &items[i];
		GwCallback *cb = &cbs[i];

		it->cb = cb;
		/* a copy: the next gw_account_get may reload the cache */
		it->acc = gw_account_copy(gw_account_get(cb->account));
		gw_inbound_check_kind(cb->kind);
		it->payload = cb->payload;
		if (it->payload == NULL && cb->body != NULL)
		{
			char	   *copy = pstrdup(cb->body);

			it->payload = gw_json_parse(copy, strlen(copy));
		}
		it->id = gw_inbound_next_id(&seq);
		if (it->payload == NULL)
			it->a.error = "the body is not JSON";
		else if (!JB_ROOT_IS_OBJECT(it->payload))
			it->a.error = "the body is not a JSON object";
		if (it->a.error)
			it->a.note = it->a.error;
		else if (strcmp(cb->kind, "ussd") == 0)
			gw_inbound_ussd(&it->a, it->acc, it->payload);
		else if (strcmp(cb->kind, "dlr") == 0 || strcmp(cb->kind, "payment") == 0)
			outcomes[nout++] = it;
		else
		{
			char	   *error = gw_try_subxact_ex(gw_inbound_apply_sql_step, it,
												  CurrentMemoryContext, true);

			if (error)
				gw_inbound_failed(it, error);
		}
	}
	gw_inbound_apply_outcomes(outcomes, nout);
	gw_inbound_record(items, n);
	for (int i = 0; i < n; i++)
	{
		GwItem	   *it = &items[i];
		GwApplied  *a = &it->a;

		gw_stat_callback(it->acc->name, it->cb->kind,
						 a->error ? GW_CB_REFUSED :
						 (a->status || a->reply) ? GW_CB_APPLIED :
						 a->outbox_id > 0 ? GW_CB_IGNORED : GW_CB_UNMATCHED);
		it->cb->answer = gw_inbound_answer(it->id, it->cb->kind, a->outbox_id, a->status,
										   a->note, a->error, a->reply);
	}
}

Jsonb *
gw_inbound_ingest(const char *account, const char *kind, const char *body, Jsonb *payload)
{
	GwCallback	cb = {account, kind, body, payload, NULL};

	gw_inbound_ingest_many(&cb, 1);
	return cb.answer;
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
