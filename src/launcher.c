/*
 * launcher.c: one launcher keeps a worker set for every database that has
 * the extension.
 *
 * The launcher is a background worker started from shared_preload_libraries;
 * it connects to no database and reads pg_database (a shared catalog).  A
 * database it has not looked at yet gets a probe: worker 0 of its set,
 * which connects, looks for the extension, and either marks the database
 * served (the launcher then starts the rest of the set) or marks it absent
 * and exits (the launcher forgets it until an extension is created there).
 * So after a restart every database with the extension is found again, and
 * a database without it costs one short-lived worker at start.
 *
 * Backends tell the launcher what changed, through shared memory (shmem.c)
 * and its latch: a committed CREATE EXTENSION gateway asks for a probe of
 * its database; a committed CREATE DATABASE wakes it to look for new
 * databases.  DROP EXTENSION needs nothing: the workers notice, mark the
 * database absent and exit.  DROP DATABASE, ALTER DATABASE RENAME / SET
 * TABLESPACE and CREATE DATABASE ... TEMPLATE need the database to
 * themselves: before such a statement runs, the backend pauses the set and
 * waits (a few seconds at most) for its workers to exit; the launcher starts
 * them again afterwards if the database is still there.
 *
 * The worker count of a database is gateway.workers, or its entry in
 * gateway.database_workers ('shop:2, crm:1'); both are reloadable.  While a
 * worker of the set says its claims keep coming back full (a backlog), the
 * launcher starts gateway.burst_workers more, in the slots after the set's,
 * as slots are free; each of those leaves by itself when it finds nothing
 * to do.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "callback.h"
#include "launcher.h"
#include "listener.h"
#include "pause.h"
#include "shmem.h"

int			gw_worker_count = 1;
int			gw_burst_workers = 1;
char	   *gw_database_workers = NULL;

PGDLLEXPORT void gw_launcher_main(Datum arg);

/* At most this many databases are probed at once (a worker slot each). */
#define GW_PROBES_AT_ONCE 4
/* A worker that stopped is started again after this long. */
#define GW_RESTART_MS 1000
/* How long a DROP/ALTER DATABASE waits for the workers to exit. */
#define GW_RELEASE_WAIT_MS 10000

/* The launcher's own view of an entry of the shared table. */
typedef struct GwDbLocal
{
	Oid			dboid;
	BackgroundWorkerHandle *h[GW_MAX_WORKERS];
	TimestampTz started[GW_MAX_WORKERS];
	BackgroundWorkerHandle *lh[GW_MAX_LISTENERS];	/* its callback listeners */
	TimestampTz lstarted[GW_MAX_LISTENERS];
	bool		lnoslot[GW_MAX_LISTENERS];	/* said that no slot was free */
} GwDbLocal;

/* A database as pg_database lists it. */
typedef struct GwDatabase
{
	Oid			oid;
	char		name[NAMEDATALEN];
	bool		servable;		/* accepts connections, not a template */
} GwDatabase;

static GwDbLocal gw_local[GW_MAX_DATABASES];
static List *gw_absent = NIL;	/* databases probed without the extension */

static object_access_hook_type prev_object_access_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static bool gw_xact_cb_registered = false;
static bool gw_ext_created = false; /* an extension was created: gateway? */
static bool gw_probe_at_commit = false;
static bool gw_wake_at_commit = false;

/*
 * Split gateway.database_workers into its "database:count" items (commas
 * between, spaces around them ignored; the last colon ends the name).
 * Returns false, with *bad the item, when one is not of that form.
 */
static bool
gw_parse_database_workers(const char *value, List **names, List **counts, char **bad)
{
	char	   *copy = pstrdup(value);
	char	   *item = copy;

	*names = *counts = NIL;
	if (strspn(value, " \t") == strlen(value))
		return true;			/* empty: no entries */
	while (item != NULL)
	{
		char	   *comma = strchr(item, ',');
		char	   *colon;
		char	   *end;
		long		n;

		if (comma)
			*comma = '\0';
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		colon = strrchr(item, ':');
		if (colon == NULL || colon == item || colon[1] == '\0')
		{
			*bad = item;
			return false;
		}
		n = strtol(colon + 1, &end, 10);
		if (*end != '\0' || n < 0 || n > GW_MAX_WORKERS)
		{
			*bad = item;
			return false;
		}
		*colon = '\0';
		*names = lappend(*names, item);
		*counts = lappend_int(*counts, (int) n);
		item = comma ? comma + 1 : NULL;
	}
	return true;
}

