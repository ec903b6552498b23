/*
 * vaspro.c: VasPro (api.vaspro.co.ke): JSON over POST, the API key in the
 * body as "apiKey" ("token" for the subscription APIs).  Answers carry
 * "code" (Success/Error), "statusDescription" and sometimes "data"; HTTP 200
 * is processed, 202 a duplicate of an earlier request, 400/402/404/420/422
 * refusals.
 */
#include "postgres.h"

#include <math.h>

#include "account.h"
#include "cost.h"
#include "jsonutil.h"
#include "msisdn.h"
#include "provider.h"

#define VASPRO_TOKEN_AUTH	0x100	/* subscription APIs: "token" */
#define VASPRO_SHORTCODE	0x200	/* takes shortCode (sender id) */
#define VASPRO_ENQUEUE		0x400	/* takes enqueue 0/1, 1 by default */
#define VASPRO_ASYNC		0x800	/* success means "started": the outcome
									 * comes later by callback (STK push) */

/*
 * VasPro's code table for what comes back by callback: the delivery report
 * statuses its document lists (deliveryStatus, compared without case) and
 * the M-Pesa result codes of the STK callbacks it forwards (ResultCode).
 * Anything else is recorded and changes nothing (a report), or is not paid
 * (a payment).
 */
typedef struct VasproCode
{
	const char *kind;			/* "dlr" or "payment" */
	const char *word;
	GwStatus	status;			/* dlr: delivered or failed (undelivered);
								 * payment: delivered (paid) or failed */
	const char *desc;
} VasproCode;

static const VasproCode vaspro_codes[] = {
	{"dlr", "DeliveredToNetwork", GW_DELIVERED, "delivered to the network"},
	{"dlr", "DeliveredToTerminal", GW_DELIVERED, "delivered to the phone"},
	{"dlr", "UserNotSubscribed", GW_FAILED, NULL},
	{"dlr", "InsufficientFunds", GW_FAILED, NULL},
	{"dlr", "MessageStatusIsOverdue", GW_FAILED, NULL},
	{"dlr", "NotSFCUser", GW_FAILED, NULL},
	{"dlr", "UserNotExist", GW_FAILED, NULL},
	{"dlr", "Invalid_Linkid", GW_FAILED, NULL},
	{"dlr", "UserInBlacklist", GW_FAILED, NULL},
	{"dlr", "DeliveryImpossible", GW_FAILED, NULL},
	{"dlr", "DeliveryUncertain", GW_FAILED, NULL},
	{"dlr", "UnknownSubscriber", GW_FAILED, NULL},
	{"dlr", "DeliveryFailure", GW_FAILED, NULL},
	{"dlr", "UserAbnormalState", GW_FAILED, NULL},
	{"dlr", "TeleserviceNotProvisioned", GW_FAILED, NULL},
	{"dlr", "DeliveryNotificationNotSupported", GW_FAILED, NULL},
	{"dlr", "QueueAuthorisationError", GW_FAILED, NULL},
	{"dlr", "InternalServerError", GW_FAILED, NULL},
	{"dlr", "UnknownServerError", GW_FAILED, NULL},
	{"payment", "0", GW_DELIVERED, "The service request is processed successfully."},
	{"payment", "1", GW_FAILED, "The balance is insufficient for the transaction."},
	{"payment", "1031", GW_FAILED, "Request cancelled by user"},
	{"payment", "1032", GW_FAILED, "Request cancelled by user"},
	{"payment", "1037", GW_FAILED, "DS timeout user cannot be reached"},
	{"payment", "1025", GW_FAILED, "An error occurred while sending a push request"},
	{"payment", "9999", GW_FAILED, "An error occurred while sending a push request."},
	{"payment", "2001", GW_FAILED, "The initiator information is invalid."},
	{"payment", "1019", GW_FAILED, "Transaction has expired"},
	{"payment", "1001", GW_FAILED,
	"Unable to lock subscriber, a transaction is already in process for the current subscriber"},
};

static const VasproCode *
vaspro_code(const char *kind, const char *word)
{
	if (word == NULL)
		return NULL;
	for (int i = 0; i < lengthof(vaspro_codes); i++)
		if (strcmp(vaspro_codes[i].kind, kind) == 0 &&
			pg_strcasecmp(vaspro_codes[i].word, word) == 0)
			return &vaspro_codes[i];
	return NULL;
}

