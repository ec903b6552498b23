/*
 * shmem.h: state shared by the backends and the workers: each worker's
 * latch and lease token, and the per-account rate buckets.
 */
#ifndef GW_SHMEM_H
#define GW_SHMEM_H

#include "postgres.h"
#include "storage/latch.h"

#define GW_MAX_WORKERS 16

extern void gw_shmem_init(void);
extern bool gw_shmem_ready(void);

/* Workers */
extern void gw_shmem_register_worker(int slot, int64 token);
extern void gw_shmem_unregister_worker(int slot);
extern int	gw_shmem_live_tokens(int64 *tokens);
extern void gw_shmem_wake_workers(void);

/*
 * Take up to want tokens from account's bucket (rate per second, a second's
 * worth of burst).  Returns how many were granted; *wait_ms says when the
 * next one will be there.
 */
extern int	gw_rate_take(const char *account, double rate, int want, int *wait_ms);
/* The provider said 429: send nothing for this account for a while. */
extern void gw_rate_pause(const char *account, int ms);

#endif
