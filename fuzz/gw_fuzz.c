/*
 * gw_fuzz.c: gw_fuzz_run(harness, args) runs libFuzzer (LLVMFuzzerRunDriver)
 * inside this backend over one target.  Each input gets a fresh memory
 * context; an ERROR the target may not raise, or a broken invariant, aborts
 * the process, and libFuzzer writes the input out as a crash file.
 * libFuzzer ends the process when the run is over: run it in a backend of
 * its own (the harness script uses single-user mode).
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "gw_fuzz.h"

PG_FUNCTION_INFO_V1(gw_fuzz_run);

extern int	LLVMFuzzerRunDriver(int *argc, char ***argv,
								int (*cb) (const uint8_t *data, size_t size));

static const GwFuzzTarget *const gw_fuzz_targets[] = {
	&gw_fuzz_responses,
	&gw_fuzz_inbound,
	&gw_fuzz_msisdn,
	&gw_fuzz_smsinfo,
	&gw_fuzz_template,
	&gw_fuzz_encoding,
	NULL
};

static const GwFuzzTarget *gw_target = NULL;
static MemoryContext gw_input_cxt = NULL;

/* gw_fuzz_cstring's blocks of the current input, freed before the next one
 * (an ERROR may skip the harness's own clean-up) */
static char *gw_blocks[8];
static int	gw_nblocks = 0;

void
gw_fuzz_fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "gw-fuzz: %s: ", gw_target ? gw_target->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

char *
gw_fuzz_cstring(const uint8 *data, size_t size, bool stop_at_nul)
{
	char	   *s;

	if (stop_at_nul)
	{
		const uint8 *nul = memchr(data, '\0', size);

		if (nul)
			size = nul - data;
	}
	s = malloc(size + 1);
	if (s == NULL || gw_nblocks == lengthof(gw_blocks))
		abort();
	gw_blocks[gw_nblocks++] = s;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* One input: in its own memory context, and subtransaction when asked. */
static int
gw_fuzz_one(const uint8_t *data, size_t size)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	MemoryContextReset(gw_input_cxt);
	while (gw_nblocks > 0)
		free(gw_blocks[--gw_nblocks]);
	if (gw_target->subxact)
		BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(gw_input_cxt);
	PG_TRY();
	{
		gw_target->run(data, size);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(gw_input_cxt);
		ed = CopyErrorData();
		FlushErrorState();
		if (gw_target->allowed == NULL || !gw_target->allowed(ed->sqlerrcode))
			gw_fuzz_fail("unexpected ERROR %s: %s%s%s",
						 unpack_sql_state(ed->sqlerrcode), ed->message,
						 ed->detail ? " DETAIL: " : "", ed->detail ? ed->detail : "");
	}
	PG_END_TRY();
	if (gw_target->subxact)
	{
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
	}
	MemoryContextSwitchTo(outer);
	return 0;
}

/* gw_fuzz_run(harness text, args text[]): never returns (libFuzzer exits). */
Datum
gw_fuzz_run(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			argc;
	char	  **argv;

	for (int i = 0; gw_fuzz_targets[i]; i++)
		if (strcmp(gw_fuzz_targets[i]->name, name) == 0)
			gw_target = gw_fuzz_targets[i];
	if (gw_target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no fuzz harness \"%s\"", name)));

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	argv = MemoryContextAlloc(TopMemoryContext, sizeof(char *) * (n + 2));
	argv[0] = MemoryContextStrdup(TopMemoryContext, psprintf("gw-fuzz-%s", name));
	for (int i = 0; i < n; i++)
		argv[i + 1] = MemoryContextStrdup(TopMemoryContext, TextDatumGetCString(elems[i]));
	argv[n + 1] = NULL;
	argc = n + 1;

	if (gw_target->setup)
		gw_target->setup();
	gw_input_cxt = AllocSetContextCreate(TopMemoryContext, "gw fuzz input",
										 ALLOCSET_DEFAULT_SIZES);
	LLVMFuzzerRunDriver(&argc, &argv, gw_fuzz_one);
	PG_RETURN_VOID();
}
