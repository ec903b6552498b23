/*
 * listener.c: the callback listener, a background worker serving HTTP.
 *
 * Providers POST delivery reports, payment results, subscriptions, incoming
 * SMS and USSD sessions to /<account>/<kind>?token=<account's token>.  The
 * listener checks the token with the request's headers, before reading its
 * body (an unknown account is refused as a wrong token is), then hands the
 * body to gateway.ingest_text as gateway.listen_role.  A client address
 * keeps at most gateway.listen_max_per_client connections to a database's
 * listeners, and a request
 * must arrive whole within gateway.listen_request_timeout, or its
 * connection is shut down.  The requests one MHD_run() completes are applied
 * together, in one transaction with a subtransaction each, and answered
 * after it commits: one WAL flush for many callbacks.  USSD is answered at
 * once, in a transaction of its own.
 *
 * A backend is single-threaded, and palloc, SPI and ereport belong to its one
 * thread: libmicrohttpd runs without threads of its own, in external mode
 * with its epoll descriptor in our WaitEventSet beside the latch, and every
 * callback it makes runs inside our MHD_run().  An ERROR in a request is
 * caught there, before it could unwind through libmicrohttpd's frames.
 *
 * gateway.listeners listeners per database that has the extension, started
 * by the launcher (launcher.c) with the database's workers.  They listen
 * on no port: the front (front.c), the one process that accepts
 * connections on gateway.listen_address, reads a request's first line, and
 * passes the connection to a listener of the database its URL names
 * (/<database>/<account>/<kind>), to each in turn, over a Unix datagram
 * socket of that listener's (SCM_RIGHTS).  libmicrohttpd takes it from
 * there as if it had accepted it.  A URL without a database
 * (/<account>/<kind>, as before 0.3.0) goes to the listeners of
 * gateway.database.  While one listener waits for its batch's commit to
 * reach the disk, another applies the next batch; PostgreSQL's group
 * commit flushes their commits together.  The per-client limit counts a
 * client's connections to all of the database's listeners (clients.c).
 */
#include "postgres.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <microhttpd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "inbound.h"
#include "lib/ilist.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "account.h"
#include "callback.h"
#include "clients.h"
#include "compat.h"
#include "jsonutil.h"
#include "listener.h"
#include "monitor.h"
#include "shmem.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

char	   *gw_listen_role = NULL;
int			gw_listen_max_body = 64 * 1024;
int			gw_listen_max_connections = 1000;
int			gw_listen_timeout_s = 10;
int			gw_callback_lock_timeout_ms = 100;
int			gw_callback_statement_timeout_ms = 500;
int			gw_listen_max_per_client = 100;
int			gw_listen_request_timeout_s = 30;
int			gw_listen_processes = 1;

/* A USSD session must be answered within the provider's second. */
#define GW_USSD_TIMEOUT_MS 900

/*
 * The largest declared body above gateway.listen_max_body that is read (and
 * thrown away) before its 413, so that the client sees the answer.
 */
#define GW_LISTEN_DISCARD_MAX (8 * 1024 * 1024)

PGDLLEXPORT void gw_listener_main(Datum arg);

/* The answer to one request. */
typedef struct GwAnswer
{
	int			status;
	const char *content_type;
	char	   *body;
	const char *allow;			/* the Allow header of a 405 */
} GwAnswer;

/*
 * One request on its way: lives from its headers to its answer.  A complete
 * request waits, its connection suspended, in the pending list until its
 * batch commits; then it is resumed and answered.
 */
typedef struct GwListenReq
{
	MemoryContext cxt;
	StringInfoData body;
	bool		too_big;
	struct MHD_Connection *conn;
	char	   *account;
	char	   *kind;
	bool		answered;
	GwAnswer	answer;
	struct GwListenReq *next;
} GwListenReq;

/*
 * Callbacks applied in one transaction: one commit (one WAL flush) carries
 * many of them.  They are ingested together (gw_listen_together); when that
 * fails, each in a subtransaction of its own, so one callback's ERROR is its
 * answer alone.
 */
#define GW_LISTEN_BATCH_MAX GW_INGEST_MAX

/*
 * One open connection: who it is from, and since when it has been waiting
 * for its current request to be complete (its start, or the end of the
 * request before it).  The list is in that order, oldest first.
 */
typedef struct GwConn
{
	dlist_node	node;
	int			fd;
	GwClientAddr client;
	TimestampTz since;
	bool		cut;			/* past its deadline, shut down */
	bool		counted;		/* in the client's count (clients.c) */
} GwConn;

static MemoryContext gw_listen_cxt;
static dlist_head gw_conns = DLIST_STATIC_INIT(gw_conns);
static int	gw_listen_db = -1;	/* this database's entry in shared memory */
static int	gw_listen_idx = 0;	/* which of the database's listeners */
static char gw_listen_dbname[NAMEDATALEN];
static bool gw_listen_legacy;	/* gateway.database: URLs without a database */
static SPIPlanPtr gw_ingest_plan = NULL;
static GwListenReq *gw_pending = NULL;
static GwListenReq **gw_pending_tail = &gw_pending;

static void gw_listen_auth_end(void);