/* The worker count for a database: its entry in gateway.database_workers,
 * else gateway.workers. */
int
gw_workers_for(const char *dbname)
{
	MemoryContext cxt;
	MemoryContext old;
	List	   *names;
	List	   *counts;
	char	   *bad;
	int			n = gw_worker_count;

	if (gw_database_workers == NULL || gw_database_workers[0] == '\0')
		return n;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "gateway worker counts",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (gw_parse_database_workers(gw_database_workers, &names, &counts, &bad))
	{
		for (int i = 0; i < list_length(names); i++)
			if (strcmp(list_nth(names, i), dbname) == 0)
				n = list_nth_int(counts, i);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return n;
}

int
gw_workers_most(int count)
{
	return count > 0 ? Min(count + gw_burst_workers, GW_MAX_WORKERS) : 0;
}

/* gateway.database_workers: "database:count" items separated by commas. */
bool
gw_database_workers_check(char **newval, void **extra, GucSource source)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "gateway worker counts",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *names;
	List	   *counts;
	char	   *bad;
	bool		ok = gw_parse_database_workers(*newval, &names, &counts, &bad);

	MemoryContextSwitchTo(old);
	if (!ok)
		GUC_check_errdetail("\"%s\" is not database:count with a count from 0 to %d.",
							bad, GW_MAX_WORKERS);
	MemoryContextDelete(cxt);
	return ok;
}

/* ---------------------------------------------------------------------
 * Backends: telling the launcher what changed
 * ---------------------------------------------------------------------
 */

static void
gw_launcher_xact_cb(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* the catalog still answers here: was it gateway? */
			if (gw_ext_created && OidIsValid(get_extension_oid("gateway", true)))
				gw_probe_at_commit = true;
			gw_ext_created = false;
			break;
		case XACT_EVENT_COMMIT:
			if (gw_probe_at_commit)
				(void) gw_db_probe(MyDatabaseId, true);
			if (gw_wake_at_commit)
				gw_shmem_wake_launcher();
			gw_ext_created = gw_probe_at_commit = gw_wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			gw_ext_created = gw_probe_at_commit = gw_wake_at_commit = false;
			break;
		default:
			break;
	}
}

static void
gw_arm_xact_cb(void)
{
	if (!gw_xact_cb_registered)
	{
		RegisterXactCallback(gw_launcher_xact_cb, NULL);
		gw_xact_cb_registered = true;
	}
}

/* A created extension (maybe gateway, maybe by CASCADE) or database. */
static void
gw_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_POST_CREATE || !gw_shmem_ready())
		return;
	if (classId == ExtensionRelationId)
	{
		gw_arm_xact_cb();
		gw_ext_created = true;
	}
	else if (classId == DatabaseRelationId)
	{
		gw_arm_xact_cb();
		gw_wake_at_commit = true;
	}
}

/*
 * The database a utility statement needs to itself (no other session
 * connected), when the current user owns it; InvalidOid otherwise.  A user
 * who may not run the statement cannot pause anyone's workers with it.
 */
static Oid
gw_statement_database(Node *stmt)
{
	const char *name = NULL;
	ListCell   *lc;
	Oid			dboid;
	HeapTuple	tup;
	bool		owner = false;

	if (IsA(stmt, DropdbStmt))
		name = ((DropdbStmt *) stmt)->dbname;
	else if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
		name = ((RenameStmt *) stmt)->subname;
	else if (IsA(stmt, AlterDatabaseStmt))
	{
		foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
			if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
				name = ((AlterDatabaseStmt *) stmt)->dbname;
	}
	else if (IsA(stmt, CreatedbStmt))
	{
		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *d = lfirst(lc);

			if (strcmp(d->defname, "template") == 0 && d->arg != NULL)
				name = defGetString(d);
		}
	}
	if (name == NULL)
		return InvalidOid;
	dboid = get_database_oid(name, true);
	if (!OidIsValid(dboid))
		return InvalidOid;
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		owner = superuser() ||
			has_privs_of_role(GetUserId(), ((Form_pg_database) GETSTRUCT(tup))->datdba);
		ReleaseSysCache(tup);
	}
	return owner ? dboid : InvalidOid;
}

