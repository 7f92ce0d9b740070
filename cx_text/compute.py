"""How close the embedding stage comes to this machine's compute limit.

The limit is the fp32 matmul throughput torch reaches here with the same thread count
(`matmul_flops`). The work is counted for a BERT-like encoder (`encoder_flops`): per token,
each Linear layer of the encoder costs 2 x its weights (one multiply and one add per weight),
and self-attention costs 2 x 2 x layers x seq x hidden (scores Q.K^T and the weighted sum of V,
each `seq x hidden` multiply-adds per token and layer, `seq` = length of the text). Embeddings
look-ups, layer norms, softmax and pooling are left out (a few % of the total for MiniLM).
Only real tokens count: padding is waste, so the share also shows how well batching avoids it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def matmul_flops(
    threads: int | None = None, size: int = 1024, repeats: int = 5, dtype: str = "float32"
) -> float:
    """Best measured FLOP/s of `size` x `size` matrix products (2 n^3 FLOPs each) in `dtype`
    ("float32", or "bfloat16": what autocast runs on a CPU with AMX tiles)."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        kind = getattr(torch, dtype)
        a, b = torch.randn(size, size, dtype=kind), torch.randn(size, size, dtype=kind)
        torch.matmul(a, b)  # warm-up
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(4):
                torch.matmul(a, b)
            best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start))
        return best
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class EncoderShape:
    """What the FLOP count needs from a transformer encoder."""

    linear_params: int  # weights of every nn.Linear inside the encoder layers
    layers: int
    hidden: int


def encoder_shape(model: Any) -> EncoderShape:
    """Shape of a loaded sentence model: a `cx_text.bert.SentenceBert`, or a
    sentence-transformers model (its first module is the HF transformer)."""
    if hasattr(model, "bert"):
        return transformer_shape(model.bert)
    return transformer_shape(model[0].auto_model)


def transformer_shape(auto: Any) -> EncoderShape:
    """Shape of an encoder: `cx_text.bert`'s BERT, or a Hugging Face one (`BertModel` and the
    like); fp32 Linear layers."""
    import torch

    linear = sum(m.weight.numel() for m in auto.encoder.modules() if isinstance(m, torch.nn.Linear))
    if hasattr(auto, "config"):
        layers, hidden = auto.config.num_hidden_layers, auto.config.hidden_size
    else:
        layers, hidden = auto.shape.layers, auto.shape.hidden
    return EncoderShape(int(linear), int(layers), int(hidden))


def encoder_flops(shape: EncoderShape, token_counts: Sequence[int] | np.ndarray) -> float:
    """FLOPs to encode texts of the given token counts (each text attends to itself only)."""
    n = np.asarray(token_counts, dtype=np.float64)
    per_text = n * 2 * shape.linear_params + 4 * shape.layers * shape.hidden * n * n
    return float(per_text.sum())


def padded_tokens(token_counts: Sequence[int] | np.ndarray, batches: Sequence[np.ndarray]) -> int:
    """Tokens a forward pass processes for `batches` (row positions; each padded to its longest)."""
    counts = np.asarray(token_counts)
    return int(sum(int(counts[b].max()) * len(b) for b in batches if len(b)))


def char_sorted_batches(texts: Sequence[str], batch_size: int) -> list[np.ndarray]:
    """The batches `SentenceTransformer.encode` forms: longest texts (in characters) first."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def compute_share(flops: float, seconds: float, flops_per_second: float) -> float:
    """Useful FLOPs done per second as a share of the measured limit."""
    return flops / (seconds * flops_per_second) if seconds > 0 and flops_per_second > 0 else 0.0
