/*
 * route.c: routes (route.h) and their SQL functions gw_route_set,
 * gw_route_drop and gw_routes.
 *
 * Every backend keeps the routes in a small cache, read as the extension's
 * owner and dropped when gateway.route changes (its route_cache trigger
 * sends a relcache invalidation).  A route is used by naming it where an SMS
 * names an account; the caller must hold every account the route names, so
 * that a route never lends a sender an account it could not use itself.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "account.h"
#include "circuit.h"
#include "jsonutil.h"
#include "msisdn.h"
#include "rights.h"
#include "route.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_route_set);
PG_FUNCTION_INFO_V1(gw_route_drop);
PG_FUNCTION_INFO_V1(gw_routes);

/* One entry of gateway.route. */
typedef struct GwRouteEntry
{
	char	   *name;
	char	   *prefix;
	char	   *account;
	char	   *fallback;		/* NULL: none */
	TimestampTz created_at;
} GwRouteEntry;

static MemoryContext gw_route_cxt = NULL;
static GwRouteEntry *gw_route_entries = NULL;
static int	gw_route_n = 0;
static bool gw_route_valid = false;
static bool gw_route_registered = false;
static Oid	gw_route_relid = InvalidOid;

static void
gw_route_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == gw_route_relid)
		gw_route_valid = false;
}

/* Read every route into the cache (none before the extension's 0.4.0). */
static void
gw_route_load(void)
{
	Oid			nsp = get_namespace_oid("gateway", true);
	Oid			save_userid;
	int			save_sec;
	MemoryContext old;

	if (gw_route_cxt == NULL)
		gw_route_cxt = AllocSetContextCreate(CacheMemoryContext, "gateway routes",
											 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(gw_route_cxt);
	gw_route_entries = NULL;
	gw_route_n = 0;
	gw_route_relid = OidIsValid(nsp) ? get_relname_relid("route", nsp) : InvalidOid;
	gw_route_valid = true;
	if (!OidIsValid(gw_route_relid))
		return;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT name, prefix, account, fallback, created_at FROM gateway.route"
					" ORDER BY name, prefix", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading gateway.route failed");
	old = MemoryContextSwitchTo(gw_route_cxt);
	gw_route_entries = palloc0(sizeof(GwRouteEntry) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		GwRouteEntry *e = &gw_route_entries[i];
		bool		isnull;

		e->name = SPI_getvalue(t, d, 1);
		e->prefix = SPI_getvalue(t, d, 2);
		e->account = SPI_getvalue(t, d, 3);
		e->fallback = SPI_getvalue(t, d, 4);
		e->created_at = DatumGetTimestampTz(SPI_getbinval(t, d, 5, &isnull));
	}
	gw_route_n = (int) SPI_processed;
	MemoryContextSwitchTo(old);
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

static void
gw_route_ensure(void)
{
	if (!gw_route_registered)
	{
		CacheRegisterRelcacheCallback(gw_route_relcache_cb, (Datum) 0);
		gw_route_registered = true;
	}
	AcceptInvalidationMessages();
	if (gw_route_valid)
		return;
	PG_TRY();
	{
		gw_route_load();
	}
	PG_CATCH();
	{
		gw_route_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

bool
gw_route_is(const char *name)
{
	if (name == NULL)
		return false;
	gw_route_ensure();
	for (int i = 0; i < gw_route_n; i++)
		if (strcmp(gw_route_entries[i].name, name) == 0)
			return true;
	return false;
}

void
gw_route_refuse(const char *name, const char *what)
{
	if (gw_route_is(name))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("\"%s\" is a route: %s never goes through a route", name, what),
				 errhint("Routes carry SMS only (gw_send_sms, gw_queue_sms, gw_enqueue of an SMS operation); name an account here.")));
}

/* Require the right r on every account of route name (as the cache has it). */
static void
gw_route_require(const char *name, GwRight r)
{
	for (int i = 0; i < gw_route_n; i++)
	{
		GwRouteEntry *e = &gw_route_entries[i];

		if (strcmp(e->name, name) != 0)
			continue;
		gw_rights_require(e->account, r);
		if (e->fallback)
			gw_rights_require(e->fallback, r);
	}
}

bool
gw_route_resolve(const char *name, const char *recipient, GwRouteChoice *out)
{
	GwRouteEntry *best = NULL;
	char	   *number;

	if (!gw_route_is(name))
		return false;
	gw_route_require(name, GW_RIGHT_SEND);
	if (recipient == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a message through route \"%s\" needs a recipient", name),
				 errhint("Give param recipient: a route picks its account by the recipient's number.")));
	if (strchr(recipient, ',') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a message through route \"%s\" has one recipient", name),
				 errhint("Queue one message per recipient: each number may take another account.")));
	/* numbers in local form are read as Kenyan (the accounts' default) */
	number = gw_msisdn_normalize_or_error(recipient, NULL);
	for (int i = 0; i < gw_route_n; i++)
	{
		GwRouteEntry *e = &gw_route_entries[i];

		if (strcmp(e->name, name) == 0 &&
			strncmp(number, e->prefix, strlen(e->prefix)) == 0 &&
			(best == NULL || strlen(e->prefix) > strlen(best->prefix)))
			best = e;
	}
	if (best == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("route \"%s\" has no entry for number %s", name, number),
				 errhint("Add one with gw_route_set('%s', prefix, account), e.g. the country's calling code, or prefix '' for every number.",
						 name)));
	out->route = pstrdup(name);
	out->account = pstrdup(best->account);
	out->fallback = best->fallback ? pstrdup(best->fallback) : NULL;
	out->recipient = number;
	return true;
}

