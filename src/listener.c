/*
 * listener.c: the callback listener, a background worker serving HTTP.
 *
 * Providers POST delivery reports, payment results, subscriptions, incoming
 * SMS and USSD sessions to /<account>/<kind>?token=<account's token>.  The
 * listener checks the token, then hands the body to gateway.ingest_text as
 * gateway.listen_role.  The requests one MHD_run() completes are applied
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
 * Two workers: a launcher connected to no database waits, quietly, until
 * gateway.database exists, then starts the listener proper as a dynamic
 * worker and starts it again whenever it stops.
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
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
#include "utils/timeout.h"

#include "account.h"
#include "callback.h"
#include "compat.h"
#include "jsonutil.h"
#include "listener.h"
#include "util.h"
#include "worker.h"

char	   *gw_listen_role = NULL;
int			gw_listen_max_body = 64 * 1024;
int			gw_listen_max_connections = 1000;
int			gw_listen_timeout_s = 10;

/* A USSD session must be answered within the provider's second. */
#define GW_USSD_TIMEOUT_MS 900

PGDLLEXPORT void gw_listener_launcher_main(Datum arg);
PGDLLEXPORT void gw_listener_main(Datum arg);

/* The answer to one request. */
typedef struct GwAnswer
{
	int			status;
	const char *content_type;
	char	   *body;
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
	char	   *token;
	bool		answered;
	GwAnswer	answer;
	struct GwListenReq *next;
} GwListenReq;

/*
 * Callbacks applied in one transaction: one commit (one WAL flush) carries
 * many of them; each runs in a subtransaction of its own, so one callback's
 * ERROR is its answer alone.
 */
#define GW_LISTEN_BATCH_MAX 64

static MemoryContext gw_listen_cxt;
static SPIPlanPtr gw_ingest_plan = NULL;
static GwListenReq *gw_pending = NULL;
static GwListenReq **gw_pending_tail = &gw_pending;

void
gw_listener_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "gateway");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "gw_listener_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway listener launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "gateway listener launcher");
	RegisterBackgroundWorker(&bgw);
}

/* Sleep on the latch; take a reload on the way. */
static void
gw_listen_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Whether the database exists: a plain scan, as no database is selected. */
static bool
gw_database_exists(const char *name)
{
	bool		found = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!found && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
		found = (strcmp(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname), name) == 0);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return found;
}

/* The launcher: start the listener once the database exists, and again. */
void
gw_listener_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		BackgroundWorker bgw;
		BackgroundWorkerHandle *handle;
		pid_t		pid;

		if (!gw_database_exists(gw_worker_database))
		{
			gw_listen_sleep(1000);
			continue;
		}
		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
		bgw.bgw_restart_time = BGW_NEVER_RESTART;
		snprintf(bgw.bgw_library_name, BGW_MAXLEN, "gateway");
		snprintf(bgw.bgw_function_name, BGW_MAXLEN, "gw_listener_main");
		snprintf(bgw.bgw_name, BGW_MAXLEN, "gateway listener");
		snprintf(bgw.bgw_type, BGW_MAXLEN, "gateway listener");
		bgw.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		{
			ereport(LOG,
					(errmsg("gateway listener launcher could not start the listener"),
					 errhint("Raise max_worker_processes.")));
			gw_listen_sleep(5000);
			continue;
		}
		if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
			(void) WaitForBackgroundWorkerShutdown(handle);
		pfree(handle);
		/* it stopped: give whatever stopped it a moment */
		gw_listen_sleep(2000);
	}
}

/*
 * Wait until the extension is installed and gateway.listen_role is a role
 * that is not a superuser.  A superuser is refused with an ERROR in the log,
 * once per setting; the other waits are quiet.
 */