/* Exit, quietly, once the workers found the extension gone. */
static void
gw_listen_check_served(void)
{
	if (!gw_db_served(gw_listen_db))
	{
		elog(DEBUG1, "gateway listener: the extension is gone; exiting");
		proc_exit(0);
	}
}

/* Sleep on the latch; take a reload on the way. */
static void
gw_listen_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	gw_listen_check_served();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	/* not taking connections yet: past a lowered gateway.listeners, leave */
	if (gw_listen_idx >= gw_listen_processes)
		proc_exit(0);
}

/*
 * The role callback handlers run as: gateway.listen_role, when it names a
 * role that cannot climb: no superuser, no CREATEROLE (which could grant
 * itself other roles), no access to the server's files or programs.
 * InvalidOid otherwise, the reason in *why and *refused set when the role
 * exists but is not fit.  Needs a transaction.
 */
Oid
gw_handler_role(char **why, bool *refused)
{
	Oid			role;
	HeapTuple	tup;
	bool		createrole = false;

	*why = NULL;
	*refused = false;
	if (gw_listen_role == NULL || gw_listen_role[0] == '\0')
	{
		*why = pstrdup("gateway.listen_role is not set");
		return InvalidOid;
	}
	role = get_role_oid(gw_listen_role, true);
	if (!OidIsValid(role))
	{
		*why = psprintf("gateway.listen_role \"%s\" does not exist", gw_listen_role);
		return InvalidOid;
	}
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	if (HeapTupleIsValid(tup))
	{
		createrole = ((Form_pg_authid) GETSTRUCT(tup))->rolcreaterole;
		ReleaseSysCache(tup);
	}
	*refused = true;
	if (superuser_arg(role))
		*why = psprintf("gateway.listen_role \"%s\" is a superuser", gw_listen_role);
	else if (createrole)
		*why = psprintf("gateway.listen_role \"%s\" may create roles", gw_listen_role);
	else if (has_privs_of_role(role, ROLE_PG_EXECUTE_SERVER_PROGRAM) ||
			 has_privs_of_role(role, ROLE_PG_WRITE_SERVER_FILES) ||
			 has_privs_of_role(role, ROLE_PG_READ_SERVER_FILES))
		*why = psprintf("gateway.listen_role \"%s\" may use the server's files or programs", gw_listen_role);
	else
	{
		*refused = false;
		return role;
	}
	return InvalidOid;
}

/*
 * Wait until the extension is installed and gateway.listen_role is fit to
 * run handlers (gw_handler_role).  An unfit role is refused with an ERROR
 * in the log, once per setting; the other waits are quiet.
 */
static void
gw_listener_wait_ready(void)
{
	char	   *refused_role = NULL;

	for (;;)
	{
		bool		installed;
		Oid			role;
		char	   *why;
		bool		refused;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		installed = OidIsValid(get_namespace_oid("gateway", true));
		role = gw_handler_role(&why, &refused);
		if (why)
			why = MemoryContextStrdup(gw_listen_cxt, why);
		CommitTransactionCommand();

		if (installed && OidIsValid(role))
			return;
		if (refused && (refused_role == NULL || strcmp(refused_role, gw_listen_role) != 0))
		{
			/* an ERROR in the log, but the worker stays to take a reload */
			PG_TRY();
			{
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("%s: the listener does not start", why),
						 errhint("Name a role without superuser, CREATEROLE or server file access that may execute gateway.ingest_text, and reload.")));
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			refused_role = MemoryContextStrdup(TopMemoryContext, gw_listen_role);
		}
		if (why)
			pfree(why);
		gw_listen_sleep(1000);
	}
}

/* Equal strings, in a time that does not tell where they differ. */
static bool
gw_token_equal(const char *given, const char *expected)
{
	size_t		glen = strlen(given);
	size_t		elen = strlen(expected);
	unsigned char diff = (glen != elen);

	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char) expected[i] ^ (unsigned char) (i < glen ? given[i] : 0);
	return diff == 0;
}

static bool
gw_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= NAMEDATALEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char) s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static void
gw_answer_set(GwAnswer *a, int status, const char *text)
{
	a->status = status;
	a->content_type = "text/plain; charset=utf-8";
	a->body = psprintf("%s\n", text);
	a->allow = "POST";
}

/*
 * Turn what gateway.ingest_text returned into the HTTP answer (src/inbound.h):
 * "error" set: recorded, but the body cannot be taken; for USSD, "reply" is
 * the answer's text.
 */
static void
gw_answer_from_result(GwAnswer *a, const char *kind, Jsonb *res)
{
	char	   *error = gw_jsonb_get_text(res, "error");
	char	   *reply = gw_jsonb_get_text(res, "reply");

	if (error != NULL)
		gw_answer_set(a, MHD_HTTP_BAD_REQUEST, psprintf("bad request: %s", error));
	else if (strcmp(kind, "ussd") == 0 && reply != NULL)
	{
		a->status = MHD_HTTP_OK;
		a->content_type = "text/plain; charset=utf-8";
		a->body = reply;
	}
	else
	{
		a->status = MHD_HTTP_OK;
		a->content_type = "application/json";
		a->body = JsonbToCString(NULL, &res->root, VARSIZE(res));
	}
}

