/*
 * worker.h: the background workers that drain gateway.outbox.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include "postgres.h"

extern char *gw_worker_database;
extern int	gw_batch_size;
extern int	gw_max_in_flight;
extern int	gw_max_attempts;
extern int	gw_retry_base_ms;
extern int	gw_retry_max_ms;
extern int	gw_keep_finished_s;

PGDLLEXPORT void gw_worker_main(Datum arg);

#endif
