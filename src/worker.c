/*
 * worker.c: the background workers that drain gateway.outbox.
 *
 * The loop is a few named steps.  claim: take due rows under a lease
 * (FOR UPDATE SKIP LOCKED), prepare their requests, commit.  start: hand
 * prepared requests to libcurl's multi interface, as the account's rate
 * limit allows, refilling free slots as soon as requests finish.  collect:
 * turn finished requests into outbox statuses.  flush: record a batch of
 * them in one UPDATE.  No transaction is ever open across an HTTP request.
 *
 * The launcher (launcher.c) starts a set of these workers for every
 * database that has the extension; a worker serves one database for life.
 * Worker 0 of a set the launcher has not seen served yet is its probe: it
 * marks the database served, or absent and exits.  Any worker that finds
 * the extension gone marks the database absent and exits.
 *
 * A worker marks the rows it leased with a token it keeps in shared memory.
 * Rows leased by a token no live worker holds (the worker died, the server
 * crashed) are taken again: messages are queued again with the same
 * idempotency key; payments become 'unknown' and are reconciled with the
 * provider's status query, never sent blindly again.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "account.h"
#include "circuit.h"
#include "journal.h"
#include "launcher.h"
#include "jsonutil.h"
#include "pause.h"
#include "request.h"
#include "route.h"
#include "shmem.h"
#include "stats.h"
#include "token.h"
#include "util.h"
#include "rollup.h"
#include "worker.h"

char	   *gw_worker_database = NULL;
int			gw_batch_size = 200;
int			gw_max_in_flight = 64;
int			gw_max_attempts = 5;
int			gw_retry_base_ms = 1000;
int			gw_retry_max_ms = 300000;
int			gw_keep_finished_s = 7 * 24 * 3600;
int			gw_keep_inbound_s = 90 * 24 * 3600;

#define GW_ROLLUP_EVERY_MS (60 * 1000)
/* ... or less often: a pass that took t comes back GW_ROLLUP_SHARE t later */
#define GW_ROLLUP_SHARE 20

/* One claimed row on its way. */
typedef struct GwItem
{
	dlist_node	node;
	MemoryContext cxt;
	int64		id;
	char	   *account;
	char	   *fallback;		/* a routed message's other account, or NULL */
	bool		payment;
	char	   *match_key;		/* the row's, for a status query by it */
	double		rate;
	char	   *prep_error;		/* set when the request could not be built */
	bool		needs_auth;		/* the provider hands out tokens */
	bool		rate_waited;	/* counted as waiting for the rate limit */
	GwRowState	row;			/* for outcome.c: attempts, reconcile, ... */
	GwCall		call;
	GwHttpRequest req;
} GwItem;

/* Outcomes waiting to be recorded. */
typedef struct GwResults
{
	int			n;
	int			cap;
	Datum	   *id;
	Datum	   *status;
	Datum	   *result;
	bool	   *result_null;
	Datum	   *ref;
	bool	   *ref_null;
	Datum	   *error;
	bool	   *error_null;
	Datum	   *delay;			/* ms until the next attempt; -1: never */
	Datum	   *match;
	bool	   *match_null;
	Datum	   *cost;			/* what the provider says it cost, or NULL */
	bool	   *cost_null;
	TimestampTz first;
} GwResults;

static int	gw_db = -1;		/* the database's entry in shared memory */
static int	gw_slot;
static char gw_dbname[NAMEDATALEN];
static BackgroundWorkerHandle *gw_rollup_handle = NULL;	/* worker 0's rollup process */
static bool gw_served = false;	/* the entry says served */
static int64 gw_token;
static MemoryContext gw_worker_cxt;
static MemoryContext gw_results_cxt;
static GwHttpPool *gw_pool;
static dlist_head gw_waiting = DLIST_STATIC_INIT(gw_waiting);	/* prepared, not started */
static int	gw_nwaiting = 0;
static GwResults gw_res;
static List *gw_refresh_accounts = NIL;	/* tokens refused with 401 */
static Oid	gw_outbox_relid = InvalidOid;	/* the outbox this worker's state is for */
static Oid	gw_ext_oid = InvalidOid;	/* the extension that outbox belongs to */
static SPIPlanPtr gw_claim_plan = NULL;
static SPIPlanPtr gw_flush_plan = NULL;
static TimestampTz gw_full_since = 0;	/* claims full since then (0: the last was not) */

/* Claims full this long in a row: a backlog (the launcher adds burst workers). */
#define GW_BACKLOG_MS 500
/* A burst worker with nothing to do this long leaves. */
#define GW_BURST_IDLE_MS 3000

/* The entry of account in gw_refresh_accounts, or NULL; allocates nothing. */
static ListCell *
gw_refresh_find(const char *account)
{
	ListCell   *lc;

	foreach(lc, gw_refresh_accounts)
		if (strcmp(strVal(lfirst(lc)), account) == 0)
			return lc;
	return NULL;
}

/*
 * Stopping sends (pause.c): the paused accounts as last read, and the
 * generation they were read at.
 */
static List *gw_paused_accounts = NIL;
static MemoryContext gw_pause_cxt = NULL;
static uint32 gw_pause_seen = 0;
static bool gw_pause_loaded = false;

/* Whether nothing may start now: gateway.paused, or a pause changed since
 * the paused accounts were read (gw_pause_refresh reads them again). */
static bool
gw_pause_pending(void)
{
	return gw_paused || !gw_pause_loaded || gw_pause_gen() != gw_pause_seen;
}

static void
gw_worker_exit(int code, Datum arg)
{
	/* the rollup process goes with the worker that started it */
	if (gw_rollup_handle)
		TerminateBackgroundWorker(gw_rollup_handle);
	gw_shmem_unregister_worker(gw_db, gw_slot);
}

/*
 * Start a transaction with a snapshot and SPI, named in pg_stat_activity.
 * It holds a share lock on the extension from the start: a DROP EXTENSION
 * waits for this short transaction, and this worker waits for the DROP with
 * no table lock held, so they never deadlock and no query of ours meets a
 * half-dropped schema.  Once the extension is gone, the worker's state
 * (leases, requests in flight) means nothing: it exits and starts over.
 */