/* The answer to a request whose ingest raised e. */
static void
gw_answer_from_error(GwAnswer *a, ErrorData *e, bool *drop_plan)
{
	if (e->sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
		gw_answer_set(a, MHD_HTTP_FORBIDDEN, "forbidden");	/* the account went */
	else if (ERRCODE_TO_CATEGORY(e->sqlerrcode) == ERRCODE_DATA_EXCEPTION)
		gw_answer_set(a, MHD_HTTP_BAD_REQUEST, "bad request");
	else if (gw_errcode_transient(e->sqlerrcode))
	{
		/* a lock or statement timeout, a deadlock, ...: send it again */
		gw_answer_set(a, MHD_HTTP_SERVICE_UNAVAILABLE,
					  e->sqlerrcode == ERRCODE_QUERY_CANCELED ? "timed out" : "unavailable");
	}
	else
	{
		gw_answer_set(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
		/* the plan may be what failed (the extension was dropped) */
		*drop_plan = true;
	}
}

/*
 * Ingest one request's body as gateway.listen_role (its token was checked
 * with its headers), in a subtransaction; its answer in its own memory
 * context.
 */
static void
gw_listen_item(GwListenReq *r, Oid role, TimestampTz deadline, bool *drop_plan)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ussd = (strcmp(r->kind, "ussd") == 0);
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Datum		args[3];
		bool		isnull;
		Datum		d;
		int			rc;

		args[0] = CStringGetTextDatum(r->account);
		args[1] = CStringGetTextDatum(r->kind);
		args[2] = PointerGetDatum(cstring_to_text_with_len(r->body.data, r->body.len));

		/* the handlers run as gateway.listen_role */
		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (ussd)
			enable_timeout_after(STATEMENT_TIMEOUT, GW_USSD_TIMEOUT_MS);
		else if (deadline)
		{
			/* the batch's statement timeout: what is left of it */
			if (GetCurrentTimestamp() >= deadline)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("canceling statement due to statement timeout"),
						 errdetail("The batch of callbacks used up gateway.callback_statement_timeout.")));
			enable_timeout_at(STATEMENT_TIMEOUT, deadline);
		}
		rc = SPI_execute_plan(gw_ingest_plan, args, NULL, false, 1);
		if (ussd || deadline)
			disable_timeout(STATEMENT_TIMEOUT, true);
		SetUserIdAndSecContext(save_userid, save_sec);
		/* a timeout that fired after the handler's last check ends this
		 * callback here, not a later one or the listener */
		CHECK_FOR_INTERRUPTS();
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "gateway.ingest_text failed: %s", SPI_result_code_string(rc));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContextSwitchTo(r->cxt);
		if (isnull)
			gw_answer_set(&r->answer, MHD_HTTP_OK, "ok");
		else
			gw_answer_from_result(&r->answer, r->kind, DatumGetJsonbPCopy(d));
		MemoryContextSwitchTo(cxt);
		SPI_freetuptable(SPI_tuptable);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		if (ussd || deadline)
			disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec);
		MemoryContextSwitchTo(r->cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		gw_answer_from_error(&r->answer, e, drop_plan);
		if (r->answer.status >= 500)
			ereport(LOG,
					(errmsg("gateway listener: %s callback for account \"%s\" failed: %s",
							r->kind, r->account, e->message)));
		FreeErrorData(e);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	r->answered = true;
}

/*
 * The batch's callbacks but USSD (each of which has a deadline of its own)
 * ingested together, in one subtransaction, as gateway.listen_role, when it
 * may run gateway.ingest_text: one statement finds their rows, one UPDATE
 * and one INSERT apply and record them (gw_inbound_ingest_many).  An ERROR
 * rolls back only this and leaves them unanswered: gw_listen_item takes
 * them one by one.
 */
static void
gw_listen_together(GwListenReq *list, Oid role, TimestampTz deadline)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	GwCallback	cbs[GW_INGEST_MAX];
	GwListenReq *reqs[GW_INGEST_MAX];
	GwAnswer	answers[GW_INGEST_MAX];
	volatile int n = 0;
	volatile bool done = false;
	Oid			fn;
	Oid			save_userid;
	int			save_sec;

	for (GwListenReq *r = list; r && n < GW_INGEST_MAX; r = r->next)
		if (strcmp(r->kind, "ussd") != 0)
		{
			reqs[n] = r;
			cbs[n] = (GwCallback) {r->account, r->kind, r->body.data, NULL, NULL};
			n++;
		}
	if (n < 2)
		return;
	fn = LookupFuncName(gw_qualified_name_list("gateway.ingest_text"), 3,
						(Oid[]) {TEXTOID, TEXTOID, TEXTOID}, true);
	if (!OidIsValid(fn) || gw_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
		return;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (deadline)
		{
			if (GetCurrentTimestamp() >= deadline)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("canceling statement due to statement timeout")));
			enable_timeout_at(STATEMENT_TIMEOUT, deadline);
		}
		gw_inbound_ingest_many(cbs, n);
		if (deadline)
			disable_timeout(STATEMENT_TIMEOUT, true);
		SetUserIdAndSecContext(save_userid, save_sec);
		CHECK_FOR_INTERRUPTS();
		/* the answers, before the release: nothing may fail after it */
		for (int i = 0; i < n; i++)
		{
			MemoryContextSwitchTo(reqs[i]->cxt);
			gw_answer_from_result(&answers[i], reqs[i]->kind, cbs[i].answer);
		}
		MemoryContextSwitchTo(cxt);
		ReleaseCurrentSubTransaction();
		done = true;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		if (deadline)
			disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec);
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		/* a row locked elsewhere, an ERROR of one callback: each on its own */
		elog(DEBUG1, "gateway listener: %d callbacks applied one at a time: %s", n, e->message);
		FreeErrorData(e);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (done)
		for (int i = 0; i < n; i++)
		{
			reqs[i]->answer = answers[i];
			reqs[i]->answered = true;
		}
}

