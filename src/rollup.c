/*
 * rollup.c: gw_rollup() and the rollup process.
 *
 * The figures are computed in SQL (gateway.rollup, gateway.rollup_days in
 * the 0.4.0 update script): one aggregate over the rows of the days it
 * replaces.  The purge (worker.c) deletes only rows of final days, and a
 * day is made final once, from every row it still has: nothing is counted
 * twice, nothing purged before it was counted.
 *
 * Such an aggregate reads every row of the days it replaces: at a million
 * messages an hour, a day's 24 million rows take most of a minute.  So the
 * pass does not run in the worker, whose drain would stop meanwhile: the
 * first worker starts a background worker of its own for each pass (the
 * rollup process, gw_rollup_main), and does the pass itself only when no
 * slot is free.  What a pass leaves for the next (the time it ran at, how
 * long it took) is in shared memory.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "account.h"
#include "launcher.h"
#include "rights.h"
#include "rollup.h"
#include "shmem.h"
#include "util.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(gw_rollup);
PGDLLEXPORT void gw_rollup_main(Datum arg);

int			gw_keep_daily_d = 400;

/*
 * Rows may commit with an updated_at a little before the pass that follows
 * them started (their transaction began earlier): look back this far.
 */
#define GW_ROLLUP_OVERLAP_MS (5 * 60 * 1000)

void
gw_rollup_run(TimestampTz *since, bool wait)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		ran;

	if (plan == NULL)
		plan = gw_saved_plan("SELECT gateway.rollup($1, $2, $3, $4)", 4,
							 (Oid[]) {INT8OID, INT4OID, TIMESTAMPTZOID, BOOLOID});
	args[0] = Int64GetDatum((int64) gw_keep_finished_s);
	args[1] = Int32GetDatum(gw_keep_daily_d);
	if (*since == 0)
		nulls[2] = 'n';
	else
		args[2] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(*since, -GW_ROLLUP_OVERLAP_MS));
	args[3] = BoolGetDatum(wait);
	if (SPI_execute_plan(plan, args, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the daily rollup failed");
	ran = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*since = DatumGetTimestampTz(ran);
}

/* gw_rollup(): a full pass now, for the extension's owner. */
Datum
gw_rollup(PG_FUNCTION_ARGS)
{
	TimestampTz since = 0;
	Oid			save_userid;
	int			save_sec;

	if (!gw_rights_is_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to roll up the daily figures"),
				 errhint("Only the extension's owner may call gw_rollup(); the worker rolls up once a minute, or less often when passes are long.")));
	gw_require_writable("roll up the daily figures");
	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	gw_rollup_run(&since, true);
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	PG_RETURN_VOID();
}

/* What the rollup process is given: its database, extension and pass. */
typedef struct GwRollupArgs
{
	Oid			dboid;
	Oid			extoid;
	int64		gen;
} GwRollupArgs;

/*
 * Start the rollup process for pass gen of entry db (database dboid, named
 * name, whose extension is extoid); NULL when no background worker slot is
 * free.
 */
BackgroundWorkerHandle *
gw_rollup_start(int db, Oid dboid, const char *name, Oid extoid, int64 gen)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *h = NULL;
	GwRollupArgs args = {dboid, extoid, gen};

	StaticAssertStmt(sizeof(GwRollupArgs) <= BGW_EXTRALEN, "bgw_extra is too small");
	gw_bgw_init(&bgw, "gw_rollup_main", "gateway rollup");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway rollup for database %s", name);
	bgw.bgw_main_arg = Int32GetDatum(db);
	memcpy(bgw.bgw_extra, &args, sizeof(args));
	if (!RegisterDynamicBackgroundWorker(&bgw, &h))
		return NULL;
	return h;
}

/*
 * One pass in the current transaction, SPI connected, from what the last
 * pass left in shared memory; what this one leaves in *since and *took_ms,
 * for gw_db_rollup_done once the transaction committed.
 */
void
gw_rollup_pass_shared(int db, TimestampTz *since, int64 *took_ms)
{
	TimestampTz start = GetCurrentTimestamp();

	gw_db_rollup_get(db, since, took_ms);
	gw_rollup_run(since, false);
	*took_ms = (GetCurrentTimestamp() - start) / 1000;
}

static int	gw_rollup_db = -1;

static void
gw_rollup_exit(int code, Datum arg)
{
	(void) gw_db_set_rollup(gw_rollup_db, false);
}

/*
 * The rollup process: one pass, then it exits.  A pass that fails is an
 * ERROR in the log; worker 0 sees that it did not commit and asks again a
 * minute later.
 */
void
gw_rollup_main(Datum arg)
{
	GwRollupArgs args;
	TimestampTz since;
	int64		took;

	gw_rollup_db = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	if (!gw_db_set_rollup(gw_rollup_db, true))
		proc_exit(0);			/* another runs, or the entry is not ours any more */
	before_shmem_exit(gw_rollup_exit, (Datum) 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	/*
	 * The extension worker 0 serves, and no other (one made anew since has
	 * rows worker 0 knows nothing of).  A DROP EXTENSION waits for the pass,
	 * or the pass does not run.
	 */
	if (!gw_lock_extension(args.extoid, false) || !gw_extension_current())
	{
		AbortCurrentTransaction();
		proc_exit(0);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "gateway: rolling up the daily figures");
	gw_rollup_pass_shared(gw_rollup_db, &since, &took);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	gw_db_rollup_done(gw_rollup_db, args.gen, since, took);
	pgstat_report_stat(true);
	proc_exit(0);
}
