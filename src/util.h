/*
 * util.h: small helpers shared by the SQL-facing files and the worker.
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include "postgres.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

/* Argument i as a C string, or NULL when SQL NULL. */
extern char *gw_arg_text(FunctionCallInfo fcinfo, int i);

/* ERROR (22004) when a required argument is NULL. */
extern void gw_require(const char *val, const char *what);

/*
 * ERROR (25006) unless this transaction may write: not on a hot standby, not
 * in a read-only transaction.  what completes "cannot ...", e.g. "queue
 * messages".
 */
extern void gw_require_writable(const char *what);

/*
 * Share-lock the extension gateway (extoid, or the installed one when
 * InvalidOid) until the end of the transaction: a DROP EXTENSION then waits
 * for this transaction before it locks any of gateway's tables, so the two
 * never deadlock.  False, with nothing held, when the extension is not there
 * (any more: a DROP we waited for committed) or, with nowait, when a DROP
 * EXTENSION holds or waits for the lock.
 */
extern bool gw_lock_extension(Oid extoid, bool nowait);
extern char *gw_extension_version(void);
extern bool gw_extension_current(void);

/* Prepare and keep an SPI plan for the life of the backend. */
extern SPIPlanPtr gw_saved_plan(const char *sql, int nargs, Oid *types);
extern Datum gw_array(Datum *values, bool *nulls, int n, Oid elem);

/*
 * gw_execute_indexed runs a saved plan, gw_execute_indexed_sql a statement
 * (both read-write, no row limit), planned as index scans: sequential and
 * bitmap scans, sorts and nested loops are off (the planner still uses them
 * when nothing else can run the statement), and so is JIT (a plan that
 * could only use what is off costs more than jit_above_cost: each execution
 * would compile); the settings come back after the statement, or at the
 * transaction's abort after an ERROR.  For the queue's own statements,
 * whose table's statistics swing with every burst: an ANALYZE that saw few
 * due rows made the claim a bitmap scan and a sort of every due row, each
 * time, and a drain quadratic.
 *
 * Off is not enough where a statement joins the table to a set of ids: with
 * statistics that say the table holds one row, reading all of it through
 * the primary key costs the planner as little as looking each id up.  Such
 * a statement also names its ids as "id = ANY (...)", so that the primary
 * key is searched for them whatever the statistics say; with nested loops
 * off, the set is joined by a hash, read once (a nested loop over the rows
 * found read the whole set again for each of them: a batch's result arrays
 * unnested 200 times over).
 */
extern int	gw_execute_indexed(SPIPlanPtr plan, Datum *args, const char *nulls);
extern int	gw_execute_indexed_sql(const char *sql, int nargs, Oid *types, Datum *args,
								   const char *nulls);

/*
 * Run fn(arg) in a subtransaction.  NULL when it succeeded; else the ERROR's
 * message (in cxt), the subtransaction rolled back and the error cleared.
 * Memory context and resource owner are cxt and the caller's afterwards.
 */
typedef void (*GwSubxactFn) (void *arg);
extern char *gw_try_subxact(GwSubxactFn fn, void *arg, MemoryContext cxt);

/*
 * Whether an ERROR may go away by itself (SQLSTATE classes 40 transaction
 * rollback, 53 insufficient resources, 55 object not in prerequisite state,
 * e.g. a lock not available, and 57 operator intervention, e.g. a statement
 * or lock timeout): the same work may succeed when tried again.
 */
extern bool gw_errcode_transient(int sqlerrcode);

/* gw_try_subxact, but a transient ERROR (above) is raised again after the
 * rollback instead of being returned. */
extern char *gw_try_subxact_ex(GwSubxactFn fn, void *arg, MemoryContext cxt,
							   bool rethrow_transient);

/*
 * Append s to buf for HTML text or a quoted attribute value: & < > " and '
 * become character references.
 */
extern void gw_html_escape(StringInfo buf, const char *s);

#endif
