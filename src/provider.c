/*
 * provider.c: the provider registry and what every provider shares: finding
 * an operation, checking and normalizing params, building URLs.
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "account.h"
#include "callback.h"
#include "jsonutil.h"
#include "msisdn.h"
#include "provider.h"

static const GwProvider *const gw_provider_table[] = {
	&gw_vaspro,
	&gw_mspace,
	&gw_umeskia,
	&gw_vtpass,
	&gw_nenasasa,
};

const GwProvider *const *
gw_providers(int *n)
{
	*n = lengthof(gw_provider_table);
	return gw_provider_table;
}

const GwProvider *
gw_provider_find(const char *name)
{
	for (int i = 0; i < lengthof(gw_provider_table); i++)
		if (pg_strcasecmp(gw_provider_table[i]->name, name) == 0)
			return gw_provider_table[i];
	return NULL;
}

const GwOperation *
gw_operation_find(const GwProvider *p, const char *name)
{
	for (int i = 0; i < p->nops; i++)
		if (strcmp(p->ops[i].name, name) == 0)
			return &p->ops[i];
	return NULL;
}

/* The operation, or an ERROR listing the provider's operations. */
const GwOperation *
gw_operation_lookup(const GwProvider *p, const char *name)
{
	const GwOperation *op = name ? gw_operation_find(p, name) : NULL;
	StringInfoData all;

	if (op)
		return op;
	initStringInfo(&all);
	for (int i = 0; i < p->nops; i++)
		appendStringInfo(&all, "%s%s", i ? ", " : "", p->ops[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("provider \"%s\" has no operation \"%s\"", p->name, name ? name : ""),
			 errhint("Operations of %s: %s. gw_operations() lists them with their params.",
					 p->name, all.data)));
	return NULL;				/* keep compiler quiet */
}

static char *
gw_params_usage(const GwOperation *op)
{
	StringInfoData u;

	initStringInfo(&u);
	for (const GwParamSpec *s = op->params; s->name; s++)
		appendStringInfo(&u, "%s%s%s", u.len ? ", " : "", s->name,
						 s->required ? " (required)" : "");
	return u.len ? u.data : "no params";
}

static bool
gw_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/* Check one value against its spec; return it normalized. */
static char *
gw_param_normalize(GwCall *call, const GwParamSpec *spec, JsonbValue *v)
{
	const char *opname = call->op->name;
	char	   *text;

	if (spec->type == GW_P_JSON)
		return gw_jsonbvalue_text(v);
	if (v->type == jbvBinary)
	{
		if (spec->type == GW_P_PHONES && JsonContainerIsArray(v->val.binary.data))
		{
			/* an array of numbers: normalize each, join with commas */
			JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
			JsonbValue	e;
			JsonbIteratorToken tok;
			StringInfoData out;

			initStringInfo(&out);
			while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			{
				char	   *one;

				if (tok != WJB_ELEM)
					continue;
				one = gw_jsonbvalue_text(&e);
				if (one == NULL || e.type == jbvBinary)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("param \"%s\" of %s must hold phone numbers", spec->name, opname)));
				appendStringInfo(&out, "%s%s", out.len ? "," : "",
								 gw_msisdn_normalize_or_error(one, call->account->country));
			}
			if (out.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("param \"%s\" of %s must not be empty", spec->name, opname),
						 errhint("Give phone numbers as a JSON array or a comma-separated string.")));
			return out.data;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("param \"%s\" of %s must be a scalar, not a JSON object or array",
						spec->name, opname)));
	}
	text = gw_jsonbvalue_text(v);
	switch (spec->type)
	{
		case GW_P_TEXT:
		case GW_P_MESSAGE:
			if (gw_blank(text) && spec->type == GW_P_MESSAGE)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("message must not be empty"),
						 errhint("An SMS needs some text other than spaces.")));
			if (gw_blank(text))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("param \"%s\" of %s must not be empty", spec->name, opname),
						 errhint("Give %s a value, or leave it out if it is optional.", spec->name)));
			return text;
		case GW_P_SENDER:
			if (text[0] == '\0' || pg_mbstrlen(text) > 11)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("sender id \"%s\" must be 1 to 11 characters long", text),
						 errhint("Use the sender id (short code or alphanumeric name) the provider registered for you.")));
			return text;
		case GW_P_PHONE:
			return gw_msisdn_normalize_or_error(text, call->account->country);
		case GW_P_PHONES:
			{
				StringInfoData out;
				char	   *tok;
				char	   *save = NULL;

				initStringInfo(&out);
				for (tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				{
					if (gw_blank(tok))
						continue;
					appendStringInfo(&out, "%s%s", out.len ? "," : "",
									 gw_msisdn_normalize_or_error(tok, call->account->country));
				}
				if (out.len == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("param \"%s\" of %s must not be empty", spec->name, opname),
							 errhint("Give phone numbers as a JSON array or a comma-separated string.")));
				return out.data;
			}
		case GW_P_INT:
			{
				char	   *end;
				long long	n;

				errno = 0;
				n = strtoll(text, &end, 10);
				if (text[0] == '\0' || *end != '\0' || errno != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("param \"%s\" of %s must be an integer, not \"%s\"",
									spec->name, opname, text)));
				/* canonical digits: the value goes into JSON bodies unquoted */
				return psprintf("%lld", n);
			}
		case GW_P_AMOUNT:
			{
				char	   *end;
				double		d;

				errno = 0;
				d = strtod(text, &end);
				if (text[0] == '\0' || *end != '\0' || errno != 0 || !(d > 0) || isinf(d))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("param \"%s\" of %s must be a positive amount, not \"%s\"",
									spec->name, opname, text)));
				return text;
			}
		case GW_P_JSON:
			break;
	}
	return text;
}

