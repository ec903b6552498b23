/*
 * smsinfo.c
 *		SMS encoding, length and segment count, and gw_sms_info()
 *
 * A text whose characters are all in the GSM 03.38 alphabet travels as 7-bit
 * septets: 160 in one message, 153 per part once it must be split.  Any other
 * character forces UCS-2 (UTF-16 in practice): 70 code units in one message,
 * 67 per part.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "compat.h"
#include "smsinfo.h"

#define GW_GSM7_SINGLE	160
#define GW_GSM7_PART	153
#define GW_UCS2_SINGLE	70
#define GW_UCS2_PART	67

/* Stands for a byte that does not start a valid UTF-8 sequence */
#define GW_REPLACEMENT_CHAR	0xFFFD

/*
 * Septets a code point takes in GSM 03.38: 1 in the basic character set,
 * 2 in the extension table (escape + character), 0 when it has no place.
 */
static int
gw_gsm7_septets(uint32 cp)
{
	if (cp < 0x80)
	{
		if (cp == '\n' || cp == '\r')
			return 1;
		if (cp == '\f')
			return 2;
		if (cp < 0x20 || cp == 0x7F || cp == '`')
			return 0;
		if (strchr("^{}\\[~]|", (int) cp) != NULL)
			return 2;
		return 1;
	}

	switch (cp)
	{
		case 0x00A1:			/* ¡ */
		case 0x00A3:			/* £ */
		case 0x00A4:			/* ¤ */
		case 0x00A5:			/* ¥ */
		case 0x00A7:			/* § */
		case 0x00BF:			/* ¿ */
		case 0x00C4:			/* Ä */
		case 0x00C5:			/* Å */
		case 0x00C6:			/* Æ */
		case 0x00C7:			/* Ç */
		case 0x00C9:			/* É */
		case 0x00D1:			/* Ñ */
		case 0x00D6:			/* Ö */
		case 0x00D8:			/* Ø */
		case 0x00DC:			/* Ü */
		case 0x00DF:			/* ß */
		case 0x00E0:			/* à */
		case 0x00E4:			/* ä */
		case 0x00E5:			/* å */
		case 0x00E6:			/* æ */
		case 0x00E8:			/* è */
		case 0x00E9:			/* é */
		case 0x00EC:			/* ì */
		case 0x00F1:			/* ñ */
		case 0x00F2:			/* ò */
		case 0x00F6:			/* ö */
		case 0x00F8:			/* ø */
		case 0x00F9:			/* ù */
		case 0x00FC:			/* ü */
		case 0x0393:			/* Γ */
		case 0x0394:			/* Δ */
		case 0x0398:			/* Θ */
		case 0x039B:			/* Λ */
		case 0x039E:			/* Ξ */
		case 0x03A0:			/* Π */
		case 0x03A3:			/* Σ */
		case 0x03A6:			/* Φ */
		case 0x03A8:			/* Ψ */
		case 0x03A9:			/* Ω */
			return 1;
		case 0x20AC:			/* € */
			return 2;
		default:
			return 0;
	}
}

/*
 * Decode one UTF-8 character at s (len > 0 bytes available) into *cp and
 * return the bytes it takes.  A malformed, overlong, surrogate or truncated
 * sequence yields GW_REPLACEMENT_CHAR for its first byte alone.
 */
static int
gw_utf8_next(const unsigned char *s, int len, uint32 *cp)
{
	unsigned char b = s[0];
	int			n;
	unsigned char lo = 0x80;	/* allowed range of the second byte */
	unsigned char hi = 0xBF;
	uint32		c;
	int			i;

	if (b < 0x80)
	{
		*cp = b;
		return 1;
	}
	else if (b >= 0xC2 && b <= 0xDF)
	{
		n = 2;
		c = b & 0x1F;
	}
	else if (b >= 0xE0 && b <= 0xEF)
	{
		n = 3;
		c = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	}
	else if (b >= 0xF0 && b <= 0xF4)
	{
		n = 4;
		c = b & 0x07;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	}
	else
	{
		*cp = GW_REPLACEMENT_CHAR;
		return 1;
	}

	if (len < n || s[1] < lo || s[1] > hi)
	{
		*cp = GW_REPLACEMENT_CHAR;
		return 1;
	}
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*cp = GW_REPLACEMENT_CHAR;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	*cp = c;
	return n;
}

void
gw_sms_info_compute(const char *utf8, int len, GwSmsInfo *out)
{
	const unsigned char *s = (const unsigned char *) utf8;
	int			pos = 0;
	bool		gsm7 = true;
	int64		septets = 0;
	int64		units = 0;
	int64		length;
	int64		segments;

	while (pos < len)
	{
		uint32		cp;
		int			septs;

		pos += gw_utf8_next(s + pos, len - pos, &cp);

		units += (cp >= 0x10000) ? 2 : 1;
		if (gsm7)
		{
			septs = gw_gsm7_septets(cp);
			if (septs == 0)
				gsm7 = false;
			septets += septs;
		}
	}

	/*
	 * The empty text has length 0 and 0 segments: nothing is sent, even
	 * though a provider may bill one part if asked to send it anyway.
	 */
	if (gsm7)
	{
		length = septets;
		if (length == 0)
			segments = 0;
		else if (length <= GW_GSM7_SINGLE)
			segments = 1;
		else
			segments = (length + GW_GSM7_PART - 1) / GW_GSM7_PART;
	}
	else
	{
		length = units;
		if (length <= GW_UCS2_SINGLE)
			segments = 1;
		else
			segments = (length + GW_UCS2_PART - 1) / GW_UCS2_PART;
	}

	out->gsm7 = gsm7;
	out->length = (int) Min(length, (int64) PG_INT32_MAX);
	out->segments = (int) segments;
}

/*
 * gw_sms_info(message text) RETURNS jsonb
 */
PG_FUNCTION_INFO_V1(gw_sms_info);
Datum
gw_sms_info(PG_FUNCTION_ARGS)
{
	text	   *message = PG_GETARG_TEXT_PP(0);
	const char *data = VARDATA_ANY(message);
	int			len = VARSIZE_ANY_EXHDR(message);
	GwSmsInfo	info;
	char		json[128];

	/* Count in UTF-8 whatever the database encoding */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *converted = pg_server_to_any(data, len, PG_UTF8);

		if (converted != data)
		{
			data = converted;
			len = strlen(converted);
		}
	}

	gw_sms_info_compute(data, len, &info);

	snprintf(json, sizeof(json),
			 "{\"encoding\": \"%s\", \"length\": %d, \"segments\": %d}",
			 info.gsm7 ? "gsm7" : "ucs2", info.length, info.segments);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
