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

/*
 * UMS Pay's code table: the result codes (ResponseCode, TransactionCode:
 * M-Pesa's) and the TransactionStatus values, compared without case.  Every
 * answer and callback about a payment is read with it, and only with it.
 */
typedef struct UmeskiaCode
{
	const char *word;
	GwStatus	status;			/* delivered: paid */
	GwRetry		retry;
	const char *desc;
} UmeskiaCode;

/*
 * A failure is retryable when the prompt never reached the customer (phone
 * unreachable, push error) or another prompt was in the way; not when the
 * customer answered (cancelled, no funds, let it expire) or the account is
 * misconfigured.  Code 0 says paid only with a receipt: without one it is
 * the push's own acknowledgement ("accepted for processing"), pending.
 */
static const UmeskiaCode umeskia_codes[] = {
	{"0", GW_DELIVERED, GW_RETRY_NO, "Success. Request accepted for processing"},
	{"1", GW_FAILED, GW_RETRY_NO, "The balance is insufficient for the transaction."},
	{"1031", GW_FAILED, GW_RETRY_NO, "Request cancelled by user"},
	{"1032", GW_FAILED, GW_RETRY_NO, "Request cancelled by user"},
	{"1037", GW_FAILED, GW_RETRY_YES, "DS timeout user cannot be reached"},
	{"1025", GW_FAILED, GW_RETRY_YES, "An error occurred while sending a push request"},
	{"9999", GW_FAILED, GW_RETRY_YES, "An error occurred while sending a push request."},
	{"2001", GW_FAILED, GW_RETRY_NO, "The initiator information is invalid."},
	{"1019", GW_FAILED, GW_RETRY_NO, "Transaction has expired"},
	{"1001", GW_FAILED, GW_RETRY_YES,
	"Unable to lock subscriber, a transaction is already in process for the current subscriber"},
	/* TransactionStatus */
	{"Completed", GW_DELIVERED, GW_RETRY_NO, "transaction completed"},
	{"Pending", GW_PENDING, GW_RETRY_NO, "transaction pending"},
	{"Failed", GW_FAILED, GW_RETRY_NO, "transaction failed"},
	{"Cancelled", GW_FAILED, GW_RETRY_NO, "transaction cancelled"},
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
umeskia_code(const char *word)
{
	if (word == NULL)
		return NULL;
	while (*word == ' ')
		word++;
	for (int i = 0; i < lengthof(umeskia_codes); i++)
		if (pg_strcasecmp(umeskia_codes[i].word, word) == 0)
			return &umeskia_codes[i];
	return NULL;
}

static char *
umeskia_nonempty(Jsonb *jb, const char *key)
{
	char	   *v = gw_jsonb_get_text(jb, key);

	return (v && v[0] != '\0') ? v : NULL;
}

/*
 * A payment result: a callback dump (ResponseCode) or a transaction status
 * (TransactionStatus, TransactionCode).  Its status from the code table,
 * what it says was paid, the provider's code and words.  A status wins over
 * a code that contradicts it; an unknown status or code is not paid.
 */
static void
umeskia_read_payment(Jsonb *body, GwInbound *in, GwRetry *retry)
{
	char	   *st = umeskia_nonempty(body, "TransactionStatus");
	char	   *code = umeskia_nonempty(body, "ResponseCode");
	const UmeskiaCode *c_st;
	const UmeskiaCode *c_code;

	if (code == NULL)
		code = umeskia_nonempty(body, "TransactionCode");
	in->code = st ? st : code;
	in->description = umeskia_nonempty(body, "ResponseDescription");
	if (in->description == NULL)
		in->description = umeskia_nonempty(body, "ResultDesc");
	in->paid.incoming = true;
	in->paid.receipt_expected = true;
	in->paid.amount = umeskia_nonempty(body, "TransactionAmount");
	in->paid.receipt = umeskia_nonempty(body, "TransactionReceipt");
	in->paid.phone = umeskia_nonempty(body, "Msisdn");
	*retry = GW_RETRY_NO;

	c_st = umeskia_code(st);
	c_code = umeskia_code(code);
	if (st != NULL && c_st == NULL)
	{
		in->status = GW_UNKNOWN;
		*retry = GW_RETRY_YES;
		in->description = psprintf("unrecognized transaction status \"%s\"", st);
		return;
	}
	if (c_st != NULL)
	{
		in->status = c_st->status;
		/* a failure's code says why, and whether a new prompt may help */
		if (c_st->status == GW_FAILED && c_code && c_code->status == GW_FAILED)
		{
			*retry = c_code->retry;
			in->description = psprintf("%s (code %s)", c_code->desc, code);
		}
		else if (c_st->status == GW_FAILED)
			in->description = code ? psprintf("transaction %s (code %s)", st, code)
				: psprintf("transaction %s", st);
		return;
	}
	if (code == NULL)
	{
		in->status = GW_UNKNOWN;
		in->error = "the payment result has neither ResponseCode, TransactionCode nor TransactionStatus";
		return;
	}
	if (c_code == NULL)
	{
		in->status = GW_FAILED;
		in->description = psprintf("%s (code %s)",
								   in->description ? in->description : "payment failed", code);
		return;
	}
	in->status = c_code->status;
	*retry = c_code->retry;
	if (in->status == GW_DELIVERED && in->paid.receipt == NULL && st == NULL)
		in->status = GW_PENDING;	/* the push was taken; nothing is paid yet */
	else if (in->status == GW_FAILED)
		in->description = psprintf("%s (code %s)", c_code->desc, code);
}

/* A payment result as the outcome of a call. */
static void
umeskia_apply_payment(GwCall *call)
{
	GwInbound	in = {0};
	GwRetry		retry;

	umeskia_read_payment(call->json, &in, &retry);
	if (in.error)
	{
		call->malformed = true;
		return;
	}
	call->status = in.status;
	call->retry = retry;
	call->paid = in.paid;
	if (in.status == GW_FAILED || in.status == GW_UNKNOWN)
		call->error = in.description;
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
	long		http = call->resp.status;

	if (http >= 200 && http < 300 && rcode != NULL &&
		gw_jsonb_get(call->json, "success") == NULL)
	{
		call->provider_ref = gw_jsonb_get_text(call->json, "TransactionID");
		call->match_key = call->provider_ref;
		umeskia_apply_payment(call);
		return;
	}
	if (!umeskia_verdict(call))
		return;
	call->status = GW_PENDING;
	call->provider_ref = gw_jsonb_get_text(call->json, "tranasaction_request_id");
	call->match_key = call->provider_ref;
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

/* Transaction status: read like a callback, with the same code table. */
static void
umeskia_parse_payment_status(GwCall *call)
{
	if (!umeskia_verdict(call))
		return;
	call->provider_ref = gw_jsonb_get_text(call->json, "TransactionID");
	if (call->provider_ref == NULL)
		call->provider_ref = gw_param(call, "transaction_id");
	umeskia_apply_payment(call);
}

/*
 * Payment callbacks: the callback dump or a transaction status body, found
 * by TransactionID (the push's tranasaction_request_id), else its
 * CheckoutRequestID.  Umeskia sends no delivery reports.
 */
static bool
umeskia_parse_callback(const char *kind, Jsonb *body, GwInbound *in)
{
	GwRetry		retry;
	GwJsonWriter w;
	StringInfoData buf;

	if (strcmp(kind, "payment") != 0)
		return false;
	in->key = umeskia_nonempty(body, "TransactionID");
	in->key2 = umeskia_nonempty(body, "CheckoutRequestID");
	umeskia_read_payment(body, in, &retry);
	if (in->error == NULL && in->key == NULL && in->key2 == NULL)
		in->error = "the payment result names no TransactionID or CheckoutRequestID";
	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, "transaction_date", umeskia_nonempty(body, "TransactionDate"));
	gw_jw_str(&w, "reference", umeskia_nonempty(body, "TransactionReference"));
	gw_jw_end(&w);
	in->detail = buf.data;
	return true;
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
	 .key_param = "reference", .reconcile_op = "payment.status",
	 .reconcile_param = "transaction_id", .reconcile_by_match_key = true},
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
	.parse_callback = umeskia_parse_callback,
};
