/*
 * shmem.c: state shared by the backends and the workers.
 *
 * A table of the databases the launcher serves (launcher.c), each with its
 * workers' latches and lease tokens; and the rate buckets, a small
 * open-addressed table of (database, account), shared by every worker so
 * that an account's limit holds however many workers send.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "circuit.h"
#include "journal.h"
#include "pause.h"
#include "clients.h"
#include "shmem.h"
#include "stats.h"

#define GW_MAX_BUCKETS 1024

/* The longest wait gw_rate_take names: a caller asks again after it. */
#define GW_RATE_MAX_WAIT_MS 1000

typedef struct GwWorkerSlot
{
	pid_t		pid;
	int64		token;			/* marks the rows this worker leased */
	Latch	   *latch;
	bool		backlog;		/* its claims have come back full for a while */
} GwWorkerSlot;

typedef struct GwDbEntry
{
	Oid			dboid;			/* InvalidOid: free */
	GwDbState	state;
	uint32		gen;			/* bumped by each committed CREATE EXTENSION */
	bool		noslot;			/* the launcher found no free worker slot */
	TimestampTz paused_until;	/* a DROP/ALTER DATABASE wants it to itself */
	GwWorkerSlot workers[GW_MAX_WORKERS];
	pid_t		listener_pid[GW_MAX_LISTENERS];	/* its callback listeners, 0: none */
	char		listener_db[NAMEDATALEN];	/* the name they serve */
	pid_t		rollup_pid;		/* its rollup process, 0: none */
	int64		rollup_gen;		/* the pass asked for last */
	int64		rollup_done;	/* the last pass that committed */
	TimestampTz rollup_since;	/* it ran at (0: none yet) */
	int64		rollup_ms;		/* and took */
} GwDbEntry;

typedef struct GwBucket
{
	Oid			dboid;			/* the account's database */
	char		account[NAMEDATALEN];	/* "" = free */
	double		tokens;
	TimestampTz last;
	TimestampTz paused_until;
} GwBucket;

typedef struct GwShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	bool		probe_lost;		/* a probe found the table full */
	GwDbEntry	dbs[GW_MAX_DATABASES];
	GwBucket	buckets[GW_MAX_BUCKETS];
} GwShared;

static GwShared *gw_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
gw_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(GwShared)));
	RequestAddinShmemSpace(gw_pause_shmem_size());
	RequestNamedLWLockTranche("gateway", 1);
	RequestAddinShmemSpace(gw_stats_shmem_size());
	gw_circuit_shmem_request();
	gw_clients_shmem_request();
}

static void
gw_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gw_shared = ShmemInitStruct("gateway", sizeof(GwShared), &found);
	if (!found)
	{
		memset(gw_shared, 0, sizeof(GwShared));
		gw_shared->lock = &(GetNamedLWLockTranche("gateway"))->lock;
	}
	gw_pause_shmem_init();
	gw_stats_shmem_init();
	gw_clients_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
	gw_circuit_shmem_startup();
	/* the postmaster, at start and after a crash: no session is left */
	if (!IsUnderPostmaster)
		gw_journal_startup();
}

/* Called from _PG_init when loaded by shared_preload_libraries. */
void
gw_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = gw_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = gw_shmem_startup;
}

bool
gw_shmem_ready(void)
{
	return gw_shared != NULL;
}

/* The entry of database dboid, or NULL; the caller holds the lock. */
static GwDbEntry *
gw_db_find(Oid dboid)
{
	for (int i = 0; i < GW_MAX_DATABASES; i++)
		if (gw_shared->dbs[i].dboid == dboid)
			return &gw_shared->dbs[i];
	return NULL;
}

bool
gw_shmem_register_worker(int db, int slot, int64 token)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	bool		ok;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	ok = (e->dboid == MyDatabaseId && e->workers[slot].pid == 0);
	if (ok)
	{
		e->workers[slot].pid = MyProcPid;
		e->workers[slot].token = token;
		e->workers[slot].latch = &MyProc->procLatch;
	}
	LWLockRelease(gw_shared->lock);
	return ok;
}

