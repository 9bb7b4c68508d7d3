"""Loaders: the bundled collection, encodings, HTML/PDF/DOCX made at run time, hostile files."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from index.loaders import (
    MAX_EXPANDED_BYTES,
    SUPPORTED_TYPES,
    decode_text,
    iter_collection,
    load_bytes,
    load_collection,
    load_document,
)
from ragqa.errors import ConfigError, DocumentError, DocumentTooLarge, UnsupportedDocumentType

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
MiB = 1024 * 1024

SIMPLIFIED = (
    "由西安交通大学主办的第十三届医工协同科技创新学术年会于1月13日在西安召开。"
    "会议以线上线下结合的方式举行，与会专家围绕医工交叉的热点问题展开对话。"
)
TRADITIONAL = (
    "專家學者共聚成都，研討醫工結合新浪潮。四川省腫瘤醫院黨委書記表示，"
    "醫院探索面向腫瘤的醫工交叉合作，以解決臨床腫瘤醫學前沿問題。"
)


# --- the bundled collection --------------------------------------------------------------------


def test_bundled_collection_loads_completely() -> None:
    documents, errors = load_collection(CORPUS, max_bytes=10 * MiB)
    assert errors == []
    files = sorted(p.name for p in CORPUS.iterdir() if p.is_file())
    assert [d.doc_id for d in documents] == files
    for document in documents:
        raw = (CORPUS / document.doc_id).read_bytes()
        assert document.content_hash == hashlib.sha256(raw).hexdigest()
        assert document.text and document.text == document.text.strip()
    languages = {d.doc_id[:3]: d.language for d in documents}
    assert languages == {"000": "zh", "001": "zh", "002": "zh", "003": "zh", "004": "en"}


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (SIMPLIFIED, "gbk"),
        (SIMPLIFIED, "gb18030"),
        (SIMPLIFIED[:12], "gbk"),
        (TRADITIONAL, "gbk"),
        (TRADITIONAL, "big5"),
        (TRADITIONAL[:9], "big5"),
        ("會議在臺北召開", "big5"),
        (SIMPLIFIED, "utf-8"),
        (SIMPLIFIED, "utf-8-sig"),
        (TRADITIONAL, "utf-16"),
    ],
)
def test_chinese_encodings_round_trip(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "a.txt") == text


def test_loaded_gbk_file_is_cleaned_text(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes(SIMPLIFIED.encode("gbk"))
    document = load_document(path, doc_id="gbk.txt", max_bytes=MiB)
    assert document.text == SIMPLIFIED
    assert document.language == "zh"


# --- HTML --------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head>
  <title>Page title | Site</title>
  <meta property="og:title" content="Conference on Molecular Imaging">
  <meta property="article:published_time" content="2023-12-22T17:05:00+08:00">
  <link rel="canonical" href="https://example.org/news/1">
  <style>p { color: red }</style>
  <script>var tracking = "secret";</script>
</head><body>
  <header><a href="/">Home</a> <a href="/news">News</a></header>
  <nav><ul><li>Index</li><li>News</li></ul></nav>
  <h1>Conference on Molecular Imaging</h1>
  <p>The conference was held
     in <b>Taiyuan</b>.   More than 200 experts attended.</p>
  <div>Prof. Li gave<br>the opening speech.</div>
  <footer>Copyright 2023 all rights reserved</footer>
</body></html>"""


def test_html_is_visible_text_with_block_structure() -> None:
    document = load_bytes(PAGE.encode(), doc_id="news.html", filename="news.html")
    assert document.text == (
        "Conference on Molecular Imaging\n"
        "The conference was held in Taiyuan. More than 200 experts attended.\n"
        "Prof. Li gave\nthe opening speech."
    )
    assert document.meta.title == "Conference on Molecular Imaging"
    assert document.meta.date == "2023-12-22"
    assert document.meta.url == "https://example.org/news/1"
    assert document.language == "en"


def test_html_is_sniffed_by_content_under_a_text_name() -> None:
    document = load_bytes(PAGE.encode(), doc_id="news.txt", filename="news.txt")
    assert "tracking" not in document.text and "<p>" not in document.text


def test_html_title_and_time_element_without_head_metadata() -> None:
    page = "<html><head><title>只有標題</title></head><body><p>正文第一段。</p>"
    page += '<p>發佈於<time datetime="2024-06-25">6月25日</time>。</p></body></html>'
    document = load_bytes(page.encode("big5"), doc_id="p.htm", filename="p.htm")
    assert document.meta.title == "只有標題"
    assert document.meta.date == "2024-06-25"
    assert document.text.startswith("只有標題\n\n正文第一段。")  # the title is searchable


def test_markdown_heading_marks_are_dropped() -> None:
    document = load_bytes(
        b"# Annual report\n\nThe centre grew in 2023.", doc_id="r.md", filename="r.md"
    )
    assert document.meta.title == "Annual report"
    assert document.text == "Annual report\n\nThe centre grew in 2023."


# --- PDF ---------------------------------------------------------------------------------------


