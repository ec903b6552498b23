/*
 * journal.h: synchronous payments written down before they go out, so that
 * a session that dies or rolls back leaves a row for the worker to adopt.
 */
#ifndef GW_JOURNAL_H
#define GW_JOURNAL_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "account.h"

/* Before a synchronous payment goes out: write its entry durably. */
extern void gw_journal_open(const GwAccount *acc, const GwOperation *op, Jsonb *params,
							const char *key);

/* The key of the entry the last synchronous call wrote (the operation's
 * idempotency key, else the entry's name), or NULL; and forgetting it. */
extern const char *gw_journal_key(void);
extern void gw_journal_forget_key(void);

/* Postmaster, at every (re)start: every live entry becomes an orphan. */
extern void gw_journal_startup(void);

/* Worker: the names of its database's orphans (legacy: and those from
 * before 0.3.0), an orphan's text (NULL if gone), and its end. */
extern List *gw_journal_orphans(bool legacy);
extern char *gw_journal_read(const char *name);
extern void gw_journal_done(const char *name);

#endif