static char *
vaspro_nonempty(Jsonb *jb, const char *key)
{
	char	   *v = gw_jsonb_get_text(jb, key);

	return (v && v[0] != '\0') ? v : NULL;
}

/* A delivery report: found by uniqueId (our key), else by correlator. */
static void
vaspro_read_dlr(Jsonb *body, GwInbound *in)
{
	char	   *st = vaspro_nonempty(body, "deliveryStatus");
	const VasproCode *c;
	GwJsonWriter w;
	StringInfoData buf;

	if (st == NULL)
		st = vaspro_nonempty(body, "deliveryState");
	in->key = vaspro_nonempty(body, "uniqueId");
	in->correlator = vaspro_nonempty(body, "correlator");
	if (in->key == NULL && in->correlator == NULL)
		in->error = "a delivery report needs uniqueId or correlator";
	in->code = st;
	c = vaspro_code("dlr", st);
	in->status = c ? c->status : GW_UNKNOWN;
	in->description = c && c->desc ? pstrdup(c->desc) : st;
	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, "delivery_status", gw_jsonb_get_text(body, "deliveryStatus"));
	gw_jw_str(&w, "delivery_state", gw_jsonb_get_text(body, "deliveryState"));
	gw_jw_str(&w, "correlator", in->correlator);
	gw_jw_str(&w, "reference_id", gw_jsonb_get_text(body, "referenceId"));
	gw_jw_str(&w, "timestamp", gw_jsonb_get_text(body, "timestamp"));
	gw_jw_end(&w);
	in->detail = buf.data;
}

/* M-Pesa's STK callback as VasPro forwards it: Body.stkCallback. */
static void
vaspro_read_payment(Jsonb *body, GwInbound *in)
{
	static const char *const stk_path[] = {"Body", "stkCallback", NULL};
	static const char *const items_path[] = {"Body", "stkCallback", "CallbackMetadata", "Item", NULL};
	char	   *stk_text = gw_jsonb_path_text(body, stk_path);
	char	   *items_text = gw_jsonb_path_text(body, items_path);
	char	   *date = NULL;
	Jsonb	   *stk;
	const VasproCode *c;
	GwJsonWriter w;
	StringInfoData buf;

	stk = stk_text ? gw_json_parse(stk_text, strlen(stk_text)) : NULL;
	if (stk == NULL || !JB_ROOT_IS_OBJECT(stk))
	{
		in->error = "not an M-Pesa STK callback: Body.stkCallback is missing";
		return;
	}
	in->key = vaspro_nonempty(stk, "CheckoutRequestID");
	if (in->key == NULL)
		in->error = "the payment result names no CheckoutRequestID";
	in->code = vaspro_nonempty(stk, "ResultCode");
	in->description = vaspro_nonempty(stk, "ResultDesc");
	in->paid.incoming = true;
	in->paid.receipt_expected = true;

	/* CallbackMetadata.Item: [{"Name": ..., "Value": ...}, ...] */
	if (items_text)
	{
		Jsonb	   *items = gw_json_parse(items_text, strlen(items_text));
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (items && JB_ROOT_IS_ARRAY(items) && !JB_ROOT_IS_SCALAR(items))
		{
			it = JsonbIteratorInit(&items->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				Jsonb	   *item;
				char	   *name;
				char	   *value;

				if (tok != WJB_ELEM || v.type != jbvBinary)
					continue;
				item = JsonbValueToJsonb(&v);
				if (!JB_ROOT_IS_OBJECT(item))
					continue;
				name = gw_jsonb_get_text(item, "Name");
				value = gw_jsonb_get_text(item, "Value");
				if (name == NULL)
					continue;
				if (strcmp(name, "Amount") == 0)
					in->paid.amount = value;
				else if (strcmp(name, "MpesaReceiptNumber") == 0)
					in->paid.receipt = value;
				else if (strcmp(name, "PhoneNumber") == 0)
					in->paid.phone = value;
				else if (strcmp(name, "TransactionDate") == 0)
					date = value;
			}
		}
	}

	c = vaspro_code("payment", in->code);
	if (in->error)
		in->status = GW_UNKNOWN;
	else if (in->code == NULL)
		in->error = "the payment result has no ResultCode";
	else if (c == NULL)
	{
		in->status = GW_FAILED;
		in->description = psprintf("%s (code %s)",
								   in->description ? in->description : "payment failed", in->code);
	}
	else
	{
		in->status = c->status;
		if (c->status == GW_FAILED)
			in->description = psprintf("%s (code %s)", c->desc, in->code);
	}
	initStringInfo(&buf);
	gw_jw_begin(&w, &buf);
	gw_jw_str(&w, "transaction_date", date);
	gw_jw_end(&w);
	in->detail = buf.data;
}

