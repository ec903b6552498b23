/*
 * callback.c: callback tokens and the URLs providers call back on.
 *
 * Each account has a random token; the listener accepts a callback only
 * with the account's token in its URL.  The table keeps the token sealed
 * (gw_callback_token_seal): XORed with a pad derived by HMAC-SHA256 from a
 * key kept in a file of the data directory, never in the database, so that
 * neither a reader of gateway.account_secret nor a dump can use it.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "common/hmac.h"
#include "common/cryptohash.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"

#include "callback.h"
#include "http.h"
#include "rights.h"
#include "util.h"

PG_FUNCTION_INFO_V1(gw_random_token);
PG_FUNCTION_INFO_V1(gw_callback_url);
PG_FUNCTION_INFO_V1(gw_seal_token);

char	   *gw_listen_address = NULL;
char	   *gw_callback_base_url = NULL;

static const char *const gw_kinds[] = {"dlr", "payment", "subscription", "mo", "ussd", NULL};

bool
gw_callback_kind_valid(const char *kind)
{
	for (const char *const *k = gw_kinds; *k; k++)
		if (strcmp(*k, kind) == 0)
			return true;
	return false;
}

/* 32 random bytes as 64 hex digits. */
Datum
gw_random_token(PG_FUNCTION_ARGS)
{
	uint8		bytes[32];
	char		hex[65];

	if (!pg_strong_random(bytes, sizeof(bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random callback token")));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

/* The key file, in the data directory: copied by base backups, not dumped. */
#define GW_TOKEN_KEY_FILE "gateway_callback.key"
#define GW_TOKEN_KEY_LEN 32
#define GW_SEALED_PREFIX "v1:"
#define GW_NONCE_LEN 16
#define GW_TOKEN_MAX 128

static uint8 gw_token_key[GW_TOKEN_KEY_LEN];
static bool gw_token_key_loaded = false;

/* Read the key, making it (O_EXCL: one maker wins) when there is none. */
static void
gw_token_key_load(void)
{
	char	   *path = psprintf("%s/%s", DataDir, GW_TOKEN_KEY_FILE);
	int			fd;
	ssize_t		n;

	if (gw_token_key_loaded)
		return;
	fd = open(path, O_RDONLY | PG_BINARY);
	/* a standby's key must be its primary's: never make one there */
	if (fd < 0 && errno == ENOENT && RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the callback token key \"%s\" is missing on this standby", path),
				 errhint("Copy %s from the primary's data directory.", GW_TOKEN_KEY_FILE)));
	if (fd < 0 && errno == ENOENT)
	{
		uint8		key[GW_TOKEN_KEY_LEN];

		if (!pg_strong_random(key, sizeof(key)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate the callback token key")));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
		if (fd >= 0)
		{
			if (write(fd, key, sizeof(key)) != sizeof(key) || pg_fsync(fd) != 0)
			{
				int			save = errno;

				close(fd);
				unlink(path);
				errno = save;
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not write the callback token key \"%s\": %m", path)));
			}
			close(fd);
		}
		else if (errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create the callback token key \"%s\": %m", path)));
		explicit_bzero(key, sizeof(key));
		fd = open(path, O_RDONLY | PG_BINARY);
	}
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open the callback token key \"%s\": %m", path)));
	n = read(fd, gw_token_key, sizeof(gw_token_key));
	close(fd);
	if (n != sizeof(gw_token_key))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the callback token key \"%s\" is not %d bytes long", path, GW_TOKEN_KEY_LEN),
				 errhint("Restore the file from a backup of this data directory; without it, rotate every account's callback token.")));
	gw_token_key_loaded = true;
}

/* len bytes of pad for one account's token under nonce. */
static void
gw_token_pad(const char *account, const char *nonce, uint8 *pad, int len)
{
	for (uint8 block = 0; block * 32 < len; block++)
	{
		pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
		uint8		out[32];
		static const char label[] = "gateway callback token";

		if (ctx == NULL ||
			pg_hmac_init(ctx, gw_token_key, sizeof(gw_token_key)) < 0 ||
			pg_hmac_update(ctx, (const uint8 *) label, sizeof(label)) < 0 ||
			pg_hmac_update(ctx, (const uint8 *) account, strlen(account) + 1) < 0 ||
			pg_hmac_update(ctx, (const uint8 *) nonce, strlen(nonce) + 1) < 0 ||
			pg_hmac_update(ctx, &block, 1) < 0 ||
			pg_hmac_final(ctx, out, sizeof(out)) < 0)
		{
			pg_hmac_free(ctx);
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not derive the callback token pad")));
		}
		pg_hmac_free(ctx);
		memcpy(pad + block * 32, out, Min(32, len - block * 32));
		explicit_bzero(out, sizeof(out));
	}
}

/*
 * The stored form of an account's callback token: "v1:<nonce>:<hex of the
 * token XOR the pad>".  The nonce is fresh for every seal.
 */
