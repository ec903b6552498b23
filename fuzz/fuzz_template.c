/*
 * fuzz_template.c: gw_sms_trigger's template renderer (gw_render) on any
 * template, over a row of table gw_fuzz_row (name, phone, amount, note NULL;
 * made by fuzz/run.sh).  The only ERROR is an unknown column (42703); a
 * template without "{{" comes out as it went in.
 *
 * Input: the template, up to a NUL (a trigger argument holds none).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "gw_fuzz.h"
#include "outbox.h"

static Relation gw_rel = NULL;
static HeapTuple gw_tuple = NULL;

static void
template_setup(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, true};

	gw_rel = table_openrv(makeRangeVar(NULL, "gw_fuzz_row", -1), AccessShareLock);
	desc = RelationGetDescr(gw_rel);
	if (desc->natts != 4)
		elog(ERROR, "gw_fuzz_row must have 4 columns");
	values[0] = CStringGetTextDatum("Amina {{x}} }}{{");
	values[1] = CStringGetTextDatum("0712345678");
	values[2] = DirectFunctionCall3(numeric_in, CStringGetDatum("1500.50"),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	values[3] = (Datum) 0;
	gw_tuple = heap_form_tuple(desc, values, nulls);
	MemoryContextSwitchTo(old);
}

static bool
template_allowed(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_UNDEFINED_COLUMN;
}

static void
template_run(const uint8 *data, size_t size)
{
	char	   *template = gw_fuzz_cstring(data, size, true);
	char	   *out = gw_render(gw_rel, gw_tuple, template);

	if (strstr(template, "{{") == NULL && strcmp(out, template) != 0)
		gw_fuzz_fail("a template without placeholders changed");
}

const GwFuzzTarget gw_fuzz_template = {
	.name = "template",
	.setup = template_setup,
	.run = template_run,
	.allowed = template_allowed,
};