static void
gw_listener_wait_ready(void)
{
	char	   *refused = NULL;

	for (;;)
	{
		bool		installed;
		Oid			role = InvalidOid;
		bool		super = false;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		installed = OidIsValid(get_namespace_oid("gateway", true));
		if (gw_listen_role && gw_listen_role[0])
			role = get_role_oid(gw_listen_role, true);
		if (OidIsValid(role))
			super = superuser_arg(role);
		CommitTransactionCommand();

		if (installed && OidIsValid(role) && !super)
			return;
		if (super && (refused == NULL || strcmp(refused, gw_listen_role) != 0))
		{
			/* an ERROR in the log, but the worker stays to take a reload */
			PG_TRY();
			{
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("gateway.listen_role \"%s\" is a superuser: the listener does not start",
								gw_listen_role),
						 errhint("Name a role without superuser that may execute gateway.ingest_text, and reload.")));
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			refused = MemoryContextStrdup(TopMemoryContext, gw_listen_role);
		}
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
gw_answer_from_error(GwAnswer *a, ErrorData *e, bool ingesting, bool *drop_plan)
{
	if (!ingesting && e->sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		gw_answer_set(a, MHD_HTTP_FORBIDDEN, "forbidden");
	else if (e->sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
		gw_answer_set(a, MHD_HTTP_NOT_FOUND, "not found");
	else if (ingesting && ERRCODE_TO_CATEGORY(e->sqlerrcode) == ERRCODE_DATA_EXCEPTION)
		gw_answer_set(a, MHD_HTTP_BAD_REQUEST, "bad request");
	else
	{
		if (e->sqlerrcode == ERRCODE_QUERY_CANCELED)
			gw_answer_set(a, MHD_HTTP_SERVICE_UNAVAILABLE, "timed out");
		else
			gw_answer_set(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
		/* the plan may be what failed (the extension was dropped) */
		*drop_plan = true;
	}
}

/*
 * Check one request's token and ingest its body as gateway.listen_role, in a
 * subtransaction; its answer in its own memory context.
 */
static void
gw_listen_item(GwListenReq *r, Oid role, bool *drop_plan)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ingesting = false;
	volatile bool ussd = (strcmp(r->kind, "ussd") == 0);
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		const GwAccount *acc;
		Datum		args[3];
		bool		isnull;
		Datum		d;
		int			rc;

		acc = gw_account_get(r->account);
		if (r->token == NULL || acc->callback_token == NULL ||
			!gw_token_equal(r->token, acc->callback_token))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("wrong callback token")));

		args[0] = CStringGetTextDatum(r->account);
		args[1] = CStringGetTextDatum(r->kind);
		args[2] = PointerGetDatum(cstring_to_text_with_len(r->body.data, r->body.len));

		/* the handlers run as gateway.listen_role */
		ingesting = true;
		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (ussd)
			enable_timeout_after(STATEMENT_TIMEOUT, GW_USSD_TIMEOUT_MS);
		rc = SPI_execute_plan(gw_ingest_plan, args, NULL, false, 1);
		if (ussd)
			disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec);
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

		if (ussd)
			disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec);
		MemoryContextSwitchTo(r->cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		gw_answer_from_error(&r->answer, e, ingesting, drop_plan);
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
 * Ingest a list of requests in one transaction.  Every request is answered:
 * with what its own ingest gave when the transaction commits, with 500 (the
 * provider sends it again) when the commit or the batch itself fails.
 */
static void
gw_listen_batch(GwListenReq *list)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		drop_plan = false;

	for (GwListenReq *r = list; r; r = r->next)
		r->answered = false;
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

		role = get_role_oid(gw_listen_role, true);
		if (!OidIsValid(role) || superuser_arg(role))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("gateway.listen_role \"%s\" does not exist or is a superuser", gw_listen_role)));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (gw_ingest_plan == NULL)
			gw_ingest_plan = gw_saved_plan("SELECT gateway.ingest_text($1, $2, $3)",
										   3, (Oid[]) {TEXTOID, TEXTOID, TEXTOID});
		for (GwListenReq *r = list; r; r = r->next)
			gw_listen_item(r, role, &drop_plan);
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
		if (!dropped)
			ereport(LOG,
					(errmsg("gateway listener: a batch of callbacks failed: %s", e->message)));
		FreeErrorData(e);
		/* nothing was kept: every request of the batch is to be sent again */
		for (GwListenReq *r = list; r; r = r->next)
		{
			MemoryContextSwitchTo(r->cxt);
			if (dropped)
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
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	ret = MHD_queue_response(conn, a->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* libmicrohttpd's request handler: called for headers, body parts, end. */
static enum MHD_Result
gw_listen_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	GwListenReq *r = *con_cls;
	GwAnswer	a;
	const char *slash;
	MemoryContext old;
	enum MHD_Result ret;

	if (r == NULL)
	{
		MemoryContext cxt;
		const char *len;

		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		{
			gw_answer_set(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
			return gw_listen_reply(conn, &a);
		}
		len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoll(len, NULL, 10) > gw_listen_max_body)
		{
			gw_answer_set(&a, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
			return gw_listen_reply(conn, &a);
		}
		cxt = AllocSetContextCreate(gw_listen_cxt, "gateway listener request",
									ALLOCSET_SMALL_SIZES);
		r = MemoryContextAllocZero(cxt, sizeof(GwListenReq));
		r->cxt = cxt;
		old = MemoryContextSwitchTo(cxt);
		initStringInfo(&r->body);
		MemoryContextSwitchTo(old);
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
	old = MemoryContextSwitchTo(r->cxt);
	slash = (url[0] == '/') ? strchr(url + 1, '/') : NULL;
	if (r->too_big)
		gw_answer_set(&a, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
	else if (slash == NULL || !gw_name_ok(url + 1, slash - url - 1) ||
			 !gw_callback_kind_valid(slash + 1))
		gw_answer_set(&a, MHD_HTTP_NOT_FOUND, "not found");
	else if (memchr(r->body.data, '\0', r->body.len) != NULL ||
			 !pg_verifymbstr(r->body.data, r->body.len, true))
		gw_answer_set(&a, MHD_HTTP_BAD_REQUEST, "bad request");
	else
	{
		const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");

		r->conn = conn;
		r->account = pnstrdup(url + 1, slash - url - 1);
		r->kind = pstrdup(slash + 1);
		r->token = token ? pstrdup(token) : NULL;
		MemoryContextSwitchTo(old);
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
	ret = gw_listen_reply(conn, &a);
	MemoryContextSwitchTo(old);
	return ret;
}

static void
gw_listen_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
					enum MHD_RequestTerminationCode toe)
{
	GwListenReq *r = *con_cls;

	if (r)
		MemoryContextDelete(r->cxt);
	*con_cls = NULL;
}

/* Start libmicrohttpd on gateway.listen_address, without threads. */
static struct MHD_Daemon *
gw_listen_start(void)
{
	char	   *addr = pstrdup(gw_listen_address);
	char	   *colon = strrchr(addr, ':');
	char	   *host = addr;
	struct addrinfo hints;
	struct addrinfo *ai;
	struct MHD_Daemon *d;
	int			rc;

	if (colon == NULL || colon[1] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid gateway.listen_address \"%s\"", gw_listen_address),
				 errhint("Use host:port, e.g. 127.0.0.1:8787, or [::1]:8787.")));
	*colon = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']')
	{
		host[strlen(host) - 1] = '\0';
		host++;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid gateway.listen_address \"%s\": %s", gw_listen_address, gai_strerror(rc))));

	d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
						 (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
						 0, NULL, NULL, gw_listen_access, NULL,
						 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) gw_listen_max_connections,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) gw_listen_timeout_s,
						 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) 1024,
						 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
						 MHD_OPTION_NOTIFY_COMPLETED, gw_listen_completed, NULL,
						 MHD_OPTION_END);
	freeaddrinfo(ai);
	if (d == NULL)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("gateway listener could not listen on \"%s\": %m", gw_listen_address)));
	return d;
}

