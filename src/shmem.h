/*
 * shmem.h: state shared by the backends, the launcher and the workers: the
 * databases served, each with its workers' latches and lease tokens, and
 * the per-account rate buckets.
 */
#ifndef GW_SHMEM_H
#define GW_SHMEM_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "storage/latch.h"

#define GW_MAX_WORKERS 16		/* per database */
#define GW_MAX_DATABASES 64
#define GW_MAX_LISTENERS 8		/* callback listener processes per database */

/* A database's place in the launcher's table. */
typedef enum GwDbState
{
	GW_DB_PROBE = 1,			/* to be looked at: worker 0 checks the extension */
	GW_DB_SERVED,				/* the extension is there: a full worker set */
	GW_DB_ABSENT				/* no extension: the launcher forgets it */
} GwDbState;

/* What the launcher reads of an entry. */
typedef struct GwDbInfo
{
	Oid			dboid;
	GwDbState	state;
	bool		noslot;
	TimestampTz paused_until;
	bool		live[GW_MAX_WORKERS];	/* the slot's worker is registered */
	bool		backlog;		/* a live worker says its work outgrows it */
	bool		listener_live[GW_MAX_LISTENERS];	/* listener i is registered */
} GwDbInfo;

extern void gw_shmem_init(void);
extern bool gw_shmem_ready(void);

/* Workers: db is the entry's index, slot the worker's place in it. */
extern bool gw_shmem_register_worker(int db, int slot, int64 token);
extern void gw_shmem_unregister_worker(int db, int slot);
extern int	gw_shmem_live_tokens(int db, int64 *tokens);
/* A worker: whether its claims have come back full for a while (the
 * launcher then starts gateway.burst_workers more, when slots are free). */
extern void gw_shmem_set_backlog(int db, int slot, bool backlog);
/* Wake this database's workers. */
extern void gw_shmem_wake_workers(void);

/* The launcher */
extern void gw_shmem_set_launcher(Latch *latch);
extern void gw_shmem_wake_launcher(void);

/*
 * Ask the launcher to look at database dboid (an entry is made if there is
 * room; false: the table is full).  created: an extension was created there
 * (bumps the entry's generation, so a worker that looked before does not
 * mark it absent).
 */
extern bool gw_db_probe(Oid dboid, bool created);
/* The launcher: whether a CREATE EXTENSION found the table full since it
 * last asked (then every database is to be looked at again). */
extern bool gw_db_take_probe_lost(void);
/* A worker: its entry's generation, read before it looks for the
 * extension; and marking the entry served or absent if it is unchanged. */
extern uint32 gw_db_gen(int db);
/* (true: the entry is in that state now) */
extern bool gw_db_mark(int db, GwDbState state, uint32 gen);
/*
 * A database's callback listener idx (0 .. gateway.listeners - 1):
 * registering (name: the database's name, once it takes connections) or
 * leaving (NULL); false when another process has the place.  And the
 * database whose listeners serve a name (InvalidOid: none), with the one
 * to hand a connection to in *idx: turns[entry] (the caller's count for
 * each entry, advanced here) picks among those registered, so that
 * successive connections go round them.
 */
extern bool gw_db_set_listener(int db, int idx, const char *name);
extern Oid	gw_db_listener_for(const char *name, uint32 *turns, int *idx);
/* Whether this database's entry says served (its workers found the
 * extension, and have not found it gone since). */
extern bool gw_db_served(int db);
/* A DROP/ALTER DATABASE: no workers for dboid until then; how many live
 * (its listeners included). */
extern void gw_db_pause(Oid dboid, TimestampTz until);
extern int	gw_db_live_workers(Oid dboid);

/*
 * The rollup of entry db (rollup.c).  gw_db_set_rollup: register its
 * process, or unregister it (false: the entry is not this database's, or
 * another one runs).  Worker 0 asks for pass gen with gw_db_rollup_begin
 * (reset: the pass after its start, which refreshes every open day);
 * gw_db_rollup_done records, once that pass committed, the time it ran at
 * and how long it took (nothing when another pass was asked for since);
 * gw_db_rollup_get reads them (since 0: none yet, every open day to do);
 * gw_db_rollup_succeeded says whether pass gen committed.
 */
extern bool gw_db_set_rollup(int db, bool running);
extern void gw_db_rollup_begin(int db, int64 gen, bool reset);
extern void gw_db_rollup_get(int db, TimestampTz *since, int64 *took_ms);
extern void gw_db_rollup_done(int db, int64 gen, TimestampTz since, int64 took_ms);
extern bool gw_db_rollup_succeeded(int db, int64 gen);
/* The launcher: every entry; forgetting one (dropped, or still absent);
 * recording that no worker slot was free. */
extern void gw_db_snapshot(GwDbInfo *out);
extern void gw_db_forget(int db, Oid dboid, bool dropped);
extern void gw_db_set_noslot(int db, Oid dboid, bool noslot);
/* A backend: whether dboid has an entry, whether it lacks a slot; false
 * when it has none and the table is full. */
extern bool gw_db_status(Oid dboid, bool *known, bool *noslot);

/*
 * Take up to want tokens from the bucket of this database's account (rate
 * per second).  Returns how many were granted; *wait_ms says when the next
 * one will be there.
 */
extern int	gw_rate_take(const char *account, double rate, int want, int *wait_ms);
/* The provider said 429: send nothing for this account for a while. */
extern void gw_rate_pause(const char *account, int ms);

#endif
