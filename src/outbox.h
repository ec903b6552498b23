/*
 * outbox.h: queueing messages and payments in gateway.outbox.
 */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include "postgres.h"
#include "access/htup.h"
#include "utils/jsonb.h"

#include "outcome.h"
#include "route.h"
#include "utils/relcache.h"

/* Check and queue a call in the current transaction; its row id.  The same
 * idempotency key again returns the first row's id.  route: the route it was
 * queued through (its account is route->account), or NULL. */
extern int64 gw_outbox_enqueue(const char *account, const char *operation, Jsonb *params,
							   Datum send_at, bool send_at_null, const char *key,
							   const GwRouteChoice *route);

/* ERROR before a synchronous call whose outcome could not be recorded. */
extern void gw_outbox_check_sync(const char *account, const char *operation);

/* Record a synchronous payment's outcome as a finished row (payments only),
 * with the status outcome.c gave it, the key its callback will name and
 * the cost the provider reported (or NULL). */
extern void gw_outbox_record_sync(const char *account, const char *operation,
								  Jsonb *params, Jsonb *result,
								  GwOutboxStatus outbox, const char *match_key,
								  const char *cost);

/* gw_sms_trigger's message: template with each {{column}} replaced by the
 * column's value in tuple ("" for NULL); ERROR 42703 for an unknown column. */
extern char *gw_render(Relation rel, HeapTuple tuple, const char *template);

#endif
