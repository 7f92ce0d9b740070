"""Generate the synthetic Shopwise voice-of-customer sample used by cx-text.

    .venv/bin/python data/make_sample.py

writes two files next to this script:

* ``sample_feedback.csv``: what the product ingests.  Answers to "How likely are you to
  recommend us (0-10)? Why?" at three touchpoints (purchase, delivery, support) plus support
  complaints (no score) for Shopwise, an online retailer with home delivery and a mobile app,
  in English and Russian, over 12 ISO weeks (Monday 2026-08-31 to Sunday 2026-11-22).
* ``sample_truth.csv``: the answer key, one row per feedback row in the same order
  (response_id, theme, theme_secondary, expected_role, language, kind).

All randomness comes from fixed seeds (numpy ``default_rng(SEED)`` for numbers,
``random.Random(SEED)`` for text) and nothing iterates over a set, so re-running the script
produces byte-identical files.  The phrases live in ``sample_phrases.py``.

What is planted
---------------
* 16 steady themes, each in English and Russian, with a known score skew:
  detractor-heavy (~80% of scores 0-6): late_delivery, damaged_package, refund_delay,
  rude_support, app_crashes, hidden_fees, long_wait_support, wrong_item;
  promoter-heavy (~80% 9-10): fast_delivery, friendly_courier, easy_app, good_prices,
  helpful_support, product_quality;
  passive (~65% 7-8): delivery_slot_choice, packaging_waste.
  Frequencies differ (largest = 3x smallest); themes concentrate on a touchpoint
  (late_delivery mostly at delivery, ...) without being exclusive to it.
* Emerging theme promo_code_failure: only from 2026-11-09 (the last two weeks, after an app
  update), ~90% detractor, in surveys and complaints, in both languages.
* ~8% of themed survey comments mention two themes (truth: theme + theme_secondary); the
  score follows the first theme.
* Complaints are support tickets about the detractor themes (+ promo_code_failure); ~40%
  come from a customer with a survey answer within 30 days of the complaint.
* Realism: varied phrasings, openers/closers, context and follow-up sentences, short and long
  answers, lower-case, dropped punctuation, CAPS, emoji, deterministic typos (~7%), e-mail
  addresses / phone numbers (~3%), Russian gender agreement per customer.
* Noise, labelled in the truth ``kind`` column: non_answer (~5% of surveys, scores still
  count), duplicate (40 re-submissions: same customer, comment, day and score, later time),
  malformed_empty_text, malformed_score, malformed_date, malformed_same_id (a second row
  reusing a response_id with different text) and long_text (two >5,000-character
  complaints).  HTML remnants (``<br>``, ``&amp;``) and one ``<script>`` tag sit in otherwise
  normal ``ok`` rows.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import random
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sample_phrases as ph

SEED = 20261123
START = datetime(2026, 8, 31)  # Monday of ISO week 36
N_WEEKS = 12
END = START + timedelta(weeks=N_WEEKS)  # exclusive: Monday 2026-11-23 00:00
PROMO_START = datetime(2026, 11, 9)  # the app update that broke promo codes

N_CUSTOMERS = 4300  # pool; about 2,500 of them actually write something
ACTIVITY_SHAPE = 3.0  # gamma shape of how often a customer answers
RU_SHARE = 0.43
FEMALE_SHARE = 0.55
N_SURVEYS = 3480
N_COMPLAINTS = 590
NON_ANSWER_RATE = 0.05
MULTI_TOPIC_RATE = 0.08
DECIMAL_SCORE_RATE = 0.03
TYPO_RATE = 0.07
PII_RATE = {"survey": 0.03, "complaint": 0.06}
ANGRY_RATE = 0.4
COMPLAINT_LINK_RATE = 0.40
LINK_WINDOW = timedelta(days=30)
N_DUPLICATES = {"survey": 34, "complaint": 6}
N_SAME_ID_PAIRS = 4
LONG_TEXT_MIN_CHARS = 5200
LONG_PHRASE_MIN_CHARS = 30
SHORT_PHRASE_MAX_WORDS = 4
MALFORMED = {  # kind -> (column that is broken, one planted row per value)
    "malformed_empty_text": ("comment", ["", "", "", "", "", " ", "   ", "  "]),
    "malformed_score": ("score", ["ten", "ten", "ten", "11", "11", "-1", "-1"]),
    "malformed_date": ("created_at", ["not a date"] * 3 + ["2026-13-45"] * 2),
}

WEEK_VOLUME = (0.95, 1.0, 1.04, 0.97, 1.02, 1.06, 0.98, 1.03, 1.08, 1.0, 1.05, 1.1)
WEEKDAY_VOLUME = (1.1, 1.05, 1.0, 1.0, 0.95, 0.8, 0.9)
HOUR_VOLUME = (0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.2, 1.2, 1.1,
               1.3, 1.3, 1.1, 1.0, 1.0, 1.1, 1.3, 1.5, 1.6, 1.4, 1.0, 0.5)  # fmt: skip

# P(score = 0..10) per role.
ROLE_SCORES = {
    "detractor": (0.10, 0.05, 0.08, 0.12, 0.13, 0.16, 0.16, 0.06, 0.06, 0.04, 0.04),
    "strong_detractor": (0.16, 0.08, 0.12, 0.14, 0.14, 0.14, 0.12, 0.04, 0.03, 0.02, 0.01),
    "promoter": (0.0, 0.0, 0.005, 0.005, 0.01, 0.015, 0.025, 0.05, 0.09, 0.35, 0.45),
    "passive": (0.0, 0.0, 0.01, 0.01, 0.02, 0.04, 0.07, 0.30, 0.35, 0.12, 0.08),
}
POLARITY = {"detractor": "neg", "strong_detractor": "neg", "promoter": "pos", "passive": "mixed"}

TOUCHPOINTS = ("purchase", "delivery", "support")
NON_ANSWER_STAGES = (0.45, 0.35, 0.20)


@dataclass(frozen=True)
class Theme:
    role: str  # key of ROLE_SCORES
    survey_weight: float
    complaint_weight: float  # 0: never the subject of a complaint
    stages: tuple[float, float, float]  # survey P(purchase), P(delivery), P(support)


THEMES = {
    "late_delivery": Theme("detractor", 12, 10, (0.15, 0.75, 0.10)),
    "damaged_package": Theme("detractor", 6, 8, (0.10, 0.70, 0.20)),
    "refund_delay": Theme("detractor", 6, 10, (0.20, 0.15, 0.65)),
    "rude_support": Theme("detractor", 4, 5, (0.10, 0.10, 0.80)),
    "app_crashes": Theme("detractor", 7, 6, (0.70, 0.15, 0.15)),
    "hidden_fees": Theme("detractor", 5, 5, (0.75, 0.10, 0.15)),
    "long_wait_support": Theme("detractor", 6, 8, (0.08, 0.07, 0.85)),
    "wrong_item": Theme("detractor", 5, 7, (0.15, 0.60, 0.25)),
    "fast_delivery": Theme("promoter", 11, 0, (0.20, 0.75, 0.05)),
    "friendly_courier": Theme("promoter", 8, 0, (0.08, 0.85, 0.07)),
    "easy_app": Theme("promoter", 7, 0, (0.75, 0.15, 0.10)),
    "good_prices": Theme("promoter", 9, 0, (0.80, 0.10, 0.10)),
    "helpful_support": Theme("promoter", 6, 0, (0.08, 0.07, 0.85)),
    "product_quality": Theme("promoter", 8, 0, (0.60, 0.30, 0.10)),
    "delivery_slot_choice": Theme("passive", 6, 0, (0.35, 0.60, 0.05)),
    "packaging_waste": Theme("passive", 4, 0, (0.25, 0.70, 0.05)),
    "promo_code_failure": Theme("strong_detractor", 0, 0, (0.75, 0.05, 0.20)),
}
PROMO = "promo_code_failure"
PROMO_WEIGHTS = {10: (20, 30), 11: (34, 50)}  # week index -> (survey, complaint) weight
DELIVERY_THEMES = ("late_delivery", "damaged_package", "wrong_item")
# Theme pairs that would contradict each other inside one two-topic comment.
CONTRADICTIONS = {
    "late_delivery": ("fast_delivery",),
    "fast_delivery": ("late_delivery",),
    "rude_support": ("helpful_support",),
    "helpful_support": ("rude_support", "long_wait_support"),
    "long_wait_support": ("helpful_support",),
    "app_crashes": ("easy_app",),
    "easy_app": ("app_crashes", "promo_code_failure"),
    "promo_code_failure": ("easy_app",),
}

SURVEY_CHANNELS = {"email": 0.4, "app": 0.3, "web": 0.2, "sms": 0.1}
COMPLAINT_CHANNELS = {"email": 0.4, "chat": 0.3, "phone": 0.15, "web": 0.15}
REGIONS = {
    "en": ("North", "South", "East", "West"),
    "ru": ("Moscow", "Saint Petersburg", "Kazan", "Novosibirsk"),
}
PLANS = {"basic": 0.55, "plus": 0.30, "premium": 0.15}

FEEDBACK_COLUMNS = ["response_id", "source", "created_at", "customer_id", "touchpoint",
                    "channel", "score", "comment", "region", "plan"]  # fmt: skip
TRUTH_COLUMNS = ["response_id", "theme", "theme_secondary", "expected_role", "language", "kind"]

GENDER_RE = re.compile(r"\[([^\[\]|]*)\|([^\[\]|]*)\]")
WORD_RE = re.compile(r"[^\W\d_]{4,}")
SENTENCE_END_RE = re.compile(r"[a-z][.!?] (?=[A-Z])")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    lang: str
    female: bool
    region: str
    plan: str


@dataclass
class Row:
    ts: datetime
    source: str
    customer: Customer
    touchpoint: str
    channel: str
    score: int | None
    score_text: str
    comment: str
    theme: str = ""
    theme2: str = ""
    kind: str = "ok"
    date_text: str = ""  # overrides ts when set (malformed dates)
    same_id_as: Row | None = None
    locked: bool = False  # already used for planting noise
    response_id: str = ""


# --------------------------------------------------------------------------- text helpers


def resolve_gender(text: str, female: bool) -> str:
    """Pick the female or male form of every ``[f|m]`` marker."""
    return GENDER_RE.sub(lambda m: m.group(1 if female else 2), text)


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is a name, "I" or an acronym."""
    first = text.split(" ", 1)[0].strip(".,!?:;«»'\"")
    if first in ph.KEEP_CAPS or (len(first) > 1 and first.isupper()):
        return text
    return text[:1].lower() + text[1:]


