/*
 * token.h: OAuth tokens of an account, cached in gateway.account_token so
 * that every call and every backend shares them until they expire.
 */
#ifndef GW_TOKEN_H
#define GW_TOKEN_H

#include "postgres.h"
#include "datatype/timestamp.h"

#include "account.h"

typedef struct GwToken
{
	char	   *access_token;
	char	   *refresh_token;	/* NULL: none was given */
	TimestampTz fetched_at;		/* when it was asked for */
	TimestampTz expires_at;		/* when the provider stops taking it */
} GwToken;

/* The account's cached token into *tok; false when there is none. */
extern bool gw_token_load(const GwAccount *acc, GwToken *tok);

/* Cache the account's token.  Best effort: a read-only transaction or a
 * conflicting writer leaves the cache as it was, never raises. */
extern void gw_token_store(const GwAccount *acc, const GwToken *tok);

/* Whether a token is due for a refresh: 60 s before it expires, or a tenth
 * of its lifetime before for short-lived tokens. */
extern bool gw_token_due(const GwToken *tok, TimestampTz now);

#endif
