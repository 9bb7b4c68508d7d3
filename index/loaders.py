"""Reading documents (files of the collection, or uploaded bytes) into cleaned `Document`s.

The type is decided by the bytes first (PDF magic, a zip holding ``word/document.xml``, HTML
markup) and by the file name second, so a mislabelled file is either read as what it really is or
refused with the list of supported types. Every limit is checked before the expensive parse: a
document bomb fails with a `DocumentError` naming the file, it does not exhaust the machine.

Formats are registered by kind (`register_format`: suffixes, reader, and for a binary format a
content sniff), and the list of supported suffixes is derived from that registry.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from index import clean
from index.decoding import decode_text
from index.documents import Document, DocumentMeta
from index.textnorm import detect_text_language
from ragqa.errors import ConfigError, DocumentError, DocumentTooLarge, UnsupportedDocumentType

Reader = Callable[[bytes, str], tuple[str, DocumentMeta]]
"""(file bytes, name for errors) -> uncleaned text and the metadata the format itself declares."""


@dataclass(frozen=True)
class DocumentFormat:
    """A format ragqa reads: its kind, the file suffixes that name it, and its reader.

    `sniff` recognises a binary format by its content, which then wins over the file name (and a
    file named with its suffix but without that content is refused). A format without it is
    text-like: chosen by suffix, and its bytes must not look binary.
    """

    kind: str
    suffixes: tuple[str, ...]
    read: Reader
    sniff: Callable[[bytes], bool] | None = None


# The registry: formats by kind (content sniffs are tried in registration order) and by suffix.
FORMATS: dict[str, DocumentFormat] = {}
KIND_BY_SUFFIX: dict[str, str] = {}
# The one list of suffixes (loaders, uploads, error messages), rebuilt at every registration, so
# read it as `loaders.SUPPORTED_SUFFIXES` at the time of use rather than importing the value.
SUPPORTED_SUFFIXES: tuple[str, ...] = ()
SUPPORTED_TYPES = ""


def _refresh_supported() -> None:
    global SUPPORTED_SUFFIXES, SUPPORTED_TYPES
    SUPPORTED_SUFFIXES = tuple(sorted(KIND_BY_SUFFIX))
    SUPPORTED_TYPES = ", ".join(SUPPORTED_SUFFIXES)


def register_format(
    kind: str,
    suffixes: Iterable[str],
    read: Reader,
    *,
    sniff: Callable[[bytes], bool] | None = None,
) -> DocumentFormat:
    """Add a format: files with these suffixes (or, with `sniff`, this content) go to `read`.

    A kind or suffix that is already registered is refused: one suffix, one reader.
    """
    names = tuple(suffix.lower() for suffix in suffixes)
    if not names or any(not suffix.startswith(".") or len(suffix) < 2 for suffix in names):
        raise ValueError(f"format {kind!r}: suffixes must look like '.ext', got {names}")
    if kind in FORMATS:
        raise ValueError(f"format {kind!r} is already registered")
    taken = [suffix for suffix in names if suffix in KIND_BY_SUFFIX]
    if taken:
        raise ValueError(f"format {kind!r}: suffixes {taken} are already registered")
    document_format = DocumentFormat(kind, names, read, sniff)
    FORMATS[kind] = document_format
    KIND_BY_SUFFIX.update(dict.fromkeys(names, kind))
    _refresh_supported()
    return document_format


def unregister_format(kind: str) -> None:
    """Remove a format and its suffixes (for tests and for a deployment that refuses one)."""
    document_format = FORMATS.pop(kind)
    for suffix in document_format.suffixes:
        del KIND_BY_SUFFIX[suffix]
    _refresh_supported()


# Limits on what a small file may expand into (a 10 MiB upload can hold gigabytes compressed).
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_ZIP_ENTRIES = 2000
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 20_000_000

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_DOCX_BODY = "word/document.xml"
_HTML_DOCUMENT = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_HTML_DROPPED = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"
_HTML_BLOCKS = (
    "p, div, br, li, ul, ol, dl, dt, dd, h1, h2, h3, h4, h5, h6, tr, table, section, article, "
    "main, blockquote, pre, figure, figcaption, hr, address, caption"
)
_BLOCK_BREAK = "\ue000"  # private-use marker: survives whitespace folding, becomes a line break
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+", re.M)


def _unsupported(name: str, what: str) -> UnsupportedDocumentType:
    return UnsupportedDocumentType(name, f"{what}; supported types: {SUPPORTED_TYPES}")


def _sniff_format(data: bytes, filename: str, name: str) -> DocumentFormat:
    """The format of `data`: by its content first, its `filename` second (errors say `name`)."""
    suffix = PurePosixPath(filename).suffix.lower()
    kind = KIND_BY_SUFFIX.get(suffix)
    named = FORMATS[kind] if kind is not None else None
    for candidate in FORMATS.values():
        if candidate.sniff is not None and candidate.sniff(data):
            return candidate
    if data.startswith(_ZIP_MAGIC):
        raise _unsupported(name, f"zip archive without {_DOCX_BODY}, so not a .docx")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _unsupported(name, "binary content of an unknown type")
    if named is not None and named.sniff is not None:
        raise _unsupported(name, f"named {suffix} but the content is not a {suffix} file")
    if named is None and suffix:
        raise _unsupported(name, f"unsupported file type {suffix!r}")
    if (named is not None and named.kind == "html") or _HTML_DOCUMENT.match(data[:4096]):
        return FORMATS["html"]
    return named or FORMATS["text"]


def _zip_has(data: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return member in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _html_text_and_meta(html: str) -> tuple[str, DocumentMeta]:
    """Visible text of a page (one block element per line) and the metadata its head declares."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)

    def meta_content(*selectors: str) -> str:
        for selector in selectors:
            node = tree.css_first(selector)
            value = node.attributes.get("content") if node is not None else None
            if value and value.strip():
                return value.strip()
        return ""

    heading = tree.css_first("h1")
    page_title = tree.css_first("title")
    title = (
        meta_content('meta[property="og:title"]', 'meta[name="twitter:title"]')
        or (heading.text(strip=True) if heading is not None else "")
        or (page_title.text(strip=True) if page_title is not None else "")
    )
    time_node = tree.css_first("time[datetime]")
    date = clean.parse_date(
        meta_content(
            'meta[property="article:published_time"]',
            'meta[name="pubdate"]',
            'meta[name="publishdate"]',
            'meta[name="date"]',
            'meta[name="DC.date"]',
            'meta[name="citation_publication_date"]',
        )
        or (time_node.attributes.get("datetime") or "" if time_node is not None else "")
    )
    canonical = tree.css_first('link[rel="canonical"]')
    url = meta_content('meta[property="og:url"]') or (
        (canonical.attributes.get("href") or "") if canonical is not None else ""
    )

    for node in tree.css(_HTML_DROPPED):
        node.decompose()
    for node in tree.css(_HTML_BLOCKS):
        node.insert_before(_BLOCK_BREAK)
        node.insert_after(_BLOCK_BREAK)
    root = tree.body or tree.root
    raw = root.text(deep=True, separator="", strip=False) if root is not None else ""
    # Source line breaks are just spaces in HTML; each run of block edges is one line break.
    text = re.sub(r"\s+", " ", raw)
    text = re.sub(rf" ?{_BLOCK_BREAK}[ {_BLOCK_BREAK}]*", "\n", text)
    return text, DocumentMeta(title=title, date=date, url=url)