/*
 * Ingest a list of requests in one transaction.  Every request is answered:
 * with what its own ingest gave when the transaction commits, with 500 (the
 * provider sends it again) when the commit or the batch itself fails.
 */
static void
gw_listen_batch(GwListenReq *list)
{
	MemoryContext cxt;
	bool		drop_plan = false;
	volatile bool transient = false;
	volatile TimestampTz deadline = 0;

	gw_listen_auth_end();
	cxt = CurrentMemoryContext;

	for (GwListenReq *r = list; r; r = r->next)
		r->answered = false;
	/*
	 * No row lock held by an application, and no slow statement, keeps the
	 * listener (and the USSD sessions behind it) waiting longer than these.
	 */
	SetConfigOption("lock_timeout", psprintf("%d", gw_callback_lock_timeout_ms),
					PGC_SUSET, PGC_S_SESSION);
	if (gw_callback_statement_timeout_ms > 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   gw_callback_statement_timeout_ms);
	PG_TRY();
	{
		Oid			role;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "gateway listener: callbacks");

		/* never wait for a DROP EXTENSION (nor deadlock with one): 503 */
		if (!gw_lock_extension(InvalidOid, true))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("extension \"gateway\" is not installed or is being dropped")));
		if (!gw_extension_current())
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"gateway\" is not at the library's version %s", GW_VERSION),
					 errhint("Run ALTER EXTENSION gateway UPDATE in this database.")));

		{
			char	   *why;
			bool		refused;

			role = gw_handler_role(&why, &refused);
			if (!OidIsValid(role))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("%s: callbacks are not taken", why)));
		}
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (gw_ingest_plan == NULL)
			gw_ingest_plan = gw_saved_plan("SELECT gateway.ingest_text($1, $2, $3)",
										   3, (Oid[]) {TEXTOID, TEXTOID, TEXTOID});
		gw_listen_together(list, role, deadline);
		for (GwListenReq *r = list; r; r = r->next)
			if (!r->answered)
				gw_listen_item(r, role, deadline, &drop_plan);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *e;
		bool		dropped;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		dropped = (e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE);
		transient = gw_errcode_transient(e->sqlerrcode);
		if (!dropped)
			ereport(LOG,
					(errmsg("gateway listener: a batch of callbacks failed: %s", e->message)));
		FreeErrorData(e);
		/* nothing was kept: every request of the batch is to be sent again */
		for (GwListenReq *r = list; r; r = r->next)
		{
			MemoryContextSwitchTo(r->cxt);
			if (dropped || transient)
				gw_answer_set(&r->answer, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable");
			else
				gw_answer_set(&r->answer, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
			r->answered = true;
		}
		drop_plan = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (drop_plan && gw_ingest_plan)
	{
		SPI_freeplan(gw_ingest_plan);
		gw_ingest_plan = NULL;
	}
}

/*
 * Apply the pending requests, a batch at a time, and resume their
 * connections: the next MHD_run() sends their answers.
 */
static void
gw_listen_flush(void)
{
	while (gw_pending)
	{
		GwListenReq *batch = gw_pending;
		GwListenReq *last = batch;
		int			n = 1;

		while (last->next && n < GW_LISTEN_BATCH_MAX)
		{
			last = last->next;
			n++;
		}
		gw_pending = last->next;
		if (gw_pending == NULL)
			gw_pending_tail = &gw_pending;
		last->next = NULL;

		gw_listen_batch(batch);
		for (GwListenReq *r = batch, *next; r; r = next)
		{
			next = r->next;
			r->next = NULL;
			MHD_resume_connection(r->conn);
		}
	}
}

static enum MHD_Result
gw_listen_reply(struct MHD_Connection *conn, GwAnswer *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(a->body), a->body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	if (a->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow ? a->allow : "POST");
	if (a->status == MHD_HTTP_MISDIRECTED_REQUEST)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, a->status, resp);
	gw_stat_answer(MyDatabaseId, a->status);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * The token checks of one MHD_run() share one short transaction, started by
 * the first and committed by gw_listen_auth_end() once the run is over, or
 * before anything else in it needs a transaction (a USSD session, a status
 * page): a run that completes many requests' headers pays for one
 * transaction instead of one each.  Each check still takes the
 * invalidations that arrived since the one before (gw_account_get), and an
 * account read again after one is read with a snapshot of its own
 * (account.c), so a token rotated or an account dropped meanwhile is seen
 * by the next check.
 */
static bool gw_auth_open = false;

/* In a PG_CATCH: the run's transaction rolled back; the ERROR, in cxt. */
static ErrorData *
gw_listen_auth_abort(MemoryContext cxt)
{
	ErrorData  *e;

	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	gw_auth_open = false;
	return e;
}

static void
gw_listen_auth_end(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!gw_auth_open)
		return;
	gw_auth_open = false;
	PG_TRY();
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *e = gw_listen_auth_abort(cxt);

		/* the checks it made were answered already: nothing else hangs on it */
		ereport(LOG,
				(errmsg("gateway listener: the token checks' transaction failed to commit: %s",
						e->message)));
		FreeErrorData(e);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/* MHD_run(), and the token checks it made committed */
static void
gw_listen_run(struct MHD_Daemon *d)
{
	MHD_run(d);
	gw_listen_auth_end();
}

/*
 * Whether token opens account, in the run's transaction: 0 when it does,
 * else the HTTP status to answer.  An account that does not exist is
 * refused exactly as a wrong token is, so that names cannot be probed.
 */
static int
gw_listen_authorize(const char *account, const char *token)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile int status = MHD_HTTP_FORBIDDEN;

	PG_TRY();
	{
		const GwAccount *acc;

		if (!gw_auth_open)
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			gw_auth_open = true;
		}
		if (!gw_lock_extension(InvalidOid, true))
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
		else
		{
			acc = gw_account_get(account);
			if (token != NULL && acc->callback_token != NULL &&
				gw_token_equal(token, acc->callback_token))
				status = 0;
		}
	}
	PG_CATCH();
	{
		ErrorData  *e = gw_listen_auth_abort(cxt);

		if (e->sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
			status = MHD_HTTP_FORBIDDEN;
		else
		{
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			ereport(LOG,
					(errmsg("gateway listener: a callback token could not be checked: %s",
							e->message)));
		}
		FreeErrorData(e);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return status;
}

/*
 * A new request, its headers read: everything that can be said before the
 * body, is (method, path, size, token), so a body is read only for a caller
 * that holds the account's token.  NULL with *a set when it is refused.
 */
static GwListenReq *
gw_listen_begin(struct MHD_Connection *conn, const char *url, const char *method,
				GwAnswer *a)
{
	const char *slash = (url[0] == '/') ? strchr(url + 1, '/') : NULL;
	const char *len;
	const char *token;
	char	   *account;
	int			status;
	bool		too_big = false;
	MemoryContext cxt;
	GwListenReq *r;

	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
	{
		gw_answer_set(a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		return NULL;
	}
	if (slash == NULL || !gw_name_ok(url + 1, slash - url - 1) ||
		!gw_callback_kind_valid(slash + 1))
	{
		gw_answer_set(a, MHD_HTTP_NOT_FOUND, "not found");
		return NULL;
	}
	len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && strtoll(len, NULL, 10) > gw_listen_max_body)
	{
		/*
		 * Too large.  A client that waits for 100 Continue, or one that
		 * says it will send more than GW_LISTEN_DISCARD_MAX, is answered
		 * now and its body never read.  Another is sending its body
		 * already: answered before it is all read, the connection would be
		 * closed with bytes unread, and the client's TCP, reset, may lose
		 * the answer.  Its body is read and thrown away (when its token is
		 * right), then answered 413.
		 */
		if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT) != NULL ||
			strtoll(len, NULL, 10) > GW_LISTEN_DISCARD_MAX)
		{
			gw_answer_set(a, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
			return NULL;
		}
		too_big = true;
	}
	/* a body is read (if only to throw it away) for its account's token alone */
	token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	account = pnstrdup(url + 1, slash - url - 1);
	status = gw_listen_authorize(account, token);
	pfree(account);
	if (status == MHD_HTTP_FORBIDDEN)
	{
		gw_answer_set(a, status, "forbidden");
		return NULL;
	}
	if (status != 0)
	{
		gw_answer_set(a, status, "unavailable");
		return NULL;
	}

	cxt = AllocSetContextCreate(gw_listen_cxt, "gateway listener request",
								ALLOCSET_SMALL_SIZES);
	r = MemoryContextAllocZero(cxt, sizeof(GwListenReq));
	r->cxt = cxt;
	r->too_big = too_big;
	r->account = MemoryContextStrdup(cxt, url + 1);
	r->account[slash - url - 1] = '\0';
	r->kind = MemoryContextStrdup(cxt, slash + 1);
	r->body.data = MemoryContextAlloc(cxt, 1024);
	r->body.maxlen = 1024;
	resetStringInfo(&r->body);
	return r;
}

