/*
 * umeskia.c: Umeskia Softwares (api.umeskiasoftwares.com): JSON over POST
 * to /api/v1/..., the credentials in the body as "api_key" and "email".
 * Answers say "success": "200" (SMS, balance, STK push) or "ResultCode":
 * "200" (status queries, ISP billing), with the message in "massage" (sic)
 * or "message".  UMS Pay result codes (TransactionCode, ResponseCode) are
 * M-Pesa's; umeskia_codes below maps them.
 *
 * The document's spellings are kept on the wire: Sender_Id, intiatestk,
 * hostspotplans, tranasaction_request_id.
 */
#include "postgres.h"

#include <math.h>

#include "account.h"
#include "jsonutil.h"
#include "provider.h"

/* UMS Pay result codes: what each says about the payment. */
typedef struct UmeskiaCode
{
	int			code;
	GwStatus	status;
	GwRetry		retry;
	const char *desc;
} UmeskiaCode;

/*
 * A failure is retryable when the prompt never reached the customer (phone
 * unreachable, push error) or another prompt was in the way; not when the
 * customer answered (cancelled, no funds, let it expire) or the account is
 * misconfigured.
 */
static const UmeskiaCode umeskia_codes[] = {
	{0, GW_DELIVERED, GW_RETRY_NO, "Success. Request accepted for processing"},
	{1, GW_FAILED, GW_RETRY_NO, "The balance is insufficient for the transaction."},
	{1031, GW_FAILED, GW_RETRY_NO, "Request cancelled by user"},
	{1032, GW_FAILED, GW_RETRY_NO, "Request cancelled by user"},
	{1037, GW_FAILED, GW_RETRY_YES, "DS timeout user cannot be reached"},
	{1025, GW_FAILED, GW_RETRY_YES, "An error occurred while sending a push request"},
	{9999, GW_FAILED, GW_RETRY_YES, "An error occurred while sending a push request."},
	{2001, GW_FAILED, GW_RETRY_NO, "The initiator information is invalid."},
	{1019, GW_FAILED, GW_RETRY_NO, "Transaction has expired"},
	{1001, GW_FAILED, GW_RETRY_YES,
	"Unable to lock subscriber, a transaction is already in process for the current subscriber"},
};

/* ------------------------------------------------------------ requests */

static void
umeskia_begin(GwCall *call, GwJsonWriter *w)
{
	gw_call_url(call, call->op->path);
	call->content_type = "application/json";
	gw_jw_begin(w, &call->body);
	gw_jw_str(w, "api_key", gw_account_credential(call->account, "api_key"));
	gw_jw_str(w, "email", gw_account_credential(call->account, "email"));
	gw_write_params(call, w);
}

/* Operations whose params all have a field. */
static void
umeskia_build(GwCall *call)
{
	GwJsonWriter w;

	umeskia_begin(call, &w);
	gw_jw_end(&w);
}

/* Send one SMS: Sender_Id from the param, the account option, or UMS_SMS. */
static void
umeskia_build_sms(GwCall *call)
{
	GwJsonWriter w;

	umeskia_begin(call, &w);
	gw_jw_str(&w, "Sender_Id", gw_default_sender(call, "UMS_SMS"));
	gw_jw_end(&w);
}

/* The amount in whole shillings, as M-Pesa takes it: "100.00" becomes "100". */
static char *
umeskia_whole_amount(GwCall *call)
{
	char	   *amount = gw_param(call, "amount");
	double		d = strtod(amount, NULL);

	if (d != floor(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"amount\" of umeskia operation %s must be a whole number of shillings, not \"%s\"",
						call->op->name, amount),
				 errhint("M-Pesa STK push takes whole amounts in KES.")));
	return psprintf("%.0f", d);
}

/* STK push through UMS Pay: account_id from the param or the account option. */
static void
umeskia_build_stk(GwCall *call)
{
	GwJsonWriter w;
	char	   *account_id = gw_param(call, "account_id");
	char	   *amount = umeskia_whole_amount(call);

	if (account_id == NULL)
		account_id = gw_account_option(call->account, "account_id");
	if (account_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required param \"account_id\" for umeskia operation %s",
						call->op->name),
				 errhint("Pass {\"account_id\": \"UMPAY...\"} or set the account option account_id (the UMS Pay account id from the UMS Portal).")));
	umeskia_begin(call, &w);
	gw_jw_str(&w, "account_id", account_id);
	gw_jw_str(&w, "amount", amount);
	gw_jw_end(&w);
}

/* ------------------------------------------------------------- answers */

static const UmeskiaCode *
umeskia_code(const char *code)
{
	char	   *end;
	long		n;

	if (code == NULL || code[0] == '\0')
		return NULL;
	n = strtol(code, &end, 10);
	if (*end != '\0')
		return NULL;
	for (int i = 0; i < lengthof(umeskia_codes); i++)
		if (umeskia_codes[i].code == n)
			return &umeskia_codes[i];
	return NULL;
}

/*
 * Set status, retry and error from a UMS Pay result code; an unknown code is
 * a failure, not retryable, described by the provider's own words.
 */
