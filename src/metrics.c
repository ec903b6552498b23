/*
 * metrics.c: the counters of every database in Prometheus's text format
 * (version 0.0.4), for the listener's GET /metrics.  Counters end in
 * _total; latencies are a histogram in seconds.  Runs in a transaction (it
 * reads database names).
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "lib/stringinfo.h"

#include "metrics.h"
#include "stats.h"

static const char *const gw_status_labels[6] = {
	"accepted", "delivered", "pending", "failed", "rejected", "unknown"
};
static const char *const gw_cb_labels[GW_CB_COUNT] = {
	"received", "applied", "ignored", "unmatched", "refused"
};

/* A label value: backslash, double quote and newline escaped. */
static void
gw_label(StringInfo buf, const char *name, const char *value, bool first)
{
	if (!first)
		appendStringInfoChar(buf, ',');
	appendStringInfo(buf, "%s=\"", name);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\' || *p == '"')
			appendStringInfoChar(buf, '\\');
		if (*p == '\n')
			appendStringInfoString(buf, "\\n");
		else
			appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

static void
gw_family(StringInfo buf, const char *name, const char *type, const char *help)
{
	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* {database="..",account="..",<name>=".." (the entry's name)  -- unclosed */
static void
gw_labels(StringInfo buf, const GwStatRow *r, const char *dbname, const char *namelabel)
{
	appendStringInfoChar(buf, '{');
	gw_label(buf, "database", dbname, true);
	if (r->kind != GW_STAT_HTTP)
		gw_label(buf, "account", r->account, false);
	gw_label(buf, namelabel, r->name, false);
}

static void
gw_sample(StringInfo buf, const char *metric, const GwStatRow *r, const char *dbname,
		  const char *namelabel, const char *extra, const char *extraval, uint64 v)
{
	appendStringInfoString(buf, metric);
	gw_labels(buf, r, dbname, namelabel);
	if (extra)
		gw_label(buf, extra, extraval, false);
	appendStringInfo(buf, "} " UINT64_FORMAT "\n", v);
}

/* The simple counters of request entries: one family each. */
static const struct
{
	const char *name;
	int			counter;
	const char *help;
}			gw_req_families[] = {
	{"gateway_requests_total", GW_SR_REQUESTS, "Requests completed (sent, or refused before sending)."},
	{"gateway_request_retries_total", GW_SR_RETRIES, "Requests that were a retry of an outbox row (attempt 2 or later)."},
	{"gateway_rate_limit_waits_total", GW_SR_RATE_WAITS, "Outbox requests that waited for their account's rate limit."},
	{"gateway_http_429_total", GW_SR_HTTP_429, "Requests the provider answered with HTTP 429."},
	{"gateway_transport_errors_total", GW_SR_TRANSPORT, "Requests that failed below HTTP (connect, timeout, TLS, I/O)."},
};

void
gw_metrics_text(StringInfo buf)
{
	int			n;
	uint64		dropped;
	GwStatRow  *rows = gw_stat_snapshot(&n, &dropped);
	char	  **names = palloc0(sizeof(char *) * Max(n, 1));
	Oid		   *seen = palloc(sizeof(Oid) * Max(n, 1));
	char	  **seen_name = palloc(sizeof(char *) * Max(n, 1));
	int			nseen = 0;

	/*
	 * Database names, each looked up once (a few databases, many rows); a
	 * dropped database's counters are left out.
	 */
	for (int i = 0; i < n; i++)
	{
		int			j;

		if (!OidIsValid(rows[i].dboid))
		{
			names[i] = "";
			continue;
		}
		for (j = 0; j < nseen && seen[j] != rows[i].dboid; j++)
			;
		if (j == nseen)
		{
			seen[nseen] = rows[i].dboid;
			seen_name[nseen++] = get_database_name(rows[i].dboid);
		}
		names[i] = seen_name[j];
	}

	for (int f = 0; f < lengthof(gw_req_families); f++)
	{
		gw_family(buf, gw_req_families[f].name, "counter", gw_req_families[f].help);
		for (int i = 0; i < n; i++)
			if (rows[i].kind == GW_STAT_REQ && names[i])
				gw_sample(buf, gw_req_families[f].name, &rows[i], names[i], "operation",
						  NULL, NULL, rows[i].c[gw_req_families[f].counter]);
		if (f == 0)
		{
			gw_family(buf, "gateway_request_outcomes_total", "counter",
					  "Completed requests by the status of their result.");
			for (int i = 0; i < n; i++)
				if (rows[i].kind == GW_STAT_REQ && names[i])
					for (int s = 0; s < 6; s++)
						gw_sample(buf, "gateway_request_outcomes_total", &rows[i], names[i],
								  "operation", "status", gw_status_labels[s],
								  rows[i].c[GW_SR_STATUS + s]);
		}
	}

	gw_family(buf, "gateway_request_duration_seconds", "histogram",
			  "Time from sending a request to its answer (or failure).");
	for (int i = 0; i < n; i++)
	{
		uint64		cum = 0;

		if (rows[i].kind != GW_STAT_REQ || names[i] == NULL)
			continue;
		for (int b = 0; b < GW_STAT_NBUCKETS; b++)
		{
			char		le[32];

			cum += rows[i].c[GW_SR_BUCKET + b];
			if (b < GW_STAT_NBUCKETS - 1)
				snprintf(le, sizeof(le), "%g", gw_stat_bucket_ms[b] / 1000.0);
			else
				strlcpy(le, "+Inf", sizeof(le));
			gw_sample(buf, "gateway_request_duration_seconds_bucket", &rows[i], names[i],
					  "operation", "le", le, cum);
		}
		appendStringInfoString(buf, "gateway_request_duration_seconds_sum");
		gw_labels(buf, &rows[i], names[i], "operation");
		appendStringInfo(buf, "} %.6f\n", rows[i].c[GW_SR_SUM_US] / 1000000.0);
		gw_sample(buf, "gateway_request_duration_seconds_count", &rows[i], names[i],
				  "operation", NULL, NULL, cum);
	}

	gw_family(buf, "gateway_callbacks_received_total", "counter",
			  "Callbacks recorded in gateway.inbound.");
	for (int i = 0; i < n; i++)
		if (rows[i].kind == GW_STAT_CB && names[i])
			gw_sample(buf, "gateway_callbacks_received_total", &rows[i], names[i], "kind",
					  NULL, NULL, rows[i].c[GW_CB_RECEIVED]);
	gw_family(buf, "gateway_callbacks_total", "counter",
			  "Callbacks by what came of them (applied, ignored, unmatched, refused).");
	for (int i = 0; i < n; i++)
		if (rows[i].kind == GW_STAT_CB && names[i])
			for (int j = GW_CB_APPLIED; j < GW_CB_COUNT; j++)
				gw_sample(buf, "gateway_callbacks_total", &rows[i], names[i], "kind",
						  "result", gw_cb_labels[j], rows[i].c[j]);

	gw_family(buf, "gateway_listener_answers_total", "counter",
			  "HTTP answers of the listener by status code (database \"\": the front's own).");
	for (int i = 0; i < n; i++)
		if (rows[i].kind == GW_STAT_HTTP && names[i])
			gw_sample(buf, "gateway_listener_answers_total", &rows[i], names[i], "code",
					  NULL, NULL, rows[i].c[0]);

	gw_family(buf, "gateway_stats_dropped_total", "counter",
			  "Events not counted because the counter table (gateway.stats_max entries) was full.");
	appendStringInfo(buf, "gateway_stats_dropped_total " UINT64_FORMAT "\n", dropped);
}
