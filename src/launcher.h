/*
 * launcher.h: the launcher that keeps a worker set for every database with
 * the extension, and what backends ask of it.
 */
#ifndef GW_LAUNCHER_H
#define GW_LAUNCHER_H

#include "postgres.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

extern int	gw_worker_count;
extern int	gw_burst_workers;
extern char *gw_database_workers;

/* _PG_init, under shared_preload_libraries: hooks and the launcher. */
extern void gw_launcher_init(void);

/*
 * *bgw set up as a background worker of this library: function (its entry
 * point), type (also its name until the caller sets one), shared memory and a
 * database connection, started once recovery finished, never restarted, no
 * process notified.  The caller sets the rest.
 */
extern void gw_bgw_init(BackgroundWorker *bgw, const char *function, const char *type);

/* The worker count of a database (gateway.database_workers, else
 * gateway.workers), and the check hook of gateway.database_workers. */
extern int	gw_workers_for(const char *dbname);
/* The most workers a database with a backlog may have: its count and
 * gateway.burst_workers (none for a database with no worker). */
extern int	gw_workers_most(int count);
extern bool gw_database_workers_check(char **newval, void **extra, GucSource source);

/* ERROR, with a hint, unless a row queued in this database will be sent. */
extern void gw_launcher_require_served(void);

#endif
