/*
 * optout.h: numbers that sent STOP (gateway.optouts), checked where every
 * SMS request is built, synchronous or queued.
 */
#ifndef GW_OPTOUT_H
#define GW_OPTOUT_H

#include "postgres.h"

#include "provider.h"

/* Drop opted-out numbers from a prepared SMS call's phone params (before the
 * request is built); when none is left, set call->refused.  Costs one hash
 * probe per number, nothing when no number ever opted out. */
extern void gw_optout_filter(GwCall *call);

#endif