/*
 * Pause the worker set of dboid and wait until its workers have exited, so
 * that the statement finds no session of ours in the database.
 */
static void
gw_release_database(Oid dboid)
{
	TimestampTz start = GetCurrentTimestamp();

	gw_db_pause(dboid, TimestampTzPlusMilliseconds(start, 60 * 1000));
	while (gw_db_live_workers(dboid) > 0 &&
		   !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), GW_RELEASE_WAIT_MS))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
gw_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	volatile Oid dboid = InvalidOid;

	if (gw_shmem_ready())
		dboid = gw_statement_database(pstmt->utilityStmt);
	if (OidIsValid(dboid))
		gw_release_database(dboid);
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		/* done or failed: the launcher may serve it again (if it is there) */
		if (OidIsValid(dboid))
			gw_db_pause(dboid, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000));
	}
	PG_END_TRY();
}

/*
 * ERROR unless a row queued in this database now will be sent: gateway is
 * preloaded, the database is one the launcher serves, its worker count is
 * not 0 and its workers could be started.  A database the launcher has not
 * looked at yet (the extension was created in this transaction) is probed
 * when this transaction commits.
 */
void
gw_launcher_require_served(void)
{
	HeapTuple	tup;
	Form_pg_database db;
	char	   *name;
	bool		servable;
	bool		known;
	bool		noslot;

	if (!gw_shmem_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the gateway outbox needs gateway in shared_preload_libraries"),
				 errhint("Add gateway to shared_preload_libraries in postgresql.conf and restart; until then nothing would send queued rows.")));
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	db = (Form_pg_database) GETSTRUCT(tup);
	name = pstrdup(NameStr(db->datname));
	servable = db->datallowconn && !db->datistemplate;
	ReleaseSysCache(tup);

	if (!servable)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gateway's workers do not serve database \"%s\"", name),
				 errdetail("The launcher serves only databases that accept connections and are not templates."),
				 errhint("Queue from a database that accepts connections, or ALTER DATABASE \"%s\" WITH IS_TEMPLATE false ALLOW_CONNECTIONS true.", name)));
	if (gw_workers_for(name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no gateway worker serves database \"%s\"", name),
				 errdetail("Its worker count (gateway.database_workers, else gateway.workers) is 0."),
				 errhint("Set gateway.workers, or this database's entry in gateway.database_workers, above 0 and reload the configuration.")));
	if (!gw_db_status(MyDatabaseId, &known, &noslot))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("gateway serves at most %d databases, and database \"%s\" is not one of them",
						GW_MAX_DATABASES, name),
				 errhint("Drop the extension from databases that do not use it.")));
	if (noslot)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("no background worker slot is free to serve database \"%s\"", name),
				 errhint("Raise max_worker_processes (the launcher, the listener and every database's workers take one each) and restart the server.")));
	if (!known)
	{
		gw_arm_xact_cb();
		gw_probe_at_commit = true;
	}
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

void
gw_launcher_init(void)
{
	BackgroundWorker bgw;

	prev_object_access_hook = object_access_hook;
	object_access_hook = gw_object_access;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = gw_process_utility;

	gw_bgw_init(&bgw, "gw_launcher_main", "gateway launcher");
	bgw.bgw_restart_time = 5;
	RegisterBackgroundWorker(&bgw);
}

void
gw_bgw_init(BackgroundWorker *bgw, const char *function, const char *type)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw->bgw_library_name, "gateway", BGW_MAXLEN);
	strlcpy(bgw->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(bgw->bgw_type, type, BGW_MAXLEN);
	strlcpy(bgw->bgw_name, type, BGW_MAXLEN);
}

