/*
 * cost.h: what a row costs.  The provider files read the cost their
 * answers report (gw_cost_number); the outbox keeps it with the row's
 * segments and encoding (gw_cost_sms), which come from smsinfo.c.
 */
#ifndef GW_COST_H
#define GW_COST_H

#include "provider.h"

/* s as a plain non-negative decimal ("12", "1.50"), or NULL when it is not
 * one (empty, signed, exponent, text, over 30 characters). */
extern char *gw_cost_number(const char *s);

/* The number that follows prefix in text ("Float Debited with: 1.00 ..."),
 * or NULL. */
extern char *gw_cost_after(const char *text, const char *prefix);

/*
 * A prepared SMS call's parts and encoding, from its message param as
 * gw_sms_info() counts it, times its recipients; false for a call that is
 * no SMS or whose message gateway cannot see (VasPro sms.nested).
 */
extern bool gw_cost_sms(const GwCall *call, int *segments, const char **encoding);

/* Whether gateway.outbox has segments, encoding and cost (0.4.0): an
 * older extension in this database is served by this library too. */
extern bool gw_cost_columns(void);

#endif
