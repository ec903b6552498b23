/*
 * nenasasa.c: Nenasasa (nenasasa.com/api/v1), the Bulk SMS API with OAuth
 * 2.0.  SMS go as JSON {chid, message, alias, msisdn} with "Authorization:
 * Bearer <access_token>" to the account option sms_path (default sms/send:
 * the document names the endpoint only "/SEND SMS").  Answers carry
 * response_status and overall_status ("00": sent), last_response and
 * action_id.
 *
 * The token is this driver's own business.  A password grant at /token
 * (client_id, username, password) gives an access token, its lifetime
 * (expires_in, 36000 s) and a refresh token.  It is cached per account in
 * gateway.account_token for every call and backend, renewed with the
 * refresh grant shortly before it expires (with the password when the
 * refresh token is refused), and fetched anew once when the API answers 401.
 * A token call that fails ends the call unsent, with the token call's
 * answer as its outcome.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "account.h"
#include "cost.h"
#include "jsonutil.h"
#include "provider.h"
#include "token.h"

#define NENASASA_SMS_PATH	"sms/send"
#define NENASASA_LIFETIME	36000	/* seconds, when expires_in is absent */

/* The SMS endpoint: base_url and the account option sms_path. */
static void
nenasasa_sms_url(GwCall *call)
{
	char	   *path = gw_account_option(call->account, "sms_path");
	bool		bad;

	if (path == NULL)
		path = NENASASA_SMS_PATH;
	while (*path == '/')
		path++;
	bad = (*path == '\0' || strstr(path, "://") != NULL);
	for (const char *c = path; *c; c++)
		if ((unsigned char) *c <= ' ')
			bad = true;
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("account option sms_path \"%s\" is not a path relative to base_url",
						gw_account_option(call->account, "sms_path")),
				 errhint("For example \"sms/send\", which sends to <base_url>/sms/send.")));
	resetStringInfo(&call->url);
	appendStringInfo(&call->url, "%s/%s", call->account->base_url, path);
}

/* Send one SMS: chid and alias from the params, else the account options. */
static void
nenasasa_build_sms(GwCall *call)
{
	GwJsonWriter w;
	char	   *chid = gw_param(call, "chid");
	char	   *alias = gw_default_sender(call, NULL);

	if (chid == NULL)
		chid = gw_account_option(call->account, "chid");
	if (chid == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required param \"chid\" for nenasasa operation sms.send"),
				 errhint("Pass {\"chid\": \"...\"} (the channel id Nenasasa gave you) or set the account option chid.")));
	if (alias == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required param \"sender_id\" for nenasasa operation sms.send"),
				 errhint("Pass {\"sender_id\": \"...\"} or set the account option sender_id.")));

	nenasasa_sms_url(call);
	call->content_type = "application/json";
	gw_jw_begin(&w, &call->body);
	gw_jw_str(&w, "chid", chid);
	gw_jw_str(&w, "message", gw_param(call, "message"));
	gw_jw_str(&w, "alias", alias);
	gw_jw_str(&w, "msisdn", gw_param(call, "recipient"));
	gw_jw_end(&w);
}

/*
 * The request to /token: the refresh grant when refresh_token is given,
 * else the password grant.  Its strings in the current memory context; the
 * body holds the password: wipe it once sent.
 */
static void
nenasasa_token_request(const GwAccount *acc, const char *refresh_token, GwHttpRequest *req)
{
	StringInfoData url;
	StringInfoData body;
	GwJsonWriter w;

	initStringInfo(&url);
	appendStringInfo(&url, "%s/token", acc->base_url);
	initStringInfo(&body);
	gw_jw_begin(&w, &body);
	gw_jw_str(&w, "client_id", gw_account_credential(acc, "client_id"));
	gw_jw_str(&w, "username", gw_account_credential(acc, "username"));
	gw_jw_str(&w, "password", gw_account_credential(acc, "password"));
	gw_jw_str(&w, "grant_type", refresh_token ? "refresh_token" : "password");
	if (refresh_token)
		gw_jw_str(&w, "refresh_token", refresh_token);
	gw_jw_end(&w);

	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->url = url.data;
	req->body = body.data;
	req->body_len = body.len;
	req->content_type = "application/json";
}