/* Every database, from pg_database: a plain scan, as no database is selected. */
static List *
gw_scan_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		GwDatabase *g = palloc0(sizeof(GwDatabase));

		g->oid = d->oid;
		strlcpy(g->name, NameStr(d->datname), NAMEDATALEN);
		g->servable = d->datallowconn && !d->datistemplate;
		dbs = lappend(dbs, g);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

static GwDatabase *
gw_find_database(List *dbs, Oid oid)
{
	ListCell   *lc;

	foreach(lc, dbs)
		if (((GwDatabase *) lfirst(lc))->oid == oid)
			return lfirst(lc);
	return NULL;
}

/* Whether the worker of a handle is (still, or about to be) running. */
static bool
gw_handle_running(BackgroundWorkerHandle *h)
{
	pid_t		pid;

	return h != NULL && GetBackgroundWorkerPid(h, &pid) != BGWH_STOPPED;
}

/* Stop every worker the launcher started for local entry l. */
static void
gw_stop_set(GwDbLocal *l)
{
	for (int s = 0; s < GW_MAX_WORKERS; s++)
	{
		if (l->h[s])
		{
			TerminateBackgroundWorker(l->h[s]);
			pfree(l->h[s]);
		}
		l->h[s] = NULL;
		l->started[s] = 0;
	}
	for (int k = 0; k < GW_MAX_LISTENERS; k++)
	{
		if (l->lh[k])
		{
			TerminateBackgroundWorker(l->lh[k]);
			pfree(l->lh[k]);
		}
		l->lh[k] = NULL;
		l->lstarted[k] = 0;
		l->lnoslot[k] = false;
	}
}

/* Start worker slot of the set in entry db; false when no slot was free. */
static bool
gw_start_worker(int db, int slot, const GwDatabase *d)
{
	BackgroundWorker bgw;
	GwDbLocal  *l = &gw_local[db];

	gw_bgw_init(&bgw, "gw_worker_main", "gateway worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway worker %d for database %s", slot, d->name);
	bgw.bgw_main_arg = Int32GetDatum(db * GW_MAX_WORKERS + slot);
	memcpy(bgw.bgw_extra, &d->oid, sizeof(Oid));
	bgw.bgw_notify_pid = MyProcPid;
	l->started[slot] = GetCurrentTimestamp();
	return RegisterDynamicBackgroundWorker(&bgw, &l->h[slot]);
}

/* Start callback listener k of the database in entry db. */
static bool
gw_start_listener(int db, int k, const GwDatabase *d)
{
	BackgroundWorker bgw;
	GwDbLocal  *l = &gw_local[db];

	StaticAssertStmt(sizeof(Oid) + NAMEDATALEN + sizeof(int) <= BGW_EXTRALEN,
					 "a listener's bgw_extra does not fit");
	gw_bgw_init(&bgw, "gw_listener_main", "gateway listener");
	if (k == 0)
		snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway listener for database %s", d->name);
	else
		snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway listener %d for database %s", k + 1, d->name);
	bgw.bgw_main_arg = Int32GetDatum(db);
	memcpy(bgw.bgw_extra, &d->oid, sizeof(Oid));
	strlcpy(bgw.bgw_extra + sizeof(Oid), d->name, NAMEDATALEN);
	memcpy(bgw.bgw_extra + sizeof(Oid) + NAMEDATALEN, &k, sizeof(int));
	bgw.bgw_notify_pid = MyProcPid;
	l->lstarted[k] = GetCurrentTimestamp();
	return RegisterDynamicBackgroundWorker(&bgw, &l->lh[k]);
}

/*
 * Start and stop the listeners numbered from to to - 1 (0-based) of the
 * database in entry db (d) to match gateway.listeners; listening: the
 * database is to have listeners.
 */