static bool
vaspro_parse_callback(const char *kind, Jsonb *body, GwInbound *in)
{
	if (strcmp(kind, "dlr") == 0)
		vaspro_read_dlr(body, in);
	else if (strcmp(kind, "payment") == 0)
		vaspro_read_payment(body, in);
	else
		return false;
	return true;
}

/* The value of an optional param, or NULL when the operation has none. */
static char *
vaspro_opt(GwCall *call, const char *name)
{
	for (const GwParamSpec *s = call->op->params; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return gw_param(call, name);
	return NULL;
}

static void
vaspro_begin(GwCall *call, GwJsonWriter *w)
{
	char	   *key = gw_account_credential(call->account, "api_key");
	char	   *enqueue = vaspro_opt(call, "enqueue");

	if (enqueue && strcmp(enqueue, "0") != 0 && strcmp(enqueue, "1") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"enqueue\" of %s must be 0 or 1, not %s", call->op->name, enqueue),
				 errhint("1 queues the messages at VasPro (the default), 0 sends them without queueing.")));

	gw_call_url(call, call->op->path);
	call->content_type = "application/json";
	gw_jw_begin(w, &call->body);
	gw_jw_str(w, (call->op->flags & VASPRO_TOKEN_AUTH) ? "token" : "apiKey", key);
	if (call->op->flags & VASPRO_SHORTCODE)
		gw_jw_str(w, "shortCode", gw_default_sender(call, "VasPro"));
	gw_write_params(call, w);
	if ((call->op->flags & VASPRO_ENQUEUE) && enqueue == NULL)
		gw_jw_int(w, "enqueue", 1);
}

/* The request's unique id: the param, else a fresh one, kept as the param
 * so that the outbox retries with the same id. */
static char *
vaspro_unique_id(GwCall *call)
{
	char	   *id = gw_param(call, "unique_id");

	if (id == NULL)
	{
		id = gw_random_id("gw");
		gw_param_set(call, "unique_id", id);
	}
	return id;
}

/* An amount as VasPro takes it: a whole number (the document's "integer"). */
static char *
vaspro_whole(GwCall *call, const char *what, const char *text)
{
	char	   *end;
	double		d;

	errno = 0;
	d = strtod(text, &end);
	if (text[0] == '\0' || *end != '\0' || errno != 0 || !(d > 0) || d != floor(d) || d >= 1e15)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of %s must be a positive whole amount, not \"%s\"",
						what, call->op->name, text),
				 errhint("VasPro takes amounts in whole units, e.g. 100.")));
	return psprintf("%.0f", d);
}

/* Scheduling params: both or neither; true when scheduled. */
static bool
vaspro_schedule(GwCall *call, char **date, char **time)
{
	*date = gw_param(call, "schedule_date");
	*time = gw_param(call, "schedule_time");
	if ((*date == NULL) != (*time == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule_date and schedule_time go together"),
				 errhint("Give both, e.g. {\"schedule_date\": \"2026-12-01\", \"schedule_time\": \"08:30\"}, or neither to send now.")));
	return *date != NULL;
}

/* ---------------------------------------------------------------------
 * Array params (sms.nested messages, rewards.bulk rewards): a non-empty
 * JSON array of objects with known keys, checked entry by entry.
 */
typedef struct VasproEntries
{
	GwCall	   *call;
	const char *param;
	const char *hint;
	int			n;
	JsonbContainer **items;
	int			current;		/* for the error context */
} VasproEntries;

static void
vaspro_entry_context(void *arg)
{
	VasproEntries *e = (VasproEntries *) arg;

	if (e->current >= 0)
		errcontext("%s[%d] of %s", e->param, e->current, e->call->op->name);
}