static void
gw_xact_begin(const char *what)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!gw_lock_extension(gw_ext_oid, false))
	{
		AbortCurrentTransaction();
		elog(LOG, "gateway worker %d: the extension was dropped; restarting", gw_slot);
		proc_exit(1);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

static void
gw_xact_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Make sure the extension is installed.  Without it, the database is marked
 * absent (unless an extension was created there since we looked: the
 * generation changed) and the worker exits; the launcher starts the set
 * again after the next CREATE EXTENSION.  A worker that holds state
 * (requests in flight, results to record) for an outbox that was dropped or
 * created anew exits, to start over clean: its rows ids mean nothing any
 * more.
 */
static bool
gw_check_installed(void)
{
	Oid			nsp;
	Oid			relid = InvalidOid;
	uint32		gen = gw_db_gen(gw_db);
	char	   *v;
	char		version[NAMEDATALEN] = "";
	static bool said_version = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	nsp = get_namespace_oid("gateway", true);
	if (OidIsValid(nsp))
		relid = get_relname_relid("outbox", nsp);
	gw_ext_oid = get_extension_oid("gateway", true);
	if (gw_dbname[0] == '\0')
	{
		char	   *d = get_database_name(MyDatabaseId);

		if (d)
			strlcpy(gw_dbname, d, sizeof(gw_dbname));
	}
	v = gw_extension_version();
	if (v != NULL)
		strlcpy(version, v, sizeof(version));
	CommitTransactionCommand();
	if (OidIsValid(gw_outbox_relid) && relid != gw_outbox_relid)
	{
		elog(LOG, "gateway worker %d: the outbox was dropped or created anew; restarting", gw_slot);
		proc_exit(1);
	}
	if (!OidIsValid(relid))
	{
		(void) gw_db_mark(gw_db, GW_DB_ABSENT, gen);
		elog(DEBUG1, "gateway worker %d: the extension is not installed; exiting", gw_slot);
		proc_exit(0);
	}
	gw_outbox_relid = relid;
	if (version[0] != '\0' && strcmp(version, GW_VERSION) != 0)
	{
		/* an older schema: its tables are not the ones this library knows */
		if (!said_version)
			ereport(LOG,
					(errmsg("%s: the extension is at version %s, the library at %s; nothing is sent until it is updated",
							MyBgworkerEntry->bgw_name, version, GW_VERSION),
					 errhint("Run ALTER EXTENSION gateway UPDATE in that database.")));
		said_version = true;
		return false;
	}
	said_version = false;
	if (!gw_served)
	{
		gw_served = gw_db_mark(gw_db, GW_DB_SERVED, gen);
		if (gw_served)
			elog(LOG, "%s started", MyBgworkerEntry->bgw_name);
	}
	return true;
}

/* Queue an outcome for the next flush. */
static void
gw_result_add(int64 id, GwOutboxStatus status, Jsonb *result, const char *ref,
			  const char *error, int64 delay_ms, const char *match_key, const char *cost)
{
	GwResults  *r = &gw_res;
	MemoryContext old = MemoryContextSwitchTo(gw_results_cxt);

	if (r->n == r->cap)
	{
		int			cap = Max(64, r->cap * 2);

#define GROW(f, t) r->f = r->cap ? repalloc(r->f, sizeof(t) * cap) : palloc(sizeof(t) * cap)
		GROW(id, Datum);
		GROW(status, Datum);
		GROW(result, Datum);
		GROW(result_null, bool);
		GROW(ref, Datum);
		GROW(ref_null, bool);
		GROW(error, Datum);
		GROW(error_null, bool);
		GROW(delay, Datum);
		GROW(match, Datum);
		GROW(match_null, bool);
		GROW(cost, Datum);
		GROW(cost_null, bool);
#undef GROW
		r->cap = cap;
	}
	if (r->n == 0)
		r->first = GetCurrentTimestamp();
	r->id[r->n] = Int64GetDatum(id);
	r->status[r->n] = CStringGetTextDatum(gw_outbox_status_name(status));
	r->result_null[r->n] = (result == NULL);
	if (result)
	{
		Jsonb	   *copy = palloc(VARSIZE(result));

		memcpy(copy, result, VARSIZE(result));
		r->result[r->n] = JsonbPGetDatum(copy);
	}
	r->ref_null[r->n] = (ref == NULL);
	if (ref)
		r->ref[r->n] = CStringGetTextDatum(ref);
	r->error_null[r->n] = (error == NULL);
	if (error)
		r->error[r->n] = CStringGetTextDatum(error);
	r->delay[r->n] = Int64GetDatum(delay_ms);
	r->match_null[r->n] = (match_key == NULL);
	if (match_key)
		r->match[r->n] = CStringGetTextDatum(match_key);
	r->cost_null[r->n] = (cost == NULL);
	if (cost)
		r->cost[r->n] = CStringGetTextDatum(cost);
	r->n++;
	MemoryContextSwitchTo(old);
}

/*
 * The outcome of a row whose request could not be built (or given a token):
 * a message that cannot be built now never will be, failed; a payment being
 * reconciled is asked about again later.
 */
static void
gw_result_unbuilt(GwItem *it, const char *error)
{
	gw_result_add(it->id, it->row.reconcile ? GW_OB_UNKNOWN : GW_OB_FAILED, NULL, NULL,
				  error,
				  !it->row.reconcile ? 0 :
				  it->row.can_reconcile ? gw_backoff_ms(it->row.attempts + 1) : -1,
				  NULL, NULL);
}

/*
 * Record the queued outcomes in one UPDATE; only rows we still lease.  A
 * delivery report or payment callback that came while the row was being
 * sent (src/inbound.c) has set its status and left the lease:
 * the send's answer is recorded, the callback's status and result stay.  A
 * status query's answer replaces the result but keeps the callback that
 * made the payment need checking.
 */
static void
gw_flush(void)
{
	GwResults  *r = &gw_res;
	Datum		args[9];
	int			rc;

	if (r->n == 0)
		return;
	gw_xact_begin("gateway: recording results");
	if (gw_flush_plan == NULL)
	{
		Oid			types[9] = {INT8ARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, INT8ARRAYOID, INT8OID, TEXTARRAYOID, TEXTARRAYOID};

		gw_flush_plan = gw_saved_plan(
			"UPDATE gateway.outbox o"
			"   SET status = CASE WHEN o.status OPERATOR(pg_catalog.=) 'sending'"
			"            THEN v.status::gateway.outbox_status ELSE o.status END,"
			"       result = CASE WHEN o.status OPERATOR(pg_catalog.=) 'sending'"
			"            THEN (CASE WHEN o.result OPERATOR(pg_catalog.?) 'callback'"
			"                  THEN coalesce(v.result, '{}') OPERATOR(pg_catalog.||)"
			"                       pg_catalog.jsonb_build_object('callback', o.result OPERATOR(pg_catalog.->) 'callback')"
			"                  ELSE coalesce(v.result, o.result) END)"
			"            ELSE coalesce(v.result, '{}') OPERATOR(pg_catalog.||)"
			"                 pg_catalog.jsonb_build_object('callback', o.result OPERATOR(pg_catalog.->) 'callback') END,"
			"       provider_ref = coalesce(v.ref, o.provider_ref), last_error = v.error,"
			"       match_key = coalesce(v.match, o.match_key),"
			"       cost = coalesce(v.cost::pg_catalog.numeric, o.cost),"
			"       next_attempt_at = CASE WHEN v.delay < 0 THEN 'infinity'::timestamptz"
			"            ELSE pg_catalog.now() + v.delay * interval '1 millisecond' END,"
			"       sent_at = CASE WHEN v.status IN ('sent', 'delivered') OR o.status = 'delivered'"
			"            THEN coalesce(o.sent_at, pg_catalog.clock_timestamp()) ELSE o.sent_at END,"
			"       updated_at = pg_catalog.now(), lease_until = NULL, leased_by = NULL"
			"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
			"                 pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6),"
			"                 pg_catalog.unnest($8), pg_catalog.unnest($9))"
			"       AS v(id, status, result, ref, error, delay, match, cost)"
			" WHERE o.id OPERATOR(pg_catalog.=) v.id AND o.id OPERATOR(pg_catalog.=) ANY ($1)"
			"   AND o.status IN ('sending', 'delivered', 'undelivered', 'failed', 'unknown')"
			"   AND o.leased_by OPERATOR(pg_catalog.=) $7",
			9, types);
	}
	args[0] = gw_array(r->id, NULL, r->n, INT8OID);
	args[1] = gw_array(r->status, NULL, r->n, TEXTOID);
	args[2] = gw_array(r->result, r->result_null, r->n, JSONBOID);
	args[3] = gw_array(r->ref, r->ref_null, r->n, TEXTOID);
	args[4] = gw_array(r->error, r->error_null, r->n, TEXTOID);
	args[5] = gw_array(r->delay, NULL, r->n, INT8OID);
	args[6] = Int64GetDatum(gw_token);
	args[7] = gw_array(r->match, r->match_null, r->n, TEXTOID);
	args[8] = gw_array(r->cost, r->cost_null, r->n, TEXTOID);
	rc = gw_execute_indexed(gw_flush_plan, args, NULL);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "recording results failed: %s", SPI_result_code_string(rc));
	gw_xact_end();
	r->n = 0;
	MemoryContextReset(gw_results_cxt);
	r->cap = 0;
}

typedef struct GwPrepareArgs
{
	GwItem	   *it;
	const char *operation;
	Jsonb	   *params;
	const char *key;
} GwPrepareArgs;

