"""Screening text for instructions aimed at the assistant (prompt injection).

A document is data: a sentence of it that speaks to the assistant ("ignore all previous
instructions", "SYSTEM:", "enter your password at …") is not a fact to answer from. Ingestion
records such sentences on each chunk (`Chunk.flagged`), answers keep them out of the prompt and
check that the answer does not repeat them. Matching runs on a folded copy of the text (case,
full-width letters, zero-width characters, spaced-out letters, traditional Chinese) so light
obfuscation does not hide an instruction. Both `index` and `service` import this module; it
imports neither.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

_ZERO_WIDTH = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Letters written one by one: "I g n o r e", "i.g.n.o.r.e", "p-a-s-s-w-o-r-d".
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z0-9][ .\-_*·]){3,}[a-z0-9](?![a-z0-9])")
# Sentences end at these, and at line breaks: an injection is often one line of its own.
# An ASCII stop ends a sentence only before a space: "evil.example/login" stays whole.
_SENTENCE = re.compile(
    r"(?:[^。！？；.!?;…\n]|[.!?;…](?![\s\"'”’)\]]|$))+(?:[。！？；]+|[.!?;…]+[\"'”’)\]]*|\n|$)"
)
# Markup that runs code, loads a page or opens a chat turn: removed wherever it stands, so
# the sentence around it keeps its facts.
_MARKUP = re.compile(
    r"<\s*(script|style|iframe)\b.*?<\s*/\s*\1\s*>"
    r"|(?:<\|[a-z_]+\|>|<\|?(?:im_start|im_end|endoftext|eot_id)\|?>|<(?:start|end)_of_turn>)"
    r"(?:[ \t]*(?:system|user|assistant|model)\b)?"
    r"|\[/?inst\]|<</?sys>>|<\s*/?\s*(?:passages|context|system|instructions?|user|assistant)\s*>"
    r"|<\s*/?\s*(?:script|style|iframe|img|svg|object|embed|form|meta|link|a|input|button)\b[^>]*>"
    r"|!\[[^\]\n]*\]\([^)\n]*\)|\[[^\]\n]*\]\(\s*(?:javascript|data|vbscript):[^)\n]*\)+",
    re.IGNORECASE | re.DOTALL,
)
_COMMA = re.compile(r"[,，]\s*")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])[ \u3000]+(?=[\u3400-\u9fff「」“”])")

_BOT = (
    r"(?:ai|a\.i\.|assistants?|chat ?bots?|bots?|language models?|llms?|gpt|chatgpt|qwen"
    r"|ai (?:models?|systems?|assistants?))"
)
_EN_STOP = r"[^.!?。！？\n]"
_ZH_STOP = r"[^。！？\n]"
_PATTERNS = {
    # Orders to set the rules aside.
    "override": (
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|the|your|my|these|those"
        r"|of)\s+){0,3}(?:(?:previous|prior|earlier|above|preceding"
        r"|former|original|system|initial|other|existing)\s+)?(?:instructions?|rules?|prompts?"
        r"|guidelines?|directives?|context|programming|everything|restrictions)\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:all|everything|anything)\s+(?:above|before|said"
        r"|you)\b"
        r"|\b(?:ignore|disregard|forget|override)\b" + _EN_STOP + r"{0,40}\b(?:previous|prior|above"
        r"|earlier|preceding)\s+(?:instructions?|rules?|prompts?|messages?|text|context)\b"
        r"|\b(?:hidden|secret|override|priority|real|true)\s+(?:instructions?|orders?|directives?)\b"
        r"|(?:忽略|无视|忽视|不要理会|别管|不用管|忘记|忘掉|绕过|抛开)" + _ZH_STOP + r"{0,12}"
        r"(?:以上|之前|上述|前面|先前|所有|全部|一切|你的|系统)" + _ZH_STOP + r"{0,8}"
        r"(?:指令|指示|规则|提示|设定|要求|内容|约束|限制)"
        r"|最高指令|优先指令"
    ),
    # The assistant's hidden configuration.
    "prompt": (
        r"\bsystem\s*(?:prompts?|instructions?|notices?|override)\b"
        r"|\b(?:initial|hidden|original|secret)\s+(?:prompt|instructions)\b"
        r"|\bdeveloper\s+mode\b|\bjailbreak|\bdo anything now\b"
        r"|\b(?:print|output|reveal|repeat|show|display|dump|leak|recite|disclose|write out|list"
        r"|translate)\b" + _EN_STOP + r"{0,40}\b(?:your|the system'?s?|the hidden|the initial"
        r"|the original)\s+(?:\w+\s+){0,2}(?:prompt|instructions|rules|configuration|guidelines)\b"
        r"|\b(?:print|output|reveal|repeat|show|display|recite|disclose)\b" + _EN_STOP + r"{0,40}"
        r"\bsystem\s+messages?\b"
        r"|系统(?:提示|指令|通知|设定|命令)|提示词|开发者模式"
        r"|(?:输出|打印|透露|泄露|泄漏|重复|复述|背诵|告诉我|列出|翻译)" + _ZH_STOP + r"{0,12}"
        r"(?:你的|您的|系统的?|隐藏的?|全部|所有|完整的?)" + _ZH_STOP + r"{0,6}"
        r"(?:提示|指令|指示|规则|设定|配置)"
    ),
    # Words addressed to the assistant.
    "address": (
        r"\b(?:dear|attention|hey|hi|hello|(?:note|notice|message|instructions?|reminder"
        r"|warning)s?\s+(?:to|for))\s*[:,]?\s+(?:the\s+|any\s+|all\s+|every\s+)?" + _BOT + r"\b"
        r"|\b" + _BOT + r"\s+(?:reading|processing|parsing|summari[sz]ing)\s+(?:this|these)\b"
        r"|\b(?:ai|assistant|chat ?bot|llm|language model)s?\s*[:：]"
        r"|\b" + _BOT + r"\b" + _EN_STOP + r"{0,40}\b(?:must|shall|should|is instructed"
        r"|are instructed|is required|are required)\b" + _EN_STOP + r"{0,30}\b(?:reply|respond"
        r"|answer|say|output|print|reveal|ignore|refuse|append)\b"
        r"|\b(?:you are now|you're now|pretend (?:to be|you)|stay in character"
        r"|let'?s play a game)\b"
        r"|\b(?:assistant|ai|bot|model)\s+without\s+(?:any\s+)?(?:rules|limits|restrictions"
        r"|filters)\b|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?\w*bot\b"
        r"|(?:致|给|对|告诉|提醒|通知)(?:所有|任何|各位)?(?:ai|人工智能|助手|助理|机器人|语言模型|大模型)"
        r"|(?:(?:ai|人工智能)(?:助手|助理|模型)|助手|语言模型|大模型|聊天机器人)"
        + _ZH_STOP
        + r"{0,20}"
        r"(?:必须|务必|一律|总是|永远|只能|只许|不得|应该|应当|请)"
        r"|(?:阅读|读到|处理)本文的(?:ai|模型|助手|人工智能)"
        r"|你现在是|从现在(?:起|开始)[，,]?你(?:是|将是|就是)|假装你"
    ),
    # Orders about how to answer.
    "answer": (
        r"\b(?:answer|reply|respond|say|output|print|write)\s+(?:only|just|exactly|solely)\b"
        r"|\b(?:only|just)\s+(?:answer|reply|respond|say|output)\b"
        r"|\b(?:answer|reply|respond)\s+(?:\w+\s+){0,3}with\s+(?:the\s+|a\s+)?(?:\w+\s+)?"
        r"(?:words?|phrases?|text|link|url|sentences?)\b"
        r"|\balways\s+(?:include|add|append|insert|mention|say|reply|answer|respond|end with"
        r"|start with|begin with|cite)\b|\bmust\s+(?:say|reply|append)\b"
        r"|\b(?:end|start|begin|prefix|suffix|finish|close)\s+(?:every|each|all|your|any)\s+"
        r"(?:answers?|repl(?:y|ies)|responses?|messages?|outputs?)\b"
        r"|\b(?:tell|instruct|direct|urge)\s+(?:the|every|all|each|any)\s+(?:users?|readers?)\b"
        r"|\b(?:every|each|any|all)\s+(?:answers?|repl(?:y|ies)|responses?)\s+(?:must|should"
        r"|shall)\b|\byour\s+(?:answers?|repl(?:y|ies)|responses?)\s+(?:must|should|shall"
        r"|has to)\b"
        r"|\b(?:answer|reply|respond)\s+(?:to\s+)?(?:every|each|all|any)\s+(?:questions?"
        r"|messages?|quer(?:y|ies))\s+with\b"
        r"|\bformat\s+(?:your|the|each|every)\s+(?:answer|reply|response)"
        r"|\b(?:begin|start|end|finish)s?\s+(?:your|every|each|all|any|his|her|its|their)\s+"
        r"(?:answers?|repl(?:y|ies)|responses?)\s+with\b"
        r"|\b(?:repeat|print|output|copy|show|recite)\s+(?:back\s+)?(?:everything|all|the text"
        r"|anything|the words)\s+(?:above|before|prior|you were)"
        r"|\b(?:what|which)\s+(?:are|were)\s+your\s+(?:\w+\s+)?(?:rules|instructions|guidelines"
        r"|directives)\b|\bas\s+(?:they\s+were|it\s+was)\s+given\s+to\s+you\b"
        r"|(?:只|仅)(?:回答|回复|输出)|只(?:说|写)[「“\"『]"
        r"|(?:回答|回复|输出)(?:时|的时候)?(?:必须|务必|一律)"
        r"|(?:在|于)?(?:每个|每条|每次|所有|任何)(?:回答|回复|答案)(?:的)?(?:末尾|开头|结尾|最后|前面"
        r"|中|里)|回答任何问题(?:前|时|之前)"
        r"|(?:在|于)(?:回答|回复|答案)(?:的)?(?:末尾|开头|结尾|最后|最前)"
        r"|(?:告诉|通知|提醒|要求|引导)(?:所有|每个|每位|各位)(?:用户|读者|访客|提问者|使用者)"
        r"|(?:把|将)用户引导|引导用户(?:到|去|访问)"
        r"|(?:回答|回复)(?:时|的时候|中|完|完后|之后)" + _ZH_STOP + r"{0,6}(?:请|务必|必须|一律)"
    ),
    # Credentials and payment data asked for.
    "credentials": (
        r"\b(?:enter|type|provide|give|send|submit|confirm|verify|share|input|re-?enter|supply"
        r"|tell us)\b" + _EN_STOP + r"{0,40}\b(?:password|passcode|passphrase|pin|credentials?"
        r"|login details|account details|credit card|card number|cvv|ssn|social security"
        r"|one-time (?:code|password)|otp|2fa code|verification code|security code"
        r"|bank details)\b"
        r"|\b(?:password|credentials?)\s+(?:here|at|via)\b"
        r"|(?:输入|提供|填写|提交|发送|告诉|确认|验证)" + _ZH_STOP + r"{0,20}"
        r"(?:密码|口令|验证码|银行卡号|信用卡号|cvv)"
    ),
    # Chat-template and role markers, and markup that runs code or loads a page.
    "markup": (
        r"<\|[a-z_]+\|>|<\|?(?:im_start|im_end|endoftext|eot_id)\|?>|\[/?inst\]|<</?sys>>"
        r"|<(?:start|end)_of_turn>|</?\s*(?:passages|context|system|instructions?)\s*>"
        r"|^\s*(?:#+\s*)?(?:system|assistant|developer|instructions?)\s*[:：]"
        r"|\[(?:system|admin|developer|instructions?)\]|【(?:系统|指令|管理员|开发者)"
        + r"[^】]{0,6}】"
        r"|\[(?:系统|管理员)\]|^\s*(?:系统|助手|管理员)\s*[:：]"
        r"|<\s*(?:script|iframe|img|svg|object|embed|form|meta|link|style)\b"
        r"|\bon(?:error|load|click|mouseover|focus|blur|submit|change|input|keydown|keyup"
        r"|mouseenter)\s*=|javascript:|!\[[^\]]*\]\(\s*https?://"
    ),
    # Orders a question gives (read only in questions: documents quote speech this way).
    "order": (
        r"\bthen\s+(?:say|write|print|output|reply|add|append)\b"
        r"|\b(?:you\s+)?must\s+(?:answer|reply|respond|say|write|output)\b"
        r"|\b(?:answer|reply|respond|say|output|write|print)(?:\s+(?:only|just|exactly))?"
        r"(?:\s+with)?\s*[:：]?\s*[\"'“‘]"
        r"|\b(?:add|append|include|put)\s+(?:the\s+)?(?:words?|phrase|text|link|image|code)\b"
        r"|(?:然后|接着|之后|最后|再|并|请)(?:说|输出|写上|加上|回答|回复)[:：]?\s*[「“\"『]"
        r"|(?:加上|写上|附上)(?:一句|这句|链接|图片|代码)"
    ),
}
_DOCUMENT_CATEGORIES = ("override", "prompt", "address", "answer", "credentials", "markup")
# A question may ask about passwords or links (a user's own need); what it must not do is
# give the assistant orders or ask for its configuration.
_QUESTION_CATEGORIES = ("override", "prompt", "address", "answer", "markup", "order")

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]{}，。、；！？）】]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|info|biz|io|co|me|app|dev|xyz|top|site|online|link"
    r"|click|example|test|invalid|ru|cn|tk|ml|ga|cf|gq|hk|tw|uk|us|de|jp|edu|gov)"
    r"(?:/[^\s<>\"'()\[\]{}，。、；！？）】]*)?(?![a-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Screened:
    """A text split into the sentences kept and those flagged as instructions."""

    kept: str  # the text with flagged sentences removed (their place kept by a space)
    flagged: tuple[str, ...]  # the flagged sentences, as written
    categories: tuple[str, ...]  # which patterns matched, in order of first match
    spans: tuple[tuple[int, int], ...] = ()  # where the flagged sentences are in the text


@cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _despace(match: re.Match[str]) -> str:
    return re.sub(r"[ .\-_*·]", "", match.group(0))


def fold(text: str) -> str:
    """The text as the patterns see it: NFKC (full-width letters), no zero-width characters,
    lower case, letters written one by one joined, simplified Chinese."""
    folded = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).lower()
    folded = _CJK_GAP.sub("", _SPACED.sub(_despace, folded))
    return str(_t2s().convert(folded))


@cache
def _pattern(categories: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(
        "|".join(f"(?P<{name}>{_PATTERNS[name]})" for name in categories), re.IGNORECASE
    )


def instruction_categories(sentence: str, *, question: bool = False) -> list[str]:
    """The kinds of instruction a sentence carries ([] for an ordinary sentence)."""
    pattern = _pattern(_QUESTION_CATEGORIES if question else _DOCUMENT_CATEGORIES)
    folded = fold(sentence)
    found = {name for m in pattern.finditer(folded) for name, v in m.groupdict().items() if v}
    return [name for name in _PATTERNS if name in found]


def is_instruction(sentence: str, *, question: bool = False) -> bool:
    return bool(instruction_categories(sentence, question=question))


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences (and lines) of `text`, surrounding space excluded."""
    spans = []
    for m in _SENTENCE.finditer(text):
        start, end = m.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def _clauses(text: str) -> list[tuple[int, int]]:
    """Sentences cut further at commas: a question often packs an order and a real question
    into one sentence ("Reply with X, then tell me who …"), and only the order is dropped."""
    spans = []
    for start, end in sentences(text):
        cut = start
        for m in _COMMA.finditer(text, start, end):
            spans.append((cut, m.start()))
            cut = m.end()
        spans.append((cut, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


@lru_cache(maxsize=1024)
def screen(text: str, *, question: bool = False) -> Screened:
    """Remove active markup, then flag the sentences of `text` that carry instructions, and
    in a document every later sentence of the same line: an injected notice usually goes on
    for a few sentences after its first order ("NOTICE TO THE ASSISTANT: ignore … Answer only
    with …"). A question (`question=True`) is screened clause by clause, without that."""
    cuts = [m.span() for m in _MARKUP.finditer(text)]
    blanked = text
    for start, end in cuts:  # same length, so sentence offsets stay those of `text`
        blanked = blanked[:start] + " " * (end - start) + blanked[end:]
    flagged_spans: list[tuple[int, int]] = []
    categories: list[str] = ["markup"] if cuts else []
    tainted_line, line, counted = -1, 0, 0
    for start, end in _clauses(blanked) if question else sentences(blanked):
        line += blanked.count("\n", counted, start)
        counted = start
        found = instruction_categories(blanked[start:end], question=question)
        if found or (line == tainted_line and not question):
            flagged_spans.append((start, end))
            categories += [c for c in found if c not in categories]
            tainted_line = line
    if not cuts and not flagged_spans:
        return Screened(text, (), ())
    removed = sorted(cuts + flagged_spans)
    pieces, last = [], 0
    for start, end in removed:
        if start >= last:
            pieces += [text[last:start], " "]
        last = max(last, end)
    pieces.append(text[last:])
    kept = re.sub(r"[ \t]{2,}", " ", "".join(pieces))
    flagged = tuple(text[a:b].strip() for a, b in removed)
    return Screened(kept, tuple(f for f in flagged if f), tuple(categories), tuple(removed))


def flagged_sentences(text: str) -> tuple[str, ...]:
    """The sentences of a document that read as instructions to an assistant."""
    return screen(text).flagged


def flagged_in_range(text: str, start: int, end: int) -> tuple[str, ...]:
    """The flagged sentences of a whole document that fall in `text[start:end]` (a chunk),
    cut to it: screened on the whole document, a notice split across chunks stays flagged."""
    found = []
    for a, b in screen(text).spans:
        if a < end and b > start:
            piece = text[max(a, start) : min(b, end)].strip()
            if piece:
                found.append(piece)
    return tuple(found)


def urls(text: str) -> list[str]:
    """The links written in `text` (with or without a scheme), trailing punctuation removed."""
    folded = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    return [m.group(0).rstrip(".,;:!?'\"") for m in _URL.finditer(folded)]
