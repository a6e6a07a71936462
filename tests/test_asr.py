"""Matching by sound for speech-to-text transcripts (issue 17): homophones, one accent confusion per match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import scriptcheck
from conftest import conversation, polite
from scriptcheck.cli import main
from scriptcheck.text import pinyin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def heard():
    return scriptcheck.load(model=False, asr=True)


@pytest.fixture(scope="module")
def homophones_only():
    return scriptcheck.load(model=False, asr=[])


@pytest.fixture(scope="module")
def written():
    return scriptcheck.load(model=False)


def banned(report) -> list[scriptcheck.Finding]:
    return [f for f in report.findings if f.category.startswith("banned.")]


@pytest.mark.parametrize(
    ("text", "category", "heard_as"),
    [
        ("你问我我问水啊", "banned.provocation", "你问我我问谁"),  # 谁 shui -> 水 shui: a phrase
        ("这个不值道", "banned.refusal", "zhe ge bu zhi dao"),  # 知 -> 值 inside a whole-turn pattern
        ("能的 我保正十分钟之内一定到 您放心", "banned.overpromise", "bao zheng shi fen zhong zhi nei yi ding"),
    ],
)
def test_homophones_inside_a_phrase_or_pattern_are_heard(heard, written, text, category, heard_as):
    report = heard.check(polite(("agent", text)))
    found = banned(report)
    assert [f.category for f in found] == [category]
    assert found[0].match == "pinyin" and found[0].heard_as == heard_as
    assert text[found[0].start : found[0].end] == found[0].text  # the span is the garbled words as written
    assert banned(written.check(polite(("agent", text)))) == []  # without --asr: the letter of the pack only


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("合约没到期就转不了 我也没有办华", "banned.refusal"),  # 法 fa -> 华 hua (f-h)
        ("你找宁导吧", "banned.refusal"),  # 领 ling -> 宁 ning (n-l)
        ("公司是绝对不会粗错的", "banned.provocation"),  # 出 chu -> 粗 cu (ch-c)
        ("你到底民不明白我说的", "banned.impatience"),  # 明 ming -> 民 min (in-ing)
    ],
)
def test_one_accent_confusion_is_heard_by_default_and_not_with_homophones_only(heard, homophones_only, text, category):
    assert [f.category for f in banned(heard.check(polite(("agent", text))))] == [category]
    assert banned(homophones_only.check(polite(("agent", text)))) == []


def test_two_confusions_in_one_match_are_not_heard(heard):
    # 方式呢 fang shi ne is 烦死了 fan si le only through an-ang, sh-s and n-l at once.
    report = heard.check(polite(("agent", "亲亲 这个订单是原返的哦 您是什么支付方式呢")))
    assert banned(report) == []


def test_a_pattern_heard_by_sound_must_sit_on_words(heard):
    # 环保|满意度: 保满意 sounds like 包满意 but starts inside a word
    assert banned(heard.check(polite(("agent", "我们这个小区的环保满意度很高")))) == []
    assert [f.heard_as for f in banned(heard.check(polite(("agent", "您放心 宝满意的"))))] == ["bao man yi"]


def test_a_match_by_sound_needs_three_syllables(heard):
    # 文忙 sounds exactly like 文盲, but two syllables sound like too many ordinary words.
    assert banned(heard.check(polite(("agent", "就是那个六位的 跟文忙似的")))) == []


@pytest.mark.parametrize(
    "text",
    [
        "您好 这个是投保的页面 您填一下被保人信息就可以",  # 投保, not 投诉
        "按条款这部分是免赔额以内的 保证金会原路退回",  # 保证金 is not 保证
        "您先别挂机 我这边帮您查一下领到的优惠券",  # 领到, not 领导
        "我们这边不关机的 二十四小时都有人",  # 不关机, not 不关我的事
    ],
)
def test_sound_alikes_in_innocent_speech_are_not_charged(heard, text):
    assert banned(heard.check(polite(("agent", text)))) == []


def test_a_customer_complaint_heard_by_sound_still_needs_an_apology(heard, written):
    transcript = conversation(
        ("agent", "您好，请问有什么可以帮您？"),
        ("customer", "这件事我一定要头诉你们"),  # 要投诉 yao tou su -> 要头诉
        ("agent", "这个订单是昨天发出的"),
        ("agent", "感谢您的支持，祝您生活愉快，再见！"),
    )
    assert "missing.apology" in {f.category for f in heard.check(transcript).findings}
    assert "missing.apology" not in {f.category for f in written.check(transcript).findings}


def test_a_pack_turns_asr_on_with_chosen_confusions_and_a_rule_can_opt_out(tmp_path):
    pack = tmp_path / "asr.yaml"
    pack.write_text(
        "pack: asr-test\nsettings:\n  asr: {confusions: [n-l]}\n"
        "rules:\n"
        "  - {id: banned.x.leader, category: banned.refusal, points: 10, message: m, phrases: [您找领导去吧]}\n"
        "  - {id: banned.x.told, category: banned.impatience, points: 10, message: m, phrases: [跟你说了多少遍了], asr: false}\n",
        encoding="utf-8",
    )
    checker = scriptcheck.load(pack, defaults=False, model=False)
    assert [f.rule for f in checker.check(conversation(("agent", "您找宁导去吧"))).findings] == ["banned.x.leader"]
    assert checker.check(conversation(("agent", "跟你说了多少便了"))).findings == ()
    # the pack chose n-l only: 法 -> 华 (f-h) is not folded
    assert scriptcheck.load(pack, defaults=False, model=False, asr=["zh-z"]).check(conversation(("agent", "您找宁导去吧"))).findings == ()


def test_an_unknown_confusion_in_a_pack_is_a_located_error(tmp_path):
    pack = tmp_path / "bad.yaml"
    pack.write_text("pack: bad\nsettings:\n  asr: {confusions: [zh-j]}\nrules: []\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match=r"bad\.yaml:3.*unknown confusion 'zh-j'"):
        scriptcheck.load(pack, defaults=False, model=False)
    with pytest.raises(scriptcheck.RulePackError, match="unknown ASR confusion 'x-y'"):
        scriptcheck.load(model=False, asr=["x-y"])


def test_asr_off_changes_nothing_and_on_marks_how_each_finding_matched(heard, written):
    transcript = polite(("agent", "你去投诉啊"), ("agent", "你问我我问水"))
    off = written.check(transcript)
    assert [f.match for f in off.findings] == [""] * len(off.findings)
    assert "match" not in json.dumps(off.to_dict())
    on = heard.check(transcript)
    by_rule = {f.category: f.match for f in banned(on)}
    assert by_rule == {"banned.provocation": "text"} or sorted(f.match for f in banned(on)) == ["pinyin", "text"]
    assert {d.get("match") for d in on.to_dict()["findings"] if d["category"].startswith("banned.")} == {"text", "pinyin"}


def test_cli_asr_flag_and_outputs_show_what_was_heard(tmp_path, capsys):
    src = tmp_path / "call.jsonl"
    src.write_text(json.dumps(polite(("agent", "你问我我问水啊")), ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["check", str(src), "--no-model", "--format", "jsonl", "-q"]) == 0
    assert "banned" not in capsys.readouterr().out
    main(["check", str(src), "--no-model", "--asr", "--format", "jsonl", "-q"])
    finding = next(f for f in json.loads(capsys.readouterr().out)["findings"] if f["category"].startswith("banned."))
    assert (finding["match"], finding["heard_as"]) == ("pinyin", "你问我我问谁")
    main(["check", str(src), "--no-model", "--asr", "--format", "table"])
    assert "你问我我问谁" in capsys.readouterr().out
    main(["check", str(src), "--no-model", "--asr", "--format", "csv"])
    assert "pinyin" in capsys.readouterr().out
    assert main(["check", str(src), "--no-model", "--asr", "zh-j"]) == 2
    assert "unknown ASR confusion" in capsys.readouterr().err


def test_cli_asr_right_before_the_input_is_the_switch_not_a_confusion_set(tmp_path, capsys, monkeypatch):
    """`--asr calls.jsonl` (the switch, then the input) used to swallow the path and fail with "PATH required"."""
    src = tmp_path / "call.jsonl"
    src.write_text(json.dumps(polite(("agent", "你问我我问水啊")), ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for argv in (["check", "--no-model", "--asr", str(src)], ["check", "--no-model", "--asr", "call.jsonl"],
                 ["check", "--no-model", "--asr", "all", str(src)]):
        assert main([*argv, "--format", "jsonl", "-q"]) == 0, argv
        assert "pinyin" in capsys.readouterr().out
    assert main(["check", "--no-model", "--asr", "zh-zz", str(src)]) == 2  # a mistyped set is still a set
    assert "did you mean 'zh-z'" in capsys.readouterr().err
    (tmp_path / "zh-z").mkdir()  # a folder named like a confusion set: the set wins, the folder is no input
    assert main(["check", "--no-model", "--asr", "zh-z", str(src), "--format", "jsonl", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "pinyin" in out and "directory" not in err and out.count('"id"') == 1


@pytest.mark.parametrize(
    ("syllable", "confusion", "folded"),
    [("shi", "sh-s", "si"), ("zhang", "zh-z", "zang"), ("ning", "n-l", "ling"), ("ning", "in-ing", "nin"),
     ("fa", "f-h", "hua"), ("fei", "f-h", "hui"), ("feng", "f-h", "hong"), ("fu", "f-h", "hu"),
     ("xiang", "an-ang", "xian"), ("chuang", "an-ang", "chuan"), ("neng", "en-eng", "nen"), ("nga", "n-l", "nga")],
)
def test_confusion_sets_fold_syllables(syllable, confusion, folded):
    assert pinyin.fold(syllable, (confusion,)) == folded


def test_spelling_keeps_offsets_and_patterns_keep_their_meaning():
    alphabet = pinyin.alphabet(())
    text = "好的 这个不值道。abc"
    spelt = alphabet.spell(text)
    assert len(spelt) == len(text) and spelt[2] == " " and spelt.endswith("。abc")
    assert alphabet.spell("值") == alphabet.spell("知") != alphabet.spell("道")
    # \W, classes and anchors mean on spelt text what they meant on written text
    pattern = re.compile(alphabet.pattern(r"^\W{0,5}(?:这个)?不知道[的啊吧]{0,2}\W{0,5}$"))
    assert pattern.search(alphabet.spell("这个不值道吧！"))
    assert not pattern.search(alphabet.spell("不知道您现在方便吗"))
    assert re.search(alphabet.pattern("[一-龥]+"), alphabet.spell("你好"))  # a range of characters still matches


def test_polyphones_are_read_in_context_in_phrases():
    alphabet = pinyin.alphabet(())
    # 行 is xing on its own, hang in 银行: a recogniser writing 银航 for 银行 is heard
    assert alphabet.spell("银航") in alphabet.phrase_keys("银行")
    assert alphabet.spell("银行") in alphabet.phrase_keys("银行")  # and the phrase still matches itself


ASR_DEV = ROOT / "corpus" / "asr_dev.jsonl"


@pytest.mark.slow
def test_asr_development_split_gate():
    """The ASR development split (85 calls written as a recogniser outputs them): recall with --asr."""
    checker = scriptcheck.load(model=False, asr=True)
    records = [json.loads(line) for line in ASR_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = scriptcheck.evaluate(checker, records)
    scores = [score for score in result.categories if score.category.startswith("banned.")]
    tp, fp, fn = (sum(getattr(score, name) for score in scores) for name in ("tp", "fp", "fn"))
    assert tp / (tp + fn) >= 0.8  # 0.295 with the written phrases only
    assert tp / (tp + fp) >= 0.9


@pytest.mark.parametrize("text", ["说好了周五来取 对吧", "竟然到了石碁 那挺快"])
def test_customer_confirmations_that_sound_like_complaint_patterns_are_not_complaints(heard, text):
    # 说好了 once sounded like 说好…呢 (n-l), and a place name's 石 like 竟然…是
    report = heard.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert [f.turn for f in report.findings if f.category == "missing.apology"] == []


@pytest.mark.parametrize(
    ("written", "confusions"),
    [("all", 8), ("homophones", 0), ("zh-z, n-l", 2), (True, 8), (["f-h"], 1)],
)
def test_load_takes_the_asr_choice_as_the_command_line_writes_it(written, confusions):
    """`load(asr="zh-z")` used to split the text into characters ("unknown ASR confusion 'z'")."""
    settings = scriptcheck.load(asr=written, model=False).settings
    assert settings.asr is True and len(settings.asr_confusions) == confusions
    with pytest.raises(scriptcheck.RulePackError, match="unknown ASR confusion 'zz'"):
        scriptcheck.load(asr="zz", model=False)