char *
gw_callback_token_seal(const char *account, const char *token)
{
	int			len = strlen(token);
	uint8		nonce_bytes[GW_NONCE_LEN];
	char		nonce[2 * GW_NONCE_LEN + 1];
	uint8		pad[GW_TOKEN_MAX];
	StringInfoData out;

	if (len == 0 || len > GW_TOKEN_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a callback token must be 1 to %d characters long", GW_TOKEN_MAX)));
	gw_token_key_load();
	if (!pg_strong_random(nonce_bytes, sizeof(nonce_bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
	for (int i = 0; i < GW_NONCE_LEN; i++)
		snprintf(nonce + 2 * i, 3, "%02x", nonce_bytes[i]);
	gw_token_pad(account, nonce, pad, len);
	initStringInfo(&out);
	appendStringInfo(&out, "%s%s:", GW_SEALED_PREFIX, nonce);
	for (int i = 0; i < len; i++)
		appendStringInfo(&out, "%02x", (uint8) token[i] ^ pad[i]);
	explicit_bzero(pad, sizeof(pad));
	return out.data;
}

static int
gw_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The token sealed in stored, or NULL when it cannot be opened (sealed with
 * another key: a restore into another cluster).  A token is hex; what a
 * wrong key opens is not.  A value without the prefix is a token stored
 * plain, as before 0.3.0.
 */
char *
gw_callback_token_unseal(const char *account, const char *stored)
{
	const char *nonce_end;
	const char *hex;
	char	   *nonce;
	int			len;
	uint8		pad[GW_TOKEN_MAX];
	char	   *token;

	if (stored == NULL)
		return NULL;
	/* stored plain: an extension not updated to 0.3.0 yet (the update seals it) */
	if (strncmp(stored, GW_SEALED_PREFIX, strlen(GW_SEALED_PREFIX)) != 0)
		return pstrdup(stored);
	nonce_end = strchr(stored + strlen(GW_SEALED_PREFIX), ':');
	if (nonce_end == NULL)
		return NULL;
	hex = nonce_end + 1;
	len = strlen(hex) / 2;
	if (len == 0 || len > GW_TOKEN_MAX || strlen(hex) % 2 != 0)
		return NULL;
	gw_token_key_load();
	nonce = pnstrdup(stored + strlen(GW_SEALED_PREFIX),
					 nonce_end - stored - strlen(GW_SEALED_PREFIX));
	gw_token_pad(account, nonce, pad, len);
	token = palloc(len + 1);
	for (int i = 0; i < len; i++)
	{
		int			hi = gw_hexval(hex[2 * i]);
		int			lo = gw_hexval(hex[2 * i + 1]);
		char		c;

		if (hi < 0 || lo < 0)
			return NULL;
		c = (char) (((hi << 4) | lo) ^ pad[i]);
		if (gw_hexval(c) < 0)
		{
			explicit_bzero(token, len);
			explicit_bzero(pad, sizeof(pad));
			return NULL;
		}
		token[i] = c;
	}
	token[len] = '\0';
	explicit_bzero(pad, sizeof(pad));
	return token;
}

/* gateway.seal_token(account, token): the stored form of a callback token. */
Datum
gw_seal_token(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *token = gw_arg_text(fcinfo, 1);

	gw_require(account, "account");
	gw_require(token, "token");
	PG_RETURN_TEXT_P(cstring_to_text(gw_callback_token_seal(account, token)));
}

char *
gw_callback_url_for(const GwAccount *acc, const char *kind)
{
	char	   *base = gw_account_option(acc, "callback_base_url");
	StringInfoData url;

	if (base == NULL && gw_callback_base_url && gw_callback_base_url[0])
		base = pstrdup(gw_callback_base_url);
	if (base == NULL && gw_listen_address && gw_listen_address[0])
		base = psprintf("http://%s", gw_listen_address);
	if (base == NULL || acc->callback_token == NULL)
		return NULL;
	while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	initStringInfo(&url);
	/* /<database>/<account>/<kind>: the listener serves every database */
	appendStringInfo(&url, "%s/", base);
	gw_http_append_escaped(&url, get_database_name(MyDatabaseId));
	appendStringInfoChar(&url, '/');
	gw_http_append_escaped(&url, acc->name);
	appendStringInfo(&url, "/%s?token=%s", kind, acc->callback_token);
	return url.data;
}

/* gw_callback_url(account, kind): the URL to give the provider. */
Datum
gw_callback_url(PG_FUNCTION_ARGS)
{
	char	   *account = gw_arg_text(fcinfo, 0);
	char	   *kind = gw_arg_text(fcinfo, 1);
	const GwAccount *acc;
	char	   *url;

	gw_require(account, "account");
	gw_require(kind, "kind");
	if (!gw_callback_kind_valid(kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown callback kind \"%s\"", kind),
				 errhint("The kinds are dlr, payment, subscription, mo and ussd.")));
	gw_rights_require(account, GW_RIGHT_ADMIN);
	acc = gw_account_get(account);
	if (acc->callback_token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the callback token of account \"%s\" cannot be opened", account),
				 errdetail("It was sealed with another key than this cluster's %s: the database was restored from a dump of another cluster.",
						   GW_TOKEN_KEY_FILE),
				 errhint("Run gw_callback_token_rotate('%s') and give the provider the new URL, or copy %s from the old data directory.",
						 account, GW_TOKEN_KEY_FILE)));
	url = gw_callback_url_for(acc, kind);
	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the callback listener is off"),
				 errhint("Set gateway.listen_address (and gateway.callback_base_url when providers reach it through a proxy).")));
	PG_RETURN_TEXT_P(cstring_to_text(url));
}
