/*
 * cancel.c: gw_cancel_bulk, cancelling many queued rows at once.
 *
 * A campaign is the rows of one account whose idempotency keys share a
 * prefix ("campaign-42-..."), or those due in a window of send_at.  Only
 * rows still 'queued' are cancelled, as gw_cancel does: a row being sent,
 * a payment whose outcome is unknown and a finished row stay as they are.
 * The rows are taken 10,000 a statement with FOR UPDATE SKIP LOCKED: a row a
 * worker is claiming at that moment is left to it (it is being sent), and
 * the worker's claim, which skips locked rows too, never waits for us.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "account.h"
#include "rights.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_cancel_bulk);

#define GW_CANCEL_BATCH 10000

/* prefix as a LIKE pattern matching it literally: \, % and _ escaped. */
static char *
gw_like_prefix(const char *prefix)
{
	StringInfoData p;

	initStringInfo(&p);
	for (const char *c = prefix; *c; c++)
	{
		if (*c == '\\' || *c == '%' || *c == '_')
			appendStringInfoChar(&p, '\\');
		appendStringInfoChar(&p, *c);
	}
	appendStringInfoChar(&p, '%');
	return p.data;
}

/*
 * Cancel the queued rows matching every filter given ($1 account, $2 key
 * pattern, $3..$4 the send_at window, $5 the accounts the caller holds or
 * NULL), a batch at a time, as the extension's owner; how many.
 */
static int64
gw_cancel_batches(Datum *args, char *nulls)
{
	StringInfoData sql;
	Oid			types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTARRAYOID};
	Oid			save_userid;
	int			save_sec;
	int64		total = 0;

	/* only the filters given: the planner sees the index it may use */
	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "WITH c AS ("
						   "  SELECT id FROM gateway.outbox o"
						   "   WHERE o.status OPERATOR(pg_catalog.=) 'queued'");
	if (nulls[0] == ' ')
		appendStringInfoString(&sql, " AND o.account OPERATOR(pg_catalog.=) $1");
	if (nulls[1] == ' ')
		appendStringInfoString(&sql, " AND o.key_given AND o.idempotency_key OPERATOR(pg_catalog.~~) $2");
	if (nulls[2] == ' ')
		appendStringInfoString(&sql, " AND o.send_at OPERATOR(pg_catalog.>=) $3");
	if (nulls[3] == ' ')
		appendStringInfoString(&sql, " AND o.send_at OPERATOR(pg_catalog.<) $4");
	if (nulls[4] == ' ')
		appendStringInfoString(&sql, " AND o.account OPERATOR(pg_catalog.=) ANY ($5)");
	appendStringInfo(&sql,
					 "   LIMIT %d FOR UPDATE SKIP LOCKED)"
					 " UPDATE gateway.outbox o SET status = 'cancelled', updated_at = pg_catalog.now()"
					 "   FROM c WHERE o.id OPERATOR(pg_catalog.=) c.id"
					 "    AND o.status OPERATOR(pg_catalog.=) 'queued'",
					 GW_CANCEL_BATCH);

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (;;)
	{
		uint64		n;

		if (SPI_execute_with_args(sql.data, 5, types, args, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "cancelling rows failed");
		n = SPI_processed;
		total += n;
		if (n < GW_CANCEL_BATCH)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return total;
}

/* gw_cancel_bulk(account, key_prefix, send_from, send_to) */
Datum
gw_cancel_bulk(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *prefix = gw_arg_text(fcinfo, 1);
	Datum		args[5];
	char		nulls[5] = {'n', 'n', 'n', 'n', 'n'};
	ArrayType  *held;

	if (account == NULL && prefix == NULL && PG_ARGISNULL(2) && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gw_cancel_bulk needs at least one filter"),
				 errhint("Name the account, a key_prefix, or a send_from/send_to window: gw_cancel_bulk(account => 'acme', key_prefix => 'campaign-42-').")));
	if (prefix != NULL && prefix[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_prefix must not be empty"),
				 errhint("Give the campaign's tag, e.g. 'campaign-42-', or leave key_prefix NULL.")));
	gw_require_writable("cancel messages");
	if (account != NULL)
	{
		/* as every function that names an account: held, and there */
		gw_rights_require(account, GW_RIGHT_SEND);
		(void) gw_account_get(account);
		args[0] = CStringGetTextDatum(account);
		nulls[0] = ' ';
	}
	if (prefix != NULL)
	{
		args[1] = CStringGetTextDatum(gw_like_prefix(prefix));
		nulls[1] = ' ';
	}
	if (!PG_ARGISNULL(2))
	{
		args[2] = PG_GETARG_DATUM(2);
		nulls[2] = ' ';
	}
	if (!PG_ARGISNULL(3))
	{
		args[3] = PG_GETARG_DATUM(3);
		nulls[3] = ' ';
	}
	/* no account named: the rows of the accounts the caller holds */
	held = gw_rights_held_array();
	if (held != NULL)
	{
		args[4] = PointerGetDatum(held);
		nulls[4] = ' ';
	}
	PG_RETURN_INT64(gw_cancel_batches(args, nulls));
}