def end_sentence(text: str) -> str:
    return text if text[-1:] in ".!?…" else text + "."


def flow(prefix: str, text: str) -> str:
    """Attach an opener/connector; "Honestly," + "The courier..." -> "Honestly, the courier..."."""
    return f"{prefix} {text}" if prefix[-1] in ".!?" else f"{prefix} {lower_first(text)}"


def join(parts: list[str], sep: str = " ") -> str:
    """Join sentences; a part ending in ',' or ':' flows into the next one on the same line."""
    out = parts[0]
    for part in parts[1:]:
        if out.endswith((",", ":")):
            out += f" {lower_first(part)}" if sep == " " else sep + part
        else:
            out = end_sentence(out) + sep + part
    return out


def polarity(theme: str) -> str:
    return POLARITY[THEMES[theme].role]


def long_phrases(theme: str, lang: str) -> list[str]:
    return [p for p in ph.CORE[theme][lang] if len(p) >= LONG_PHRASE_MIN_CHARS]


def short_phrases(theme: str, lang: str) -> list[str]:
    return [p for p in ph.CORE[theme][lang] if len(p.split()) <= SHORT_PHRASE_MAX_WORDS]


class Writer:
    """Composes comments; every text decision comes from one seeded ``random.Random``."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def pick(self, items: list[str], female: bool) -> str:
        return resolve_gender(self.rnd.choice(items), female)

    # ---- surveys

    def survey_comment(self, theme: str, lang: str, female: bool, theme2: str = "") -> str:
        pol = polarity(theme)
        if theme2:
            first = self.pick(ph.CORE[theme][lang], female)
            sentences = [first, self.connect(theme, theme2, lang, female)]
            opener = self.opener(lang, pol, female) if self.chance(0.2) else ""
        else:
            sentences, opener = self.single_theme(theme, lang, female, pol)
        text = join(sentences)
        if opener:
            text = flow(opener, text)
        return self.finish(self.stylise(text, lang, pol), lang, "survey")

    def single_theme(self, theme: str, lang: str, female: bool, pol: str):
        """Short (core only), medium (opener/closer) or long (context, detail, follow-up)."""
        r = self.rnd.random()
        if r < 0.33:
            pool = short_phrases(theme, lang) if self.chance(0.4) else ph.CORE[theme][lang]
            return [self.pick(pool, female)], ""
        opener = self.opener(lang, pol, female) if self.chance(0.4) else ""
        if r < 0.78:
            closer = [self.pick(ph.CLOSERS[lang][pol], female)] if self.chance(0.45) else []
            return [self.pick(ph.CORE[theme][lang], female), *closer], opener
        return self.long_answer(theme, lang, female, pol), opener

    def long_answer(self, theme: str, lang: str, female: bool, pol: str) -> list[str]:
        n_phrases = self.rnd.choice([2, 2, 3, 4])
        core, *extra = self.rnd.sample(long_phrases(theme, lang), n_phrases)
        details = ph.TICKET_DETAILS.get(theme, {}).get(lang)
        if details and self.chance(0.4):
            extra[0] = self.rnd.choice(details)
        parts = [self.pick(ph.CONTEXT[lang], female)] if self.chance(0.6) else []
        parts += [resolve_gender(p, female) for p in (core, *extra)]
        if self.chance(0.7):
            parts.append(self.pick(ph.FOLLOW_UPS[lang][pol], female))
        if self.chance(0.5):
            parts.append(self.pick(ph.CLOSERS[lang][pol], female))
        return parts

    def connect(self, theme: str, theme2: str, lang: str, female: bool) -> str:
        first_pos, second_pos = polarity(theme) == "pos", polarity(theme2) == "pos"
        key = "same" if first_pos == second_pos else ("to_pos" if second_pos else "to_neg")
        return flow(
            self.rnd.choice(ph.CONNECTORS[lang][key]), self.pick(ph.CORE[theme2][lang], female)
        )

    def opener(self, lang: str, pol: str, female: bool) -> str:
        kind = "any" if pol != "mixed" and self.chance(0.35) else pol
        return self.pick(ph.OPENERS[lang][kind], female)

    def non_answer(self, lang: str, score: int) -> str:
        return self.rnd.choice(ph.NON_ANSWERS[lang]).replace("{score}", str(score))

    # ---- surface style

    def stylise(self, text: str, lang: str, pol: str) -> str:
        """Case, punctuation, exclamation marks and emoji the way people really type."""
        if self.chance(0.13):
            text = text.lower()
        elif pol == "neg" and len(text) < 70 and self.chance(0.05):
            text = text.upper()
        elif self.chance(0.07):
            text = self.emphasise(text, lang)
        if self.chance(0.15):
            text = text.rstrip(".")
        elif self.chance(0.05):
            text = re.sub(r"[.,](?=\s|$)", "", text)
        if pol == "neg" and self.chance(0.12):
            text = text.rstrip(".!") + self.rnd.choice(["!", "!!", "!!!"])
        elif pol == "pos" and self.chance(0.1):
            text = text.rstrip(".") + "!"
        if self.chance(0.06):
            text += " " + self.rnd.choice(ph.EMOJI[pol]) * self.rnd.choice([1, 1, 2, 3])
        return text

    def emphasise(self, text: str, lang: str) -> str:
        words = self.rnd.sample(ph.EMPHASIS[lang], len(ph.EMPHASIS[lang]))
        for word in words:
            match = re.search(rf"\b{word}\b", text, flags=re.IGNORECASE)
            if match:
                return text[: match.start()] + word.upper() + text[match.end() :]
        return text

    def finish(self, text: str, lang: str, source: str) -> str:
        """Typos and PII are the last touch, shared by surveys and complaints."""
        if self.chance(TYPO_RATE):
            text = self.typo(text)
        if self.chance(PII_RATE[source]):
            text += (" " if text[-1] in ".!?\n" else ". ") + self.pii(lang)
        return text

    def typo(self, text: str) -> str:
        words = list(WORD_RE.finditer(text))
        if not words:
            return text
        match = self.rnd.choice(words)
        w, i = match.group(), self.rnd.randrange(1, len(match.group()) - 1)
        op = self.rnd.choice(("swap", "drop", "double"))
        if op == "swap":
            w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        elif op == "drop":
            w = w[:i] + w[i + 1 :]
        else:
            w = w[:i] + w[i] + w[i:]
        return text[: match.start()] + w + text[match.end() :]

    def pii(self, lang: str) -> str:
        digits = self.rnd.choice(["", str(self.rnd.randint(1, 99))])
        email = f"{self.rnd.choice(ph.EMAIL_USERS)}{digits}@{self.rnd.choice(ph.EMAIL_DOMAINS)}"
        phone = self.rnd.choice(ph.PHONE_FORMATS[lang])
        phone = re.sub(r"\{d(\d)\}", lambda m: self.digits(int(m.group(1))), phone)
        template = self.rnd.choice(ph.PII_SENTENCES[lang])
        return template.replace("{email}", email).replace("{phone}", phone)

    def digits(self, n: int) -> str:
        return "".join(str(self.rnd.randint(0, 9)) for _ in range(n))

    # ---- complaints

    def complaint(self, theme: str, lang: str, female: bool, channel: str, angry: bool) -> str:
        """A support ticket: greeting, order number, what happened, details, request."""
        letter = channel in ("email", "web")
        sep = "\n" if letter and self.chance(0.35) else " "
        parts = (
            [self.rnd.choice(ph.GREETINGS[lang])] if self.chance(0.75 if letter else 0.3) else []
        )
        if self.chance(0.55):
            parts.append(self.order_ref(lang))
        if self.chance(0.25):
            parts.append(self.pick(ph.CONTEXT[lang], female))
        parts.append(self.pick(long_phrases(theme, lang), female))
        details = self.rnd.sample(ph.TICKET_DETAILS[theme][lang], 2 if self.chance(0.5) else 1)
        parts += [resolve_gender(d, female) for d in details]
        if self.chance(0.25):
            parts.append(self.pick(ph.FOLLOW_UPS[lang]["neg"], female))
        parts.append(self.pick(ph.REQUESTS[lang]["angry" if angry else "polite"], female))
        if letter and self.chance(0.45):
            parts.append(self.sign_off(lang, female))
        text = join(self.shout(parts, lang) if angry else parts, sep)
        if channel == "chat" and self.chance(0.3):
            text = text.lower()
        return self.finish(text, lang, "complaint")

    def shout(self, parts: list[str], lang: str) -> list[str]:
        parts = list(parts)
        i = self.rnd.randrange(len(parts))
        if self.chance(0.3):
            parts[i] = parts[i].upper()
        elif self.chance(0.5):
            parts[i] = parts[i].rstrip(".") + self.rnd.choice(["!", "!!", "!!!"])
        else:
            parts[i] = self.emphasise(parts[i], lang)
        return parts

    def order_ref(self, lang: str) -> str:
        order = str(self.rnd.randint(100000, 999999))
        return self.rnd.choice(ph.ORDER_REFS[lang]).replace("{order}", order)

    def sign_off(self, lang: str, female: bool) -> str:
        name = self.rnd.choice(ph.NAMES[lang][0 if female else 1])
        return self.rnd.choice(ph.SIGN_OFFS[lang]).replace("{name}", name)

    def rambling_complaint(self, theme: str, lang: str, female: bool) -> str:
        """A >5,000-character letter that keeps repeating itself."""
        pool = long_phrases(theme, lang) + ph.TICKET_DETAILS[theme][lang]
        paragraphs = [self.rnd.choice(ph.GREETINGS[lang]), self.order_ref(lang)]
        while sum(len(p) for p in paragraphs) < LONG_TEXT_MIN_CHARS:
            para = [self.pick(ph.RAMBLE[lang], female)]
            para += [self.pick(pool, female) for _ in range(self.rnd.randint(2, 4))]
            if self.chance(0.4):
                para.append(self.pick(ph.FOLLOW_UPS[lang]["neg"], female))
            paragraphs.append(join(para))
        closing = [self.pick(ph.REQUESTS[lang]["angry"], female), self.sign_off(lang, female)]
        paragraphs.append(join(closing))
        return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- sampling


def weighted(rng: np.random.Generator, options: dict[str, float]) -> str:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def normalised(values: tuple[float, ...]) -> np.ndarray:
    arr = np.array(values, dtype=float)
    return arr / arr.sum()


def week_index(ts: datetime) -> int:
    return (ts - START).days // 7


def sample_timestamps(rng: np.random.Generator, n: int) -> list[datetime]:
    counts = rng.multinomial(n, normalised(WEEK_VOLUME))
    out = []
    for week, count in enumerate(counts):
        days = rng.choice(7, size=count, p=normalised(WEEKDAY_VOLUME))
        hours = rng.choice(24, size=count, p=normalised(HOUR_VOLUME))
        seconds = rng.integers(0, 3600, size=count)
        out += [
            START + timedelta(weeks=week, days=int(d), hours=int(h), seconds=int(s))
            for d, h, s in zip(days, hours, seconds, strict=True)
        ]
    return sorted(out)


def theme_weights(ts: datetime, source: str) -> dict[str, float]:
    index = 0 if source == "survey" else 1
    weights = {
        name: (t.survey_weight, t.complaint_weight)[index]
        for name, t in THEMES.items()
        if (t.survey_weight, t.complaint_weight)[index] > 0
    }
    if week_index(ts) in PROMO_WEIGHTS:
        weights[PROMO] = PROMO_WEIGHTS[week_index(ts)][index]
    return weights


def draw_score(rng: np.random.Generator, role: str) -> tuple[int, str]:
    score = int(rng.choice(11, p=normalised(ROLE_SCORES[role])))
    return score, f"{score}.0" if rng.random() < DECIMAL_SCORE_RATE else str(score)


def unique_comment(make, row_key: tuple, seen: set) -> str:
    """Re-draw a comment until (customer, comment, day) is new, so only planted rows repeat."""
    for _ in range(50):
        comment = make()
        if (*row_key, comment) not in seen:
            break
    seen.add((*row_key, comment))
    return comment


def make_customers(rng: np.random.Generator) -> list[Customer]:
    numbers = np.sort(rng.choice(np.arange(1000, 60000), size=N_CUSTOMERS, replace=False))
    customers = []
    for number in numbers:
        lang = "ru" if rng.random() < RU_SHARE else "en"
        female = bool(rng.random() < FEMALE_SHARE)
        region = REGIONS[lang][int(rng.integers(len(REGIONS[lang])))]
        customers.append(Customer(f"CU{number:05d}", lang, female, region, weighted(rng, PLANS)))
    return customers


def make_surveys(rng, writer: Writer, customers: list[Customer], seen: set) -> list[Row]:
    activity = rng.gamma(ACTIVITY_SHAPE, size=len(customers))
    activity /= activity.sum()
    rows = []
    for ts in sample_timestamps(rng, N_SURVEYS):
        customer = customers[int(rng.choice(len(customers), p=activity))]
        rows.append(make_survey(rng, writer, customer, ts, seen))
    return rows


def make_survey(rng, writer: Writer, customer: Customer, ts: datetime, seen: set) -> Row:
    lang, female, key = customer.lang, customer.female, (customer.customer_id, ts.date())
    channel = weighted(rng, SURVEY_CHANNELS)
    if rng.random() < NON_ANSWER_RATE:
        score, text = draw_score(rng, THEMES[weighted(rng, theme_weights(ts, "survey"))].role)
        touchpoint = TOUCHPOINTS[int(rng.choice(3, p=NON_ANSWER_STAGES))]
        comment = unique_comment(lambda: writer.non_answer(lang, score), key, seen)
        return Row(
            ts, "survey", customer, touchpoint, channel, score, text, comment, kind="non_answer"
        )
    weights = theme_weights(ts, "survey")
    theme = weighted(rng, weights)
    theme2 = ""
    if rng.random() < MULTI_TOPIC_RATE:
        clash = {theme, *CONTRADICTIONS.get(theme, ())}
        theme2 = weighted(rng, {k: v for k, v in weights.items() if k not in clash})
    score, text = draw_score(rng, THEMES[theme].role)
    touchpoint = TOUCHPOINTS[int(rng.choice(3, p=THEMES[theme].stages))]
    comment = unique_comment(lambda: writer.survey_comment(theme, lang, female, theme2), key, seen)
    return Row(ts, "survey", customer, touchpoint, channel, score, text, comment, theme, theme2)


def make_complaints(rng, writer: Writer, customers, surveys: list[Row], seen: set) -> list[Row]:
    survey_times = [r.ts for r in surveys]  # surveys are in time order
    by_customer: dict[str, list[datetime]] = {}
    for r in surveys:
        by_customer.setdefault(r.customer.customer_id, []).append(r.ts)
    rows = []
    for ts in sample_timestamps(rng, N_COMPLAINTS):
        linked = None
        if rng.random() < COMPLAINT_LINK_RATE:
            lo = bisect.bisect_left(survey_times, ts - LINK_WINDOW)
            hi = bisect.bisect_right(survey_times, ts + LINK_WINDOW)
            linked = pick_linked_survey(rng, surveys[lo:hi])
            customer = linked.customer
        else:
            customer = pick_unlinked_customer(rng, customers, by_customer, ts)
        rows.append(make_complaint(rng, writer, customer, ts, linked, seen))
    return rows


def pick_linked_survey(rng: np.random.Generator, window: list[Row]) -> Row:
    """Unhappy respondents are the ones most likely to also complain."""
    pull = {"detractor": 3.0, "passive": 1.5, "promoter": 0.6}
    weights = np.array([pull[role_of(r.score)] for r in window])
    return window[int(rng.choice(len(window), p=weights / weights.sum()))]


def pick_unlinked_customer(rng, customers, by_customer, ts: datetime) -> Customer:
    while True:
        customer = customers[int(rng.integers(len(customers)))]
        times = by_customer.get(customer.customer_id, [])
        if all(abs(t - ts) > LINK_WINDOW for t in times):
            return customer


def make_complaint(rng, writer: Writer, customer, ts, linked: Row | None, seen: set) -> Row:
    theme = weighted(rng, theme_weights(ts, "complaint"))
    if linked and linked.theme and THEMES[linked.theme].complaint_weight and rng.random() < 0.5:
        theme = linked.theme  # complaining about what the survey answer said
    near_delivery = 0.45 if theme in DELIVERY_THEMES else 0.08
    touchpoint = "delivery" if rng.random() < near_delivery else "support"
    channel = weighted(rng, COMPLAINT_CHANNELS)
    angry = bool(rng.random() < ANGRY_RATE)
    lang, female = customer.lang, customer.female
    comment = unique_comment(
        lambda: writer.complaint(theme, lang, female, channel, angry),
        (customer.customer_id, ts.date()),
        seen,
    )
    return Row(ts, "complaint", customer, touchpoint, channel, None, "", comment, theme)


def make_long_complaints(rng, writer: Writer, customers: list[Customer]) -> list[Row]:
    rows = []
    for lang, theme in (("en", "late_delivery"), ("ru", "refund_delay")):
        speakers = [c for c in customers if c.lang == lang]
        customer = speakers[int(rng.integers(len(speakers)))]
        ts = sample_timestamps(rng, 1)[0]
        text = writer.rambling_complaint(theme, lang, customer.female)
        row = Row(ts, "complaint", customer, "support", "email", None, "", text, theme)
        rows.append(dataclasses.replace(row, kind="long_text", locked=True))
    return rows


# --------------------------------------------------------------------------- planted noise


def plant_malformed(rng, writer: Writer, rows: list[Row]) -> list[Row]:
    """Break a few survey rows in place and return the extra same-id-different-content rows."""
    pool = [
        r
        for r in rows
        if r.source == "survey" and r.kind == "ok" and not r.theme2 and r.theme != PROMO
        and r.ts < END - timedelta(days=1)
    ]  # fmt: skip
    n_broken = sum(len(values) for _, values in MALFORMED.values())
    chosen = iter(writer.rnd.sample(pool, n_broken + N_SAME_ID_PAIRS))
    for kind, (column, values) in MALFORMED.items():
        for value, row in zip(values, chosen, strict=False):  # `chosen` is shared, longer
            row.kind, row.theme, row.locked = kind, "", True
            if column == "comment":
                row.comment = value
            elif column == "score":
                row.score_text = value
            else:
                row.date_text = value
    extra = []
    for original in chosen:
        original.locked = True
        other = weighted(rng, theme_weights(original.ts, "survey"))
        score, text = draw_score(rng, THEMES[other].role)
        c = original.customer
        comment = writer.survey_comment(other, c.lang, c.female)
        ts = original.ts + timedelta(minutes=writer.rnd.randint(30, 300))
        extra.append(
            Row(ts, "survey", c, original.touchpoint, original.channel, score, text, comment,
                kind="malformed_same_id", same_id_as=original, locked=True)
        )  # fmt: skip
    return extra


def plant_markup(rnd: random.Random, rows: list[Row]) -> None:
    """HTML remnants from web forms / e-mail bodies, plus one script tag."""
    ok = [r for r in rows if r.kind == "ok" and not r.locked]
    for row in rnd.sample([r for r in ok if r.source == "complaint" and "\n" in r.comment], 3):
        row.comment, row.locked = row.comment.replace("\n", "<br>"), True
    english = [r for r in ok if r.customer.lang == "en" and not r.locked]
    for row in rnd.sample([r for r in english if " and " in r.comment], 2):
        row.comment, row.locked = row.comment.replace(" and ", " &amp; ", 1), True
    tickets = [
        r
        for r in english
        if r.source == "complaint" and SENTENCE_END_RE.search(r.comment) and not r.locked
    ]
    row = rnd.choice(tickets)
    first_sentence = SENTENCE_END_RE.search(row.comment)
    assert first_sentence is not None
    cut = first_sentence.end()
    row.comment = row.comment[:cut] + "<script>alert(1)</script> " + row.comment[cut:]
    row.locked = True


def plant_duplicates(rnd: random.Random, rows: list[Row]) -> list[Row]:
    """Exact re-submissions a few minutes later on the same day (new response_id)."""
    copies = []
    for source, n in N_DUPLICATES.items():
        pool = [
            r
            for r in rows
            if r.source == source and r.kind == "ok" and not r.locked and r.ts.hour < 23
        ]
        for original in rnd.sample(pool, n):
            original.locked = True
            later = original.ts + timedelta(minutes=rnd.randint(1, 40), seconds=rnd.randint(0, 59))
            copies.append(dataclasses.replace(original, ts=later, kind="duplicate"))
    return copies


# --------------------------------------------------------------------------- output


def assign_ids(rows: list[Row]) -> list[Row]:
    rows = sorted(rows, key=lambda r: r.ts)
    counters = {"survey": 0, "complaint": 0}
    for row in rows:
        if row.same_id_as is None:
            counters[row.source] += 1
            prefix = "R" if row.source == "survey" else "C"
            row.response_id = f"{prefix}{counters[row.source]:06d}"
    for row in rows:
        if row.same_id_as is not None:
            row.response_id = row.same_id_as.response_id
    return rows


def expected_role(row: Row) -> str:
    if row.source == "complaint":
        return "complaint"
    if row.kind == "malformed_score":
        return ""
    return role_of(row.score)


def role_of(score: int | None) -> str:
    assert score is not None, "complaints have no NPS role"
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def feedback_record(row: Row) -> list[str]:
    created = row.date_text or row.ts.strftime("%Y-%m-%d %H:%M:%S")
    c = row.customer
    return [row.response_id, row.source, created, c.customer_id, row.touchpoint, row.channel,
            row.score_text, row.comment, c.region, c.plan]  # fmt: skip


def truth_record(row: Row) -> list[str]:
    return [row.response_id, row.theme, row.theme2, expected_role(row), row.customer.lang,
            row.kind]  # fmt: skip


def write_csv(path: Path, header: list[str], records: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(records)


def main(out_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    writer = Writer(random.Random(SEED))
    seen: set = set()  # (customer_id, day, comment); membership only, never iterated
    customers = make_customers(rng)
    surveys = make_surveys(rng, writer, customers, seen)
    rows = surveys + make_complaints(rng, writer, customers, surveys, seen)
    rows += plant_malformed(rng, writer, rows)
    plant_markup(writer.rnd, rows)
    rows += plant_duplicates(writer.rnd, rows)
    rows += make_long_complaints(rng, writer, customers)
    rows = assign_ids(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "sample_feedback.csv", FEEDBACK_COLUMNS, [feedback_record(r) for r in rows])
    write_csv(out_dir / "sample_truth.csv", TRUTH_COLUMNS, [truth_record(r) for r in rows])


if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
