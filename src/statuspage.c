/*
 * statuspage.c
 *		gateway.status_page(): the status page, one self-contained HTML page
 *
 * Reads gateway.status_hour and gateway.status_minutes (as the caller: a
 * sender sees its own accounts) and writes a page with inline CSS and one
 * inline SVG chart per account; no scripts, no external references.  Every
 * value comes from the views and is HTML-escaped; every figure sits in an
 * element with data-account and data-field attributes for tests and
 * scrapers.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "util.h"

#define GW_CHART_W		600
#define GW_CHART_H		120
#define GW_CHART_BAR	10		/* horizontal room of one minute */
#define GW_STATUS_MAX_ACCOUNTS 200	/* accounts on the page (docs/monitoring.md) */

/* The figures of gateway.status_hour, in the order of the table: column, heading */
static const struct
{
	const char *field;
	const char *label;
}			gw_status_fields[] = {
	{"queued", "queued"},
	{"scheduled", "scheduled"},
	{"in_flight", "in flight"},
	{"sent", "sent"},
	{"delivered", "delivered"},
	{"failed", "failed"},
	{"send_rate", "sent / min"},
	{"delivery_rate", "delivered %"},
};

static const char gw_status_css[] =
	"body{font-family:sans-serif;margin:2em;color:#222;background:#fafafa}"
	"h1{font-size:1.4em}h2{font-size:1.15em;margin:0 0 .5em}"
	"h2 small{color:#777;font-weight:normal}"
	"section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:1em;margin:1em 0}"
	"table{border-collapse:collapse;margin-bottom:.8em}"
	"th,td{border:1px solid #ddd;padding:.3em .7em;text-align:right}"
	"th{background:#f0f0f0;font-weight:normal;color:#555}"
	".failed{color:#b00}.none{color:#999}"
	"svg{background:#fcfcfc;border:1px solid #eee}"
	"rect.sent{fill:#3b6fb6}rect.failed{fill:#c0392b}"
	"svg text{font-size:10px;fill:#666}"
	".legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}";

/* Column n of row i of an SPI result, or NULL */
static char *
gw_sp_value(SPITupleTable *t, uint64 i, int n)
{
	return SPI_getvalue(t->vals[i], t->tupdesc, n);
}

/*
 * One account's chart: sent and failed per minute, stacked bars.  The minutes
 * are ordered by account (in "C" order, as strcmp), like the accounts: *pos
 * is the first minute not yet read, and the page reads each minute once.
 */