/*
 * The path of a callback URL within this database: /<database>/<account>/<kind>
 * naming this database gives /<account>/<kind>; a URL without a database is
 * this database's when it is gateway.database.  NULL: another database's.
 */
static const char *
gw_listen_local_path(const char *url)
{
	size_t		len = strlen(gw_listen_dbname);
	const char *rest = url + 1 + len;

	if (url[0] == '/' && strncmp(url + 1, gw_listen_dbname, len) == 0 &&
		rest[0] == '/' && strchr(rest + 1, '/') != NULL)
		return rest;
	if (gw_listen_legacy && url[0] == '/' && strchr(url + 1, '/') != NULL &&
		strchr(strchr(url + 1, '/') + 1, '/') == NULL)
		return url;
	return NULL;
}

/*
 * A monitoring route (monitor.h): who asks is checked first, from the
 * headers and the client's address; then only GET is served.
 */
static enum MHD_Result
gw_listen_monitor(struct MHD_Connection *conn, const char *url, const char *method)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
												   MHD_HTTP_HEADER_AUTHORIZATION);
	const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	GwAnswer	a;
	int			status;

	gw_listen_auth_end();		/* the monitor runs between transactions */
	if (auth && pg_strncasecmp(auth, "Bearer ", 7) == 0)
		token = auth + 7;
	status = gw_monitor_access(token, ci ? ci->client_addr : NULL);
	if (status == MHD_HTTP_NOT_FOUND)
		gw_answer_set(&a, status, "not found");
	else if (status != 0)
		gw_answer_set(&a, MHD_HTTP_FORBIDDEN, "forbidden");
	else if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
	{
		gw_answer_set(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		a.allow = "GET";
	}
	else
	{
		a.allow = NULL;
		a.status = gw_monitor_answer(url, &a.content_type, &a.body);
	}
	return gw_listen_reply(conn, &a);
}

