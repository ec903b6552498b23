/*
 * journal.c: a synchronous payment outlives its session.
 *
 * gw_call and gw_stk_push record a payment as an outbox row in the caller's
 * transaction, after the provider answered.  When the session dies while
 * the request is out (kill -9, a server crash) or the transaction rolls
 * back, that row is gone though the money may have moved.  So before a
 * synchronous payment goes out, an entry (account, operation, params, key)
 * is written to pg_gateway/live/ in the data directory and made durable.
 * When its transaction commits with the row, the entry is removed; when
 * the row is rolled back it moves to pg_gateway/orphan/, and so does every
 * live entry when the postmaster (re)starts, since no session survives
 * that.  The worker adopts orphans as 'unknown' payment rows (never sent
 * again; reconciled with the provider's status query where there is one).
 * An entry's file is named after its database ("<oid>.gws-<pid>-<start>-<n>")
 * and adopted by that database's worker; entries from before 0.3.0 (no
 * database in the name) by the worker of gateway.database.
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "common/file_perm.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "journal.h"
#include "jsonutil.h"
#include "provider.h"

#define GW_JOURNAL_DIR "pg_gateway"
#define GW_JOURNAL_LIVE GW_JOURNAL_DIR "/live"
#define GW_JOURNAL_ORPHAN GW_JOURNAL_DIR "/orphan"

typedef struct GwEntry
{
	char		name[80];		/* the file: <database oid>.<key> */
	SubTransactionId subid;		/* the subtransaction that wrote it */
	bool		rolled_back;	/* its row went with a subtransaction */
} GwEntry;

static List *gw_entries = NIL;	/* this transaction's, in TopMemoryContext */
static bool gw_callbacks = false;
static int	gw_seq = 0;
static char *gw_last_key = NULL;

/* Move an entry from live/ to orphan/; never an ERROR (runs at abort). */
static void
gw_journal_orphan(const char *name)
{
	char		from[MAXPGPATH];
	char		to[MAXPGPATH];

	snprintf(from, sizeof(from), "%s/%s", GW_JOURNAL_LIVE, name);
	snprintf(to, sizeof(to), "%s/%s", GW_JOURNAL_ORPHAN, name);
	if (rename(from, to) != 0)
		elog(LOG, "gateway: could not move \"%s\" to \"%s\": %m", from, to);
}

static void
gw_journal_xact_cb(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (gw_entries == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			foreach(lc, gw_entries)
			{
				GwEntry    *e = lfirst(lc);
				char		path[MAXPGPATH];

				snprintf(path, sizeof(path), "%s/%s", GW_JOURNAL_LIVE, e->name);
				if (e->rolled_back)
					gw_journal_orphan(e->name);
				else if (unlink(path) != 0)
					elog(LOG, "gateway: could not remove \"%s\": %m", path);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the row is not committed (yet): the worker will see to it */
			foreach(lc, gw_entries)
				gw_journal_orphan(((GwEntry *) lfirst(lc))->name);
			break;
		default:
			return;
	}
	list_free_deep(gw_entries);
	gw_entries = NIL;
}

static void
gw_journal_subxact_cb(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, gw_entries)
	{
		GwEntry    *e = lfirst(lc);

		if (e->subid >= mySubid)
			e->rolled_back = true;
	}
}

