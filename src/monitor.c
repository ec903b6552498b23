/*
 * monitor.c: the listener's monitoring routes (see monitor.h).  Who may
 * see them is decided first, before anything is read or run: a wrong token
 * is 403 whatever the address; the token is compared in constant time and
 * never logged.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "access/xact.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "account.h"
#include "metrics.h"
#include "monitor.h"
#include "util.h"

/* The longest a status page may keep the listener (and its callbacks) waiting. */
#define GW_STATUS_PAGE_TIMEOUT_MS 5000

char	   *gw_monitor_token = NULL;
char	   *gw_monitor_hosts = NULL;

bool
gw_monitor_path(const char *path, const char *dbname)
{
	const char *slash;

	if (strcmp(path, "/metrics") == 0)
		return true;
	if (path[0] != '/' || (slash = strchr(path + 1, '/')) == NULL || slash == path + 1 ||
		strcmp(slash, "/status") != 0)
		return false;
	return dbname == NULL ||
		(strlen(dbname) == (size_t) (slash - path - 1) &&
		 strncmp(path + 1, dbname, slash - path - 1) == 0);
}

bool
gw_monitor_enabled(void)
{
	return (gw_monitor_token && gw_monitor_token[0]) ||
		(gw_monitor_hosts && gw_monitor_hosts[0]);
}

/* Equal strings, in a time that does not tell where they differ. */
static bool
gw_monitor_token_equal(const char *given, const char *expected)
{
	size_t		glen = strlen(given);
	size_t		elen = strlen(expected);
	unsigned char diff = (glen != elen);

	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char) expected[i] ^ (unsigned char) (i < glen ? given[i] : 0);
	return diff == 0;
}

/* The client as 16 bytes: IPv6, or IPv4 mapped into it; false: neither. */
static bool
gw_monitor_addr16(const struct sockaddr *sa, uint8 *out)
{
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET6)
	{
		memcpy(out, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
		return true;
	}
	if (sa->sa_family == AF_INET)
	{
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		return true;
	}
	return false;
}

/* An address of the list as 16 bytes (IPv4 mapped); false: not one. */
static bool
gw_monitor_parse16(const char *s, uint8 *out)
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, out) == 1)
		return true;
	if (inet_pton(AF_INET, s, &a4) == 1)
	{
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return true;
	}
	return false;
}

/* Call fn on each item of the comma-separated list; stops at false. */
static bool
gw_monitor_each_host(const char *list, bool (*fn) (const char *item, void *arg), void *arg)
{
	char	   *copy = pstrdup(list);
	char	   *save = NULL;
	bool		go = true;

	for (char *tok = strtok_r(copy, ", \t", &save); tok && go; tok = strtok_r(NULL, ", \t", &save))
		go = fn(tok, arg);
	pfree(copy);
	return go;
}

static bool
gw_monitor_not_match(const char *item, void *arg)
{
	uint8		a[16];

	return !(gw_monitor_parse16(item, a) && memcmp(a, arg, 16) == 0);
}

static bool
gw_monitor_valid(const char *item, void *arg)
{
	uint8		a[16];

	if (gw_monitor_parse16(item, a))
		return true;
	*(const char **) arg = item;
	return false;
}

bool
gw_monitor_hosts_check(char **newval, void **extra, GucSource source)
{
	const char *bad = NULL;
	bool		ok;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	ok = gw_monitor_each_host(*newval, gw_monitor_valid, &bad);
	if (!ok)
	{
		GUC_check_errdetail("\"%s\" is not an IP address.", bad);
		GUC_check_errhint("List client addresses, without ports or masks, separated by commas.");
	}
	return ok;
}

/*
 * Whether token is the one set: gateway.monitor_token holds it, or
 * "sha256:" and the hex SHA-256 of it (the postmaster logs a changed
 * setting's value; a hash there gives nothing away).
 */