static void
umeskia_apply_code(GwCall *call, const char *code, const char *their_desc)
{
	const UmeskiaCode *c = umeskia_code(code);

	call->status = c ? c->status : GW_FAILED;
	call->retry = c ? c->retry : GW_RETRY_NO;
	if (call->status == GW_FAILED)
		call->error = psprintf("%s (code %s)",
							   c ? c->desc : their_desc ? their_desc : "payment failed", code);
}

/*
 * What every answer shares: the error text, and the verdict.  True when the
 * answer is a 2xx saying "200"; otherwise the outcome is set (rejected,
 * malformed) or left to result.c (non-2xx).
 */
static bool
umeskia_verdict(GwCall *call)
{
	static const char *const text_keys[] = {
		"errorMessage", "massage", "message", "ResultDesc", "error", NULL
	};
	long		http = call->resp.status;
	char	   *code = gw_jsonb_get_text(call->json, "success");
	char	   *text = NULL;

	if (code == NULL)
		code = gw_jsonb_get_text(call->json, "ResultCode");
	for (const char *const *k = text_keys; *k && text == NULL; k++)
		text = gw_jsonb_get_text(call->json, *k);

	if (http < 200 || http >= 300)
	{
		if (text)
			call->error = psprintf("%s (HTTP %ld)", text, http);
		return false;
	}
	if (code == NULL)
	{
		call->malformed = true;
		return false;
	}
	if (strcmp(code, "200") != 0)
	{
		call->status = GW_REJECTED;
		call->error = psprintf("%s (code %s)", text ? text : "refused by umeskia", code);
		return false;
	}
	return true;
}

/* Balance, hotspot plans, voucher registration: answered in full (an
 * answered query is "accepted", as with every provider). */
static void
umeskia_parse_done(GwCall *call)
{
	if (umeskia_verdict(call))
		call->status = GW_ACCEPTED;
}

static void
umeskia_parse_balance(GwCall *call)
{
	if (!umeskia_verdict(call))
		return;
	if (gw_jsonb_get(call->json, "creditBalance") == NULL)
		call->malformed = true;
	else
		call->status = GW_ACCEPTED;
}

static void
umeskia_parse_sms(GwCall *call)
{
	if (!umeskia_verdict(call))
		return;
	call->status = GW_ACCEPTED;
	call->provider_ref = gw_jsonb_get_text(call->json, "request_id");
}

/*
 * STK push: "success": "200" and a tranasaction_request_id, the prompt is on
 * its way.  An answer in the shape of the document's dumps (ResponseCode)
 * is read with the UMS Pay codes.
 */
static void
umeskia_parse_stk(GwCall *call)
{
	char	   *rcode = gw_jsonb_get_text(call->json, "ResponseCode");
	char	   *receipt;
	long		http = call->resp.status;

	if (http >= 200 && http < 300 && rcode != NULL &&
		gw_jsonb_get(call->json, "success") == NULL)
	{
		call->provider_ref = gw_jsonb_get_text(call->json, "TransactionID");
		receipt = gw_jsonb_get_text(call->json, "TransactionReceipt");
		umeskia_apply_code(call, rcode,
						   gw_jsonb_get_text(call->json, "ResponseDescription"));
		/* code 0 only says the request was taken, unless it was paid */
		if (call->status == GW_DELIVERED && (receipt == NULL || receipt[0] == '\0'))
			call->status = GW_PENDING;
		return;
	}
	if (!umeskia_verdict(call))
		return;
	call->status = GW_PENDING;
	call->provider_ref = gw_jsonb_get_text(call->json, "tranasaction_request_id");
}

/* SMS delivery report: "status" Delivered, Pending, Failed. */
static void
umeskia_parse_sms_status(GwCall *call)
{
	static const struct
	{
		const char *word;
		GwStatus	status;
	}			words[] = {
		{"delivered", GW_DELIVERED},
		{"pending", GW_PENDING},
		{"sent", GW_PENDING},
		{"failed", GW_FAILED},
		{"undelivered", GW_FAILED},
		{"rejected", GW_FAILED},
		{"expired", GW_FAILED},
	};
	char	   *st;

	if (!umeskia_verdict(call))
		return;
	call->provider_ref = gw_jsonb_get_text(call->json, "request_id");
	st = gw_jsonb_get_text(call->json, "status");
	if (st == NULL)
	{
		call->malformed = true;
		return;
	}
	call->status = GW_UNKNOWN;
	for (int i = 0; i < lengthof(words); i++)
		if (pg_strcasecmp(st, words[i].word) == 0)
			call->status = words[i].status;
	/* asking again helps only while the outcome is open */
	call->retry = (call->status == GW_UNKNOWN) ? GW_RETRY_YES : GW_RETRY_NO;
	if (call->status == GW_FAILED)
		call->error = psprintf("message not delivered: %s", st);
	else if (call->status == GW_UNKNOWN)
		call->error = psprintf("unrecognized delivery status \"%s\"", st);
}

/*
 * Transaction status: TransactionStatus Completed, Pending, Failed or
 * Cancelled; TransactionCode says why it failed, and whether a new prompt
 * may help.
 */
