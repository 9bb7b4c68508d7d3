"""Preparing documents for an update: chunks set aside when empty, a streamed build's batches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.documents import Document
from index.manifest import ManifestExpectation
from index.prepare import BatchPreparer, NoProgress, passage_text, prepare_indexable
from index.vector_cache import VectorCache
from ragqa.errors import IndexStoreError


def _preparer(
    tmp_path: Path, embedder, expectation: ManifestExpectation, made: list[VectorCache]
) -> BatchPreparer:
    dimension = expectation.embedder.dimension

    def make_cache() -> VectorCache:
        made.append(VectorCache(tmp_path / "cache.db", embedder="fake", dimension=dimension))
        return made[-1]

    return BatchPreparer(
        embedder,
        expectation.chunking,
        dimension=dimension,
        batch_size=4,
        progress=NoProgress(),
        make_cache=make_cache,
        where=tmp_path,
    )


def test_a_document_with_no_text_is_a_failure_not_a_prepared_document(
    make_doc: Callable[..., Document], fake_embedder, expectation: ManifestExpectation
) -> None:
    docs = [make_doc("a.txt", "核医学年会在成都举行。"), make_doc("blank.txt", "   ")]
    prepared, failures = prepare_indexable(docs, fake_embedder, expectation.chunking, NoProgress())
    assert [item.doc.doc_id for item in prepared] == ["a.txt"]
    assert prepared[0].chunks
    assert [(f.path, f.reason) for f in failures] == [("blank.txt", "no text to index")]


def test_batches_are_embedded_in_chunk_order_and_a_repeat_in_a_later_batch_is_refused(
    tmp_path: Path,
    sample_docs: list[Document],
    fake_embedder,
    expectation: ManifestExpectation,
) -> None:
    made: list[VectorCache] = []
    preparer = _preparer(tmp_path, fake_embedder, expectation, made)
    first, vectors = preparer.prepare(sample_docs[:2])
    texts = [passage_text(chunk) for item in first for chunk in item.chunks]
    assert vectors.shape == (len(texts), expectation.embedder.dimension)
    assert np.allclose(vectors, np.asarray(fake_embedder.embed_documents(texts)))
    again, vectors = preparer.prepare([sample_docs[0]])
    assert again == [] and vectors.shape == (0, expectation.embedder.dimension)
    assert [(f.path, f.reason) for f in preparer.failures] == [
        (sample_docs[0].doc_id, "given twice")
    ]
    assert preparer.indexed == {doc.doc_id for doc in sample_docs[:2]}
    assert len(made) == 1 and len(made[0]) == len(texts)  # each vector committed to the cache


def test_the_cache_is_made_only_when_vectors_are_needed(
    tmp_path: Path, fake_embedder, expectation: ManifestExpectation
) -> None:
    made: list[VectorCache] = []
    preparer = _preparer(tmp_path, fake_embedder, expectation, made)
    prepared, vectors = preparer.prepare([])
    assert prepared == [] and vectors.shape == (0, expectation.embedder.dimension)
    assert made == [] and preparer.cache is None


def test_documents_without_an_embedder_name_the_folder(
    tmp_path: Path, sample_docs: list[Document], expectation: ManifestExpectation
) -> None:
    preparer = _preparer(tmp_path, None, expectation, [])
    with pytest.raises(IndexStoreError, match=str(tmp_path)):
        preparer.prepare(sample_docs[:1])