static void
gw_item_prepare_step(void *arg)
{
	GwPrepareArgs *a = (GwPrepareArgs *) arg;
	GwItem	   *it = a->it;
	GwAccount  *acc = gw_account_copy(gw_account_get(it->account));
	const GwOperation *op = gw_operation_lookup(acc->provider, a->operation);

	it->rate = acc->rate_limit;
	it->row.can_reconcile = (op->reconcile_op != NULL &&
							 (!op->reconcile_by_match_key || it->match_key != NULL));
	it->needs_auth = (acc->provider->authorize != NULL);
	if (op->flags & GW_OP_PAYMENT)
	{
		/* what the customer was asked for, to check what comes back */
		GwCall		asked;

		gw_call_prepare(&asked, acc, a->operation, a->params);
		it->row.amount = gw_param_find(&asked, "amount");
		it->row.phone = gw_param_find(&asked, "phone");
	}
	if (it->row.reconcile)
	{
		if (!it->row.can_reconcile)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s cannot be asked about this payment", acc->provider->name),
					 errdetail("The push was never answered with a transaction id.")));
		gw_call_prepare(&it->call, acc, op->reconcile_op,
						gw_jsonb_set_text(NULL, op->reconcile_param,
										  op->reconcile_by_match_key ? it->match_key : a->key));
	}
	else
		gw_call_prepare(&it->call, acc, a->operation,
						op->key_param ? gw_jsonb_set_text(a->params, op->key_param, a->key)
						: a->params);
	if (!it->needs_auth)
		gw_call_request(&it->call, &it->req);
}

/* Build one claimed row's request, in its own memory; a row that cannot be
 * built gets prep_error. */
static void
gw_item_prepare(GwItem *it, const char *operation, Jsonb *params, const char *key)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	GwPrepareArgs a = {it, operation, params, key};

	it->prep_error = gw_try_subxact(gw_item_prepare_step, &a, it->cxt);
	MemoryContextSwitchTo(oldcxt);
}

static void gw_collect_one(GwItem *it, GwHttpResponse *resp);

/* A claimed row going to its fallback account. */
typedef struct GwFailover
{
	GwItem	   *it;
	char	   *op;
	Jsonb	   *params;
} GwFailover;

/* Swap the row's account and fallback, its request rebuilt for the
 * fallback's provider: the row records the account that sends it. */
static void
gw_failover_step(void *arg)
{
	GwFailover *f = (GwFailover *) arg;
	GwItem	   *it = f->it;
	const char *opname;
	Jsonb	   *params = gw_route_rebuild(gw_account_get(it->fallback)->provider, f->params, &opname);
	Datum		v[5];
	MemoryContext old;
	char	   *was = it->account;

	v[0] = Int64GetDatum(it->id);
	v[1] = CStringGetTextDatum(it->fallback);
	v[2] = CStringGetTextDatum(it->account);
	v[3] = CStringGetTextDatum(opname);
	v[4] = JsonbPGetDatum(params);
	if (SPI_execute_with_args("UPDATE gateway.outbox SET account = $2, fallback = $3,"
							  "       operation = $4, params = $5"
							  " WHERE id OPERATOR(pg_catalog.=) $1", 5,
							  (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, JSONBOID},
							  v, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "moving outbox row " INT64_FORMAT " to its fallback failed", it->id);
	old = MemoryContextSwitchTo(it->cxt);
	f->op = pstrdup(opname);
	f->params = DatumGetJsonbPCopy(JsonbPGetDatum(params));
	it->account = pstrdup(it->fallback);
	it->fallback = pstrdup(was);
	MemoryContextSwitchTo(old);
}

/*
 * Where a claimed row goes, as the circuits say: to its account while that
 * account's circuit lets it (a half-open one lets one probe through); else,
 * for a routed message, to its fallback while the fallback's does (never a
 * payment); else nowhere yet: false, and *until when to try again.
 */
static bool
gw_item_route(GwItem *it, char **op, Jsonb **params, TimestampTz *until)
{
	TimestampTz other;
	GwFailover	f = {it, NULL, *params};
	char	   *error;

	if (gw_circuit_allow(it->account, until))
		return true;
	if (it->fallback == NULL || it->payment)
		return false;
	if (!gw_circuit_allow(it->fallback, &other))
	{
		*until = Min(*until, other);
		return false;
	}
	error = gw_try_subxact(gw_failover_step, &f, it->cxt);
	if (error)
	{
		/* e.g. the fallback already has a row with the caller's key, or
		 * was dropped: the row waits for its own account's circuit */
		elog(LOG, "gateway worker: outbox row " INT64_FORMAT " stays with account \"%s\": %s",
			 it->id, it->account, error);
		return false;
	}
	*op = f.op;
	*params = f.params;
	return true;
}

/* Put held rows back as they were before the claim: queued, the attempt
 * not counted, due when their circuit lets them go. */
static void
gw_hold(Datum *ids, Datum *until, Datum *why, int n)
{
	Datum		args[3];

	if (n == 0)
		return;
	args[0] = gw_array(ids, NULL, n, INT8OID);
	args[1] = gw_array(until, NULL, n, TIMESTAMPTZOID);
	args[2] = gw_array(why, NULL, n, TEXTOID);
	if (gw_execute_indexed_sql(
			"UPDATE gateway.outbox o"
			"   SET status = 'queued', attempts = o.attempts OPERATOR(pg_catalog.-) 1,"
			"       next_attempt_at = v.until, last_error = v.why,"
			"       lease_until = NULL, leased_by = NULL, updated_at = pg_catalog.now()"
			"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3))"
			"       AS v(id, until, why)"
			" WHERE o.id OPERATOR(pg_catalog.=) v.id AND o.id OPERATOR(pg_catalog.=) ANY ($1)",
			3, (Oid[]) {INT8ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID},
			args, NULL) != SPI_OK_UPDATE)
		elog(ERROR, "holding rows of open circuits failed");
}

/*
 * Tokens (providers with an authorize hook: Nenasasa).  The claimed rows of
 * an account that need a token wait, parked, for one token request of that
 * account, which goes through the pool like any request: never inside a
 * transaction, and while it hangs every other account's rows go on.  A
 * failed request is remembered: the rows it held get its answer as their
 * outcome, and the account's rows are not claimed again before a backoff.
 */
typedef struct GwAuth
{
	dlist_node	node;
	char		account[NAMEDATALEN];
	dlist_head	parked;			/* items waiting for the token */
	int			nparked;
	bool		after_401;		/* the provider refused the last token */
	bool		password;		/* next request: the password grant */
	bool		fetching;		/* a request is in the pool */
	bool		fetch_after_401;	/* that request follows a 401 */
	bool		fetch_refresh;	/* that request is a refresh grant */
	TimestampTz fetched_at;
	bool		have_cached;	/* the stored token that request renews */
	GwToken		cached;
	GwAccount  *acc;
	MemoryContext cxt;			/* acc, cached, the request */
	GwHttpRequest req;
	int			failures;		/* in a row */
	TimestampTz retry_at;		/* after a failure, no request before */
} GwAuth;

static dlist_head gw_auths = DLIST_STATIC_INIT(gw_auths);
static int	gw_nparked = 0;

static GwAuth *
gw_auth_get(const char *account)
{
	dlist_iter	it;
	GwAuth	   *a;

	dlist_foreach(it, &gw_auths)
	{
		a = dlist_container(GwAuth, node, it.cur);
		if (strcmp(a->account, account) == 0)
			return a;
	}
	a = MemoryContextAllocZero(gw_worker_cxt, sizeof(GwAuth));
	strlcpy(a->account, account, NAMEDATALEN);
	dlist_init(&a->parked);
	a->cxt = AllocSetContextCreate(gw_worker_cxt, "gateway token", ALLOCSET_SMALL_SIZES);
	dlist_push_tail(&gw_auths, &a->node);
	return a;
}

/* The GwAuth whose request a pool tag is, or NULL (a row's). */
static GwAuth *
gw_auth_of_tag(void *tag)
{
	dlist_iter	it;

	dlist_foreach(it, &gw_auths)
	{
		if ((void *) dlist_container(GwAuth, node, it.cur) == tag)
			return (GwAuth *) tag;
	}
	return NULL;
}

/* Park a prepared item until its account's token is there. */
static void
gw_auth_park(GwItem *it)
{
	GwAuth	   *a = gw_auth_get(it->account);
	ListCell   *lc = gw_refresh_find(it->account);

	if (lc)
	{
		String	   *name = lfirst(lc);

		/* a token refused with 401 is replaced before the next send */
		gw_refresh_accounts = list_delete_cell(gw_refresh_accounts, lc);
		pfree(strVal(name));
		pfree(name);
		a->after_401 = true;
		a->password = true;
	}
	dlist_push_tail(&a->parked, &it->node);
	a->nparked++;
	gw_nparked++;
}

/* Send the parked items of a with the token. */
static void
gw_auth_release(GwAuth *a, const GwToken *tok, bool after_401)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &a->parked)
	{
		GwItem	   *it = dlist_container(GwItem, node, iter.cur);
		MemoryContext old = MemoryContextSwitchTo(it->cxt);

		char	   *refused;

		dlist_delete(&it->node);
		it->row.refreshed = after_401;
		it->call.account->provider->authorize_with(&it->call, tok);
		/* the hosts allowed may have changed since the claim: no ERROR here,
		 * outside any transaction, but the row's outcome */
		refused = gw_http_url_refusal(it->call.url.data);
		if (refused != NULL)
		{
			gw_result_unbuilt(it, psprintf("request refused: %s", refused));
			MemoryContextSwitchTo(old);
			MemoryContextDelete(it->cxt);
			continue;
		}
		gw_call_request(&it->call, &it->req);
		MemoryContextSwitchTo(old);
		dlist_push_tail(&gw_waiting, &it->node);
		gw_nwaiting++;
	}
	gw_nparked -= a->nparked;
	a->nparked = 0;
}

