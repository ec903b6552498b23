/*
 * outcome.c: the one place that decides what a finished call means (see
 * outcome.h).
 *
 * The result's status and retryable, whatever the provider:
 *   - never sent (refused, unresolved, connect timeout): failed, retryable;
 *   - sent but the outcome is not known (timeout, broken or unreadable
 *     answer, 5xx): unknown; retryable unless it moves money (a payment is
 *     reconciled by a status query instead) or is a message the provider
 *     cannot recognize again (no idempotency key); a queued row whose
 *     outcome is unknown and retryable is queued again, so a result that
 *     says retryable and its row never disagree;
 *   - 429 and 503: failed, retryable (the provider says it did nothing);
 *   - other 4xx: rejected, not retryable (the request itself is wrong);
 *   - 2xx: what the provider's parser says; retryable when it failed and is
 *     not a payment, unless the parser decides (call->retry);
 *   - a request that could not get its token was never sent: the token
 *     call's outcome as above, but never unknown (failed, retryable).
 *
 * The row's status follows from it: accepted and pending are sent,
 * delivered is delivered (for a payment: paid, when the amount, phone and
 * receipt add up, else unknown "needs checking"), a retryable failure is
 * queued again (dead after gateway.max_attempts), an unknown outcome stays
 * unknown (a payment with a status query is asked, anything else waits for
 * a callback or an operator), anything else is failed.
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "account.h"
#include "circuit.h"
#include "msisdn.h"
#include "outcome.h"
#include "provider.h"
#include "worker.h"

static const char *const gw_outbox_names[] = {
	[GW_OB_QUEUED] = "queued",
	[GW_OB_SENDING] = "sending",
	[GW_OB_SENT] = "sent",
	[GW_OB_DELIVERED] = "delivered",
	[GW_OB_UNDELIVERED] = "undelivered",
	[GW_OB_FAILED] = "failed",
	[GW_OB_DEAD] = "dead",
	[GW_OB_CANCELLED] = "cancelled",
	[GW_OB_UNKNOWN] = "unknown",
};

const char *
gw_status_name(GwStatus s)
{
	switch (s)
	{
		case GW_ACCEPTED:
			return "accepted";
		case GW_DELIVERED:
			return "delivered";
		case GW_PENDING:
			return "pending";
		case GW_FAILED:
			return "failed";
		case GW_REJECTED:
			return "rejected";
		case GW_UNKNOWN:
			return "unknown";
	}
	return "unknown";
}

const char *
gw_outbox_status_name(GwOutboxStatus s)
{
	return gw_outbox_names[s];
}

GwOutboxStatus
gw_outbox_status_from_name(const char *name)
{
	for (int i = 0; i < lengthof(gw_outbox_names); i++)
		if (strcmp(gw_outbox_names[i], name) == 0)
			return (GwOutboxStatus) i;
	elog(ERROR, "unknown outbox status \"%s\"", name);
	return GW_OB_UNKNOWN;		/* keep the compiler quiet */
}

bool
gw_outbox_status_final(GwOutboxStatus s)
{
	return s == GW_OB_DELIVERED || s == GW_OB_UNDELIVERED || s == GW_OB_FAILED ||
		s == GW_OB_DEAD || s == GW_OB_CANCELLED;
}

int64
gw_backoff_ms(int attempts)
{
	double		d = gw_retry_base_ms * pow(2.0, Max(attempts - 1, 0));

	d = Min(d, (double) gw_retry_max_ms);
	return (int64) (d * (0.5 + 0.5 * pg_prng_double(&pg_global_prng_state)));
}

/*
 * Whether a request whose outcome is unknown may be sent again: never a
 * payment (it is reconciled instead), nor a message sent without an
 * idempotency key (the provider could not tell a second copy from a new
 * message); anything else may.
 */
static bool
gw_resendable(const GwCall *call)
{
	int			flags = call->op->flags;

	if (flags & GW_OP_PAYMENT)
		return false;
	return !(flags & GW_OP_SMS) || call->op->key_param != NULL;
}

