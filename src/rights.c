/*
 * rights.c: which accounts a role may use, decided in one place.
 *
 * gw_grant_sender(role, account) and gw_grant_admin(role, account) write a
 * row of gateway.account_grant (account NULL: every account).  A role holds
 * an account when it has the privileges of a granted role (pg_has_role
 * USAGE); the extension's owner and superusers hold every account.  The
 * SQL-facing functions check here in their entry; the row-level security
 * policies on the outbox, inbound and subscription tables ask
 * gateway.held_accounts(), which answers from the same cache.
 *
 * The cache holds one user's rights at a time (the hot path is one
 * application role queueing); a change of gateway.account_grant (the
 * account-cache trigger) or of any role membership drops it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "account.h"
#include "jsonutil.h"
#include "rights.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_held_accounts);
PG_FUNCTION_INFO_V1(gw_guarded);

typedef struct GwHeld
{
	char		account[NAMEDATALEN];	/* hash key */
	int			level;			/* GwRight */
} GwHeld;

static MemoryContext gw_rights_cxt = NULL;
static HTAB *gw_rights_held = NULL;
static Oid	gw_rights_user = InvalidOid;
static int	gw_rights_all = 0;	/* level held on every account */
static bool gw_rights_valid = false;
static bool gw_rights_registered = false;
static Oid	gw_grant_relid = InvalidOid;
static SPIPlanPtr gw_rights_plan = NULL;
static SPIPlanPtr gw_row_plan = NULL;
static SPIPlanPtr gw_handler_plan = NULL;

static void
gw_rights_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == gw_grant_relid)
	{
		/* the saved plan revalidates itself; the table is looked up again */
		gw_rights_valid = false;
	}
}

static void
gw_rights_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	gw_rights_valid = false;
}