static void
gw_pass_listeners(int db, const GwDatabase *d, const GwDbInfo *info, bool listening,
				  int from, int to, TimestampTz now, long *next)
{
	GwDbLocal  *l = &gw_local[db];

	for (int k = from; k < to; k++)
	{
		bool		wanted = listening && k < gw_listen_processes;
		long		since;

		if (gw_handle_running(l->lh[k]))
		{
			/* one past gateway.listeners leaves by itself on the reload,
			 * answering what it was handed first */
			if (!listening)
				TerminateBackgroundWorker(l->lh[k]);
			continue;
		}
		if (l->lh[k])
			pfree(l->lh[k]);
		l->lh[k] = NULL;
		if (!wanted || info->listener_live[k])
			continue;
		since = (long) ((now - l->lstarted[k]) / 1000);
		if (l->lstarted[k] != 0 && since < GW_RESTART_MS)
			*next = Min(*next, GW_RESTART_MS - since);
		else if (!gw_start_listener(db, k, d))
		{
			/* the first listener's absence is said each time; more are a gain */
			if (k == 0 || !l->lnoslot[k])
				ereport(LOG,
						(errmsg("gateway launcher could not start callback listener %d of database \"%s\"",
								k + 1, d->name),
						 errhint("Raise max_worker_processes, or lower gateway.listeners.")));
			l->lnoslot[k] = true;
			*next = Min(*next, 5000);
			return;
		}
		else
			l->lnoslot[k] = false;
	}
}

/*
 * One pass over the databases: start and stop workers to match what each
 * database should have.  Returns the milliseconds until the next pass is
 * due (a worker to start again later), at most 10 s.
 */
/*
 * Start the workers of the database in entry db (d) in slots from .. want - 1
 * that are not running, and stop those running in slots from most on; true
 * when worker 0 could not start for want of a slot.
 */
static bool
gw_pass_workers(int db, const GwDatabase *d, const GwDbInfo *info, int from, int want,
				int most, TimestampTz now, long *next, int *probing)
{
	GwDbLocal  *l = &gw_local[db];
	bool		noslot = false;

	for (int s = from; s < GW_MAX_WORKERS; s++)
	{
		long		since;

		if (gw_handle_running(l->h[s]))
		{
			if (s >= most)
				TerminateBackgroundWorker(l->h[s]);
			continue;
		}
		if (l->h[s])
			pfree(l->h[s]);
		l->h[s] = NULL;
		/* a worker an earlier launcher started is left alone */
		if (s >= want || info->live[s])
			continue;
		if (info->state == GW_DB_PROBE && *probing >= GW_PROBES_AT_ONCE)
		{
			*next = Min(*next, GW_RESTART_MS);
			continue;
		}
		since = (long) ((now - l->started[s]) / 1000);
		if (l->started[s] != 0 && since < GW_RESTART_MS)
		{
			*next = Min(*next, GW_RESTART_MS - since);
			continue;
		}
		if (!gw_start_worker(db, s, d))
		{
			if (s == 0 && !info->noslot)
				ereport(LOG,
						(errmsg("gateway launcher could not start a worker for database \"%s\"",
								d->name),
						 errhint("Raise max_worker_processes.")));
			noslot = (s == 0);
			*next = Min(*next, 5000);
			break;
		}
		if (info->state == GW_DB_PROBE)
			(*probing)++;
	}
	return noslot;
}

