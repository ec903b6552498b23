/*
 * fuzz_msisdn.c: gw_msisdn_normalize on any text and country.  A number it
 * cannot take is NULL with a reason; only an unknown country is an ERROR
 * (22023).  What it gives is 7 to 15 digits, and normalizing it again (as
 * "+<digits>") gives the same.
 *
 * Input: byte 0 picks the country (NULL, known ones, unknown ones); the rest,
 * up to a NUL, is the number.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "gw_fuzz.h"
#include "msisdn.h"

extern Datum gw_normalize_msisdn(PG_FUNCTION_ARGS);

static const char *const gw_countries[] = {
	NULL, "KE", "ke", "TZ", "UG", "RW", "NG", "GH", "ZA", "US", "GB", "", "XX", "K", "KEN"
};

static bool
msisdn_allowed(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
}

static void
msisdn_run(const uint8 *data, size_t size)
{
	const char *country;
	const char *why = NULL;
	char	   *phone;
	char	   *out;

	if (size < 1)
		return;
	country = gw_countries[data[0] % lengthof(gw_countries)];
	phone = gw_fuzz_cstring(data + 1, size - 1, true);
	out = gw_msisdn_normalize(phone, country, &why);
	if (out == NULL && (why == NULL || why[0] == '\0'))
		gw_fuzz_fail("refused without a reason");
	/* the SQL function: the same number, or ERROR 22023 */
	if (country && pg_verifymbstr(phone, strlen(phone), true))
	{
		Datum		d = DirectFunctionCall2(gw_normalize_msisdn,
										   CStringGetTextDatum(phone),
										   CStringGetTextDatum(country));

		if (out == NULL || strcmp(TextDatumGetCString(d), out) != 0)
			gw_fuzz_fail("gw_normalize_msisdn and gw_msisdn_normalize disagree");
	}
	if (out == NULL)
		return;
	{
		size_t		n = strlen(out);
		char	   *again;

		if (n < 7 || n > 15 || strspn(out, "0123456789") != n)
			gw_fuzz_fail("not 7 to 15 digits: \"%s\"", out);
		again = gw_msisdn_normalize(psprintf("+%s", out), country, &why);
		if (again == NULL || strcmp(again, out) != 0)
			gw_fuzz_fail("\"%s\" normalized again gives %s%s%s", out,
						 again ? again : "NULL: ", again ? "" : why, "");
	}
}

const GwFuzzTarget gw_fuzz_msisdn = {
	.name = "msisdn",
	.run = msisdn_run,
	.allowed = msisdn_allowed,
};