/* Read the current user's rights into the cache. */
static void
gw_rights_load(Oid user)
{
	HASHCTL		ctl;
	Oid			nsp;
	Oid			save_userid;
	int			save_sec;

	if (gw_rights_cxt == NULL)
		gw_rights_cxt = AllocSetContextCreate(CacheMemoryContext, "gateway rights",
											  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(gw_rights_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(GwHeld);
	ctl.hcxt = gw_rights_cxt;
	gw_rights_held = hash_create("gateway rights", 16, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	gw_rights_user = user;
	gw_rights_all = 0;
	gw_rights_valid = true;

	if (superuser_arg(user) || has_privs_of_role(user, gw_extension_owner()))
	{
		gw_rights_all = GW_RIGHT_ADMIN;
		return;
	}
	nsp = get_namespace_oid("gateway", true);
	{
		Oid			relid = OidIsValid(nsp) ? get_relname_relid("account_grant", nsp) : InvalidOid;

		/* a new table (DROP and CREATE EXTENSION): a new plan */
		if (relid != gw_grant_relid && gw_rights_plan)
		{
			SPI_freeplan(gw_rights_plan);
			gw_rights_plan = NULL;
		}
		gw_grant_relid = relid;
	}
	if (!OidIsValid(gw_grant_relid))
	{
		/* an extension not updated to 0.3.0 yet: its grants are by function */
		gw_rights_all = GW_RIGHT_ADMIN;
		return;
	}

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (gw_rights_plan == NULL)
		gw_rights_plan = gw_saved_plan("SELECT g.account, g.admin FROM gateway.account_grant g"
									   " WHERE pg_catalog.pg_has_role($1, g.role::pg_catalog.oid, 'USAGE')",
									   1, (Oid[]) {OIDOID});
	if (SPI_execute_plan(gw_rights_plan, (Datum[]) {ObjectIdGetDatum(user)}, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading gateway.account_grant failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		admin_null;
		Datum		acc = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		int			level = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
													   &admin_null)) ? GW_RIGHT_ADMIN : GW_RIGHT_SEND;

		if (isnull)
			gw_rights_all = Max(gw_rights_all, level);
		else
		{
			char	   *name = TextDatumGetCString(acc);
			GwHeld	   *h;
			bool		found;

			if (strlen(name) >= NAMEDATALEN)
				continue;
			h = hash_search(gw_rights_held, name, HASH_ENTER, &found);
			h->level = found ? Max(h->level, level) : level;
		}
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

static void
gw_rights_ensure(void)
{
	Oid			user = GetUserId();

	if (!gw_rights_registered)
	{
		CacheRegisterRelcacheCallback(gw_rights_relcache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, gw_rights_syscache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, gw_rights_syscache_cb, (Datum) 0);
		gw_rights_registered = true;
	}
	AcceptInvalidationMessages();
	if (gw_rights_valid && gw_rights_user == user)
		return;
	PG_TRY();
	{
		gw_rights_load(user);
	}
	PG_CATCH();
	{
		gw_rights_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static int
gw_rights_level(const char *account)
{
	GwHeld	   *h;

	gw_rights_ensure();
	if (gw_rights_all >= GW_RIGHT_ADMIN || account == NULL || strlen(account) >= NAMEDATALEN)
		return gw_rights_all;
	h = hash_search(gw_rights_held, account, HASH_FIND, NULL);
	return h ? Max(h->level, gw_rights_all) : gw_rights_all;
}

bool
gw_rights_hold(const char *account, GwRight r)
{
	return gw_rights_level(account) >= (int) r;
}

void
gw_rights_require(const char *account, GwRight r)
{
	if (gw_rights_hold(account, r))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for account \"%s\"", account),
			 errdetail("Role \"%s\" does not hold account \"%s\"%s.",
					   GetUserNameFromId(GetUserId(), false), account,
					   r == GW_RIGHT_ADMIN ? " as an admin" : ""),
			 errhint("The extension's owner grants it: SELECT %s('%s', '%s').",
					 r == GW_RIGHT_ADMIN ? "gw_grant_admin" : "gw_grant_sender",
					 GetUserNameFromId(GetUserId(), false), account)));
}

bool
gw_rights_is_owner(void)
{
	gw_rights_ensure();
	return superuser() || has_privs_of_role(GetUserId(), gw_extension_owner());
}

/*
 * gateway.held_accounts(): the accounts the current user holds, for the
 * row-level security policies; NULL when it holds every account.
 */
Datum
gw_held_accounts(PG_FUNCTION_ARGS)
{
	ArrayType  *held = gw_rights_held_array();

	if (held == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(held);
}

ArrayType *
gw_rights_held_array(void)
{
	HASH_SEQ_STATUS seq;
	GwHeld	   *h;
	Datum	   *elems;
	int			n = 0;

	gw_rights_ensure();
	if (gw_rights_all >= GW_RIGHT_SEND)
		return NULL;
	elems = palloc(sizeof(Datum) * (hash_get_num_entries(gw_rights_held) + 1));
	hash_seq_init(&seq, gw_rights_held);
	while ((h = hash_seq_search(&seq)) != NULL)
		elems[n++] = CStringGetTextDatum(h->account);
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Read one text value as the owner: sql has one parameter $1 of type t. */
static char *
gw_owner_read(SPIPlanPtr *plan, const char *sql, Oid t, Datum arg)
{
	Oid			save_userid;
	int			save_sec;
	char	   *res = NULL;
	MemoryContext oldcxt = CurrentMemoryContext;

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (*plan == NULL)
		*plan = gw_saved_plan(sql, 1, &t);
	if (SPI_execute_plan(*plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "gateway lookup failed");
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v)
			res = MemoryContextStrdup(oldcxt, v);
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
	return res;
}

/*
 * ussd_handler names a function that runs for every USSD request of the
 * account: only the extension's owner sets or changes it.
 */
static void
gw_guard_ussd_handler(const char *account, Jsonb *options, bool creating)
{
	char	   *handler;
	char	   *current = NULL;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		return;
	handler = gw_jsonb_get_text(options, "ussd_handler");
	if (handler == NULL)
		return;
	if (!creating && account != NULL)
		current = gw_owner_read(&gw_handler_plan,
								"SELECT options OPERATOR(pg_catalog.->>) 'ussd_handler'"
								"  FROM gateway.account WHERE name OPERATOR(pg_catalog.=) $1",
								TEXTOID, CStringGetTextDatum(account));
	if (current != NULL && strcmp(current, handler) == 0)
		return;
	if (!gw_rights_is_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of extension gateway may set ussd_handler"),
				 errdetail("The handler runs for every USSD request the account receives."),
				 errhint("Ask the extension's owner (%s) or a superuser to set option ussd_handler.",
						 GetUserNameFromId(gw_extension_owner(), false))));
}

/* What a guarded function needs of its caller. */
typedef struct GwGuard
{
	const char *name;			/* the SQL function gw_X; runs gateway.X */
	GwRight		right;
	bool		by_row;			/* argument 0 is an outbox row id, not an
								 * account */
	bool		every_account;	/* needs the right on every account */
	int			options_arg;	/* -1 or the options argument */
} GwGuard;

static const GwGuard gw_guards[] = {
	{"gw_account_create", GW_RIGHT_ADMIN, false, true, 4},
	{"gw_account_update", GW_RIGHT_ADMIN, false, false, 3},
	{"gw_account_drop", GW_RIGHT_ADMIN, false, false, -1},
	{"gw_callback_token_rotate", GW_RIGHT_ADMIN, false, false, -1},
	{"gw_account_pause", GW_RIGHT_ADMIN, false, false, -1},
	{"gw_account_resume", GW_RIGHT_ADMIN, false, false, -1},
	{"gw_cancel", GW_RIGHT_SEND, true, false, -1},
	{"gw_requeue", GW_RIGHT_ADMIN, true, false, -1},
	{NULL}
};

/*
 * The entry of the SQL functions in gw_guards: check the caller's right on
 * the account (or on the account of the outbox row) and run the function's
 * body, gateway.X, which is SECURITY DEFINER and executable by nobody else.
 * A row of an account the caller does not hold is treated as no row.
 */
Datum
gw_guarded(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	HeapTuple	tup;
	Form_pg_proc proc;
	const GwGuard *g;
	char	   *proname;
	Oid		   *argtypes;
	int			nargs;
	Oid			impl;
	FmgrInfo	flinfo;
	Datum		result;
	int			nest;

	LOCAL_FCINFO(call, FUNC_MAX_ARGS);

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	proname = pstrdup(NameStr(proc->proname));
	nargs = proc->pronargs;
	argtypes = palloc(sizeof(Oid) * Max(nargs, 1));
	memcpy(argtypes, proc->proargtypes.values, sizeof(Oid) * nargs);
	ReleaseSysCache(tup);

	for (g = gw_guards; g->name; g++)
		if (strcmp(g->name, proname) == 0)
			break;
	if (g->name == NULL || nargs != fcinfo->nargs)
		elog(ERROR, "function %s is not guarded by gateway", proname);

	/*
	 * The statement may hold credentials: an ERROR from here on must not log
	 * it.  Restored at the end of the call, or by the (sub)transaction's
	 * abort, after the ERROR was reported.
	 */
	nest = NewGUCNestLevel();
	(void) set_config_option("log_min_error_statement", "panic",
							 PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	if (g->every_account)
	{
		if (gw_rights_level(NULL) < (int) g->right)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for function %s", proname),
					 errdetail("Only a role that holds every account as an admin may create accounts."),
					 errhint("The extension's owner grants it: SELECT gw_grant_admin('%s').",
							 GetUserNameFromId(GetUserId(), false))));
	}
	else if (!PG_ARGISNULL(0) && g->by_row)
	{
		char	   *account = gw_owner_read(&gw_row_plan,
											"SELECT account FROM gateway.outbox"
											" WHERE id OPERATOR(pg_catalog.=) $1",
											INT8OID, PG_GETARG_DATUM(0));

		/* no such row: the body says so */
		if (account != NULL && !gw_rights_hold(account, GW_RIGHT_SEND))
		{
			AtEOXact_GUC(true, nest);
			PG_RETURN_BOOL(false);	/* a row the caller cannot see */
		}
		if (account != NULL)
			gw_rights_require(account, g->right);
	}
	else if (!PG_ARGISNULL(0))
		gw_rights_require(TextDatumGetCString(PG_GETARG_DATUM(0)), g->right);

	if (g->options_arg >= 0 && !PG_ARGISNULL(g->options_arg))
		gw_guard_ussd_handler(PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0)),
							  PG_GETARG_JSONB_P(g->options_arg), g->every_account);

	impl = LookupFuncName(list_make2(makeString("gateway"), makeString(proname + 3)),
						  nargs, argtypes, false);
	fmgr_info(impl, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, fcinfo->fncollation, NULL, NULL);
	for (int i = 0; i < nargs; i++)
		call->args[i] = fcinfo->args[i];
	result = FunctionCallInvoke(call);
	fcinfo->isnull = call->isnull;
	AtEOXact_GUC(true, nest);
	return result;
}
