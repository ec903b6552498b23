/*
 * mspace.c: the mspace provider.  Its operations are added in issue 4; until then
 * accounts can be created but have no operation.
 */
#include "postgres.h"

#include "provider.h"

static const char *const mspace_credentials[] = {"username", "password", NULL};

const GwProvider gw_mspace = {
	.name = "mspace",
	.base_url = NULL,
	.credentials = mspace_credentials,
	.ops = NULL,
	.nops = 0,
};