void
gw_shmem_unregister_worker(int db, int slot)
{
	GwDbEntry  *e;

	if (gw_shared == NULL || db < 0)
		return;
	e = &gw_shared->dbs[db];
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->workers[slot].pid == MyProcPid)
		memset(&e->workers[slot], 0, sizeof(GwWorkerSlot));
	LWLockRelease(gw_shared->lock);
}

int
gw_shmem_live_tokens(int db, int64 *tokens)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	int			n = 0;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_WORKERS; i++)
		if (e->workers[i].pid != 0)
			tokens[n++] = e->workers[i].token;
	LWLockRelease(gw_shared->lock);
	return n;
}

void
gw_shmem_wake_workers(void)
{
	GwDbEntry  *e;

	if (gw_shared == NULL)
		return;
	/* Latch pointers only change under the lock; setting one is safe. */
	LWLockAcquire(gw_shared->lock, LW_SHARED);
	e = gw_db_find(MyDatabaseId);
	if (e)
		for (int i = 0; i < GW_MAX_WORKERS; i++)
			if (e->workers[i].latch)
				SetLatch(e->workers[i].latch);
	LWLockRelease(gw_shared->lock);
}

void
gw_shmem_set_launcher(Latch *latch)
{
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	gw_shared->launcher_latch = latch;
	LWLockRelease(gw_shared->lock);
}

/* Set the launcher's latch; the caller holds the lock. */
static void
gw_wake_launcher_locked(void)
{
	if (gw_shared->launcher_latch)
		SetLatch(gw_shared->launcher_latch);
}

void
gw_shmem_set_backlog(int db, int slot, bool backlog)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->workers[slot].pid == MyProcPid && e->workers[slot].backlog != backlog)
	{
		e->workers[slot].backlog = backlog;
		if (backlog)
			gw_wake_launcher_locked();
	}
	LWLockRelease(gw_shared->lock);
}

void
gw_shmem_wake_launcher(void)
{
	if (gw_shared == NULL)
		return;
	LWLockAcquire(gw_shared->lock, LW_SHARED);
	gw_wake_launcher_locked();
	LWLockRelease(gw_shared->lock);
}

bool
gw_db_probe(Oid dboid, bool created)
{
	GwDbEntry  *e;

	if (gw_shared == NULL)
		return false;
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	e = gw_db_find(dboid);
	if (e == NULL && (e = gw_db_find(InvalidOid)) != NULL)
	{
		memset(e, 0, sizeof(GwDbEntry));
		e->dboid = dboid;
		e->state = GW_DB_PROBE;
	}
	if (e)
	{
		if (created)
			e->gen++;
		if (e->state == GW_DB_ABSENT || (created && e->state != GW_DB_SERVED))
			e->state = GW_DB_PROBE;
	}
	else if (created)
		gw_shared->probe_lost = true;	/* the launcher looks at all again */
	gw_wake_launcher_locked();
	LWLockRelease(gw_shared->lock);
	return e != NULL;
}

bool
gw_db_take_probe_lost(void)
{
	bool		lost;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	lost = gw_shared->probe_lost;
	gw_shared->probe_lost = false;
	LWLockRelease(gw_shared->lock);
	return lost;
}

uint32
gw_db_gen(int db)
{
	uint32		gen;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	gen = gw_shared->dbs[db].gen;
	LWLockRelease(gw_shared->lock);
	return gen;
}

bool
gw_db_mark(int db, GwDbState state, uint32 gen)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	bool		done;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->dboid == MyDatabaseId && e->gen == gen && e->state != state)
	{
		e->state = state;
		gw_wake_launcher_locked();
	}
	done = (e->dboid == MyDatabaseId && e->state == state);
	LWLockRelease(gw_shared->lock);
	return done;
}

void
gw_db_pause(Oid dboid, TimestampTz until)
{
	GwDbEntry  *e;

	if (gw_shared == NULL)
		return;
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	e = gw_db_find(dboid);
	if (e)
	{
		e->paused_until = until;
		gw_wake_launcher_locked();
	}
	LWLockRelease(gw_shared->lock);
}

