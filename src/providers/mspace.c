/*
 * mspace.c: MSpace bulk SMS.  Every operation is a GET whose credentials and
 * values are URL path segments "name=value" under the account's base_url
 * (MSpace gives each customer its own address, e.g.
 * http://host/mspaceservice/wr/sms; there is no public production URL).
 * Each value is percent-encoded as UTF-8.
 *
 * Answers are plain text ("50", "User exists.", "Successful Top up of ...",
 * "Error 100: Authentication Failure", "Insufficient Balance", ...) or JSON
 * arrays (sendtext, subusers, resellerclients), always with HTTP 200.
 *
 * The URL carries the password: request.c wipes it after the call, and the
 * credential values, raw and percent-encoded, are masked in the answer
 * before it is parsed; the parser also masks whatever follows "password="
 * in an answer.  Nothing here may copy the URL anywhere else, and an HTTP
 * error page (which may echo it) is never made the error text.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "account.h"
#include "jsonutil.h"
#include "provider.h"

/* The value of a path template's placeholder: a credential or a param. */
static char *
mspace_value(GwCall *call, const char *name)
{
	int			i = 0;

	if (strcmp(name, "username") == 0 || strcmp(name, "password") == 0)
		return gw_account_credential(call->account, name);
	for (const GwParamSpec *s = call->op->params; s->name; s++, i++)
	{
		char	   *value = call->pvals[i];

		if (s->field == NULL || strcmp(s->field, name) != 0)
			continue;
		if (strcmp(s->name, "sender_id") == 0)
		{
			/* MSpace has no default sender id: the param or the option */
			value = gw_default_sender(call, NULL);
			if (value == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("missing required param \"sender_id\" for mspace operation %s",
								call->op->name),
						 errhint("Pass {\"sender_id\": \"...\"} or set the account option sender_id.")));
		}
		else if (s->type == GW_P_INT)
		{
			/* noofsms: a positive whole number, written plainly */
			int64		n = strtoi64(value, NULL, 10);

			if (n <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("param \"%s\" of %s must be a positive number, not \"%s\"",
								s->name, call->op->name, value),
						 errhint("Give the number of SMS to transfer, e.g. {\"%s\": 100}.",
								 s->name)));
			value = psprintf(INT64_FORMAT, n);
		}
		return value;
	}
	elog(ERROR, "mspace operation %s has no param for \"%s\"", call->op->name, name);
	return NULL;				/* keep compiler quiet */
}

/*
 * The URL: base_url, then the operation's path template with every
 * placeholder replaced by its value, percent-encoded as UTF-8.
 */
static void
mspace_build(GwCall *call)
{
	const char *t = call->op->path;

	gw_call_url(call, "");
	while (*t)
	{
		const char *close = (*t == '{') ? strchr(t, '}') : NULL;
		char	   *name;

		if (close == NULL)
		{
			appendStringInfoChar(&call->url, *t++);
			continue;
		}
		name = pnstrdup(t + 1, close - t - 1);
		gw_http_append_escaped(&call->url, mspace_value(call, name));
		t = close + 1;
	}
}

/* The answer's text: surrounding white space and one pair of quotes gone. */
static char *
mspace_text(GwCall *call)
{
	char	   *s = call->resp.body ? call->resp.body : "";
	int			n;

	while (*s && isspace((unsigned char) *s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char) s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
	{
		s++;
		n -= 2;
	}
	return pnstrdup(s, n);
}

/* data {"<key>": "<text>"} */
static void
mspace_data_text(GwCall *call, const char *key, const char *text)
{
	StringInfoData buf;
	GwJsonWriter w;

	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, key, text);
	gw_jw_end(&w);
	call->data = buf.data;
}

/* data {"<key>": <the answer's JSON>} */
static void
mspace_data_json(GwCall *call, const char *key)
{
	StringInfoData buf;
	GwJsonWriter w;

	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_raw(&w, key, JsonbToCString(NULL, &call->json->root, VARSIZE(call->json)));
	gw_jw_end(&w);
	call->data = buf.data;
}

/* Whether text holds what, ignoring case. */
static bool
mspace_has(const char *text, const char *what)
{
	size_t		n = strlen(what);

	for (; *text; text++)
		if (pg_strncasecmp(text, what, n) == 0)
			return true;
	return false;
}

/*
 * A plain-text answer that is not the operation's success: MSpace's
 * documented failures.  Refusals of the request (credentials, balance,
 * sender id, authorization) are rejected; "internal service error" is
 * treated like an HTTP 5xx (failed and retryable for a message, unknown for
 * a top-up); a top-up that says it failed is failed.  Anything else is not
 * an answer MSpace gives: malformed, outcome unknown.
 */
