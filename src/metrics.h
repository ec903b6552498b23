/*
 * metrics.h: the counters of every database as Prometheus text.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "postgres.h"
#include "lib/stringinfo.h"

/* Append the exposition to buf; the caller is in a transaction. */
extern void gw_metrics_text(StringInfo buf);

#endif