int
gw_db_live_workers(Oid dboid)
{
	GwDbEntry  *e;
	int			n = 0;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	e = gw_db_find(dboid);
	if (e)
	{
		for (int i = 0; i < GW_MAX_WORKERS; i++)
			n += (e->workers[i].pid != 0);
		for (int i = 0; i < GW_MAX_LISTENERS; i++)
			n += (e->listener_pid[i] != 0);
		n += (e->rollup_pid != 0);
	}
	LWLockRelease(gw_shared->lock);
	return n;
}

bool
gw_db_set_rollup(int db, bool running)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	bool		ok;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	ok = (e->dboid == MyDatabaseId && (e->rollup_pid == 0 || e->rollup_pid == MyProcPid));
	if (ok)
		e->rollup_pid = running ? MyProcPid : 0;
	LWLockRelease(gw_shared->lock);
	return ok;
}

void
gw_db_rollup_begin(int db, int64 gen, bool reset)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->dboid == MyDatabaseId)
	{
		e->rollup_gen = gen;
		if (reset)
		{
			e->rollup_since = 0;
			e->rollup_ms = 0;
		}
	}
	LWLockRelease(gw_shared->lock);
}

void
gw_db_rollup_get(int db, TimestampTz *since, int64 *took_ms)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	*since = (e->dboid == MyDatabaseId) ? e->rollup_since : 0;
	*took_ms = (e->dboid == MyDatabaseId) ? e->rollup_ms : 0;
	LWLockRelease(gw_shared->lock);
}

void
gw_db_rollup_done(int db, int64 gen, TimestampTz since, int64 took_ms)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->dboid == MyDatabaseId && e->rollup_gen == gen)
	{
		e->rollup_done = gen;
		e->rollup_since = since;
		e->rollup_ms = took_ms;
	}
	LWLockRelease(gw_shared->lock);
}

bool
gw_db_rollup_succeeded(int db, int64 gen)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	bool		ok;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	ok = (e->dboid == MyDatabaseId && e->rollup_done == gen);
	LWLockRelease(gw_shared->lock);
	return ok;
}

bool
gw_db_set_listener(int db, int idx, const char *name)
{
	GwDbEntry  *e = &gw_shared->dbs[db];
	bool		ok;

	Assert(idx >= 0 && idx < GW_MAX_LISTENERS);
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	ok = (e->dboid == MyDatabaseId &&
		  (e->listener_pid[idx] == 0 || e->listener_pid[idx] == MyProcPid));
	if (ok && name != NULL)
	{
		e->listener_pid[idx] = MyProcPid;
		strlcpy(e->listener_db, name, NAMEDATALEN);
	}
	else if (ok)
		e->listener_pid[idx] = 0;
	LWLockRelease(gw_shared->lock);
	return ok;
}

bool
gw_db_served(int db)
{
	bool		served;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	served = (gw_shared->dbs[db].dboid == MyDatabaseId &&
			  gw_shared->dbs[db].state == GW_DB_SERVED);
	LWLockRelease(gw_shared->lock);
	return served;
}

Oid
gw_db_listener_for(const char *name, uint32 *turns, int *idx)
{
	Oid			dboid = InvalidOid;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_DATABASES && !OidIsValid(dboid); i++)
	{
		GwDbEntry  *e = &gw_shared->dbs[i];
		int			live[GW_MAX_LISTENERS];
		int			n = 0;

		for (int l = 0; l < GW_MAX_LISTENERS; l++)
			if (e->listener_pid[l] != 0)
				live[n++] = l;
		if (n > 0 && strcmp(e->listener_db, name) == 0)
		{
			dboid = e->dboid;
			*idx = live[turns[i]++ % n];
		}
	}
	LWLockRelease(gw_shared->lock);
	return dboid;
}

void
gw_db_snapshot(GwDbInfo *out)
{
	LWLockAcquire(gw_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_DATABASES; i++)
	{
		GwDbEntry  *e = &gw_shared->dbs[i];

		out[i].dboid = e->dboid;
		out[i].state = e->state;
		out[i].noslot = e->noslot;
		out[i].paused_until = e->paused_until;
		out[i].backlog = false;
		for (int s = 0; s < GW_MAX_WORKERS; s++)
		{
			out[i].live[s] = (e->workers[s].pid != 0);
			out[i].backlog |= (e->workers[s].pid != 0 && e->workers[s].backlog);
		}
		for (int l = 0; l < GW_MAX_LISTENERS; l++)
			out[i].listener_live[l] = (e->listener_pid[l] != 0);
	}
	LWLockRelease(gw_shared->lock);
}

