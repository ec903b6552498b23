/*
 * vtpass.c: VTpass (vtpass.com, sandbox sandbox.vtpass.com): bill payments
 * and subscriptions (the document is the Spectranet one).  HTTP Basic
 * authentication with the account's username and password; JSON bodies.
 *
 * Answers carry "code" and "response_description"; a transaction answer
 * (pay, requery) also carries content.transactions.status and .transactionId.
 * VTpass's codes we rely on:
 *   000 TRANSACTION PROCESSED, 001 TRANSACTION QUERY: the outcome is in
 *       content.transactions.status: delivered, pending/initiated, failed,
 *       reversed (money returned), resolved (ask VTpass);
 *   099 TRANSACTION IS PROCESSING: pending, requery later;
 *   016 TRANSACTION FAILED, 091 TRANSACTION NOT PROCESSED (not charged),
 *   020 BILLER CONFIRMED and 030 BILLER NOT REACHABLE (on a purchase: failed);
 *   010, 011, 012, 013, 017, 018, 019, 021-025, 087: the request is refused;
 *   014 REQUEST ID ALREADY EXIST: an earlier purchase had this request_id, so
 *       its outcome is that purchase's: unknown until requeried;
 *   015 INVALID REQUEST ID (requery): VTpass has no such transaction.
 * VTpass's own rule for anything else, a timeout or no answer on a purchase:
 * treat it as pending and requery; our status for that is unknown.
 */
#include "postgres.h"

#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "account.h"
#include "cost.h"
#include "jsonutil.h"
#include "provider.h"

static void
vt_begin(GwCall *call)
{
	gw_call_url(call, call->op->path);
	call->authorization =
		gw_http_basic_auth(gw_account_credential(call->account, "username"),
						   gw_account_credential(call->account, "password"));
}

/*
 * A request_id by VTpass's rule: the first 12 characters are the date and
 * time in Lagos, YYYYMMDDHHII, whatever the server's TimeZone; then a random
 * suffix.
 */
static char *
vt_request_id(void)
{
	pg_time_t	now = timestamptz_to_time_t(GetCurrentTimestamp());
	pg_tz	   *lagos = pg_tzset("Africa/Lagos");
	struct pg_tm *tm;
	char		stamp[32];

	if (lagos == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("time zone \"Africa/Lagos\" is not available"),
				 errhint("VTpass request ids start with the time in Lagos; install the time zone data PostgreSQL uses, or pass request_id.")));
	tm = pg_localtime(&now, lagos);
	snprintf(stamp, sizeof(stamp), "%04d%02d%02d%02d%02d",
			 tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
			 tm->tm_hour, tm->tm_min);
	return gw_random_id(stamp);
}

/* Whether text is a JSON number literal, to be sent as one. */
static bool
vt_json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0' && !(s[0] == '0' && isdigit((unsigned char) s[1]));
}

/* GET /api/service-variations?serviceID=... */
static void
vt_build_variations(GwCall *call)
{
	vt_begin(call);
	appendStringInfoString(&call->url, "?serviceID=");
	gw_http_append_escaped(&call->url, gw_param(call, "service_id"));
}

/* POST /api/pay: one purchase, under a request_id given or generated. */
static void
vt_build_pay(GwCall *call)
{
	GwJsonWriter w;
	char	   *request_id = gw_param(call, "request_id");
	char	   *quantity = gw_param(call, "quantity");
	char	   *amount = gw_param(call, "amount");
	StringInfoData fallback;

	if (quantity && strtoll(quantity, NULL, 10) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"quantity\" of payment.purchase must be at least 1, not %s", quantity),
				 errhint("Leave quantity out to buy one.")));
	if (request_id == NULL)
	{
		request_id = vt_request_id();
		gw_param_set(call, "request_id", request_id);
	}

	vt_begin(call);
	call->content_type = "application/json";
	gw_jw_begin(&w, &call->body);
	gw_jw_str(&w, "request_id", request_id);
	gw_write_params(call, &w);
	if (quantity)
		gw_jw_int(&w, "quantity", strtoll(quantity, NULL, 10));
	if (amount && vt_json_number(amount))
		gw_jw_raw(&w, "amount", amount);
	else if (amount)
		gw_jw_str(&w, "amount", amount);
	gw_jw_end(&w);

	/* data when no answer comes: the request_id to requery with */
	initStringInfo(&fallback);
	appendStringInfoString(&fallback, "{\"requestId\": ");
	escape_json(&fallback, request_id);
	appendStringInfoChar(&fallback, '}');
	call->data = fallback.data;
}

