"""The theme registry: permanent theme ids across re-fits.

A re-fit finds topics afresh; each new topic is matched one-to-one to a registered theme of the
same embedding space by cosine similarity of their centres (Hungarian assignment, similarity at
least `threshold`). Matched topics take the registered id (labels may change, ids do not);
unmatched topics get new ids and status `new`; registered themes left unmatched become
`retired` (kept, never deleted). Every change is appended to the theme's history.

A space is its encoder's (`space_of`): centres of texts read whole and of texts read part by
part (`embed.PooledEmbedder`, a length-weighted mean of the same encoder's sentence vectors)
compare by cosine, so a store fitted before `themes.pool_theme_sentences` keeps its ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cx_text.embed import POOLED_SUFFIX
from cx_text.schemas import UNCLASSIFIED

REGISTRY_COLUMNS = ["theme_id", "label", "status", "first_seen", "last_seen", "record", "centroid"]


@dataclass(frozen=True)
class Candidate:
    """A freshly fitted theme: its run-local id, label, size, keywords and centre."""

    local_id: str
    label: str
    size: int
    model_id: str
    language: str
    keywords: str
    centre: np.ndarray


def space_of(model_id: object) -> str:
    """The space a theme centre lives in: its encoder's model id, read whole or part by part."""
    return str(model_id).removesuffix(POOLED_SUFFIX)


def empty_registry() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REGISTRY_COLUMNS})


def _next_number(registry: pd.DataFrame) -> int:
    numbers = registry["theme_id"].astype(str).str.extract(r"^T(\d+)$")[0].dropna().astype(int)
    return int(numbers.max()) + 1 if len(numbers) else 1


def _record(row: pd.Series | None) -> dict[str, Any]:
    if row is None or not isinstance(row["record"], str):
        return {"history": []}
    return dict(json.loads(row["record"]))


def _centre(blob: Any) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def match(candidates: list[Candidate], registry: pd.DataFrame, threshold: float) -> dict[str, str]:
    """Map candidate local ids to registered theme ids (one-to-one, similarity >= threshold)."""
    from scipy.optimize import linear_sum_assignment

    mapping: dict[str, str] = {}
    for space in sorted({space_of(c.model_id) for c in candidates}):
        group = [c for c in candidates if space_of(c.model_id) == space]
        registered = registry[[space_of(_record(r).get("model_id")) == space
                               for _, r in registry.iterrows()]]  # fmt: skip
        if registered.empty:
            continue
        old = np.vstack([_centre(b) for b in registered["centroid"]])
        new = np.vstack([c.centre for c in group])
        if old.shape[1] != new.shape[1]:
            continue
        sims = new @ old.T
        rows, cols = linear_sum_assignment(-sims)
        for r, c in zip(rows, cols, strict=True):
            if sims[r, c] >= threshold:
                mapping[group[r].local_id] = str(registered["theme_id"].iloc[c])
    return mapping


def update_registry(
    candidates: list[Candidate],
    registry: pd.DataFrame,
    threshold: float,
    now: pd.Timestamp,
    run_id: str,
) -> tuple[dict[str, str], pd.DataFrame]:
    """Match a re-fit to the registry.

    Returns:
        (local id -> permanent id, the updated registry: every registered theme, new ones added).
    """
    mapping = match(candidates, registry, threshold)
    number = _next_number(registry)
    for cand in sorted(candidates, key=lambda c: -c.size):
        if cand.local_id not in mapping:
            mapping[cand.local_id] = f"T{number:03d}"
            number += 1
    by_id = {str(r["theme_id"]): r for _, r in registry.iterrows()}
    rows = [_seen_row(c, mapping[c.local_id], by_id.get(mapping[c.local_id]), now, run_id)
            for c in candidates]  # fmt: skip
    seen = {mapping[c.local_id] for c in candidates}
    spaces = {space_of(c.model_id) for c in candidates}
    for theme_id, row in by_id.items():
        if theme_id not in seen:
            rows.append(_unseen_row(row, spaces, now, run_id))
    frame = pd.DataFrame(rows, columns=REGISTRY_COLUMNS) if rows else empty_registry()
    return mapping, frame.sort_values("theme_id").reset_index(drop=True)


def _seen_row(
    cand: Candidate, theme_id: str, old: pd.Series | None, now: pd.Timestamp, run_id: str
) -> dict[str, Any]:
    record = _record(old)
    history = list(record.get("history", []))
    if old is None:
        status = "new"
        history.append({"run_id": run_id, "at": str(now), "event": "created", "label": cand.label})
    else:
        status = "active"
        if old["status"] == "retired":
            history.append({"run_id": run_id, "at": str(now), "event": "revived"})
        if old["label"] != cand.label:
            history.append({"run_id": run_id, "at": str(now), "event": "relabelled",
                            "from": old["label"], "label": cand.label})  # fmt: skip
    record.update(model_id=cand.model_id, language=cand.language, keywords=cand.keywords,
                  size=cand.size, history=history)  # fmt: skip
    return {
        "theme_id": theme_id,
        "label": cand.label,
        "status": status,
        "first_seen": now if old is None else old["first_seen"],
        "last_seen": now,
        "record": json.dumps(record, ensure_ascii=False),
        "centroid": np.asarray(cand.centre, np.float32).tobytes(),
    }


def _unseen_row(row: pd.Series, spaces: set[str], now: pd.Timestamp, run_id: str) -> dict[str, Any]:
    """A registered theme the re-fit did not find: retired if its embedding space was re-fitted."""
    record = _record(row)
    out = {c: row[c] for c in REGISTRY_COLUMNS}
    if space_of(record.get("model_id")) in spaces and row["status"] != "retired":
        record.setdefault("history", []).append(
            {"run_id": run_id, "at": str(now), "event": "retired"}
        )
        out["status"] = "retired"
        out["record"] = json.dumps(record, ensure_ascii=False)
    return out


def anchors(registry: pd.DataFrame) -> dict[str, np.ndarray]:
    """Centres of the themes still in use (not retired), by space (`space_of`)."""
    out: dict[str, list[np.ndarray]] = {}
    for _, row in registry[registry["status"] != "retired"].iterrows():
        out.setdefault(space_of(_record(row).get("model_id")), []).append(_centre(row["centroid"]))
    return {model_id: np.vstack(vectors) for model_id, vectors in out.items()}


def rename_ids(
    frame: pd.DataFrame, mapping: dict[str, str], column: str = "theme_id"
) -> pd.DataFrame:
    """A copy of `frame` with run-local theme ids replaced by permanent ones."""
    out = frame.copy()
    out[column] = out[column].map(lambda t: mapping.get(t, t) if t != UNCLASSIFIED else t)
    return out


def status_of(registry: pd.DataFrame) -> dict[str, str]:
    return dict(zip(registry["theme_id"].astype(str), registry["status"].astype(str), strict=True))


def retention(before: pd.DataFrame, after: pd.DataFrame) -> float:
    """Share of previously themed verbatims that keep their theme id after a re-fit.

    A measurement, not a pipeline step: the id-stability tests and bench/stability.py use it.
    """
    old = before[before["theme_id"] != UNCLASSIFIED][["verbatim_id", "theme_id"]]
    merged = old.merge(after[["verbatim_id", "theme_id"]], on="verbatim_id", suffixes=("", "_new"))
    return float((merged["theme_id"] == merged["theme_id_new"]).mean()) if len(merged) else 1.0