static void
vaspro_entries(GwCall *call, const char *param, const char *const *keys,
			   const char *hint, VasproEntries *e)
{
	char	   *text = gw_param(call, param);
	Jsonb	   *jb = gw_json_parse(text, strlen(text));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	e->call = call;
	e->param = param;
	e->hint = hint;
	e->n = 0;
	e->current = -1;
	if (jb == NULL || !JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb) || JB_ROOT_COUNT(jb) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"%s\" of %s must be a non-empty array of objects",
						param, call->op->name),
				 errhint("%s", hint)));
	e->items = palloc(sizeof(JsonbContainer *) * JB_ROOT_COUNT(jb));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbIterator *kit;
		JsonbValue	k;
		JsonbIteratorToken ktok;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] of %s must be an object", param, e->n, call->op->name),
					 errhint("%s", hint)));
		kit = JsonbIteratorInit(v.val.binary.data);
		while ((ktok = JsonbIteratorNext(&kit, &k, true)) != WJB_DONE)
		{
			bool		known = false;

			if (ktok != WJB_KEY)
				continue;
			for (const char *const *key = keys; *key; key++)
				if (strlen(*key) == k.val.string.len &&
					memcmp(*key, k.val.string.val, k.val.string.len) == 0)
					known = true;
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown key \"%.*s\" in %s[%d] of %s",
								k.val.string.len, k.val.string.val, param, e->n, call->op->name),
						 errhint("%s", hint)));
		}
		e->items[e->n++] = v.val.binary.data;
	}
}

/* A scalar of entry i as text, or NULL when absent (or null). */
static char *
vaspro_entry(VasproEntries *e, int i, const char *key, bool required)
{
	JsonbValue *v = getKeyJsonValueFromContainer(e->items[i], key, strlen(key), NULL);
	char	   *text;

	if (v == NULL || v->type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("missing \"%s\" in %s[%d] of %s", key, e->param, i, e->call->op->name),
					 errhint("%s", e->hint)));
		return NULL;
	}
	text = gw_jsonbvalue_text(v);
	if (v->type == jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" in %s[%d] of %s must be a scalar, not a JSON object or array",
						key, e->param, i, e->call->op->name),
				 errhint("%s", e->hint)));
	for (const char *c = text; *c; c++)
		if (!isspace((unsigned char) *c))
			return text;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" in %s[%d] of %s must not be empty", key, e->param, i, e->call->op->name),
			 errhint("%s", e->hint)));
	return NULL;				/* keep compiler quiet */
}

/* ------------------------------------------------------------ builders */

