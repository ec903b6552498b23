/*
 * fuzz_responses.c: a provider's answer, whatever its bytes, through the
 * path every answer takes (gw_call_complete: redaction, JSON parsing, the
 * operation's parser, the result).  It never raises an ERROR, its result has
 * the one shape, and no secret of the account comes out in it.
 *
 * Input: byte 0 picks the operation (of all providers, in gw_operations()
 * order), byte 1 the HTTP status, byte 2 bit 0 the token path (the call was
 * unsendable, the answer is the token call's); the rest is the body.
 */
#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "account.h"
#include "gw_fuzz.h"
#include "jsonutil.h"
#include "provider.h"
#include "request.h"

static const long gw_statuses[] = {
	200, 200, 200, 200, 201, 202, 204, 302, 400, 401, 402, 403, 404, 405,
	409, 420, 422, 429, 500, 502, 503, 504, 100, 299
};

/* Every provider's account: fz_<provider> (made by fuzz/run.sh). */
static const GwAccount *gw_accounts[16];

/* Params each operation is prepared with, by global operation index. */
static Jsonb *gw_params[128];

/* A value a param of this name and type can take. */
static const char *
responses_param(const GwParamSpec *s)
{
	if (strcmp(s->name, "messages") == 0)
		return "[{\"recipient\": \"0712345678\", \"message\": \"Hi\"}]";
	if (strcmp(s->name, "rewards") == 0)
		return "[{\"phone\": \"0712345678\", \"amount\": 50}]";
	switch (s->type)
	{
		case GW_P_PHONE:
			return "\"0712345678\"";
		case GW_P_PHONES:
			return "\"0712345678,0712345679\"";
		case GW_P_INT:
			return "4";
		case GW_P_AMOUNT:
			return "100";
		case GW_P_MESSAGE:
			return "\"Hi Amina\"";
		case GW_P_SENDER:
			return "\"GATEWAY\"";
		default:
			return "\"fz-1\"";
	}
}

/* The accounts, and params that every operation's builder takes. */
static void
responses_setup(void)
{
	int			np;
	const GwProvider *const *ps = gw_providers(&np);
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	int			k = 0;

	for (int i = 0; i < np && i < lengthof(gw_accounts); i++)
	{
		gw_accounts[i] = gw_account_copy(gw_account_get(psprintf("fz_%s", ps[i]->name)));
		for (int j = 0; j < ps[i]->nops && k < lengthof(gw_params); j++, k++)
		{
			StringInfoData buf;
			GwCall		call;
			bool		first = true;

			initStringInfo(&buf);
			appendStringInfoChar(&buf, '{');
			for (const GwParamSpec *s = ps[i]->ops[j].params; s->name; s++)
			{
				if (!s->required)
					continue;
				appendStringInfo(&buf, "%s\"%s\": %s", first ? "" : ", ", s->name, responses_param(s));
				first = false;
			}
			appendStringInfoChar(&buf, '}');
			gw_params[k] = gw_json_parse(buf.data, buf.len);
			/* an ERROR here is the harness's, not a finding */
			gw_call_prepare(&call, gw_accounts[i], ps[i]->ops[j].name, gw_params[k]);
		}
	}
	MemoryContextSwitchTo(old);
}

static void
responses_check(const GwAccount *acc, Jsonb *result)
{
	char	   *text = JsonbToCString(NULL, &result->root, VARSIZE(result));
	char	   *status = gw_jsonb_get_text(result, "status");
	char	   *ok = gw_jsonb_get_text(result, "ok");

	if (status == NULL || ok == NULL)
		gw_fuzz_fail("result without status or ok: %s", text);
	if ((strcmp(ok, "true") == 0) !=
		(strcmp(status, "accepted") == 0 || strcmp(status, "delivered") == 0 ||
		 strcmp(status, "pending") == 0))
		gw_fuzz_fail("ok and status disagree: %s", text);
	for (int i = 0; i < acc->nsecrets; i++)
		if (strstr(text, acc->secrets[i]) != NULL)
			gw_fuzz_fail("secret %d of %s in the result: %s", i, acc->name, text);
}

static void
responses_run(const uint8 *data, size_t size)
{
	int			np;
	const GwProvider *const *ps = gw_providers(&np);
	int			pick;
	int			total = 0;
	const GwAccount *acc = NULL;
	const GwOperation *op = NULL;
	GwCall		call;
	char	   *body;

	if (size < 3)
		return;
	pick = data[0];
	/* the operation: pick modulo the number of operations */
	for (int i = 0; i < np; i++)
		total += ps[i]->nops;
	pick %= total;
	for (int i = 0; i < np; i++)
	{
		if (pick < ps[i]->nops)
		{
			acc = gw_accounts[i];
			op = &ps[i]->ops[pick];
			break;
		}
		pick -= ps[i]->nops;
	}
	/* the request as the builder makes it: the parser may read what it left */
	gw_call_prepare(&call, acc, op->name, gw_params[data[0] % total]);
	call.unsendable = (data[2] & 1) && acc->provider->authorize != NULL;

	/* the body, NUL-terminated like http.c's, in a block of its own size */
	body = gw_fuzz_cstring(data + 3, size - 3, false);
	call.resp.status = gw_statuses[data[1] % lengthof(gw_statuses)];
	call.resp.body = body;
	call.resp.body_len = size - 3;
	call.resp.elapsed_ms = 1.5;

	responses_check(acc, gw_call_complete(&call));
}

const GwFuzzTarget gw_fuzz_responses = {
	.name = "responses",
	.setup = responses_setup,
	.run = responses_run,
};
