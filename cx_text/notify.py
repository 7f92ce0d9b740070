"""Notification: the report week's alerts posted to a Slack-compatible webhook.

The one network call of a run. A failed post is reported and recorded, never fatal to the run.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pandas as pd

from cx_text import trends
from cx_text.settings import ReportSettings

log = logging.getLogger("cx_text")

# Slack accepts at most 50 blocks per message: a header, the alerts, a closing context line
MAX_SLACK_ALERTS = 40


class WebhookError(RuntimeError):
    """The alert webhook could not be reached or answered with an error (URL never shown)."""


def _slack_escape(text: Any) -> str:
    """Slack mrkdwn control characters as the entities Slack expects."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alerts: pd.DataFrame, language: str = "en") -> dict[str, Any]:
    """A Slack-compatible message: {"text": summary, "blocks": [header, one section per alert]}."""
    words = trends.ALERT_TEXT.get(language, trends.ALERT_TEXT["en"])
    title = words["title"].format(n=len(alerts), week=trends.week_label(trends.latest_week(alerts)))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    records = alerts.astype(object).to_dict("records")
    for row in records[:MAX_SLACK_ALERTS]:
        quotes = "\n".join(f"> {_slack_escape(row[k])}" for k in ("example_1", "example_2")
                           if row[k])  # fmt: skip
        text = (
            f"*{_slack_escape(words.get(str(row['alert_type']), row['alert_type']))}: "
            f"{_slack_escape(row['label'])}* (`{_slack_escape(row['theme_id'])}`)\n"
            f"{_slack_escape(trends.describe_alert(row, language))}\n{quotes}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
    if len(records) > MAX_SLACK_ALERTS:
        more = words["more"].format(n=len(records) - MAX_SLACK_ALERTS)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": title, "blocks": blocks}


def post_alerts(
    url: str,
    alerts: pd.DataFrame,
    timeout: float = 10.0,
    language: str = "en",
    retries: int = 0,
    backoff: float = 1.0,
) -> int | None:
    """POST the alerts to a Slack-compatible incoming webhook as JSON.

    Nothing is posted when there are no alerts. A network error or a 5xx / 429 answer is tried
    again `retries` times, waiting `backoff`, 2 x `backoff`, ... seconds; other answers are final.

    Args:
        url: the webhook URL (http or https); a secret, never included in errors.
        alerts: an ALERTS frame.
        timeout: seconds to wait for the server.
        language: language of the message text.

    Returns:
        The HTTP status, or None when there was nothing to post.

    Raises:
        WebhookError: a non-http(s) URL, a network error or an HTTP error status.
    """
    if alerts.empty:
        return None
    if not url.lower().startswith(("http://", "https://")):
        raise WebhookError("alert webhook URL must start with http:// or https://")
    body = json.dumps(slack_payload(alerts, language), ensure_ascii=False).encode("utf-8")
    for attempt in range(retries + 1):
        try:
            return _post(url, body, timeout)
        except _Retryable as exc:
            if attempt == retries:
                raise WebhookError(str(exc)) from None
            log.warning("%s: trying again in %.0f s", exc, backoff * 2**attempt)
            time.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


class _Retryable(WebhookError):
    """A failure that may pass: the network, a 5xx answer or 429 Too Many Requests."""


def _post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        kind = _Retryable if exc.code >= 500 or exc.code == 429 else WebhookError
        raise kind(f"alert webhook answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"alert webhook not reachable: {reason}") from None
    except ValueError:  # http.client.InvalidURL and friends quote the whole URL
        raise WebhookError("alert webhook URL is not valid") from None


# subject and body of a message: how a run hands its alerts to a notification service
Sender = Callable[[str, str], None]


def notify(
    alerts: pd.DataFrame, language: str, settings: ReportSettings, send: Sender | None = None
) -> str:
    """Post the alerts to `settings.webhook_url` (if set) and hand them to `send` (if given: the
    Prefect flows pass a notification block's, Slack or Microsoft Teams through apprise).

    Returns:
        The outcome as run.json records it: "not configured", "HTTP 200", "sent", or
        "failed: <reason>" (a failure is logged, never fatal; the URL is never shown).
    """
    outcomes = []
    if settings.webhook_url is not None:
        outcomes.append(_webhook(alerts, language, settings))
    if send is not None and not alerts.empty:
        outcomes.append(_send(alerts, language, send))
    return "; ".join(o for o in outcomes if o) or "not configured"


def _webhook(alerts: pd.DataFrame, language: str, settings: ReportSettings) -> str:
    url = settings.webhook_url.get_secret_value() if settings.webhook_url else ""
    try:
        status = post_alerts(url, alerts, settings.webhook_timeout, language,
                             settings.webhook_retries)  # fmt: skip
    except WebhookError as exc:
        log.warning("alert webhook failed: %s", exc)
        return f"failed: {exc}"
    return "" if status is None else f"HTTP {status}"


def _send(alerts: pd.DataFrame, language: str, send: Sender) -> str:
    """Alerts as a message: a one-line subject and the Markdown of alerts.md."""
    words = trends.ALERT_TEXT.get(language, trends.ALERT_TEXT["en"])
    subject = words["title"].format(
        n=len(alerts), week=trends.week_label(trends.latest_week(alerts))
    )
    try:
        send(subject, trends.alerts_markdown(alerts, language))
    except Exception as exc:  # a notification service's own error: recorded, never fatal
        log.warning("alert notification failed: %s", exc.__class__.__name__)
        return f"failed: notification {exc.__class__.__name__}"
    return "sent"
