/*
 * fuzz_smsinfo.c: gw_sms_info_compute on any bytes, and gw_sms_info() on any
 * text.  Never an ERROR; the counts follow the segment rules (GSM-7: 160 in
 * one part, 153 per part; UCS-2: 70, 67), and the SQL function agrees.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "gw_fuzz.h"
#include "jsonutil.h"
#include "smsinfo.h"

extern Datum gw_sms_info(PG_FUNCTION_ARGS);

static int
smsinfo_expected_segments(const GwSmsInfo *i)
{
	int			single = i->gsm7 ? 160 : 70;
	int			part = i->gsm7 ? 153 : 67;

	if (i->length == 0)
		return i->gsm7 ? 0 : 1;
	if (i->length <= single)
		return 1;
	return (i->length + part - 1) / part;
}

static void
smsinfo_run(const uint8 *data, size_t size)
{
	GwSmsInfo	info;

	gw_sms_info_compute((const char *) data, (int) size, &info);
	if (info.length < 0 || info.length > (int) size * 2 ||
		info.segments != smsinfo_expected_segments(&info))
		gw_fuzz_fail("%d bytes: %s length %d, %d segments", (int) size,
					 info.gsm7 ? "gsm7" : "ucs2", info.length, info.segments);
	if (memchr(data, '\0', size) == NULL && pg_verifymbstr((const char *) data, size, true))
	{
		Jsonb	   *j = DatumGetJsonbP(DirectFunctionCall1(gw_sms_info,
														   PointerGetDatum(cstring_to_text_with_len((const char *) data, size))));
		char	   *segments = gw_jsonb_get_text(j, "segments");

		if (segments == NULL || atoi(segments) != info.segments)
			gw_fuzz_fail("gw_sms_info says %s segments, not %d", segments ? segments : "no", info.segments);
	}
}

const GwFuzzTarget gw_fuzz_smsinfo = {
	.name = "smsinfo",
	.run = smsinfo_run,
};