static void
mspace_failure(GwCall *call, const char *text)
{
	bool		payment = (call->op->flags & GW_OP_PAYMENT) != 0;

	mspace_data_text(call, "text", text);
	call->error = pstrdup(text);
	if (mspace_has(text, "internal service error") || mspace_has(text, "internal server error"))
		call->status = payment ? GW_UNKNOWN : GW_FAILED;
	else if (mspace_has(text, "authentication failure") ||
			 mspace_has(text, "athentication failure") ||
			 mspace_has(text, "insufficient balance") ||
			 mspace_has(text, "invalid sender") ||
			 mspace_has(text, "not authorized") ||
			 mspace_has(text, "not authorised"))
		call->status = GW_REJECTED;
	else if (mspace_has(text, "failed to") || mspace_has(text, "not successful"))
		call->status = GW_FAILED;
	else if (pg_strncasecmp(text, "error", 5) == 0)
		call->status = GW_REJECTED;
	else
	{
		call->error = NULL;
		call->malformed = true;
	}
}

/*
 * Mask whatever follows "password=" in an answer that echoes our URL, in
 * place: account.c already masked the password as we sent it, this also
 * covers forms it cannot know (other escaping, passwords too short to mask).
 */
static void
mspace_mask_password(char *s)
{
	static const char key[] = "password=";

	for (; s && *s; s++)
	{
		if (pg_strncasecmp(s, key, sizeof(key) - 1) != 0)
			continue;
		s += sizeof(key) - 1;
		for (; *s && *s != '/' && *s != '<' && *s != '"' && !isspace((unsigned char) *s); s++)
			*s = '*';
		if (*s == '\0')
			break;
	}
}

/*
 * Common start of every parser: true when the parser should go on with a
 * 2xx answer.  Other HTTP statuses are mapped by result.c, with the answer
 * as data only: an error page may echo the URL, which stays out of errors.
 */
static bool
mspace_begin(GwCall *call, char **text)
{
	long		http = call->resp.status;

	mspace_mask_password(call->resp.body);
	*text = mspace_text(call);
	if (http >= 200 && http < 300)
		return true;
	if (call->json == NULL && (*text)[0] != '\0')
		mspace_data_text(call, "text", *text);
	return false;
}

/* A 2xx answer that is not the operation's success: empty, or a failure text. */
static void
mspace_not_json(GwCall *call, const char *text)
{
	if (text[0] == '\0')
		call->malformed = true;
	else
		mspace_failure(call, text);
}

