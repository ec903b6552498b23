/*
 * clients.c: the connections of each client address to a database's
 * callback listeners (see clients.h).
 *
 * One shared hash table, keyed by database and address, under a lock of
 * its own.  An entry holds a count for each of the database's listeners,
 * so that a listener that starts again (after an ERROR took the previous
 * one) forgets exactly what its predecessor counted; an entry whose counts
 * are all zero is removed.  The table is made only when there is a listen
 * address, and its size is fixed: an entry for each connection that
 * max_worker_processes listeners of gateway.listen_max_connections each
 * could hold, at most GW_CLIENTS_MAX.  Past that, a connection is let in
 * without being counted (the clients are then many and each has few
 * connections; gateway.listen_max_connections still bounds every listener),
 * and the listener says so in the log, once.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "callback.h"
#include "clients.h"
#include "listener.h"
#include "shmem.h"

typedef struct GwClientKey
{
	Oid			dboid;
	GwClientAddr client;
} GwClientKey;

typedef struct GwClientEntry
{
	GwClientKey key;
	int32		n[GW_MAX_LISTENERS];	/* open connections, by listener */
} GwClientEntry;

#define GW_CLIENTS_MAX 65536

static HTAB *gw_clients = NULL;	/* NULL: no listen address, nothing counted */
static LWLock *gw_clients_lock = NULL;
static bool gw_clients_full_said = false;

static long
gw_clients_max(void)
{
	if (gw_listen_address == NULL || gw_listen_address[0] == '\0')
		return 0;
	return Min((long) gw_listen_max_connections * max_worker_processes, GW_CLIENTS_MAX);
}

void
gw_clients_shmem_request(void)
{
	if (gw_clients_max() > 0)
		RequestAddinShmemSpace(hash_estimate_size(gw_clients_max(), sizeof(GwClientEntry)));
	RequestNamedLWLockTranche("gateway clients", 1);
}

/* In the shared memory startup hook, under AddinShmemInitLock. */
void
gw_clients_shmem_startup(void)
{
	HASHCTL		ctl;

	gw_clients_lock = &(GetNamedLWLockTranche("gateway clients"))->lock;
	if (gw_clients_max() == 0)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GwClientKey);
	ctl.entrysize = sizeof(GwClientEntry);
	gw_clients = ShmemInitHash("gateway clients", gw_clients_max(), gw_clients_max(),
							   &ctl, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

static void
gw_client_key(GwClientKey *k, Oid dboid, const GwClientAddr *client)
{
	memset(k, 0, sizeof(*k));
	k->dboid = dboid;
	k->client = *client;
}

bool
gw_clients_take(Oid dboid, int idx, const GwClientAddr *client, int limit, bool *counted)
{
	GwClientKey key;
	GwClientEntry *e;
	bool		found;
	bool		ok = true;

	Assert(idx >= 0 && idx < GW_MAX_LISTENERS);
	*counted = false;
	if (gw_clients == NULL)
		return true;
	gw_client_key(&key, dboid, client);
	LWLockAcquire(gw_clients_lock, LW_EXCLUSIVE);
	e = hash_search(gw_clients, &key, HASH_ENTER_NULL, &found);
	if (e != NULL)
	{
		int			open = 0;

		if (!found)
			memset(e->n, 0, sizeof(e->n));
		for (int i = 0; i < GW_MAX_LISTENERS; i++)
			open += e->n[i];
		/* (an entry found has a count above zero: none is left at zero) */
		if (limit > 0 && open >= limit)
			ok = false;
		else
		{
			e->n[idx]++;
			*counted = true;
		}
	}
	LWLockRelease(gw_clients_lock);
	if (e == NULL && !gw_clients_full_said)
	{
		gw_clients_full_said = true;
		ereport(LOG,
				(errmsg("gateway listener: the table of client connections is full; "
						"gateway.listen_max_per_client is not applied to new clients")));
	}
	return ok;
}

void
gw_clients_release(Oid dboid, int idx, const GwClientAddr *client)
{
	GwClientKey key;
	GwClientEntry *e;
	int			open = 0;

	if (gw_clients == NULL)
		return;
	gw_client_key(&key, dboid, client);
	LWLockAcquire(gw_clients_lock, LW_EXCLUSIVE);
	e = hash_search(gw_clients, &key, HASH_FIND, NULL);
	if (e != NULL)
	{
		if (e->n[idx] > 0)
			e->n[idx]--;
		for (int i = 0; i < GW_MAX_LISTENERS; i++)
			open += e->n[i];
		if (open == 0)
			hash_search(gw_clients, &key, HASH_REMOVE, NULL);
	}
	LWLockRelease(gw_clients_lock);
}

void
gw_clients_forget(Oid dboid, int idx)
{
	HASH_SEQ_STATUS seq;
	GwClientEntry *e;

	if (gw_clients == NULL)
		return;
	LWLockAcquire(gw_clients_lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, gw_clients);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		int			open = 0;

		if (e->key.dboid != dboid)
			continue;
		e->n[idx] = 0;
		for (int i = 0; i < GW_MAX_LISTENERS; i++)
			open += e->n[i];
		/* dynahash allows removing the entry just returned by a scan */
		if (open == 0)
			hash_search(gw_clients, &e->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(gw_clients_lock);
}
