"""Delivery to many: the outbox worker, rate limits and the retry policy."""
