#!/usr/bin/env bash
# Crash safety of the outbox, of synchronous calls and of callbacks: the short crash matrix
# (bench/crash_matrix.sh short) against the test suite's cluster: kill -9 of
# the worker and stop -m immediate mid-drain of 10,000 SMS each, kill -9 of a
# backend inside gw_call (an SMS, a payment), stop -m immediate mid-drain of
# 200 payments, stop -m immediate under 4,000 delivery reports posted to the
# listener.  Nothing lost, no payment sent twice, an SMS sent twice only
# when it was in flight, with the same idempotency key.
exec bash "$(dirname "$0")/../../bench/crash_matrix.sh" short
