"""Storefront analytics: views, visitors, taps and orders counted in memory on the request path
and written by a background flusher in batched additive upserts (tally.py, visitors.py,
writer.py, recorder.py)."""