static long
gw_launcher_pass(void)
{
	List	   *dbs = gw_scan_databases();
	GwDbInfo	info[GW_MAX_DATABASES];
	TimestampTz now = GetCurrentTimestamp();
	long		next = 10000;
	int			probing = 0;
	ListCell   *lc;
	const GwDatabase *served[GW_MAX_DATABASES] = {0};	/* looked at in this pass */
	bool		listening[GW_MAX_DATABASES] = {0};	/* to have listeners */
	int			burst_from[GW_MAX_DATABASES] = {0};	/* burst worker slots */
	int			burst_to[GW_MAX_DATABASES] = {0};

	/* databases not looked at yet get an entry, to be probed */
	if (gw_db_take_probe_lost())
	{
		list_free(gw_absent);
		gw_absent = NIL;
	}
	gw_db_snapshot(info);
	foreach(lc, dbs)
	{
		GwDatabase *d = lfirst(lc);
		bool		known = list_member_oid(gw_absent, d->oid);

		for (int i = 0; !known && i < GW_MAX_DATABASES; i++)
			known = (info[i].dboid == d->oid);
		if (!known && d->servable && !gw_db_probe(d->oid, false))
			break;				/* the table is full */
	}
	/* forget the absent that were dropped, and any a probe was asked for */
	gw_db_snapshot(info);
	foreach(lc, gw_absent)
	{
		bool		asked = false;

		for (int i = 0; !asked && i < GW_MAX_DATABASES; i++)
			asked = (info[i].dboid == lfirst_oid(lc));
		if (asked || gw_find_database(dbs, lfirst_oid(lc)) == NULL)
			gw_absent = foreach_delete_current(gw_absent, lc);
	}

	for (int i = 0; i < GW_MAX_DATABASES; i++)
		if (info[i].state == GW_DB_PROBE && gw_handle_running(gw_local[i].h[0]))
			probing++;

	for (int i = 0; i < GW_MAX_DATABASES; i++)
	{
		GwDbLocal  *l = &gw_local[i];
		GwDatabase *d;
		int			want;
		int			most;
		bool		noslot = false;

		if (l->dboid != info[i].dboid)
		{
			gw_stop_set(l);
			l->dboid = info[i].dboid;
		}
		if (!OidIsValid(l->dboid))
			continue;
		d = gw_find_database(dbs, l->dboid);
		if (d != NULL && info[i].state == GW_DB_ABSENT)
		{
			/* without the extension: the set exits by itself (quietly) */
			bool		live = false;

			for (int k = 0; k < GW_MAX_LISTENERS; k++)
				live |= info[i].listener_live[k] || gw_handle_running(l->lh[k]);

			for (int s = 0; s < GW_MAX_WORKERS; s++)
				live |= info[i].live[s] || gw_handle_running(l->h[s]);
			if (live)
			{
				next = Min(next, 100);
				continue;
			}
		}
		if (d == NULL || !d->servable || info[i].state == GW_DB_ABSENT)
		{
			/* dropped, no longer servable, or without the extension */
			gw_stop_set(l);
			if (d != NULL && info[i].state == GW_DB_ABSENT)
				gw_absent = lappend_oid(gw_absent, l->dboid);
			gw_db_forget(i, l->dboid, info[i].state != GW_DB_ABSENT);
			l->dboid = InvalidOid;
			continue;
		}

		want = gw_workers_for(d->name);
		if (info[i].paused_until > now)
		{
			want = 0;
			next = Min(next, (long) ((info[i].paused_until - now) / 1000) + 1);
		}
		if (info[i].state == GW_DB_PROBE)
			want = Min(want, 1);
		/* burst workers (started below, after every database's own workers
		 * and listeners) while there is a backlog; they leave by themselves */
		most = (info[i].state == GW_DB_SERVED) ? gw_workers_most(want) : want;
		burst_from[i] = want;
		burst_to[i] = (info[i].backlog && !gw_paused) ? most : want;
		noslot = gw_pass_workers(i, d, &info[i], 0, want, most, now, &next, &probing);
		if (noslot != info[i].noslot)
			gw_db_set_noslot(i, l->dboid, noslot);

		/* a served database has its first callback listener (when there is
		 * a listen address) before any database has a further one */
		listening[i] = (want > 0 && info[i].state == GW_DB_SERVED && gw_listen_address[0] != '\0');
		served[i] = d;
		gw_pass_listeners(i, d, &info[i], listening[i], 0, 1, now, &next);
	}
	for (int i = 0; i < GW_MAX_DATABASES; i++)
		if (served[i] != NULL)
			gw_pass_listeners(i, served[i], &info[i], listening[i], 1, GW_MAX_LISTENERS, now, &next);
	for (int i = 0; i < GW_MAX_DATABASES; i++)
		if (served[i] != NULL && burst_to[i] > burst_from[i])
			(void) gw_pass_workers(i, served[i], &info[i], burst_from[i], burst_to[i],
								   gw_workers_most(burst_from[i]), now, &next, &probing);
	list_free_deep(dbs);
	return next;
}

static void
gw_launcher_exit(int code, Datum arg)
{
	gw_shmem_set_launcher(NULL);
}

void
gw_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	gw_shmem_set_launcher(MyLatch);
	before_shmem_exit(gw_launcher_exit, (Datum) 0);
	elog(LOG, "gateway launcher started");

	for (;;)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		pgstat_report_activity(STATE_RUNNING, "gateway launcher: looking at the databases");
		timeout = gw_launcher_pass();
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 10L), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
