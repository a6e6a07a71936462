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
            return text.replace("A", "AA")

    texts = ["A1", "b"]
    monkeypatch.setattr(_normalize, "_T2S", Lengthening())
    together = _normalize.normalize_all(texts)
    assert [n.folded for n in together] == [n.folded for n in map(normalize, texts)]
    assert all(len(n.folded) == len(n.original) for n in together)