/*
 * Read /token's answer: true with *tok filled (the tokens wiped from the
 * answer); false with resp->error set for a network failure.
 */
static bool
nenasasa_token_answer(GwHttpResponse *resp, TimestampTz fetched_at, GwToken *tok)
{
	if (resp->net_error != GW_NET_OK)
	{
		resp->error = psprintf("token request failed: %s",
							   resp->error ? resp->error : "no answer");
		return false;
	}
	if (resp->status >= 200 && resp->status < 300 && resp->body)
	{
		Jsonb	   *json = gw_json_parse(resp->body, resp->body_len);
		char	   *access = gw_jsonb_get_text(json, "access_token");
		char	   *refresh = gw_jsonb_get_text(json, "refresh_token");
		char	   *expires_in = gw_jsonb_get_text(json, "expires_in");
		double		secs = expires_in ? strtod(expires_in, NULL) : 0;

		/* the answer holds the tokens: it goes no further */
		explicit_bzero(resp->body, resp->body_len);
		resp->body_len = 0;
		if (access == NULL || access[0] == '\0')
			return false;
		if (!(secs > 0))
			secs = NENASASA_LIFETIME;
		secs = Min(secs, 1e9);
		tok->access_token = access;
		tok->refresh_token = (refresh && refresh[0]) ? refresh : NULL;
		tok->fetched_at = fetched_at;
		tok->expires_at = fetched_at + (TimestampTz) (secs * USECS_PER_SEC);
		return true;
	}
	return false;
}


/* Ask /token for a token, now; as nenasasa_token_answer. */
static bool
nenasasa_token_call(const GwAccount *acc, const char *refresh_token,
					GwToken *tok, GwHttpResponse *resp)
{
	TimestampTz fetched_at = GetCurrentTimestamp();
	GwHttpRequest req;

	nenasasa_token_request(acc, refresh_token, &req);
	gw_http_perform(&req, resp);
	explicit_bzero((char *) req.body, req.body_len);
	return nenasasa_token_answer(resp, fetched_at, tok);
}

/* A refresh token the provider refused outright (not a busy or broken server). */
static bool
nenasasa_refused(const GwHttpResponse *resp)
{
	return resp->net_error == GW_NET_OK &&
		resp->status >= 400 && resp->status < 500 && resp->status != 429;
}

/*
 * The authorize hook: the cached token while it is fresh; else a refreshed
 * one, or, after a 401 (refresh), one fetched with the password.
 */
static void
nenasasa_authorize(GwCall *call, bool refresh)
{
	const GwAccount *acc = call->account;
	TimestampTz now = GetCurrentTimestamp();
	GwToken		cached;
	GwToken		tok;
	bool		have = gw_token_load(acc, &cached);

	if (have)
	{
		call->secrets = lappend(call->secrets, cached.access_token);
		if (cached.refresh_token)
			call->secrets = lappend(call->secrets, cached.refresh_token);
	}

	if (have && !refresh && !gw_token_due(&cached, now))
		tok = cached;
	else
	{
		bool		use_refresh = have && !refresh && cached.refresh_token != NULL;
		GwHttpResponse resp;
		bool		ok;

		ok = nenasasa_token_call(acc, use_refresh ? cached.refresh_token : NULL, &tok, &resp);
		if (!ok && use_refresh && nenasasa_refused(&resp))
			ok = nenasasa_token_call(acc, NULL, &tok, &resp);
		if (ok)
		{
			gw_token_store(acc, &tok);
			call->secrets = lappend(call->secrets, tok.access_token);
			if (tok.refresh_token)
				call->secrets = lappend(call->secrets, tok.refresh_token);
		}
		else if (have && !refresh && now < cached.expires_at)
			tok = cached;		/* renewing early failed; it still works */
		else
		{
			call->resp = resp;
			call->unsendable = true;
			return;
		}
	}

	if (call->authorization)
		explicit_bzero(call->authorization, strlen(call->authorization));
	call->authorization = psprintf("Bearer %s", tok.access_token);
}

