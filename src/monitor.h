/*
 * monitor.h: the listener's monitoring routes, GET /metrics (every
 * database's counters, Prometheus text) and GET /<database>/status (that
 * database's gateway.status_page()).  Both need gateway.monitor_token
 * (Authorization: Bearer <token>, or ?token=) or a client address in
 * gateway.monitor_hosts; with neither set they are not there (404).
 */
#ifndef GW_MONITOR_H
#define GW_MONITOR_H

#include "postgres.h"

#include <sys/socket.h>

#include "utils/guc.h"

extern char *gw_monitor_token;
extern char *gw_monitor_hosts;

/* Whether path (no query) is a monitoring route: "/metrics", or
 * "/<dbname>/status" (dbname NULL: any database). */
extern bool gw_monitor_path(const char *path, const char *dbname);

/* Whether either setting opens the routes. */
extern bool gw_monitor_enabled(void);

/*
 * May this client see them: 0 when it may, else the HTTP status to answer
 * (404 when not enabled, 403 when refused).  token: as given, or NULL.
 */
extern int	gw_monitor_access(const char *token, const struct sockaddr *client);

/*
 * The answer of an allowed GET: its status, content type and body
 * (palloc'd).  Runs its own transaction; never raises.
 */
extern int	gw_monitor_answer(const char *path, const char **content_type, char **body);

/* The GUC check hook of gateway.monitor_hosts. */
extern bool gw_monitor_hosts_check(char **newval, void **extra, GucSource source);

#endif
