"""PII-laden feedback with known raw values, for the tests that scan every output of a run.

Two ISO weeks of the four test themes (`THEME_CORPUS`): three themes in both weeks and
`app_crash` only in the second, so a `share_rise` alert (status new) fires and its examples
reach alerts.md, alerts.json and the webhook. Every third comment carries one piece of personal
data, in English or Russian; one comment is only a phone number (a non-answer), one row is
quarantined (its score is not a number) with an e-mail in its comment, and a `contact` segment
column holds e-mails.
"""

from __future__ import annotations

import re

import pandas as pd

from tests.conftest import THEME_CORPUS

# (phrase added to a comment, the raw values that must never reach an output)
PII_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    ("email me at anna.k@example.com", ("anna.k@example.com",)),
    ("пишите на ivan.petrov@mail.ru", ("ivan.petrov@mail.ru",)),
    ("звоните +7 916 123-45-67", ("+7 916 123-45-67",)),
    ("горячая линия 8-800-555-35-35 молчит", ("8-800-555-35-35",)),
    ("мой номер 8 (903) 555 12 34", ("8 (903) 555 12 34",)),
    ("call me back on +44 7700 900154", ("+44 7700 900154",)),
    ("US line (415) 555-0134 never answers", ("(415) 555-0134",)),
    ("my card 4111 1111 1111 1111 was charged twice", ("4111 1111 1111 1111",)),
    ("карта 2200 1234 5678 9019 заблокирована", ("2200 1234 5678 9019",)),
    ("refund to DE89 3704 0044 0532 0130 00 please", ("DE89 3704 0044 0532 0130 00",)),
    ("счёт 40817810099991234567 в сбере", ("40817810099991234567",)),
    ("СНИЛС 112-233-445 95", ("112-233-445 95",)),
]
ONLY_PHONE = "+7 999 765-43-21"
QUARANTINED_EMAIL = "broken.score@example.org"
CONTACT_EMAIL = "contact.column{}@example.net"


def raw_values() -> list[str]:
    """Every injected value, as written and as bare digits (a stripped form must not leak)."""
    values = [v for _, found in PII_PHRASES for v in found]
    values += [ONLY_PHONE, QUARANTINED_EMAIL, CONTACT_EMAIL.format(0), CONTACT_EMAIL.format(1)]
    digits = [re.sub(r"\D", "", v) for v in values]
    return sorted({*values, *(d for d in digits if len(d) >= 7)})


def pii_feedback() -> pd.DataFrame:
    """The feedback table: response_id, comment, score, created_at, customer_id, contact."""
    rows: list[dict[str, object]] = []
    weeks = {"2026-W45": ("late_delivery", "refund", "friendly_staff"),
             "2026-W46": ("late_delivery", "refund", "friendly_staff", "app_crash")}  # fmt: skip
    for week, themes in weeks.items():
        monday = pd.Timestamp.fromisocalendar(int(week[:4]), int(week[-2:]), 1)
        for theme in themes:
            for i, text in enumerate(THEME_CORPUS[theme]):
                n = len(rows)
                if n % 3 == 0:
                    text = f"{text}, {PII_PHRASES[(n // 3) % len(PII_PHRASES)][0]}"
                score = 2 if theme in ("app_crash", "late_delivery", "refund") else 9
                rows.append(
                    {"response_id": f"{week}-{theme}-{i}", "comment": text, "score": str(score),
                     "created_at": monday + pd.Timedelta(hours=i), "customer_id": f"c{n}",
                     "contact": CONTACT_EMAIL.format(n % 2)}
                )  # fmt: skip
    rows.append({**rows[0], "response_id": "only-phone", "comment": ONLY_PHONE,
                 "customer_id": "x1"})  # fmt: skip
    rows.append({**rows[1], "response_id": "bad-score", "score": "ten",
                 "comment": f"app broken, write to {QUARANTINED_EMAIL}",
                 "customer_id": "x2"})  # fmt: skip
    return pd.DataFrame(rows)
