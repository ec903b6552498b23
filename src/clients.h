/*
 * clients.h: the connections each client address has open to a database's
 * callback listeners, counted in shared memory, so that
 * gateway.listen_max_per_client holds for the database however many
 * listener processes (gateway.listeners) share its connections.
 */
#ifndef GW_CLIENTS_H
#define GW_CLIENTS_H

#include "postgres.h"

/* A client's address: IPv6, or IPv4 mapped into it. */
typedef struct GwClientAddr
{
	uint8		addr[16];
} GwClientAddr;

extern void gw_clients_shmem_request(void);
extern void gw_clients_shmem_startup(void);

/*
 * Listener idx of database dboid takes a connection from client: false when
 * the client has limit (> 0) open to the database's listeners already, and
 * then nothing is counted.  *counted says whether the connection was
 * counted (the table may be full: then it is let in uncounted, bounded by
 * gateway.listen_max_connections only); a counted one is given back with
 * gw_clients_release when it closes.
 */
extern bool gw_clients_take(Oid dboid, int idx, const GwClientAddr *client, int limit,
							bool *counted);
extern void gw_clients_release(Oid dboid, int idx, const GwClientAddr *client);
/* Listener idx of dboid starts or leaves: what it counted is forgotten. */
extern void gw_clients_forget(Oid dboid, int idx);

#endif