/* POST /api/requery */
static void
vt_build_requery(GwCall *call)
{
	GwJsonWriter w;

	vt_begin(call);
	call->content_type = "application/json";
	gw_jw_begin(&w, &call->body);
	gw_write_params(call, &w);
	gw_jw_end(&w);
}

static bool
vt_code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

/* Set call->error from VTpass's description and code. */
static void
vt_error(GwCall *call, const char *code)
{
	static const char *const errors[] = {"content", "errors", NULL};
	char	   *desc = gw_jsonb_get_text(call->json, "response_description");
	char	   *detail = gw_jsonb_path_text(call->json, errors);
	StringInfoData e;

	if (desc == NULL && code == NULL)
		return;
	initStringInfo(&e);
	appendStringInfoString(&e, desc ? desc : "VTpass answered");
	if (detail)
		appendStringInfo(&e, ": %s", detail);
	appendStringInfo(&e, " (code %s, HTTP %ld)", code ? code : "none", call->resp.status);
	call->error = e.data;
}

/* catalog.variations: code 000 (or, as documented, response_description 000). */
static void
vt_parse_variations(GwCall *call)
{
	char	   *code = gw_jsonb_get_text(call->json, "code");
	char	   *desc = gw_jsonb_get_text(call->json, "response_description");

	if (code == NULL && desc && strcmp(desc, "000") == 0)
		code = desc;
	if (code == NULL || strcmp(code, "000") != 0)
		vt_error(call, code);
	if (call->resp.status < 200 || call->resp.status >= 300)
		return;
	if (code == NULL)
		call->malformed = true;
	else if (strcmp(code, "000") == 0)
		call->status = GW_ACCEPTED;
	else
		call->status = GW_REJECTED;
}

/* The status of content.transactions.status under code 000/001. */
static GwStatus
vt_transaction_status(GwCall *call, const char *code)
{
	static const char *const status_path[] = {"content", "transactions", "status", NULL};
	char	   *s = gw_jsonb_path_text(call->json, status_path);

	if (s && strcmp(s, "delivered") == 0)
		return GW_DELIVERED;
	if (s && (strcmp(s, "pending") == 0 || strcmp(s, "initiated") == 0))
		return GW_PENDING;
	if (s && (strcmp(s, "failed") == 0 || strcmp(s, "reversed") == 0))
	{
		call->error = psprintf("transaction %s (code %s)", s, code);
		return GW_FAILED;
	}
	if (s && strcmp(s, "resolved") == 0)
		call->error = psprintf("transaction resolved by VTpass, outcome not stated: ask VTpass (code %s)", code);
	else
		call->error = psprintf("unexpected transaction status %s (code %s): requery with payment.status",
							   s ? s : "(none)", code);
	return GW_UNKNOWN;
}

