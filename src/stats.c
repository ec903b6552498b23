/*
 * stats.c: the counters (see stats.h) and the SQL functions that read and
 * reset them: gateway.stat_requests(), gateway.stat_callbacks(),
 * gateway.stat_listener() behind the views of the same names, and
 * gw_stat_reset().
 *
 * An entry is found by an open-addressed probe that takes no lock: an entry
 * is written whole before its used flag is set (under the table's lock, so
 * two processes never take the same free entry) and is never freed.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "account.h"
#include "http.h"
#include "provider.h"
#include "rights.h"
#include "stats.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_stat_requests);
PG_FUNCTION_INFO_V1(gw_stat_callbacks);
PG_FUNCTION_INFO_V1(gw_stat_listener);
PG_FUNCTION_INFO_V1(gw_stat_reset);

const double gw_stat_bucket_ms[GW_STAT_NBUCKETS - 1] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

typedef struct GwStatEntry
{
	pg_atomic_uint32 used;		/* 1: the key below is written */
	Oid			dboid;
	GwStatKind	kind;
	char		account[NAMEDATALEN];
	char		name[NAMEDATALEN];
	pg_atomic_uint64 reset;		/* TimestampTz: counting since */
	pg_atomic_uint64 c[GW_STAT_MAXC];
} GwStatEntry;

typedef struct GwStats
{
	LWLock	   *lock;			/* taken to fill a free entry */
	pg_atomic_uint64 dropped;	/* events that found no free entry */
	GwStatEntry e[FLEXIBLE_ARRAY_MEMBER];	/* gw_stat_entries of them */
} GwStats;

/* This process's map of the entries it counts in (NULL: no room). */
typedef struct GwStatKey
{
	Oid			dboid;
	int			kind;
	char		account[NAMEDATALEN];
	char		name[NAMEDATALEN];
} GwStatKey;

typedef struct GwStatLocal
{
	GwStatKey	key;
	GwStatEntry *entry;
} GwStatLocal;

static GwStats *gw_stats = NULL;
static HTAB *gw_stat_local = NULL;

/* gateway.stats_max: entries of the table (set at server start) */
static int	gw_stat_entries = 4096;

