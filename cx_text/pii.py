"""Personal data in verbatims: find it with Presidio's pattern recognisers, replace it by tokens.

Detected (token, how):

- ``[EMAIL]``: Presidio's e-mail pattern; the domain is checked against the public suffix list
  bundled with tldextract (never downloaded).
- ``[COORDINATES]``: a latitude, longitude pair in decimal degrees with at least four decimals
  each (``[40.74804263, -73.99295302]``, brackets or parentheses included), within +-90 / +-180:
  a precise location (the airline export's ``tweet_coord``). Without it the phone recogniser
  took the latitude's digits for a phone number and left the longitude.
- ``[CARD]``: Presidio's card pattern plus Mir cards (2200-2204), Luhn-checked by Presidio's
  ``CreditCardRecognizer.validate_result``.
- ``[IBAN]``: Presidio's IBAN recogniser (country format and mod-97 checksum).
- ``[PHONE]``: Presidio's phone recogniser (python-phonenumbers, valid numbers of RU, US, GB, DE,
  FR, ... and any ``+``-prefixed number), plus the Russian written forms it lacks
  (``+7 916 123-45-67``, ``8 (903) 555 12 34``, ``8-800-555-35-35``) and any other
  ``+``-prefixed number of 8-15 digits.
- ``[IP]``: an IPv4 address (four parts of 0-255, one of them with three digits, so that
  version numbers such as ``4.12.0.3`` and well-known resolvers such as ``8.8.8.8`` stay): a
  customer's network address, in a text or in a column an export brings ("IP Address").
- ``[SNILS]``: ``123-456-789 01`` with its checksum.
- ``[INN]`` and ``[PASSPORT]``: 10/12 and 10 digits right after the words ИНН / INN or
  паспорт / passport (without the word, such numbers are too often order numbers).
- ``[ACCOUNT]``: any other run of 12-34 digits (spaces or dashes allowed between groups): Russian
  20-digit bank accounts, contract numbers, and 13-19 digit numbers that fail the Luhn check
  (a mistyped card is still personal data: failing Luhn means "not a card", not "harmless").

Ordinary numbers stay: scores, counts ("waited 45 minutes"), order numbers of up to 9 digits,
prices, dates and times; a 10-11 digit number that is a valid phone number (9161234567) is
masked as [PHONE]. Recognisers are called directly (``analyze(text, entities, None)``):
pattern recognisers need no NLP artifacts, so no spaCy model is loaded or downloaded.

Speed: a vectorised pre-filter (``Series.str.contains``) keeps only texts with an e-mail shape
(``a@b.c``; a bare ``@handle`` is not one), a coordinates pair, an IPv4 shape or seven digits
close together outside date-times (ISO, or numeric with a four-digit year: ``21-11-2026
23:36``); only those go through the recognisers, each distinct text once (see `mask_series`).
On the airline tweets (14,640 rows, 15 columns, a handle in every tweet) this took masking from
34 s to 1 s (bench/pipeline.py, the clean stage of `--sets airline-export`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pandas as pd

# Presidio logs a failed IBAN validation with the matched text: keep personal data out of logs.
logging.getLogger("presidio-analyzer").setLevel(logging.CRITICAL)

TOKENS = {
    "EMAIL": "[EMAIL]",
    "COORDINATES": "[COORDINATES]",
    "IP": "[IP]",
    "IBAN": "[IBAN]",
    "CARD": "[CARD]",
    "SNILS": "[SNILS]",
    "INN": "[INN]",
    "PASSPORT": "[PASSPORT]",
    "PHONE": "[PHONE]",
    "ACCOUNT": "[ACCOUNT]",
}
# overlapping finds: the entity listed first in TOKENS wins, then the longer span
_PRIORITY = {entity: rank for rank, entity in enumerate(TOKENS)}
PHONE_REGIONS = ("RU", "US", "GB", "DE", "FR")
# a text can hold personal data only if it has an e-mail shape (a@b.c: a bare @handle is not
# one) or seven digits close together that are not a date-time ("2015-02-24 11:35:52",
# "21-11-2026 23:36", "2/24/2015 11:35 AM")
DIGITS = r"\d(?:[\s\-().]{0,3}\d){6}"
EMAIL_SHAPE = r"[\w.+\-]@[\w\-]+\.\w"
# a latitude, longitude pair in decimal degrees with at least 4 decimals (11 m or finer: a
# place, not a region), in brackets or parentheses or bare ("[40.74804263, -73.99295302]")
_DEGREES = r"[-+]?\d{1,3}\.\d{4,}"
_PAIR = rf"{_DEGREES}\s*[,;]\s*{_DEGREES}"
COORDINATES = rf"\[\s*{_PAIR}\s*\]|\(\s*{_PAIR}\s*\)|(?<![\d.])(?:{_PAIR})(?![\d.])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# an address may end a sentence ("my IP is 81.2.69.160."): a dot after it is no fifth part
IPV4 = rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)"
IP_SHAPE = r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)"
CANDIDATE = rf"{EMAIL_SHAPE}|{DIGITS}|{_PAIR}|{IP_SHAPE}"
_DAY_OR_MONTH = r"(?:0?[1-9]|[12]\d|3[01])"
DATE_TIME = (  # ISO, or day-first / month-first with a four-digit year ("21-11-2026 23:36")
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:\s?(?:[+\-]\d{2}:?\d{2}|Z))?(?![\d\-])"
    rf"|(?<![\d./\-]){_DAY_OR_MONTH}[./\-]{_DAY_OR_MONTH}[./\-](?:19|20)\d{{2}}"
    r"(?:,?[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?)?(?![\d./\-])"
)
_HAS_DIGITS = re.compile(DIGITS)
_HAS_EMAIL_SHAPE = re.compile(EMAIL_SHAPE)
_HAS_PAIR = re.compile(_PAIR)
_HAS_IP_SHAPE = re.compile(IP_SHAPE)
_DATE_TIME = re.compile(DATE_TIME)

_D = r"[\s\-]?"  # one optional separator between digit groups
RU_PHONE = (
    rf"(?<![\w+])(?:\+\s?7|8){_D}\(?\d{{3}}\)?{_D}\d{{3}}{_D}\d{{2}}{_D}\d{{2}}(?!\d)"
)  # fmt: skip
INTERNATIONAL_PHONE = r"(?<![\w+])\+\d(?:[\s\-().]{0,2}\d){7,14}(?!\d)"
SNILS = r"(?<!\d)\d{3}-\d{3}-\d{3}[\s\-]\d{2}(?!\d)"
INN = r"(?<=\b(?:инн|inn)[\s:№#]{0,4})\d{10}(?:\d{2})?(?!\d)"
PASSPORT = r"(?<=\b(?:паспорт\w*|passport)[\s:№#a-zа-я]{0,12})\d{2}\s?\d{2}\s?\d{6}(?!\d)"
ACCOUNT = r"(?<![\d\w])\d(?:[\s\-]?\d){11,33}(?![\d\w])"
MIR_CARD = r"\b(220[0-4])[- ]?(\d{4})[- ]?(\d{4})[- ]?(\d{4})\b"


def coordinates_valid(pair: str) -> bool:
    """Latitude within +-90 and longitude within +-180 degrees, not both under 1 (a pair of
    shares or probabilities, "0.8123, 0.9012", rather than a place off West Africa)."""
    latitude, longitude = (abs(float(x)) for x in re.findall(r"[-+]?\d+\.\d+", pair))
    return latitude <= 90 and longitude <= 180 and max(latitude, longitude) >= 1


def ip_valid(address: str) -> bool:
    """An IPv4 address with a three-digit part: "81.2.69.160", not "4.12.0.3" or "8.8.8.8"."""
    return any(len(part) == 3 for part in address.split("."))


def snils_valid(digits: str) -> bool:
    """SNILS checksum: sum of digit * (9..1) of the first nine digits, mod 101, 100 -> 00."""
    body, check = digits[:9], int(digits[9:])
    total = sum(int(d) * w for d, w in zip(body, range(9, 0, -1), strict=True)) % 101
    return (0 if total == 100 else total) == check


@lru_cache(maxsize=1)
def recognizers() -> list[Any]:
    """Presidio recognisers, built once per process.

    Presidio's package imports `transformers.pipeline` for an NLP engine cx-text never uses
    (pattern recognisers need no NLP artifacts); that optional import takes about 5 s, more
    than a nightly run's budget, so it is made to fail (`bert.without_transformers`): Presidio
    then imports in about 1 s (with torch loaded).
    """
    import tldextract

    from cx_text.bert import without_transformers

    with without_transformers():
        from presidio_analyzer import Pattern, PatternRecognizer
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            PhoneRecognizer,
        )

    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    offline_tld("example.com")  # builds its suffix trie now, not at a run's first e-mail

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_tld(pattern_text.rsplit("@", 1)[-1]).suffix)

    class ChecksumRecognizer(PatternRecognizer):
        def __init__(self, entity: str, regex: str, check: Callable[[str], bool],
                     digits_only: bool = True) -> None:  # fmt: skip
            super().__init__(supported_entity=entity, patterns=[Pattern(entity, regex, 0.5)])
            self._check = check
            self._digits_only = digits_only

        def validate_result(self, pattern_text: str) -> bool:
            return self._check(re.sub(r"\D", "", pattern_text) if self._digits_only
                               else pattern_text)  # fmt: skip

    def pattern(entity: str, regex: str) -> Any:
        return PatternRecognizer(supported_entity=entity, patterns=[Pattern(entity, regex, 0.5)])

    card_patterns = [*CreditCardRecognizer.PATTERNS, Pattern("Mir", MIR_CARD, 0.3)]
    return [
        OfflineEmailRecognizer(supported_entity="EMAIL"),
        ChecksumRecognizer("COORDINATES", COORDINATES, coordinates_valid, digits_only=False),
        ChecksumRecognizer("IP", IPV4, ip_valid, digits_only=False),
        IbanRecognizer(supported_entity="IBAN"),
        CreditCardRecognizer(supported_entity="CARD", patterns=card_patterns),
        ChecksumRecognizer("SNILS", SNILS, snils_valid),
        pattern("INN", INN),
        pattern("PASSPORT", PASSPORT),
        PhoneRecognizer(supported_entity="PHONE", supported_regions=PHONE_REGIONS),
        pattern("PHONE", RU_PHONE),
        pattern("PHONE", INTERNATIONAL_PHONE),
        pattern("ACCOUNT", ACCOUNT),
    ]


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, entity) spans of personal data in `text`, in text order."""
    found = []
    # the digit recognisers look only where digits remain outside date-times and coordinates
    digits = _HAS_DIGITS.search(_HAS_PAIR.sub(" ", _DATE_TIME.sub(" ", text))) is not None
    shapes = {"EMAIL": _HAS_EMAIL_SHAPE.search(text) is not None,
              "COORDINATES": _HAS_PAIR.search(text) is not None,
              "IP": _HAS_IP_SHAPE.search(text) is not None}  # fmt: skip
    for recognizer in recognizers():
        entities = recognizer.supported_entities
        if not shapes.get(entities[0], digits):
            continue  # e-mail, coordinates and IPs need their shape; the others 7 close digits
        found += [(r.start, r.end, r.entity_type) for r in recognizer.analyze(text, entities, None)]
    found.sort(key=lambda s: (_PRIORITY[s[2]], s[0] - s[1]))
    kept: list[tuple[int, int, str]] = []
    for start, end, entity in found:
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, entity))
    return sorted(kept)


def mask_text(text: str) -> str:
    """`text` with every piece of personal data replaced by its token ([EMAIL], [PHONE]...)."""
    pieces, last = [], 0
    for start, end, entity in find_pii(text):
        pieces += [text[last:start], TOKENS[entity]]
        last = end
    return "".join([*pieces, text[last:]])


def mask_series(texts: pd.Series) -> pd.Series:
    """`mask_text` over a Series; only texts with an e-mail shape, a coordinates pair or 7 close
    digits (date-times aside) are looked at, each distinct text once."""
    out = texts.copy()
    as_text = texts.astype(str)
    candidate = texts.notna() & as_text.str.replace(DATE_TIME, " ", regex=True).str.contains(
        CANDIDATE, regex=True
    )
    if candidate.any():
        distinct = as_text[candidate].unique()
        masked = dict(zip(distinct, map(mask_text, distinct), strict=True))
        out[candidate] = as_text[candidate].map(masked)
    return out


def mask_quarantine(frame: pd.DataFrame) -> pd.DataFrame:
    """Quarantine records with personal data masked in the original values and the detail."""
    out = frame.copy()
    for column in ("original", "detail"):
        if column in out.columns:
            out[column] = mask_series(out[column])
    return out
