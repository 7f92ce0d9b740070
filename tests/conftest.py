"""Shared fixtures: a tiny deterministic embedder and small corpora with known themes."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the real polarity encoder (e5) embeds about 20 texts/s on two cores: runs in tests (CLI
# subprocesses too) leave polarity off; tests/test_run_polarity.py turns it on with a tiny encoder
os.environ.setdefault("CX_TEXT_POLARITY__ENABLED", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


class HashingEmbedder:
    """Bag-of-lemmas hashed into 256 dimensions: fast, deterministic, topical enough for tests."""

    model_id = "test:hashing-256"

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        from cx_text.lemmas import LemmaTokenizer

        self._vectorizer = HashingVectorizer(
            n_features=256, alternate_sign=False, norm="l2", tokenizer=LemmaTokenizer(),
            token_pattern=None, lowercase=False,
        )  # fmt: skip
        self.calls = 0

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        self.calls += 1
        return self._vectorizer.transform(texts).toarray().astype(np.float32)


# Four themes, 16 phrasings each; the theme is the index of the block.
THEME_CORPUS: dict[str, list[str]] = {
    "late_delivery": [
        f"{a} {b}"
        for a in ("courier late again", "parcel delivery late", "late delivery courier",
                  "delivery arrived late")
        for b in ("waited hours", "two days late", "late evening", "still waiting courier")
    ],
    "app_crash": [
        f"{a} {b}"
        for a in ("app crashes checkout", "mobile app crash", "app freezes crashes",
                  "app keeps crashing")
        for b in ("after update", "every payment", "login screen crash", "phone app broken")
    ],
    "refund": [
        f"{a} {b}"
        for a in ("refund money not returned", "still no refund", "refund takes weeks",
                  "money back refund")
        for b in ("returned item", "bank refund", "refund request ignored", "waiting refund money")
    ],
    "friendly_staff": [
        f"{a} {b}"
        for a in ("friendly polite staff", "staff very friendly", "polite helpful staff",
                  "friendly courier smile")
        for b in ("thank you", "lovely people", "kind staff", "very polite friendly")
    ],
}  # fmt: skip


@pytest.fixture()
def passes_asked(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The `threads` each `embed.run_batches` call is given, in call order (the calls run)."""
    from cx_text import embed

    asked: list[int | None] = []
    run = embed.run_batches

    def recorded(forward: Any, batches: Any, threads: int | None, *rest: Any) -> Any:
        asked.append(threads)
        return run(forward, batches, threads, *rest)

    monkeypatch.setattr(embed, "run_batches", recorded)
    return asked


@pytest.fixture(scope="session")
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def theme_corpus() -> tuple[list[str], np.ndarray]:
    docs, truth = [], []
    for number, texts in enumerate(THEME_CORPUS.values()):
        docs.extend(texts)
        truth.extend([number] * len(texts))
    return docs, np.array(truth)


def needs_shared_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data not present")


_EXIT: dict[str, int] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT["status"] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process right after pytest's summary.

    DuckDB 2.0's nanobind binding prints dozens of "leaked" lines during interpreter teardown,
    which would bury the summary line; the exit status is unchanged.
    """
    if "status" in _EXIT:
        _stop_children()  # os._exit skips atexit: Prefect's ephemeral API servers would outlive us
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])


def _stop_children(timeout: float = 10.0) -> None:
    """Terminate (then kill) the processes this test run started and left running."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


@pytest.fixture()
def prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private PREFECT_HOME and no API URL: each flow test runs on its own ephemeral API."""
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return home


@pytest.fixture()
def hashing_week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    """The hashing embedder in place of the model, one week of feedback (64 rows, four themes)
    in tmp_path/week.csv, and settings with a store and models under tmp_path."""
    from cx_text import theming
    from cx_text.settings import load_settings
    from tests.test_flows import _write_week

    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    data = tmp_path / "week.csv"
    _write_week(data)
    settings = load_settings(
        state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
        themes={"min_cluster_size": 5}, embedding={"show_progress": False},
    )  # fmt: skip
    return settings, data
