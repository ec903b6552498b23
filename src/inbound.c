/*
 * inbound.c: callbacks from providers (see inbound.h): gw_ingest and
 * gateway.ingest_text, the listener's entry.
 *
 * A callback is recorded in gateway.inbound first, as the extension owner,
 * then applied in a subtransaction: whatever goes wrong while applying it,
 * the record stays, with what went wrong in its note.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "account.h"
#include "inbound.h"
#include "jsonutil.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_ingest);
PG_FUNCTION_INFO_V1(gw_ingest_text);

static const char *const gw_inbound_kinds[] = {
	"dlr", "payment", "subscription", "mo", "ussd", NULL
};

static SPIPlanPtr gw_record_plan = NULL;
static SPIPlanPtr gw_note_plan = NULL;

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
static int64
gw_inbound_record(const char *account, const char *kind, Jsonb *payload, const char *raw)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	int64		id;

	values[0] = CStringGetTextDatum(account);
	values[1] = CStringGetTextDatum(kind);
	values[2] = payload ? JsonbPGetDatum(payload) : (Datum) 0;
	nulls[2] = payload ? ' ' : 'n';
	values[3] = raw ? CStringGetTextDatum(raw) : (Datum) 0;
	nulls[3] = raw ? ' ' : 'n';

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_record_plan == NULL)
		gw_record_plan = gw_saved_plan(
			"WITH i AS ("
			"  INSERT INTO gateway.inbound (account, kind, payload, raw)"
			"  VALUES ($1, $2, $3, $4) RETURNING id)"
			" SELECT id, pg_catalog.pg_notify('gateway_inbound', id::text) FROM i",
			4, (Oid[]) {TEXTOID, TEXTOID, JSONBOID, TEXTOID});
	if (SPI_execute_plan(gw_record_plan, values, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "recording a callback failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return id;
}

/* Set what a recorded callback updated and what came of it. */
static void
gw_inbound_note(int64 id, int64 outbox_id, const char *note)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;

	values[0] = Int64GetDatum(id);
	values[1] = Int64GetDatum(outbox_id);
	nulls[1] = outbox_id > 0 ? ' ' : 'n';
	values[2] = note ? CStringGetTextDatum(note) : (Datum) 0;
	nulls[2] = note ? ' ' : 'n';

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_note_plan == NULL)
		gw_note_plan = gw_saved_plan(
			"UPDATE gateway.inbound SET outbox_id = $2, note = $3"
			" WHERE id OPERATOR(pg_catalog.=) $1",
			3, (Oid[]) {INT8OID, INT8OID, TEXTOID});
	if (SPI_execute_plan(gw_note_plan, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "noting a callback failed");
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

Jsonb *
gw_inbound_ingest(const char *account, const char *kind, const char *body, Jsonb *payload)
{
	const GwAccount *acc = gw_account_get(account);
	int64		id;

	gw_inbound_check_kind(kind);
	if (payload == NULL && body != NULL)
	{
		char	   *copy = pstrdup(body);

		payload = gw_json_parse(copy, strlen(copy));
	}
	id = gw_inbound_record(acc->name, kind, payload, payload ? NULL : body);
	if (payload == NULL)
	{
		const char *error = "the body is not JSON";

		gw_inbound_note(id, 0, error);
		return gw_inbound_answer(id, kind, 0, NULL, error, error, NULL);
	}
	if (!JB_ROOT_IS_OBJECT(payload))
	{
		const char *error = "the body is not a JSON object";

		gw_inbound_note(id, 0, error);
		return gw_inbound_answer(id, kind, 0, NULL, error, error, NULL);
	}
	return gw_inbound_answer(id, kind, 0, NULL, NULL, NULL, NULL);
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
