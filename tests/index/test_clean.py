"""Cleaning steps and metadata extraction, on small cases and on the real bundled articles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.clean import (
    clean_text,
    drop_boilerplate_lines,
    extract_metadata,
    join_wrapped_lines,
    strip_metadata_header,
)
from index.clean_chars import collapse_punctuation, normalise_whitespace, strip_glued_pinyin

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
GLUED_PINYIN = re.compile(
    r"[\u4e00-\u9fff?]\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)|\?[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)"
)


def corpus_file(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- strip_glued_pinyin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山西醫(yī)科大學", "山西醫科大學"),
        ("協(xié)同創(chuàng)新", "協同創新"),
        ("醫(yī)學影像", "醫學影像"),
        ("重要?zhàn)略意義", "重要?略意義"),  # "?" stands for the lost character and its "("
        ("勇?(dān)新", "勇?新"),
        ("綠(lǜ)色", "綠色"),
        ("中國(zhōng guó)人", "中國人"),
    ],
)
def test_strip_glued_pinyin_removes_glosses(raw: str, expected: str) -> None:
    assert strip_glued_pinyin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "報告。(完)",
        "( Shanxi venue, Beijing )",
        "四川新聞6月25日電 (記者 王鵬)2024",
        "as shown (see above) in",
        "see above(yī) in",  # after Latin text, not a CJK gloss
        "見圖(a)所示",  # a toneless letter after a CJK word is a label, not pinyin
        "使用(python)語言",
        "交流會(SMART)",
    ],
)
def test_strip_glued_pinyin_keeps_real_parentheses(raw: str) -> None:
    assert strip_glued_pinyin(raw) == raw


@pytest.mark.parametrize("prefix", ["000", "001"])
def test_no_pinyin_left_in_damaged_articles(prefix: str) -> None:
    raw = corpus_file(prefix)
    assert GLUED_PINYIN.search(raw)  # the damage is really there
    assert not GLUED_PINYIN.search(strip_glued_pinyin(raw))
    assert not GLUED_PINYIN.search(clean_text(raw))


# --- collapse_punctuation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("在太原舉辦,。本次", "在太原舉辦。本次"),
        ("主辦,,中華", "主辦，中華"),
        ("中心,、山西", "中心、山西"),
        ("會議。,各", "會議。各"),
        ("召開,其中由", "召開，其中由"),
        ("出發, 重點", "出發， 重點"),
        ("其中,2024年", "其中，2024年"),
        ("“卡脖子”,難題", "“卡脖子”，難題"),
        ("真的嗎？！", "真的嗎？！"),
    ],
)
def test_collapse_punctuation_chinese(raw: str, expected: str) -> None:
    assert collapse_punctuation(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "It cost 1,000 dollars, or more.",
        "Prof. Li, the director, spoke.",
        "Industry, Education, Research and Application",
        "共 300 余人",
    ],
)
def test_collapse_punctuation_leaves_english_alone(raw: str) -> None:
    assert collapse_punctuation(raw) == raw


@pytest.mark.parametrize("prefix", ["000", "001"])
def test_no_doubled_or_ascii_commas_left_in_chinese(prefix: str) -> None:
    cleaned = clean_text(corpus_file(prefix))
    assert not re.search(r"[,，、。][,，、。]", cleaned)
    assert not re.search(r"[\u4e00-\u9fff],[\u4e00-\u9fff]", cleaned)


# --- normalise_whitespace ----------------------------------------------------------------------


def test_normalise_whitespace() -> None:
    raw = (
        "\ufeff  標題\u3000 \r\n\r\n\r\n\r\n  first   line\u00a0 \rsecond\tline \n\n\n third\u200b "
    )
    assert normalise_whitespace(raw) == "標題\n\nfirst line\nsecond line\n\nthird"


def test_normalise_whitespace_keeps_single_paragraph_breaks() -> None:
    assert normalise_whitespace("a\n\nb\nc") == "a\n\nb\nc"


# --- drop_boilerplate_lines --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "首頁 > kjws > 中新網四川",
        "• position: Index > News > Content",
        "Home » World » Asia",
        "• News",
        "中新社四川分社正文",
        "中國新聞網·四川新聞版權與免責聲明:",
        "Copyright © 2016 sxmu.edu.cn All rights reserved",
        "Network center of Shanxi Medical University Host 晋ICP备 No.05000478",
        "浏览次数: 994",
        "瀏覽次數：12次",
        "Page View:",
        "圖為活動現場。四川省腫瘤醫院 供圖",
        "新華社記者 李明 攝",
        "圖片來源：網絡",
        "AE29",
        "9211",
    ],
)
def test_boilerplate_line_is_dropped(line: str) -> None:
    body = "這是正文的一句話，必須保留。"
    assert drop_boilerplate_lines(f"{body}\n{line}\n{body}2") == f"{body}\n{body}2"


def test_disclaimer_items_after_a_copyright_heading_are_dropped() -> None:
    text = (
        "正文。\n\n本網版權與免責聲明:\n① 凡本網注明的作品。\n② 轉載目的在於傳遞信息。"
        "\n\n② 新段落。"
    )
    assert drop_boilerplate_lines(text) == "正文。\n\n\n② 新段落。"


def test_repeated_short_line_kept_once_and_long_lines_always() -> None:
    long_line = "長" * 100
    text = f"小標題\n內容。\n小標題\n{long_line}\n{long_line}"
    assert drop_boilerplate_lines(text) == f"小標題\n內容。\n{long_line}\n{long_line}"


@pytest.mark.parametrize(
    "line",
    [
        "The U.S. > China comparison is not simple.",
        "如圖為了方便，我們把結果列在下面的表格中並詳細說明每一項的含義和計算方法，供讀者參考並討論其意義。",
        "2023年全年，中心共完成檢查 9211 例。",
        "• Reduce the dose by half before the second scan.",
        "會場內禁止拍攝",
    ],
)
def test_body_lines_that_look_a_bit_like_boilerplate_stay(line: str) -> None:
    assert drop_boilerplate_lines(line) == line


# --- header lines and wrapped lines ------------------------------------------------------------


def test_metadata_header_unwraps_title_and_drops_fields() -> None:
    raw = "标题: 年会召开\n发布日期: 日期：2023-01-15 16:13\n浏览次数: 994\n正文内容:\n正文。"
    assert strip_metadata_header(raw) == "年会召开\n正文。"


def test_labelled_line_deep_in_the_body_stays() -> None:
    body = "\n".join(f"第{n}段。" for n in range(12))
    assert strip_metadata_header(f"{body}\n时间：6月1日上午") == f"{body}\n时间：6月1日上午"


def test_join_wrapped_lines_rejoins_broken_chinese_sentence() -> None:
    raw = (
        "並殷切期望四川核醫學界的同仁們，緊密圍繞人民群眾的健康需求，瞄準醫學科技的最前"
        "\n\n沿，以奮發有為、勇往直前的精神狀態貢獻力量。"
    )
    assert join_wrapped_lines(raw) == raw.replace("\n\n", "")


def test_join_wrapped_lines_keeps_headings_and_subtitles() -> None:
    raw = (
        "凝心聚力謀發展 攜手並進譜新篇\n\n——四川省醫學會第二十一次核醫學學術會議在成都成功召開"
        "\n\n金桂飄香聚首議，奮楫篤行譜新篇。"
    )
    assert join_wrapped_lines(raw) == raw


# --- the real articles -------------------------------------------------------------------------

# Lines a reader of each file marks as page furniture (by how they start); every other line of
# the file must survive cleaning.
BOILERPLATE_STARTS = {
    "000": (),
    "001": (
        "中新社四川分社正文",
        "首頁 >",
        "2024年06月25日",
        "圖為活動",
        "中國新聞網·四川新聞版權",
        "①",
    ),
    "002": ("发布日期:", "浏览次数:", "正文内容:"),
    "003": (),
    "004": ("• position:", "• News", "Time:", "AE29", "9211", "Copyright ©", "Network center"),
}


@pytest.mark.parametrize("prefix", sorted(BOILERPLATE_STARTS))
def test_every_body_line_survives(prefix: str) -> None:
    raw = corpus_file(prefix)
    cleaned = squeeze(clean_text(raw))
    light = collapse_punctuation(strip_glued_pinyin(normalise_whitespace(raw)))
    for line in light.split("\n"):
        if not line or line.startswith(BOILERPLATE_STARTS[prefix]):
            continue
        body = squeeze(re.sub(r"^标题:\s*", "", line))
        assert body in cleaned, line


@pytest.mark.parametrize(
    ("prefix", "furniture"),
    [
        ("001", ["首頁", "kjws", "正文", "版權", "免責", "聯系方式", "編輯:", "供圖", " > "]),
        (
            "004",
            [
                "position:",
                "Index > News",
                "Copyright",
                "All rights reserved",
                "ICP",
                "Page View",
                "AE29",
                "9211",
                "Auth:",
            ],
        ),
    ],
)
def test_no_navigation_or_copyright_left(prefix: str, furniture: list[str]) -> None:
    cleaned = clean_text(corpus_file(prefix))
    for text in furniture:
        assert text not in cleaned
    assert "\n• News" not in cleaned


def test_cleaning_keeps_the_documents_script() -> None:
    assert "醫工結合" in clean_text(corpus_file("001"))
    assert "医工协同" in clean_text(corpus_file("002"))


def test_title_stays_visible_at_the_top() -> None:
    for prefix in ("001", "002", "003", "004"):
        raw = corpus_file(prefix)
        title = extract_metadata(raw, filename=f"{prefix}.txt").title
        assert clean_text(raw).startswith(title.split("——")[0])


@pytest.mark.parametrize(
    ("prefix", "title", "date", "source"),
    [
        ("000", "4月28日至29日，第二屆全國分子影像精準診療協同創新高峰論壇在太原舉辦", "", ""),
        ("001", "專家學者共聚成都 研討醫工結合新浪潮", "2024-06-25", "中新網四川"),
        ("002", "第十三届医工协同科技创新学术年会在西安交大一附院召开", "2023-01-15", ""),
        (
            "003",
            "凝心聚力谋发展 携手并进谱新篇——四川省医学会第二十一一次核医学学术会议"
            "暨华西核医学精准诊疗医工融合学术交流会在成都成功召开",
            "2024-11-29",
            "",
        ),
        (
            "004",
            "2023 International Conference on the Cooperation and Integration of Industry, "
            "Education, Research and Application— Multidisciplinary Integration Innovation and "
            "Development of Nuclear Medicine and Molecular Imaging Was Successfully Held",
            "2023-12-22",
            "",
        ),
    ],
)
def test_metadata_of_the_bundled_articles(prefix: str, title: str, date: str, source: str) -> None:
    # 000 has no headline and no year anywhere: its title is its opening clause, its date unknown.
    meta = extract_metadata(corpus_file(prefix), filename=f"{prefix}.txt")
    assert (meta.title, meta.date, meta.source) == (title, date, source)


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("2024年06月25日 14:15 來源:X", "2024-06-25"),
        ("日期：2023-01-15 16:13", "2023-01-15"),
        ("Time:Dec 22, 2023 17:05", "2023-12-22"),
        ("Published: 3 March 2021", "2021-03-03"),
        ("日期: 2022/7/9", "2022-07-09"),
    ],
)
def test_dates_become_iso(line: str, iso: str) -> None:
    meta = extract_metadata(f"一個標題\n{line}\n正文。", filename="x.txt")
    assert meta.date == iso


def test_impossible_date_is_not_reported() -> None:
    assert extract_metadata("標題\n日期: 2023-02-30\n正文。", filename="x.txt").date == ""


def test_title_falls_back_to_filename_for_text_without_words() -> None:
    assert extract_metadata("", filename="notes.txt").title == "notes.txt"
