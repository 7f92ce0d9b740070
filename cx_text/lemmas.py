"""Lemmatisation and stop words for English, Russian and mixed survey text.

One tokenizer serves mixed corpora: the language of each *token* is decided by its script
(Latin -> English rules, Cyrillic -> Russian rules), so a comment such as
"Приложение crashes after update" is handled without a per-document language guess.

English lemmas come from spaCy's lookup lemmatizer data (the ``lemma_lookup`` table of
spacy-lookups-data, which ``spacy.blank("en")`` with a lookup-mode lemmatizer would use);
Russian lemmas from pymorphy3's most probable parse. Everything works offline; heavy objects
are created lazily, once per process.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

# Negation, degree and recurrence words carry the meaning of a complaint ("not delivered",
# "too slow", "crashes again", "still waiting", "не пришёл", "вообще не работает", "опять
# списали"), yet spaCy lists all of them as stop words. They are kept. Inflected forms and
# pymorphy3 lemmas are both listed so the word survives whichever form is checked.
NEGATIONS_AND_INTENSIFIERS: frozenset[str] = frozenset(
    {
        # English negation ("n't"/"nt" are normalised to "not" by the tokenizer).
        *("no", "not", "never", "nor", "neither", "none", "nothing", "nobody", "noone"),
        *("nowhere", "cannot", "without"),
        # English degree and recurrence.
        *("very", "too", "enough", "more", "less", "again", "always", "still"),
        # Russian negation and absence.
        *("не", "нет", "нету", "ни", "никогда", "ничего", "ничто", "никак", "никакой"),
        *("никто", "нигде", "никуда", "нечего", "нельзя", "без"),
        # Russian degree and recurrence (ё is normalised to е, hence "еще").
        *("очень", "слишком", "совсем", "вообще", "опять", "снова", "всегда", "еще"),
        *("долго", "мало"),
    }
)

# Evaluative or service words that spaCy's lists treat as stop words but that name a theme
# in customer feedback ("call centre", "empty parcel", "full refund", "хуже", "хорошо").
KEPT_CONTENT_WORDS: frozenset[str] = frozenset(
    {"call", "empty", "full", "amount", "serious", "back", "хорошо", "хуже", "рано", "далеко"}
)

# Survey fillers that spaCy does not list. Deliberately short: anything a product team
# might want to see as a theme word ("app", "price", "спасибо") stays.
SURVEY_FILLERS: dict[str, frozenset[str]] = {
    "en": frozenset({"ok", "okay", "etc", "lol", "pls", "plz", "im", "ve", "ll"}),
    # "раз" (time, as in "три раза") made theme keywords such as "раз минута", "раз курьер"
    "ru": frozenset({"ок", "окей", "ооо", "блин", "типа", "ща", "щас", "раз"}),
}

# pymorphy3 mis-parses a few survey slang words ("норм" -> "норма", "ок" -> "около").
_RU_LEMMA_OVERRIDES: dict[str, str] = {"норм": "нормально", "ок": "ок", "оч": "очень"}
# Its most probable parse of "деньги" (money, a top complaint word) is the archaic "деньга".
_RU_NORMAL_FORM_FIXES: dict[str, str] = {"деньга": "деньги"}

# Lower-case Latin (incl. accented, without × and ÷) and Cyrillic letters, 2+ of them.
_WORD = re.compile(r"[a-z\u00df-\u00f6\u00f8-\u024f\u0400-\u04ff]{2,}")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN_TO_CYRILLIC = str.maketrans("aceopxyk", "асеорхук")
_CYRILLIC_TO_LATIN = str.maketrans("асеорхук", "aceopxyk")


_NEGATIONS: frozenset[str] = frozenset(
    {"no", "not", "never", "nor", "without", "не", "нет", "ни", "без"}
)
# Parts of speech a Russian label phrase may be built from (pymorphy3 tags).
_RU_NOUN = "NOUN"
_RU_ADJECTIVES = frozenset({"ADJF", "PRTF"})
_RU_PREDICATES = frozenset({"VERB", "PRTS", "ADJS"})
_RU_LABEL_WORDS = frozenset({"NOUN", "ADJF", "PRTF"})


class TokenInfo(NamedTuple):
    """One kept word of a text.

    Attributes:
        form: Lower-cased surface form (ё -> е for Cyrillic).
        lemma: Dictionary form.
        language: "en" for Latin-script tokens, "ru" for Cyrillic-script tokens.
    """

    form: str
    lemma: str
    language: str


@functools.cache
def _tokenizer() -> Callable[[str], Any]:
    """spaCy's blank English tokenizer extended with the blank Russian tokenizer's special cases.

    Built from the language defaults exactly as ``spacy.blank`` builds it, because
    ``spacy.blank`` first imports every spaCy plug-in registered through entry points (here
    presidio-analyzer, which pulls in transformers: about 4 s per process). The English rules
    split contractions ("don't" -> "do" + "n't" with norm "not"); the Russian ones expand
    abbreviations ("руб." -> "рубль"). The two sets hardly overlap, so one merged tokenizer
    handles both scripts, even inside one comment.
    """
    from spacy.lang.en import English
    from spacy.lang.ru import Russian
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    from spacy.vocab import create_vocab

    defaults = English.Defaults
    return Tokenizer(
        create_vocab("en", defaults),
        rules={**Russian.Defaults.tokenizer_exceptions, **defaults.tokenizer_exceptions},
        prefix_search=compile_prefix_regex(defaults.prefixes or ()).search,
        suffix_search=compile_suffix_regex(defaults.suffixes or ()).search,
        infix_finditer=compile_infix_regex(defaults.infixes or ()).finditer,
        token_match=defaults.token_match,
        url_match=defaults.url_match,
    )


@functools.cache
def _english_lemma_table() -> Any:
    """The ``lemma_lookup`` table of spacy-lookups-data, as spaCy's lookup lemmatizer loads it."""
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


