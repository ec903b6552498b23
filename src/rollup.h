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

#endif
