"""Crash recovery and concurrent runs: SIGKILL a `cx-text` process at each stage, run two at once.

Every killed run is compared with an uninterrupted run in another state dir: after the kill the
store is exactly as before (no row, watermark or run record of the killed run), every output file
is whole, and the next run completes with the same verbatims, assignments, embeddings, registry
and ranked themes as the uninterrupted run, without duplicate rows. The kills land inside the
stage: `tests/crash_child.py` pauses the CLI process at a named point and the test sends SIGKILL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from cx_text import job, models, outputs, theming
from cx_text.settings import Settings, load_settings
from cx_text.store import Store
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder

TABLES = ("verbatims", "quarantine", "embeddings", "label_parses", "assignments", "mentions",
          "themes", "watermarks")  # fmt: skip
KEYS = {"verbatims": ["verbatim_id"], "embeddings": ["model_id", "text_hash"],
        "label_parses": ["parser_id", "sentence_hash"],
        "assignments": ["verbatim_id"], "themes": ["theme_id"], "watermarks": ["source"],
        "mentions": ["verbatim_id", "sentence"], "quarantine": ["original"]}  # fmt: skip
# columns that name the run or the clock, which differ between two otherwise equal runs
VOLATILE = {"run_id", "model_version", "first_seen", "last_seen", "record"}
OUTPUT_FILES = ("assignments.csv", "mentions.csv", "themes.csv", "quarantine.csv")


def _rows(day: pd.Timestamp, suffix: str) -> list[dict[str, object]]:
    rows = []
    for theme, texts in THEME_CORPUS.items():
        for i, text in enumerate(texts):
            score = 9 if theme == "friendly_staff" else 2 + i % 5
            rows.append({"id": f"{theme}-{i}{suffix}", "comment": f"{text}{suffix}",
                         "score": score, "created_at": day + pd.Timedelta(hours=i),
                         "customer_id": f"c{i}"})  # fmt: skip
    return rows


def _inputs(folder: Path) -> tuple[Path, Path]:
    """First night: the four themes. Second: a day later, new phrasings plus noise of each kind."""
    day = (pd.Timestamp.now() - pd.Timedelta(days=10)).normalize()
    first = pd.DataFrame(_rows(day, ""))
    second_day = day + pd.Timedelta(days=1)
    noise = [
        {"id": "empty", "comment": "", "score": 3, "created_at": second_day, "customer_id": "x"},
        {"id": "bad-score", "comment": "courier late", "score": 42, "created_at": second_day,
         "customer_id": "y"},
        {"id": "non-answer", "comment": "n/a", "score": 5, "created_at": second_day,
         "customer_id": "z"},
        {"id": "late-dup", "comment": "courier late again waited hours", "score": 1,
         "created_at": second_day, "customer_id": "c0"},
        {"id": "late-dup-2", "comment": "courier late again waited hours", "score": 1,
         "created_at": second_day, "customer_id": "c0"},
    ]  # fmt: skip
    second = pd.concat([first, pd.DataFrame(_rows(second_day, " again") + noise)])
    paths = folder / "night1.csv", folder / "night2.csv"
    first.to_csv(paths[0], index=False)
    second.to_csv(paths[1], index=False)
    return paths


@dataclass
class Case:
    """One state: its settings (store, models) and its output folder."""

    root: Path

    @property
    def settings(self) -> Settings:
        return load_settings(state_dir=self.root / "state", models_dir=self.root / "models",
                             overrides_file=self.root / "themes.yaml", language="en",
                             themes={"min_cluster_size": 5},
                             embedding={"show_progress": False})  # fmt: skip

    @property
    def out(self) -> Path:
        return self.root / "out"

    def env(self, **extra: str) -> dict[str, str]:
        """The same settings for a CLI subprocess, through the environment."""
        return {**os.environ, "PYTHONPATH": str(ROOT),
                "CX_TEXT_MODELS_DIR": str(self.root / "models"),
                "CX_TEXT_OVERRIDES_FILE": str(self.root / "themes.yaml"),
                "CX_TEXT_THEMES__MIN_CLUSTER_SIZE": "5",
                "CX_TEXT_EMBEDDING__SHOW_PROGRESS": "false", **extra}  # fmt: skip

    def args(self, command: str, path: Path) -> list[str]:
        return [command, str(path), "--out", str(self.out), "--state-dir",
                str(self.root / "state"), "--language", "en", "--quiet"]  # fmt: skip

    def copy_to(self, root: Path) -> Case:
        shutil.copytree(self.root, root, symlinks=True)
        return Case(root)


def snapshot(settings: Settings) -> dict[str, pd.DataFrame]:
    store = Store(settings.store_url_value)
    try:
        tables = {name: store.frame(name) for name in TABLES}
        tables["runs"] = store.runs()
    finally:
        store.close()
    return tables


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    kept = table.drop(columns=[c for c in table.columns if c in VOLATILE])
    return kept.sort_values(list(kept.columns)).reset_index(drop=True)


def assert_no_duplicates(tables: dict[str, pd.DataFrame]) -> None:
    for name, key in KEYS.items():
        assert not tables[name].duplicated(key).any(), f"duplicate rows in {name}"


def assert_same_results(case: Case, reference: Case) -> None:
    got, want = snapshot(case.settings), snapshot(reference.settings)
    assert_no_duplicates(got)
    for name in TABLES:
        pd.testing.assert_frame_equal(comparable(got[name]), comparable(want[name]), obj=name)
    for name in OUTPUT_FILES:
        pd.testing.assert_frame_equal(pd.read_csv(case.out / name),
                                      pd.read_csv(reference.out / name), obj=name)  # fmt: skip
    counts = json.loads((case.out / "run.json").read_text())["counts"]
    assert counts == json.loads((reference.out / "run.json").read_text())["counts"]


def assert_outputs_whole(out: Path) -> None:
    """Every visible output file parses completely (a temporary sibling may be left)."""
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": openpyxl.load_workbook,
               ".json": lambda p: json.loads(p.read_text())}  # fmt: skip
    for path in out.iterdir():
        if path.is_file() and not path.name.startswith("."):
            if path.suffix in readers:
                readers[path.suffix](path)
            assert path.stat().st_size > 0, path


def start_killable(case: Case, command: str, path: Path, point: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", point, *case.args(command, path)],
        cwd=ROOT, env=case.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def kill_at(proc: subprocess.Popen[str], point: str) -> None:
    """Wait until the process pauses at `point`, then SIGKILL it."""
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().strip()
    if line != f"PAUSED {point}":
        proc.kill()
        pytest.fail(f"child did not reach {point}: {line!r}\n{proc.stderr.read()[-3000:]}")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Inputs, a store after night 1 (`cx-text run`), and uninterrupted references."""
    embedder = HashingEmbedder()
    real = theming.make_embedder
    theming.make_embedder = lambda model, settings: embedder  # type: ignore[assignment]
    try:
        root = tmp_path_factory.mktemp("recovery")
        night1, night2 = _inputs(root)
        base = Case(root / "base")
        job.run([str(night1)], base.out, base.settings)
        reference = base.copy_to(root / "reference")
        job.nightly([str(night2)], reference.out, reference.settings)
    finally:
        theming.make_embedder = real
    return {"night1": night1, "night2": night2, "base": base, "reference": reference}


