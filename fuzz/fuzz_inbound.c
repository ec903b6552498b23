/*
 * fuzz_inbound.c: a callback body, whatever its bytes, through
 * gateway.ingest_text's path (gw_inbound_ingest: record, parse, apply, the
 * USSD handler).  Bodies the listener refuses before ingesting (a NUL byte,
 * not UTF-8) are skipped.  It never raises an ERROR: a body that cannot be
 * taken is recorded with an "error".  Each input is rolled back.
 *
 * Input: byte 0 picks the account (fz_<provider>, made by fuzz/run.sh) and
 * byte 1 the kind; the rest is the body.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/jsonb.h"

#include "gw_fuzz.h"
#include "inbound.h"
#include "jsonutil.h"

static const char *const gw_accounts[] = {
	"fz_vaspro", "fz_mspace", "fz_umeskia", "fz_vtpass", "fz_nenasasa"
};
static const char *const gw_kinds[] = {"dlr", "payment", "subscription", "mo", "ussd"};

static void
inbound_run(const uint8 *data, size_t size)
{
	const char *account;
	const char *kind;
	char	   *body;
	Jsonb	   *answer;

	if (size < 2)
		return;
	account = gw_accounts[data[0] % lengthof(gw_accounts)];
	kind = gw_kinds[data[1] % lengthof(gw_kinds)];
	if (memchr(data + 2, '\0', size - 2) != NULL ||
		!pg_verifymbstr((const char *) data + 2, size - 2, true))
		return;
	body = gw_fuzz_cstring(data + 2, size - 2, false);
	answer = gw_inbound_ingest(account, kind, body, NULL);
	if (gw_jsonb_get_text(answer, "recorded") == NULL)
		gw_fuzz_fail("answer without \"recorded\"");
	if (strcmp(kind, "ussd") == 0 && gw_jsonb_get_text(answer, "error") == NULL)
	{
		char	   *reply = gw_jsonb_get_text(answer, "reply");

		if (reply == NULL || (strncmp(reply, "CON ", 4) != 0 && strncmp(reply, "END ", 4) != 0))
			gw_fuzz_fail("USSD answer without a CON/END reply");
	}
}

const GwFuzzTarget gw_fuzz_inbound = {
	.name = "inbound",
	.run = inbound_run,
	.subxact = true,
};
