"""The compose deployment answers a Telegram webhook end to end (tests/deploy/compose_check.py).

Needs a Docker daemon (and `docker compose` or `docker-compose`); where none answers, as on CI,
it is skipped and says why. The first run on a machine builds the Debian-based images (a few
minutes); later runs reuse them and Docker's build cache.
"""

from __future__ import annotations

import pytest

from tests.deploy import compose_check


def test_a_webhook_through_caddy_reaches_a_worker_and_her_reply_reaches_telegram() -> None:
    reason = compose_check.daemon_unavailable()
    if reason is not None:
        pytest.skip(f"the compose deployment needs Docker: {reason}")
    outcome = compose_check.check()  # raises, saying what went wrong, when a step fails
    assert len(outcome.replies) == 6 and all(outcome.replies.values())
    assert outcome.webhook_url.endswith("/webhook/telegram")
    assert outcome.wrong_secret_status == 401
    assert outcome.dashboard_status == 403
    assert outcome.health == {"worker-1": "healthy", "worker-2": "healthy"}
    assert outcome.leaks == []
    assert outcome.press_answer.get("method") == "answerCallbackQuery"
    assert outcome.polling_health == "healthy" and outcome.polling_reply
