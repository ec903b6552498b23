/*
 * callback.h: callback tokens and the URLs providers call back on.
 */
#ifndef GW_CALLBACK_H
#define GW_CALLBACK_H

#include "account.h"

/* The listener's settings (gateway.c defines them). */
extern char *gw_listen_address;
extern char *gw_callback_base_url;

/* The kinds of callback gw_ingest and the listener take. */
extern bool gw_callback_kind_valid(const char *kind);

/* A callback token's stored form, and back (NULL: it cannot be opened). */
extern char *gw_callback_token_seal(const char *account, const char *token);
extern char *gw_callback_token_unseal(const char *account, const char *stored);

/*
 * The URL a provider calls back on for this account and kind, or NULL when
 * there is no listener to call and no base URL to reach it by.
 */
extern char *gw_callback_url_for(const GwAccount *acc, const char *kind);

#endif
