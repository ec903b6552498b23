/*
 * callback.c: callback tokens and the URLs providers call back on.
 *
 * Each account has a random token, kept beside its credentials and as
 * secret; the listener accepts a callback only with the account's token in
 * its URL.
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "callback.h"
#include "http.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_random_token);
PG_FUNCTION_INFO_V1(gw_callback_url);

char	   *gw_listen_address = NULL;
char	   *gw_callback_base_url = NULL;

static const char *const gw_kinds[] = {"dlr", "payment", "subscription", "mo", "ussd", NULL};

bool
gw_callback_kind_valid(const char *kind)
{
	for (const char *const *k = gw_kinds; *k; k++)
		if (strcmp(*k, kind) == 0)
			return true;
	return false;
}

/* 32 random bytes as 64 hex digits. */
Datum
gw_random_token(PG_FUNCTION_ARGS)
{
	uint8		bytes[32];
	char		hex[65];

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random callback token")));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

char *
gw_callback_url_for(const GwAccount *acc, const char *kind)
{
	char	   *base = gw_account_option(acc, "callback_base_url");
	StringInfoData url;

	if (base == NULL && gw_callback_base_url && gw_callback_base_url[0])
		base = pstrdup(gw_callback_base_url);
	if (base == NULL && gw_listen_address && gw_listen_address[0])
		base = psprintf("http://%s", gw_listen_address);
	if (base == NULL || acc->callback_token == NULL)
		return NULL;
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	initStringInfo(&url);
	/* /<database>/<account>/<kind>: the listener serves every database */
	appendStringInfo(&url, "%s/", base);
	gw_http_append_escaped(&url, get_database_name(MyDatabaseId));
	appendStringInfoChar(&url, '/');
	gw_http_append_escaped(&url, acc->name);
	appendStringInfo(&url, "/%s?token=%s", kind, acc->callback_token);
	return url.data;
}

/* gw_callback_url(account, kind): the URL to give the provider. */
Datum
gw_callback_url(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *kind = gw_arg_text(fcinfo, 1);
	const GwAccount *acc;
	char	   *url;

	gw_require(account, "account");
	gw_require(kind, "kind");
	if (!gw_callback_kind_valid(kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown callback kind \"%s\"", kind),
				 errhint("The kinds are dlr, payment, subscription, mo and ussd.")));
	acc = gw_account_get(account);
	url = gw_callback_url_for(acc, kind);
	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the callback listener is off"),
				 errhint("Set gateway.listen_address (and gateway.callback_base_url when providers reach it through a proxy).")));
	PG_RETURN_TEXT_P(cstring_to_text(url));
}
