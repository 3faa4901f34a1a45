"""The channel-agnostic core: messages, routing, conversation state, translation, clock.

Nothing here imports a Telegram library, httpx or an SQL library (tests/unit/test_layers.py).
"""