static void
umeskia_parse_payment_status(GwCall *call)
{
	char	   *st;
	char	   *code;

	if (!umeskia_verdict(call))
		return;
	call->provider_ref = gw_jsonb_get_text(call->json, "TransactionID");
	if (call->provider_ref == NULL)
		call->provider_ref = gw_param(call, "transaction_id");
	st = gw_jsonb_get_text(call->json, "TransactionStatus");
	code = gw_jsonb_get_text(call->json, "TransactionCode");
	if (code != NULL && code[0] == '\0')
		code = NULL;

	if (st == NULL && code == NULL)
		call->malformed = true;
	else if (st == NULL)
		umeskia_apply_code(call, code, NULL);
	else if (pg_strcasecmp(st, "Completed") == 0)
		call->status = GW_DELIVERED;
	else if (pg_strcasecmp(st, "Pending") == 0)
		call->status = GW_PENDING;
	else if (pg_strcasecmp(st, "Failed") == 0 || pg_strcasecmp(st, "Cancelled") == 0)
	{
		char	   *what = psprintf("transaction %s", st);

		if (code)
			umeskia_apply_code(call, code, what);
		if (call->status != GW_FAILED)
		{
			/* no code, or one that contradicts the status: trust the status */
			call->status = GW_FAILED;
			call->retry = GW_RETRY_NO;
			call->error = code ? psprintf("%s (code %s)", what, code) : what;
		}
	}
	else
	{
		call->status = GW_UNKNOWN;
		call->retry = GW_RETRY_YES;
		call->error = psprintf("unrecognized transaction status \"%s\"", st);
	}
}

/* ---------------------------------------------------------- operations */

static const GwParamSpec sms_send_params[] = {
	{"recipient", GW_P_PHONE, true, "phone"},
	{"message", GW_P_MESSAGE, true, "message"},
	{"sender_id", GW_P_SENDER, false, NULL},
	{NULL}
};

static const GwParamSpec no_params[] = {
	{NULL}
};

static const GwParamSpec sms_status_params[] = {
	{"request_id", GW_P_TEXT, true, "request_id"},
	{NULL}
};

static const GwParamSpec stk_params[] = {
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"amount", GW_P_AMOUNT, true, NULL},
	{"reference", GW_P_TEXT, false, "reference"},
	{"account_id", GW_P_TEXT, false, NULL},
	{"description", GW_P_TEXT, false, NULL},	/* no such field: not sent */
	{NULL}
};

static const GwParamSpec payment_status_params[] = {
	{"transaction_id", GW_P_TEXT, true, "tranasaction_request_id"},
	{NULL}
};

static const GwParamSpec hotspot_plans_params[] = {
	{"station_id", GW_P_TEXT, true, "station_id"},
	{NULL}
};

static const GwParamSpec register_voucher_params[] = {
	{"plan_code", GW_P_TEXT, true, "plan_code"},
	{"voucher_code", GW_P_TEXT, true, "voucher_code"},
	{NULL}
};

static const GwOperation umeskia_ops[] = {
	{"sms.send", "Send one SMS", "POST", "/api/v1/sms",
	 sms_send_params, GW_OP_SMS,
	 umeskia_build_sms, umeskia_parse_sms},
	{"account.balance", "SMS credit balance", "POST", "/api/v1/smsbalance",
	 no_params, 0,
	 umeskia_build, umeskia_parse_balance},
	{"sms.status", "Delivery status of a sent SMS, by its request_id", "POST",
	 "/api/v1/smsdelivery",
	 sms_status_params, 0,
	 umeskia_build, umeskia_parse_sms_status},
	{"payment.stk_push", "Prompt a phone to pay by M-Pesa (UMS Pay STK push)", "POST",
	 "/api/v1/intiatestk",
	 stk_params, GW_OP_PAYMENT,
	 umeskia_build_stk, umeskia_parse_stk,
	 /* the status query takes Umeskia's transaction id, never our key */
	 .key_param = "reference", .reconcile_op = NULL},
	{"payment.status", "Status of an STK push, by Umeskia's transaction id", "POST",
	 "/api/v1/transactionstatus",
	 payment_status_params, 0,
	 umeskia_build, umeskia_parse_payment_status},
	{"isp.hotspot_plans", "Hotspot plans of an ISP billing station", "POST",
	 "/api/v1/isp/hostspotplans",
	 hotspot_plans_params, 0,
	 umeskia_build, umeskia_parse_done},
	{"isp.register_voucher", "Register a hotspot voucher on a plan", "POST",
	 "/api/v1/isp/registervoucher",
	 register_voucher_params, 0,
	 umeskia_build, umeskia_parse_done},
};

static const char *const umeskia_credentials[] = {"api_key", "email", NULL};

const GwProvider gw_umeskia = {
	.name = "umeskia",
	.base_url = "https://api.umeskiasoftwares.com",
	.credentials = umeskia_credentials,
	.ops = umeskia_ops,
	.nops = lengthof(umeskia_ops),
	.sms_op = "sms.send",
	.stk_op = "payment.stk_push",
	.balance_op = "account.balance",
};
