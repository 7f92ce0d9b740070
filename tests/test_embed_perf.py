"""int8 quantisation of the embedding model and the compute-limit arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from cx_text import compute, embed
from cx_text.settings import EmbeddingSettings

SENTENCES = [
    "The courier was two days late and nobody called.",
    "My card payment was declined at the shop.",
    "I want a refund for the broken headphones.",
    "Friendly staff, quick answer in the chat.",
    "The app crashes every time I open my orders.",
    "How do I change my PIN?",
    "Why was I charged a fee for a transfer?",
    "Доставка опоздала на три дня.",
]


def test_int8_has_its_own_model_id_so_caches_never_mix() -> None:
    # MiniLM alone (e5_weight 0); joined with e5, each part keeps its own id (test_embed_joint)
    fp32 = embed.make_embedder("all-MiniLM-L6-v2", EmbeddingSettings(e5_weight=0))
    int8 = embed.make_embedder("all-MiniLM-L6-v2", EmbeddingSettings(quantize="int8", e5_weight=0))
    assert fp32.model_id == "st:all-MiniLM-L6-v2"
    assert int8.model_id == "st:all-MiniLM-L6-v2+int8"
    with pytest.raises(ValueError):
        embed.SentenceTransformerEmbedder(quantize="int4")


def test_int8_vectors_stay_close_to_fp32() -> None:
    fp32 = embed.SentenceTransformerEmbedder(torch_threads=2).encode(SENTENCES)
    int8 = embed.SentenceTransformerEmbedder(torch_threads=2, quantize="int8").encode(SENTENCES)
    cosine = np.sum(fp32 * int8, axis=1)  # both unit length
    # measured on these sentences: mean 0.975, lowest 0.953 (the Russian one); banking77
    # train: mean 0.977, lowest 0.942
    assert cosine.min() > 0.95
    assert cosine.mean() > 0.97


def test_encoder_flops_formula() -> None:
    shape = compute.EncoderShape(linear_params=1000, layers=2, hidden=8)
    # one text of 3 tokens: 3 * 2 * 1000 linear + 4 * 2 * 8 * 3 * 3 attention
    assert compute.encoder_flops(shape, [3]) == 6000 + 576
    assert compute.encoder_flops(shape, [3, 3]) == 2 * (6000 + 576)


def test_padded_tokens_counts_each_batch_at_its_longest_text() -> None:
    counts = [2, 9, 1, 8]
    assert compute.padded_tokens(counts, [np.array([1, 3]), np.array([0, 2])]) == 9 * 2 + 2 * 2
    assert compute.padded_tokens([5, 5, 5], [np.array([0, 1, 2])]) == 15


def test_char_sorted_batches_are_what_sentence_transformers_forms() -> None:
    batches = compute.char_sorted_batches(["a", "ccc", "bb", "dddd"], batch_size=2)
    assert [b.tolist() for b in batches] == [[3, 1], [2, 0]]


def test_token_batches_respect_both_budgets_and_cover_every_text_once() -> None:
    counts = np.array([10, 3, 3, 50, 3, 10, 3, 3, 2000])
    batches = embed.token_batches(counts, batch_tokens=30, max_texts=4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(counts)))
    assert batches[0].tolist() == [8]  # longer than the budget: alone
    for rows in batches:
        assert len(rows) <= 4
        assert len(rows) == 1 or counts[rows].max() * len(rows) <= 30
    # sorted by token count: padding only where a batch spans two lengths (10, 10, 3)
    assert [b.tolist() for b in batches] == [[8], [3], [0, 5, 1], [2, 4, 6, 7]]
    assert compute.padded_tokens(counts, batches) == counts.sum() + 7


def test_token_batched_vectors_equal_one_plain_sentence_transformers_call() -> None:
    embedder = embed.SentenceTransformerEmbedder(torch_threads=2, bf16="off")
    ours = embedder.encode(SENTENCES, batch_size=3, batch_tokens=40)
    plain = embedder._load().encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == plain.shape == (len(SENTENCES), 384)
    assert np.allclose(ours, plain, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_compute_share() -> None:
    assert compute.compute_share(50.0, 1.0, 100.0) == 0.5
    assert compute.compute_share(50.0, 0.0, 100.0) == 0.0


def test_matmul_flops_is_positive_and_restores_threads() -> None:
    import torch

    before = torch.get_num_threads()
    assert compute.matmul_flops(threads=1, size=128, repeats=2) > 1e6
    assert torch.get_num_threads() == before


def test_batch_tokens_setting_reaches_the_embedder() -> None:
    settings = EmbeddingSettings(batch_tokens=4096, e5_weight=0)
    assert embed.make_embedder("all-MiniLM-L6-v2", settings).batch_tokens == 4096
    alone = EmbeddingSettings(e5_weight=0)
    assert embed.make_embedder("all-MiniLM-L6-v2", alone).batch_tokens == 1024


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"),
    [(True, True, "amx"), (False, True, "avx512_bf16"), (False, False, "")],
)
def test_cpu_has_bf16_reads_torchs_probes(
    monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool, expected: str
) -> None:
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    embed.cpu_has_bf16.cache_clear()
    try:
        assert embed.cpu_has_bf16() == expected
        assert embed.use_bf16("auto") is bool(expected)
    finally:
        embed.cpu_has_bf16.cache_clear()


def test_bf16_setting_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed, "cpu_has_bf16", lambda: "")
    assert not embed.use_bf16("auto") and embed.use_bf16("on") and not embed.use_bf16("off")
    monkeypatch.setattr(embed, "cpu_has_bf16", lambda: "avx512_bf16")
    assert embed.use_bf16("auto") and not embed.use_bf16("off")
    assert embed.compute_note("off") == {"bf16": False, "bf16_setting": "off",
                                         "cpu_bf16": "avx512_bf16"}  # fmt: skip
    assert embed.compute_note("auto")["bf16"]
    assert not embed.use_bf16("on", "cuda:0")  # other devices keep their own precision
    with pytest.raises(ValueError):
        embed.SentenceTransformerEmbedder(bf16="yes")
    embedder = embed.make_embedder("all-MiniLM-L6-v2", EmbeddingSettings(bf16="off", e5_weight=0))
    assert embedder.bf16 == "off"
    assert embedder.model_id == "st:all-MiniLM-L6-v2"  # same id: cached fp32 vectors stay valid


def test_bf16_vectors_stay_within_float_noise_of_fp32() -> None:
    fp32 = embed.SentenceTransformerEmbedder(torch_threads=2, bf16="off").encode(SENTENCES)
    bf16 = embed.SentenceTransformerEmbedder(torch_threads=2, bf16="on").encode(SENTENCES)
    cosine = np.sum(fp32 * bf16, axis=1)
    # bench/encoders.py: lowest 0.9999 on 1,200 EN / RU texts (int8: 0.95 on these sentences)
    assert cosine.min() > 0.999
    assert not np.allclose(fp32, bf16, atol=1e-6)  # bf16 really ran


def test_a_small_call_is_split_so_every_thread_gets_a_pass() -> None:
    counts = np.array([10, 10, 10, 10, 9, 9])  # 58 tokens: one batch under a 4,096 budget
    assert len(embed.token_batches(counts, 4096, 128)) == 1
    split = embed.token_batches(counts, 4096, 128, at_least=2)
    assert [b.tolist() for b in split] == [[0, 1], [2, 3], [4, 5]]  # 29 tokens each at most
    assert len(embed.token_batches(counts[:1], 4096, 128, at_least=2)) == 1  # one text: one pass
    # enough tokens for `at_least` full batches: the budget stays
    assert len(embed.token_batches(np.full(40, 100), 1024, 128, at_least=2)) == 4


def test_passes_run_side_by_side_on_one_torch_thread_each_in_batch_order() -> None:
    import threading

    import torch

    torch.set_num_threads(2)
    seen: list[tuple[str, int]] = []
    started = threading.Barrier(2, timeout=10)  # both passes must be running at once

    def forward(rows: np.ndarray) -> list[int]:
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        if len(seen) <= 2:
            started.wait()
        return [int(r) * 10 for r in rows]

    batches = [np.array([3, 4]), np.array([0]), np.array([1, 2]), np.array([5])]
    out = embed.run_batches(forward, batches, threads=2)
    assert out == [[30, 40], [0], [10, 20], [50]]
    assert {n for _, n in seen} == {1}  # one torch thread per pass
    assert len({name for name, _ in seen}) == 2
    assert torch.get_num_threads() == 2  # the caller's count is back
    # fewer batches than threads: one pass, on the caller's thread and its torch threads
    here = embed.run_batches(lambda r: (threading.current_thread().name, torch.get_num_threads()),
                             batches[:1], threads=2)  # fmt: skip
    assert here == [(threading.current_thread().name, 2)]


def test_parallel_passes_give_the_vectors_of_one_pass_at_a_time(
    passes_asked: list[int | None],
) -> None:
    texts = SENTENCES * 6  # enough tokens for several batches
    serial = embed.SentenceTransformerEmbedder(torch_threads=2, parallel_passes=False)
    parallel = embed.SentenceTransformerEmbedder(torch_threads=2)
    a = serial.encode(texts, batch_tokens=64)
    b = parallel.encode(texts, batch_tokens=64)
    assert passes_asked == [1, 2]  # one pass at a time, then two side by side
    # the same batches; only the threads inside a matrix product differ (bf16 on AMX)
    assert np.sum(a * b, axis=1).min() > 0.9999
    assert a.shape == b.shape == (len(texts), 384)


def test_many_threads_run_at_most_max_passes_each_on_its_share() -> None:
    import threading

    import torch

    torch.set_num_threads(2)
    seen: list[tuple[str, int]] = []
    started = threading.Barrier(4, timeout=10)  # four passes must be running at once

    def forward(rows: np.ndarray) -> int:
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        if len(seen) <= 4:
            started.wait()
        return int(rows[0])

    batches = [np.array([i]) for i in range(12)]
    assert embed.run_batches(forward, batches, threads=8) == list(range(12))
    assert embed.passes(8) == embed.MAX_PASSES == 4
    names = {name for name, _ in seen}
    assert len(names) == 4  # memory: at most 4 batches in flight
    assert threading.current_thread().name not in names
    assert {n for _, n in seen} == {2}  # 8 threads shared by 4 passes
    assert torch.get_num_threads() == 2
    # a small call is split into as many batches as passes run, not one per thread
    assert len(embed.token_batches(np.full(16, 10), 4096, 128, embed.passes(8))) == 4