static void
gw_status_chart(StringInfo buf, const char *account, SPITupleTable *minutes,
				uint64 nminutes, uint64 *pos)
{
	TupleDesc	d = minutes->tupdesc;
	int64		max = 1;
	int			col = 0;
	uint64		first,
				end,
				i;

	/* skip the minutes of accounts before this one (not shown), then its own */
	while (*pos < nminutes && strcmp(SPI_getvalue(minutes->vals[*pos], d, 1), account) < 0)
		(*pos)++;
	first = *pos;
	while (*pos < nminutes && strcmp(SPI_getvalue(minutes->vals[*pos], d, 1), account) == 0)
		(*pos)++;
	end = *pos;

	for (i = first; i < end; i++)
	{
		HeapTuple	t = minutes->vals[i];
		int64		v = strtoi64(SPI_getvalue(t, d, 3), NULL, 10) +
			strtoi64(SPI_getvalue(t, d, 4), NULL, 10);

		max = Max(max, v);
	}

	appendStringInfo(buf,
					 "<svg width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"sent and failed per minute\">",
					 GW_CHART_W + 60, GW_CHART_H + 20, GW_CHART_W + 60, GW_CHART_H + 20);
	appendStringInfo(buf, "<text x=\"2\" y=\"10\" data-field=\"chart_max\">" INT64_FORMAT "</text>"
					 "<text x=\"2\" y=\"%d\">0</text>", max, GW_CHART_H);

	for (i = first; i < end; i++)
	{
		HeapTuple	t = minutes->vals[i];
		char	   *minute;
		int64		sent,
					failed;
		int			x,
					hs,
					hf;

		CHECK_FOR_INTERRUPTS();
		minute = SPI_getvalue(t, d, 2);
		sent = strtoi64(SPI_getvalue(t, d, 3), NULL, 10);
		failed = strtoi64(SPI_getvalue(t, d, 4), NULL, 10);
		x = 30 + col * GW_CHART_BAR;
		hs = (int) (sent * GW_CHART_H / max);
		hf = (int) (failed * GW_CHART_H / max);

		appendStringInfoString(buf, "<g><title>");
		gw_html_escape(buf, minute);
		appendStringInfo(buf, ": sent " INT64_FORMAT ", failed " INT64_FORMAT "</title>",
						 sent, failed);
		appendStringInfoString(buf, "<rect class=\"sent\" data-account=\"");
		gw_html_escape(buf, account);
		appendStringInfoString(buf, "\" data-minute=\"");
		gw_html_escape(buf, minute);
		appendStringInfo(buf, "\" data-field=\"sent\" data-value=\""
						 INT64_FORMAT "\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>",
						 sent, x, GW_CHART_H - hs, GW_CHART_BAR - 2, hs);
		appendStringInfoString(buf, "<rect class=\"failed\" data-account=\"");
		gw_html_escape(buf, account);
		appendStringInfoString(buf, "\" data-minute=\"");
		gw_html_escape(buf, minute);
		appendStringInfo(buf, "\" data-field=\"failed\" data-value=\""
						 INT64_FORMAT "\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></g>",
						 failed, x, GW_CHART_H - hs - hf, GW_CHART_BAR - 2, hf);
		if (col == 0 || col % 15 == 14)
		{
			/* hh:mm of the minute's timestamp text */
			char	   *hm = strchr(minute, ' ');

			appendStringInfo(buf, "<text x=\"%d\" y=\"%d\">", x, GW_CHART_H + 14);
			if (hm != NULL && strlen(hm) >= 6)
			{
				char		clock[6];

				memcpy(clock, hm + 1, 5);
				clock[5] = '\0';
				gw_html_escape(buf, clock);
			}
			appendStringInfoString(buf, "</text>");
		}
		col++;
	}
	appendStringInfoString(buf, "</svg>");
}

/* One account: its table of figures and its chart */
static void
gw_status_account(StringInfo buf, SPITupleTable *hours, uint64 row,
				  SPITupleTable *minutes, uint64 nminutes, uint64 *pos)
{
	char	   *account = gw_sp_value(hours, row, 1);
	char	   *provider = gw_sp_value(hours, row, 2);
	int			f;

	appendStringInfoString(buf, "<section data-account=\"");
	gw_html_escape(buf, account);
	appendStringInfoString(buf, "\"><h2>");
	gw_html_escape(buf, account);
	appendStringInfoString(buf, " <small>");
	gw_html_escape(buf, provider ? provider : "");
	appendStringInfoString(buf, "</small></h2><table><tr>");
	for (f = 0; f < lengthof(gw_status_fields); f++)
	{
		appendStringInfoString(buf, "<th>");
		gw_html_escape(buf, gw_status_fields[f].label);
		appendStringInfoString(buf, "</th>");
	}
	appendStringInfoString(buf, "</tr><tr>");
	for (f = 0; f < lengthof(gw_status_fields); f++)
	{
		int			col = SPI_fnumber(hours->tupdesc, gw_status_fields[f].field);
		char	   *v;

		if (col <= 0)
			elog(ERROR, "gateway.status_hour has no column \"%s\"", gw_status_fields[f].field);
		v = gw_sp_value(hours, row, col);
		appendStringInfoString(buf, "<td data-account=\"");
		gw_html_escape(buf, account);
		appendStringInfo(buf, "\" data-field=\"%s\"", gw_status_fields[f].field);
		if (v == NULL)
			appendStringInfoString(buf, " class=\"none\">n/a</td>");
		else
		{
			if (strcmp(gw_status_fields[f].field, "failed") == 0 && strcmp(v, "0") != 0)
				appendStringInfoString(buf, " class=\"failed\"");
			appendStringInfoChar(buf, '>');
			gw_html_escape(buf, v);
			appendStringInfoString(buf, "</td>");
		}
	}
	appendStringInfoString(buf, "</tr></table>");
	gw_status_chart(buf, account, minutes, nminutes, pos);
	appendStringInfoString(buf, "</section>");
}