def make_pdf(content: bytes, *, compress: bool = False, password: str | None = None) -> bytes:
    """A one-page PDF whose page content stream is `content` (Helvetica as /F1)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    stream = DecodedStreamObject()
    stream.set_data(content)
    page[NameObject("/Contents")] = writer._add_object(
        stream.flate_encode() if compress else stream
    )
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def text_stream(*lines: str) -> bytes:
    body = " ".join(f"({line}) Tj 0 -14 Td" for line in lines)
    return f"BT /F1 12 Tf 72 720 Td {body} ET".encode("latin-1")


def test_pdf_text_is_extracted() -> None:
    data = make_pdf(text_stream("Nuclear medicine report", "The scanner was installed in May."))
    document = load_bytes(data, doc_id="r.pdf", filename="r.pdf")
    assert "Nuclear medicine report" in document.text
    assert "The scanner was installed in May." in document.text
    assert document.content_hash == hashlib.sha256(data).hexdigest()


def test_pdf_is_recognised_by_content_whatever_its_name() -> None:
    data = make_pdf(text_stream("Hidden behind a txt name."))
    assert "Hidden behind" in load_bytes(data, doc_id="x.txt", filename="x.txt").text


def test_encrypted_pdf_is_refused() -> None:
    data = make_pdf(text_stream("secret"), password="pw")
    with pytest.raises(DocumentError, match="encrypted"):
        load_bytes(data, doc_id="s.pdf", filename="s.pdf")


def test_pdf_bomb_is_refused_quickly() -> None:
    data = make_pdf(text_stream("x") + b" " * 100_000_000, compress=True)
    assert len(data) < MiB  # a small file ...
    started = time.monotonic()
    with pytest.raises(DocumentError, match="unreadable PDF"):  # ... that expands past the limit
        load_bytes(data, doc_id="bomb.pdf", filename="bomb.pdf")
    assert time.monotonic() - started < 10


def test_broken_pdf_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match=r"b\.pdf"):
        load_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog", doc_id="b.pdf", filename="b.pdf")


# --- DOCX --------------------------------------------------------------------------------------


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Quarterly review"
    document.add_heading("Quarterly review", level=1)
    document.add_paragraph("The department performed 9211 scans.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "PET", "120"
    table.cell(1, 0).text, table.cell(1, 1).text = "SPECT", "80"
    document.add_paragraph("Waiting times fell by a third.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_paragraphs_and_tables_in_order() -> None:
    document = load_bytes(make_docx(), doc_id="q.docx", filename="q.docx")
    assert document.text == (
        "Quarterly review\nThe department performed 9211 scans.\nPET 120\nSPECT 80\n"
        "Waiting times fell by a third."
    )
    assert document.meta.title == "Quarterly review"


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    original = zipfile.ZipFile(io.BytesIO(make_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in original.infolist():
            if item.filename == "word/document.xml":
                bomb.writestr(item.filename, b"<" + b" " * (MAX_EXPANDED_BYTES + 1))
            else:
                bomb.writestr(item, original.read(item))
    data = out.getvalue()
    assert len(data) < MiB
    with pytest.raises(DocumentError, match="zip bomb"):
        load_bytes(data, doc_id="bomb.docx", filename="bomb.docx")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"just some text", "a.pdf", "not a .pdf"),
        (b"just some text", "a.docx", "not a .docx"),
        (b"PK\x03\x04" + b"\x00" * 40, "a.docx", "not a .docx"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "a.bin", "binary"),
        (b"a,b\n1,2\n", "a.csv", "'.csv'"),
    ],
)
def test_unsupported_content_names_the_supported_types(
    data: bytes, filename: str, reason: str
) -> None:
    with pytest.raises(UnsupportedDocumentType) as raised:
        load_bytes(data, doc_id=filename, filename=filename)
    assert reason in raised.value.reason
    assert SUPPORTED_TYPES in str(raised.value) and ".docx" in SUPPORTED_TYPES
    assert raised.value.path == filename


def test_zip_that_is_not_docx_is_unsupported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(UnsupportedDocumentType, match=r"not a \.docx"):
        load_bytes(out.getvalue(), doc_id="a.docx", filename="a.docx")


@pytest.mark.parametrize(
    "data",
    [b"", b"  \n\n\t ", "首頁 > 新聞 > 正文\nCopyright © 2024 All rights reserved\n".encode()],
)
def test_empty_document_is_an_error(data: bytes) -> None:
    with pytest.raises(DocumentError) as raised:
        load_bytes(data, doc_id="e.txt", filename="e.txt")
    assert raised.value.reason == "empty"


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("句子。" * 1000, encoding="utf-8")
    with pytest.raises(DocumentTooLarge, match="over the limit of 100"):
        load_document(path, doc_id="big.txt", max_bytes=100)
    with pytest.raises(DocumentTooLarge):
        load_bytes(path.read_bytes(), doc_id="big.txt", filename="big.txt", max_bytes=100)


# --- collections -------------------------------------------------------------------------------


def test_iter_collection_ids_are_sorted_posix_paths_without_hidden_files(tmp_path: Path) -> None:
    for name in ["b.txt", "a/z.md", "a/b/c.html", ".hidden.txt", ".git/config", "a/.x/y.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [doc_id for doc_id, _ in iter_collection(tmp_path)] == ["a/b/c.html", "a/z.md", "b.txt"]
    assert all(path.is_file() for _, path in iter_collection(tmp_path))


def test_missing_collection_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        list(iter_collection(tmp_path / "nowhere"))


def test_bad_files_are_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("這是一篇正常的文章。", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "fake.pdf").write_text("not a pdf")
    (tmp_path / "empty.md").write_text("   ")
    documents, errors = load_collection(tmp_path, max_bytes=MiB)
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert sorted((e.path, type(e).__name__) for e in errors) == [
        ("empty.md", "DocumentError"),
        ("sub/fake.pdf", "UnsupportedDocumentType"),
    ]
    assert all(e.reason for e in errors)
