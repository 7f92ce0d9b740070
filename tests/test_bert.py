"""cx_text.bert: BERT in plain torch gives transformers' vectors without importing it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cx_text import bert
from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder, resolve_model

# English, Russian, empty, whitespace-only, over-long (truncated at 256 tokens), U+FFFD, emoji
TEXTS = [
    "Refund never arrived, still waiting for a call back.",
    "Курьер опоздал на два часа, деньги за возврат не пришли.",
    "",
    "   ",
    "  leading and trailing spaces  ",
    "word " * 400,
    "\ufffd broken export \ufffd",
    "great app 😀 café naïve",
    "a",
]


def test_forward_pass_equals_transformers_bert_model() -> None:
    """Random weights loaded into both: same last hidden states, with padding and with
    inputs_embeds (how e5 feeds its dequantised word vectors)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    shape = bert.BertShape(vocab=50, hidden=32, layers=2, heads=4, ffn=64, max_positions=40)
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    reference = transformers.BertModel(config, add_pooling_layer=False).eval()
    ours = bert.load_state(bert.build(shape), reference.state_dict())
    ids = torch.randint(1, 50, (3, 11))
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 7:] = 0  # a padded row
    mask[2, 2:] = 0
    with torch.inference_mode():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(mask, input_ids=ids)
        embeds = reference.embeddings.word_embeddings(ids)
        got_embeds = ours(mask, inputs_embeds=embeds)
    keep = mask.bool()
    assert torch.allclose(got[keep], expected[keep], atol=1e-5)
    assert torch.allclose(got_embeds[keep], expected[keep], atol=1e-5)


def test_missing_weights_are_an_error() -> None:
    pytest.importorskip("torch")
    model = bert.build(bert.BertShape(vocab=5, hidden=8, layers=1, heads=2, ffn=16,
                                      max_positions=8))  # fmt: skip
    state = dict(model.state_dict())
    state.pop("encoder.layer.0.output.dense.weight")
    with pytest.raises(ValueError, match=r"output\.dense\.weight"):
        bert.load_state(model, state)


def test_bundled_model_gives_sentence_transformers_vectors_and_token_counts() -> None:
    st = pytest.importorskip("sentence_transformers")
    path = resolve_model(DEFAULT_MODEL)
    ours = bert.load_sentence_bert(path)
    assert ours is not None and ours.max_seq_length == 256
    reference = st.SentenceTransformer(path, device="cpu")
    expected = reference.encode(TEXTS, batch_size=4, normalize_embeddings=True)
    got = ours.encode(TEXTS, batch_size=4)  # the model's Normalize module: unit length
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    ids = reference.tokenizer(TEXTS, truncation=True, max_length=256)["input_ids"]
    assert ours.token_counts(TEXTS).tolist() == [len(i) for i in ids]
    # the ids `token_counts` kept are what the next encode uses, in any order and batching
    shuffled = TEXTS[::-1]
    got = ours.encode(shuffled, batch_size=3)
    assert np.abs(got - expected[::-1]).max() < 1e-5


def _copy_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(resolve_model(DEFAULT_MODEL), folder)
    return folder


@pytest.mark.parametrize(
    "change",
    [
        (
            "1_Pooling/config.json",
            {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True},
        ),
        ("config.json", {"model_type": "roberta"}),
        ("sentence_bert_config.json", {"do_lower_case": True}),
    ],
)
def test_other_model_shapes_are_left_to_sentence_transformers(
    tmp_path: Path, change: tuple[str, dict]
) -> None:
    folder = _copy_model(tmp_path)
    name, update = change
    config = json.loads((folder / name).read_text())
    (folder / name).write_text(json.dumps({**config, **update}))
    assert bert.load_sentence_bert(folder) is None


def test_hub_names_and_missing_files_are_left_to_sentence_transformers(tmp_path: Path) -> None:
    assert bert.load_sentence_bert("sentence-transformers/all-mpnet-base-v2") is None
    folder = _copy_model(tmp_path)
    (folder / "tokenizer.json").unlink()
    assert bert.load_sentence_bert(folder) is None


def test_embedding_pii_and_bertopic_never_import_transformers() -> None:
    """A run's encoders (MiniLM, e5), Presidio's recognisers and BERTopic, in a fresh process:
    neither transformers nor sentence-transformers is imported (about 6 s saved per run), and
    transformers still imports afterwards for whoever needs it."""
    code = (
        "import sys\n"
        "from cx_text import themes\n"
        "themes._import_bertopic()\n"
        "from bertopic import BERTopic\n"
        "from bertopic.representation import TextGeneration\n"
        "assert type(TextGeneration).__name__ == 'NotInstalled'  # the unused optional part\n"
        "from cx_text import pii\n"
        "from cx_text.embed import SentenceTransformerEmbedder\n"
        "assert pii.mask_text('call me on +44 20 7946 0958') == 'call me on [PHONE]'\n"
        "v = SentenceTransformerEmbedder().encode(['refund never arrived'])\n"
        "assert v.shape == (1, 384)\n"
        "from cx_text.embed import e5_available\n"
        "if e5_available():\n"
        "    from cx_text.e5 import E5Embedder\n"
        "    assert E5Embedder('fp32', 'query').encode(['деньги не пришли']).shape == (1, 384)\n"
        "print(sorted(m for m in ('transformers', 'sentence_transformers') if m in sys.modules))\n"
        "import transformers\n"
        "print(transformers.BertConfig.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-2:] == ["[]", "BertConfig"]


def test_loading_the_english_spacy_pipeline_never_imports_transformers() -> None:
    """spaCy loads every installed factory's entry point with a pipeline, Presidio's Hugging
    Face component among them; in a process that has not imported Presidio yet (a nightly
    whose new rows hold no personal data) that imported transformers (about 3 s)."""
    code = (
        "import sys\n"
        "from cx_text import labels\n"
        "nlp = labels.english_pipeline()\n"
        "print('no pipeline' if nlp is None else [t.pos_ for t in nlp('The app keeps crashing')])\n"
        "print(sorted(m for m in ('transformers', 'presidio_analyzer') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    parsed, imported = out.stdout.strip().splitlines()[-2:]
    if parsed == "no pipeline":
        pytest.skip("the English spaCy pipeline is not installed")
    assert parsed == "['DET', 'NOUN', 'VERB', 'VERB']"
    assert imported == "['presidio_analyzer']"  # its factory module loaded, transformers not


def test_embedder_uses_the_native_model_for_the_bundled_one_only() -> None:
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, torch_threads=2)
    assert isinstance(embedder._load(), bert.SentenceBert)
    assert embedder.max_seq_length == 256
    vectors = embedder.encode(TEXTS, batch_tokens=256)
    assert vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