/* The result's status, retryable and error from what happened. */
static void
gw_classify(GwCall *call, GwOutcome *o)
{
	GwHttpResponse *r = &call->resp;
	bool		payment = (call->op->flags & GW_OP_PAYMENT) != 0;
	long		code = r->status;

	o->error = call->error;
	if (call->refused)
	{
		o->status = GW_REJECTED;
		o->retryable = false;
		o->error = pstrdup(call->refused);
		return;
	}
	switch (r->net_error)
	{
		case GW_NET_OK:
			break;
		case GW_NET_NOT_SENT:
			o->status = GW_FAILED;
			o->retryable = true;
			o->error = r->error;
			return;
		case GW_NET_TLS:
		case GW_NET_OTHER:
			o->status = GW_FAILED;
			o->retryable = false;
			o->error = r->error;
			return;
		case GW_NET_TIMEOUT:
		case GW_NET_IO:
		case GW_NET_TOO_LARGE:
			o->status = GW_UNKNOWN;
			o->retryable = gw_resendable(call);
			o->error = r->error;
			return;
	}

	if (code >= 200 && code < 300)
	{
		if (call->malformed)
		{
			o->status = GW_UNKNOWN;
			o->retryable = gw_resendable(call);
			if (o->error == NULL)
				o->error = psprintf("unreadable answer from %s (HTTP %ld)",
									call->account->provider->name, code);
			return;
		}
		o->status = call->status;
		if (call->retry != GW_RETRY_DEFAULT)
			o->retryable = (call->retry == GW_RETRY_YES);
		else
			o->retryable = (call->status == GW_FAILED && !payment);
		return;
	}
	if (code == 429 || code == 503)
	{
		o->status = GW_FAILED;
		o->retryable = true;
	}
	else if (code >= 500 || code == 408)
	{
		o->status = payment ? GW_UNKNOWN : GW_FAILED;
		o->retryable = !payment;
	}
	else if (code >= 400)
	{
		o->status = GW_REJECTED;
		o->retryable = false;
	}
	else
	{
		o->status = GW_FAILED;
		o->retryable = false;
		if (o->error == NULL)
			o->error = psprintf("unexpected HTTP status %ld", code);
		return;
	}
	if (o->error == NULL)
		o->error = psprintf("HTTP %ld from %s", code, call->account->provider->name);
}

/* An amount as a number of cents, or -1 when it is not a plain amount. */
static int64
gw_amount_cents(const char *s)
{
	char	   *end;
	double		d;

	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (*end != '\0' || errno != 0 || !isfinite(d) || d < 0 || d > 1e12)
		return -1;
	return (int64) llround(d * 100.0);
}

char *
gw_paid_check(const GwPaid *paid, const char *amount, const char *phone,
			  const char *country)
{
	int64		want = gw_amount_cents(amount);
	int64		got = gw_amount_cents(paid->amount);

	if (paid->amount == NULL)
		return pstrdup("the result says paid but carries no amount");
	if (got < 0 || want < 0 || got != want)
		return psprintf("the result says %s paid, the payment asked for %s",
						paid->amount, amount ? amount : "no amount");
	if (paid->receipt_expected && (paid->receipt == NULL || paid->receipt[0] == '\0'))
		return pstrdup("the result says paid but carries no receipt");
	if (paid->phone != NULL && paid->phone[0] != '\0' && phone != NULL)
	{
		const char *why;
		char	   *norm = gw_msisdn_normalize(paid->phone, country, &why);

		if (norm == NULL || strcmp(norm, phone) != 0)
			return psprintf("the result names phone %s, the payment was asked of %s",
							paid->phone, phone);
	}
	return NULL;
}

/* The row's status and next attempt for a call the worker sent (down: it
 * failed on an account whose circuit was open already). */
static void
gw_outcome_row(GwCall *call, const GwRowState *row, GwOutcome *o, bool down)
{
	bool		payment = (call->op->flags & GW_OP_PAYMENT) != 0 || row->reconcile;
	GwHttpResponse *resp = &call->resp;

	o->delay_ms = 0;
	if (resp->status == 401 && call->account->provider->authorize && !row->refreshed &&
		row->attempts < gw_max_attempts)
	{
		/* The provider refused its token: send once more with a fresh one. */
		o->refresh_token = true;
		o->outbox = row->reconcile ? GW_OB_UNKNOWN : GW_OB_QUEUED;
		return;
	}
	if (row->reconcile)
	{
		/*
		 * What the provider says of a payment we could not be sure of.  Only
		 * an answer settles it; nothing here ever sends the payment again.
		 */
		if (o->status == GW_DELIVERED)
		{
			o->outbox = GW_OB_DELIVERED;
			return;
		}
		if (o->status == GW_FAILED && resp->status >= 200 && resp->status < 300)
		{
			o->outbox = GW_OB_FAILED;
			return;
		}
		/* pending, refused, not adding up or no answer: ask again later,
		 * for a day at most */
		o->outbox = GW_OB_UNKNOWN;
		o->delay_ms = TimestampDifferenceExceeds(row->created_at, GetCurrentTimestamp(),
												 86400 * 1000)
			? -1 : gw_backoff_ms(row->attempts + 1);
		return;
	}
	switch (o->status)
	{
		case GW_ACCEPTED:
		case GW_PENDING:
			o->outbox = GW_OB_SENT;
			return;
		case GW_DELIVERED:
			o->outbox = GW_OB_DELIVERED;
			return;
		case GW_UNKNOWN:
			if (!o->retryable)
			{
				/* The provider may have it: a payment is reconciled, the
				 * rest waits for a callback or an operator. */
				o->outbox = GW_OB_UNKNOWN;
				o->delay_ms = (payment && row->can_reconcile) ? gw_backoff_ms(1) : -1;
				return;
			}
			break;
		case GW_FAILED:
		case GW_REJECTED:
			break;
	}
	if (o->retryable && down && !payment)
	{
		/*
		 * The provider is down (the circuit was open already: this was its
		 * probe, or in flight when it opened): the message is queued again
		 * whatever its attempts, never dead for it; the claim holds it
		 * while the circuit stays open, or gives it to its fallback.
		 */
		o->outbox = GW_OB_QUEUED;
		o->delay_ms = gw_backoff_ms(row->attempts);
		return;
	}
	if (o->retryable)
	{
		if (row->attempts >= gw_max_attempts)
		{
			o->outbox = GW_OB_DEAD;
			o->delay_ms = -1;
			return;
		}
		o->outbox = GW_OB_QUEUED;
		o->delay_ms = gw_backoff_ms(row->attempts);
		if (resp->retry_after_s > 0)
			o->delay_ms = Max(o->delay_ms, (int64) resp->retry_after_s * 1000);
		return;
	}
	o->outbox = GW_OB_FAILED;
}