/* libmicrohttpd's request handler: called for headers, body parts, end. */
static enum MHD_Result
gw_listen_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	GwListenReq *r = *con_cls;
	GwAnswer	a;
	MemoryContext old;

	/* GET /metrics, GET /<this database>/status */
	if (r == NULL && (strcmp(url, "/metrics") == 0 || gw_monitor_path(url, gw_listen_dbname)))
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		if (ci && ci->socket_context && ((GwConn *) ci->socket_context)->cut)
			return MHD_NO;
		return gw_listen_monitor(conn, url, method);
	}

	/* /<account>/<kind> from here on; a connection the front handed us
	 * may go on with a request for another database */
	url = gw_listen_local_path(url);
	if (url == NULL)
	{
		gw_answer_set(&a, MHD_HTTP_MISDIRECTED_REQUEST, "misdirected request");
		return gw_listen_reply(conn, &a);
	}

	if (r == NULL)
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		/* over its client's limit, or past its deadline: not served */
		if (ci && ci->socket_context && ((GwConn *) ci->socket_context)->cut)
			return MHD_NO;
		r = gw_listen_begin(conn, url, method, &a);
		if (r == NULL)
			return gw_listen_reply(conn, &a);	/* the body is never read */
		*con_cls = r;
		return MHD_YES;
	}

	if (*upload_data_size > 0)
	{
		if (!r->too_big && r->body.len + *upload_data_size > (size_t) gw_listen_max_body)
			r->too_big = true;
		if (!r->too_big)
		{
			old = MemoryContextSwitchTo(r->cxt);
			appendBinaryStringInfo(&r->body, upload_data, *upload_data_size);
			MemoryContextSwitchTo(old);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* resumed: its batch is done */
	if (r->answered)
		return gw_listen_reply(conn, &r->answer);

	/* the whole body is here */
	if (r->too_big)
		gw_answer_set(&a, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
	else if (memchr(r->body.data, '\0', r->body.len) != NULL ||
			 !pg_verifymbstr(r->body.data, r->body.len, true))
		gw_answer_set(&a, MHD_HTTP_BAD_REQUEST, "bad request");
	else
	{
		r->conn = conn;
		if (strcmp(r->kind, "ussd") == 0)
		{
			/* a phone is waiting: answered at once, in a batch of its own */
			gw_listen_batch(r);
			return gw_listen_reply(conn, &r->answer);
		}
		*gw_pending_tail = r;
		gw_pending_tail = &r->next;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return gw_listen_reply(conn, &a);
}

static void
gw_listen_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
					enum MHD_RequestTerminationCode toe)
{
	GwListenReq *r = *con_cls;
	const union MHD_ConnectionInfo *ci;

	if (r)
		MemoryContextDelete(r->cxt);
	*con_cls = NULL;
	/* the connection's next request has its own deadline */
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context)
	{
		GwConn	   *c = ci->socket_context;

		c->since = GetCurrentTimestamp();
		dlist_move_tail(&gw_conns, &c->node);
	}
}

static void
gw_client_addr(const struct sockaddr *sa, GwClientAddr *k)
{
	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
	{
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
	}
	else if (sa->sa_family == AF_INET6)
		memcpy(k->addr, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
}

/* A connection cut or closed no longer counts for its client. */
static void
gw_conn_uncount(GwConn *c)
{
	if (c->counted)
		gw_clients_release(MyDatabaseId, gw_listen_idx, &c->client);
	c->counted = false;
}

/*
 * Keep the list of open connections.  A connection from a client that has
 * gateway.listen_max_per_client open to this database's listeners already
 * is shut down at once.
 */
static void
gw_listen_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
				 enum MHD_ConnectionNotificationCode toe)
{
	GwConn	   *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *ci;

		c = MemoryContextAllocExtended(gw_listen_cxt, sizeof(GwConn),
									   MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (c == NULL)
		{
			/* no memory to keep it: it does not stay */
			if (ci)
				(void) shutdown(ci->connect_fd, SHUT_RDWR);
			return;
		}
		c->fd = ci ? ci->connect_fd : -1;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		gw_client_addr(ci ? ci->client_addr : NULL, &c->client);
		c->since = GetCurrentTimestamp();
		if (!gw_clients_take(MyDatabaseId, gw_listen_idx, &c->client,
							 gw_listen_max_per_client, &c->counted))
		{
			if (c->fd >= 0)
				(void) shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
		}
		dlist_push_tail(&gw_conns, &c->node);
		*socket_context = c;
	}
	else if (c != NULL)
	{
		gw_conn_uncount(c);
		dlist_delete(&c->node);
		pfree(c);
		*socket_context = NULL;
	}
}

/*
 * Shut down the connections whose request is not complete within
 * gateway.listen_request_timeout (libmicrohttpd then closes them); the ms
 * until the next deadline, or -1.
 */
static long
gw_listen_deadlines(void)
{
	TimestampTz now = GetCurrentTimestamp();
	dlist_iter	it;

	dlist_foreach(it, &gw_conns)
	{
		GwConn	   *c = dlist_container(GwConn, node, it.cur);
		TimestampTz deadline;

		if (c->cut)
			continue;
		deadline = TimestampTzPlusMilliseconds(c->since, (int64) gw_listen_request_timeout_s * 1000);
		if (deadline > now)
			return (long) ((deadline - now) / 1000) + 1;	/* the rest are younger */
		if (c->fd >= 0)
			(void) shutdown(c->fd, SHUT_RDWR);
		gw_conn_uncount(c);
		c->cut = true;
	}
	return -1;
}

/*
 * The address listener idx of a database takes connections on from the
 * front: a Unix datagram socket in the abstract namespace, named after the
 * postmaster, the database and the listener.
 */
void
gw_listen_socket_addr(Oid dboid, int idx, struct sockaddr_un *sa, socklen_t *len)
{
	int			n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "gateway-listener-%d-%u-%d",
				 (int) PostmasterPid, dboid, idx);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* The socket the front hands connections to, non-blocking. */
static int
gw_listen_socket(void)
{
	struct sockaddr_un sa;
	socklen_t	len;
	int			fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int			on = 1;

	gw_listen_socket_addr(MyDatabaseId, gw_listen_idx, &sa, &len);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0 ||
		bind(fd, (struct sockaddr *) &sa, len) != 0)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("gateway listener could not create its socket: %m")));
	return fd;
}