@pytest.fixture()
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)


# `embed` is killed in the lock test below; `read` and `report` lie between points tested fast
NIGHTLY_POINTS = ["clean", "write", "store", pytest.param("read", marks=pytest.mark.slow),
                  pytest.param("report", marks=pytest.mark.slow)]  # fmt: skip


@pytest.mark.parametrize("point", NIGHTLY_POINTS)
def test_nightly_killed_at_each_stage_recovers(world, hashing, tmp_path: Path, point: str) -> None:
    base, reference = world["base"], world["reference"]
    case = base.copy_to(tmp_path / "case")
    before = snapshot(case.settings)
    old_assignments = (case.out / "assignments.csv").read_bytes()
    kill_at(start_killable(case, "nightly", world["night2"], point), point)

    after = snapshot(case.settings)
    for name in (*TABLES, "runs"):  # nothing of the killed run reached the store
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
    assert_outputs_whole(case.out)
    if point == "write":  # killed between writing the temporary file and renaming it
        assert (case.out / "assignments.csv").read_bytes() == old_assignments
        assert (case.out / ".assignments.csv.tmp").exists()

    job.nightly([str(world["night2"])], case.out, case.settings)
    assert_same_results(case, reference)
    assert not list(case.out.glob(".*.tmp"))
    assert len(snapshot(case.settings)["runs"]) == len(before["runs"]) + 1


