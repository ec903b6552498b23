/*
 * call.h: running one provider operation synchronously.
 */
#ifndef GW_CALL_H
#define GW_CALL_H

#include "postgres.h"
#include "utils/jsonb.h"

/* Check, build, send, parse: the result shape, in the caller's context. */
extern Jsonb *gw_call_run(const char *account, const char *operation, Jsonb *params);

#endif
