/*
 * outcome.h: what a finished call, a status answer or a callback means: its
 * result status, whether it may be sent again, the outbox status of its row
 * and when the row is next due.  One function decides (outcome.c); the
 * result of gw_call, the worker, the synchronous payment record and the
 * callbacks all take its decision.
 */
#ifndef GW_OUTCOME_H
#define GW_OUTCOME_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* Outcome statuses of API.md's result shape. */
typedef enum GwStatus
{
	GW_ACCEPTED,
	GW_DELIVERED,
	GW_PENDING,
	GW_FAILED,
	GW_REJECTED,
	GW_UNKNOWN
} GwStatus;

extern const char *gw_status_name(GwStatus s);

/*
 * Whether a 2xx answer's outcome may be retried, when the parser knows better
 * than the default (failed and not a payment: yes; anything else: no), e.g.
 * a status query reporting a payment that failed for a transient reason.
 */
typedef enum GwRetry
{
	GW_RETRY_DEFAULT,
	GW_RETRY_YES,
	GW_RETRY_NO
} GwRetry;

/*
 * The statuses of gateway.outbox (the SQL enum gateway.outbox_status, in the
 * same order).  A payment that was not paid is failed, whichever way we
 * learnt it; a message that was sent and not delivered is undelivered.
 */
typedef enum GwOutboxStatus
{
	GW_OB_QUEUED,
	GW_OB_SENDING,
	GW_OB_SENT,
	GW_OB_DELIVERED,
	GW_OB_UNDELIVERED,
	GW_OB_FAILED,
	GW_OB_DEAD,
	GW_OB_CANCELLED,
	GW_OB_UNKNOWN
} GwOutboxStatus;

extern const char *gw_outbox_status_name(GwOutboxStatus s);
extern GwOutboxStatus gw_outbox_status_from_name(const char *name);

/* No callback and no answer moves a row out of these. */
extern bool gw_outbox_status_final(GwOutboxStatus s);

/*
 * What a payment answer or callback says a customer paid us, as the
 * provider wrote it (NULL: not in the body).  receipt_expected: the provider sends a receipt
 * with every paid result, so a paid result without one is not paid.
 */
typedef struct GwPaid
{
	bool		incoming;		/* the parser read a customer's payment to us */
	char	   *amount;
	char	   *receipt;
	char	   *phone;
	bool		receipt_expected;
} GwPaid;

/*
 * Where a call stands in its outbox row's life; NULL for a synchronous call
 * (gw_call and friends), which the worker never sends again.
 */
typedef struct GwRowState
{
	int			attempts;		/* attempts, this one included */
	bool		reconcile;		/* this call asks for an unknown payment's
								 * status */
	bool		can_reconcile;	/* the row's payment has a status query */
	bool		refreshed;		/* sent with a token fetched after a 401 */
	TimestampTz created_at;
	const char *amount;			/* the row's payment: what it asked for */
	const char *phone;			/* normalized */
} GwRowState;

/* The decision. */
typedef struct GwOutcome
{
	GwStatus	status;			/* the result's status */
	bool		retryable;		/* the result's retryable */
	char	   *error;			/* the result's error, or NULL */
	GwOutboxStatus outbox;		/* the row's status */
	int64		delay_ms;		/* until the row is next due; -1: never (a
								 * callback or an operator decides) */
	bool		refresh_token;	/* the token was refused: fetch a new one */
	char	   *check;			/* paid, but it does not add up: why the row
								 * needs checking (the row stays unknown) */
} GwOutcome;

struct GwCall;

/* Decide the outcome of a finished call (call->row: its row, or NULL). */
extern void gw_outcome_decide(struct GwCall *call, GwOutcome *out);

/*
 * Whether a result that says paid adds up: the amount and, where the body
 * has one, the phone agree with the row, and a receipt is there where the
 * provider sends one.  NULL when it does; otherwise why not.
 */
extern char *gw_paid_check(const GwPaid *paid, const char *amount, const char *phone,
						   const char *country);

/*
 * What a callback (in, read by the provider's parse_callback) does to the
 * row it names: false when it changes nothing (pending, an unrecognized
 * status); else o->outbox, o->error (the row's last_error), o->check and
 * o->delay_ms (a payment to be checked: 0, ask the provider now; -1, leave
 * it to an operator).  payment_row, amount, phone: the row's.
 */
struct GwInbound;
extern bool gw_outcome_callback(const struct GwInbound *in, bool payment_row,
								const char *amount, const char *phone,
								const char *country, bool can_reconcile,
								GwOutcome *o);

/* Backoff before attempt n+1: exponential, capped, with jitter. */
extern int64 gw_backoff_ms(int attempts);

#endif