/* The body is the params and the key, nothing more. */
static void
vaspro_build_plain(GwCall *call)
{
	GwJsonWriter w;

	vaspro_begin(call, &w);
	gw_jw_end(&w);
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
	char	   *date;
	char	   *time;
	bool		scheduled = vaspro_schedule(call, &date, &time);
	StringInfoData contacts;
	GwJsonWriter cw;

	vaspro_begin(call, &w);
	gw_jw_str(&w, "origin", "API_INTERFACE");
	gw_jw_str(&w, "uniqueId", vaspro_unique_id(call));
	gw_jw_int(&w, "isScheduled", scheduled ? 1 : 2);
	if (scheduled)
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

/*
 * Nested SMS: messageData entries {recepient, message, uniqueId}, spelt as
 * the document spells them.  An entry without unique_id gets the request's
 * uniqueId and its position, so a retry carries the same ids.
 */
static void
vaspro_build_nested(GwCall *call)
{
	static const char *const keys[] = {"recipient", "message", "unique_id", NULL};
	GwJsonWriter w;
	char	   *cb = gw_callback(call);
	char	   *unique_id = vaspro_unique_id(call);
	VasproEntries e;
	ErrorContextCallback errcb;
	StringInfoData data;

	vaspro_entries(call, "messages", keys,
				   "Give {\"messages\": [{\"recipient\": \"0712345678\", \"message\": \"Hi Amina\", \"unique_id\": \"m-1\"}, ...]}; unique_id is optional.",
				   &e);
	errcb.callback = vaspro_entry_context;
	errcb.arg = &e;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	initStringInfo(&data);
	appendStringInfoChar(&data, '[');
	for (int i = 0; i < e.n; i++)
	{
		GwJsonWriter mw;
		char	   *id = vaspro_entry(&e, i, "unique_id", false);
		char	   *phone = vaspro_entry(&e, i, "recipient", true);
		char	   *message = vaspro_entry(&e, i, "message", true);

		e.current = i;
		phone = gw_msisdn_normalize_or_error(phone, call->account->country);
		e.current = -1;
		if (i > 0)
			appendStringInfoChar(&data, ',');
		gw_jw_begin(&mw, &data);
		gw_jw_str(&mw, "recepient", phone);
		gw_jw_str(&mw, "message", message);
		gw_jw_str(&mw, "uniqueId", id ? id : psprintf("%s-%d", unique_id, i + 1));
		gw_jw_end(&mw);
	}
	appendStringInfoChar(&data, ']');
	error_context_stack = errcb.previous;

	vaspro_begin(call, &w);
	gw_jw_raw(&w, "messageData", data.data);
	gw_jw_str(&w, "uniqueId", unique_id);
	if (cb)
		gw_jw_str(&w, "callbackURL", cb);
	gw_jw_end(&w);
}

/* Subscription broadcast to a product's subscribers. */
static void
vaspro_build_broadcast(GwCall *call)
{
	GwJsonWriter w;
	char	   *cb = gw_callback(call);
	char	   *date;
	char	   *time;
	bool		scheduled = vaspro_schedule(call, &date, &time);

	vaspro_begin(call, &w);
	gw_jw_str(&w, "origin", "API_MT");
	gw_jw_str(&w, "unique_id", vaspro_unique_id(call));
	gw_jw_int(&w, "is_scheduled", scheduled ? 1 : 2);
	if (scheduled)
	{
		gw_jw_str(&w, "scheduled_date", date);
		gw_jw_str(&w, "scheduled_time", time);
	}
	if (cb)
		gw_jw_str(&w, "callback_url", cb);
	gw_jw_end(&w);
}

/* M-Pesa STK push through VasPro checkout. */
static void
vaspro_build_stk(GwCall *call)
{
	GwJsonWriter w;
	char	   *cb = gw_callback(call);
	char	   *paybill = gw_param(call, "paybill");
	char	   *amount = vaspro_whole(call, "param \"amount\"", gw_param(call, "amount"));

	if (paybill == NULL)
		paybill = gw_account_option(call->account, "paybill");
	if (paybill == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required param \"paybill\" for vaspro operation payment.stk_push"),
				 errhint("Pass {\"paybill\": \"...\"} or set the account option paybill.")));
	vaspro_begin(call, &w);
	gw_jw_str(&w, "amount", amount);
	gw_jw_str(&w, "paybillNumber", paybill);
	/* checkout has no reference field: the reference describes the payment */
	if (gw_param(call, "description") == NULL && gw_param(call, "reference"))
		gw_jw_str(&w, "transactionDesc", gw_param(call, "reference"));
	if (cb)
		gw_jw_str(&w, "callbackURL", cb);
	gw_jw_end(&w);
}

/* Rewards transactions: enqueue is always 1, unique_id always given. */
static void
vaspro_build_transactions(GwCall *call)
{
	GwJsonWriter w;

	vaspro_begin(call, &w);
	gw_jw_int(&w, "enqueue", 1);
	gw_jw_str(&w, "unique_id", vaspro_unique_id(call));
	gw_jw_end(&w);
}

/* Airtime and electricity begin alike: unique_id and a whole amount. */
static void
vaspro_begin_reward(GwCall *call, GwJsonWriter *w)
{
	char	   *amount = vaspro_whole(call, "param \"amount\"", gw_param(call, "amount"));

	vaspro_begin(call, w);
	gw_jw_str(w, "unique_id", vaspro_unique_id(call));
	gw_jw_str(w, "amount", amount);
}

static void
vaspro_build_airtime(GwCall *call)
{
	GwJsonWriter w;

	vaspro_begin_reward(call, &w);
	gw_jw_end(&w);
}

/* Electricity: account type 1 prepaid (the default), 2 postpaid. */
static void
vaspro_build_electricity(GwCall *call)
{
	GwJsonWriter w;
	char	   *type = gw_param(call, "account_type");
	char	   *cb = gw_callback(call);

	if (type && strcmp(type, "1") != 0 && strcmp(type, "2") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"account_type\" of rewards.electricity must be 1 or 2, not %s", type),
				 errhint("1 is a prepaid meter (tokens, the default), 2 a postpaid account (VasPro lists it as unavailable).")));
	vaspro_begin_reward(call, &w);
	/* a string, as the document's examples write it */
	gw_jw_str(&w, "account_type", type ? type : "1");
	if (cb)
		gw_jw_str(&w, "callback", cb);
	gw_jw_end(&w);
}

