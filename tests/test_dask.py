"""Embedding and assignment chunks on a Dask cluster give exactly what the default runner gives.

Fast: the chunk tasks in a small flow, on a LocalCluster the runner starts from `[dask]`
settings. Slow: the nightly flow on tests/test_incremental.py's four weeks (themes fitted on
three, the fourth week's 80 new verbatims embedded and assigned in chunks of 16) on the flow's
thread pool, on an existing 2-worker cluster, and through the CLI. The tiny hashing embedder is
pickled to the workers with each chunk and records which process ran it.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cx_text import job, theming
from cx_text.clean import text_hash
from cx_text.embed import embed_texts
from cx_text.parallel import FanOut, chunk_slices
from cx_text.settings import Settings, load_settings
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder
from tests.test_incremental import WEEKS, _corpus

CHUNK = 16
WORKER_ENV = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
              "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip


class PidEmbedder(HashingEmbedder):
    """The hashing embedder, also leaving a file named after the process of each call."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        (self.folder / str(os.getpid())).touch()
        return super().encode(texts, batch_size, show_progress_bar)


def _pids(folder: Path) -> set[int]:
    return {int(path.name) for path in folder.iterdir()}


def test_chunk_slices_cover_every_row_once() -> None:
    assert chunk_slices(0, 16) == [slice(0, 0)]
    assert chunk_slices(5, None) == [slice(0, 5)]
    parts = chunk_slices(35, 16)
    assert parts == [slice(0, 16), slice(16, 32), slice(32, 35)]
    rows = np.arange(35)
    assert np.array_equal(np.concatenate([rows[p] for p in parts]), rows)


def test_alongside_runs_on_another_thread_here_and_inline_in_the_flows() -> None:
    import threading

    from pipelines.common import TaskFanOut

    def whoami(x: int) -> tuple[int, str]:
        if x < 0:
            raise ValueError("negative")
        return x * 2, threading.current_thread().name

    value, thread = FanOut().alongside(whoami, 21).result()
    assert value == 42 and thread.startswith("cx-text-alongside")
    value, thread = TaskFanOut(10).alongside(whoami, 21).result()
    assert value == 42 and thread == threading.current_thread().name
    for fan_out in (FanOut(), TaskFanOut(10)):
        with pytest.raises(ValueError, match="negative"):
            fan_out.alongside(whoami, -1).result()


def test_one_chunk_runs_in_the_flow_and_more_run_as_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the flow's thread pool a single chunk is a plain call (no task: its bookkeeping costs
    more than a nightly's few texts); two chunks or more are one task each."""
    import pipelines.common as common

    submitted: list[int] = []

    class Recorder:
        def submit(self, chunk: np.ndarray, *shared: object) -> Any:
            submitted.append(len(chunk))
            done: Future[Any] = Future()
            done.set_result(theming.assign_chunk(chunk, *shared))
            return done

    monkeypatch.setitem(common.CHUNK_TASKS, theming.assign_chunk, Recorder())
    rng = np.random.default_rng(0)
    vectors, centres = rng.normal(size=(25, 8)), rng.normal(size=(4, 8))
    whole = theming.assign_chunk(vectors, centres, 0.1)
    one = common.TaskFanOut(30).map_rows("assign-chunk", theming.assign_chunk, vectors, centres,
                                         0.1)  # fmt: skip
    assert submitted == [] and np.array_equal(one[0][0], whole[0])
    three = common.TaskFanOut(10).map_rows("assign-chunk", theming.assign_chunk, vectors,
                                           centres, 0.1)  # fmt: skip
    assert submitted == [10, 10, 5]
    assert np.array_equal(np.concatenate([p[0] for p in three]), whole[0])


def test_assignment_does_not_depend_on_the_chunking() -> None:
    rng = np.random.default_rng(0)
    vectors, centres = rng.normal(size=(50, 8)), rng.normal(size=(4, 8))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    whole = theming.assign_chunk(vectors, centres, 0.1)
    parts = FanOut(7).map_rows("assign-chunk", theming.assign_chunk, vectors, centres, 0.1)
    assert len(parts) == 8
    assert np.array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), whole[1], rtol=1e-6)