/*
 * gateway.status_page() RETURNS text
 *
 * The first GW_STATUS_MAX_ACCOUNTS accounts by name, and how many more there
 * are: the page stays small and quick however many accounts a database has.
 */
PG_FUNCTION_INFO_V1(gw_status_page);
Datum
gw_status_page(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	SPITupleTable *hours;
	SPITupleTable *minutes;
	uint64		nhours;
	uint64		nminutes;
	uint64		pos = 0;
	int64		naccounts;
	char	   *database;
	char	   *generated;
	char	   *since;
	uint64		i;

	initStringInfo(&buf);
	SPI_connect();

	if (SPI_execute("SELECT pg_catalog.current_database(), pg_catalog.now(), gateway.status_since(),"
					" (SELECT pg_catalog.count(*) FROM gateway.accounts)",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "status page: reading the time failed");
	database = gw_sp_value(SPI_tuptable, 0, 1);
	generated = gw_sp_value(SPI_tuptable, 0, 2);
	since = gw_sp_value(SPI_tuptable, 0, 3);
	naccounts = strtoi64(gw_sp_value(SPI_tuptable, 0, 4), NULL, 10);

	if (SPI_execute("SELECT account, provider, queued, scheduled, in_flight, sent, delivered,"
					" failed, send_rate, delivery_rate FROM gateway.status_hour"
					" ORDER BY account COLLATE \"C\" LIMIT " CppAsString2(GW_STATUS_MAX_ACCOUNTS),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "status page: reading gateway.status_hour failed");
	hours = SPI_tuptable;
	nhours = SPI_processed;

	minutes = NULL;
	nminutes = 0;
	if (nhours > 0)
	{
		Datum		last = CStringGetTextDatum(gw_sp_value(hours, nhours - 1, 1));

		if (SPI_execute_with_args("SELECT account, minute, sent, failed FROM gateway.status_minutes"
								  " WHERE account COLLATE \"C\" <= $1"
								  " ORDER BY account COLLATE \"C\", minute",
								  1, (Oid[]) {TEXTOID}, &last, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "status page: reading gateway.status_minutes failed");
		minutes = SPI_tuptable;
		nminutes = SPI_processed;
	}

	appendStringInfoString(&buf, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
						   "<meta name=\"robots\" content=\"noindex\">"
						   "<meta http-equiv=\"refresh\" content=\"60\">"
						   "<title>gateway status: ");
	gw_html_escape(&buf, database);
	appendStringInfo(&buf, "</title><style>%s</style></head>\n<body><h1>gateway status: "
					 "<span data-field=\"database\">", gw_status_css);
	gw_html_escape(&buf, database);
	appendStringInfoString(&buf, "</span></h1>\n<p>The last hour, from <time data-field=\"since\">");
	gw_html_escape(&buf, since);
	appendStringInfoString(&buf, "</time>; generated at <time data-field=\"generated_at\">");
	gw_html_escape(&buf, generated);
	appendStringInfoString(&buf, "</time>.</p>\n<p class=\"legend\">Chart: messages per minute,"
						   "<span style=\"background:#3b6fb6\"></span>sent"
						   "<span style=\"background:#c0392b\"></span>failed</p>\n");

	if (nhours == 0)
		appendStringInfoString(&buf, "<p data-field=\"no_accounts\">No accounts to show.</p>\n");
	for (i = 0; i < nhours; i++)
	{
		CHECK_FOR_INTERRUPTS();
		gw_status_account(&buf, hours, i, minutes, nminutes, &pos);
		appendStringInfoChar(&buf, '\n');
	}
	if (naccounts > (int64) nhours)
		appendStringInfo(&buf, "<p data-field=\"accounts_not_shown\">" INT64_FORMAT
						 " more accounts are not shown: the page shows the first %d by name"
						 " (gateway.status_hour has them all).</p>\n",
						 naccounts - (int64) nhours, GW_STATUS_MAX_ACCOUNTS);
	appendStringInfoString(&buf, "</body></html>\n");

	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
