"""Durable background delivery of what leaves the service (Slack posts, emails).

A job is a row in the outbox table `delivery_jobs`, added by `outbox.enqueue` to the caller's own
transaction, so it exists exactly when the change that caused it was committed. Workers
(`worker.DeliveryWorker`, inside each web process or as `python -m app.worker`) claim due jobs
under a lease, hand each to the deliverer of its kind (`registry.build_deliverers`), and retry
temporary failures with capped exponential backoff.
"""