def _check_zip_expansion(data: bytes, name: str) -> None:
    """Refuse a .docx whose parts would expand past `MAX_EXPANDED_BYTES` (a zip bomb)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise DocumentError(name, f"docx has {len(entries)} parts, over {MAX_ZIP_ENTRIES}")
        body = archive.getinfo(_DOCX_BODY).file_size
        total = sum(entry.file_size for entry in entries)
        if body > MAX_EXPANDED_BYTES or total > MAX_EXPANDED_BYTES:
            raise DocumentError(
                name,
                f"docx expands to {max(body, total)} bytes, over the limit of {MAX_EXPANDED_BYTES}"
                " (zip bomb?)",
            )


def _docx_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    """Paragraphs and table rows of a .docx in document order, and its core-properties title."""
    import docx
    from docx.table import Table

    _check_zip_expansion(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises bare KeyError/ValueError on broken packages
        raise DocumentError(name, f"unreadable .docx: {error}") from error
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(" ".join(cell.text for cell in row.cells) for row in block.rows)
        else:
            lines.append(block.text)
    title = (document.core_properties.title or "").strip()
    return "\n".join(lines), DocumentMeta(title=title)


def _pdf_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    """Text of every page of a PDF, with pypdf's decompression limits and a page/size budget."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(name, "encrypted PDF: a password is needed to read it")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentError(name, f"PDF has {len(reader.pages)} pages, over {MAX_PDF_PAGES}")
        pages: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text)
            if size > MAX_TEXT_CHARS:
                raise DocumentError(name, f"PDF text is over {MAX_TEXT_CHARS} characters")
            pages.append(text)
        title = ((reader.metadata.title if reader.metadata is not None else None) or "").strip()
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as error:
        raise DocumentError(name, f"unreadable PDF: {type(error).__name__}: {error}") from error
    return "\n\n".join(pages), DocumentMeta(title=title)


