/*
 * circuit.h: a circuit breaker per database and account, in shared memory.
 *
 * Closed: requests go.  After gateway.circuit_failures transport errors or
 * 5xx answers in a row it opens: nothing goes for gateway.circuit_open_time.
 * Then it is half-open: one request (the probe) goes; its success closes
 * the circuit, its failure opens it again.  Fed by the outcome of every call
 * (outcome.c), worker and synchronous alike.
 */
#ifndef GW_CIRCUIT_H
#define GW_CIRCUIT_H

#include "postgres.h"
#include "datatype/timestamp.h"

extern int	gw_circuit_failures;
extern int	gw_circuit_open_ms;

/* _PG_init: the settings.  shmem.c: the space and its start-up. */
extern void gw_circuit_init(void);
extern void gw_circuit_shmem_request(void);
extern void gw_circuit_shmem_startup(void);

/*
 * Whether a request of this database's account may go now.  A half-open
 * circuit lets one request through (this one: it is the probe).  When not,
 * *retry_at says when to ask again.
 */
extern bool gw_circuit_allow(const char *account, TimestampTz *retry_at);

/*
 * A request of account finished: failed (transport error or 5xx) or not.
 * True when it failed on a circuit that was open already (it was the
 * half-open probe, or in flight when the circuit opened): the provider is
 * down, not the request wrong.
 */
extern bool gw_circuit_record(const char *account, bool failed);

#endif
