"""Notification: webhook retries, and alerts handed to a notification service's sender."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_text import notify
from cx_text.schemas import ALERTS
from cx_text.settings import ReportSettings
from tests.test_trends import _Recorder, jump_alerts, webhook  # noqa: F401 (fixtures)


def test_a_failing_webhook_is_tried_again_until_it_answers(
    webhook: tuple[str, type[_Recorder]], jump_alerts: pd.DataFrame
) -> None:
    url, handler = webhook
    answers = iter([503, 429, 200])
    handler.do_POST = _answering(handler.do_POST, answers)  # type: ignore[method-assign]
    assert notify.post_alerts(url, jump_alerts, timeout=5, retries=2, backoff=0.01) == 200
    assert len(handler.received) == 3


def test_a_client_error_is_final_and_retries_run_out(
    webhook: tuple[str, type[_Recorder]], jump_alerts: pd.DataFrame
) -> None:
    url, handler = webhook
    handler.status = 400
    with pytest.raises(notify.WebhookError, match="HTTP 400"):
        notify.post_alerts(url, jump_alerts, timeout=5, retries=3, backoff=0.01)
    assert len(handler.received) == 1  # a 4xx answer is not tried again
    handler.status = 500
    with pytest.raises(notify.WebhookError, match="HTTP 500"):
        notify.post_alerts(url, jump_alerts, timeout=5, retries=2, backoff=0.01)
    assert len(handler.received) == 1 + 3


def test_alerts_go_to_the_sender_as_subject_and_markdown(jump_alerts: pd.DataFrame) -> None:
    sent: list[tuple[str, str]] = []
    outcome = notify.notify(jump_alerts, "en", ReportSettings(), lambda s, b: sent.append((s, b)))
    assert outcome == "sent"
    ((subject, body),) = sent
    assert subject == "cx-text: 1 alert(s) for week 2026-W04"
    assert body.startswith("## cx-text: 1 alert(s)") and "Promo" in body
    assert notify.notify(ALERTS.empty(), "en", ReportSettings(), sent.append) == "not configured"
    assert len(sent) == 1  # nothing to say: nothing sent


def test_a_failing_sender_is_recorded_not_fatal(jump_alerts: pd.DataFrame) -> None:
    def broken(subject: str, body: str) -> None:
        raise ConnectionError("service down")

    assert notify.notify(jump_alerts, "en", ReportSettings(), broken) == (
        "failed: notification ConnectionError"
    )


def _answering(real, answers):  # type: ignore[no-untyped-def]
    """A handler method answering with the next status of `answers` each time."""

    def do_post(self) -> None:  # type: ignore[no-untyped-def]
        type(self).status = next(answers)
        real(self)

    return do_post
