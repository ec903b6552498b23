/*
 * cost.c: the cost a provider reports, and the parts an SMS row sends.
 *
 * A provider file reads its answer's cost field and hands the text to
 * gw_cost_number, so that whatever reaches the outbox's numeric column is a
 * number: an answer that says something else records no cost, never an
 * error in the worker's batch.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"

#include "cost.h"
#include "smsinfo.h"

#define GW_COST_MAX_LEN 30

char *
gw_cost_number(const char *s)
{
	const char *p;
	int			digits = 0;
	bool		point = false;

	if (s == NULL)
		return NULL;
	while (*s == ' ')
		s++;
	for (p = s; *p && *p != ' '; p++)
	{
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !point && digits > 0)
			point = true;
		else
			return NULL;
	}
	for (const char *q = p; *q; q++)
		if (*q != ' ')
			return NULL;
	if (digits == 0 || p[-1] == '.' || p - s > GW_COST_MAX_LEN)
		return NULL;
	return pnstrdup(s, p - s);
}

char *
gw_cost_after(const char *text, const char *prefix)
{
	const char *at;
	const char *end;

	if (text == NULL || (at = strstr(text, prefix)) == NULL)
		return NULL;
	at += strlen(prefix);
	while (*at == ' ')
		at++;
	for (end = at; (*end >= '0' && *end <= '9') || *end == '.'; end++)
		;
	return gw_cost_number(pnstrdup(at, end - at));
}

bool
gw_cost_sms(const GwCall *call, int *segments, const char **encoding)
{
	const char *message = NULL;
	int			recipients = 1;
	GwSmsInfo	info;
	int			len;
	const char *utf8;

	if (!(call->op->flags & GW_OP_SMS))
		return false;
	for (int i = 0; call->op->params[i].name; i++)
	{
		const char *v = call->pvals[i];

		if (v == NULL)
			continue;
		if (call->op->params[i].type == GW_P_MESSAGE)
			message = v;
		else if (call->op->params[i].type == GW_P_PHONES)
		{
			/* normalized: a comma list */
			recipients = 1;
			for (const char *c = v; *c; c++)
				if (*c == ',')
					recipients++;
		}
	}
	if (message == NULL)
		return false;

	/* count in UTF-8 whatever the database encoding, as gw_sms_info does */
	len = strlen(message);
	utf8 = pg_server_to_any(message, len, PG_UTF8);
	if (utf8 != message)
		len = strlen(utf8);
	gw_sms_info_compute(utf8, len, &info);
	*segments = (int) Min((int64) info.segments * recipients, (int64) PG_INT32_MAX);
	*encoding = info.gsm7 ? "gsm7" : "ucs2";
	return true;
}

bool
gw_cost_columns(void)
{
	Oid			nsp = get_namespace_oid("gateway", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("outbox", nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, "cost") != InvalidAttrNumber;
}
