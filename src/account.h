/*
 * account.h: accounts, read once per backend and cached until they change.
 */
#ifndef GW_ACCOUNT_H
#define GW_ACCOUNT_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "credfile.h"
#include "provider.h"

typedef struct GwAccount
{
	char		name[NAMEDATALEN];	/* hash key */
	const GwProvider *provider;
	char	   *base_url;		/* effective, without a trailing '/' */
	Jsonb	   *options;
	Jsonb	   *credentials;	/* with every X_file field read into X */
	GwFileStamp *files;			/* the credential files read */
	int			nfiles;
	char	   *credential_dir;	/* gateway.credential_dir they were read in */
	char	   *callback_token;	/* the secret of gw_callback_url's URLs */
	char	  **secrets;		/* credential values and the callback
								 * token, to redact */
	int			nsecrets;
	char	   *country;		/* option country, default KE */
	double		rate_limit;		/* messages per second; 0: none */
	bool		paused;			/* gw_account_pause: nothing is sent */
} GwAccount;

/* The account, or an ERROR when there is none by that name. */
extern const GwAccount *gw_account_get(const char *name);

/* A deep copy in the current memory context, for work that outlives the
 * cache (the worker's requests in flight). */
extern GwAccount *gw_account_copy(const GwAccount *acc);

extern char *gw_account_option(const GwAccount *acc, const char *key);
extern char *gw_account_credential(const GwAccount *acc, const char *key);

/* The extension's owner: the owner of gateway.account_secret. */
extern Oid	gw_extension_owner(void);

/* Run as the extension owner, with search_path pg_catalog, pg_temp, in
 * between (see account.c).  save_sec is opaque: pass it back unchanged. */
extern void gw_as_owner_begin(Oid *save_userid, int *save_sec);
extern void gw_as_owner_end(Oid save_userid, int save_sec);

/* Mask the account's secrets in s (in place, same length; see mask.h). */
extern void gw_account_redact(const GwAccount *acc, char *s);

#endif
