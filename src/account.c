/*
 * account.c: the account registry as the C code sees it.
 *
 * Accounts are read with SPI as the extension owner (the only role that may
 * read credentials) and cached per backend.  A statement-level trigger on the
 * account tables sends a relcache invalidation for them at commit; our
 * callback only marks the cache stale, and the next lookup rebuilds it, so no
 * pointer handed out during a call is ever freed under its feet.
 */
#include "postgres.h"

#include <float.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "account.h"
#include "callback.h"
#include "http.h"
#include "jsonutil.h"
#include "mask.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_invalidate_account_cache);
PG_FUNCTION_INFO_V1(gw_check_account);

static MemoryContext gw_account_cxt = NULL;
static HTAB *gw_account_cache = NULL;
static bool gw_account_stale = false;
static bool gw_callback_registered = false;
static Oid	gw_account_relid = InvalidOid;
static Oid	gw_secret_relid = InvalidOid;
static SPIPlanPtr gw_lookup_plan = NULL;

/* gw_as_owner_begin's state: the security context in the low bits (see
 * miscadmin.h), the GUC nest level above them. */
#define GW_SEC_BITS 8
#define GW_SEC_MASK ((1 << GW_SEC_BITS) - 1)

static void
gw_account_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == gw_account_relid || relid == gw_secret_relid)
		gw_account_stale = true;
}

/* Drop every cached account (and the saved plan, whose tables may be gone). */
static void
gw_account_cache_reset(void)
{
	if (gw_account_cxt)
		MemoryContextReset(gw_account_cxt);
	else
		gw_account_cxt = AllocSetContextCreate(CacheMemoryContext,
											   "gateway account cache",
											   ALLOCSET_SMALL_SIZES);
	gw_account_cache = NULL;
	gw_account_stale = false;
	gw_account_relid = InvalidOid;
	gw_secret_relid = InvalidOid;
	if (gw_lookup_plan)
	{
		SPI_freeplan(gw_lookup_plan);
		gw_lookup_plan = NULL;
	}
}

static void
gw_account_cache_ensure(void)
{
	HASHCTL		ctl;
	Oid			nsp;

	if (!gw_callback_registered)
	{
		CacheRegisterRelcacheCallback(gw_account_relcache_cb, (Datum) 0);
		gw_callback_registered = true;
	}
	if (gw_account_stale || gw_account_cxt == NULL)
		gw_account_cache_reset();
	if (gw_account_cache != NULL)
		return;

	nsp = get_namespace_oid("gateway", true);
	if (OidIsValid(nsp))
	{
		gw_account_relid = get_relname_relid("account", nsp);
		gw_secret_relid = get_relname_relid("account_secret", nsp);
	}
	if (!OidIsValid(gw_account_relid) || !OidIsValid(gw_secret_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"gateway\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION gateway.")));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(GwAccount);
	ctl.hcxt = gw_account_cxt;
	gw_account_cache = hash_create("gateway accounts", 16, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Collect the credential strings that must never be shown. */
static void
gw_account_collect_secrets(GwAccount *acc)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap = 8;

	acc->secrets = palloc(sizeof(char *) * cap);
	acc->nsecrets = 0;
	if (acc->callback_token)
		acc->secrets[acc->nsecrets++] = pstrdup(acc->callback_token);
	it = JsonbIteratorInit(&acc->credentials->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *s;

		/* every length: see mask.h for how short ones are masked */
		if (tok != WJB_VALUE || v.type != jbvString || v.val.string.len == 0)
			continue;
		s = pnstrdup(v.val.string.val, v.val.string.len);
		if (acc->nsecrets + 4 > cap)
		{
			cap *= 2;
			acc->secrets = repalloc(acc->secrets, sizeof(char *) * cap);
		}
		acc->secrets[acc->nsecrets++] = s;
		/* its percent-encoded form, as it would stand in a URL */
		{
			StringInfoData e;

			initStringInfo(&e);
			gw_http_append_escaped(&e, s);
			if (strcmp(e.data, s) != 0)
				acc->secrets[acc->nsecrets++] = e.data;
		}
		/* its JSON-escaped forms, as a provider might echo it ("\/" too) */
		{
			StringInfoData e;

			initStringInfo(&e);
			escape_json(&e, s);
			e.data[e.len - 1] = '\0';	/* drop the quotes */
			if (strcmp(e.data + 1, s) != 0)
				acc->secrets[acc->nsecrets++] = pstrdup(e.data + 1);
			if (strchr(s, '/') != NULL)
			{
				StringInfoData f;

				initStringInfo(&f);
				for (const char *p = e.data + 1; *p; p++)
				{
					if (*p == '/')
						appendStringInfoChar(&f, '\\');
					appendStringInfoChar(&f, *p);
				}
				acc->secrets[acc->nsecrets++] = f.data;
			}
		}
	}
}

