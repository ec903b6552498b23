/*
 * gw_fuzz.h: the fuzz harnesses.  Each is one SQL-callable libFuzzer run
 * inside a backend (gw_fuzz.c); a target is what one input is fed to.
 */
#ifndef GW_FUZZ_H
#define GW_FUZZ_H

#include "postgres.h"

typedef struct GwFuzzTarget
{
	const char *name;
	/* once per run, before the first input (NULL: nothing) */
	void		(*setup) (void);
	/* one input; an ERROR it raises is a finding unless allowed says so */
	void		(*run) (const uint8 *data, size_t size);
	/* whether an ERROR with this SQLSTATE is a correct answer (NULL: none is) */
	bool		(*allowed) (int sqlerrcode);
	/* run each input in a subtransaction that is rolled back (SPI, tables) */
	bool		subxact;
} GwFuzzTarget;

extern const GwFuzzTarget gw_fuzz_responses;
extern const GwFuzzTarget gw_fuzz_inbound;
extern const GwFuzzTarget gw_fuzz_msisdn;
extern const GwFuzzTarget gw_fuzz_smsinfo;
extern const GwFuzzTarget gw_fuzz_template;
extern const GwFuzzTarget gw_fuzz_encoding;

/* A broken invariant: say what, then abort so that libFuzzer keeps the input. */
extern void gw_fuzz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* The input as a NUL-terminated string in its own malloc'd block of exactly
 * size + 1 bytes (so that AddressSanitizer sees a read past its end), freed
 * before the next input.  Stops at the first NUL when stop_at_nul. */
extern char *gw_fuzz_cstring(const uint8 *data, size_t size, bool stop_at_nul);

#endif