def _fitted_state(tmp_path: Path) -> tuple[Path, Path]:
    """A store and saved themes fitted on the first three weeks; the input with all four."""
    corpus = _corpus()
    history, feed = tmp_path / "history.csv", tmp_path / "feedback.csv"
    corpus[~corpus["id"].str.startswith(WEEKS[3])].drop(columns="theme").to_csv(
        history, index=False
    )
    corpus.drop(columns="theme").to_csv(feed, index=False)
    base = tmp_path / "base"
    settings = load_settings(
        state_dir=base / "state", models_dir=base / "models", language="en",
        themes={"min_cluster_size": 5}, embedding={"show_progress": False},
    )  # fmt: skip
    job.run([str(history)], tmp_path / "fit", settings)
    return base, feed


def _copy(base: Path, to: Path, dask: str = "") -> Path:
    """A copy of the fitted state and its config file (chunks of CHUNK texts)."""
    shutil.copytree(base, to)
    config = to / "cx-text.toml"
    config.write_text(
        f'state_dir = "{to / "state"}"\nmodels_dir = "{to / "models"}"\nlanguage = "en"\n'
        "[themes]\nmin_cluster_size = 5\n"
        f"[embedding]\nshow_progress = false\nchunk_size = {CHUNK}\n"
        + (f'[dask]\nenabled = true\naddress = "{dask}"\n' if dask else "")
    )
    return config


def _outputs(out: Path) -> dict[str, Any]:
    record = json.loads((out / "run.json").read_text())
    return {
        "assignments": pd.read_csv(out / "assignments.csv"),
        "mentions": pd.read_csv(out / "mentions.csv"),
        "themes": pd.read_csv(out / "themes.csv"),
        "counts": record["counts"],
        "embeddings": record["embeddings"],
        "top_themes": record["top_themes"],
    }


def _stored_assignments(config: Path) -> pd.DataFrame:
    from cx_text.store import Store

    store = Store(load_settings(config).store_url_value)
    try:
        frame = store.frame("assignments")[["verbatim_id", "theme_id", "confidence"]]
    finally:
        store.close()
    return frame.sort_values("verbatim_id").reset_index(drop=True)


def _chunk_task_runs(flow_run_id: Any) -> dict[str, int]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    names = [run.name.rsplit("-", 1)[0] for run in runs]
    return {name: names.count(name) for name in ("embed-chunk", "assign-chunk")}