/*
 * Bulk rewards: a utilityID and payload entries {phone, account, uniqueId,
 * amount}.  An entry without unique_id gets the request's unique_id and its
 * position, so a retry carries the same ids.
 */
static void
vaspro_build_rewards_bulk(GwCall *call)
{
	static const char *const keys[] = {"phone", "amount", "account", "unique_id", NULL};
	GwJsonWriter w;
	char	   *unique_id = vaspro_unique_id(call);
	char	   *utility = gw_param(call, "utility_id");
	bool		meter;
	VasproEntries e;
	ErrorContextCallback errcb;
	StringInfoData payload;

	if (strcmp(utility, "4") != 0 && strcmp(utility, "5") != 0 &&
		strcmp(utility, "6") != 0 && strcmp(utility, "7") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"utility_id\" of rewards.bulk must be 4, 5, 6 or 7, not %s", utility),
				 errhint("4 is airtime, 5 mobile data bundles, 6 KPLC prepaid tokens, 7 KPLC postpaid.")));
	meter = (strcmp(utility, "6") == 0 || strcmp(utility, "7") == 0);
	vaspro_entries(call, "rewards", keys,
				   "Give {\"rewards\": [{\"phone\": \"0712345678\", \"amount\": 50, \"account\": \"meter or account number\", \"unique_id\": \"r-1\"}, ...]}; account is required for KPLC (utility_id 6 and 7), unique_id is optional.",
				   &e);
	errcb.callback = vaspro_entry_context;
	errcb.arg = &e;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	initStringInfo(&payload);
	appendStringInfoChar(&payload, '[');
	for (int i = 0; i < e.n; i++)
	{
		GwJsonWriter pw;
		char	   *phone = vaspro_entry(&e, i, "phone", true);
		char	   *amount = vaspro_entry(&e, i, "amount", true);
		char	   *account = vaspro_entry(&e, i, "account", meter);
		char	   *id = vaspro_entry(&e, i, "unique_id", false);

		amount = vaspro_whole(call, psprintf("amount in rewards[%d]", i), amount);
		e.current = i;
		phone = gw_msisdn_normalize_or_error(phone, call->account->country);
		e.current = -1;
		if (i > 0)
			appendStringInfoChar(&payload, ',');
		gw_jw_begin(&pw, &payload);
		/* the document writes the phone and the amount as numbers */
		gw_jw_raw(&pw, "phone", phone);
		if (account)
			gw_jw_str(&pw, "account", account);
		gw_jw_str(&pw, "uniqueId", id ? id : psprintf("%s-%d", unique_id, i + 1));
		gw_jw_raw(&pw, "amount", amount);
		gw_jw_end(&pw);
	}
	appendStringInfoChar(&payload, ']');
	error_context_stack = errcb.previous;

	vaspro_begin(call, &w);
	gw_jw_int(&w, "enqueue", 1);
	gw_jw_str(&w, "unique_id", unique_id);
	gw_jw_raw(&w, "utilityID", utility);
	gw_jw_raw(&w, "payload", payload.data);
	gw_jw_end(&w);
}

/*
 * "code": "Success" is taken (a payment prompt: started), "Error" refused.
 * HTTP 202 is a duplicate of a request VasPro already took: taken, whatever
 * the code says.  Other statuses are result.c's business.
 */