/* Whether key is a declared field of p followed by "_file"; the field's
 * name in *field. */
static bool
gw_credential_file_field(const GwProvider *p, const char *key, int keylen, const char **field)
{
	int			sl = strlen(GW_CREDENTIAL_FILE_SUFFIX);

	if (keylen <= sl || memcmp(key + keylen - sl, GW_CREDENTIAL_FILE_SUFFIX, sl) != 0)
		return false;
	for (const char *const *f = p->credentials; *f; f++)
		if (strlen(*f) == keylen - sl && memcmp(*f, key, keylen - sl) == 0)
		{
			*field = *f;
			return true;
		}
	return false;
}

/*
 * The account's credentials with every X_file field replaced by X, read
 * from its file (credfile.c); the files are noted in acc->files, so that a
 * rotated file is read again.  In the cache's memory context.
 */
static Jsonb *
gw_account_resolve_files(GwAccount *acc, Jsonb *cred)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;
	const char *field = NULL;
	int			n = 0;

	acc->nfiles = 0;
	acc->files = NULL;
	acc->credential_dir = pstrdup(gw_credential_dir ? gw_credential_dir : "");
	it = JsonbIteratorInit(&cred->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY &&
			gw_credential_file_field(acc->provider, v.val.string.val, v.val.string.len, &field))
			n++;
	if (n == 0)
		return cred;

	acc->files = palloc0(sizeof(GwFileStamp) * n);
	it = JsonbIteratorInit(&cred->root);
	field = NULL;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			field = NULL;
			if (gw_credential_file_field(acc->provider, key, strlen(key), &field))
			{
				v.val.string.val = (char *) field;
				v.val.string.len = strlen(field);
				field = key;	/* the X_file name, for errors */
			}
		}
		else if (tok == WJB_VALUE && field != NULL)
		{
			char	   *path;

			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("account \"%s\": credential field \"%s\" is not a path", acc->name, field)));
			path = pnstrdup(v.val.string.val, v.val.string.len);
			v.val.string.val = gw_credfile_read(acc->name, field, path, &acc->files[acc->nfiles++]);
			v.val.string.len = strlen(v.val.string.val);
			field = NULL;
		}
		res = pushJsonbValue(&state, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(res);
}

/* Whether a credential file of the cached account changed since it was read. */
static bool
gw_account_files_changed(const GwAccount *acc)
{
	if (acc->nfiles == 0)
		return false;
	if (strcmp(acc->credential_dir, gw_credential_dir ? gw_credential_dir : "") != 0)
		return true;
	for (int i = 0; i < acc->nfiles; i++)
		if (gw_credfile_changed(&acc->files[i]))
			return true;
	return false;
}