/*
 * Take the connections the front handed over: each message carries one
 * descriptor and the client's address, and must come from a process of our
 * own user.
 */
static void
gw_listen_take(int sock, struct MHD_Daemon *d)
{
	for (;;)
	{
		struct sockaddr_storage addr;
		struct msghdr msg;
		struct iovec iov;
		union
		{
			char		buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		}			ctl;
		struct cmsghdr *c;
		int			fd = -1;
		bool		ours = false;
		ssize_t		n;

		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &addr;
		iov.iov_len = sizeof(addr);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0)
			return;				/* EAGAIN: no more */
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		{
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
				c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
			else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			{
				struct ucred cred;

				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				ours = (cred.uid == geteuid());
			}
		}
		if (fd < 0)
			continue;
		if (!ours || (msg.msg_flags & MSG_CTRUNC) || n < (ssize_t) sizeof(sa_family_t) ||
			MHD_add_connection(d, fd, (struct sockaddr *) &addr, (socklen_t) n) != MHD_YES)
			close(fd);
	}
}

/* Start libmicrohttpd without threads and without a socket of its own:
 * its connections come from the front. */
static struct MHD_Daemon *
gw_listen_start(void)
{
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_USE_TURBO |
						 MHD_ALLOW_SUSPEND_RESUME,
						 0, NULL, NULL, gw_listen_access, NULL,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) gw_listen_max_connections,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) gw_listen_timeout_s,
						 MHD_OPTION_NOTIFY_COMPLETED, gw_listen_completed, NULL,
						 MHD_OPTION_NOTIFY_CONNECTION, gw_listen_notify, NULL,
						 MHD_OPTION_END);
	if (d == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("gateway listener could not start libmicrohttpd")));
	return d;
}

/*
 * The extension is gone, or gateway.listeners was lowered below us: leave,
 * quietly, without dropping a connection the front handed over.  The front
 * hands no more once we are unregistered; what it handed before is taken
 * and answered (503 while the extension is gone), for a second at most.
 */
static void
gw_listen_leave(struct MHD_Daemon *d, int sock, const char *why)
{
	TimestampTz start;

	(void) gw_db_set_listener(gw_listen_db, gw_listen_idx, NULL);
	pg_usleep(50 * 1000L);
	start = GetCurrentTimestamp();
	for (;;)
	{
		const union MHD_DaemonInfo *info;

		gw_listen_take(sock, d);
		gw_listen_run(d);
		while (gw_pending)
		{
			gw_listen_flush();
			gw_listen_run(d);
		}
		info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info == NULL || info->num_connections == 0 ||
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), 1000))
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	elog(DEBUG1, "gateway listener %d: %s; exiting", gw_listen_idx + 1, why);
	proc_exit(0);
}