/* The listener proper. */
void
gw_listener_main(Datum arg)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	WaitEventSet *wes;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(gw_worker_database, NULL, 0);

	gw_listen_cxt = AllocSetContextCreate(TopMemoryContext, "gateway listener",
										  ALLOCSET_DEFAULT_SIZES);
	pgstat_report_activity(STATE_IDLE, "gateway listener: waiting for the extension and gateway.listen_role");
	gw_listener_wait_ready();

	d = gw_listen_start();
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		elog(ERROR, "libmicrohttpd gave no epoll descriptor");
	wes = gw_wait_event_set(3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	ereport(LOG,
			(errmsg("gateway listener on %s for database \"%s\", handlers run as \"%s\"",
					gw_listen_address, gw_worker_database, gw_listen_role)));
	pgstat_report_activity(STATE_IDLE, NULL);
	/* for the answers made before a request has a context of its own */
	loop_cxt = AllocSetContextCreate(gw_listen_cxt, "gateway listener loop",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MHD_UNSIGNED_LONG_LONG mhd_timeout;
		long		timeout = 1000;
		WaitEvent	events[3];

		if (MHD_get_timeout(d, &mhd_timeout) == MHD_YES)
			timeout = (long) Min(mhd_timeout, (MHD_UNSIGNED_LONG_LONG) 1000);
		(void) WaitEventSetWait(wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(loop_cxt);
		MHD_run(d);
		/* what that run completed is applied, then answered by the next */
		while (gw_pending)
		{
			gw_listen_flush();
			MHD_run(d);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
	}
}
