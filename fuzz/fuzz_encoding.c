/*
 * fuzz_encoding.c: URL encoding (gw_http_append_escaped) and JSON parsing
 * (gw_json_parse), which every answer and callback goes through.
 *
 * Input: byte 0 even: the rest, up to a NUL, is percent-encoded; the result
 * holds only unreserved characters and %XX, and decodes back to the input.
 * Odd: the rest is parsed as JSON; never an ERROR, what it accepts is
 * jsonb_in's jsonb byte for byte (gw_json_parse builds its own, in one
 * pass), and it prints and parses back to the same jsonb.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "gw_fuzz.h"
#include "http.h"
#include "jsonutil.h"

static int
hexval(char c)
{
	return (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

static void
encoding_url(const uint8 *data, size_t size)
{
	char	   *s = gw_fuzz_cstring(data, size, true);
	StringInfoData out;
	StringInfoData back;

	initStringInfo(&out);
	initStringInfo(&back);
	gw_http_append_escaped(&out, s);
	for (int i = 0; i < out.len; i++)
	{
		char		c = out.data[i];

		if (c == '%')
		{
			int			hi = i + 2 < out.len ? hexval(out.data[i + 1]) : -1;
			int			lo = i + 2 < out.len ? hexval(out.data[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				gw_fuzz_fail("bad escape at %d in \"%s\"", i, out.data);
			appendStringInfoChar(&back, (char) (hi * 16 + lo));
			i += 2;
		}
		else if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", c) == NULL || c == '\0')
			gw_fuzz_fail("reserved character 0x%02x left unescaped", (unsigned char) c);
		else
			appendStringInfoChar(&back, c);
	}
	if (strcmp(back.data, s) != 0)
		gw_fuzz_fail("the encoding does not decode back");
}

static void
encoding_json(const uint8 *data, size_t size)
{
	char	   *s = gw_fuzz_cstring(data, size, false);
	Jsonb	   *jb = gw_json_parse(s, (int) size);

	if (jb != NULL)
	{
		Jsonb	   *ref = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
		char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		Jsonb	   *again;

		if (VARSIZE(ref) != VARSIZE(jb) || memcmp(ref, jb, VARSIZE(jb)) != 0)
			gw_fuzz_fail("accepted JSON is not the jsonb jsonb_in makes of it: %s", text);
		again = gw_json_parse(text, strlen(text));

		if (again == NULL ||
			DatumGetInt32(DirectFunctionCall2(jsonb_cmp, JsonbPGetDatum(jb),
											  JsonbPGetDatum(again))) != 0)
			gw_fuzz_fail("accepted JSON does not parse back the same: %s", text);
	}
}

static void
encoding_run(const uint8 *data, size_t size)
{
	if (size < 1)
		return;
	if (data[0] % 2 == 0)
		encoding_url(data + 1, size - 1);
	else
		encoding_json(data + 1, size - 1);
}

const GwFuzzTarget gw_fuzz_encoding = {
	.name = "encoding",
	.run = encoding_run,
};