@functools.cache
def _morph() -> Any:
    """The pymorphy3 Russian analyser (about 0.2 s to build), created once per process."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


@functools.lru_cache(maxsize=200_000)
def english_lemma(word: str) -> str:
    """Lemma of a lower-case English word from spaCy's lookup table (the word if unknown)."""
    return str(_english_lemma_table().get(word, word))


@functools.lru_cache(maxsize=200_000)
def russian_lemma(word: str) -> str:
    """Normal form of a lower-case Russian word by pymorphy3's most probable parse, ё -> е."""
    if word in _RU_LEMMA_OVERRIDES:
        return _RU_LEMMA_OVERRIDES[word]
    lemma = str(_morph().parse(word)[0].normal_form).replace("ё", "е")
    return _RU_NORMAL_FORM_FIXES.get(lemma, lemma)


def _fix_mixed_script(word: str) -> str:
    """Map look-alike letters of the minority script to the majority one.

    Users switch keyboard layouts mid-word ("дocтавка" with Latin o and c); without this the
    word would be neither a Russian nor an English word.
    """
    cyrillic = len(_CYRILLIC.findall(word))
    if cyrillic == 0 or cyrillic == len(word):
        return word
    if cyrillic * 2 >= len(word):
        return word.translate(_LATIN_TO_CYRILLIC)
    return word.translate(_CYRILLIC_TO_LATIN)


@functools.lru_cache(maxsize=500_000)
def _token_info(norm: str) -> TokenInfo | None:
    """Classify and lemmatise one normalised token; None when it is not a kept word.

    Remembered per token (a pure function of it; `TokenInfo` is immutable): c-TF-IDF analyses
    every theme's documents again at each fit and update, so the same words come back."""
    if not _WORD.fullmatch(norm) or not norm.isalpha():
        return None  # numbers, punctuation, emoji, URLs, e-mails, 1-letter tokens
    word = _fix_mixed_script(norm)
    if _CYRILLIC.search(word):
        word = word.replace("ё", "е")
        return TokenInfo(word, russian_lemma(word), "ru")
    return TokenInfo(word, english_lemma(word), "en")


def analyze(text: str) -> list[TokenInfo]:
    """Tokenise and lemmatise a text, keeping alphabetic Latin/Cyrillic words of 2+ letters.

    Args:
        text: Any text, possibly mixing English and Russian.

    Returns:
        The kept words in order, with their lemma and script-derived language; no stop-word
        removal.
    """
    infos = (_token_info(token.norm_) for token in _tokenizer()(text.lower()))
    return [info for info in infos if info is not None]


def _spacy_stop_words(language: str) -> frozenset[str]:
    """spaCy's stop-word list for a language code, empty when spaCy has none."""
    import spacy

    try:
        return frozenset(spacy.util.get_lang_class(language).Defaults.stop_words)
    except (ImportError, AttributeError):
        return frozenset()


@functools.cache
def stop_words(language: str) -> frozenset[str]:
    """Stop words for a language code.

    For "en" and "ru": spaCy's list minus NEGATIONS_AND_INTENSIFIERS and KEPT_CONTENT_WORDS,
    plus SURVEY_FILLERS, with ё written as е. For other codes: spaCy's list if it has one,
    else an empty set.

    Args:
        language: ISO 639-1 code such as "en" or "ru".

    Returns:
        Lower-case stop words.
    """
    words = _spacy_stop_words(language)
    if language not in SURVEY_FILLERS:
        return words
    kept = NEGATIONS_AND_INTENSIFIERS | KEPT_CONTENT_WORDS
    normalised = {word.replace("ё", "е") for word in words | SURVEY_FILLERS[language]}
    return frozenset(normalised - kept)