static void
gw_account_load(GwAccount *acc, const char *name)
{
	Oid			save_userid;
	int			save_sec;
	Datum		values[1];
	bool		isnull;
	int			rc;
	MemoryContext oldcxt;
	char	   *provider;
	char	   *base_url;
	Jsonb	   *options;
	Jsonb	   *credentials;

	/* Read as the owner of the secrets table: callers cannot read it. */
	gw_as_owner_begin(&save_userid, &save_sec);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_lookup_plan == NULL)
		/* paused_at through to_jsonb: the column is new in 0.4.0, and a
		 * database not updated yet still reads its accounts */
		gw_lookup_plan = gw_saved_plan("SELECT a.provider, a.base_url, a.options, s.credentials,"
									   "       s.callback_token,"
									   "       (pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'paused_at') IS NOT NULL"
									   "  FROM gateway.account a"
									   "  JOIN gateway.account_secret s"
									   "    ON s.account OPERATOR(pg_catalog.=) a.name"
									   " WHERE a.name OPERATOR(pg_catalog.=) $1",
									   1, (Oid[]) {TEXTOID});
	values[0] = CStringGetTextDatum(name);

	/*
	 * Read with a snapshot taken now, after the invalidations that sent us
	 * here were taken: a commit is visible before its invalidation is sent,
	 * so this sees every change whose invalidation we consumed.  The
	 * transaction's snapshot may be older (a listener's run of token
	 * checks, a repeatable read transaction), and a cache filled from it
	 * would keep what changed since, a rotated token, until the next change.
	 */
	rc = SPI_execute_snapshot(gw_lookup_plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "account lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("account \"%s\" does not exist", name),
				 errhint("gateway.accounts lists the accounts; gw_account_create() adds one.")));

	oldcxt = MemoryContextSwitchTo(gw_account_cxt);
	provider = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	base_url = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	options = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 3, &isnull));
	credentials = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 4, &isnull));
	acc->callback_token = gw_callback_token_unseal(name, SPI_getvalue(SPI_tuptable->vals[0],
																	 SPI_tuptable->tupdesc, 5));

	acc->paused = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	acc->provider = gw_provider_find(provider);
	if (acc->provider == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("account \"%s\" names unknown provider \"%s\"", name, provider)));
	if (base_url == NULL)
		base_url = pstrdup(acc->provider->base_url ? acc->provider->base_url : "");
	while (strlen(base_url) > 0 && base_url[strlen(base_url) - 1] == '/')
		base_url[strlen(base_url) - 1] = '\0';
	acc->base_url = base_url;
	acc->options = options;
	acc->credentials = gw_account_resolve_files(acc, credentials);
	acc->country = gw_jsonb_get_text(options, "country");
	if (acc->country == NULL)
		acc->country = pstrdup("KE");
	{
		char	   *rate = gw_jsonb_get_text(options, "rate_limit");

		acc->rate_limit = rate ? strtod(rate, NULL) : acc->provider->rate_limit;
		/* a positive rate too small for a double is the smallest one, not none */
		if (rate && !(acc->rate_limit > 0))
			acc->rate_limit = DBL_MIN;
	}
	gw_account_collect_secrets(acc);
	MemoryContextSwitchTo(oldcxt);

	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

/*
 * Act as the extension's owner (the owner of gateway.account_secret) until
 * gw_as_owner_end: for the extension's own reads and writes of tables that
 * callers have no privilege on.  search_path is pg_catalog, pg_temp in
 * between, as in a SECURITY DEFINER function: no name in our queries
 * resolves to an object a caller could plant.  *save_sec carries the
 * caller's security context and the GUC nest level to return to.  An ERROR
 * in between restores both at (sub)transaction abort.
 */
