/*
 * account.h: accounts, read once per backend and cached until they change.
 */
#ifndef GW_ACCOUNT_H
#define GW_ACCOUNT_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "provider.h"

typedef struct GwAccount
{
	char		name[NAMEDATALEN];	/* hash key */
	const GwProvider *provider;
	char	   *base_url;		/* effective, without a trailing '/' */
	Jsonb	   *options;
	Jsonb	   *credentials;
	char	  **secrets;		/* credential values, to redact */
	int			nsecrets;
	char	   *country;		/* option country, default KE */
} GwAccount;

/* The account, or an ERROR when there is none by that name. */
extern const GwAccount *gw_account_get(const char *name);

extern char *gw_account_option(const GwAccount *acc, const char *key);
extern char *gw_account_credential(const GwAccount *acc, const char *key);

/* Replace every credential value in s (in place, same length). */
extern void gw_account_redact(const GwAccount *acc, char *s);

/* Replace every occurrence of one secret in s (in place, same length). */
extern void gw_redact(const char *secret, char *s);

/* Run as the owner of the secrets table, then switch back. */
typedef struct GwOwnerSave
{
	Oid			userid;
	int			sec_context;
} GwOwnerSave;

extern void gw_owner_begin(GwOwnerSave *save);
extern void gw_owner_end(const GwOwnerSave *save);

#endif
