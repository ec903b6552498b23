/*
 * listener.h: the callback listener: the front (front.c), which accepts
 * connections on gateway.listen_address, and gateway.listeners listeners
 * per database (listener.c), background workers serving HTTP.
 */
#ifndef GW_LISTENER_H
#define GW_LISTENER_H

#include "postgres.h"

#include <sys/socket.h>
#include <sys/un.h>

extern char *gw_listen_role;
extern int	gw_listen_max_body;
extern int	gw_listen_max_connections;
extern int	gw_listen_timeout_s;
extern int	gw_callback_lock_timeout_ms;
extern int	gw_callback_statement_timeout_ms;
extern int	gw_listen_max_per_client;
extern int	gw_listen_request_timeout_s;
extern int	gw_listen_processes;

/*
 * The role callback handlers (and USSD handlers, wherever they are called
 * from) run as: gateway.listen_role when it is fit, else InvalidOid with the
 * reason in *why (*refused: the role exists but may climb).
 */
extern Oid	gw_handler_role(char **why, bool *refused);

/* Register the front (gateway.listen_address is set). */
extern void gw_front_register(void);

/* The address listener idx of a database takes connections on from the front. */
extern void gw_listen_socket_addr(Oid dboid, int idx, struct sockaddr_un *sa, socklen_t *len);

#endif