/*
 * Tell the account's circuit whether its provider answered: a transport
 * error or a 5xx counts against it, any other answer closes it.  A call
 * that sent nothing (opted out, no token) tells nothing.
 */
static bool
gw_outcome_circuit(const GwCall *call)
{
	const GwHttpResponse *r = &call->resp;

	if (call->refused || call->unsendable || call->account == NULL)
		return false;
	return gw_circuit_record(call->account->name,
							 r->net_error != GW_NET_OK || r->status >= 500);
}

void
gw_outcome_decide(GwCall *call, GwOutcome *o)
{
	const GwRowState *row = call->row;
	bool		down = gw_outcome_circuit(call);

	memset(o, 0, sizeof(*o));
	o->status = GW_UNKNOWN;
	gw_classify(call, o);
	if (call->unsendable && o->status == GW_UNKNOWN)
	{
		/* only the token call went out: the request itself never did */
		o->status = GW_FAILED;
		o->retryable = true;
	}

	/* a customer's payment counts as paid only when it adds up */
	if (o->status == GW_DELIVERED && call->paid.incoming &&
		((row != NULL && row->reconcile) || (call->op->flags & GW_OP_PAYMENT)))
	{
		bool		asked = (row != NULL && row->reconcile);

		o->check = gw_paid_check(&call->paid,
								 asked ? row->amount : gw_param_find(call, "amount"),
								 asked ? row->phone : gw_param_find(call, "phone"),
								 call->account->country);
	}
	if (o->check)
	{
		o->status = GW_UNKNOWN;
		o->retryable = false;
		o->error = psprintf("needs checking: %s", o->check);
	}

	if (row == NULL)
	{
		/* a synchronous call: its row (payments) is never sent again */
		o->delay_ms = -1;
		switch (o->status)
		{
			case GW_ACCEPTED:
			case GW_PENDING:
				o->outbox = GW_OB_SENT;
				break;
			case GW_DELIVERED:
				o->outbox = GW_OB_DELIVERED;
				break;
			case GW_UNKNOWN:
				o->outbox = GW_OB_UNKNOWN;
				break;
			default:
				o->outbox = GW_OB_FAILED;
				break;
		}
	}
	else
		gw_outcome_row(call, row, o, down);

	if (o->status == GW_ACCEPTED || o->status == GW_DELIVERED || o->status == GW_PENDING)
		o->error = NULL;
	if (o->error)
		gw_account_redact(call->account, o->error);
}

bool
gw_outcome_callback(const GwInbound *in, bool payment_row, const char *amount,
					const char *phone, const char *country, bool can_reconcile,
					GwOutcome *o)
{
	memset(o, 0, sizeof(*o));
	o->status = in->status;
	o->delay_ms = -1;
	if (strcmp(in->kind, "dlr") == 0)
	{
		if (in->status == GW_DELIVERED)
			o->outbox = GW_OB_DELIVERED;
		else if (in->status == GW_FAILED)
		{
			o->outbox = GW_OB_UNDELIVERED;
			o->error = psprintf("message not delivered: %s",
								in->description ? in->description : "no reason given");
		}
		else
			return false;
		return true;
	}
	/* a payment result */
	if (in->status == GW_DELIVERED)
	{
		o->check = gw_paid_check(&in->paid, amount, phone, country);
		if (o->check == NULL)
		{
			o->outbox = GW_OB_DELIVERED;
			return true;
		}
		o->status = GW_UNKNOWN;
		o->outbox = GW_OB_UNKNOWN;
		o->error = psprintf("needs checking: %s", o->check);
		o->delay_ms = can_reconcile ? 0 : -1;
		return true;
	}
	if (in->status == GW_FAILED)
	{
		o->outbox = GW_OB_FAILED;
		o->error = psprintf("not paid: %s", in->description ? in->description : "no reason given");
		return true;
	}
	return false;
}
