/*
 * listener.h: the callback listener (a background worker serving HTTP).
 */
#ifndef GW_LISTENER_H
#define GW_LISTENER_H

#include "postgres.h"

extern char *gw_listen_role;
extern int	gw_listen_max_body;
extern int	gw_listen_max_connections;
extern int	gw_listen_timeout_s;
extern int	gw_listen_max_per_client;
extern int	gw_listen_request_timeout_s;

/*
 * The role callback handlers (and USSD handlers, wherever they are called
 * from) run as: gateway.listen_role when it is fit, else InvalidOid with the
 * reason in *why (*refused: the role exists but may climb).
 */
extern Oid	gw_handler_role(char **why, bool *refused);

/* Register the listener's launcher (gateway.listen_address is set). */
extern void gw_listener_register(void);

#endif
