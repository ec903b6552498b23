/*
 * result.h: the one result shape of every call.
 */
#ifndef GW_RESULT_H
#define GW_RESULT_H

#include "provider.h"

/* Decide a finished call's outcome (call->outcome) and build its result. */
extern Jsonb *gw_result_build(GwCall *call);

#endif
