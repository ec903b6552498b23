/*
 * vtpass.c: the vtpass provider.  Its operations are added in issue 4; until then
 * accounts can be created but have no operation.
 */
#include "postgres.h"

#include "provider.h"

static const char *const vtpass_credentials[] = {"username", "password", NULL};

const GwProvider gw_vtpass = {
	.name = "vtpass",
	.base_url = "https://vtpass.com",
	.credentials = vtpass_credentials,
	.ops = NULL,
	.nops = 0,
};