Oid
gw_extension_owner(void)
{
	Oid			nsp = get_namespace_oid("gateway", false);
	Oid			relid = get_relname_relid("account_secret", nsp);
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

void
gw_as_owner_begin(Oid *save_userid, int *save_sec)
{
	Oid			owner = gw_extension_owner();
	int			nest;

	GetUserIdAndSecContext(save_userid, save_sec);
	Assert((*save_sec & ~GW_SEC_MASK) == 0);
	SetUserIdAndSecContext(owner, *save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	*save_sec |= nest << GW_SEC_BITS;
}

void
gw_as_owner_end(Oid save_userid, int save_sec)
{
	AtEOXact_GUC(true, save_sec >> GW_SEC_BITS);
	SetUserIdAndSecContext(save_userid, save_sec & GW_SEC_MASK);
}

const GwAccount *
gw_account_get(const char *name)
{
	GwAccount  *acc;
	bool		found;

	if (name == NULL || strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("account \"%s\" does not exist", name ? name : ""),
				 errhint("gateway.accounts lists the accounts; gw_account_create() adds one.")));

	/* Take invalidations that arrived since the last call. */
	AcceptInvalidationMessages();
	gw_account_cache_ensure();

	acc = hash_search(gw_account_cache, name, HASH_FIND, NULL);
	if (acc != NULL && acc->provider != NULL && gw_account_files_changed(acc))
	{
		/* a credential file was rotated: read every account again */
		gw_account_stale = true;
		gw_account_cache_ensure();
		acc = NULL;
	}
	if (acc != NULL && acc->provider != NULL)
		return acc;

	acc = hash_search(gw_account_cache, name, HASH_ENTER, &found);
	acc->provider = NULL;
	PG_TRY();
	{
		gw_account_load(acc, name);
	}
	PG_CATCH();
	{
		hash_search(gw_account_cache, name, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return acc;
}

GwAccount *
gw_account_copy(const GwAccount *acc)
{
	GwAccount  *c = palloc(sizeof(GwAccount));

	memcpy(c, acc, sizeof(GwAccount));
	c->base_url = pstrdup(acc->base_url);
	c->options = palloc(VARSIZE(acc->options));
	memcpy(c->options, acc->options, VARSIZE(acc->options));
	c->credentials = palloc(VARSIZE(acc->credentials));
	memcpy(c->credentials, acc->credentials, VARSIZE(acc->credentials));
	c->country = pstrdup(acc->country);
	c->callback_token = acc->callback_token ? pstrdup(acc->callback_token) : NULL;
	/* the cache's own bookkeeping, not part of the copy */
	c->files = NULL;
	c->nfiles = 0;
	c->credential_dir = NULL;
	c->secrets = palloc(sizeof(char *) * Max(acc->nsecrets, 1));
	for (int i = 0; i < acc->nsecrets; i++)
		c->secrets[i] = pstrdup(acc->secrets[i]);
	return c;
}

char *
gw_account_option(const GwAccount *acc, const char *key)
{
	return gw_jsonb_get_text(acc->options, key);
}

char *
gw_account_credential(const GwAccount *acc, const char *key)
{
	return gw_jsonb_get_text(acc->credentials, key);
}

void
gw_account_redact(const GwAccount *acc, char *s)
{
	GwSecrets	secrets;

	if (s == NULL || acc == NULL)
		return;
	secrets.v = acc->secrets;
	secrets.n = acc->nsecrets;
	secrets.more = NIL;
	secrets.min_len = 0;
	(void) gw_mask_text(&secrets, s);
}

/*
 * Trigger on the account tables: every backend drops its cache when the
 * change commits.
 */
Datum
gw_invalidate_account_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("gateway.invalidate_account_cache() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}

static void
gw_check_credentials(const GwProvider *p, Jsonb *cred, const char *account)
{
	StringInfoData want;

	initStringInfo(&want);
	for (const char *const *f = p->credentials; *f; f++)
		appendStringInfo(&want, "%s\"%s\"", want.len ? ", " : "", *f);

	if (!JB_ROOT_IS_OBJECT(cred))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credentials must be a JSON object"),
				 errhint("Provider \"%s\" takes {%s}.", p->name, want.data)));
	/* each field, given either itself or as field_file, a file's path */
	for (const char *const *f = p->credentials; *f; f++)
	{
		char	   *file_field = psprintf("%s%s", *f, GW_CREDENTIAL_FILE_SUFFIX);
		JsonbValue *v = gw_jsonb_get(cred, *f);
		JsonbValue *fv = gw_jsonb_get(cred, file_field);

		if (v != NULL && fv != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("credentials for provider \"%s\" give both \"%s\" and \"%s\"",
							p->name, *f, file_field),
					 errhint("Give the credential itself or the path of the file that holds it, not both.")));
		if (fv != NULL)
		{
			char	   *path;
			char	   *secret;

			if (fv->type != jbvString || fv->val.string.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("credential field \"%s\" must be a file's path", file_field)));
			/* read it now, so that a wrong file is the caller's error today */
			path = pnstrdup(fv->val.string.val, fv->val.string.len);
			secret = gw_credfile_read(account, file_field, path, NULL);
			explicit_bzero(secret, strlen(secret));
			pfree(secret);
			continue;
		}
		if (v == NULL || v->type != jbvString || v->val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("credentials for provider \"%s\" lack \"%s\"", p->name, *f),
					 errhint("Provider \"%s\" takes {%s}, each a non-empty string.",
							 p->name, want.data)));
	}
	/* A field we do not know is most likely a typo of one we need. */
	{
		JsonbIterator *it = JsonbIteratorInit(&cred->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		known = false;
			const char *field;
			char	   *key;

			if (tok != WJB_KEY)
				continue;
			key = pnstrdup(v.val.string.val, v.val.string.len);
			for (const char *const *f = p->credentials; *f; f++)
				if (strcmp(key, *f) == 0)
					known = true;
			if (!known && !gw_credential_file_field(p, key, strlen(key), &field))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown credential field \"%s\" for provider \"%s\"", key, p->name),
						 errhint("Provider \"%s\" takes {%s}.", p->name, want.data)));
		}
	}
}