char *
gw_route_pick(const GwRouteChoice *rc)
{
	TimestampTz retry_at;

	if (rc->fallback == NULL || gw_circuit_allow(rc->account, &retry_at))
		return rc->account;
	if (gw_circuit_allow(rc->fallback, &retry_at))
		return rc->fallback;
	return rc->account;
}

Jsonb *
gw_route_sms_params(const GwProvider *p, const char **opname, const char *recipient,
					const char *message, const char *sender_id)
{
	const char *keys[3] = {"recipient", "message", "sender_id"};
	char	   *vals[3] = {(char *) recipient, (char *) message, (char *) sender_id};
	const char *name = p->queue_sms_op ? p->queue_sms_op : p->sms_op;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("provider \"%s\" cannot send SMS", p->name),
				 errhint("gw_operations() lists what %s offers.", p->name)));
	for (const GwParamSpec *s = gw_operation_lookup(p, name)->params; s->name; s++)
		if (strcmp(s->name, "recipients") == 0)
			keys[0] = "recipients";
	*opname = name;
	return gw_jsonb_object(keys, vals, 3);
}

Jsonb *
gw_route_rebuild(const GwProvider *p, Jsonb *params, const char **opname)
{
	char	   *recipient = gw_jsonb_get_text(params, "recipient");

	if (recipient == NULL)
		recipient = gw_jsonb_get_text(params, "recipients");
	return gw_route_sms_params(p, opname, recipient, gw_jsonb_get_text(params, "message"),
							   gw_jsonb_get_text(params, "sender_id"));
}

/* A prefix as stored: the digits of an international number ('' matches
 * every number), from digits, "+digits", a country code or '*'. */
static char *
gw_route_prefix(const char *given)
{
	const char *s = given;
	size_t		len;

	while (*s == ' ')
		s++;
	len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len == 1 && s[0] == '*')
		return pstrdup("");
	if (len == 2 && isalpha((unsigned char) s[0]) && isalpha((unsigned char) s[1]))
		return pstrdup(gw_msisdn_calling_code(pnstrdup(s, 2)));
	if (len > 0 && s[0] == '+')
	{
		s++;
		len--;
	}
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char) s[i]))
			len = 16;			/* not digits: refused below */
	if (len > 15)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid route prefix \"%s\"", given),
				 errhint("Give the first digits of the international number (e.g. '254' or '2547'), a country code such as 'KE', or '' for every number.")));
	return pnstrdup(s, len);
}

/* An account a route may send through: it exists, the caller administers
 * it and its provider sends SMS. */
static void
gw_route_check_account(const char *account)
{
	const GwAccount *acc;

	gw_rights_require(account, GW_RIGHT_ADMIN);
	acc = gw_account_get(account);
	if (acc->provider->sms_op == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("account \"%s\" cannot send SMS (provider %s)", account, acc->provider->name),
				 errhint("A route's accounts send SMS: name an account of vaspro, mspace, umeskia or nenasasa.")));
}

static void
gw_route_check_name(const char *name)
{
	size_t		len = strlen(name);
	bool		ok = (len >= 1 && len <= 63 && isalnum((unsigned char) name[0]));

	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char) name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid route name \"%s\"", name),
				 errhint("Use 1 to 63 letters, digits, \"_\", \".\" or \"-\", starting with a letter or digit.")));
}

