/*
 * msisdn.c
 *		Phone number normalization to E.164 digits, and gw_normalize_msisdn()
 *
 * A number comes in as people write it ("0712 345 678", "+254-712-345678",
 * "(0803) 123 4567") and leaves as the digits providers expect: country code
 * and national significant number, no '+' ("254712345678").
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "msisdn.h"

/* E.164 allows at most 15 digits, country code included */
#define GW_MSISDN_MAX_DIGITS	15
/* Shortest international number we accept for a country we do not know */
#define GW_MSISDN_MIN_DIGITS	8

typedef struct GwCountry
{
	const char *iso;			/* ISO 3166 alpha-2 code */
	const char *cc;				/* country calling code */
	int			nsn_len;		/* digits after the country code */
	const char *mobile;			/* first digits of mobile numbers, NULL: any */
	const char *example;		/* a national significant number, for hints */
	const char *length_why;
	const char *mobile_why;
} GwCountry;

/*
 * Supported countries.  No calling code here is a prefix of another, so the
 * first match by prefix is the only one.  Keep the hint in
 * gw_country_lookup in step with this table.
 */
static const GwCountry gw_countries[] = {
	{"KE", "254", 9, "71", "712345678",
		"A Kenyan number has 9 digits after the country code 254, or 10 digits when written with a leading 0.",
	"A Kenyan mobile number starts with 7 or 1 after the country code 254."},
	{"NG", "234", 10, "789", "8031234567",
		"A Nigerian number has 10 digits after the country code 234, or 11 digits when written with a leading 0.",
	"A Nigerian mobile number starts with 7, 8 or 9 after the country code 234."},
	{"UG", "256", 9, NULL, "712345678",
		"A Ugandan number has 9 digits after the country code 256, or 10 digits when written with a leading 0.",
	NULL},
	{"TZ", "255", 9, NULL, "712345678",
		"A Tanzanian number has 9 digits after the country code 255, or 10 digits when written with a leading 0.",
	NULL},
	{"RW", "250", 9, NULL, "788123456",
		"A Rwandan number has 9 digits after the country code 250, or 10 digits when written with a leading 0.",
	NULL},
	{"GH", "233", 9, NULL, "241234567",
		"A Ghanaian number has 9 digits after the country code 233, or 10 digits when written with a leading 0.",
	NULL},
	{"ZA", "27", 9, NULL, "821234567",
		"A South African number has 9 digits after the country code 27, or 10 digits when written with a leading 0.",
	NULL},
};

#define GW_NCOUNTRIES	lengthof(gw_countries)

/*
 * Find a country by its ISO code, case-insensitively; NULL means KE.
 */