/* Write path durably: the file, then its directory. */
static void
gw_journal_write(const char *path, const char *data, size_t len)
{
	int			fd = OpenTransientFile(path, O_CREAT | O_WRONLY | O_TRUNC | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", path)));
	errno = 0;
	if (write(fd, data, len) != (ssize_t) len || pg_fsync(fd) != 0)
	{
		int			save = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		unlink(path);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
	}
	CloseTransientFile(fd);
	fsync_fname(GW_JOURNAL_LIVE, true);
}

void
gw_journal_open(const GwAccount *acc, const GwOperation *op, Jsonb *params, const char *key)
{
	MemoryContext old;
	GwEntry    *e;
	StringInfoData buf;
	GwJsonWriter w;
	char		path[MAXPGPATH];

	if (!gw_callbacks)
	{
		RegisterXactCallback(gw_journal_xact_cb, NULL);
		RegisterSubXactCallback(gw_journal_subxact_cb, NULL);
		gw_callbacks = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	e = palloc0(sizeof(GwEntry));
	snprintf(e->name, sizeof(e->name), "%u.gws-%d-%ld-%d", MyDatabaseId, MyProcPid,
			 (long) MyStartTime, ++gw_seq);
	e->subid = GetCurrentSubTransactionId();
	if (gw_last_key)
		pfree(gw_last_key);
	gw_last_key = pstrdup(key ? key : strchr(e->name, '.') + 1);
	MemoryContextSwitchTo(old);

	if (params == NULL)
		params = gw_jsonb_object(NULL, NULL, 0);
	if (key && op->key_param)
		params = gw_jsonb_set_text(params, op->key_param, key);
	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, "account", acc->name);
	gw_jw_str(&w, "operation", op->name);
	gw_jw_raw(&w, "params", JsonbToCString(NULL, &params->root, VARSIZE(params)));
	gw_jw_str(&w, "key", gw_last_key);
	gw_jw_raw(&w, "reconcile", (key && op->reconcile_op) ? "true" : "false");
	gw_jw_end(&w);

	snprintf(path, sizeof(path), "%s/%s", GW_JOURNAL_LIVE, e->name);
	gw_journal_write(path, buf.data, buf.len);
	old = MemoryContextSwitchTo(TopMemoryContext);
	gw_entries = lappend(gw_entries, e);
	MemoryContextSwitchTo(old);
}

void
gw_journal_forget_key(void)
{
	if (gw_last_key)
		pfree(gw_last_key);
	gw_last_key = NULL;
}

const char *
gw_journal_key(void)
{
	return gw_last_key;
}

/*
 * In the postmaster, when it (re)initialises shared memory: no session is
 * left, so every live entry is an orphan.
 */
void
gw_journal_startup(void)
{
	DIR		   *dir;
	struct dirent *de;

	(void) mkdir(GW_JOURNAL_DIR, pg_dir_create_mode);
	(void) mkdir(GW_JOURNAL_LIVE, pg_dir_create_mode);
	(void) mkdir(GW_JOURNAL_ORPHAN, pg_dir_create_mode);
	dir = opendir(GW_JOURNAL_LIVE);
	if (dir == NULL)
	{
		elog(LOG, "gateway: could not open directory \"%s\": %m", GW_JOURNAL_LIVE);
		return;
	}
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			gw_journal_orphan(de->d_name);
	closedir(dir);
}

List *
gw_journal_orphans(bool legacy)
{
	DIR		   *dir = AllocateDir(GW_JOURNAL_ORPHAN);
	struct dirent *de;
	List	   *names = NIL;
	char		prefix[16];

	if (dir == NULL)
		return NIL;
	snprintf(prefix, sizeof(prefix), "%u.", MyDatabaseId);
	while ((de = ReadDir(dir, GW_JOURNAL_ORPHAN)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 ||
			(legacy && strncmp(de->d_name, "gws-", 4) == 0))
			names = lappend(names, pstrdup(de->d_name));
	FreeDir(dir);
	return names;
}

char *
gw_journal_read(const char *name)
{
	char		path[MAXPGPATH];
	FILE	   *f;
	StringInfoData buf;
	char		chunk[1024];
	size_t		n;

	snprintf(path, sizeof(path), "%s/%s", GW_JOURNAL_ORPHAN, name);
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		return NULL;
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	FreeFile(f);
	return buf.data;
}

void
gw_journal_done(const char *name)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", GW_JOURNAL_ORPHAN, name);
	if (unlink(path) != 0)
		elog(LOG, "gateway: could not remove \"%s\": %m", path);
}
