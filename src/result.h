/*
 * result.h: the one result shape, and the one place that maps HTTP statuses,
 * network failures and provider verdicts to ok, status and retryable.
 */
#ifndef GW_RESULT_H
#define GW_RESULT_H

#include "provider.h"

/* Decide ok/status/retryable for a finished call and build the result. */
extern Jsonb *gw_result_build(GwCall *call);

#endif