static void
gw_check_options(Jsonb *options)
{
	char	   *sender;
	JsonbValue *rate;

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errhint("For example '{\"sender_id\": \"ACME\", \"rate_limit\": 50}'.")));
	sender = gw_jsonb_get_text(options, "sender_id");
	if (sender && (pg_mbstrlen(sender) > 11 || sender[0] == '\0'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sender id \"%s\" must be 1 to 11 characters long", sender),
				 errhint("Use the sender id (short code or alphanumeric name) the provider registered for you.")));
	rate = gw_jsonb_get(options, "rate_limit");
	if (rate && (rate->type != jbvNumeric ||
				 DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(rate->val.numeric),
												  DirectFunctionCall1(int4_numeric, Int32GetDatum(0))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option rate_limit must be a positive number of messages per second")));
}

static void
gw_check_base_url(const GwProvider *p, const char *url)
{
	const char *rest;

	if (url == NULL)
	{
		if (p->base_url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("provider \"%s\" needs a base_url", p->name),
					 errhint("The provider gives each customer its own address; pass it as base_url.")));
		gw_http_require_allowed(p->base_url, "base_url");
		return;
	}
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("base_url must start with https:// or http://")));
	if (rest[0] == '\0' || rest[0] == '/' || strpbrk(url, " \t\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("base_url is not a valid URL"),
				 errhint("For example 'https://api.example.com'.")));
	{
		const char *slash = strchr(rest, '/');
		const char *at = strchr(rest, '@');

		if (at && (slash == NULL || at < slash))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("base_url must not hold credentials"),
					 errhint("Put credentials in the credentials argument, where they are kept secret.")));
	}
	gw_http_require_allowed(url, "base_url");
}

/*
 * gateway.check_account(provider, credentials, options, base_url, account):
 * raise the caller's mistakes before an account is stored.
 */
Datum
gw_check_account(PG_FUNCTION_ARGS)
{
	const GwProvider *p;
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("provider must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	p = gw_provider_find(name);
	if (p == NULL)
	{
		StringInfoData all;
		int			n;
		const GwProvider *const *ps = gw_providers(&n);

		initStringInfo(&all);
		for (int i = 0; i < n; i++)
			appendStringInfo(&all, "%s%s", i ? ", " : "", ps[i]->name);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown provider \"%s\"", name),
				 errhint("Providers: %s.", all.data)));
	}
	/* four arguments: the SQL of an extension not updated to 0.3.0 yet */
	if (!PG_ARGISNULL(1))
		gw_check_credentials(p, PG_GETARG_JSONB_P(1),
							 PG_NARGS() < 5 || PG_ARGISNULL(4) ? NULL
							 : text_to_cstring(PG_GETARG_TEXT_PP(4)));
	if (!PG_ARGISNULL(2))
		gw_check_options(PG_GETARG_JSONB_P(2));
	gw_check_base_url(p, PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	PG_RETURN_VOID();
}
