"""Chinese "respectively" lists unrolled in what the model reads, not in what is stored."""

from __future__ import annotations

import pytest

from service.answer import build_messages
from service.passages import Passage
from service.respectively import unroll_respectively

# The bundled collection's own sentence (corpus/002): four speakers, four titles.
KEYNOTES = (
    "在主旨报告环节，清华大学附属北京清华长庚医院院长董家鸿院士、西安交通大学吕毅副校长、"
    "国家药监局评审中心孔繁圃主任、西安交通大学郑南宁院士分别作题为《区域智慧健康医疗体系》"
    "《2022西交大医工交叉科技创新实践》《药品注册政策解读》"
    "《人工智能面临的挑战及其在医疗健康领域的应用》的主旨报告。"
)


def test_each_speaker_is_written_beside_their_own_title() -> None:
    unrolled = unroll_respectively(KEYNOTES)
    assert "孔繁圃主任作题为《药品注册政策解读》的主旨报告" in unrolled
    assert unrolled.startswith(
        "在主旨报告环节，清华大学附属北京清华长庚医院院长董家鸿院士作题为《区域"
    )
    assert unrolled.count("的主旨报告") == 4 and "分别" not in unrolled


@pytest.mark.parametrize(
    ("text", "unrolled"),
    [
        # Titles set apart by 、, and traditional script (corpus/003's form).
        (
            "接著，張瑋老師、胡鳳瓊教授分別作《甲》、《乙》專題分享。",
            "接著，張瑋老師作《甲》專題分享；胡鳳瓊教授作《乙》專題分享。",
        ),
        # The last item joined by 和, quoted names instead of titles.
        (
            "张三、李四和王五分别获得“一等奖”“二等奖”“三等奖”。",
            "张三获得“一等奖”；李四获得“二等奖”；王五获得“三等奖”。",
        ),
    ],
)
def test_paired_lists_in_other_forms(text: str, unrolled: str) -> None:
    assert unroll_respectively(text) == unrolled


@pytest.mark.parametrize(
    "kept",
    [
        "甲、乙分别作题为《一》《二》《三》的报告。",  # three titles for two speakers
        "他们分别来自医师、技师、护理、药师等多个专业岗位。",  # no second list
        "西安交大一附院分别与上海联影和西安聚能签署协议。",  # one subject
        "10个项目，分别是：涂圣贤团队“计算冠脉生理学”、魏大程团队“晶体管传感芯片”。",
        "李亚明教授，黄钢教授，分别进行了精彩致辞。",
    ],
)
def test_what_is_not_two_lists_of_one_length_stays(kept: str) -> None:
    assert unroll_respectively(kept) == kept


def test_the_model_reads_the_pairs_and_the_passage_keeps_its_text() -> None:
    passage = Passage.of(1, "d.txt", "d.txt#1", "年会", KEYNOTES, 0, len(KEYNOTES), 0.5)
    prompt = build_messages("孔繁圃的报告题目是什么？", [passage], "zh-Hans")[-1]["content"]
    assert "孔繁圃主任作题为《药品注册政策解读》的主旨报告" in prompt
    assert passage.text == KEYNOTES  # quotes and offsets come from the document's own text
