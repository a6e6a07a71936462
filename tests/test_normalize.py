import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scriptcheck.text.normalize import normalize, normalize_phrase


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("你問我，我問誰", "你问我我问谁"),  # Traditional -> Simplified, punctuation dropped
        ("你 去 投 诉 啊", "你去投诉啊"),  # spaced out
        ("你去投诉啊！", "你去投诉啊"),  # full-width punctuation
        ("ＡＢＣ１２３", "abc123"),  # full-width letters and digits, case folded
        ("请您稍等\u3000~😂", "请您稍等"),  # ideographic space, symbols, emoji
        ("[订单x]已发货", "订单x已发货"),  # placeholders keep their words
        ("", ""),
    ],
)
def test_normalize_compact_form(text, compact):
    assert normalize(text).compact == compact


def test_folded_form_keeps_one_char_per_original_char():
    text = "請您稍等，謝謝ＡＢ"
    folded = normalize(text).folded
    assert len(folded) == len(text)
    assert folded == "请您稍等,谢谢ab"  # full-width comma folds too


def test_offsets_point_back_into_the_original_text():
    text = "好的 你 去 投 訴 啊！"
    normalized = normalize(text)
    index = normalized.compact.index("你去投诉啊")
    start, end = normalized.span(index, index + len("你去投诉啊"))
    assert text[start:end] == "你 去 投 訴 啊"


def test_phrases_normalise_like_text():
    assert normalize_phrase("你問我，我問誰?") == normalize("你问我 我问谁").compact


def test_normalisation_steps_are_reported():
    assert "traditional_to_simplified" in normalize("你問我").steps
    assert "width_and_case" in normalize("ＡＢ").steps
    assert "spaces_and_punctuation_removed" in normalize("你 去").steps
    assert normalize("你去").steps == ()


_MIXED = "們說這個東西發貨臺灣乾燥后面干面著了计算机電腦軟體ＡＢ１！，。 \n\t😀abcXYZ請稍等您好"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_MIXED, max_size=20), max_size=8))
def test_folding_a_transcript_at_once_equals_folding_each_turn(texts):
    from scriptcheck.text.normalize import normalize_all

    together = normalize_all(texts)
    alone = [normalize(text) for text in texts]
    assert [(n.original, n.folded, n.compact) for n in together] == [(n.original, n.folded, n.compact) for n in alone]
    assert [n.offsets for n in together] == [n.offsets for n in alone]


def test_folding_at_once_falls_back_when_opencc_changes_the_length(monkeypatch):
    from scriptcheck.text import normalize as _normalize

    class Lengthening:
        def convert(self, text: str) -> str:
            return text.replace("們", "们们")

    texts = ["們1", "b", "說們"]
    _normalize._traditional_gate()  # built from the real OpenCC before it is replaced
    monkeypatch.setattr(_normalize, "_T2S", Lengthening())
    together = _normalize.normalize_all(texts)
    assert [n.folded for n in together] == [n.folded for n in map(normalize, texts)]
    assert all(len(n.folded) == len(n.original) for n in together)


def test_width_and_case_folding_keeps_word_characters_word_characters():
    """Why the compact view may be folded after dropping: folding never turns a kept character into a
    dropped one or the reverse, so dropping and folding commute."""
    from scriptcheck.text.normalize import _KEPT_RUNS, WIDTH_AND_CASE

    for code, folded in WIDTH_AND_CASE.items():
        assert bool(_KEPT_RUNS.fullmatch(chr(code))) == bool(_KEPT_RUNS.fullmatch(chr(folded))), hex(code)


# The Traditional->Simplified decision (issue 20): OpenCC converts by phrases, and its phrase table
# also rewrites words already written in Simplified. Only a turn holding a Traditional character
# (one OpenCC changes on its own) is converted.
@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("他把东西打坏了", "他把东西打坏了"),  # OpenCC alone gives 打坯
        ("毛坏房", "毛坏房"),  # 毛坯
        ("一坏就是一个月", "一坏就是一个月"),  # 一坯
        ("乾淨的頭髮", "干净的头发"),  # a Traditional turn: phrase-aware, 乾淨 is 干净
        ("你問我，我問誰", "你问我我问谁"),
        ("東西打坏了", "东西打坯了"),  # a Traditional turn is OpenCC's whole: its phrase table applies
        ("瞭解了", "瞭解了"),  # no character that is Traditional on its own: left as written
    ],
)
def test_only_turns_holding_a_traditional_character_are_converted(text, compact):
    from scriptcheck.text.normalize import normalize_all

    assert normalize(text).compact == compact
    assert normalize_all([text, "好的"])[0].compact == compact
    assert normalize_phrase(text) == compact  # phrases fold the same way


def test_traditional_characters_beyond_the_bmp_are_converted_and_emoji_are_not():
    from scriptcheck.text.normalize import _T2S

    extension_b = "\U0002005e"  # a CJK Extension B character OpenCC simplifies
    assert _T2S.convert(extension_b) != extension_b
    assert normalize(extension_b + "好").compact == _T2S.convert(extension_b) + "好"
    assert normalize("😂好").folded == "😂好"


def test_a_mixed_transcript_converts_its_traditional_turns_only():
    from scriptcheck.text.normalize import normalize_all

    texts = ["东西打坏了", "東西打坏了，請稍等", "毛坏房可以退", "謝謝"]
    assert [n.compact for n in normalize_all(texts)] == ["东西打坏了", "东西打坯了请稍等", "毛坏房可以退", "谢谢"]
    assert [n.steps for n in normalize_all(texts)][0::2] == [(), ()]
    assert "traditional_to_simplified" in normalize_all(texts)[1].steps
