/*
 * route.h: routes (gateway.route): the account, and the fallback account,
 * an SMS goes to by the longest prefix of its recipient's number.  Routes
 * and accounts share one namespace; routes never carry payments.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "provider.h"

/* Where a route sends one recipient. */
typedef struct GwRouteChoice
{
	char	   *route;			/* the route's name */
	char	   *account;		/* the entry's account */
	char	   *fallback;		/* its fallback, or NULL */
	char	   *recipient;		/* the number, normalized */
} GwRouteChoice;

/* Whether name is a route (no rights needed, nothing raised). */
extern bool gw_route_is(const char *name);

/* ERROR when name is a route: what (e.g. "a payment") never goes through one. */
extern void gw_route_refuse(const char *name, const char *what);

/*
 * When name is a route: check that the caller holds every account it names,
 * pick the entry of recipient's longest prefix (ERROR when none) and fill
 * *out; true.  False when name is no route.
 */
extern bool gw_route_resolve(const char *name, const char *recipient, GwRouteChoice *out);

/* The account a synchronous send through a route takes now: the entry's,
 * or its fallback while the account's circuit is open and the fallback's
 * is not. */
extern char *gw_route_pick(const GwRouteChoice *rc);

/* The params and operation (*opname) of provider p's queued SMS. */
extern Jsonb *gw_route_sms_params(const GwProvider *p, const char **opname,
								  const char *recipient, const char *message,
								  const char *sender_id);

/* A routed row's params rebuilt for provider p (the worker's failover). */
extern Jsonb *gw_route_rebuild(const GwProvider *p, Jsonb *params, const char **opname);

#endif