/* The parked items of a were not sent: resp (the token request's answer,
 * or NULL with error) is their outcome. */
static void
gw_auth_fail(GwAuth *a, const GwHttpResponse *resp, const char *error)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &a->parked)
	{
		GwItem	   *it = dlist_container(GwItem, node, iter.cur);

		dlist_delete(&it->node);
		if (resp == NULL)
		{
			/* as a row that could not be built (gw_claim) */
			gw_result_unbuilt(it, error);
			MemoryContextDelete(it->cxt);
		}
		else
		{
			GwHttpResponse r = *resp;
			MemoryContext old = MemoryContextSwitchTo(it->cxt);

			r.body = palloc(resp->body_len + 1);
			memcpy(r.body, resp->body, resp->body_len);
			r.body[resp->body_len] = '\0';
			r.error = resp->error ? pstrdup(resp->error) : NULL;
			MemoryContextSwitchTo(old);
			it->call.unsendable = true;
			gw_collect_one(it, &r);
		}
	}
	gw_nparked -= a->nparked;
	a->nparked = 0;
}

/* The account and its stored token, into a's memory. */
static void
gw_auth_load_step(void *arg)
{
	GwAuth	   *a = (GwAuth *) arg;
	MemoryContext old = MemoryContextSwitchTo(a->cxt);

	a->acc = gw_account_copy(gw_account_get(a->account));
	a->have_cached = gw_token_load(a->acc, &a->cached);
	MemoryContextSwitchTo(old);
}

/*
 * Give the parked items their token: the stored one while it is fresh, else
 * a request to the provider started in the pool (none before the backoff
 * of a failure ends).  The ms until the earliest backoff ends (0: none).
 */
static int
gw_auth_run(void)
{
	dlist_iter	iter;
	TimestampTz now = GetCurrentTimestamp();
	int			wait = 0;
	int			starting = 0;
	bool		in_xact = false;

	dlist_foreach(iter, &gw_auths)
	{
		GwAuth	   *a = dlist_container(GwAuth, node, iter.cur);
		char	   *error;
		bool		use_refresh;

		if (a->nparked == 0 || a->fetching)
			continue;
		if (gw_pause_pending())
			break;
		if (gw_pause_listed(gw_paused_accounts, a->account))
			continue;
		if (a->retry_at > now)
		{
			int			ms = (int) Min((a->retry_at - now) / 1000 + 1, 1000);

			wait = (wait == 0) ? ms : Min(wait, ms);
			continue;
		}
		if (gw_http_pool_free_slots(gw_pool) - starting <= 0)
			break;
		if (!in_xact)
		{
			gw_xact_begin("gateway: reading tokens");
			in_xact = true;
		}
		MemoryContextReset(a->cxt);
		a->acc = NULL;
		error = gw_try_subxact(gw_auth_load_step, a, a->cxt);
		if (error)
		{
			gw_auth_fail(a, NULL, error);
			continue;
		}
		if (a->have_cached && !a->password && !gw_token_due(&a->cached, now))
		{
			gw_auth_release(a, &a->cached, false);
			continue;
		}
		/* the request: after commit, with nothing of the transaction's */
		use_refresh = a->have_cached && !a->password && a->cached.refresh_token != NULL;
		{
			MemoryContext old = MemoryContextSwitchTo(a->cxt);

			a->acc->provider->token_request(a->acc, use_refresh ? a->cached.refresh_token : NULL,
											&a->req);
			MemoryContextSwitchTo(old);
		}
		a->fetch_refresh = use_refresh;
		a->fetch_after_401 = a->after_401;
		a->after_401 = false;
		a->password = false;
		a->fetching = true;		/* started below */
		starting++;
	}
	if (in_xact)
		gw_xact_end();

	/* every request is sent outside the transaction that read the tokens */
	dlist_foreach(iter, &gw_auths)
	{
		GwAuth	   *a = dlist_container(GwAuth, node, iter.cur);

		if (a->fetching && a->req.url != NULL)
		{
			a->fetched_at = GetCurrentTimestamp();
			if (!gw_http_pool_start(gw_pool, &a->req, a))
				a->fetching = false;	/* no slot after all: next round */
			/* the pool copied the body, which holds the password */
			explicit_bzero((char *) a->req.body, a->req.body_len);
			a->req.url = NULL;
		}
	}
	return wait;
}

/* A refresh grant the provider refused outright (not busy, not broken). */
static bool
gw_auth_refused(const GwHttpResponse *resp)
{
	return resp->net_error == GW_NET_OK &&
		resp->status >= 400 && resp->status < 500 && resp->status != 429;
}

/* A token request finished. */
static void
gw_auth_done(GwAuth *a, GwHttpResponse *resp)
{
	GwToken		tok;
	TimestampTz now = GetCurrentTimestamp();

	a->fetching = false;
	memset(&tok, 0, sizeof(tok));
	if (a->acc->provider->token_answer(resp, a->fetched_at, &tok))
	{
		a->failures = 0;
		a->retry_at = 0;
		/* for every backend and the next claims (best effort, never raises) */
		gw_xact_begin("gateway: storing a token");
		gw_token_store(a->acc, &tok);
		gw_xact_end();
		gw_auth_release(a, &tok, a->fetch_after_401);
	}
	else if (a->fetch_refresh && gw_auth_refused(resp))
		a->password = true;		/* asked again with the password, next round */
	else if (a->have_cached && !a->fetch_after_401 && now < a->cached.expires_at)
		gw_auth_release(a, &a->cached, false);	/* renewing early failed; it still works */
	else
	{
		a->failures++;
		a->retry_at = TimestampTzPlusMilliseconds(now, gw_backoff_ms(a->failures));
		gw_auth_fail(a, resp, NULL);
	}
	if (tok.access_token)
		explicit_bzero(tok.access_token, strlen(tok.access_token));
	if (tok.refresh_token)
		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
}

