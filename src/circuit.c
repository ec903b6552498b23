/*
 * circuit.c: the circuit breaker of each database's accounts (circuit.h).
 *
 * A small open-addressed table of (database, account) in shared memory,
 * under its own lock.  Only failures make an entry; a success looks one up
 * under a shared lock first, so the hot path of a healthy provider takes no
 * exclusive lock.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "circuit.h"
#include "http.h"
#include "rights.h"

#define GW_MAX_CIRCUITS 1024

PG_FUNCTION_INFO_V1(gw_circuits);

int			gw_circuit_failures = 5;
int			gw_circuit_open_ms = 30000;

typedef struct GwCircuit
{
	Oid			dboid;
	char		account[NAMEDATALEN];	/* "" = free */
	int			failures;		/* in a row */
	bool		open;			/* open, or half-open once open_ms passed */
	TimestampTz opened_at;
	TimestampTz probe_at;		/* the half-open probe went then; 0: none */
	int64		opens;			/* times it opened */
} GwCircuit;

typedef struct GwCircuits
{
	LWLock	   *lock;
	GwCircuit	c[GW_MAX_CIRCUITS];
} GwCircuits;

static GwCircuits *gw_circuits_shared = NULL;

void
gw_circuit_init(void)
{
	DefineCustomIntVariable("gateway.circuit_failures",
							gettext_noop("Transport errors or 5xx answers in a row that open an account's circuit; 0: no circuit breaker."),
							NULL,
							&gw_circuit_failures,
							5, 0, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.circuit_open_time",
							gettext_noop("How long an open circuit sends nothing before one probe request is let through."),
							NULL,
							&gw_circuit_open_ms,
							30000, 1, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

void
gw_circuit_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(GwCircuits)));
	RequestNamedLWLockTranche("gateway circuits", 1);
}

