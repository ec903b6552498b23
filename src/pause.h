/*
 * pause.h: stopping sends.  gateway.paused stops every worker; a paused
 * account (gateway.account.paused_at) stops its own rows.  A generation
 * counter in shared memory, bumped when a pause or resume commits, tells
 * the workers to read the paused accounts again.
 */
#ifndef GW_PAUSE_H
#define GW_PAUSE_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

#include "account.h"

/* gateway.paused */
extern bool gw_paused;

/* shmem.c's request and startup hooks */
extern Size gw_pause_shmem_size(void);
extern void gw_pause_shmem_init(void);

/* The generation: changes whenever an account's pause changed. */
extern uint32 gw_pause_gen(void);

/* The names of the paused accounts, a List allocated in cxt; call inside
 * a transaction with SPI connected. */
extern List *gw_pause_read_accounts(MemoryContext cxt);

/* Whether name is in a list gw_pause_read_accounts made. */
extern bool gw_pause_listed(List *accounts, const char *name);

/* ERROR 55000 when acc is paused: synchronous calls send nothing for it.
 * (gateway.paused stops the workers only.) */
extern void gw_pause_require_active(const GwAccount *acc);

#endif
