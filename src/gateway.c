/*
 * gateway.c: module initialization and settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "callback.h"
#include "circuit.h"
#include "credfile.h"
#include "http.h"
#include "launcher.h"
#include "monitor.h"
#include "listener.h"
#include "pause.h"
#include "shmem.h"
#include "stats.h"
#include "rollup.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * The outbox workers, the listener, the payment journal and settings only
	 * start-up may create need the postmaster: refuse politely.
	 */
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gateway can only be loaded via shared_preload_libraries"),
				 errhint("Add gateway to shared_preload_libraries in postgresql.conf and restart the server.")));
	DefineCustomIntVariable("gateway.connect_timeout",
							gettext_noop("Time allowed to connect to a provider."),
							NULL,
							&gw_connect_timeout_ms,
							5000, 1, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.request_timeout",
							gettext_noop("Time allowed for a whole request to a provider, connection included."),
							NULL,
							&gw_request_timeout_ms,
							30000, 1, 3600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.max_response_size",
							gettext_noop("Largest answer accepted from a provider."),
							NULL,
							&gw_max_response_kb,
							1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("gateway.tls_verify",
							 gettext_noop("Verify providers' TLS certificates and host names."),
							 NULL,
							 &gw_tls_verify,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.ca_file",
							   gettext_noop("File of CA certificates to verify providers with; empty: the system's."),
							   NULL,
							   &gw_ca_file,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("gateway.allowed_hosts",
							   gettext_noop("Hosts (names or addresses, no ports, comma-separated) accounts may send requests to."),
							   NULL,
							   &gw_allowed_hosts,
							   GW_DEFAULT_ALLOWED_HOSTS,
							   PGC_SUSET, GUC_LIST_INPUT,
							   gw_allowed_hosts_check, NULL, NULL);
	DefineCustomBoolVariable("gateway.allow_http",
							 gettext_noop("Allow plain http:// requests to providers (credentials then travel in clear)."),
							 NULL,
							 &gw_allow_http,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	/*
	 * The launcher and the outbox workers: only when loaded by
	 * shared_preload_libraries.  gateway.database is deprecated: every
	 * database with the extension is served; it only names the database of
	 * callback URLs without one, and of payment journal entries from before
	 * 0.3.0.
	 */
	DefineCustomStringVariable("gateway.database",
							   gettext_noop("Deprecated: the database of callback URLs that name none."),
							   NULL,
							   &gw_worker_database,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.workers",
							gettext_noop("Number of outbox workers of each database with the extension."),
							NULL,
							&gw_worker_count,
							1, 0, GW_MAX_WORKERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.burst_workers",
							gettext_noop("Outbox workers a database gets beyond its count while its backlog outgrows them."),
							gettext_noop("Started as worker slots are free; each leaves after 3 s with nothing to send."),
							&gw_burst_workers,
							1, 0, GW_MAX_WORKERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.database_workers",
							   gettext_noop("Worker counts of given databases, as database:count items separated by commas."),
							   NULL,
							   &gw_database_workers,
							   "",
							   PGC_SIGHUP, 0,
							   gw_database_workers_check, NULL, NULL);
	DefineCustomBoolVariable("gateway.paused",
							 gettext_noop("Stops every outbox worker: no new request leaves; requests in flight finish."),
							 gettext_noop("Synchronous calls are not stopped; gw_account_pause stops one account's."),
							 &gw_paused,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.max_in_flight",
							gettext_noop("Requests each worker keeps in flight at once."),
							NULL,
							&gw_max_in_flight,
							64, 1, 1024,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.batch_size",
							gettext_noop("Rows a worker claims, and results it records, in one transaction."),
							NULL,
							&gw_batch_size,
							200, 1, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.max_attempts",
							gettext_noop("Attempts before a message that keeps failing is dead."),
							NULL,
							&gw_max_attempts,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.retry_base",
							gettext_noop("Delay before the first retry; doubled for each further one, with jitter."),
							NULL,
							&gw_retry_base_ms,
							1000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.retry_max",
							gettext_noop("Longest delay between retries."),
							NULL,
							&gw_retry_max_ms,
							300000, 1, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.keep_finished",
							gettext_noop("How long finished outbox rows are kept; -1 keeps them forever."),
							NULL,
							&gw_keep_finished_s,
							7 * 24 * 3600, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.keep_daily",
							gettext_noop("How many days of daily figures (gateway.daily) are kept; -1 keeps them forever."),
							NULL,
							&gw_keep_daily_d,
							400, -1, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.keep_inbound",
							gettext_noop("How long received callbacks (gateway.inbound) are kept; -1 keeps them forever."),
							NULL,
							&gw_keep_inbound_s,
							90 * 24 * 3600, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* The callback listener: only when loaded by shared_preload_libraries. */
	DefineCustomStringVariable("gateway.listen_address",
							   gettext_noop("Address (host:port) the callback listener serves; empty: no listener."),
							   NULL,
							   &gw_listen_address,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.listen_role",
							   gettext_noop("Role the listener runs callback handlers as; never a superuser."),
							   NULL,
							   &gw_listen_role,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listen_max_body",
							gettext_noop("Largest callback body the listener accepts."),
							NULL,
							&gw_listen_max_body,
							64 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listen_max_connections",
							gettext_noop("Connections each callback listener process keeps open at once."),
							NULL,
							&gw_listen_max_connections,
							1000, 1, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listeners",
							gettext_noop("Callback listener processes of each database with the extension."),
							gettext_noop("The front hands connections to them in turn; each takes a background worker slot."),
							&gw_listen_processes,
							1, 1, GW_MAX_LISTENERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listen_timeout",
							gettext_noop("Idle time after which the listener closes a connection."),
							NULL,
							&gw_listen_timeout_s,
							10, 1, 3600,
							PGC_POSTMASTER, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.callback_lock_timeout",
							gettext_noop("Longest wait of the listener for a row lock; the callback is then answered 503."),
							NULL,
							&gw_callback_lock_timeout_ms,
							100, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.callback_statement_timeout",
							gettext_noop("Time the listener gives one batch of callbacks; what is left then is answered 503."),
							NULL,
							&gw_callback_statement_timeout_ms,
							500, 1, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listen_max_per_client",
							gettext_noop("Connections one client address may keep open to a database's callback listeners at once; 0: no limit."),
							NULL,
							&gw_listen_max_per_client,
							100, 0, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.listen_request_timeout",
							gettext_noop("Time a callback request may take to arrive whole, however busy its client keeps the connection."),
							NULL,
							&gw_listen_request_timeout_s,
							30, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.credential_dir",
							   gettext_noop("Directory whose files credentials may name as \"<field>_file\"; empty: none."),
							   NULL,
							   &gw_credential_dir,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.callback_base_url",
							   gettext_noop("Scheme, host and path prefix providers reach the listener by; empty: http://<listen_address>."),
							   NULL,
							   &gw_callback_base_url,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("gateway.monitor_token",
							   gettext_noop("Token that opens the listener's GET /metrics and /<database>/status; empty: none."),
							   NULL,
							   &gw_monitor_token,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.monitor_hosts",
							   gettext_noop("Client addresses (comma-separated) that may read the listener's GET /metrics and /<database>/status without the token."),
							   NULL,
							   &gw_monitor_hosts,
							   "",
							   PGC_SIGHUP, GUC_LIST_INPUT,
							   gw_monitor_hosts_check, NULL, NULL);
	gw_circuit_init();
	gw_stats_init();

	MarkGUCPrefixReserved("gateway");

	if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade)
		return;
	gw_shmem_init();
	gw_launcher_init();
	if (gw_listen_address[0] != '\0')
		gw_front_register();
}
