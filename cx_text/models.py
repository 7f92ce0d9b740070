"""Saved theme models: versions under models_dir/versions/<run_id>, published by one rename.

A re-fit saves its models under `versions/<run_id>` before the store commits; only after the
commit does `current` (a symlink) move to them, so a run killed at any point leaves `current` on
a complete model set that matches the store. `recover_models` finishes a publish a kill stopped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cx_text import outputs
from cx_text.schemas import THEMES
from cx_text.store import Store
from cx_text.theme_tables import Discovery, SavedThemes
from cx_text.themes import ThemeModel

log = logging.getLogger("cx_text")
VERSIONS = "versions"
CURRENT = "current"
POLARITY_HEAD = "polarity_head.json"


def save_models(
    found: Discovery, folder: Path, polarity_head: dict[str, Any] | None = None
) -> None:
    """Save each language group's theme model and the topic -> theme id map under `folder`,
    and the polarity head the run fitted (`PolarityModel.state()`), which nightlies apply."""
    for group, model in found.models.items():
        model.save(folder / group)
        outputs.write_json(found.topic_ids[group], folder / group / "theme_ids.json")
    outputs.write_json(found.model_ids, folder / "embedding_models.json")
    links = [[*source, *target] for source, target in found.links.items()]
    outputs.write_json({"model_id": found.link_model_id, "topics": links}, folder / "links.json")
    outputs.write_parquet(found.themes, folder / "themes.parquet")
    if polarity_head is not None:
        outputs.write_json(polarity_head, folder / POLARITY_HEAD)


def staged_folder(models_dir: Path, version: str) -> Path:
    return models_dir / VERSIONS / version


def load_models(folder: Path) -> SavedThemes | None:
    """The theme set saved by the last re-fit, or None when there is none yet."""
    index = folder / "embedding_models.json"
    if not index.exists():
        return None
    model_ids = json.loads(index.read_text())
    return SavedThemes(
        models={g: ThemeModel.load(folder / g) for g in model_ids},
        topic_ids={g: json.loads((folder / g / "theme_ids.json").read_text()) for g in model_ids},
        model_ids=model_ids,
        themes=THEMES.conform(_with_language_columns(pd.read_parquet(folder / "themes.parquet"))),
        link_model_id=_link_model_id(folder),
        polarity_head=_polarity_head(folder),
    )


def _polarity_head(folder: Path) -> dict[str, Any] | None:
    path = folder / POLARITY_HEAD
    return dict(json.loads(path.read_text())) if path.exists() else None


def space_centres(folder: Path) -> dict[str, np.ndarray]:
    """The fitted centre of each saved group's embedding space, by embedding model id (groups
    whose embedder has none are left out): a re-fit in the same space keeps it."""
    index = folder / "embedding_models.json"
    if not index.exists():
        return {}
    centres = {}
    for group, model_id in json.loads(index.read_text()).items():
        centre = ThemeModel.load(folder / group).space_centre_
        if centre is not None:
            centres[model_id] = centre
    return centres


def _link_model_id(folder: Path) -> str:
    """The encoder that linked the saved themes across languages ("": none, or saved before)."""
    path = folder / "links.json"
    return str(json.loads(path.read_text())["model_id"]) if path.exists() else ""


def _with_language_columns(themes: pd.DataFrame) -> pd.DataFrame:
    """Themes saved before themes had per-language columns: every theme in its one language."""
    if "n_en" in themes.columns:
        return themes
    english = themes["language"].ne("ru")
    return themes.assign(n_en=themes["size"].where(english, 0),
                         n_ru=themes["size"].where(~english, 0),
                         label_en=themes["label"].where(english, ""),
                         label_ru=themes["label"].where(~english, ""))  # fmt: skip


def publish_models(models_dir: Path, version: str) -> None:
    """Point models_dir/current at versions/<version> in one atomic rename of a symlink.

    Older versions are pruned, keeping the previous one; a `current` that is a plain folder
    (saved by an earlier cx-text) is moved under versions/ first.
    """
    current = models_dir / CURRENT
    previous = current.resolve().name if current.is_symlink() else None
    if current.is_dir() and not current.is_symlink():
        previous = f"legacy-{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}"
        current.rename(models_dir / VERSIONS / previous)
    for stale in models_dir.glob(f".{CURRENT}.*.tmp"):  # left by a process killed right here
        stale.unlink()
    link = models_dir / f".{CURRENT}.{os.getpid()}.tmp"
    link.symlink_to(Path(VERSIONS) / version, target_is_directory=True)
    os.replace(link, current)
    for folder in (models_dir / VERSIONS).iterdir():
        if folder.name not in {version, previous}:
            shutil.rmtree(folder, ignore_errors=True)


def recover_models(models_dir: Path, store_url: str) -> None:
    """Publish the models of the last committed re-fit when a kill stopped it from doing so."""
    versions_dir = models_dir / VERSIONS
    if not versions_dir.is_dir():
        return
    store = Store(store_url)
    try:
        runs = store.runs()
    finally:
        store.close()
    committed = [json.loads(r).get("models_version") for r in runs["record"]]
    latest = next((v for v in reversed(committed) if v), None)
    current = models_dir / CURRENT
    if latest and (versions_dir / latest).is_dir() and current.resolve().name != latest:
        log.warning("publishing models of committed run %s (its process died before)", latest)
        publish_models(models_dir, latest)
