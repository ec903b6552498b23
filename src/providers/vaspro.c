/*
 * vaspro.c: VasPro (api.vaspro.co.ke): JSON over POST, the API key in the
 * body as "apiKey" ("token" for the subscription APIs).  Answers carry
 * "code" (Success/Error), "statusDescription" and sometimes "data"; HTTP 200
 * is processed, 202 a duplicate of an earlier request, 400/402/404/420/422
 * refusals.
 */
#include "postgres.h"

#include "account.h"
#include "jsonutil.h"
#include "provider.h"

#define VASPRO_TOKEN_AUTH	0x100	/* subscription APIs: "token" */
#define VASPRO_SHORTCODE	0x200	/* takes shortCode (sender id) */
#define VASPRO_ENQUEUE		0x400	/* takes enqueue, 1 by default */

static void
vaspro_begin(GwCall *call, GwJsonWriter *w)
{
	char	   *key = gw_account_credential(call->account, "api_key");

	gw_call_url(call, call->op->path);
	call->content_type = "application/json";
	gw_jw_begin(w, &call->body);
	gw_jw_str(w, (call->op->flags & VASPRO_TOKEN_AUTH) ? "token" : "apiKey", key);
	if (call->op->flags & VASPRO_SHORTCODE)
		gw_jw_str(w, "shortCode", gw_default_sender(call, "VasPro"));
	gw_write_params(call, w);
	if ((call->op->flags & VASPRO_ENQUEUE) && gw_param(call, "enqueue") == NULL)
		gw_jw_int(w, "enqueue", 1);
}

/* Send transactional or premium SMS: one recipient. */
static void
vaspro_build_sms(GwCall *call)
{
	GwJsonWriter w;
	char	   *cb = gw_callback(call);

	vaspro_begin(call, &w);
	if (cb)
		gw_jw_str(&w, "callbackURL", cb);
	gw_jw_end(&w);
}

/* Bulk SMS: contacts.recipients, uniqueId, scheduling flags. */
static void
vaspro_build_bulk(GwCall *call)
{
	GwJsonWriter w;
	char	   *cb = gw_callback(call);
	char	   *unique_id = gw_param(call, "unique_id");
	char	   *date = gw_param(call, "schedule_date");
	char	   *time = gw_param(call, "schedule_time");
	StringInfoData contacts;
	GwJsonWriter cw;

	if ((date == NULL) != (time == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule_date and schedule_time go together"),
				 errhint("Give both, e.g. {\"schedule_date\": \"2026-12-01\", \"schedule_time\": \"08:30\"}, or neither to send now.")));

	if (unique_id == NULL)
	{
		unique_id = gw_random_id("gw");
		gw_param_set(call, "unique_id", unique_id);
	}
	vaspro_begin(call, &w);
	gw_jw_str(&w, "origin", "API_INTERFACE");
	gw_jw_str(&w, "uniqueId", unique_id);
	gw_jw_int(&w, "isScheduled", date ? 1 : 2);
	if (date)
	{
		gw_jw_str(&w, "scheduleDate", date);
		gw_jw_str(&w, "scheduleTime", time);
	}
	initStringInfo(&contacts);
	gw_jw_begin(&cw, &contacts);
	gw_jw_str(&cw, "recipients", gw_param(call, "recipients"));
	gw_jw_end(&cw);
	gw_jw_raw(&w, "contacts", contacts.data);
	if (cb)
		gw_jw_str(&w, "callbackURL", cb);
	gw_jw_end(&w);
}

/* M-Pesa STK push through VasPro checkout. */
static void
vaspro_build_stk(GwCall *call)
{
	GwJsonWriter w;
	char	   *cb = gw_callback(call);
	char	   *paybill = gw_param(call, "paybill");

	if (paybill == NULL)
		paybill = gw_account_option(call->account, "paybill");
	if (paybill == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required param \"paybill\" for vaspro operation payment.stk_push"),
				 errhint("Pass {\"paybill\": \"...\"} or set the account option paybill.")));
	vaspro_begin(call, &w);
	gw_jw_str(&w, "paybillNumber", paybill);
	if (cb)
		gw_jw_str(&w, "callbackURL", cb);
	gw_jw_end(&w);
}