static void
vaspro_parse(GwCall *call)
{
	static const char *const correlator[] = {"data", "correlator", NULL};
	static const char *const checkout[] = {"data", "CheckoutRequestID", NULL};
	static const char *const credits[] = {"data", "credits", NULL};
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
	/* the credits the request spent (data.credits: SMS parts billed) */
	call->cost = gw_cost_number(gw_jsonb_path_text(call->json, credits));
	if (call->provider_ref == NULL)
		call->provider_ref = gw_jsonb_path_text(call->json, checkout);
	/* an STK push's callback names its CheckoutRequestID */
	if (call->op->flags & GW_OP_PAYMENT)
		call->match_key = gw_jsonb_path_text(call->json, checkout);
	if (strcmp(code, "Success") == 0 || http == 202)
		call->status = (call->op->flags & VASPRO_ASYNC) ? GW_PENDING : GW_ACCEPTED;
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

static const GwParamSpec sms_nested_params[] = {
	{"messages", GW_P_JSON, true, NULL},
	{"sender_id", GW_P_SENDER, false, NULL},
	{"unique_id", GW_P_TEXT, false, NULL},
	{"callback_url", GW_P_TEXT, false, NULL},
	{"enqueue", GW_P_INT, false, "enqueue"},
	{NULL}
};

/* initiate and delete: one subscriber of one product */
static const GwParamSpec sub_member_params[] = {
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"product_id", GW_P_INT, true, "product_id"},
	{NULL}
};

static const GwParamSpec sub_products_params[] = {
	{"short_code", GW_P_TEXT, true, "short_code"},
	{"service_name", GW_P_TEXT, false, "service_name"},
	{"stop_keyword", GW_P_TEXT, false, "stop_keyword"},
	{"mt_cost", GW_P_TEXT, false, "mt_cost"},
	{"product_id", GW_P_INT, false, "product_id"},
	{"limit", GW_P_INT, false, "limit"},
	{"offset", GW_P_INT, false, "offset"},
	{NULL}
};

static const GwParamSpec sub_broadcast_params[] = {
	{"message", GW_P_MESSAGE, true, "message"},
	{"product_id", GW_P_TEXT, true, "product_id"},
	{"campaign_name", GW_P_TEXT, true, "campaign_name"},
	{"unique_id", GW_P_TEXT, false, NULL},
	{"schedule_date", GW_P_TEXT, false, NULL},
	{"schedule_time", GW_P_TEXT, false, NULL},
	{"retries", GW_P_INT, false, "number_of_retries"},
	{"callback_url", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwParamSpec contact_groups_params[] = {
	{"unique_id", GW_P_INT, false, "unique_id"},
	{"limit", GW_P_INT, false, "limit"},
	{NULL}
};

#define CONTACT_FIELDS \
	{"custom_field1", GW_P_TEXT, false, "custom_field1"}, \
	{"custom_field2", GW_P_TEXT, false, "custom_field2"}, \
	{"custom_field3", GW_P_TEXT, false, "custom_field3"}, \
	{"custom_field4", GW_P_TEXT, false, "custom_field4"}, \
	{"custom_field5", GW_P_TEXT, false, "custom_field5"}, \
	{"custom_tag", GW_P_TEXT, false, "custom_tag"}

static const GwParamSpec contact_add_params[] = {
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"group_id", GW_P_INT, true, "contact_groupId"},
	{"unique_id", GW_P_INT, true, "unique_id"},
	CONTACT_FIELDS,
	{NULL}
};

static const GwParamSpec contact_edit_params[] = {
	{"contact_id", GW_P_INT, true, "contact_id"},
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"group_id", GW_P_INT, true, "contact_groupId"},
	{"unique_id", GW_P_INT, true, "unique_id"},
	CONTACT_FIELDS,
	{NULL}
};