RUN_POINTS = ["read", "embed", "fit",
              pytest.param("store", marks=pytest.mark.slow)]  # fmt: skip


@pytest.mark.parametrize("point", RUN_POINTS)
def test_run_killed_at_each_stage_recovers(world, hashing, tmp_path: Path, point: str) -> None:
    """A killed first `cx-text run` leaves an empty store and no current model; the re-run
    equals the uninterrupted run."""
    case = Case(tmp_path / "case")
    kill_at(start_killable(case, "run", world["night1"], point), point)
    after = snapshot(case.settings)
    assert all(after[name].empty for name in (*TABLES, "runs"))
    assert not (case.settings.models_dir / "current").exists()

    job.run([str(world["night1"])], case.out, case.settings)
    assert_same_results(case, world["base"])


@pytest.mark.slow
def test_run_killed_after_commit_publishes_its_models_next_time(world, tmp_path: Path) -> None:
    """Killed between the store commit and switching models/current: the next run switches."""
    case = world["base"].copy_to(tmp_path / "case")
    kill_at(start_killable(case, "run", world["night1"], "publish"), "publish")
    committed = json.loads(snapshot(case.settings)["runs"]["record"].iloc[-1])["models_version"]
    assert (case.settings.models_dir / "current").resolve().name != committed
    models.recover_models(case.settings.models_dir, case.settings.store_url_value)
    assert (case.settings.models_dir / "current").resolve().name == committed