def _is_stop_word(info: TokenInfo) -> bool:
    """True when the surface form or the lemma is a stop word of the token's language."""
    stops = stop_words(info.language)
    return info.form in stops or info.lemma in stops


class LemmaTokenizer:
    """Picklable tokenizer for scikit-learn vectorizers, English and Russian mixed.

    Use as ``CountVectorizer(tokenizer=LemmaTokenizer(), lowercase=False, token_pattern=None)``.
    The spaCy and pymorphy3 objects are process-wide lazy singletons, so pickling only
    carries the configuration and an unpickled copy (e.g. in a worker process) rebuilds
    them on first use.

    Args:
        remove_stop_words: Drop stop words of each token's language (see ``stop_words``).
    """

    def __init__(self, remove_stop_words: bool = True) -> None:
        self.remove_stop_words = remove_stop_words

    def __call__(self, doc: str) -> list[str]:
        """Return the lemmas of the kept words of ``doc``."""
        infos: Iterable[TokenInfo] = content_words(doc) if self.remove_stop_words else analyze(doc)
        return [info.lemma for info in infos]

    def __getstate__(self) -> dict[str, Any]:
        # Only configuration: never the spaCy pipeline or the pymorphy3 dictionaries.
        return {"remove_stop_words": self.remove_stop_words}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.remove_stop_words = bool(state["remove_stop_words"])

    def __repr__(self) -> str:
        return f"LemmaTokenizer(remove_stop_words={self.remove_stop_words})"


def content_words(text: str) -> list[TokenInfo]:
    """The words of ``text`` that ``LemmaTokenizer`` keeps (stop words removed), in order."""
    return [info for info in analyze(text) if not _is_stop_word(info)]


# ----------------------------------------------------------------------- label phrases


@functools.cache
def _english_pos_index() -> dict[str, frozenset[str]]:
    """WordNet's lemma lists per part of speech, as shipped in spacy-lookups-data."""
    from spacy.lookups import load_lookups

    table = load_lookups("en", ["lemma_index"]).get_table("lemma_index")
    return {pos: frozenset(table.get(pos, [])) for pos in ("adj", "adv", "noun", "verb")}


@functools.lru_cache(maxsize=50_000)
def english_pos(lemma: str) -> frozenset[str]:
    """Parts of speech ("adj", "adv", "noun", "verb") WordNet lists for an English lemma.

    Empty for words WordNet does not know (brand names, "promo"), which are then taken as
    nouns. Ambiguous words ("crash", "order") list several.
    """
    return frozenset(pos for pos, words in _english_pos_index().items() if lemma in words)


def _russian_parses(form: str, lemma: str) -> list[Any]:
    """pymorphy3 parses of ``form`` whose normal form is ``lemma`` (all parses if none is)."""
    parses = _morph().parse(form)
    matching = [p for p in parses if p.normal_form.replace("ё", "е") == lemma]
    return matching or parses


def _agreeing(adjectives: list[Any], nouns: list[Any]) -> tuple[Any, Any] | None:
    """An adjective parse and a noun parse in the same case, number and (singular) gender."""
    for adjective in adjectives:
        for noun in nouns:
            if adjective.tag.POS not in _RU_ADJECTIVES or noun.tag.POS != _RU_NOUN:
                continue
            same = adjective.tag.case == noun.tag.case and adjective.tag.number == noun.tag.number
            gender = noun.tag.number == "plur" or adjective.tag.gender in (None, noun.tag.gender)
            if same and gender:
                return adjective, noun
    return None


def _clause(nouns: list[Any], verbs: list[Any]) -> bool:
    """True for a subject + verb that agree ("приложение вылетает") or an object + verb.

    An object must be unambiguously accusative ("доставку перенесли"); otherwise two words
    from different phrases ("от проблемы ушел") would pass.
    """
    for noun in nouns:
        for verb in verbs:
            if noun.tag.POS != _RU_NOUN or verb.tag.POS not in _RU_PREDICATES:
                continue
            agrees = verb.tag.gender in (None, noun.tag.gender) or noun.tag.number == "plur"
            if noun.tag.case == "nomn" and noun.tag.number == verb.tag.number and agrees:
                return True
    return all(noun.tag.case == "accs" for noun in nouns)


def _nominative(parse: Any) -> str:
    """The word of a noun parse in the nominative, keeping its number."""
    inflected = parse.inflect({"nomn", parse.tag.number or "sing"})
    return str((inflected or parse).word)