static const GwParamSpec stk_params[] = {
	{"phone", GW_P_PHONE, true, "phoneNumber"},
	{"amount", GW_P_AMOUNT, true, NULL},
	{"paybill", GW_P_TEXT, false, NULL},
	{"description", GW_P_TEXT, false, "transactionDesc"},
	{"reference", GW_P_TEXT, false, NULL},	/* transactionDesc when no description */
	{"callback_url", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwParamSpec rewards_view_params[] = {
	{"unique_id", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwParamSpec rewards_bulk_params[] = {
	{"utility_id", GW_P_INT, true, NULL},
	{"rewards", GW_P_JSON, true, NULL},
	{"unique_id", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwParamSpec airtime_params[] = {
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"amount", GW_P_AMOUNT, true, NULL},
	{"unique_id", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwParamSpec electricity_params[] = {
	{"phone", GW_P_PHONE, true, "msisdn"},
	{"amount", GW_P_AMOUNT, true, NULL},
	{"bill_reference", GW_P_TEXT, true, "bill_reference"},
	{"account_type", GW_P_INT, false, NULL},
	{"unique_id", GW_P_TEXT, false, NULL},
	{"callback_url", GW_P_TEXT, false, NULL},
	{NULL}
};

#define SMS_FLAGS (GW_OP_SMS | VASPRO_SHORTCODE | VASPRO_ENQUEUE)

static const GwOperation vaspro_ops[] = {
	{"sms.send", "Send one transactional SMS", "POST", "/v3/BulkSMS/api/create",
	 sms_send_params, SMS_FLAGS, vaspro_build_sms, vaspro_parse},
	{"sms.bulk", "Send one message to many recipients, now or scheduled", "POST",
	 "/v3/BulkSMS/bulk/create",
	 sms_bulk_params, SMS_FLAGS, vaspro_build_bulk, vaspro_parse,
	 .key_param = "unique_id"},
	{"sms.premium", "Send a premium (2-way) SMS in reply to a link_id", "POST",
	 "/v3/BulkSMS/premium/create",
	 sms_premium_params, SMS_FLAGS, vaspro_build_sms, vaspro_parse},
	{"sms.nested", "Send different messages to different recipients in one request", "POST",
	 "/v3/BulkSMS/bulk/nested",
	 sms_nested_params, SMS_FLAGS, vaspro_build_nested, vaspro_parse,
	 .key_param = "unique_id"},
	{"subscription.initiate", "Start the USSD opt-in of a phone to a premium product", "POST",
	 "/subscription/v3/manage",
	 sub_member_params, VASPRO_TOKEN_AUTH, vaspro_build_plain, vaspro_parse},
	{"subscription.products", "List premium subscription products", "POST",
	 "/subscription/sms/v3/fetch/products",
	 sub_products_params, VASPRO_TOKEN_AUTH, vaspro_build_plain, vaspro_parse},
	{"subscription.broadcast", "Send a message to the subscribers of a product", "POST",
	 "/subscription/sms/v3/create/broadcast",
	 sub_broadcast_params, GW_OP_SMS | VASPRO_TOKEN_AUTH, vaspro_build_broadcast, vaspro_parse,
	 .key_param = "unique_id"},
	{"subscription.delete", "Remove a subscriber from a product", "POST",
	 "/subscription/sms/v3/delete/sub",
	 sub_member_params, VASPRO_TOKEN_AUTH, vaspro_build_plain, vaspro_parse},
	{"contacts.groups", "List contact groups", "POST", "/v3/contact/api/groups",
	 contact_groups_params, 0, vaspro_build_plain, vaspro_parse},
	{"contacts.add", "Add a contact to a contact group", "POST", "/v3/contact/api/add",
	 contact_add_params, 0, vaspro_build_plain, vaspro_parse},
	{"contacts.edit", "Change a contact of a contact group", "POST", "/v3/contact/api/edit",
	 contact_edit_params, 0, vaspro_build_plain, vaspro_parse},
	{"payment.stk_push", "Prompt a phone to pay by M-Pesa (STK push)", "POST",
	 "/v3/checkout/mpesa",
	 stk_params, GW_OP_PAYMENT | VASPRO_ASYNC, vaspro_build_stk, vaspro_parse},
	{"rewards.transactions", "List rewards transactions (airtime, tokens)", "POST",
	 "/v3/rewards/view/transaction",
	 rewards_view_params, 0, vaspro_build_transactions, vaspro_parse},
	{"rewards.bulk", "Pay airtime, bundles or KPLC tokens to many phones", "POST",
	 "/v3/rewards/bulk",
	 rewards_bulk_params, GW_OP_PAYMENT, vaspro_build_rewards_bulk, vaspro_parse,
	 .key_param = "unique_id"},
	{"rewards.airtime", "Send airtime to a phone", "POST", "/v3/rewards/airtime",
	 airtime_params, GW_OP_PAYMENT, vaspro_build_airtime, vaspro_parse,
	 .key_param = "unique_id"},
	{"rewards.electricity", "Buy KPLC electricity tokens for a meter", "POST",
	 "/v3/rewards/electricity",
	 electricity_params, GW_OP_PAYMENT, vaspro_build_electricity, vaspro_parse,
	 .key_param = "unique_id"},
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
	.queue_sms_op = "sms.bulk",
	.stk_op = "payment.stk_push",
	.balance_op = NULL,
	.parse_callback = vaspro_parse_callback,
};