void
gw_stats_init(void)
{
	DefineCustomIntVariable("gateway.stats_max",
							gettext_noop("Entries of the counter table shared by all databases (one per database, account and operation or callback kind, and per listener answer code)."),
							NULL,
							&gw_stat_entries,
							4096, 256, 65536,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
}

static Size
gw_stats_size(void)
{
	return add_size(offsetof(GwStats, e), mul_size(sizeof(GwStatEntry), gw_stat_entries));
}

Size
gw_stats_shmem_size(void)
{
	RequestNamedLWLockTranche("gateway_stats", 1);
	return MAXALIGN(gw_stats_size());
}

void
gw_stats_shmem_init(void)
{
	bool		found;

	gw_stats = ShmemInitStruct("gateway_stats", gw_stats_size(), &found);
	if (!found)
	{
		TimestampTz now = GetCurrentTimestamp();

		memset(gw_stats, 0, gw_stats_size());
		gw_stats->lock = &(GetNamedLWLockTranche("gateway_stats"))->lock;
		pg_atomic_init_u64(&gw_stats->dropped, 0);
		for (int i = 0; i < gw_stat_entries; i++)
		{
			pg_atomic_init_u32(&gw_stats->e[i].used, 0);
			pg_atomic_init_u64(&gw_stats->e[i].reset, (uint64) now);
			for (int j = 0; j < GW_STAT_MAXC; j++)
				pg_atomic_init_u64(&gw_stats->e[i].c[j], 0);
		}
	}
}

static bool
gw_stat_key_is(GwStatEntry *e, const GwStatKey *k)
{
	return e->dboid == k->dboid && (int) e->kind == k->kind &&
		strcmp(e->account, k->account) == 0 && strcmp(e->name, k->name) == 0;
}

/* The shared entry of k, filled if new; NULL when the table is full. */
static GwStatEntry *
gw_stat_shared(const GwStatKey *k)
{
	uint32		h = 5381 + k->dboid * 31 + k->kind;
	int			start;
	GwStatEntry *found = NULL;

	for (const char *p = k->account; *p; p++)
		h = h * 33 + (unsigned char) *p;
	for (const char *p = k->name; *p; p++)
		h = h * 33 + (unsigned char) *p;
	start = h % gw_stat_entries;

	/* without the lock: entries in use never change their key */
	for (int i = 0; i < gw_stat_entries; i++)
	{
		GwStatEntry *e = &gw_stats->e[(start + i) % gw_stat_entries];

		if (pg_atomic_read_u32(&e->used) == 0)
			break;
		pg_read_barrier();
		if (gw_stat_key_is(e, k))
			return e;
	}

	LWLockAcquire(gw_stats->lock, LW_EXCLUSIVE);
	for (int i = 0; i < gw_stat_entries; i++)
	{
		GwStatEntry *e = &gw_stats->e[(start + i) % gw_stat_entries];

		if (pg_atomic_read_u32(&e->used) == 0)
		{
			e->dboid = k->dboid;
			e->kind = k->kind;
			strlcpy(e->account, k->account, NAMEDATALEN);
			strlcpy(e->name, k->name, NAMEDATALEN);
			pg_atomic_write_u64(&e->reset, (uint64) GetCurrentTimestamp());
			pg_write_barrier();
			pg_atomic_write_u32(&e->used, 1);
			found = e;
			break;
		}
		if (gw_stat_key_is(e, k))
		{
			found = e;
			break;
		}
	}
	LWLockRelease(gw_stats->lock);
	return found;
}

/* The entry to count in, through this process's map; NULL: no room. */
static GwStatEntry *
gw_stat_entry(Oid dboid, GwStatKind kind, const char *account, const char *name)
{
	GwStatKey	k;
	GwStatLocal *l;
	bool		found;

	if (gw_stats == NULL)
		return NULL;
	if (gw_stat_local == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(GwStatKey);
		ctl.entrysize = sizeof(GwStatLocal);
		ctl.hcxt = TopMemoryContext;
		gw_stat_local = hash_create("gateway stats", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&k, 0, sizeof(k));
	k.dboid = dboid;
	k.kind = kind;
	strlcpy(k.account, account ? account : "", NAMEDATALEN);
	strlcpy(k.name, name ? name : "", NAMEDATALEN);
	l = hash_search(gw_stat_local, &k, HASH_ENTER, &found);
	if (!found)
		l->entry = gw_stat_shared(&k);
	if (l->entry == NULL)
		pg_atomic_fetch_add_u64(&gw_stats->dropped, 1);
	return l->entry;
}

static inline void
gw_stat_add(GwStatEntry *e, int i, uint64 v)
{
	pg_atomic_fetch_add_u64(&e->c[i], v);
}

/* A call's outcome, from gw_call_complete (synchronous calls and the worker). */
void
gw_stat_call(const GwCall *call)
{
	GwStatEntry *e = gw_stat_entry(MyDatabaseId, GW_STAT_REQ, call->account->name,
								   call->op->name);
	const GwHttpResponse *r = &call->resp;

	if (e == NULL)
		return;
	gw_stat_add(e, GW_SR_REQUESTS, 1);
	if ((int) call->outcome.status >= 0 && call->outcome.status <= GW_UNKNOWN)
		gw_stat_add(e, GW_SR_STATUS + call->outcome.status, 1);
	if (call->row && call->row->attempts > 1)
		gw_stat_add(e, GW_SR_RETRIES, 1);
	if (r->status == 429)
		gw_stat_add(e, GW_SR_HTTP_429, 1);
	if (r->net_error != GW_NET_OK)
		gw_stat_add(e, GW_SR_TRANSPORT, 1);
	/* a request that went out: its time, answered or not */
	if (r->status != 0 || r->net_error != GW_NET_OK)
	{
		int			b = 0;

		while (b < GW_STAT_NBUCKETS - 1 && r->elapsed_ms > gw_stat_bucket_ms[b])
			b++;
		gw_stat_add(e, GW_SR_BUCKET + b, 1);
		gw_stat_add(e, GW_SR_SUM_US, (uint64) Max(r->elapsed_ms * 1000.0, 0));
		if (call->row && (e = gw_stat_entry(MyDatabaseId, GW_STAT_ACT, "", "")) != NULL)
			pg_atomic_write_u64(&e->c[GW_SA_WORKER], (uint64) GetCurrentTimestamp());
	}
}

void
gw_stat_rate_wait(const char *account, const char *operation)
{
	GwStatEntry *e = gw_stat_entry(MyDatabaseId, GW_STAT_REQ, account, operation);

	if (e)
		gw_stat_add(e, GW_SR_RATE_WAITS, 1);
}

void
gw_stat_callback(const char *account, const char *kind, GwCbResult r)
{
	GwStatEntry *e = gw_stat_entry(MyDatabaseId, GW_STAT_CB, account, kind);

	if (e == NULL)
		return;
	gw_stat_add(e, GW_CB_RECEIVED, 1);
	if (r != GW_CB_RECEIVED)
		gw_stat_add(e, r, 1);
}

void
gw_stat_answer(Oid dboid, int code)
{
	char		name[16];
	GwStatEntry *e;

	snprintf(name, sizeof(name), "%d", code);
	e = gw_stat_entry(dboid, GW_STAT_HTTP, "", name);
	if (e)
		gw_stat_add(e, 0, 1);
	if (OidIsValid(dboid) && (e = gw_stat_entry(dboid, GW_STAT_ACT, "", "")) != NULL)
		pg_atomic_write_u64(&e->c[GW_SA_LISTENER], (uint64) GetCurrentTimestamp());
}

TimestampTz
gw_stat_last(Oid dboid, int which)
{
	GwStatEntry *e = gw_stat_entry(dboid, GW_STAT_ACT, "", "");

	return e ? (TimestampTz) pg_atomic_read_u64(&e->c[which]) : 0;
}

/* Events that found no room in the table */
uint64
gw_stat_dropped(void)
{
	return gw_stats ? pg_atomic_read_u64(&gw_stats->dropped) : 0;
}

GwStatRow *
gw_stat_snapshot(int *n, uint64 *dropped)
{
	GwStatRow  *rows = palloc(sizeof(GwStatRow) * gw_stat_entries);

	*n = 0;
	*dropped = 0;
	if (gw_stats == NULL)
		return rows;
	*dropped = pg_atomic_read_u64(&gw_stats->dropped);
	for (int i = 0; i < gw_stat_entries; i++)
	{
		GwStatEntry *e = &gw_stats->e[i];
		GwStatRow  *r = &rows[*n];

		if (pg_atomic_read_u32(&e->used) == 0)
			continue;
		pg_read_barrier();
		r->dboid = e->dboid;
		r->kind = e->kind;
		strlcpy(r->account, e->account, NAMEDATALEN);
		strlcpy(r->name, e->name, NAMEDATALEN);
		r->reset = (TimestampTz) pg_atomic_read_u64(&e->reset);
		for (int j = 0; j < GW_STAT_MAXC; j++)
			r->c[j] = pg_atomic_read_u64(&e->c[j]);
		(*n)++;
	}
	return rows;
}

/*
 * Whether the current user sees every row: the extension's owner, a
 * superuser, a member of pg_read_all_stats (as pg_stat_* do).
 */
bool
gw_stat_sees_all(void)
{
	return gw_rights_is_owner() ||
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

/* This database's rows of one kind that the current user may see. */
static GwStatRow *
gw_stat_visible(GwStatKind kind, int *n)
{
	uint64		dropped;
	int			all;
	GwStatRow  *rows = gw_stat_snapshot(&all, &dropped);
	bool		sees_all = gw_stat_sees_all();

	*n = 0;
	for (int i = 0; i < all; i++)
	{
		GwStatRow  *r = &rows[i];

		if (r->dboid != MyDatabaseId || r->kind != kind)
			continue;
		if (!sees_all && (kind == GW_STAT_HTTP || !gw_rights_hold(r->account, GW_RIGHT_SEND)))
			continue;
		if (i != *n)
			rows[*n] = *r;
		(*n)++;
	}
	return rows;
}

static Datum
gw_int8_array(const uint64 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum((int64) v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/* gateway.stat_requests(): this database's request counters. */
Datum
gw_stat_requests(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	GwStatRow  *rows;

	InitMaterializedSRF(fcinfo, 0);
	rows = gw_stat_visible(GW_STAT_REQ, &n);
	for (int i = 0; i < n; i++)
	{
		GwStatRow  *r = &rows[i];
		Datum		v[18];
		bool		nulls[18] = {0};
		uint64		count = 0;
		int			k = 0;

		for (int b = 0; b < GW_STAT_NBUCKETS; b++)
			count += r->c[GW_SR_BUCKET + b];
		v[k++] = CStringGetTextDatum(r->account);
		v[k++] = CStringGetTextDatum(r->name);
		v[k++] = Int64GetDatum((int64) r->c[GW_SR_REQUESTS]);
		for (int s = 0; s < 6; s++)
			v[k++] = Int64GetDatum((int64) r->c[GW_SR_STATUS + s]);
		v[k++] = Int64GetDatum((int64) r->c[GW_SR_RETRIES]);
		v[k++] = Int64GetDatum((int64) r->c[GW_SR_RATE_WAITS]);
		v[k++] = Int64GetDatum((int64) r->c[GW_SR_HTTP_429]);
		v[k++] = Int64GetDatum((int64) r->c[GW_SR_TRANSPORT]);
		v[k++] = gw_int8_array(&r->c[GW_SR_BUCKET], GW_STAT_NBUCKETS);
		v[k++] = Int64GetDatum((int64) count);
		v[k++] = Float8GetDatum(r->c[GW_SR_SUM_US] / 1000000.0);
		v[k++] = TimestampTzGetDatum(r->reset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* gateway.stat_callbacks(): this database's callback counters. */
Datum
gw_stat_callbacks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	GwStatRow  *rows;

	InitMaterializedSRF(fcinfo, 0);
	rows = gw_stat_visible(GW_STAT_CB, &n);
	for (int i = 0; i < n; i++)
	{
		GwStatRow  *r = &rows[i];
		Datum		v[8];
		bool		nulls[8] = {0};

		v[0] = CStringGetTextDatum(r->account);
		v[1] = CStringGetTextDatum(r->name);
		for (int j = 0; j < GW_CB_COUNT; j++)
			v[2 + j] = Int64GetDatum((int64) r->c[j]);
		v[7] = TimestampTzGetDatum(r->reset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* gateway.stat_listener(): this database's listener answers by HTTP code. */
Datum
gw_stat_listener(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	GwStatRow  *rows;

	InitMaterializedSRF(fcinfo, 0);
	rows = gw_stat_visible(GW_STAT_HTTP, &n);
	for (int i = 0; i < n; i++)
	{
		GwStatRow  *r = &rows[i];
		Datum		v[3];
		bool		nulls[3] = {0};

		v[0] = Int32GetDatum(atoi(r->name));
		v[1] = Int64GetDatum((int64) r->c[0]);
		v[2] = TimestampTzGetDatum(r->reset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/*
 * gw_stat_reset(account): zero this database's counters; of one account
 * (its admins, the owner) or, NULL, all of them (the owner only).
 */
Datum
gw_stat_reset(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	TimestampTz now = GetCurrentTimestamp();
	int64		n = 0;

	if (account == NULL && !gw_rights_is_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of extension gateway may reset every counter"),
				 errhint("Name an account you administer: gw_stat_reset('<account>').")));
	if (account != NULL)
		gw_rights_require(account, GW_RIGHT_ADMIN);
	if (gw_stats == NULL)
		PG_RETURN_INT64(0);
	for (int i = 0; i < gw_stat_entries; i++)
	{
		GwStatEntry *e = &gw_stats->e[i];

		if (pg_atomic_read_u32(&e->used) == 0)
			continue;
		pg_read_barrier();
		if (e->dboid != MyDatabaseId || e->kind == GW_STAT_ACT)
			continue;
		if (account != NULL && (e->kind == GW_STAT_HTTP || strcmp(e->account, account) != 0))
			continue;
		for (int j = 0; j < GW_STAT_MAXC; j++)
			pg_atomic_write_u64(&e->c[j], 0);
		pg_atomic_write_u64(&e->reset, (uint64) now);
		n++;
	}
	PG_RETURN_INT64(n);
}
