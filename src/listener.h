/*
 * listener.h: the callback listener (a background worker serving HTTP).
 */
#ifndef GW_LISTENER_H
#define GW_LISTENER_H

extern char *gw_listen_role;
extern int	gw_listen_max_body;
extern int	gw_listen_max_connections;
extern int	gw_listen_timeout_s;
extern int	gw_callback_lock_timeout_ms;
extern int	gw_callback_statement_timeout_ms;

/* Register the listener's launcher (gateway.listen_address is set). */
extern void gw_listener_register(void);

#endif
