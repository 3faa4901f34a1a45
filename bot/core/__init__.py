"""The channel-agnostic core: messages, routing, conversation state, translation, clock, and
the domain (schedules, outbox statuses, ports).

Nothing here imports another layer, a Telegram library, httpx or an SQL library: the import
contracts in pyproject.toml ([tool.importlinter], run by `make lint`) check it.
"""
