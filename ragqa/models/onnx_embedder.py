"""A sentence-transformers model run on ONNX Runtime: the same vectors, without PyTorch's overhead.

A search embeds one short query, where PyTorch's per-operator dispatch costs more than the
arithmetic: the bench measures both back ends. The transformer is exported once from the
sentence-transformers folder (this needs torch), checked against sentence-transformers' own
vectors on sample texts, and cached by the folder's file signature. At run time only
onnxruntime and tokenizers are loaded, so the service starts without importing torch.

Only what can be reproduced exactly is exported: a Transformer, then mean or CLS pooling over
every token (prompt included), then optional normalisation. Anything else is refused with the
back end that does support it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from ragqa.errors import ModelError

EXPORT_FORMAT = 1
POOLING_MODES = ("mean", "cls")
# Texts the export is checked on: several scripts and lengths, padded together in one batch.
CHECK_TEXTS = (
    "2025年核医学年会在哪里举办？",
    "  會議的主辦單位是誰？ ",
    "What was announced at the molecular imaging conference, and by whom?",
    "x",
)
MIN_CHECK_COSINE = 0.9999


def source_signature(folder: Path) -> str:
    """Changes whenever a file of the model folder does (path, size, modification time).

    Hidden files are left out: they are bookkeeping (ragqa's own verification stamp is
    rewritten when the weights are re-verified), not the model.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def export_dir(cache_dir: Path, model_path: str) -> Path:
    """Where the export of the model folder at `model_path` is cached."""
    key = hashlib.sha256(str(Path(model_path).resolve()).encode()).hexdigest()[:16]
    return cache_dir / "onnx" / key


def _read_meta(directory: Path) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta


