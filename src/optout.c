/*
 * optout.c: the opt-out list as the send path sees it.
 *
 * gateway.optouts is read once per backend into a hash of "account/msisdn"
 * and kept until the table changes: a statement trigger sends a relcache
 * invalidation for it at commit (as for the accounts), and the next check
 * reloads.  The outbox drains thousands of messages a second, so a check is
 * a hash probe, and nothing at all while the list is empty.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "account.h"
#include "optout.h"

#define GW_OPTOUT_KEYLEN (NAMEDATALEN + 32)

typedef struct GwOptout
{
	char		key[GW_OPTOUT_KEYLEN];	/* account/msisdn */
} GwOptout;

static MemoryContext gw_optout_cxt = NULL;
static HTAB *gw_optouts = NULL;
static bool gw_optout_stale = true;
static bool gw_optout_cb = false;
static Oid	gw_optout_relid = InvalidOid;

static void
gw_optout_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == gw_optout_relid)
		gw_optout_stale = true;
}

/* (Re)load the whole list. */
static void
gw_optout_load(void)
{
	HASHCTL		ctl;
	Oid			save_userid;
	int			save_sec;
	Oid			nsp;

	if (!gw_optout_cb)
	{
		CacheRegisterRelcacheCallback(gw_optout_relcache_cb, (Datum) 0);
		gw_optout_cb = true;
	}
	if (gw_optout_cxt)
		MemoryContextReset(gw_optout_cxt);
	else
		gw_optout_cxt = AllocSetContextCreate(CacheMemoryContext, "gateway optouts",
											  ALLOCSET_SMALL_SIZES);
	gw_optouts = NULL;
	gw_optout_stale = false;
	nsp = get_namespace_oid("gateway", true);
	gw_optout_relid = OidIsValid(nsp) ? get_relname_relid("optouts", nsp) : InvalidOid;
	if (!OidIsValid(gw_optout_relid))
		return;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = GW_OPTOUT_KEYLEN;
	ctl.entrysize = sizeof(GwOptout);
	ctl.hcxt = gw_optout_cxt;
	gw_optouts = hash_create("gateway optouts", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	gw_as_owner_begin(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT account OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) msisdn"
					"  FROM gateway.optouts", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading gateway.optouts failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *k = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (k && strlen(k) < GW_OPTOUT_KEYLEN)
			(void) hash_search(gw_optouts, k, HASH_ENTER, NULL);
	}
	SPI_finish();
	gw_as_owner_end(save_userid, save_sec);
}

static bool
gw_optout_has(const char *account, const char *msisdn)
{
	char		key[GW_OPTOUT_KEYLEN];

	if (snprintf(key, sizeof(key), "%s/%s", account, msisdn) >= (int) sizeof(key))
		return false;
	return hash_search(gw_optouts, key, HASH_FIND, NULL) != NULL;
}

void
gw_optout_filter(GwCall *call)
{
	const GwOperation *op = call->op;
	int			i = 0;
	int			kept = 0;
	int			dropped = 0;

	if (!(op->flags & GW_OP_SMS))
		return;
	if (gw_optout_stale)
		gw_optout_load();
	if (gw_optouts == NULL || hash_get_num_entries(gw_optouts) == 0)
		return;

	for (const GwParamSpec *s = op->params; s->name; s++, i++)
	{
		char	   *val = call->pvals[i];
		StringInfoData out;
		char	   *tok;
		char	   *save = NULL;

		if ((s->type != GW_P_PHONE && s->type != GW_P_PHONES) || val == NULL)
			continue;
		initStringInfo(&out);
		for (tok = strtok_r(pstrdup(val), ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			if (gw_optout_has(call->account->name, tok))
			{
				dropped++;
				continue;
			}
			appendStringInfo(&out, "%s%s", out.len ? "," : "", tok);
			kept++;
		}
		call->pvals[i] = out.data;
	}
	if (dropped > 0 && kept == 0)
		call->refused = "the recipient opted out (sent STOP); gateway.optouts lists the number";
}
