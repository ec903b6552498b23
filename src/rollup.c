/*
 * rollup.c: gw_rollup() and the worker's rollup pass.
 *
 * The figures are computed in SQL (gateway.rollup, gateway.rollup_days in
 * the 0.4.0 update script): one aggregate over the rows of the days it
 * replaces.  The purge (worker.c) deletes only rows of final days, and a
 * day is made final once, from every row it still has: nothing is counted
 * twice, nothing purged before it was counted.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/timestamp.h"

#include "account.h"
#include "rights.h"
#include "rollup.h"
#include "util.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(gw_rollup);

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
				 errhint("Only the extension's owner may call gw_rollup(); the worker rolls up every minute.")));
	gw_require_writable("roll up the daily figures");
	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	gw_rollup_run(&since, true);
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	PG_RETURN_VOID();
}