/*
 * The rows the batches read and wrote, counted in pg_stat_user_tables
 * (autovacuum decides from those counts).  PostgreSQL sends a backend's
 * counts at most once a second, timed by its last commit, and a backend
 * that goes idle with some unsent flushes them by a timer; here, counts
 * left unsent for a second are sent on the next wake-up (at least one a
 * second).  Only outside a transaction: the loop's top, after the wait.
 */
static void
gw_listen_report_stats(void)
{
	static TimestampTz pending_since = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (pending_since != 0 && TimestampDifferenceExceeds(pending_since, now, 1000))
	{
		pgstat_report_stat(true);
		pending_since = 0;
	}
	else if (pgstat_report_stat(false) > 0)
	{
		if (pending_since == 0)
			pending_since = now;
	}
	else
		pending_since = 0;
}

/* (what we counted first: a listener in our place may start once we are
 * unregistered) */
static void
gw_listener_exit(int code, Datum arg)
{
	gw_clients_forget(MyDatabaseId, gw_listen_idx);
	(void) gw_db_set_listener(gw_listen_db, gw_listen_idx, NULL);
}

/* A database's listener. */
void
gw_listener_main(Datum arg)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	WaitEventSet *wes;
	MemoryContext loop_cxt;
	Oid			dboid;
	int			sock;

	gw_listen_db = DatumGetInt32(arg);
	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	strlcpy(gw_listen_dbname, MyBgworkerEntry->bgw_extra + sizeof(Oid), NAMEDATALEN);
	memcpy(&gw_listen_idx, MyBgworkerEntry->bgw_extra + sizeof(Oid) + NAMEDATALEN, sizeof(int));
	if (gw_listen_idx < 0 || gw_listen_idx >= GW_MAX_LISTENERS)
		elog(ERROR, "gateway listener: no place %d", gw_listen_idx);
	gw_listen_legacy = (strcmp(gw_listen_dbname, gw_worker_database) == 0);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	if (!gw_db_set_listener(gw_listen_db, gw_listen_idx, NULL))
	{
		elog(LOG, "gateway listener: database \"%s\" has a listener %d; exiting",
			 gw_listen_dbname, gw_listen_idx + 1);
		proc_exit(0);
	}

	gw_listen_cxt = AllocSetContextCreate(TopMemoryContext, "gateway listener",
										  ALLOCSET_DEFAULT_SIZES);
	pgstat_report_activity(STATE_IDLE, "gateway listener: waiting for the extension and gateway.listen_role");
	gw_listener_wait_ready();

	d = gw_listen_start();
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		elog(ERROR, "libmicrohttpd gave no epoll descriptor");
	sock = gw_listen_socket();
	wes = gw_wait_event_set(4);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, sock, NULL, NULL);
	/* the front hands us connections from now on; what a listener in our
	 * place counted before is gone with its connections */
	gw_clients_forget(MyDatabaseId, gw_listen_idx);
	if (!gw_db_set_listener(gw_listen_db, gw_listen_idx, gw_listen_dbname))
		proc_exit(0);
	before_shmem_exit(gw_listener_exit, (Datum) 0);
	if (gw_listen_idx == 0)
		ereport(LOG,
				(errmsg("gateway listener for database \"%s\" on %s, handlers run as \"%s\"",
						gw_listen_dbname, gw_listen_address, gw_listen_role)));
	else
		ereport(LOG,
				(errmsg("gateway listener %d for database \"%s\" on %s, handlers run as \"%s\"",
						gw_listen_idx + 1, gw_listen_dbname, gw_listen_address, gw_listen_role)));
	pgstat_report_activity(STATE_IDLE, NULL);
	/* for the answers made before a request has a context of its own */
	loop_cxt = AllocSetContextCreate(gw_listen_cxt, "gateway listener loop",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MHD_UNSIGNED_LONG_LONG mhd_timeout;
		long		timeout = 1000;
		long		deadline;
		WaitEvent	events[4];

		if (MHD_get_timeout(d, &mhd_timeout) == MHD_YES)
			timeout = (long) Min(mhd_timeout, (MHD_UNSIGNED_LONG_LONG) 1000);
		deadline = gw_listen_deadlines();
		if (deadline >= 0)
			timeout = Min(timeout, deadline);
		(void) WaitEventSetWait(wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		gw_listen_report_stats();
		/* between requests there is no statement to cancel: a stray cancel
		 * must not end the listener */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (!gw_db_served(gw_listen_db))
			gw_listen_leave(d, sock, "the extension is gone");
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* (checked each time: a reload may have come while we waited for
		 * the extension, or before we were started) */
		if (gw_listen_idx >= gw_listen_processes)
			gw_listen_leave(d, sock, "gateway.listeners was lowered");
		MemoryContextSwitchTo(loop_cxt);
		gw_listen_take(sock, d);
		gw_listen_run(d);
		/*
		 * What that run completed is applied, then answered by the next.
		 * Connections the front handed over meanwhile are taken between
		 * batches: under a steady load there is always a next batch, and a
		 * USSD session on a new connection would wait for a lull.
		 */
		while (gw_pending)
		{
			gw_listen_flush();
			gw_listen_take(sock, d);
			gw_listen_run(d);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
	}
}