def _russian_phrase(lemmas: list[str], forms: list[str], from_text: bool) -> str | None:
    """A Russian keyword as a label: nouns and adjectives in the nominative, agreeing.

    Unigrams must be nouns or adjectives (a bare verb, "сказать", reads as a fragment).
    Bigrams must be a phrase of the texts, not two neighbouring words of different
    phrases: adjective + noun that agree in the texts ("помятая коробка"), noun + noun in the
    genitive ("сроки доставки"), subject or object + verb ("приложение вылетает", "доставку
    перенесли"), or "не" + verb ("не работает"). Verb-first fragments ("оспаривать платеж")
    and adverbs ("снаружи коробка") are refused. Without the texts' wording (`from_text`
    False, e.g. parent labels built from lemmas) an adjective is made to agree with its noun.
    """
    if len(lemmas) == 1:
        parse = _russian_parses(forms[0], lemmas[0])[0]
        return lemmas[0] if parse.tag.POS in _RU_LABEL_WORDS else None
    first, second = (_russian_parses(f, lemma) for f, lemma in zip(forms, lemmas, strict=True))
    pos1, pos2 = first[0].tag.POS, second[0].tag.POS
    if lemmas[0] == "не":
        return " ".join(forms) if pos2 in _RU_PREDICATES | {"INFN"} else None
    if pos1 in _RU_ADJECTIVES and pos2 == _RU_NOUN:
        pair = _agreeing(first, second) or (None if from_text else (first[0], second[0]))
        if pair is None:
            return None
        adjective, noun = pair
        number = noun.tag.number or "sing"
        agreement = {"nomn", "plur"} if number == "plur" else {"nomn", noun.tag.gender or "masc"}
        return f"{(adjective.inflect(agreement) or adjective).word} {_nominative(noun)}"
    if pos1 == _RU_NOUN and pos2 in _RU_ADJECTIVES:
        return " ".join(forms) if _agreeing(second, first) else None
    if pos1 == _RU_NOUN and pos2 == _RU_NOUN:
        return f"{_nominative(first[0])} {forms[1]}" if second[0].tag.case == "gent" else None
    if pos1 == _RU_NOUN and pos2 in _RU_PREDICATES and _clause(first, second):
        return " ".join(forms)
    return None


def _english_phrase(lemmas: list[str], forms: list[str]) -> str | None:
    """An English keyword as a label: no verb-only first word, no adverb-only word.

    "arrive", "deliver" cannot start a label ("deliver time"), "actually" cannot end one. A
    bigram is shown as the texts say it most often ("box arrived", "plastic bags"), a single
    word as its lemma.
    """
    first = english_pos(lemmas[0])
    if first and first <= {"verb", "adv"}:
        return None
    if len(lemmas) == 1:
        return lemmas[0]
    last = english_pos(lemmas[-1])
    return None if last == {"adv"} else " ".join(forms)


def _describes_degree(lemma: str, form: str) -> bool:
    """True when an intensifier before this word makes a phrase ("too slow", "очень долго")."""
    if _CYRILLIC.search(lemma):
        return _russian_parses(form, lemma)[0].tag.POS in {"ADJF", "ADJS", "ADVB", "PRED", "COMP"}
    return bool(english_pos(lemma) & {"adj", "adv"})


def label_phrase(lemmas: str, surface: str | None = None) -> str | None:
    """How a keyword (space-separated lemmas) reads in a label, or None if it reads badly.

    Args:
        lemmas: A keyword as the vectorizer produced it ("помятый коробка", "box arrive").
        surface: The keyword's most frequent wording in the theme's texts ("помятой
            коробке", "box arrived"); the lemmas themselves when not given.

    Returns:
        The phrase to show ("помятая коробка", "box arrived"), or None for fragments: a
        negation or intensifier alone or at the end ("код не", "курьер очень"), an
        intensifier before anything but an adjective or adverb ("очень экономить"; "always
        late" is kept), a repeated word, and the language rules of `_russian_phrase` /
        `_english_phrase`.
    """
    words = lemmas.split()
    forms = (surface or lemmas).split()
    if not words or len(set(words)) < len(words) or len(forms) != len(words):
        return None
    if len(words) == 2 and words[0] in NEGATIONS_AND_INTENSIFIERS - _NEGATIONS:
        return " ".join(forms) if _describes_degree(words[1], forms[1]) else None
    if words[-1] in NEGATIONS_AND_INTENSIFIERS:
        return None
    if _CYRILLIC.search(lemmas):
        return _russian_phrase(words, forms, surface is not None)
    return _english_phrase(words, forms)


def lemmatize(text: str) -> list[str]:
    """Lemmas of the words of ``text`` (no stop-word removal)."""
    return [info.lemma for info in analyze(text)]