/* balance: "50" → {"balance": 50} */
static void
mspace_parse_balance(GwCall *call)
{
	char	   *text;
	StringInfoData num;
	bool		digits = false;
	bool		ok = true;

	if (!mspace_begin(call, &text))
		return;
	if (call->json)
	{
		call->malformed = true;
		return;
	}

	/* digits, an optional sign and decimal point; thousands commas dropped */
	initStringInfo(&num);
	for (const char *p = text; *p; p++)
	{
		if (isdigit((unsigned char) *p))
			digits = true;
		else if (*p == ',' && digits)
			continue;
		else if (!((*p == '-' && p == text) || *p == '.'))
			ok = false;
		appendStringInfoChar(&num, *p);
	}
	/* a balance of more than 30 digits is no balance: numeric_in could fail */
	if (ok && digits && num.len <= 30 && strchr(num.data, '.') == strrchr(num.data, '.') &&
		isdigit((unsigned char) num.data[num.len - 1]))
	{
		Datum		n = DirectFunctionCall3(numeric_in, CStringGetDatum(num.data),
										   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		StringInfoData buf;
		GwJsonWriter w;

		initStringInfo(&buf);
		gw_jw_begin(&w, &buf);
		gw_jw_raw(&w, "balance", DatumGetCString(DirectFunctionCall1(numeric_out, n)));
		gw_jw_end(&w);
		call->data = buf.data;
		call->status = GW_ACCEPTED;
		return;
	}
	mspace_not_json(call, text);
}

/* sendtext: [{"messageId": "12345", "responseTime": "...", "status": "successful"}] */
static void
mspace_parse_send(GwCall *call)
{
	char	   *text;
	JsonbValue *first;
	char	   *status;

	if (!mspace_begin(call, &text))
		return;
	if (call->json == NULL)
	{
		mspace_not_json(call, text);
		return;
	}
	if (!JB_ROOT_IS_ARRAY(call->json) || JB_ROOT_IS_SCALAR(call->json) ||
		(first = getIthJsonbValueFromContainer(&call->json->root, 0)) == NULL ||
		first->type != jbvBinary || !JsonContainerIsObject(first->val.binary.data))
	{
		call->malformed = true;
		return;
	}
	mspace_data_json(call, "messages");
	{
		Jsonb	   *one = JsonbValueToJsonb(first);

		status = gw_jsonb_get_text(one, "status");
		call->provider_ref = gw_jsonb_get_text(one, "messageId");
	}
	if (status == NULL)
		call->malformed = true;
	else if (pg_strcasecmp(status, "successful") == 0 || pg_strcasecmp(status, "success") == 0)
		call->status = GW_ACCEPTED;
	else
	{
		call->status = GW_REJECTED;
		call->error = psprintf("message not sent: status \"%s\"", status);
	}
}

/* subusers and resellerclients: a JSON array, "[]" when there is none. */
static void
mspace_parse_list(GwCall *call, const char *key)
{
	char	   *text;

	if (!mspace_begin(call, &text))
		return;
	if (call->json == NULL)
	{
		mspace_not_json(call, text);
		return;
	}
	if (!JB_ROOT_IS_ARRAY(call->json) || JB_ROOT_IS_SCALAR(call->json))
	{
		call->malformed = true;
		return;
	}
	mspace_data_json(call, key);
	call->status = GW_ACCEPTED;
}

static void
mspace_parse_subusers(GwCall *call)
{
	mspace_parse_list(call, "subusers");
}

static void
mspace_parse_clients(GwCall *call)
{
	mspace_parse_list(call, "clients");
}

/* login and the top-ups: one line of text, "User exists." or "Successful Top up of ..." */
static void
mspace_parse_text(GwCall *call)
{
	char	   *text;
	const char *success = (call->op->flags & GW_OP_PAYMENT) ? "Successful Top up" : "User exists";

	if (!mspace_begin(call, &text))
		return;
	if (call->json)
	{
		call->malformed = true;
		return;
	}
	if (pg_strncasecmp(text, success, strlen(success)) == 0)
	{
		mspace_data_text(call, "text", text);
		call->status = GW_ACCEPTED;
		return;
	}
	mspace_not_json(call, text);
}

static const GwParamSpec no_params[] = {
	{NULL}
};

/*
 * field: the name of the param's path segment; the operation's path
 * template sets the segments' order.
 */
static const GwParamSpec sms_send_params[] = {
	{"recipient", GW_P_PHONE, true, "recipient"},
	{"message", GW_P_MESSAGE, true, "message"},
	{"sender_id", GW_P_SENDER, false, "senderid"},
	{NULL}
};

static const GwParamSpec reseller_topup_params[] = {
	{"client_name", GW_P_TEXT, true, "clientname"},
	{"sms_count", GW_P_INT, true, "noofsms"},
	{NULL}
};

static const GwParamSpec subaccount_topup_params[] = {
	{"subaccount_name", GW_P_TEXT, true, "subaccname"},
	{"sms_count", GW_P_INT, true, "noofsms"},
	{NULL}
};

/*
 * A top-up moves SMS credit that was paid for and takes no idempotency key:
 * it is a payment (never retried blindly; a lost answer is unknown), and
 * MSpace cannot be asked about it by our key.
 */
static const GwOperation mspace_ops[] = {
	{"account.balance", "The account's SMS balance", "GET",
	 "/balance/username={username}/password={password}",
	 no_params, 0, mspace_build, mspace_parse_balance},
	{"sms.send", "Send one SMS", "GET",
	 "/sendtext/username={username}/password={password}/senderid={senderid}/recipient={recipient}/message={message}",
	 sms_send_params, GW_OP_SMS, mspace_build, mspace_parse_send},
	{"account.subusers", "List the sub-accounts and their SMS balances", "GET",
	 "/subusers/username={username}/password={password}",
	 no_params, 0, mspace_build, mspace_parse_subusers},
	{"account.reseller_clients", "List a reseller's clients and their SMS balances", "GET",
	 "/resellerclients/username={username}/password={password}",
	 no_params, 0, mspace_build, mspace_parse_clients},
	{"account.reseller_topup", "Move SMS credit to a reseller client", "GET",
	 "/resellerclienttopup/username={username}/password={password}/clientname={clientname}/noofsms={noofsms}",
	 reseller_topup_params, GW_OP_PAYMENT, mspace_build, mspace_parse_text},
	{"account.subaccount_topup", "Move SMS credit to a sub-account", "GET",
	 "/subacctopup/username={username}/password={password}/subaccname={subaccname}/noofsms={noofsms}",
	 subaccount_topup_params, GW_OP_PAYMENT, mspace_build, mspace_parse_text},
	{"account.login", "Check the credentials", "GET",
	 "/login/username={username}/password={password}",
	 no_params, 0, mspace_build, mspace_parse_text},
};

static const char *const mspace_credentials[] = {"username", "password", NULL};

const GwProvider gw_mspace = {
	.name = "mspace",
	.base_url = NULL,
	.credentials = mspace_credentials,
	.ops = mspace_ops,
	.nops = lengthof(mspace_ops),
	.sms_op = "sms.send",
	.balance_op = "account.balance",
};
