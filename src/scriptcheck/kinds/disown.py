"""Words an agent disowns: quoted, reported as someone else's, or negated. Not charged to the agent.

Agents name a banned phrase to reject it (我们绝不会说不关我的事这种话), to apologise for it
(同事之前跟您说"你去投诉啊"是非常不对的) or to hedge honestly (我可不敢保证百分之百没问题，但我会尽力).
A candidate finding is disowned when

* **quoted**: its span sits inside quotation marks (“…” "…" 「…」 『…』 ‘…’);
* **reported**: the clause before it says whose words they are (同事说, 您说, 他跟您讲, 之前的客服回复您)
  or calls them 所谓, or the agent calls them wrong right after (这个说法是不准确的) — speech-to-text has no
  quotation marks, so the words must show it;
* **negated**: a negator (不是, 并不是, 没有, 绝不会, 不会, 从不, 别, 不敢, 不能…) governs the phrase itself:
  within the last few jieba tokens of its clause (the clause stops at punctuation or a contrast word:
  但/但是/不过), an odd number of negators (two affirm), and not a rhetorical 不是…吗? (刚才不是跟您说了吗).
  A negator inside the banned phrase (不关我的事, 不行就是不行, 不会用就别用) is part of the phrase, not a
  negation of it.

Rules say whether this applies to them (`negatable`, `quotable`, both on for banned and model rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .._model import Rule

QUOTES = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"', "'": "'", "《": "》"}
# A clause ends at punctuation, a run of spaces, or a contrast word (the hedge 但我会尽力 starts a new one).
CLAUSE_END = re.compile(r"[，,。.！!？?；;…:：\n]|\s{2,}|但是|但|不过|可是|然而|只是")
NEGATORS = frozenset(
    {"不是", "并不是", "可不是", "也不是", "并非", "没有", "没", "绝不会", "绝不", "决不", "不会", "从不", "从来不", "从没",
     "从来没", "别", "不敢", "可不敢", "不能", "不可能", "不要", "不", "并不", "可不", "绝对不会", "永远不会", "决不会",
     "没法", "无法", "没办法"}
)
# Words that may stand between a negator and the phrase it negates (不是让您快点讲, 我不能跟您打包票说一定到,
# 我无法向您保证一定能找回).
BRIDGES = frozenset(
    {"跟", "您", "你", "说", "讲", "会", "要", "让", "是", "对", "和", "给", "这种", "那种", "说过", "讲过", "这么", "那么",
     "就", "都", "也", "还", "再", "得", "能", "敢", "可", "去", "把", "被", "一句", "跟您说", "和您说", "对您说",
     "跟你说", "打包票", "保证", "担保", "说什么", "一定", "地", "随便", "这样", "那样", "什么", "对您", "跟您", "和您", "给您",
     "催", "叫", "逼", "要求", "请", "个", "一个", "声", "催您", "叫您", "向", "向您", "向你"}
)
# A question particle right after the phrase makes 不是…吗 rhetorical (刚才不是跟您说了吗): it asserts.
RHETORICAL = re.compile(r"^[了啊呀呢的过]{0,2}(?:吗|么)|^[了啊呀呢的过]{0,2}[?？]")
# Whose words: a speaker, maybe when, maybe to whom, a verb of saying — at the end of what precedes the phrase.
REPORTED = re.compile(
    r"(?:(?:同事|客服|他|她|他们|对方|有人|别人|人家|快递员|配送员|骑手|师傅|商家|卖家|医生|领导|经理|工作人员|话务员|接线员|"
    r"销售|业务员|营业员|理财经理|客户经理|代理人|推销员|中介|店员|柜员|前台|司机|那位|那个人|的人|您|你|网上)"
    r"(?:之前|刚才|上次|当时|以前|昨天)?(?:跟您|对您|和您|给您|跟你|对你|和你|给你)?"
    r"(?:说|讲|说过|讲过|说的|讲的|告诉您|告诉你|回复您|回复你|答复您|回您|回复|催您|叫您|让您|要您|催你|叫你|让你)(?:的是|的)?"
    r"|(?:转述|说|讲|提到|反映)的?(?:那|这)句(?:话)?"
    r"|(?:回|说|讲|答|回复)了?(?:您|你)?一句)\s*$"
)
# 这个说法是不准确的 opening the clause after the phrase's: the agent calls the words wrong (业务员跟您说出了事都
# 百分之百全赔 这个说法是不准确的): speech-to-text has no quotation marks, this shows they are not the agent's.
CALLED_WRONG = re.compile(
    r"[\s，,。.！!；;…:：]*(?:这个|这种|这样的|这句|那个|那句|该|此)(?:话|说法|承诺|讲法|答复)(?:其实|确实|本身)?(?:是|都是)?"
    r"(?:不准确|不对|不规范|不符合|不正确|不合规|不严谨|错误|错的|有误|误导)"
)
# 您提到 / 您转述: the customer's own report of what was said, anywhere before the phrase in its clause.
RECOUNTED = re.compile(r"(?:您|你)(?:刚才|之前|刚刚)?(?:提到|转述|反映|说的那)")
# 不是说… / 我不会跟您说… / 没有人会说… : the agent denies saying it (not 不是说了吗, a rhetorical question).
DENIED_SAYING = re.compile(
    r"(?:不是|并不是|没|没有|不会|绝不会|从没|从来没|从不|决不会|没有?人(?:会|敢)?|谁(?:也|都)(?:不会|不敢))"
    r"(?:跟您|跟你|对您|和您|给您)?说(?![了过][吗么?？])"
)
SO_CALLED = re.compile(r"所谓(?:的)?\s*$")
WINDOW = 4  # tokens before the phrase a negator may stand in


def disowned(text: str, start: int, end: int, rule: Rule, tokens: Callable[[str], Sequence[str]] | None) -> str:
    """Why the agent disowns text[start:end] ("quoted", "reported", "negated by 不是"), or "" if they own it."""
    if rule.quotable:
        if _inside_quotes(text, start, end):
            return "quoted"
        before = _clause_before(text, start)
        if REPORTED.search(before) or SO_CALLED.search(before) or RECOUNTED.search(before):
            return "reported"
        if CALLED_WRONG.match(text, end + len(_clause_after(text, end))):
            return "reported (called wrong after)"
    if rule.negatable:
        denial = list(DENIED_SAYING.finditer(_clause_before(text, start)))
        # the denial reaches the phrase only when nothing (no pause) stands between: 不会跟您说你去投诉啊
        if denial and not re.search(r"\s", _clause_before(text, start)[denial[-1].end() :]):
            return "negated (denies saying it)"
    if rule.negatable and tokens is not None:
        negator = _negator(text, start, end, tokens)
        if negator:
            return f"negated by {negator}"
    return ""


def _inside_quotes(text: str, start: int, end: int) -> bool:
    """True when [start, end) lies between an opening quotation mark and its closing one."""
    for opener, closer in QUOTES.items():
        if opener == closer:
            if text.count(opener, 0, start) % 2 == 1 and opener in text[end:]:
                return True
            continue
        last_open = text.rfind(opener, 0, start)
        if last_open != -1 and text.rfind(closer, last_open, start) == -1 and text.find(closer, end) != -1:
            return True
    return False


def _clause_before(text: str, start: int) -> str:
    prefix = text[:start]
    cut = 0
    for match in CLAUSE_END.finditer(prefix):
        cut = match.end()
    return prefix[cut:]


def _clause_after(text: str, end: int) -> str:
    """What follows the phrase up to the next space or clause end (a question mark included)."""
    rest = text[end:]
    match = re.search(r"[，,。.！!；;…:：\n\s]|但|不过", rest)
    return rest if match is None else rest[: match.start()]


def _negator(text: str, start: int, end: int, tokens: Callable[[str], Sequence[str]]) -> str:
    """The negator that governs the phrase at [start, end), or "".

    Walking back from the phrase over bridge words (跟您说, 让, 打包票), the first other word must be
    a negator; a second negator right before it makes a double negation, which affirms.
    """
    before = _clause_before(text, start).replace(" ", "")
    if not before:
        return ""
    words = [token for token in tokens(before) if token.strip()][-(WINDOW * 2) :]
    negators: list[str] = []
    for token in reversed(words):
        if token in NEGATORS:
            negators.append(token)
            continue
        if token in BRIDGES and not negators:
            continue
        break
    if len(negators) % 2 == 0:
        return ""  # none, or a double negation that affirms the phrase
    if negators[0] in ("不是", "没", "没有") and RHETORICAL.search(_clause_after(text, end)):
        return ""  # 刚才不是跟您说了吗: a rhetorical question asserts it
    return negators[0]