/* Give a built call a token the worker fetched. */
static void
nenasasa_authorize_with(GwCall *call, const GwToken *tok)
{
	call->secrets = lappend(call->secrets, pstrdup(tok->access_token));
	if (tok->refresh_token)
		call->secrets = lappend(call->secrets, pstrdup(tok->refresh_token));
	if (call->authorization)
		explicit_bzero(call->authorization, strlen(call->authorization));
	call->authorization = psprintf("Bearer %s", tok->access_token);
}

/* The token call failed: say why; the result maps its HTTP status. */
static void
nenasasa_parse_token(GwCall *call)
{
	long		http = call->resp.status;
	char	   *err = gw_jsonb_get_text(call->json, "error");
	char	   *desc = gw_jsonb_get_text(call->json, "error_description");

	if (desc == NULL)
		desc = gw_jsonb_get_text(call->json, "detail");
	if (http >= 200 && http < 300)
	{
		call->malformed = true;
		call->error = psprintf("token request failed: no access_token in the answer (HTTP %ld)", http);
	}
	else if (desc && err)
		call->error = psprintf("token request failed: %s (%s, HTTP %ld)", desc, err, http);
	else if (desc || err)
		call->error = psprintf("token request failed: %s (HTTP %ld)", desc ? desc : err, http);
	else
		call->error = psprintf("token request failed (HTTP %ld)", http);
}

static void
nenasasa_parse(GwCall *call)
{
	long		http = call->resp.status;
	char	   *overall;
	char	   *response;
	char	   *last;
	char	   *code;
	static const char *const debit[] = {"response", "debit_float", NULL};

	if (call->unsendable)
	{
		nenasasa_parse_token(call);
		return;
	}
	overall = gw_jsonb_get_text(call->json, "overall_status");
	response = gw_jsonb_get_text(call->json, "response_status");
	last = gw_jsonb_get_text(call->json, "last_response");
	if (last == NULL)
		last = gw_jsonb_get_text(call->json, "detail");
	call->provider_ref = gw_jsonb_get_text(call->json, "action_id");
	/* response.debit_float: "Float Debited with: 1.00 balance: 80000.00" */
	call->cost = gw_cost_after(gw_jsonb_path_text(call->json, debit), "Float Debited with:");

	if (http < 200 || http >= 300)
	{
		if (last)
			call->error = psprintf("%s (HTTP %ld)", last, http);
		return;
	}
	if (overall == NULL && response == NULL)
	{
		call->malformed = true;
		return;
	}
	/* sent when every status the answer gives is "00" */
	code = (overall && strcmp(overall, "00") != 0) ? overall :
		(response && strcmp(response, "00") != 0) ? response : NULL;
	if (code == NULL)
	{
		call->status = GW_ACCEPTED;
		return;
	}
	call->status = GW_REJECTED;
	call->error = last ? psprintf("%s (status %s)", last, code)
		: psprintf("nenasasa status %s", code);
}

static const GwParamSpec sms_send_params[] = {
	{"recipient", GW_P_PHONE, true, NULL},
	{"message", GW_P_MESSAGE, true, NULL},
	{"sender_id", GW_P_SENDER, false, NULL},
	{"chid", GW_P_TEXT, false, NULL},
	{NULL}
};

static const GwOperation nenasasa_ops[] = {
	{"sms.send", "Send one SMS (to the account option sms_path, default sms/send)",
	 "POST", "/" NENASASA_SMS_PATH,
	 sms_send_params, GW_OP_SMS,
	 nenasasa_build_sms, nenasasa_parse},
};

static const char *const nenasasa_credentials[] = {"client_id", "username", "password", NULL};

const GwProvider gw_nenasasa = {
	.name = "nenasasa",
	.base_url = "https://nenasasa.com/api/v1",
	.credentials = nenasasa_credentials,
	.ops = nenasasa_ops,
	.nops = lengthof(nenasasa_ops),
	.sms_op = "sms.send",
	.stk_op = NULL,
	.balance_op = NULL,
	.authorize = nenasasa_authorize,
	.token_request = nenasasa_token_request,
	.token_answer = nenasasa_token_answer,
	.authorize_with = nenasasa_authorize_with,
};
