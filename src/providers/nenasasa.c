/*
 * nenasasa.c: the nenasasa provider.  Its operations are added in issue 4; until then
 * accounts can be created but have no operation.
 */
#include "postgres.h"

#include "provider.h"

static const char *const nenasasa_credentials[] = {"client_id", "username", "password", NULL};

const GwProvider gw_nenasasa = {
	.name = "nenasasa",
	.base_url = "https://nenasasa.com",
	.credentials = nenasasa_credentials,
	.ops = NULL,
	.nops = 0,
};