/* Accounts whose token request failed lately: their rows are not claimed. */
static Datum
gw_auth_backoff_accounts(void)
{
	TimestampTz now = GetCurrentTimestamp();
	Datum		names[64];
	int			n = 0;
	dlist_iter	iter;

	dlist_foreach(iter, &gw_auths)
	{
		GwAuth	   *a = dlist_container(GwAuth, node, iter.cur);

		if (a->retry_at > now && n < lengthof(names))
			names[n++] = CStringGetTextDatum(a->account);
	}
	return gw_array(names, NULL, n, TEXTOID);
}

/* No backlog (any more): tell the launcher if we had said there was. */
static void
gw_backlog_end(void)
{
	if (gw_full_since != 0)
		gw_shmem_set_backlog(gw_db, gw_slot, false);
	gw_full_since = 0;
}

/*
 * A claim of n came back with got rows to send (rows held for an open
 * circuit not counted); held rows were waiting before it (for a rate limit
 * or a token: gw_start has started all it could).  Claims that come back
 * full for GW_BACKLOG_MS in a row, with none held (more workers would not
 * send those sooner), tell the launcher this database has a backlog; the
 * first that does not ends it, and so does a pause.
 */
static void
gw_note_claim(int n, int got, int held)
{
	TimestampTz now;

	if (got < n || held > 0)
	{
		gw_backlog_end();
		return;
	}
	now = GetCurrentTimestamp();
	if (gw_full_since == 0)
		gw_full_since = now;
	else if (TimestampDifferenceExceeds(gw_full_since, now, GW_BACKLOG_MS))
		gw_shmem_set_backlog(gw_db, gw_slot, true);
}

/* Claim up to n due rows and prepare their requests; how many were claimed,
 * and in *circuit how many of them wait for an open circuit (held). */