/*
 * Check params against the operation: no unknown keys, every required one
 * present, each value of its type; fill call->pvals normalized.
 */
void
gw_params_check(GwCall *call, Jsonb *params)
{
	const GwOperation *op = call->op;
	int			n = 0;

	for (const GwParamSpec *s = op->params; s->name; s++)
		n++;
	call->pvals = palloc0(sizeof(char *) * (n + 1));

	if (params != NULL && !JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errhint("%s takes: %s.", op->name, gw_params_usage(op))));

	if (params != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&params->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		known = false;

			if (tok != WJB_KEY)
				continue;
			for (const GwParamSpec *s = op->params; s->name; s++)
				if (strlen(s->name) == v.val.string.len &&
					memcmp(s->name, v.val.string.val, v.val.string.len) == 0)
					known = true;
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown param \"%.*s\" for %s operation %s",
								v.val.string.len, v.val.string.val,
								call->account->provider->name, op->name),
						 errhint("%s takes: %s.", op->name, gw_params_usage(op))));
		}
	}

	for (int i = 0; i < n; i++)
	{
		const GwParamSpec *spec = &op->params[i];
		JsonbValue *v = gw_jsonb_get(params, spec->name);

		if (v == NULL)
		{
			if (spec->required)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("missing required param \"%s\" for %s operation %s",
								spec->name, call->account->provider->name, op->name),
						 errhint("%s takes: %s.", op->name, gw_params_usage(op))));
			continue;
		}
		call->pvals[i] = gw_param_normalize(call, spec, v);
	}
}

char *
gw_param(GwCall *call, const char *name)
{
	int			i = 0;

	for (const GwParamSpec *s = call->op->params; s->name; s++, i++)
		if (strcmp(s->name, name) == 0)
			return call->pvals[i];
	elog(ERROR, "operation %s has no param \"%s\"", call->op->name, name);
	return NULL;
}

char *
gw_param_find(GwCall *call, const char *name)
{
	int			i = 0;

	for (const GwParamSpec *s = call->op->params; s->name; s++, i++)
		if (strcmp(s->name, name) == 0)
			return call->pvals[i];
	return NULL;
}

void
gw_param_set(GwCall *call, const char *name, char *value)
{
	int			i = 0;

	for (const GwParamSpec *s = call->op->params; s->name; s++, i++)
		if (strcmp(s->name, name) == 0)
		{
			call->pvals[i] = value;
			return;
		}
	elog(ERROR, "operation %s has no param \"%s\"", call->op->name, name);
}

void
gw_call_url(GwCall *call, const char *path)
{
	resetStringInfo(&call->url);
	appendStringInfoString(&call->url, call->account->base_url);
	appendStringInfoString(&call->url, path);
}

/* The sender id: the param, else the account option, else the fallback. */
char *
gw_default_sender(GwCall *call, const char *fallback)
{
	char	   *s = gw_param(call, "sender_id");

	if (s == NULL)
		s = gw_account_option(call->account, "sender_id");
	return s ? s : (char *) fallback;
}

/*
 * The callback URL: the param, else the account option callback_url, else
 * the listener's URL for the operation's kind (payment or dlr), else NULL.
 */
char *
gw_callback(GwCall *call)
{
	char	   *s = gw_param(call, "callback_url");

	if (s == NULL)
		s = gw_account_option(call->account, "callback_url");
	/* else the listener's URL for this kind, when the listener is on */
	if (s == NULL)
		s = gw_callback_url_for(call->account,
								(call->op->flags & GW_OP_PAYMENT) ? "payment" : "dlr");
	return s;
}

/* Write every given param that has a provider field into the JSON body. */
void
gw_write_params(GwCall *call, GwJsonWriter *w)
{
	int			i = 0;

	for (const GwParamSpec *s = call->op->params; s->name; s++, i++)
	{
		const char *v = call->pvals[i];

		if (v == NULL || s->field == NULL)
			continue;
		if (s->type == GW_P_INT || s->type == GW_P_JSON)
			gw_jw_raw(w, s->field, v);
		else
			gw_jw_str(w, s->field, v);
	}
}

/* A fresh random identifier: prefix + 20 hex digits. */
char *
gw_random_id(const char *prefix)
{
	uint8		bytes[10];
	StringInfoData s;

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random identifier")));
	initStringInfo(&s);
	appendStringInfoString(&s, prefix);
	for (int i = 0; i < (int) sizeof(bytes); i++)
		appendStringInfo(&s, "%02x", bytes[i]);
	return s.data;
}
