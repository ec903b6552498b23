/*
 * request.h: one call's life, whoever sends it: prepare (find the
 * operation, check params, build the request), send, complete (wipe the
 * secrets, parse the answer, build the result).
 */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "account.h"
#include "http.h"
#include "provider.h"

/* Check the operation and params and build the request; raises the caller's
 * mistakes.  Allocates in CurrentMemoryContext. */
extern void gw_call_prepare(GwCall *call, const GwAccount *acc,
							const char *operation, Jsonb *params);

/* Give a prepared call the provider's token, when the provider uses one
 * (refresh: the last one was refused). */
extern void gw_call_authorize(GwCall *call, bool refresh);

/* The HTTP request for a prepared call. */
extern void gw_call_request(GwCall *call, GwHttpRequest *req);

/* After call->resp is filled: wipe the request, keep secrets out of the
 * answer, parse it and build the result. */
extern Jsonb *gw_call_complete(GwCall *call);

/* All of it, synchronously: the result in the caller's memory context; the
 * row status outcome.c gives it, its match key and the cost the provider
 * reported, when asked for. */
extern Jsonb *gw_call_run(const char *account, const char *operation, Jsonb *params,
						  GwOutboxStatus *outbox, char **match_key, char **cost);

#endif
