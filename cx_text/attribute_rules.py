"""spaCy's `attribute_ruler` for what labels read, as look-ups instead of a `Matcher`.

In `en_core_web_sm` the attribute ruler maps each fine-grained tag to its coarse part of speech
and applies about 180 exception patterns ("n't" is PART, "is" with tag VBZ is AUX, ...). It
runs spaCy's `Matcher` over every pattern for every sentence, about a quarter of the parse
time of the label candidates (`bench/parse_speed.py`: 8.6 s with it, 6.3 s with these
look-ups, on 7,379 English sentences). Labels read only `pos_`,
`tag_` and `dep_` (noun chunks, verb phrases, dangling words), so `AttributeRules` applies the
patterns that set those three attributes, with the ruler's semantics: every pattern is matched
against the tokens as the tagger and parser left them, then the matches are applied in pattern
order, a later pattern overriding an earlier one. Patterns that set only lemmas or morphology
are left out (labels exclude the lemmatizer and never read `morph`).

`swap_ruler(nlp)` replaces the pipeline's ruler when every relevant pattern is of a form this
module reads (token attributes TAG, LOWER, DEP, IS_SPACE; a value, or {"IN": [...]} /
{"NOT_IN": [...]}); otherwise the pipeline keeps spaCy's ruler. `tests/test_labels.py` checks
that both give the same `pos_`, `tag_` and `dep_` on every token.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

KEPT = ("POS", "TAG", "DEP")  # what labels read
_READ = {"TAG": "tag_", "LOWER": "lower_", "DEP": "dep_", "IS_SPACE": "is_space"}
FACTORY = "cx_text_attribute_rules"


@dataclass(frozen=True)
class Rule:
    """One pattern: a condition per token of a window, the window's token it sets, and what."""

    order: int
    tokens: tuple[tuple[tuple[str, str, Any], ...], ...]  # per token: (attribute, op, value)
    index: int
    attrs: tuple[tuple[str, str], ...]

    def matches(self, values: list[dict[str, Any]], start: int) -> bool:
        if start + len(self.tokens) > len(values):
            return False
        for offset, conditions in enumerate(self.tokens):
            token = values[start + offset]
            for attribute, op, value in conditions:
                found = token[attribute]
                if op == "==" and found != value:
                    return False
                if op == "in" and found not in value:
                    return False
                if op == "not in" and found in value:
                    return False
        return True


class AttributeRules:
    """The POS / TAG / DEP part of an attribute ruler (see the module docstring)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._index: _Index | None = None  # the rules over string ids, built at the first doc

    @classmethod
    def from_patterns(cls, patterns: list[dict[str, Any]]) -> AttributeRules | None:
        """Rules of `AttributeRuler.patterns`, or None when a relevant one has another form."""
        rules = []
        for order, pattern in enumerate(patterns):
            attrs = tuple((k, str(v)) for k, v in pattern["attrs"].items() if k in KEPT)
            if not attrs:
                continue
            for window in pattern["patterns"]:
                tokens = tuple(_conditions(token) for token in window)
                if any(t is None for t in tokens):
                    return None
                index = int(pattern.get("index", 0))
                index = index if index >= 0 else len(window) + index
                rules.append(Rule(order, tokens, index, attrs))  # type: ignore[arg-type]
        return cls(rules)

    def __call__(self, doc: Any) -> Any:
        if self._index is None:
            self._index = _Index(_with_string_ids(self.rules, doc.vocab.strings))
        array = doc.to_array(list(_READ))  # string ids: no Python strings per token
        values = [dict(zip(_READ, row, strict=True)) for row in array.tolist()]
        return self._index.apply(doc, values)


def _with_string_ids(rules: list[Rule], strings: Any) -> list[Rule]:
    """The same rules comparing the string ids `Doc.to_array` gives (IS_SPACE: 0 / 1)."""

    def key(attribute: str, value: Any) -> int:
        return int(value) if attribute == "IS_SPACE" else int(strings.add(value))

    return [
        Rule(rule.order,
             tuple(tuple((a, op, key(a, v) if op == "==" else frozenset(key(a, x) for x in v))
                         for a, op, v in conditions)
                   for conditions in rule.tokens),
             rule.index, rule.attrs)
        for rule in rules
    ]  # fmt: skip


class _Index:
    """Rules by what their first token needs, so each token tries only the rules it can match:
    by (tag, lower case) when a rule names both, by tag when it names one, else every token."""

    def __init__(self, rules: list[Rule]) -> None:
        self._by_word: dict[tuple[Any, Any], list[Rule]] = defaultdict(list)
        self._by_tag: dict[Any, list[Rule]] = defaultdict(list)
        self._other: list[Rule] = []
        for rule in rules:
            first = {a: (op, v) for a, op, v in rule.tokens[0]}
            tag, lower = first.get("TAG", ("", None)), first.get("LOWER", ("", None))
            if tag[0] == "==" and lower[0] in ("==", "in"):
                for word in [lower[1]] if lower[0] == "==" else lower[1]:
                    self._by_word[(tag[1], word)].append(rule)
            elif tag[0] == "==":
                self._by_tag[tag[1]].append(rule)
            else:
                self._other.append(rule)

    def apply(self, doc: Any, values: list[dict[str, Any]]) -> Any:
        """Match every rule on the unchanged tokens, then set attributes in rule order."""
        found = []
        for start, token in enumerate(values):
            tag = token["TAG"]
            for rule in (*self._by_word.get((tag, token["LOWER"]), ()),
                         *self._by_tag.get(tag, ()), *self._other):  # fmt: skip
                if rule.matches(values, start):
                    found.append((rule.order, start, rule.index, rule.attrs))
        for _, start, index, attrs in sorted(found, key=lambda m: (m[0], m[1])):
            token = doc[start + index]
            for attribute, value in attrs:
                setattr(token, attribute.lower() + "_", value)
        return doc


def _conditions(token: dict[str, Any]) -> tuple[tuple[str, str, Any], ...] | None:
    out: list[tuple[str, str, Any]] = []
    for attribute, value in token.items():
        if attribute not in _READ:
            return None
        if isinstance(value, dict):
            if set(value) == {"IN"}:
                out.append((attribute, "in", frozenset(value["IN"])))
            elif set(value) == {"NOT_IN"}:
                out.append((attribute, "not in", frozenset(value["NOT_IN"])))
            else:
                return None
        elif isinstance(value, (str, bool)):
            out.append((attribute, "==", value))
        else:
            return None
    return tuple(out)


def swap_ruler(nlp: Any) -> Any:
    """`nlp` with its `attribute_ruler` replaced by `AttributeRules` when the patterns allow."""
    if "attribute_ruler" not in nlp.pipe_names:
        return nlp
    patterns = nlp.get_pipe("attribute_ruler").patterns
    if AttributeRules.from_patterns(patterns) is None:
        return nlp
    _register()
    nlp.replace_pipe("attribute_ruler", FACTORY, config={"patterns": patterns})
    return nlp


def _register() -> None:
    from spacy.language import Language

    if Language.has_factory(FACTORY):
        return

    @Language.factory(FACTORY, default_config={"patterns": []})
    def make(nlp: Any, name: str, patterns: list[dict[str, Any]]) -> AttributeRules:
        rules = AttributeRules.from_patterns(patterns)
        assert rules is not None  # swap_ruler checked
        return rules