static const GwCountry *
gw_country_lookup(const char *iso)
{
	size_t		i;

	if (iso == NULL)
		return &gw_countries[0];

	for (i = 0; i < GW_NCOUNTRIES; i++)
	{
		if (pg_strcasecmp(iso, gw_countries[i].iso) == 0)
			return &gw_countries[i];
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown country code \"%s\"", iso),
			 errhint("Supported country codes are KE, NG, UG, TZ, RW, GH and ZA.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * Find the country whose calling code starts the given digits.
 */
static const GwCountry *
gw_country_by_prefix(const char *digits, int len)
{
	size_t		i;

	for (i = 0; i < GW_NCOUNTRIES; i++)
	{
		int			cclen = strlen(gw_countries[i].cc);

		if (len >= cclen && memcmp(digits, gw_countries[i].cc, cclen) == 0)
			return &gw_countries[i];
	}
	return NULL;
}

/*
 * Build country code + national number after checking the mobile prefix.
 */
static char *
gw_msisdn_build(const GwCountry *c, const char *nsn, const char **why)
{
	int			cclen = strlen(c->cc);
	char	   *result;

	if (c->mobile != NULL && strchr(c->mobile, nsn[0]) == NULL)
	{
		*why = c->mobile_why;
		return NULL;
	}

	result = palloc(cclen + c->nsn_len + 1);
	memcpy(result, c->cc, cclen);
	memcpy(result + cclen, nsn, c->nsn_len);
	result[cclen + c->nsn_len] = '\0';
	return result;
}

/*
 * Take digits that start with c's calling code, optionally followed by a
 * trunk 0 as in "+254 (0)712 345 678".
 */
static char *
gw_msisdn_from_international(const GwCountry *c, const char *digits, int len,
							 const char **why)
{
	int			cclen = strlen(c->cc);

	if (len == cclen + c->nsn_len)
		return gw_msisdn_build(c, digits + cclen, why);
	if (len == cclen + 1 + c->nsn_len && digits[cclen] == '0')
		return gw_msisdn_build(c, digits + cclen + 1, why);

	*why = c->length_why;
	return NULL;
}

char *
gw_msisdn_normalize(const char *phone, const char *country, const char **why)
{
	const GwCountry *home = gw_country_lookup(country);
	const GwCountry *other;
	const char *ignored;
	char		buf[GW_MSISDN_MAX_DIGITS + 2];	/* room for a leading "00" */
	const char *digits;
	size_t		ndigits = 0;
	int			len;
	bool		plus = false;
	bool		international;
	const char *p;

	if (why == NULL)
		why = &ignored;
	*why = NULL;

	/* Collect digits; only separators and one leading '+' may surround them */
	for (p = phone; *p != '\0'; p++)
	{
		char		ch = *p;

		if (ch >= '0' && ch <= '9')
		{
			if (ndigits < sizeof(buf))
				buf[ndigits] = ch;
			ndigits++;
		}
		else if (ch == '+')
		{
			if (plus || ndigits > 0)
			{
				*why = "A plus sign may only appear once, at the start of the number.";
				return NULL;
			}
			plus = true;
		}
		else if (ch != ' ' && ch != '\t' && ch != '-' && ch != '.' &&
				 ch != '(' && ch != ')')
		{
			*why = "The phone number may contain only digits, a leading plus sign, spaces, dashes, dots and parentheses.";
			return NULL;
		}
	}

	if (ndigits == 0)
	{
		*why = "The phone number contains no digits.";
		return NULL;
	}

	/* A leading '+' or "00" introduces the country code */
	digits = buf;
	international = plus;
	if (!plus && ndigits >= 2 && buf[0] == '0' && buf[1] == '0')
	{
		international = true;
		digits += 2;
		ndigits -= 2;
	}

	if (ndigits > GW_MSISDN_MAX_DIGITS)
	{
		*why = "The phone number has more than 15 digits, the most an international number can have.";
		return NULL;
	}
	len = (int) ndigits;

	if (international)
	{
		if (len == 0)
		{
			*why = "The phone number contains no digits after the international prefix.";
			return NULL;
		}
		if (digits[0] == '0')
		{
			*why = "A country code never starts with 0.";
			return NULL;
		}

		other = gw_country_by_prefix(digits, len);
		if (other != NULL)
			return gw_msisdn_from_international(other, digits, len, why);

		/* A country we have no table for: check the E.164 length only */
		if (len < GW_MSISDN_MIN_DIGITS)
		{
			*why = "An international number has at least 8 digits, country code included.";
			return NULL;
		}
		return pnstrdup(digits, len);
	}

	/* Trunk prefix: "0712345678" */
	if (digits[0] == '0')
	{
		if (len == 1 + home->nsn_len)
			return gw_msisdn_build(home, digits + 1, why);
		*why = home->length_why;
		return NULL;
	}

	/* Bare national number: "712345678" */
	if (len == home->nsn_len)
		return gw_msisdn_build(home, digits, why);

	/* International digits without '+': "254712345678", "256712345678" */
	other = gw_country_by_prefix(digits, len);
	if (other != NULL)
	{
		int			cclen = strlen(other->cc);

		if (len == cclen + other->nsn_len ||
			(len == cclen + 1 + other->nsn_len && digits[cclen] == '0'))
			return gw_msisdn_from_international(other, digits, len, why);
	}

	*why = home->length_why;
	return NULL;
}

char *
gw_msisdn_normalize_or_error(const char *phone, const char *country)
{
	const GwCountry *home = gw_country_lookup(country);
	const char *why;
	char	   *result;

	result = gw_msisdn_normalize(phone, country, &why);
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phone number \"%s\"", phone),
				 errdetail("%s", why),
				 errhint("Write the number as 0%s, %s, %s%s or +%s%s; spaces, dashes, dots and parentheses are ignored.",
						 home->example, home->example,
						 home->cc, home->example,
						 home->cc, home->example)));
	return result;
}

/* The calling code of a country (ISO code); ERROR for one we do not know. */
const char *
gw_msisdn_calling_code(const char *iso)
{
	return gw_country_lookup(iso)->cc;
}

/*
 * gw_normalize_msisdn(phone text, country text DEFAULT 'KE') RETURNS text
 */
PG_FUNCTION_INFO_V1(gw_normalize_msisdn);
Datum
gw_normalize_msisdn(PG_FUNCTION_ARGS)
{
	char	   *phone = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *country = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_TEXT_P(cstring_to_text(gw_msisdn_normalize_or_error(phone, country)));
}
