/*
 * pause.c: stopping sends.
 *
 * gateway.paused (a reloadable setting) stops every worker of every
 * database; gw_account_pause(account) stops one account's rows, kept in
 * gateway.account.paused_at across restarts.  The workers learn of a pause
 * at once: gateway.pause_changed(), called by gateway.account_pause and
 * gateway.account_resume, bumps a generation counter in shared memory when
 * its transaction commits and wakes the database's workers, which read the
 * paused accounts again and give back what they claimed and did not start.
 * The claim itself skips paused accounts, so a worker that has not looked
 * yet claims none of their rows either.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "pause.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(gw_pause_changed);

bool		gw_paused = false;

typedef struct GwPauseShared
{
	pg_atomic_uint32 gen;
} GwPauseShared;

static GwPauseShared *gw_pause_shared = NULL;
static bool gw_pause_at_commit = false;
static bool gw_pause_cb_registered = false;

Size
gw_pause_shmem_size(void)
{
	return MAXALIGN(sizeof(GwPauseShared));
}

/* Called from shmem.c's startup hook, AddinShmemInitLock held. */
void
gw_pause_shmem_init(void)
{
	bool		found;

	gw_pause_shared = ShmemInitStruct("gateway pause", sizeof(GwPauseShared), &found);
	if (!found)
		pg_atomic_init_u32(&gw_pause_shared->gen, 0);
}

uint32
gw_pause_gen(void)
{
	if (gw_pause_shared == NULL)
		return 0;
	return pg_atomic_read_u32(&gw_pause_shared->gen);
}

static void
gw_pause_xact_cb(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (gw_pause_at_commit && gw_pause_shared != NULL)
			{
				pg_atomic_fetch_add_u32(&gw_pause_shared->gen, 1);
				gw_shmem_wake_workers();
			}
			gw_pause_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			gw_pause_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * gateway.pause_changed(): an account's pause changes when this transaction
 * commits; tell the workers then (a rollback tells nobody).
 */
Datum
gw_pause_changed(PG_FUNCTION_ARGS)
{
	if (!gw_pause_cb_registered)
	{
		RegisterXactCallback(gw_pause_xact_cb, NULL);
		gw_pause_cb_registered = true;
	}
	gw_pause_at_commit = true;
	PG_RETURN_VOID();
}

List *
gw_pause_read_accounts(MemoryContext cxt)
{
	MemoryContext old;
	List	   *names = NIL;

	if (SPI_execute("SELECT name FROM gateway.account WHERE paused_at IS NOT NULL",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the paused accounts failed");
	old = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	MemoryContextSwitchTo(old);
	return names;
}

bool
gw_pause_listed(List *accounts, const char *name)
{
	ListCell   *lc;

	foreach(lc, accounts)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

void
gw_pause_require_active(const GwAccount *acc)
{
	if (acc->paused)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account \"%s\" is paused", acc->name),
				 errdetail("A paused account sends nothing, synchronous calls included; its queued rows wait."),
				 errhint("SELECT gw_account_resume('%s') sends again.", acc->name)));
}
