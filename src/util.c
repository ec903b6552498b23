/*
 * util.c: small helpers shared by the SQL-facing files and the worker.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "util.h"

char *
gw_arg_text(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

void
gw_require(const char *val, const char *what)
{
	if (val == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

void
gw_require_writable(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a standby server", what),
				 errdetail("The server is in recovery: gateway's tables are a read-only copy of the primary's, and its workers start only when it is promoted."),
				 errhint("Do it on the primary server.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s in a read-only transaction", what),
				 errhint("Do it in a read-write transaction (SET transaction_read_only = off, or check default_transaction_read_only).")));
}

bool
gw_lock_extension(Oid extoid, bool nowait)
{
	/* the last OID found by name: one catalog lookup instead of two */
	static Oid	cached = InvalidOid;
	bool		by_name = !OidIsValid(extoid);
	char	   *name;

	if (by_name)
		extoid = OidIsValid(cached) ? cached : get_extension_oid("gateway", true);
	if (!OidIsValid(extoid))
		return false;
	if (!nowait)
		LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	else if (!ConditionalLockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock))
		return false;
	/* what a DROP we waited for did, before looking */
	AcceptInvalidationMessages();
	name = get_extension_name(extoid);
	if (name == NULL || strcmp(name, "gateway") != 0)
	{
		UnlockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
		if (name)
			pfree(name);
		if (by_name && extoid == cached)
		{
			/* dropped since (perhaps made again): look it up by name */
			cached = InvalidOid;
			return gw_lock_extension(InvalidOid, nowait);
		}
		return false;
	}
	pfree(name);
	if (by_name)
		cached = extoid;
	return true;
}

/*
 * The version of gateway installed in this database (palloc'd), or NULL.
 * The worker and the listener serve only a database whose extension is at
 * the library's version: before ALTER EXTENSION gateway UPDATE its tables
 * are not the ones the library reads and writes.  Call in a transaction.
 */
char *
gw_extension_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("gateway"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		v = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(v));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

bool
gw_extension_current(void)
{
	char	   *v = gw_extension_version();

	return v != NULL && strcmp(v, GW_VERSION) == 0;
}

SPIPlanPtr
gw_saved_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* (described with gw_execute_indexed in util.h) */
static int
gw_index_plans_begin(void)
{
	/* jit too: what is off costs the planner 1e10, far above jit_above_cost */
	static const char *const off[] = {"enable_seqscan", "enable_bitmapscan", "enable_sort",
	"enable_nestloop", "jit"};
	int			level = NewGUCNestLevel();

	for (int i = 0; i < lengthof(off); i++)
		(void) set_config_option(off[i], "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

static void
gw_index_plans_end(int level)
{
	AtEOXact_GUC(true, level);
}

int
gw_execute_indexed(SPIPlanPtr plan, Datum *args, const char *nulls)
{
	int			level = gw_index_plans_begin();
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	gw_index_plans_end(level);
	return rc;
}

int
gw_execute_indexed_sql(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls)
{
	int			level = gw_index_plans_begin();
	int			rc = SPI_execute_with_args(sql, nargs, types, args, nulls, false, 0);

	gw_index_plans_end(level);
	return rc;
}

bool
gw_errcode_transient(int sqlerrcode)
{
	int			cat = ERRCODE_TO_CATEGORY(sqlerrcode);

	return cat == ERRCODE_TRANSACTION_ROLLBACK ||
		cat == ERRCODE_INSUFFICIENT_RESOURCES ||
		cat == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
		cat == ERRCODE_OPERATOR_INTERVENTION;
}

char *
gw_try_subxact(GwSubxactFn fn, void *arg, MemoryContext cxt)
{
	return gw_try_subxact_ex(fn, arg, cxt, false);
}

char *
gw_try_subxact_ex(GwSubxactFn fn, void *arg, MemoryContext cxt, bool rethrow_transient)
{
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (rethrow_transient && gw_errcode_transient(ed->sqlerrcode))
			ReThrowError(ed);
		error = ed->message;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return error;
}

void
gw_html_escape(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&#39;");
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/* n values as a one-dimensional array of type elem; nulls where nulls[i] (NULL: none). */
Datum
gw_array(Datum *values, bool *nulls, int n, Oid elem)
{
	int16		len;
	bool		byval;
	char		align;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elem, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, elem, len, byval, align));
}
