/*
 * inbound.h: callbacks from providers: delivery reports, payment results,
 * subscription profiles, incoming SMS and USSD requests.
 *
 * Every callback is applied, then recorded in gateway.inbound with what
 * applying it did (and announced with NOTIFY gateway_inbound, payload the
 * inbound id, at commit), in the same transaction.
 *
 * The answer, as jsonb, is one object:
 *
 *   {"recorded": <gateway.inbound id>, "kind": "dlr", "outbox_id": <row> | null,
 *    "status": <the status it set> | null, "note": <what came of it> | null,
 *    "error": null | "<why the body cannot be taken>",
 *    "reply": "CON ..." | "END ..."          -- kind ussd only}
 *
 * How the listener answers it:
 *   - ERROR with SQLSTATE 42704 (undefined_object): unknown account or kind,
 *     nothing recorded (the listener checks both with the request's headers:
 *     an unknown account is 403, as a wrong token, an unknown kind 404);
 *   - a cancel (the listener's USSD deadline): nothing recorded, 503;
 *   - "error" not null: the body was recorded but cannot be taken (not JSON,
 *     not an object, a required field missing): 400;
 *   - a transient ERROR while applying it (SQLSTATE classes 40, 53, 55, 57:
 *     a lock or statement timeout, a deadlock) is raised, nothing is kept:
 *     503, the provider sends it again;
 *   - otherwise 200, with "reply" as the text/plain body for kind ussd.  A
 *     callback that refers to nothing we know is a 200 too (recorded, with a
 *     note): the provider must not send it again.
 */
#ifndef GW_INBOUND_H
#define GW_INBOUND_H

#include "postgres.h"
#include "utils/jsonb.h"

/* Callbacks ingested together (gw_inbound_ingest_many): at most this many. */
#define GW_INGEST_MAX 64

typedef struct GwCallback
{
	const char *account;
	const char *kind;
	const char *body;			/* as received, or NULL */
	Jsonb	   *payload;		/* parsed, or NULL */
	Jsonb	   *answer;			/* out: the answer object */
} GwCallback;

/*
 * Record and apply callbacks in one go, each as gw_inbound_ingest would:
 * the delivery reports and payment results are applied together (one
 * statement finds their rows, one UPDATE applies them); when that fails it
 * is done again one callback at a time, so that one callback's ERROR is its
 * own.  Raises as gw_inbound_ingest does, for any one of them.
 */
extern void gw_inbound_ingest_many(GwCallback *cbs, int n);

/* Record and apply one callback; body is the raw text as received (payload
 * NULL), or payload the parsed JSON (body NULL).  Raises 42704 for an
 * unknown account or kind.  Runs in the caller's transaction. */
extern Jsonb *gw_inbound_ingest(const char *account, const char *kind,
								const char *body, Jsonb *payload);

#endif
