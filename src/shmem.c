/*
 * shmem.c: state shared by the backends and the workers.
 *
 * The rate buckets are a small open-addressed table of accounts, shared by
 * every worker so that a limit holds however many workers send.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "journal.h"
#include "shmem.h"

#define GW_MAX_BUCKETS 1024

/* The longest wait gw_rate_take names: a caller asks again after it. */
#define GW_RATE_MAX_WAIT_MS 1000

typedef struct GwWorkerSlot
{
	pid_t		pid;
	int64		token;			/* marks the rows this worker leased */
	Latch	   *latch;
} GwWorkerSlot;

typedef struct GwBucket
{
	char		account[NAMEDATALEN];	/* "" = free */
	double		tokens;
	TimestampTz last;
	TimestampTz paused_until;
} GwBucket;

typedef struct GwShared
{
	LWLock	   *lock;
	GwWorkerSlot workers[GW_MAX_WORKERS];
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
	RequestNamedLWLockTranche("gateway", 1);
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
	LWLockRelease(AddinShmemInitLock);
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

void
gw_shmem_register_worker(int slot, int64 token)
{
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	gw_shared->workers[slot].pid = MyProcPid;
	gw_shared->workers[slot].token = token;
	gw_shared->workers[slot].latch = &MyProc->procLatch;
	LWLockRelease(gw_shared->lock);
}

void
gw_shmem_unregister_worker(int slot)
{
	if (gw_shared == NULL)
		return;
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (gw_shared->workers[slot].pid == MyProcPid)
		memset(&gw_shared->workers[slot], 0, sizeof(GwWorkerSlot));
	LWLockRelease(gw_shared->lock);
}

int
gw_shmem_live_tokens(int64 *tokens)
{
	int			n = 0;

	LWLockAcquire(gw_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_WORKERS; i++)
		if (gw_shared->workers[i].pid != 0)
			tokens[n++] = gw_shared->workers[i].token;
	LWLockRelease(gw_shared->lock);
	return n;
}

void
gw_shmem_wake_workers(void)
{
	if (gw_shared == NULL)
		return;
	/* Latch pointers only change under the lock; setting one is safe. */
	LWLockAcquire(gw_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_WORKERS; i++)
		if (gw_shared->workers[i].latch)
			SetLatch(gw_shared->workers[i].latch);
	LWLockRelease(gw_shared->lock);
}

static GwBucket *
gw_bucket(const char *account)
{
	uint32		h = 5381;
	int			start;

	for (const char *p = account; *p; p++)
		h = h * 33 + (unsigned char) *p;
	start = h % GW_MAX_BUCKETS;
	for (int i = 0; i < GW_MAX_BUCKETS; i++)
	{
		GwBucket   *b = &gw_shared->buckets[(start + i) % GW_MAX_BUCKETS];

		if (b->account[0] == '\0')
		{
			strlcpy(b->account, account, NAMEDATALEN);
			b->tokens = -1;		/* new: filled on first use */
			return b;
		}
		if (strcmp(b->account, account) == 0)
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