static bool
gw_monitor_token_ok(const char *token)
{
	const char *set = gw_monitor_token;

	if (set == NULL || set[0] == '\0')
		return false;
	if (strncmp(set, "sha256:", 7) == 0)
	{
		uint8		digest[PG_SHA256_DIGEST_LENGTH];
		char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
		ResourceOwner save = CurrentResourceOwner;
		pg_cryptohash_ctx *ctx;
		bool		ok;
		bool		hashed;

		/* the listener is between transactions: OpenSSL's context needs
		 * an owner */
		CurrentResourceOwner = ResourceOwnerCreate(NULL, "gateway monitor token");
		ctx = pg_cryptohash_create(PG_SHA256);
		hashed = (ctx != NULL && pg_cryptohash_init(ctx) == 0 &&
				  pg_cryptohash_update(ctx, (const uint8 *) token, strlen(token)) == 0 &&
				  pg_cryptohash_final(ctx, digest, sizeof(digest)) == 0);
		pg_cryptohash_free(ctx);
		ResourceOwnerRelease(CurrentResourceOwner, RESOURCE_RELEASE_BEFORE_LOCKS, false, true);
		ResourceOwnerRelease(CurrentResourceOwner, RESOURCE_RELEASE_LOCKS, false, true);
		ResourceOwnerRelease(CurrentResourceOwner, RESOURCE_RELEASE_AFTER_LOCKS, false, true);
		ResourceOwnerDelete(CurrentResourceOwner);
		CurrentResourceOwner = save;
		if (!hashed)
			return false;
		for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
		ok = gw_monitor_token_equal(hex, set + 7);
		explicit_bzero(hex, sizeof(hex));
		return ok;
	}
	return gw_monitor_token_equal(token, set);
}

int
gw_monitor_access(const char *token, const struct sockaddr *client)
{
	uint8		addr[16];

	if (!gw_monitor_enabled())
		return 404;
	if (token != NULL)
		return gw_monitor_token_ok(token) ? 0 : 403;
	if (gw_monitor_hosts && gw_monitor_hosts[0] && gw_monitor_addr16(client, addr) &&
		!gw_monitor_each_host(gw_monitor_hosts, gw_monitor_not_match, addr))
		return 0;
	return 403;
}

/* The status page: 0 and the page, or the HTTP status (404: no such function). */
static int
gw_monitor_status_page(char **body, MemoryContext cxt)
{
	Oid			save_userid;
	int			save_sec;
	int			status = 404;
	int			rc;

	if (!gw_lock_extension(InvalidOid, true))
		return 503;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute("SELECT pg_catalog.to_regprocedure('gateway.status_page()') IS NOT NULL", true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1 &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0)
	{
		char	   *page;

		gw_as_owner_begin(&save_userid, &save_sec);
		enable_timeout_after(STATEMENT_TIMEOUT, GW_STATUS_PAGE_TIMEOUT_MS);
		rc = SPI_execute("SELECT gateway.status_page()::text", true, 1);
		disable_timeout(STATEMENT_TIMEOUT, true);	/* "statement timeout" if it fired */
		gw_as_owner_end(save_userid, save_sec);
		/* a timeout that fired after the last check ends here, not later
		 * outside a transaction, where it would end the listener */
		CHECK_FOR_INTERRUPTS();
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "gateway.status_page() failed: %s", SPI_result_code_string(rc));
		page = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*body = MemoryContextStrdup(cxt, page ? page : "");
		status = 200;
	}
	SPI_finish();
	return status;
}

int
gw_monitor_answer(const char *path, const char **content_type, char **body)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile int status = 500;
	char	   *volatile out = NULL;

	*content_type = "text/plain; charset=utf-8";
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "gateway listener: monitoring");
		if (strcmp(path, "/metrics") == 0)
		{
			StringInfoData buf;
			MemoryContext old = MemoryContextSwitchTo(cxt);

			initStringInfo(&buf);
			MemoryContextSwitchTo(old);
			gw_metrics_text(&buf);
			out = buf.data;
			status = 200;
		}
		else
		{
			char	   *page = NULL;

			status = gw_monitor_status_page(&page, cxt);
			out = page;
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		disable_timeout(STATEMENT_TIMEOUT, false);
		QueryCancelPending = false;
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("gateway listener: %s failed: %s", path, e->message)));
		FreeErrorData(e);
		status = 500;
		out = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (status == 200)
	{
		if (strcmp(path, "/metrics") == 0)
			*content_type = "text/plain; version=0.0.4; charset=utf-8";
		else
			*content_type = "text/html; charset=utf-8";
		*body = out;
	}
	else
		*body = pstrdup(status == 404 ? "not found\n" : status == 503 ? "unavailable\n" : "internal error\n");
	return status;
}