def test_models_of_a_committed_run_are_published_by_the_next_run(
    world, hashing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state a kill between commit and publish leaves, made in-process; nightly recovers."""
    case = Case(tmp_path / "case")

    def die(models_dir: Path, version: str) -> None:
        raise KeyboardInterrupt  # stands for the kill: the store has committed, nothing after

    monkeypatch.setattr(models, "publish_models", die)
    with pytest.raises(KeyboardInterrupt):
        job.run([str(world["night1"])], case.out, case.settings)
    monkeypatch.undo()
    monkeypatch.setattr(theming, "make_embedder", lambda m, s: HashingEmbedder())
    assert not (case.settings.models_dir / "current").exists()
    job.nightly([str(world["night2"])], case.out, case.settings)
    assert_same_results(case, world["reference"])


def test_second_run_refuses_or_times_out_and_a_killed_holder_frees_the_lock(
    world, hashing, tmp_path: Path
) -> None:
    """Also the nightly kill during embedding: the store is untouched, the re-run completes."""
    case = world["base"].copy_to(tmp_path / "case")
    before = snapshot(case.settings)
    holder = start_killable(case, "nightly", world["night2"], "embed")
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "PAUSED embed"  # holds the lock, mid-run
    state = re.escape(str((case.root / "state").resolve()))
    busy = rf"cx-text: another cx-text run holds the lock on {state} \(pid {holder.pid} on .+\); "
    refuse, wait_1s = {"CX_TEXT_LOCK__MODE": "refuse"}, {"CX_TEXT_LOCK__TIMEOUT_SECONDS": "1"}
    for extra, how in ((refuse, "refusing to start"), (wait_1s, "gave up after waiting 1 s")):
        second = subprocess.run(
            [sys.executable, "-m", "cx_text.cli", *case.args("nightly", world["night2"])],
            cwd=ROOT, env=case.env(**extra), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        *waiting, last = second.stderr.strip().splitlines()
        assert second.returncode == 75, second.stderr
        assert re.fullmatch(busy + how + r".*", last), last
        assert all("waiting for the run lock" in line for line in waiting)  # a notice, if any
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    after = snapshot(case.settings)
    for name in (*TABLES, "runs"):
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
    # the kernel dropped the dead holder's lock: a waiting run starts at once and completes
    job.nightly([str(world["night2"])], case.out, case.settings)
    assert_same_results(case, world["reference"])


def test_two_runs_started_at_once_both_finish_one_takes_everything(world, tmp_path: Path) -> None:
    case = world["base"].copy_to(tmp_path / "case")
    procs = []
    for name in ("a", "b"):
        args = case.args("nightly", world["night2"])
        args[args.index("--out") + 1] = str(case.root / name)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests.crash_child", "none", *args],
            cwd=ROOT, env=case.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    counts = [json.loads((case.root / n / "run.json").read_text())["counts"] for n in "ab"]
    reference = json.loads((world["reference"].out / "run.json").read_text())["counts"]
    first, second = sorted(counts, key=lambda c: -c["themed"])
    assert first == reference  # one run took the night in ...
    taken = reference["already_seen"] + reference["themed"] + reference["non_answers"]
    assert second["themed"] == 0 and second["already_seen"] == taken  # the other found it stored
    tables = snapshot(case.settings)
    assert_no_duplicates(tables)
    want = snapshot(world["reference"].settings)
    for name in ("verbatims", "assignments", "embeddings", "label_parses", "themes", "watermarks"):
        pd.testing.assert_frame_equal(comparable(tables[name]), comparable(want[name]), obj=name)


def test_a_run_whose_console_reader_is_gone_still_finishes(tmp_path: Path) -> None:
    """`cx-text run ... | head`, or a log collector that died: the pipe is closed before the run
    logs its first line. The run still writes its outputs and exits 0 (before, the first log
    line raised BrokenPipeError: the run failed, or hung on a progress bar's lock)."""
    case = Case(tmp_path / "case")
    night1, _ = _inputs(tmp_path)
    args = [a for a in case.args("run", night1) if a != "--quiet"]  # every stage logs a line
    proc = subprocess.Popen([sys.executable, "-m", "tests.crash_child", "none", *args], cwd=ROOT,
                            env=case.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads the console any more
    assert proc.wait(timeout=300) == 0
    counts = json.loads((case.out / "run.json").read_text())["counts"]
    assert counts["themed"] == sum(len(texts) for texts in THEME_CORPUS.values())
    assert_outputs_whole(case.out)


def test_atomic_write_failing_midway_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "themes.csv"
    outputs.write_csv(pd.DataFrame({"theme_id": ["T001"]}), path)
    old = path.read_bytes()

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("theme_id\nT0")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        outputs._atomic(path, half_then_fail)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["themes.csv"]


def test_models_are_switched_by_one_rename(tmp_path: Path) -> None:
    """models/current is a symlink replaced atomically; older versions are pruned, one kept."""
    folder = tmp_path / "models"
    (folder / "current").mkdir(parents=True)  # a plain folder, as earlier versions saved
    (folder / "current" / "themes.parquet").write_text("legacy")
    for version in ("v1", "v2", "v3"):
        (folder / "versions" / version).mkdir(parents=True)
        (folder / "versions" / version / "themes.parquet").write_text(version)
        models.publish_models(folder, version)
        assert (folder / "current").is_symlink()
        assert (folder / "current" / "themes.parquet").read_text() == version
    assert sorted(p.name for p in (folder / "versions").iterdir()) == ["v2", "v3"]