static void
vaspro_parse(GwCall *call)
{
	static const char *const correlator[] = {"data", "correlator", NULL};
	static const char *const checkout[] = {"data", "CheckoutRequestID", NULL};
	long		http = call->resp.status;
	char	   *code = gw_jsonb_get_text(call->json, "code");
	char	   *desc = gw_jsonb_get_text(call->json, "statusDescription");

	if (desc)
		call->error = psprintf("%s (HTTP %ld)", desc, http);
	if (http < 200 || http >= 300)
		return;
	if (code == NULL)
	{
		call->malformed = true;
		return;
	}
	call->provider_ref = gw_jsonb_path_text(call->json, correlator);
	if (call->provider_ref == NULL)
		call->provider_ref = gw_jsonb_path_text(call->json, checkout);
	if (strcmp(code, "Success") == 0)
		call->status = (call->op->flags & GW_OP_PAYMENT) ? GW_PENDING : GW_ACCEPTED;
	else
		call->status = GW_REJECTED;
}

static const GwParamSpec sms_send_params[] = {
	{"recipient", GW_P_PHONE, true, "recipient"},
	{"message", GW_P_MESSAGE, true, "message"},
	{"sender_id", GW_P_SENDER, false, NULL},
	{"callback_url", GW_P_TEXT, false, NULL},
	{"enqueue", GW_P_INT, false, "enqueue"},
	{NULL}
};

static const GwParamSpec sms_bulk_params[] = {
	{"recipients", GW_P_PHONES, true, NULL},
	{"message", GW_P_MESSAGE, true, "message"},
	{"sender_id", GW_P_SENDER, false, NULL},
	{"unique_id", GW_P_TEXT, false, NULL},
	{"schedule_date", GW_P_TEXT, false, NULL},
	{"schedule_time", GW_P_TEXT, false, NULL},
	{"callback_url", GW_P_TEXT, false, NULL},
	{"enqueue", GW_P_INT, false, "enqueue"},
	{NULL}
};

static const GwParamSpec sms_premium_params[] = {
	{"recipient", GW_P_PHONE, true, "recipient"},
	{"message", GW_P_MESSAGE, true, "message"},
	{"link_id", GW_P_TEXT, true, "link_id"},
	{"sender_id", GW_P_SENDER, false, NULL},
	{"callback_url", GW_P_TEXT, false, NULL},
	{"enqueue", GW_P_INT, false, "enqueue"},
	{NULL}
};

static const GwParamSpec stk_params[] = {
	{"phone", GW_P_PHONE, true, "phoneNumber"},
	{"amount", GW_P_AMOUNT, true, "amount"},
	{"paybill", GW_P_TEXT, false, NULL},
	{"description", GW_P_TEXT, false, "transactionDesc"},
	{"callback_url", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwOperation vaspro_ops[] = {
	{"sms.send", "Send one transactional SMS", "POST", "/v3/BulkSMS/api/create",
	 sms_send_params, GW_OP_SMS | VASPRO_SHORTCODE | VASPRO_ENQUEUE,
	 vaspro_build_sms, vaspro_parse},
	{"sms.bulk", "Send one message to many recipients, now or scheduled", "POST",
	 "/v3/BulkSMS/bulk/create",
	 sms_bulk_params, GW_OP_SMS | VASPRO_SHORTCODE | VASPRO_ENQUEUE,
	 vaspro_build_bulk, vaspro_parse},
	{"sms.premium", "Send a premium (2-way) SMS in reply to a link_id", "POST",
	 "/v3/BulkSMS/premium/create",
	 sms_premium_params, GW_OP_SMS | VASPRO_SHORTCODE | VASPRO_ENQUEUE,
	 vaspro_build_sms, vaspro_parse},
	{"payment.stk_push", "Prompt a phone to pay by M-Pesa (STK push)", "POST",
	 "/v3/checkout/mpesa",
	 stk_params, GW_OP_PAYMENT,
	 vaspro_build_stk, vaspro_parse},
};

static const char *const vaspro_credentials[] = {"api_key", NULL};

const GwProvider gw_vaspro = {
	.name = "vaspro",
	.base_url = "https://api.vaspro.co.ke",
	.credentials = vaspro_credentials,
	.ops = vaspro_ops,
	.nops = lengthof(vaspro_ops),
	.rate_limit = 150,			/* "rate limited to 150 messages per second" */
	.sms_op = "sms.send",
	.stk_op = "payment.stk_push",
	.balance_op = NULL,
};
