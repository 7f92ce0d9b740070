"""The personal-data masker on strings whose answer is known: what is masked and what must stay."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_text import pii
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("write me at anna.k@example.com please", "write me at [EMAIL] please"),
        ("пишите на ivan.petrov@почта.рф", "пишите на [EMAIL]"),
        ("call +7 916 123-45-67 today", "call [PHONE] today"),
        ("звоните 8 (903) 555 12 34", "звоните [PHONE]"),
        ("горячая линия 8-800-555-35-35 молчит", "горячая линия [PHONE] молчит"),
        ("мой номер 89161234567", "мой номер [PHONE]"),
        ("+79161234567 перезвоните", "[PHONE] перезвоните"),
        ("(415) 555-0134 is my number", "[PHONE] is my number"),
        ("ring +44 20 7946 0958 or 020 7946 0958", "ring [PHONE] or [PHONE]"),
        ("berlin office +49 30 901820", "berlin office [PHONE]"),
        ("charged twice on 4111 1111 1111 1111!", "charged twice on [CARD]!"),
        ("card 5536-9123-4567-8906 blocked", "card [CARD] blocked"),
        ("карта мир 2200 1234 5678 9019 заблокирована", "карта мир [CARD] заблокирована"),
        ("refund to DE89 3704 0044 0532 0130 00 please", "refund to [IBAN] please"),
        ("iban GB82WEST12345698765432", "iban [IBAN]"),
        ("счёт 40817810099991234567 в сбере", "счёт [ACCOUNT] в сбере"),
        ("счет 40817 810 0 9999 1234567", "счет [ACCOUNT]"),
        ("СНИЛС 112-233-445 95", "СНИЛС [SNILS]"),
        ("ИНН 7707083893 указан", "ИНН [INN] указан"),
        ("паспорт 45 12 345678 не приняли", "паспорт [PASSPORT] не приняли"),
        ("[40.74804263, -73.99295302]", "[COORDINATES]"),  # the airline export's tweet_coord
        ("я здесь (55.7558, 37.6173), курьера нет", "я здесь [COORDINATES], курьера нет"),
        ("stuck at 51.47002, -0.45429 for hours", "stuck at [COORDINATES] for hours"),
        ("call +7 916 123-45-67 at 55.7558;37.6173", "call [PHONE] at [COORDINATES]"),
        ("my IP 81.2.69.160 is blocked", "my IP [IP] is blocked"),
        ("81.2.69.160", "[IP]"),  # a survey tool's IP address column
        ("blocked, my IP is 81.2.69.160.", "blocked, my IP is [IP]."),
        ("роутер 192.168.1.254 сбрасывается", "роутер [IP] сбрасывается"),
    ],
)
def test_masks_personal_data(raw: str, expected: str) -> None:
    assert pii.mask_text(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "waited 45 minutes for 2 items",
        "order #458812 never came",
        "order 12345 late, 3 days",
        "order 123456789 late",
        "score 9/10, would give 10",
        "on 2024-05-12 10:30 the app broke",
        "доставка 12.05.2024 в 14:00",
        "paid 1 200 000 руб for a sofa",
        "price $1,299.99 vs 1299",
        "year 2023 was better than 2024",
        "tracking RU123456789CN",
        "version 10.2.3.4567 crashes",
        "@support please help",
        "IBAN DE00 3704 0044",  # too short and a wrong checksum: not an IBAN
        "[0.0, 0.0]",  # no location given
        "near 55.75, 37.62",  # two decimals: a district, not a place
        "[95.12345, 10.12345]",  # no latitude beyond 90
        "scores 0.8123, 0.9012 this week",  # shares, not a place
        "price 1299.9999, 12.5",
        "app 4.12.0.3 crashes",  # a version: no part of three digits
        "dns 8.8.8.8 is fine",
        "ip 300.1.2.3 is no address",
        "build 81.2.69.160.5",  # five parts
    ],
)
def test_leaves_ordinary_numbers_alone(text: str) -> None:
    assert pii.mask_text(text) == text


def test_a_long_number_failing_luhn_is_an_account_not_a_card() -> None:
    assert pii.mask_text("card 4111 1111 1111 1112") == "card [ACCOUNT]"
    assert pii.mask_text("IBAN DE00 3704 0044 0532 0130 00") == "IBAN DE00 [ACCOUNT]"


def _luhn(digits: str) -> bool:
    """Reference Luhn check, only to prove the test numbers below are what they claim."""
    total = sum(int(d) if i % 2 == 0 else sum(divmod(2 * int(d), 10))
                for i, d in enumerate(reversed(digits)))  # fmt: skip
    return total % 10 == 0


# Luhn-valid test numbers of each network in the forms customers type them
CARDS = [
    "4111 1111 1111 1111",  # Visa
    "4012888888881881",  # Visa, no separators
    "5555-5555-5555-4444",  # Mastercard
    "5105 1051 0510 5100",  # Mastercard
    "3782 822463 10005",  # American Express, 15 digits
    "6011 1111 1111 1117",  # Discover
    "2200 1234 5678 9019",  # Mir (2200-2204)
    "2204 1234 5678 9015",  # Mir, the last prefix of the range
]


@pytest.mark.parametrize("card", CARDS)
def test_a_card_is_masked_as_card_only_when_it_passes_luhn(card: str) -> None:
    """Production masking, not a helper: a Luhn-valid number is [CARD]; change its last digit and
    the same number is still masked, as [ACCOUNT] (a mistyped card is still personal data)."""
    digits = card.replace(" ", "").replace("-", "")
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert _luhn(digits) and not _luhn(broken.replace(" ", "").replace("-", ""))
    assert pii.mask_text(f"charged twice on {card}, fix it") == "charged twice on [CARD], fix it"
    assert pii.mask_text(f"charged twice on {broken}, fix it") == (
        "charged twice on [ACCOUNT], fix it"
    )


def test_snils_checksum() -> None:
    assert pii.snils_valid("11223344595") and not pii.snils_valid("11223344596")


def test_mask_series_keeps_missing_values_and_index() -> None:
    texts = pd.Series(["mail a@b.org", None, "fine", "+7 916 123 45 67"], index=[5, 6, 7, 8])
    out = pii.mask_series(texts)
    assert out.index.tolist() == [5, 6, 7, 8]
    assert out.tolist()[0] == "mail [EMAIL]" and out.isna().tolist() == [False, True, False, False]
    assert out.tolist()[2:] == ["fine", "[PHONE]"]


def test_quarantine_originals_are_masked() -> None:
    frame = pd.DataFrame({"original": ['{"comment": "call 8 903 555 12 34", "score": "x"}'],
                          "detail": ["score 'x' is not a number"]})  # fmt: skip
    out = pii.mask_quarantine(frame)
    assert out["original"].iloc[0] == '{"comment": "call [PHONE]", "score": "x"}'
    assert frame["original"].iloc[0].startswith('{"comment": "call 8')  # input not mutated


def test_masking_looks_at_each_distinct_candidate_text_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What keeps 100,000 rows cheap (speed itself is `bench/`'s business): the sample three
    times over sends each distinct text with a PII shape to the recognisers once, and no other
    text; every masked value came from those calls and nothing is left unmasked."""
    comments = pd.read_csv(ROOT / "data" / "sample_feedback.csv")["comment"].dropna()
    texts = pd.concat([comments] * 3, ignore_index=True)
    looked_at: list[str] = []
    mask_text = pii.mask_text

    def counted(text: str) -> str:
        looked_at.append(text)
        return mask_text(text)

    monkeypatch.setattr(pii, "mask_text", counted)
    masked = pii.mask_series(texts)
    changed = set(texts[masked != texts])
    assert len(looked_at) == len(set(looked_at)) and changed <= set(looked_at)
    assert len(changed) > 0 and len(looked_at) < 0.05 * len(texts)
    assert not masked.str.contains(r"@example\.|\+44 7700", regex=True).any()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "@united thanks for nothing, 3 hours on hold",
            "@united thanks for nothing, 3 hours on hold",
        ),
        ("@united mail me at a.b@example.com", "@united mail me at [EMAIL]"),
        ("2015-02-24 11:35:52 -0800", "2015-02-24 11:35:52 -0800"),
        ("2026-11-03T08:15:00Z", "2026-11-03T08:15:00Z"),
        ("2015-02-24 call +7 916 123-45-67", "2015-02-24 call [PHONE]"),
        ("20150224 1135 52", "[ACCOUNT]"),  # digits that are no date-time stay suspect
        ("21-11-2026 23:36", "21-11-2026 23:36"),
        ("2/24/2015 11:35 AM", "2/24/2015 11:35 AM"),
        ("23.11.2026, call 8 (903) 555 12 34", "23.11.2026, call [PHONE]"),
        ("+7 916 12-11-20", "[PHONE]"),  # a date's shape without a four-digit year
        ("21-11-2026 4111 1111 1111 1111", "21-11-2026 [CARD]"),
    ],
)
def test_handles_and_date_times_are_not_personal_data_but_what_is_near_them_is(
    text: str, expected: str
) -> None:
    assert pii.mask_series(pd.Series([text])).tolist() == [expected]
    assert pii.mask_text(text) == expected


def test_a_column_of_date_times_never_reaches_the_recognisers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second date column of an export (day-first, month-first, dotted) is left as it is
    without a recogniser call per value: the pre-filter sets date-times aside."""
    monkeypatch.setattr(pii, "mask_text", lambda t: pytest.fail(f"recognisers called on {t!r}"))
    dates = pd.Series(["21-11-2026 23:36", "03/04/2025", "23.11.2026 08:15", "2/24/2015 9:05 pm"])
    assert pii.mask_series(dates).tolist() == dates.tolist()


def test_mask_series_masks_each_distinct_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = pii.mask_text
    monkeypatch.setattr(pii, "mask_text", lambda t: seen.append(t) or real(t))
    out = pii.mask_series(pd.Series(["call 8 903 555 12 34"] * 3 + ["no digits here"]))
    assert seen == ["call 8 903 555 12 34"]
    assert out.tolist() == ["call [PHONE]"] * 3 + ["no digits here"]
