"""Domain errors. They carry no HTTP knowledge: the service maps them to HTTP at the edge."""

from __future__ import annotations


class RagqaError(Exception):
    """Base of every error ragqa raises on purpose."""


class ConfigError(RagqaError):
    """A setting names something that does not exist or does not fit."""


class ModelError(RagqaError):
    """A model is missing, corrupt, or of a kind ragqa cannot load."""


class ChecksumError(ModelError):
    """An assembled or cached file does not have the expected SHA-256."""


class DocumentError(RagqaError):
    """A document cannot be read: unsupported type, undecodable, empty, too large."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedDocumentType(DocumentError):
    """The file's content is of a type ragqa does not load."""


class DocumentTooLarge(DocumentError):
    """The file is over the configured size limit."""


class DocumentNotFound(RagqaError):
    """No document with that id is in the index."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no document with id {excerpt(doc_id)!r}")
        self.doc_id = doc_id


class IndexStoreError(RagqaError):
    """The index on disk is missing, corrupt, or was built with other settings."""


class StoreUnavailable(IndexStoreError):
    """A shared store (Milvus) did not answer; the request fails, the service stays up."""

    retry_after_s = 5


class IndexMismatch(IndexStoreError):
    """The index manifest disagrees with the configured models or chunking."""


class Busy(RagqaError):
    """Every generation slot and queue place is taken; retry later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"server busy, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class GenerationTimeout(RagqaError):
    """Generation went past the per-request time limit."""


class GenerationFailed(RagqaError):
    """The generator back end raised while producing an answer."""


class EngineUnavailable(GenerationFailed):
    """The generation engine is down, restarting or unreachable; retry after a while."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(RagqaError):
    """A client sent more requests than its per-minute allowance."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class QuestionTooLong(RagqaError):
    """A question is over the configured length."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"question is {length} characters; the limit is {limit}")


class Unauthorized(RagqaError):
    """A write was attempted without the right API key (or with writes closed)."""


class NotReady(RagqaError):
    """The models or the index are not loaded (yet, or any more)."""


class InvalidRequest(RagqaError):
    """A request that is well-formed but breaks a configured limit or rule."""


def excerpt(value: str, limit: int = 80) -> str:
    """`value` cut to `limit` characters for an error message, so errors do not echo big input."""
    return value if len(value) <= limit else value[:limit] + "…"


class RemoteServerError(RagqaError):
    """A ragqa server asked over HTTP (`ragqa ask --url`) could not be reached or failed."""