void
gw_circuit_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gw_circuits_shared = ShmemInitStruct("gateway circuits", sizeof(GwCircuits), &found);
	if (!found)
	{
		memset(gw_circuits_shared, 0, sizeof(GwCircuits));
		gw_circuits_shared->lock = &(GetNamedLWLockTranche("gateway circuits"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The entry of this database's account; a new one when create and there is
 * room; NULL otherwise.  The caller holds the lock (exclusive to create). */
static GwCircuit *
gw_circuit_find(const char *account, bool create)
{
	uint32		h = 5381 + MyDatabaseId;
	int			start;

	if (strlen(account) >= NAMEDATALEN)
		return NULL;
	for (const char *p = account; *p; p++)
		h = h * 33 + (unsigned char) *p;
	start = h % GW_MAX_CIRCUITS;
	for (int i = 0; i < GW_MAX_CIRCUITS; i++)
	{
		GwCircuit  *c = &gw_circuits_shared->c[(start + i) % GW_MAX_CIRCUITS];

		if (c->account[0] == '\0')
		{
			if (!create)
				return NULL;
			memset(c, 0, sizeof(GwCircuit));
			c->dboid = MyDatabaseId;
			strlcpy(c->account, account, NAMEDATALEN);
			return c;
		}
		if (c->dboid == MyDatabaseId && strcmp(c->account, account) == 0)
			return c;
	}
	return NULL;
}

/* When an open circuit turns half-open. */
static TimestampTz
gw_circuit_half_open_at(const GwCircuit *c)
{
	return TimestampTzPlusMilliseconds(c->opened_at, gw_circuit_open_ms);
}

/* A probe that never reported (its worker died) is given up after this. */
static int64
gw_circuit_probe_ms(void)
{
	return Max((int64) gw_circuit_open_ms, (int64) gw_request_timeout_ms + 5000);
}

bool
gw_circuit_allow(const char *account, TimestampTz *retry_at)
{
	GwCircuit  *c;
	TimestampTz now = GetCurrentTimestamp();
	bool		ok = true;

	*retry_at = 0;
	if (gw_circuits_shared == NULL || gw_circuit_failures <= 0)
		return true;
	/* the common case, a closed circuit, under a shared lock */
	LWLockAcquire(gw_circuits_shared->lock, LW_SHARED);
	c = gw_circuit_find(account, false);
	ok = (c == NULL || !c->open);
	LWLockRelease(gw_circuits_shared->lock);
	if (ok)
		return true;
	LWLockAcquire(gw_circuits_shared->lock, LW_EXCLUSIVE);
	ok = true;
	c = gw_circuit_find(account, false);
	if (c != NULL && c->open)
	{
		TimestampTz half = gw_circuit_half_open_at(c);

		if (now < half)
		{
			ok = false;
			*retry_at = half;
		}
		else if (c->probe_at == 0 ||
				 TimestampDifferenceExceeds(c->probe_at, now, gw_circuit_probe_ms()))
			c->probe_at = now;	/* this request is the probe */
		else
		{
			ok = false;
			*retry_at = Min(TimestampTzPlusMilliseconds(now, 1000),
							TimestampTzPlusMilliseconds(c->probe_at, gw_circuit_probe_ms()));
		}
	}
	LWLockRelease(gw_circuits_shared->lock);
	return ok;
}

bool
gw_circuit_record(const char *account, bool failed)
{
	GwCircuit  *c;
	TimestampTz now;
	bool		was_open = false;

	if (gw_circuits_shared == NULL || gw_circuit_failures <= 0 || account == NULL)
		return false;
	if (!failed)
	{
		/* a healthy provider: nothing to do unless it has an entry */
		LWLockAcquire(gw_circuits_shared->lock, LW_SHARED);
		c = gw_circuit_find(account, false);
		failed = (c != NULL && (c->failures > 0 || c->open));
		LWLockRelease(gw_circuits_shared->lock);
		if (!failed)
			return false;
		LWLockAcquire(gw_circuits_shared->lock, LW_EXCLUSIVE);
		c = gw_circuit_find(account, false);
		if (c != NULL)
		{
			/* it answered: closed */
			c->failures = 0;
			c->open = false;
			c->probe_at = 0;
		}
		LWLockRelease(gw_circuits_shared->lock);
		return false;
	}
	now = GetCurrentTimestamp();
	LWLockAcquire(gw_circuits_shared->lock, LW_EXCLUSIVE);
	c = gw_circuit_find(account, true);
	if (c != NULL)
	{
		was_open = c->open;
		if (c->open)
		{
			/* the probe (or any request once half-open) failed: open again */
			if (now >= gw_circuit_half_open_at(c))
			{
				c->opened_at = now;
				c->probe_at = 0;
				c->opens++;
			}
		}
		else if (++c->failures >= gw_circuit_failures)
		{
			c->open = true;
			c->opened_at = now;
			c->probe_at = 0;
			c->opens++;
		}
	}
	LWLockRelease(gw_circuits_shared->lock);
	return was_open;
}

/*
 * gw_circuits(): the circuits of this database's accounts that have one (an
 * account that never failed has none), of the accounts the caller holds.
 */
Datum
gw_circuits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GwCircuit  *copy;
	int			n = 0;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	if (gw_circuits_shared == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(GwCircuit) * GW_MAX_CIRCUITS);
	LWLockAcquire(gw_circuits_shared->lock, LW_SHARED);
	for (int i = 0; i < GW_MAX_CIRCUITS; i++)
		if (gw_circuits_shared->c[i].account[0] != '\0' &&
			gw_circuits_shared->c[i].dboid == MyDatabaseId)
			copy[n++] = gw_circuits_shared->c[i];
	LWLockRelease(gw_circuits_shared->lock);

	for (int i = 0; i < n; i++)
	{
		GwCircuit  *c = &copy[i];
		Datum		values[6];
		bool		nulls[6] = {0};
		TimestampTz half = gw_circuit_half_open_at(c);

		if (!gw_rights_hold(c->account, GW_RIGHT_SEND))
			continue;
		values[0] = CStringGetTextDatum(c->account);
		values[1] = CStringGetTextDatum(!c->open ? "closed" : now < half ? "open" : "half-open");
		values[2] = Int32GetDatum(c->failures);
		values[3] = TimestampTzGetDatum(c->opened_at);
		nulls[3] = (c->opens == 0);
		values[4] = TimestampTzGetDatum(half);
		nulls[4] = !c->open;
		values[5] = Int64GetDatum(c->opens);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
