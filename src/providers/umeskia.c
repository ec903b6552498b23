/*
 * umeskia.c: the umeskia provider.  Its operations are added in issue 4; until then
 * accounts can be created but have no operation.
 */
#include "postgres.h"

#include "provider.h"

static const char *const umeskia_credentials[] = {"api_key", "email", NULL};

const GwProvider gw_umeskia = {
	.name = "umeskia",
	.base_url = "https://api.umeskiasoftwares.com",
	.credentials = umeskia_credentials,
	.ops = NULL,
	.nops = 0,
};
