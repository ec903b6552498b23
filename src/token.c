/*
 * token.c: OAuth tokens of an account, cached in gateway.account_token.
 *
 * The table is as secret as the credentials, so it is read and written as
 * the owner of the secrets table, like the accounts themselves.  A token
 * fetched by one backend serves every backend once the call's transaction
 * commits.  Writing it is an optimisation, never a reason to fail the call:
 * the write runs in a subtransaction that gives up quickly on a lock and is
 * skipped in read-only transactions.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "token.h"
#include "util.h"

/* How long writing the token may wait for a row another call is writing. */
#define GW_TOKEN_LOCK_TIMEOUT	"200ms"

static SPIPlanPtr gw_token_select_plan = NULL;
static SPIPlanPtr gw_token_upsert_plan = NULL;

static SPIPlanPtr
gw_token_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
		*cache = gw_saved_plan(sql, nargs, argtypes);
	return *cache;
}

bool
gw_token_load(const GwAccount *acc, GwToken *tok)
{
	static Oid	argtypes[1] = {TEXTOID};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	SPIPlanPtr	plan;
	Datum		values[1];
	bool		found;
	int			rc;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = gw_token_plan(&gw_token_select_plan,
						 "SELECT access_token, refresh_token, fetched_at, expires_at"
						 "  FROM gateway.account_token"
						 " WHERE account OPERATOR(pg_catalog.=) $1",
						 1, argtypes);
	values[0] = CStringGetTextDatum(acc->name);
	/* not read-only: a token stored earlier in this statement counts */
	rc = SPI_execute_plan(plan, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "token lookup failed: %s", SPI_result_code_string(rc));
	found = SPI_processed > 0;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spicxt = MemoryContextSwitchTo(cxt);
		bool		isnull;

		tok->access_token = SPI_getvalue(tup, desc, 1);
		tok->refresh_token = SPI_getvalue(tup, desc, 2);
		tok->fetched_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		tok->expires_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return found;
}

static void
gw_token_write(const GwAccount *acc, const GwToken *tok)
{
	static Oid	argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			save_userid;
	int			save_sec;
	SPIPlanPtr	plan;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			rc;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the newest token wins: another backend may have fetched one since */
	plan = gw_token_plan(&gw_token_upsert_plan,
						 "INSERT INTO gateway.account_token AS t"
						 "       (account, access_token, refresh_token, fetched_at, expires_at)"
						 " VALUES ($1, $2, $3, $4, $5)"
						 " ON CONFLICT (account) DO UPDATE"
						 "   SET access_token = excluded.access_token,"
						 "       refresh_token = excluded.refresh_token,"
						 "       fetched_at = excluded.fetched_at,"
						 "       expires_at = excluded.expires_at"
						 " WHERE t.fetched_at OPERATOR(pg_catalog.<=) excluded.fetched_at",
						 5, argtypes);
	values[0] = CStringGetTextDatum(acc->name);
	values[1] = CStringGetTextDatum(tok->access_token);
	if (tok->refresh_token)
		values[2] = CStringGetTextDatum(tok->refresh_token);
	else
		nulls[2] = 'n';
	values[3] = TimestampTzGetDatum(tok->fetched_at);
	values[4] = TimestampTzGetDatum(tok->expires_at);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "token store failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

void
gw_token_store(const GwAccount *acc, const GwToken *tok)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	/* Nowhere to keep it: the next call asks for a token again. */
	if (XactReadOnly)
		return;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		/* a transaction still writing the row must not stall this call */
		(void) set_config_option("lock_timeout", GW_TOKEN_LOCK_TIMEOUT,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		gw_token_write(acc, tok);
		AtEOXact_GUC(true, nest);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* a cancel or statement_timeout ends the call as usual */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		/* the message only: a detail could show the row, token and all */
		ereport(LOG,
				(errmsg("could not cache the token of account \"%s\": %s",
						acc->name, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

bool
gw_token_due(const GwToken *tok, TimestampTz now)
{
	int64		lifetime = tok->expires_at - tok->fetched_at;
	int64		early = Min(60 * USECS_PER_SEC, lifetime / 10);

	return now >= tok->expires_at - early;
}
