/*
 * stats.h: cumulative counters in shared memory, per database: requests by
 * account and operation (gw_call_complete, the worker's rate limit), callbacks
 * by account and kind (inbound.c), listener answers by HTTP code (listener.c,
 * front.c).  Counters are not rows: an outbox purge leaves them; a server
 * restart or gw_stat_reset() zeroes them.
 *
 * The table has a fixed number of entries; an event whose entry finds no
 * room is counted in gateway_stats_dropped, never silently lost.  Entries are
 * never removed (a reset zeroes them), so a pointer to one stays good: each
 * process keeps its own map of the entries it counts in, and counting is
 * a few atomic additions, without a lock.
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include "postgres.h"
#include "datatype/timestamp.h"

#include "outcome.h"

/* Latency buckets, upper bounds in ms; one more bucket for +Inf. */
#define GW_STAT_NBUCKETS 12
extern const double gw_stat_bucket_ms[GW_STAT_NBUCKETS - 1];

extern void gw_stats_init(void);

/* What an entry counts. */
typedef enum GwStatKind
{
	GW_STAT_REQ = 1,			/* name: the operation */
	GW_STAT_CB,					/* name: the callback kind */
	GW_STAT_HTTP,				/* account "", name: the HTTP code */
	GW_STAT_ACT					/* account "", name "": last activity */
} GwStatKind;

/* The counters of a GW_STAT_REQ entry. */
enum
{
	GW_SR_REQUESTS = 0,
	GW_SR_STATUS,				/* + GwStatus: 6 of them */
	GW_SR_RETRIES = GW_SR_STATUS + 6,
	GW_SR_RATE_WAITS,
	GW_SR_HTTP_429,
	GW_SR_TRANSPORT,
	GW_SR_BUCKET,				/* + GW_STAT_NBUCKETS */
	GW_SR_SUM_US = GW_SR_BUCKET + GW_STAT_NBUCKETS,
	GW_SR_COUNT
};

/* The counters of a GW_STAT_CB entry. */
typedef enum GwCbResult
{
	GW_CB_RECEIVED = 0,			/* recorded in gateway.inbound */
	GW_CB_APPLIED,				/* changed a row, or a USSD reply */
	GW_CB_IGNORED,				/* its row was found, nothing to change */
	GW_CB_UNMATCHED,			/* no row of ours */
	GW_CB_REFUSED,				/* the body cannot be taken */
	GW_CB_COUNT
} GwCbResult;

/* The timestamps of a GW_STAT_ACT entry. */
enum
{
	GW_SA_WORKER = 0,			/* a worker finished a request */
	GW_SA_LISTENER,				/* the listener answered */
	GW_SA_COUNT
};

#define GW_STAT_MAXC GW_SR_COUNT

/* One entry as read (a copy). */
typedef struct GwStatRow
{
	Oid			dboid;
	GwStatKind	kind;
	char		account[NAMEDATALEN];
	char		name[NAMEDATALEN];
	TimestampTz reset;
	uint64		c[GW_STAT_MAXC];
} GwStatRow;

extern Size gw_stats_shmem_size(void);
extern void gw_stats_shmem_init(void);

/* Counting; each does nothing before shared memory is there. */
struct GwCall;
extern void gw_stat_call(const struct GwCall *call);	/* gw_call_complete */
extern void gw_stat_rate_wait(const char *account, const char *operation);
extern void gw_stat_callback(const char *account, const char *kind, GwCbResult r);
extern void gw_stat_answer(Oid dboid, int code);

/* Every entry in use (palloc'd); *dropped: events that found no room. */
extern GwStatRow *gw_stat_snapshot(int *n, uint64 *dropped);
extern uint64 gw_stat_dropped(void);
/* Whether the current user sees every account's counters (the extension's
 * owner, a superuser, a member of pg_read_all_stats). */
extern bool gw_stat_sees_all(void);
/* Last activity of this database's workers and listener (0: none yet). */
extern TimestampTz gw_stat_last(Oid dboid, int which);

#endif