/* Run a statement on gateway.route as the owner; the rows it touched. */
static uint64
gw_route_write(const char *sql, int n, Oid *types, Datum *values, const char *nulls)
{
	Oid			save_userid;
	int			save_sec;
	uint64		done;
	int			rc;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, n, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "changing gateway.route failed: %s", SPI_result_code_string(rc));
	done = SPI_processed;
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return done;
}

/* gw_route_set(route, prefix, account, fallback): the prefix stored. */
Datum
gw_route_set(PG_FUNCTION_ARGS)
{
	char	   *name = gw_arg_text(fcinfo, 0);
	char	   *given = gw_arg_text(fcinfo, 1);
	char	   *account = gw_arg_text(fcinfo, 2);
	char	   *fallback = gw_arg_text(fcinfo, 3);
	char	   *prefix;
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	gw_require(name, "route");
	gw_require(given, "prefix");
	gw_require(account, "account");
	gw_require_writable("change routes");
	gw_route_check_name(name);
	prefix = gw_route_prefix(given);
	if (fallback && strcmp(fallback, account) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the fallback of route \"%s\" is its account \"%s\"", name, account),
				 errhint("Name another account as the fallback, or none.")));
	gw_route_ensure();
	gw_route_require(name, GW_RIGHT_ADMIN);
	gw_route_check_account(account);
	if (fallback)
		gw_route_check_account(fallback);

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(prefix);
	values[2] = CStringGetTextDatum(account);
	values[3] = fallback ? CStringGetTextDatum(fallback) : (Datum) 0;
	nulls[3] = fallback ? ' ' : 'n';
	(void) gw_route_write("INSERT INTO gateway.route (name, prefix, account, fallback)"
						  " VALUES ($1, $2, $3, $4)"
						  " ON CONFLICT (name, prefix) DO UPDATE"
						  "   SET account = EXCLUDED.account, fallback = EXCLUDED.fallback",
						  4, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID}, values, nulls);
	PG_RETURN_TEXT_P(cstring_to_text(prefix));
}

/* gw_route_drop(route, prefix): the entries dropped (prefix NULL: all). */
Datum
gw_route_drop(PG_FUNCTION_ARGS)
{
	char	   *name = gw_arg_text(fcinfo, 0);
	char	   *given = gw_arg_text(fcinfo, 1);
	char	   *prefix = given ? gw_route_prefix(given) : NULL;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	uint64		n;

	gw_require(name, "route");
	gw_require_writable("change routes");
	if (!gw_route_is(name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("route \"%s\" does not exist", name),
				 errhint("gw_routes() lists the routes.")));
	gw_route_require(name, GW_RIGHT_ADMIN);
	values[0] = CStringGetTextDatum(name);
	values[1] = prefix ? CStringGetTextDatum(prefix) : (Datum) 0;
	nulls[1] = prefix ? ' ' : 'n';
	n = gw_route_write("DELETE FROM gateway.route WHERE name = $1"
					   "   AND ($2::text IS NULL OR prefix = $2)",
					   2, (Oid[]) {TEXTOID, TEXTOID}, values, nulls);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("route \"%s\" has no entry for prefix \"%s\"", name, prefix),
				 errhint("gw_routes() lists the routes and their prefixes.")));
	PG_RETURN_INT32((int32) n);
}

/* gw_routes(): the entries whose accounts the caller holds. */
Datum
gw_routes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GwRouteEntry *copy;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	gw_route_ensure();
	n = gw_route_n;
	copy = palloc(sizeof(GwRouteEntry) * Max(n, 1));
	memcpy(copy, gw_route_entries, sizeof(GwRouteEntry) * n);
	for (int i = 0; i < n; i++)
	{
		GwRouteEntry *e = &copy[i];
		Datum		values[5];
		bool		nulls[5] = {0};

		if (!gw_rights_hold(e->account, GW_RIGHT_SEND) ||
			(e->fallback && !gw_rights_hold(e->fallback, GW_RIGHT_SEND)))
			continue;
		values[0] = CStringGetTextDatum(e->name);
		values[1] = CStringGetTextDatum(e->prefix);
		values[2] = CStringGetTextDatum(e->account);
		values[3] = e->fallback ? CStringGetTextDatum(e->fallback) : (Datum) 0;
		nulls[3] = (e->fallback == NULL);
		values[4] = TimestampTzGetDatum(e->created_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