static int
gw_claim(int n, int *circuit)
{
	int			rc;
	Datum		args[4];
	int			got;
	Jsonb	  **params;
	char	  **ops;
	char	  **keys;
	GwItem	  **items;
	bool		payment = false;

	*circuit = 0;
	gw_xact_begin("gateway: claiming");
	if (gw_claim_plan == NULL)
	{
		Oid			types[4] = {INT4OID, INT8OID, INT8OID, TEXTARRAYOID};

		gw_claim_plan = gw_saved_plan(
			"WITH c AS ("
			"  SELECT id, status AS was FROM gateway.outbox"
			"   WHERE status IN ('queued', 'unknown')"
			"     AND next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()"
			"     AND NOT account OPERATOR(pg_catalog.=) ANY ($4)"
			"     AND NOT account OPERATOR(pg_catalog.=) ANY (ARRAY("
			"         SELECT a.name FROM gateway.account a WHERE a.paused_at IS NOT NULL))"
			"   ORDER BY next_attempt_at LIMIT $1"
			"   FOR UPDATE SKIP LOCKED)"
			" UPDATE gateway.outbox o"
			"    SET status = 'sending',"
			"        attempts = o.attempts OPERATOR(pg_catalog.+)"
			"                   CASE WHEN c.was OPERATOR(pg_catalog.=) 'queued' THEN 1 ELSE 0 END,"
			"        lease_until = pg_catalog.now() OPERATOR(pg_catalog.+) $2 * interval '1 millisecond',"
			"        next_attempt_at = pg_catalog.now() OPERATOR(pg_catalog.+) $2 * interval '1 millisecond',"
			"        leased_by = $3, updated_at = pg_catalog.now()"
			"   FROM c WHERE o.id OPERATOR(pg_catalog.=) c.id"
			"    AND o.id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT c.id FROM c))"
			" RETURNING o.id, o.account, o.operation, o.params, o.idempotency_key,"
			"           o.attempts, o.payment, c.was, o.created_at, o.match_key, o.fallback",
			4, types);
	}
	args[0] = Int32GetDatum(n);
	args[1] = Int64GetDatum((int64) gw_request_timeout_ms + 60000);
	args[2] = Int64GetDatum(gw_token);
	args[3] = gw_auth_backoff_accounts();
	rc = gw_execute_indexed(gw_claim_plan, args, NULL);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "claiming rows failed: %s", SPI_result_code_string(rc));
	got = (int) SPI_processed;

	/* Copy the rows out of SPI memory before preparing (subtransactions). */
	items = palloc(sizeof(GwItem *) * Max(got, 1));
	params = palloc(sizeof(Jsonb *) * Max(got, 1));
	ops = palloc(sizeof(char *) * Max(got, 1));
	keys = palloc(sizeof(char *) * Max(got, 1));
	for (int i = 0; i < got; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext cxt = AllocSetContextCreate(gw_worker_cxt, "gateway item",
												  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		GwItem	   *it = palloc0(sizeof(GwItem));

		it->cxt = cxt;
		it->id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		it->account = SPI_getvalue(t, d, 2);
		ops[i] = SPI_getvalue(t, d, 3);
		params[i] = DatumGetJsonbPCopy(SPI_getbinval(t, d, 4, &isnull));
		keys[i] = SPI_getvalue(t, d, 5);
		it->row.attempts = DatumGetInt32(SPI_getbinval(t, d, 6, &isnull));
		{
			char	   *was = SPI_getvalue(t, d, 8);

			it->row.reconcile = (strcmp(was, "unknown") == 0);
		}
		it->row.created_at = DatumGetTimestampTz(SPI_getbinval(t, d, 9, &isnull));
		it->match_key = SPI_getvalue(t, d, 10);
		it->fallback = SPI_getvalue(t, d, 11);
		it->payment = DatumGetBool(SPI_getbinval(t, d, 7, &isnull));
		MemoryContextSwitchTo(old);
		items[i] = it;
	}
	for (int i = 0; i < got && !payment; i++)
		payment = items[i]->payment;
	/* rows whose circuits are open go to their fallback, or wait */
	{
		Datum	   *held = palloc(sizeof(Datum) * Max(got, 1));
		Datum	   *until = palloc(sizeof(Datum) * Max(got, 1));
		Datum	   *why = palloc(sizeof(Datum) * Max(got, 1));
		int			nheld = 0;

		for (int i = 0; i < got; i++)
		{
			TimestampTz t;

			if (items[i]->row.reconcile || gw_item_route(items[i], &ops[i], &params[i], &t))
				continue;
			held[nheld] = Int64GetDatum(items[i]->id);
			until[nheld] = TimestampTzGetDatum(t);
			why[nheld] = CStringGetTextDatum(psprintf("waiting: the circuit of account %s is open",
													  items[i]->account));
			nheld++;
			MemoryContextDelete(items[i]->cxt);
			items[i] = NULL;
		}
		gw_hold(held, until, why, nheld);
		*circuit = nheld;
	}
	for (int i = 0; i < got; i++)
		if (items[i])
			gw_item_prepare(items[i], ops[i], params[i], keys[i]);

	/*
	 * A claim that holds only messages commits without waiting for its WAL
	 * to reach disk: if the server stops before it does, the rows are still
	 * queued after the restart and are sent again, as rows a stopped worker
	 * had leased are (gw_recover); their result write, which does wait,
	 * flushes the claim before it.  A claim that holds a payment is on disk
	 * before its request leaves: a payment is never sent twice blindly.
	 * (Set last: a transaction-local setting makes every subtransaction's
	 * end, the preparations above, walk all settings.)
	 */
	if (got > 0 && !payment)
		(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	gw_xact_end();

	for (int i = 0; i < got; i++)
	{
		GwItem	   *it = items[i];

		if (it == NULL)
			continue;			/* held */
		if (it->prep_error)
		{
			/*
			 * A message that cannot be built now never will be: failed.  A
			 * payment being reconciled is asked about again later.
			 */
			gw_result_unbuilt(it, it->prep_error);
			MemoryContextDelete(it->cxt);
		}
		else if (it->call.refused)
		{
			/* every recipient opted out: no request */
			GwHttpResponse resp = it->call.resp;

			gw_collect_one(it, &resp);
		}
		else if (it->needs_auth)
			gw_auth_park(it);	/* its token: gw_auth_run, outside any transaction */
		else
		{
			dlist_push_tail(&gw_waiting, &it->node);
			gw_nwaiting++;
		}
	}
	return got;
}

/* Whether the rows of account are to stay unsent. */
static bool
gw_pause_holds(const char *account)
{
	return gw_paused || gw_pause_listed(gw_paused_accounts, account);
}

/* Note one claimed row given back, and free it. */
static void
gw_pause_take(GwItem *it, Datum *ids, Datum *reconcile, int *n)
{
	ids[*n] = Int64GetDatum(it->id);
	reconcile[*n] = BoolGetDatum(it->row.reconcile);
	(*n)++;
	MemoryContextDelete(it->cxt);
}

/*
 * Give back the rows claimed and not started (waiting for a slot or the
 * rate limit, or parked for a token) that a pause holds: as they were
 * before the claim, queued (or unknown: a payment being reconciled), the
 * attempt not counted.  Requests in flight finish and are recorded.
 */
static void
gw_pause_give_back(void)
{
	static SPIPlanPtr plan = NULL;
	dlist_iter	ai;
	dlist_mutable_iter iter;
	int			count = 0;
	int			n = 0;
	Datum	   *ids;
	Datum	   *reconcile;
	Datum		args[3];

	dlist_foreach(ai, &gw_waiting)
		count += gw_pause_holds(dlist_container(GwItem, node, ai.cur)->account);
	dlist_foreach(ai, &gw_auths)
	{
		GwAuth	   *a = dlist_container(GwAuth, node, ai.cur);

		if (a->nparked > 0 && gw_pause_holds(a->account))
			count += a->nparked;
	}
	if (count == 0)
		return;

	gw_xact_begin("gateway: giving back the rows of a pause");
	ids = palloc(sizeof(Datum) * count);
	reconcile = palloc(sizeof(Datum) * count);
	dlist_foreach_modify(iter, &gw_waiting)
	{
		GwItem	   *it = dlist_container(GwItem, node, iter.cur);

		if (!gw_pause_holds(it->account))
			continue;
		dlist_delete(&it->node);
		gw_nwaiting--;
		gw_pause_take(it, ids, reconcile, &n);
	}
	dlist_foreach(ai, &gw_auths)
	{
		GwAuth	   *a = dlist_container(GwAuth, node, ai.cur);

		if (a->nparked == 0 || !gw_pause_holds(a->account))
			continue;
		dlist_foreach_modify(iter, &a->parked)
		{
			GwItem	   *it = dlist_container(GwItem, node, iter.cur);

			dlist_delete(&it->node);
			gw_pause_take(it, ids, reconcile, &n);
		}
		gw_nparked -= a->nparked;
		a->nparked = 0;
	}
	if (plan == NULL)
		plan = gw_saved_plan(
			"UPDATE gateway.outbox o"
			"   SET status = CASE WHEN v.reconcile THEN 'unknown'::gateway.outbox_status"
			"                     ELSE 'queued'::gateway.outbox_status END,"
			"       attempts = GREATEST(0, o.attempts OPERATOR(pg_catalog.-)"
			"                              CASE WHEN v.reconcile THEN 0 ELSE 1 END),"
			"       next_attempt_at = pg_catalog.now(), lease_until = NULL, leased_by = NULL,"
			"       updated_at = pg_catalog.now()"
			"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS v(id, reconcile)"
			" WHERE o.id OPERATOR(pg_catalog.=) v.id AND o.id OPERATOR(pg_catalog.=) ANY ($1)"
			"   AND o.status OPERATOR(pg_catalog.=) 'sending'"
			"   AND o.leased_by OPERATOR(pg_catalog.=) $3",
			3, (Oid[]) {INT8ARRAYOID, BOOLARRAYOID, INT8OID});
	args[0] = gw_array(ids, NULL, n, INT8OID);
	args[1] = gw_array(reconcile, NULL, n, BOOLOID);
	args[2] = Int64GetDatum(gw_token);
	if (gw_execute_indexed(plan, args, NULL) != SPI_OK_UPDATE)
		elog(ERROR, "giving back the rows of a pause failed");
	gw_xact_end();
	elog(DEBUG1, "gateway worker %d: gave back %d rows of a pause", gw_slot, n);
}

/*
 * Read the paused accounts again when a pause or resume committed since
 * the last look; give back what a pause holds.
 */
static void
gw_pause_refresh(void)
{
	uint32		gen = gw_pause_gen();

	if (!gw_pause_loaded || gen != gw_pause_seen)
	{
		if (gw_pause_cxt == NULL)
			gw_pause_cxt = AllocSetContextCreate(gw_worker_cxt, "gateway pause",
												 ALLOCSET_SMALL_SIZES);
		gw_xact_begin("gateway: reading paused accounts");
		MemoryContextReset(gw_pause_cxt);
		gw_paused_accounts = gw_pause_read_accounts(gw_pause_cxt);
		gw_xact_end();
		gw_pause_seen = gen;
		gw_pause_loaded = true;
	}
	if (gw_paused || gw_paused_accounts != NIL)
		gw_pause_give_back();
}

/* Hand waiting requests to libcurl as free slots and rate limits allow;
 * the time in ms until a rate-limited one may go (0: none waiting on it). */
static int
gw_start(void)
{
	dlist_mutable_iter iter;
	int			wait = 0;

	dlist_foreach_modify(iter, &gw_waiting)
	{
		GwItem	   *it = dlist_container(GwItem, node, iter.cur);
		int			ms;

		if (gw_http_pool_free_slots(gw_pool) == 0 || gw_pause_pending())
			break;
		if (gw_pause_listed(gw_paused_accounts, it->account))
			continue;
		if (gw_rate_take(it->account, it->rate, 1, &ms) < 1)
		{
			if (!it->rate_waited)
				gw_stat_rate_wait(it->account, it->call.op->name);
			it->rate_waited = true;
			wait = (wait == 0) ? ms : Min(wait, ms);
			continue;
		}
		dlist_delete(&it->node);
		gw_nwaiting--;
		gw_http_pool_start(gw_pool, &it->req, it);
	}
	return wait;
}

/* Turn one finished request into its outbox outcome.  Whatever the answer,
 * the row gets an outcome and the worker goes on. */
static void
gw_collect_one(GwItem *it, GwHttpResponse *resp)
{
	MemoryContext old = MemoryContextSwitchTo(it->cxt);

	if (resp->status == 429 || resp->status == 503)
		gw_rate_pause(it->account, resp->retry_after_s > 0 ? resp->retry_after_s * 1000 : 1000);

	PG_TRY();
	{
		Jsonb	   *res;
		GwOutcome  *o = &it->call.outcome;

		it->call.resp = *resp;
		it->call.row = &it->row;
		res = gw_call_complete(&it->call);
		if (o->refresh_token && gw_refresh_find(it->account) == NULL)
		{
			MemoryContext wc = MemoryContextSwitchTo(gw_worker_cxt);

			gw_refresh_accounts = lappend(gw_refresh_accounts, makeString(pstrdup(it->account)));
			MemoryContextSwitchTo(wc);
		}
		/* a status query's answer names the payment, not a new request */
		gw_result_add(it->id, o->outbox, res,
					  it->row.reconcile ? NULL : it->call.provider_ref,
					  o->error, o->delay_ms,
					  it->row.reconcile ? NULL : it->call.match_key,
					  it->call.cost);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		/* an answer we could not even take apart: its outcome is unknown */
		MemoryContextSwitchTo(it->cxt);
		ed = CopyErrorData();
		FlushErrorState();
		gw_result_add(it->id, GW_OB_UNKNOWN, NULL, NULL,
					  psprintf("the answer could not be read: %s", ed->message), -1, NULL, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(it->cxt);
}

static void
gw_collect(void)
{
	void	   *tag;
	GwHttpResponse resp;
	MemoryContext old = MemoryContextSwitchTo(gw_results_cxt);

	while (gw_http_pool_next(gw_pool, &tag, &resp))
	{
		GwAuth	   *a = gw_auth_of_tag(tag);

		/* the response lives in gw_results_cxt until the flush */
		if (a)
			gw_auth_done(a, &resp);
		else
			gw_collect_one((GwItem *) tag, &resp);
		MemoryContextSwitchTo(gw_results_cxt);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Take back rows leased by workers that are gone (killed, or the server
 * crashed).  A live worker's leases are its own to finish, however long its
 * rate limit makes them wait.
 */
static void
gw_recover(void)
{
	int64		tokens[GW_MAX_WORKERS];
	int			n = gw_shmem_live_tokens(gw_db, tokens);
	Datum	   *d;
	Datum		args[2];
	int			rc;

	gw_xact_begin("gateway: recovering leases");
	d = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(tokens[i]);
	args[0] = gw_array(d, NULL, n, INT8OID);
	args[1] = Int32GetDatum(gw_max_attempts);
	rc = gw_execute_indexed_sql(
		"UPDATE gateway.outbox"
		"   SET status = CASE WHEN payment THEN 'unknown'::gateway.outbox_status"
		"                     WHEN attempts OPERATOR(pg_catalog.>=) $2 THEN 'dead'::gateway.outbox_status"
		"                     ELSE 'queued'::gateway.outbox_status END,"
		"       next_attempt_at = pg_catalog.now(), lease_until = NULL, leased_by = NULL,"
		"       updated_at = pg_catalog.now(),"
		"       last_error = 'the worker stopped while sending; taken back'"
		" WHERE status OPERATOR(pg_catalog.=) 'sending'"
		"   AND NOT leased_by OPERATOR(pg_catalog.=) ANY ($1)"
		"   AND updated_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 second')",
		2, (Oid[]) {INT8ARRAYOID, INT4OID}, args, NULL);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "recovering leases failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		elog(LOG, "gateway worker took back %llu rows from a worker that stopped",
			 (unsigned long long) SPI_processed);
	gw_xact_end();
}

static void
gw_adopt_step(void *arg)
{
	Datum		args[1] = {CStringGetTextDatum((char *) arg)};

	if (SPI_execute_with_args(
			"INSERT INTO gateway.outbox (account, operation, params, status, attempts,"
			"                            idempotency_key, payment, next_attempt_at, last_error)"
			" SELECT j->>'account', j->>'operation', j->'params', 'unknown', 1, j->>'key', true,"
			"        CASE WHEN (j->>'reconcile')::boolean THEN now() ELSE 'infinity' END,"
			"        'the session ended while the payment was out (it died, or its transaction"
			" rolled back): outcome unknown'"
			"   FROM (SELECT $1::jsonb AS j) s"
			"  WHERE NOT EXISTS (SELECT FROM gateway.outbox o WHERE o.account = s.j->>'account'"
			"                       AND o.idempotency_key = s.j->>'key' AND o.payment)",
			1, (Oid[]) {TEXTOID}, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "adopting a payment failed");
	if (SPI_processed > 0)
		elog(LOG, "gateway worker adopted a payment whose session ended while it was out");
}

/*
 * Adopt the synchronous payments whose session died or rolled back before
 * their row committed (journal.c): 'unknown' rows, never sent again, asked
 * about with the provider's status query where there is one.  One worker
 * does it.  An entry that cannot be read was cut short before its request
 * went out.
 */
static void
gw_adopt_orphans(void)
{
	MemoryContext cxt = AllocSetContextCreate(gw_worker_cxt, "gateway orphans",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *names;
	ListCell   *lc;

	gw_xact_begin("gateway: adopting payments of ended sessions");
	MemoryContextSwitchTo(cxt);
	names = gw_journal_orphans(strcmp(get_database_name(MyDatabaseId), gw_worker_database) == 0);
	foreach(lc, names)
	{
		char	   *text = gw_journal_read(lfirst(lc));
		char	   *err = text ? gw_try_subxact(gw_adopt_step, text, cxt) : NULL;

		if (err)
			elog(LOG, "gateway worker: journal entry \"%s\" dropped: %s",
				 (char *) lfirst(lc), err);
		MemoryContextSwitchTo(cxt);
	}
	gw_xact_end();
	foreach(lc, names)
		gw_journal_done(lfirst(lc));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Delete in batches of 10,000 what sql (its $1: seconds to keep) selects,
 * one transaction a batch, ten batches at most; true when more is left.
 */
static bool
gw_purge_batches(const char *what, const char *sql, int64 keep_s)
{
	Datum		args[1];

	args[0] = Int64GetDatum(keep_s);
	for (int i = 0; i < 10; i++)
	{
		uint64		n;

		gw_xact_begin(what);
		if (gw_execute_indexed_sql(sql, 1, (Oid[]) {INT8OID}, args, NULL) != SPI_OK_DELETE)
			elog(ERROR, "%s failed", what);
		n = SPI_processed;
		gw_xact_end();
		if (n < 10000)
			return false;
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

/*
 * Remove finished rows older than gateway.keep_finished, 10,000 at a time, up
 * to ten batches a pass; true when it stopped with more to do, so the next
 * pass comes sooner and the table stays small under a steady load.  Only
 * rows of days whose daily figures are final (gateway.rollup_state): a row
 * is counted before it goes.
 */
static bool
gw_purge(void)
{
	if (gw_keep_finished_s < 0)
		return false;
	return gw_purge_batches("gateway: purging finished rows",
							"DELETE FROM gateway.outbox WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY("
							"  SELECT id FROM gateway.outbox"
							"   WHERE status IN ('sent', 'delivered', 'undelivered', 'failed', 'dead', 'cancelled')"
							"     AND updated_at < pg_catalog.now() - $1 * interval '1 second'"
							"     AND send_at < (SELECT (s.final_through + 1)::timestamp AT TIME ZONE 'UTC'"
							"                      FROM gateway.rollup_state s)"
							"   LIMIT 10000))",
							(int64) gw_keep_finished_s);
}

/* The last UTC day that can be final now (gateway.keep_finished after its
 * end), as days since 2000-01-01; -1 when none ever is. */
static int64
gw_last_final_day(TimestampTz now)
{
	if (gw_keep_finished_s < 0)
		return -1;
	return (now - (TimestampTz) gw_keep_finished_s * USECS_PER_SEC) / USECS_PER_DAY - 1;
}

/*
 * The daily figures (rollup.c): days made final before the purge looks at
 * their rows, the open days refreshed.  Worker 0 only: a pass once a
 * minute, or GW_ROLLUP_SHARE times as long as the last one took after it
 * ended, and at once (or as soon as the running one ends) when a day can be
 * made final.  The pass runs in the rollup process, so that the drain goes
 * on meanwhile, or here when no slot is free.  A pass that did not commit
 * is asked for again a minute later.  It never waits for a gw_rollup() that
 * is running.
 */
static void
gw_rollup_tick(TimestampTz now, TimestampTz *next, int64 *final_day)
{
	static int64 gen = 0;		/* the pass asked for last */
	static bool first = true;	/* the first after this worker's start */
	TimestampTz since;
	int64		took;

	if (gw_rollup_handle)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(gw_rollup_handle, &pid) != BGWH_STOPPED)
			return;				/* it still runs */
		pfree(gw_rollup_handle);
		gw_rollup_handle = NULL;
		gw_db_rollup_get(gw_db, &since, &took);
		*next = TimestampTzPlusMilliseconds(now, gw_db_rollup_succeeded(gw_db, gen)
											? Max(GW_ROLLUP_EVERY_MS, GW_ROLLUP_SHARE * took)
											: GW_ROLLUP_EVERY_MS);
	}
	if (now < *next && gw_last_final_day(now) == *final_day)
		return;
	*final_day = gw_last_final_day(now);
	/* a pass of this worker, told from any an earlier worker 0 started */
	gen = Max(gen + 1, (int64) now);
	gw_db_rollup_begin(gw_db, gen, first);
	first = false;
	*next = TimestampTzPlusMilliseconds(now, GW_ROLLUP_EVERY_MS);
	gw_rollup_handle = gw_rollup_start(gw_db, MyDatabaseId, gw_dbname, gw_ext_oid, gen);
	if (gw_rollup_handle)
		return;
	/* no slot free: the pass is ours, the drain waits meanwhile */
	gw_xact_begin("gateway: rolling up the daily figures");
	gw_rollup_pass_shared(gw_db, &since, &took);
	gw_xact_end();
	gw_db_rollup_done(gw_db, gen, since, took);
	*next = TimestampTzPlusMilliseconds(now, Max(GW_ROLLUP_EVERY_MS, GW_ROLLUP_SHARE * took));
}

/*
 * Remove callbacks older than gateway.keep_inbound the same way, from the
 * first worker only: phone numbers and receipts are not kept for ever.
 */
static bool
gw_purge_inbound(void)
{
	if (gw_keep_inbound_s < 0 || gw_slot != 0)
		return false;
	return gw_purge_batches("gateway: purging old callbacks",
							"DELETE FROM gateway.inbound WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY("
							"  SELECT id FROM gateway.inbound"
							"   WHERE received_at < pg_catalog.now() - $1 * interval '1 second'"
							"   LIMIT 10000))",
							(int64) gw_keep_inbound_s);
}

/* Milliseconds until the next row is due (capped at max_ms); rows parked at
 * 'infinity' (payments waiting for a callback or an operator) never are. */
static long
gw_next_due_ms(long max_ms)
{
	long		ms = max_ms;

	gw_xact_begin("gateway: looking for due rows");
	/* GREATEST skips a NULL: with nothing due it would say 0 and spin */
	if (gw_execute_indexed_sql(
			"SELECT GREATEST(0, EXTRACT(epoch FROM min(next_attempt_at) - pg_catalog.now()) * 1000)::int8"
			"  FROM gateway.outbox WHERE status IN ('queued', 'unknown')"
			"   AND next_attempt_at OPERATOR(pg_catalog.<) 'infinity'"
			"   AND NOT account OPERATOR(pg_catalog.=) ANY (ARRAY("
			"       SELECT a.name FROM gateway.account a WHERE a.paused_at IS NOT NULL))"
			" HAVING min(next_attempt_at) IS NOT NULL",
			0, NULL, NULL, NULL) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			ms = Min(ms, (long) DatumGetInt64(v));
	}
	gw_xact_end();
	return ms;
}

void
gw_worker_main(Datum arg)
{
	TimestampTz next_maintenance = 0;
	TimestampTz idle_since = 0;	/* a burst worker: nothing to do since */
	TimestampTz next_rollup = 0;
	int64		rollup_final_day = -1;
	int			maintenance_runs = 0;
	bool		want_claim = true;
	Oid			dboid;

	gw_db = DatumGetInt32(arg) / GW_MAX_WORKERS;
	gw_slot = DatumGetInt32(arg) % GW_MAX_WORKERS;
	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* Every name the worker uses is schema-qualified; nothing resolves
	 * through a search_path a database owner could set or fill. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	gw_token = (int64) GetCurrentTimestamp() * GW_MAX_WORKERS + gw_slot;
	if (!gw_shmem_register_worker(gw_db, gw_slot, gw_token))
	{
		/* the launcher that started it is gone, its place taken */
		elog(LOG, "gateway worker %d: its place is taken; exiting", gw_slot);
		proc_exit(0);
	}
	before_shmem_exit(gw_worker_exit, (Datum) 0);

	gw_worker_cxt = AllocSetContextCreate(TopMemoryContext, "gateway worker",
										  ALLOCSET_DEFAULT_SIZES);
	gw_results_cxt = AllocSetContextCreate(gw_worker_cxt, "gateway results",
										   ALLOCSET_DEFAULT_SIZES);
	gw_pool = gw_http_pool_create(Max(gw_max_in_flight, 1));

	for (;;)
	{
		TimestampTz now;
		int			rate_wait;
		int			auth_wait;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!gw_check_installed())
		{
			/* wait for ALTER EXTENSION gateway UPDATE */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		gw_pause_refresh();
		if (gw_paused)
			gw_backlog_end();

		now = GetCurrentTimestamp();
		if (now >= next_maintenance)
		{
			bool		behind;

			if (gw_slot == 0)
				gw_adopt_orphans();
			gw_recover();
			if (gw_slot == 0)
				gw_rollup_tick(now, &next_rollup, &rollup_final_day);
			behind = gw_purge();
			if (gw_purge_inbound())
				behind = true;
			/*
			 * Rows leased in the last second before a crash are left for the
			 * second pass, which comes soon after start; a purge that is
			 * behind comes back within a second.
			 */
			next_maintenance = TimestampTzPlusMilliseconds(now,
														   (maintenance_runs++ == 0 || behind) ? 1000 : 5000);
			want_claim = true;
		}

		/* claim while there is room and rows may be due */
		while (want_claim && !gw_paused)
		{
			int			room = gw_http_pool_free_slots(gw_pool) - gw_nwaiting - gw_nparked;
			int			n = Min(room, gw_batch_size);
			int			got;
			int			held;
			int			circuit = 0;

			if (n <= 0)
				break;
			held = gw_nwaiting + gw_nparked;
			got = gw_claim(n, &circuit);
			gw_note_claim(n, got - circuit, held);
			if (got > 0)
				idle_since = 0;
			want_claim = (got == n);
			(void) gw_auth_run();
			rate_wait = gw_start();
			gw_http_pool_run(gw_pool, 0);
		}
		auth_wait = gw_auth_run();
		rate_wait = gw_start();
		if (auth_wait > 0)
			rate_wait = (rate_wait == 0) ? auth_wait : Min(rate_wait, auth_wait);
		gw_http_pool_run(gw_pool, 0);
		gw_collect();

		/* record outcomes in batches, or at once when nothing else is going on */
		if (gw_res.n > 0 &&
			(gw_res.n >= gw_batch_size || gw_http_pool_in_flight(gw_pool) == 0 ||
			 TimestampDifferenceExceeds(gw_res.first, GetCurrentTimestamp(), 20)))
		{
			gw_flush();
			want_claim = true;
		}

		if (MyLatch->is_set)
		{
			ResetLatch(MyLatch);
			want_claim = true;
		}
		if (gw_http_pool_in_flight(gw_pool) > 0)
		{
			/* wait for sockets briefly; a new row sets our latch meanwhile */
			gw_http_pool_run(gw_pool, rate_wait > 0 ? Min(rate_wait, 5) : 5);
			gw_collect();
			continue;
		}
		if (gw_res.n > 0 || (want_claim && !gw_paused))
			continue;

		{
			long		timeout;

			if (gw_nwaiting > 0 || gw_nparked > 0)
				timeout = Max(rate_wait, 1);
			else if (gw_paused)
				timeout = 1000; /* a reload or a wake-up ends it sooner */
			else
				timeout = gw_next_due_ms(1000);
			/* idle (or paused): no backlog; a burst worker idle for
			 * GW_BURST_IDLE_MS leaves (not at once: a load just above one
			 * worker's would start one every second) */
			gw_backlog_end();
			if (timeout > 0 && gw_nwaiting == 0 && gw_nparked == 0 &&
				gw_slot >= gw_workers_for(gw_dbname))
			{
				TimestampTz t = GetCurrentTimestamp();

				if (idle_since == 0)
					idle_since = t;
				if (TimestampDifferenceExceeds(idle_since, t, GW_BURST_IDLE_MS))
				{
					elog(DEBUG1, "gateway worker %d for database \"%s\": the backlog is gone; leaving",
						 gw_slot, gw_dbname);
					proc_exit(0);
				}
				timeout = Min(timeout, GW_BURST_IDLE_MS);
			}
			if (timeout > 0)
			{
				pgstat_report_activity(STATE_IDLE, NULL);
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 timeout, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
			}
			want_claim = (gw_nwaiting == 0);
		}
	}
}