void
gw_db_forget(int db, Oid dboid, bool dropped)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	/* an entry a CREATE EXTENSION marked again meanwhile is kept */
	if (e->dboid == dboid && (dropped || e->state == GW_DB_ABSENT))
		memset(e, 0, sizeof(GwDbEntry));
	LWLockRelease(gw_shared->lock);
}

void
gw_db_set_noslot(int db, Oid dboid, bool noslot)
{
	GwDbEntry  *e = &gw_shared->dbs[db];

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (e->dboid == dboid)
		e->noslot = noslot;
	LWLockRelease(gw_shared->lock);
}

bool
gw_db_status(Oid dboid, bool *known, bool *noslot)
{
	GwDbEntry  *e;
	bool		room;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	e = gw_db_find(dboid);
	*known = (e != NULL);
	*noslot = (e != NULL && e->noslot);
	room = (e != NULL || gw_db_find(InvalidOid) != NULL);
	LWLockRelease(gw_shared->lock);
	return room;
}

static GwBucket *
gw_bucket(const char *account)
{
	uint32		h = 5381 + MyDatabaseId;
	int			start;

	for (const char *p = account; *p; p++)
		h = h * 33 + (unsigned char) *p;
	start = h % GW_MAX_BUCKETS;
	for (int i = 0; i < GW_MAX_BUCKETS; i++)
	{
		GwBucket   *b = &gw_shared->buckets[(start + i) % GW_MAX_BUCKETS];

		if (b->account[0] == '\0')
		{
			b->dboid = MyDatabaseId;
			strlcpy(b->account, account, NAMEDATALEN);
			b->tokens = -1;		/* new: filled on first use */
			return b;
		}
		if (b->dboid == MyDatabaseId && strcmp(b->account, account) == 0)
			return b;
	}
	return NULL;				/* table full: no limit can be kept */
}

/*
 * Smooth spacing rather than bursts: the bucket holds at most 2% of a
 * second's worth (at least one token) and refills at 98% of the rate, so no
 * window of a second ever sees more than the limit, even with some network
 * jitter between us and the provider.
 */
int
gw_rate_take(const char *account, double rate, int want, int *wait_ms)
{
	GwBucket   *b;
	TimestampTz now = GetCurrentTimestamp();
	double		r = rate * 0.98;
	double		cap = Max(1.0, rate * 0.02);	/* cap + r never exceeds rate */
	int			granted = 0;

	*wait_ms = 0;
	/* an infinite rate (a rate_limit too large for a double) is no limit */
	if (rate <= 0 || isinf(rate) || isnan(rate) || gw_shared == NULL)
		return want;
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	b = gw_bucket(account);
	if (b == NULL)
	{
		LWLockRelease(gw_shared->lock);
		return want;
	}
	if (b->tokens < 0)
		b->tokens = cap;
	else
		b->tokens = Min(cap, b->tokens + r * (now - b->last) / 1000000.0);
	b->last = now;
	if (now < b->paused_until)
	{
		*wait_ms = (int) Min((b->paused_until - now) / 1000 + 1, GW_RATE_MAX_WAIT_MS);
		LWLockRelease(gw_shared->lock);
		return 0;
	}
	/* compared as doubles: a huge rate's bucket holds more than an int */
	granted = (b->tokens >= want) ? want : (int) floor(b->tokens);
	b->tokens -= granted;
	if (granted < want)
	{
		/* a tiny rate waits long: ask again within the cap, never below 1 ms */
		double		ms = ceil((1.0 - b->tokens) * 1000.0 / r);

		*wait_ms = (int) Max(1.0, Min(ms, (double) GW_RATE_MAX_WAIT_MS));
	}
	LWLockRelease(gw_shared->lock);
	return granted;
}

void
gw_rate_pause(const char *account, int ms)
{
	GwBucket   *b;

	if (gw_shared == NULL)
		return;
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	b = gw_bucket(account);
	if (b)
	{
		b->paused_until = GetCurrentTimestamp() + (int64) ms * 1000;
		b->tokens = 0;
	}
	LWLockRelease(gw_shared->lock);
}
