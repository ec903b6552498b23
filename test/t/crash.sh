#!/usr/bin/env bash
# Crash safety of the outbox and of synchronous calls: the short crash matrix
# (bench/crash_matrix.sh short) against the test suite's cluster: kill -9 of
# the worker and stop -m immediate mid-drain of 10,000 SMS each, kill -9 of a
# backend inside gw_call (an SMS, a payment), stop -m immediate mid-drain of
# 200 payments.  Nothing lost, no payment sent twice, an SMS sent twice only
# when it was in flight, with the same idempotency key.
exec bash "$(dirname "$0")/../../bench/crash_matrix.sh" short