/* payment.purchase and payment.status: the transaction's outcome. */
static void
vt_parse_transaction(GwCall *call)
{
	static const char *const ref_path[] = {"content", "transactions", "transactionId", NULL};
	static const char *const total_path[] = {"content", "transactions", "total_amount", NULL};
	static const char *const refused[] = {
		"010", "011", "012", "013", "017", "018", "019",
		"021", "022", "023", "024", "025", "087", NULL
	};
	static const char *const failed[] = {"016", "091", "020", "030", NULL};
	bool		purchase = (call->op->flags & GW_OP_PAYMENT) != 0;
	char	   *code = gw_jsonb_get_text(call->json, "code");

	if (purchase)
	{
		/* keep the request_id in data whatever the answer, to requery with */
		char	   *rid = gw_param(call, "request_id");

		if (call->json && JB_ROOT_IS_OBJECT(call->json))
		{
			if (gw_jsonb_get(call->json, "requestId"))
				call->data = NULL;
			else
			{
				Jsonb	   *both;

				both = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
														  JsonbPGetDatum(call->json),
														  JsonbPGetDatum(gw_json_parse(call->data, strlen(call->data)))));
				call->data = JsonbToCString(NULL, &both->root, VARSIZE(both));
			}
		}
		else
		{
			StringInfoData d;
			GwJsonWriter w;

			initStringInfo(&d);
			gw_jw_begin(&w, &d);
			gw_jw_str(&w, "requestId", rid);
			if (call->json)
				gw_jw_raw(&w, "answer", JsonbToCString(NULL, &call->json->root, VARSIZE(call->json)));
			else if (call->resp.body_len > 0)
				gw_jw_str(&w, "answer", call->resp.body);
			gw_jw_end(&w);
			call->data = d.data;
		}
	}

	call->provider_ref = gw_jsonb_path_text(call->json, ref_path);
	/* a purchase: what VTpass took from the wallet, after its commission */
	if (purchase)
		call->cost = gw_cost_number(gw_jsonb_path_text(call->json, total_path));
	if (code == NULL || (strcmp(code, "000") != 0 && strcmp(code, "001") != 0 &&
						 strcmp(code, "099") != 0))
		vt_error(call, code);
	if (call->resp.status < 200 || call->resp.status >= 300)
		return;
	if (code == NULL)
	{
		call->malformed = true;
		return;
	}

	if (strcmp(code, "000") == 0 || strcmp(code, "001") == 0)
		call->status = vt_transaction_status(call, code);
	else if (strcmp(code, "099") == 0)
		call->status = GW_PENDING;
	else if (vt_code_in(code, failed))
		call->status = GW_FAILED;
	else if (vt_code_in(code, refused))
		call->status = GW_REJECTED;
	else if (strcmp(code, "015") == 0 && !purchase)
	{
		/* VTpass never took a purchase under this request_id */
		call->status = GW_FAILED;
	}
	else
	{
		/* 014, 044 and anything undocumented: the outcome must be requeried */
		call->status = GW_UNKNOWN;
		call->error = psprintf("%s: requery with payment.status",
							   call->error ? call->error : psprintf("code %s", code));
	}
}

static const GwParamSpec variations_params[] = {
	{"service_id", GW_P_TEXT, true, NULL},
	{NULL}
};

static const GwParamSpec pay_params[] = {
	{"request_id", GW_P_TEXT, false, NULL},
	{"service_id", GW_P_TEXT, true, "serviceID"},
	{"billers_code", GW_P_TEXT, true, "billersCode"},
	{"variation_code", GW_P_TEXT, true, "variation_code"},
	{"quantity", GW_P_INT, false, NULL},
	{"amount", GW_P_AMOUNT, false, NULL},
	{"phone", GW_P_TEXT, true, "phone"},
	{NULL}
};

static const GwParamSpec requery_params[] = {
	{"request_id", GW_P_TEXT, true, "request_id"},
	{NULL}
};

static const GwOperation vtpass_ops[] = {
	{"catalog.variations", "List a service's variation codes (plans) and prices", "GET",
	 "/api/service-variations",
	 variations_params, 0,
	 vt_build_variations, vt_parse_variations},
	{"payment.purchase", "Buy a product (e.g. a Spectranet plan) for a customer", "POST",
	 "/api/pay",
	 pay_params, GW_OP_PAYMENT | GW_OP_OWN_KEY,
	 vt_build_pay, vt_parse_transaction,
	 .key_param = "request_id",
	 .reconcile_op = "payment.status",
	 .reconcile_param = "request_id"},
	{"payment.status", "Requery a purchase's status by its request_id", "POST",
	 "/api/requery",
	 requery_params, 0,
	 vt_build_requery, vt_parse_transaction},
};

static const char *const vtpass_credentials[] = {"username", "password", NULL};

const GwProvider gw_vtpass = {
	.name = "vtpass",
	.base_url = "https://vtpass.com",
	.credentials = vtpass_credentials,
	.ops = vtpass_ops,
	.nops = lengthof(vtpass_ops),
	.sms_op = NULL,
	.stk_op = NULL,
	.balance_op = NULL,
};