def ensure_onnx_export(model_path: str, cache_dir: Path) -> Path:
    """The cached export of the folder at `model_path`, made (and checked) when missing or stale."""
    folder = Path(model_path)
    if not folder.is_dir():
        raise ModelError(
            f"{model_path}: the onnx embedder back end needs a local sentence-transformers "
            "folder; valid back ends for a Hugging Face id: torch, auto"
        )
    target = export_dir(cache_dir, model_path)
    signature = source_signature(folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # One exporter at a time (several workers may start together); the others find it.
        with FileLock(str(target.with_name(f"{target.name}.lock"))):
            if not _is_current(target, signature):
                _export(folder, target, signature)
    except OSError as e:
        raise ModelError(
            f"{target}: cannot write the embedder's ONNX export ({e}); make the model cache "
            "writable or set RAGQA_EMBEDDER_BACKEND=torch"
        ) from e
    return target


def _is_current(target: Path, signature: str) -> bool:
    meta = _read_meta(target)
    return (
        meta is not None
        and meta.get("format") == EXPORT_FORMAT
        and meta.get("signature") == signature
        and (target / "model.onnx").is_file()
    )


def _pooling_of(model: Any, folder: Path) -> str:
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if len(modules) < 2 or not isinstance(modules[0], Transformer):
        raise ModelError(
            f"{folder}: onnx export needs Transformer, Pooling[, Normalize]; got {kinds}"
        )
    pooling = modules[1]
    config = pooling.get_config_dict() if isinstance(pooling, Pooling) else {}
    mode = config.get("pooling_mode")
    if mode not in POOLING_MODES or not config.get("include_prompt", True):
        raise ModelError(
            f"{folder}: onnx export supports pooling {', '.join(POOLING_MODES)} over every token; "
            f"this model has {kinds} with {config}; set RAGQA_EMBEDDER_BACKEND=torch"
        )
    if any(name != "Normalize" for name in kinds[2:]):
        raise ModelError(
            f"{folder}: onnx export cannot reproduce modules {kinds[2:]}; "
            "set RAGQA_EMBEDDER_BACKEND=torch"
        )
    return str(mode)


def _export(folder: Path, target: Path, signature: str) -> None:
    """Export the transformer to ONNX beside its tokenizer, check it, then swap it in."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    pooling = _pooling_of(model, folder)
    transformer: Any = model[0].auto_model

    class Graph(torch.nn.Module):
        """Token ids and mask in, last hidden state out: the part ONNX Runtime runs."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
            hidden: torch.Tensor = out.last_hidden_state
            return hidden

    tokenizer = model.tokenizer
    # A padded pair: traced with an all-ones mask, transformers drops the mask from the graph.
    sample = tokenizer(["query: x", "query: x y z w"], padding=True, return_tensors="pt")
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        # The tracer warns about every data-dependent branch it freezes; the check below is
        # what tells whether the graph is right.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _trace(
                Graph().eval(),  # eval() reaches the transformer: no dropout in the graph
                (sample["input_ids"], sample["attention_mask"]),
                work / "model.onnx",
                folder,
            )
        tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        prompts = model.prompts
        meta = {
            "format": EXPORT_FORMAT,
            "signature": signature,
            "source": str(folder),
            "dimension": model.get_embedding_dimension() or 0,
            "pooling": pooling,
            "max_seq_length": model.max_seq_length or tokenizer.model_max_length,
            "pad_id": int(tokenizer.pad_token_id or 0),
            "pad_token": str(tokenizer.pad_token or ""),
            "query_prompt": prompts.get("query", ""),
            "document_prompt": next(
                (prompts[n] for n in ("document", "passage", "corpus") if n in prompts), ""
            ),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        _check(folder, model, OnnxEmbedder(str(folder), work))
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _trace(graph: Any, sample: tuple[Any, Any], path: Path, folder: Path) -> None:
    import torch

    axes = {0: "batch", 1: "tokens"}
    try:
        torch.onnx.export(
            graph,
            sample,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter handles this graph without onnxscript
        )
    except Exception as e:  # any model's own code runs under the tracer
        raise ModelError(
            f"{folder}: the ONNX export failed ({type(e).__name__}: {e}); "
            "set RAGQA_EMBEDDER_BACKEND=torch"
        ) from e


def _check(folder: Path, model: Any, exported: OnnxEmbedder) -> None:
    texts = list(CHECK_TEXTS)
    for name, theirs, ours in (
        ("query", model.encode_query(texts), exported.embed_queries(texts)),
        ("document", model.encode_document(texts), exported.embed_documents(texts)),
    ):
        theirs = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
        worst = float(np.min(np.sum(theirs * ours, axis=1)))
        if worst < MIN_CHECK_COSINE:
            raise ModelError(
                f"{folder}: the onnx export's {name} vectors differ from sentence-transformers' "
                f"(cosine {worst:.5f} < {MIN_CHECK_COSINE}); set RAGQA_EMBEDDER_BACKEND=torch"
            )


class OnnxEmbedder:
    """Embeds with an export made by `ensure_onnx_export`; thread-safe, like the session."""

    def __init__(self, model_path: str, export: Path, *, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = _read_meta(export)
        if meta is None or meta.get("format") != EXPORT_FORMAT:
            raise ModelError(f"{export}: not an onnx export of format {EXPORT_FORMAT}")
        self.model_id = model_path
        self.dimension = int(meta["dimension"])
        self.batch_size = batch_size
        self._pooling = str(meta["pooling"])
        self._query_prompt = str(meta["query_prompt"])
        self._document_prompt = str(meta["document_prompt"])
        self._tokenizer_file = export / "tokenizer.json"
        self._batcher = Tokenizer.from_file(str(self._tokenizer_file))
        self._batcher.enable_truncation(int(meta["max_seq_length"]))
        self._batcher.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        # Workers spin between operators (a query embeds faster than without spinning) but
        # stop when a run ends, so that they do not take the cores from the prefill that
        # follows a query's embedding.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        self.session = ort.InferenceSession(
            str(export / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # As sentence-transformers does: the prompt prepended, the longest texts first.
        prompted = [prompt + text for text in texts]
        order = sorted(range(len(prompted)), key=lambda i: -len(prompted[i]))
        out = np.empty((len(prompted), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encodings = self._batcher.encode_batch([prompted[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            if self._pooling == "cls":
                pooled = hidden[:, 0]
            else:
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._document_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    @cached_property
    def _counter(self) -> Any:
        """An untruncated copy of the tokenizer, for chunk sizing only: loaded at the first
        count (an index build), not at every start, which does not need it."""
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(self._tokenizer_file))
        counter.no_padding()
        counter.no_truncation()
        return counter

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)
