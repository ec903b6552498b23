/*
 * rights.h: which accounts a role may use (gateway.account_grant).
 */
#ifndef GW_RIGHTS_H
#define GW_RIGHTS_H

#include "postgres.h"
#include "utils/array.h"

typedef enum GwRight
{
	GW_RIGHT_SEND = 1,			/* gw_grant_sender: call, queue, see rows */
	GW_RIGHT_ADMIN = 2			/* gw_grant_admin: also change the account */
} GwRight;

/* Whether the current user holds account at level r (or above). */
extern bool gw_rights_hold(const char *account, GwRight r);

/* ERROR 42501 unless the current user holds account at level r. */
extern void gw_rights_require(const char *account, GwRight r);

/* Whether the current user is the extension's owner (a member of it) or a
 * superuser: every account, and what only the owner may do. */
extern bool gw_rights_is_owner(void);

/* The accounts the current user holds, NULL when it holds every account
 * (what gateway.held_accounts() answers). */
extern ArrayType *gw_rights_held_array(void);

#endif
