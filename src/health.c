/*
 * health.c: gw_health(), one jsonb object saying whether this database's
 * gateway is working: its workers and listener, and the backlog of each
 * account the caller holds.
 *
 *   {"ok": true,
 *    "workers": {"configured": 2, "live": 2, "last_activity": "..." | null},
 *    "listener": {"configured": true, "up": true, "processes": 2, "live": 2,
 *                 "last_activity": ... | null},
 *    "accounts": [{"account": "a", "queued": 10, "due": 4,
 *                  "oldest_queued_s": 12.5 | null, "paused": ... | null}],
 *    "stats_dropped": 0}
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "account.h"
#include "callback.h"
#include "launcher.h"
#include "listener.h"
#include "rights.h"
#include "shmem.h"
#include "stats.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_health);

static void
gw_health_ts(StringInfo buf, TimestampTz t)
{
	if (t == 0)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, timestamptz_to_str(t));
}

/* The accounts part: one object per account the caller holds. */
static void
gw_health_accounts(StringInfo buf)
{
	bool		sees_all = gw_stat_sees_all();
	Oid			save_userid;
	int			save_sec;
	int			rc;
	bool		first = true;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(
		"SELECT a.name, coalesce(q.queued, 0), coalesce(q.due, 0),"
		"       pg_catalog.round(extract(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) q.oldest), 3),"
		"       coalesce(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->) 'paused',"
		"                pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->) 'paused_at', 'null')::text"
		"  FROM gateway.account a"
		"  LEFT JOIN (SELECT account, pg_catalog.count(*) AS queued,"
		"                    pg_catalog.count(*) FILTER (WHERE next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS due,"
		"                    pg_catalog.min(created_at) AS oldest"
		"               FROM gateway.outbox WHERE status OPERATOR(pg_catalog.=) 'queued'"
		"              GROUP BY account) q ON q.account OPERATOR(pg_catalog.=) a.name"
		" ORDER BY a.name", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the backlog failed: %s", SPI_result_code_string(rc));
	gw_as_owner_end(save_userid, save_sec);

	appendStringInfoChar(buf, '[');
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(t, d, 1);
		char	   *oldest = SPI_getvalue(t, d, 4);

		if (!sees_all && !gw_rights_hold(name, GW_RIGHT_SEND))
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		appendStringInfoString(buf, "{\"account\": ");
		escape_json(buf, name);
		appendStringInfo(buf, ", \"queued\": %s, \"due\": %s, \"oldest_queued_s\": %s, \"paused\": %s}",
						 SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3),
						 oldest ? oldest : "null", SPI_getvalue(t, d, 5));
	}
	appendStringInfoChar(buf, ']');
	SPI_finish();
}

/* gw_health() */
Datum
gw_health(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	GwDbInfo   *dbs = palloc0(sizeof(GwDbInfo) * GW_MAX_DATABASES);
	char	   *dbname = get_database_name(MyDatabaseId);
	int			configured = gw_workers_for(dbname);
	bool		listen = (gw_listen_address != NULL && gw_listen_address[0] != '\0');
	int			live = 0;
	int			own = 0;		/* of them, in the database's own slots */
	int			listeners = 0;
	bool		any_listener = false;
	bool		ok;
	uint64		dropped = 0;

	if (gw_shmem_ready())
	{
		gw_db_snapshot(dbs);
		for (int i = 0; i < GW_MAX_DATABASES; i++)
		{
			if (dbs[i].dboid != MyDatabaseId)
				continue;
			/* (burst workers, in the slots after, count as live only) */
			for (int s = 0; s < GW_MAX_WORKERS; s++)
			{
				live += dbs[i].live[s];
				if (s < configured)
					own += dbs[i].live[s];
			}
			/* (one past a lowered gateway.listeners, leaving, not counted) */
			for (int k = 0; k < gw_listen_processes; k++)
				listeners += dbs[i].listener_live[k];
			for (int k = 0; k < GW_MAX_LISTENERS; k++)
				any_listener |= dbs[i].listener_live[k];
		}
		dropped = gw_stat_dropped();
	}
	else
		configured = 0;			/* not in shared_preload_libraries: none */
	ok = gw_shmem_ready() && own >= configured &&
		(!listen || listeners >= gw_listen_processes);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"ok\": %s, \"workers\": {\"configured\": %d, \"live\": %d, \"last_activity\": ",
					 ok ? "true" : "false", configured, live);
	gw_health_ts(&buf, gw_stat_last(MyDatabaseId, GW_SA_WORKER));
	appendStringInfo(&buf, "}, \"listener\": {\"configured\": %s, \"up\": %s, \"processes\": %d, \"live\": %d, \"last_activity\": ",
					 listen ? "true" : "false", any_listener ? "true" : "false",
					 listen ? gw_listen_processes : 0, listeners);
	gw_health_ts(&buf, gw_stat_last(MyDatabaseId, GW_SA_LISTENER));
	appendStringInfoString(&buf, "}, \"accounts\": ");
	gw_health_accounts(&buf);
	appendStringInfo(&buf, ", \"stats_dropped\": " UINT64_FORMAT "}", dropped);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
