"""The collection: list, read, upload and delete documents in the live index.

An upload is parsed and cleaned before anything is written; `index.collection` then changes the
collection folder and the index as one transaction, so a rejected or interrupted upload changes
neither.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from index import loaders
from index.collection import put_document, remove_document
from index.manifest import DocumentEntry
from ragqa.errors import (
    DocumentNotFound,
    DocumentTooLarge,
    InvalidRequest,
    UnsupportedDocumentType,
    excerpt,
)
from service import document_view
from service.answering import Answerer
from service.deps import AnswererDep, State, WriteAccess
from service.schemas import (
    DocumentDetail,
    DocumentInfo,
    DocumentList,
    DocumentText,
    ErrorResponse,
    UpdateResponse,
)

router = APIRouter(tags=["documents"])

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


MAX_NAME_BYTES = 255  # the longest file name Linux file systems store


def _encoded_length(name: str) -> int | None:
    """Bytes of `name` in UTF-8, or None when it cannot be a file name at all."""
    try:
        return len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def safe_doc_id(name: str) -> str:
    """An upload's file name as a document id: a plain name inside the collection folder."""
    size = _encoded_length(name)
    if not name or _UNSAFE_NAME.search(name) or name.startswith(".") or size is None:
        raise InvalidRequest(
            f"file name {excerpt(name)!r} is not allowed: use a plain name without path "
            "separators, control characters or a leading dot"
        )
    if size > MAX_NAME_BYTES:
        raise InvalidRequest(f"file name is {size} bytes in UTF-8; the limit is {MAX_NAME_BYTES}")
    if not name.lower().endswith(loaders.SUPPORTED_SUFFIXES):
        raise UnsupportedDocumentType(
            excerpt(name), f"unsupported file type; supported types: {loaders.SUPPORTED_TYPES}"
        )
    return name


def _info(entry: DocumentEntry) -> DocumentInfo:
    return DocumentInfo(
        doc_id=entry.doc_id,
        title=entry.title,
        date=entry.date,
        source=entry.source,
        url=entry.url or None,
        language=entry.language,
        n_chunks=entry.n_chunks,
        content_hash=entry.content_hash,
    )


@router.get("/v1/documents", response_model=DocumentList)
def list_documents(answerer: AnswererDep) -> DocumentList:
    """Every document in the index, by id."""
    documents = answerer.snapshot.documents
    return DocumentList(documents=[_info(documents[d]) for d in sorted(documents)])


@router.get(
    "/v1/documents/{doc_id:path}/view",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The page.", "content": {"text/html": {}}},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
def view_document(
    doc_id: str,
    answerer: AnswererDep,
    start: Annotated[
        int | None, Query(description="Where the highlighted span starts (characters).")
    ] = None,
    end: Annotated[
        int | None, Query(description="Where the highlighted span ends (exclusive).")
    ] = None,
) -> HTMLResponse:
    """The document as a page with [start, end) of its cleaned text highlighted and scrolled
    to (by the `#cited` fragment): what every passage's and citation's `url` opens."""
    snapshot = answerer.snapshot
    entry = snapshot.documents.get(doc_id)
    if entry is None:
        raise DocumentNotFound(doc_id)
    text = snapshot.document_text(doc_id)
    span = document_view.check_span(start, end, len(text))
    return HTMLResponse(document_view.render(entry, text, span))


@router.get(
    "/v1/documents/{doc_id:path}",
    response_model=DocumentDetail,
    responses={404: {"model": ErrorResponse}},
)
def get_document(doc_id: str, answerer: AnswererDep) -> DocumentDetail:
    """One document with its cleaned text, which citation offsets point into."""
    snapshot = answerer.snapshot
    entry = snapshot.documents.get(doc_id)
    if entry is None:
        raise DocumentNotFound(doc_id)
    return DocumentDetail(**_info(entry).model_dump(), text=snapshot.document_text(doc_id))


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    """(doc_id, bytes) from a multipart `file` field or a JSON `{doc_id, text}` body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("multipart upload needs one file in the field 'file'")
        data = await upload.read(limit + 1)
        name = upload.filename or ""
    elif content_type.startswith("application/json"):
        try:
            body = DocumentText.model_validate_json(await request.body())
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in e.errors()
            )
            raise InvalidRequest(f"invalid JSON document: {problems}") from e
        name = body.doc_id if "." in body.doc_id else f"{body.doc_id}.txt"
        text = f"{body.title}\n\n{body.text}" if body.title else body.text
        data = text.encode("utf-8")
    else:
        raise InvalidRequest(
            'send a file as multipart/form-data (field \'file\') or JSON {"doc_id", "text"}'
        )
    doc_id = safe_doc_id(name)
    if len(data) > limit:
        raise DocumentTooLarge(doc_id, f"over the upload limit of {limit} bytes")
    return doc_id, data


def _store(answerer: Answerer, collection: Path, doc_id: str, data: bytes) -> UpdateResponse:
    """Add or replace the document in the collection folder and the index, as one transaction."""
    report = put_document(answerer.store, answerer.embedder, collection, doc_id, data)
    return UpdateResponse(
        added=[*report.added, *report.replaced],
        removed=[],
        unchanged=list(report.unchanged),
        chunks=report.chunks_added,
    )


@router.post(
    "/v1/documents",
    response_model=UpdateResponse,
    status_code=201,
    dependencies=[WriteAccess],
    responses={c: {"model": ErrorResponse} for c in (403, 413, 415, 422)},
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "application/json": {"schema": DocumentText.model_json_schema()},
            }
        }
    },
)
async def upload_document(request: Request, state: State, answerer: AnswererDep) -> UpdateResponse:
    """Add or replace a document (file upload or JSON text); needs the API key."""
    doc_id, data = await _read_upload(request, state.settings.max_upload_bytes)
    return await anyio.to_thread.run_sync(
        _store, answerer, state.settings.collection_dir, doc_id, data
    )


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=UpdateResponse,
    dependencies=[WriteAccess],
    responses={c: {"model": ErrorResponse} for c in (403, 404)},
)
def delete_document(doc_id: str, answerer: AnswererDep, state: State) -> UpdateResponse:
    """Remove a document from the index and the collection folder; needs the API key."""
    report = remove_document(answerer.store, state.settings.collection_dir, doc_id)
    return UpdateResponse(added=[], removed=list(report.removed), unchanged=[], chunks=0)
