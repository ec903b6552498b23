/*
 * gateway.c: module initialization and settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "http.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("gateway.connect_timeout",
							gettext_noop("Time allowed to connect to a provider."),
							NULL,
							&gw_connect_timeout_ms,
							5000, 1, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.request_timeout",
							gettext_noop("Time allowed for a whole request to a provider, connection included."),
							NULL,
							&gw_request_timeout_ms,
							30000, 1, 3600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("gateway.max_response_size",
							gettext_noop("Largest answer accepted from a provider."),
							NULL,
							&gw_max_response_kb,
							1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("gateway.tls_verify",
							 gettext_noop("Verify providers' TLS certificates and host names."),
							 NULL,
							 &gw_tls_verify,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("gateway.ca_file",
							   gettext_noop("File of CA certificates to verify providers with; empty: the system's."),
							   NULL,
							   &gw_ca_file,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("gateway");
}