def _is_pdf(data: bytes) -> bool:
    return _PDF_MAGIC in data[:1024]


def _is_docx(data: bytes) -> bool:
    return data.startswith(_ZIP_MAGIC) and _zip_has(data, _DOCX_BODY)


def _plain_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    return decode_text(data, name), DocumentMeta()


def _markdown_text(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    return _MARKDOWN_HEADING.sub("", decode_text(data, name)), DocumentMeta()


def _html_document(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    return _html_text_and_meta(decode_text(data, name))


# The formats ragqa reads. A new one is a reader in its own module under index/ (a text format
# decodes with `index.decoding.decode_text`) and one `register_format` line here.
register_format("text", (".txt", ".text"), _plain_text)
register_format("markdown", (".md", ".markdown"), _markdown_text)
register_format("html", (".html", ".htm"), _html_document)
register_format("pdf", (".pdf",), _pdf_text, sniff=_is_pdf)
register_format("docx", (".docx",), _docx_text, sniff=_is_docx)


def _merge_meta(declared: DocumentMeta, found: DocumentMeta) -> DocumentMeta:
    """Metadata the format declares wins over what was read off the text."""
    return DocumentMeta(
        title=declared.title or found.title,
        date=declared.date or found.date,
        source=declared.source or found.source,
        url=declared.url or found.url,
    )


def load_bytes(
    data: bytes, *, doc_id: str, filename: str, max_bytes: int | None = None
) -> Document:
    """A cleaned `Document` from the bytes of a file (an upload, or a file read from disk)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentTooLarge(doc_id, f"{len(data)} bytes, over the limit of {max_bytes}")
    raw, declared = _sniff_format(data, filename, doc_id).read(data, doc_id)
    text = clean.clean_text(raw)
    if not text:
        raise DocumentError(doc_id, "empty")
    meta = _merge_meta(declared, clean.extract_metadata(raw, filename=filename))
    if declared.title and declared.title not in text[: len(declared.title) + 200]:
        text = f"{declared.title}\n\n{text}"  # the title is searchable like the body
    return Document(
        doc_id=doc_id,
        text=text,
        meta=meta,
        content_hash=hashlib.sha256(data).hexdigest(),
        language=detect_text_language(text),
    )


def load_document(path: Path, *, doc_id: str, max_bytes: int) -> Document:
    """A cleaned `Document` from a file, refused before reading when it is over `max_bytes`."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentTooLarge(doc_id, f"{size} bytes, over the limit of {max_bytes}")
        data = path.read_bytes()
    except OSError as error:
        raise DocumentError(doc_id, f"cannot read: {error.strerror or error}") from error
    return load_bytes(data, doc_id=doc_id, filename=path.name, max_bytes=max_bytes)


def iter_collection(root: Path) -> Iterator[tuple[str, Path]]:
    """(doc id, path) of each non-hidden file under `root`, sorted; ids are relative POSIX paths."""
    if not root.is_dir():
        raise ConfigError(f"collection folder {root} does not exist or is not a folder")
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append((relative.as_posix(), path))
    yield from sorted(found)


def load_collection(root: Path, max_bytes: int) -> tuple[list[Document], list[DocumentError]]:
    """Every loadable document under `root`, and an error (path and reason) per file that is not."""
    documents: list[Document] = []
    errors: list[DocumentError] = []
    for doc_id, path in iter_collection(root):
        try:
            documents.append(load_document(path, doc_id=doc_id, max_bytes=max_bytes))
        except DocumentError as error:
            errors.append(error)
    return documents, errors
