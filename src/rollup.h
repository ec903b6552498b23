/*
 * rollup.h: the daily figures per account (gateway.daily), kept after the
 * outbox rows are purged.  See docs/costs.md.
 */
#ifndef GW_ROLLUP_H
#define GW_ROLLUP_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* gateway.keep_daily: days of gateway.daily to keep; -1 keeps them all. */
extern int	gw_keep_daily_d;

/*
 * One pass, in the caller's transaction with SPI connected: make final the
 * days that ended gateway.keep_finished ago, refresh the open days rows
 * changed in since *since (0: every open day), drop days past
 * gateway.keep_daily.  wait: false gives up at once while another pass
 * runs.  On success *since moves to this pass's start.
 */
extern void gw_rollup_run(TimestampTz *since, bool wait);

/*
 * The first worker's pass: gw_rollup_start() starts the rollup process for
 * pass gen of entry db (NULL: no slot free), or the worker does the pass
 * itself with gw_rollup_pass_shared() in its transaction, SPI connected,
 * and records it with gw_db_rollup_done() once committed.  Either starts
 * from what the last pass left in shared memory.
 */
struct BackgroundWorkerHandle;
extern struct BackgroundWorkerHandle *gw_rollup_start(int db, Oid dboid, const char *name,
													  Oid extoid, int64 gen);
extern void gw_rollup_pass_shared(int db, TimestampTz *since, int64 *took_ms);

#endif