def _embed_and_assign(
    texts: list[str], embedder: HashingEmbedder, centres: np.ndarray, settings: Settings,
    fan_out: FanOut,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    hashes = pd.Series([text_hash(t) for t in texts])
    vectors = embed_texts(pd.Series(texts), hashes, embedder, {}, settings.embedding, fan_out)
    parts = fan_out.map_rows("assign-chunk", theming.assign_chunk, vectors.vectors, centres, 0.3)
    labels = np.concatenate([p[0] for p in parts])
    return vectors.vectors, labels, np.concatenate([p[1] for p in parts])


def _chunks_flow() -> Any:
    from prefect import flow

    from pipelines.common import flow_timer

    @flow(name="cx-text-chunks", validate_parameters=False)
    def chunks(texts: list[str], embedder: HashingEmbedder, centres: np.ndarray,
               settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        with flow_timer(settings) as timer:
            return _embed_and_assign(texts, embedder, centres, settings, timer.fan_out)

    return chunks


@pytest.fixture()
def worker_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Dask worker processes (spawned, they inherit the environment) must see."""
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


@pytest.mark.slow
def test_nightly_flow_on_dask_matches_the_default_runner_and_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_env: None
) -> None:
    from distributed import Client, LocalCluster
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.nightly import nightly_flow

    # created here, pickled to the workers with each chunk (make_embedder is patched only here)
    pids = tmp_path / "pids"
    pids.mkdir()
    embedder = PidEmbedder(pids)
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    base, feed = _fitted_state(tmp_path)
    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    with prefect_test_harness(server_startup_timeout=timeout):
        # the workers report their task runs to the same server
        monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        default_config = _copy(base, tmp_path / "default")
        default = nightly_flow(inputs=[str(feed)], out_dir=str(tmp_path / "out-default"),
                               config=str(default_config), return_state=True)  # fmt: skip
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            dask_config = _copy(base, tmp_path / "dask", dask=cluster.scheduler_address)
            on_dask = nightly_flow(inputs=[str(feed)], out_dir=str(tmp_path / "out-dask"),
                                   config=str(dask_config), return_state=True)  # fmt: skip
            workers = set(client.run(os.getpid).values())
        default_tasks = _chunk_task_runs(default.state_details.flow_run_id)
        dask_tasks = _chunk_task_runs(on_dask.state_details.flow_run_id)
    assert default.is_completed() and on_dask.is_completed()
    cli_config = _copy(base, tmp_path / "cli")
    job.nightly([str(feed)], tmp_path / "out-cli", load_settings(cli_config))

    # 80 new one-sentence texts in chunks of 16: 5 embedding tasks and 5 assignment tasks
    assert default_tasks == dask_tasks == {"embed-chunk": 5, "assign-chunk": 5}
    assert workers & _pids(pids)  # the nightly flow on Dask embedded on the workers
    expected, got = _outputs(tmp_path / "out-default"), _outputs(tmp_path / "out-dask")
    assert expected["counts"]["themed"] == 80 and expected["embeddings"]["new"] == 80
    for name in ("assignments", "mentions", "themes"):
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True)
    for name in ("counts", "top_themes"):
        assert got[name] == expected[name]
    # embedding counts equal; the seconds spent differ (Dask workers load the model first)
    assert {**got["embeddings"], "seconds": 0} == {**expected["embeddings"], "seconds": 0}
    pd.testing.assert_frame_equal(
        _stored_assignments(dask_config), _stored_assignments(default_config), check_exact=True
    )
    # the CLI embeds and assigns in one call: same themes, confidences equal to float rounding
    cli = _outputs(tmp_path / "out-cli")
    for name in ("assignments", "mentions", "themes"):
        pd.testing.assert_frame_equal(cli[name], expected[name], rtol=1e-6)


def test_chunk_tasks_on_a_dask_local_cluster_match_the_default_runner(
    tmp_path: Path, worker_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    texts = [text for block in THEME_CORPUS.values() for text in block]
    truth = np.repeat(np.arange(len(THEME_CORPUS)), [len(b) for b in THEME_CORPUS.values()])
    folders = {name: tmp_path / name for name in ("inline", "threads", "dask")}
    for folder in folders.values():
        folder.mkdir()
    vectors = HashingEmbedder().encode(texts)
    centres = np.vstack([vectors[truth == k].mean(axis=0) for k in range(len(THEME_CORPUS))])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    threads = load_settings(embedding={"chunk_size": CHUNK, "show_progress": False})
    on_dask = threads.model_copy(update={"dask": threads.dask.model_copy(
        update={"enabled": True, "n_workers": 2, "threads_per_worker": 1})})  # fmt: skip
    inline = _embed_and_assign(texts, PidEmbedder(folders["inline"]), centres, threads, FanOut())
    flow = _chunks_flow()
    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    with prefect_test_harness(server_startup_timeout=timeout):
        monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        results = {
            name: flow(texts, PidEmbedder(folders[name]), centres, settings)
            for name, settings in (("threads", threads), ("dask", on_dask))
        }

    assert (inline[1] == truth).mean() >= 0.9  # the known themes are found
    for vectors_, labels, sims in results.values():
        assert np.array_equal(vectors_, inline[0])
        assert np.array_equal(labels, inline[1])
        np.testing.assert_allclose(sims, inline[2], rtol=1e-6)
    assert np.array_equal(results["dask"][2], results["threads"][2])  # chunks alike: bit for bit
    # 64 texts in chunks of 16: 4 embedding calls, here and in the thread pool; on the workers
    assert _pids(folders["inline"]) == _pids(folders["threads"]) == {os.getpid()}
    assert _pids(folders["dask"]) and os.getpid() not in _pids(folders["dask"])


def test_one_blas_thread_limits_blas_inside_the_block_only() -> None:
    from threadpoolctl import threadpool_info

    from cx_text.parallel import one_blas_thread

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):  # whatever the environment set
        before = blas_threads()
        assert before == [2] * len(before) and before  # numpy's BLAS is loaded
        with one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
