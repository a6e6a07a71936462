"""The learned second stage: features, inference, evidence, the model rule kind, model triggers, training."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

import scriptcheck
from conftest import conversation, polite
from scriptcheck._model import Finding, Rule, RuleKind, Settings, Severity, Transcript, Turn
from scriptcheck.engine.score import score
from scriptcheck.kinds import KINDS, Conversation, KindRules
from scriptcheck.learned.features import MIN_POSITIONS, features, marks, model_text, ngram_scale
from scriptcheck.learned.model import (
    ModelError,
    _logistic,
    _reaches,
    bundled_model_text,
    load_model_text,
    parse_model,
    read_model_text,
)
from scriptcheck.text.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundled():
    return scriptcheck.load()


# --------------------------------------------------------------------------- features


def test_model_text_is_the_anchored_compact_view():
    assert model_text(normalize("您好，請問 有什麼可以幫您？")) == "^您好请问有什么可以帮您$"


def test_marks_bring_back_question_and_exclamation_runs():
    assert marks(normalize("为什么拒绝售后？？？")) == ["\x01??"]
    assert marks(normalize("太慢了!!")) == ["\x01!!"]
    # a single ? or ! is ordinary chat punctuation (明天到吗?): not a mark
    assert marks(normalize("明天到吗? 好的!")) == []
    assert marks(normalize("好的")) == []


def test_features_are_ngrams_without_bare_anchors():
    found = features(normalize("不行"), 1, 2)
    assert "^" not in found and "$" not in found
    assert {"不", "行", "^不", "不行", "行$"} <= set(found)


# --------------------------------------------------------------------------- a tiny model, written by hand


# An n-gram occurrence in a short utterance (under MIN_POSITIONS n-grams) weighs 1/sqrt(MIN_POSITIONS):
# the tiny model's n-gram weights are written as multiples of its inverse, so each counts as the number shown.
S = math.sqrt(MIN_POSITIONS)


def tiny_model(**gate) -> str:
    """Two agent labels and a complaint head, weights chosen by hand so the arithmetic can be checked."""
    agent = {
        "speaker": "agent",
        "labels": ["banned.refusal", "banned.vague"],
        "bias": [-3.0, -3.0],
        "weights": {"不知道": [4.0 * S, 0.0], "吧$": [0.0, 4.5 * S], "\x01??": [0.0, -1.0]},
    }
    if gate:
        agent["gate"] = gate
    customer = {"speaker": "customer", "labels": ["complaint"], "bias": [-2.0], "weights": {"怎么还": [3.0 * S], "\x01??": [1.0]}}
    return json.dumps({
        "format": "scriptcheck-model/1", "name": "tiny", "version": "1", "features": {"ngrams": [1, 3]},
        "heads": {"agent": agent, "customer": customer},
        "examples": {"agent": [["这个不知道呢", "banned.refusal"], ["好的", "clean"]]},
    }, ensure_ascii=False)


def sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def test_scores_are_the_logistic_of_bias_plus_matched_weights():
    model = parse_model(tiny_model(), "tiny")
    prediction = model.predict(normalize("这个不知道呢"), "agent")
    assert prediction.probability("banned.refusal") == pytest.approx(sigmoid(-3.0 + 4.0))
    assert prediction.probability("banned.vague") == pytest.approx(sigmoid(-3.0))
    assert prediction.probability("not.a.label") == 0.0
    # an n-gram counts once however often it occurs (training reads presence too)
    twice = model.predict(normalize("不知道 不知道"), "agent")
    assert twice.probability("banned.refusal") == pytest.approx(sigmoid(-3.0 + 4.0))
    # in a long message one occurrence weighs 1/sqrt(its n-grams): a paragraph does not add up to certainty
    long = "您好这边帮您查询了一下物流信息显示包裹已经到达本地站点预计明天上午派送到您手中" * 2 + "不知道"
    scale = ngram_scale(model_text(normalize(long)), 1, 3)
    assert scale < 1 / S
    assert model.predict(normalize(long), "agent").probability("banned.refusal") == pytest.approx(sigmoid(-3.0 + 4.0 * S * scale))
    # marks count, unscaled: a run of question marks lowers vague here
    vague = model.predict(normalize("可能是吧??"), "agent").probability("banned.vague")
    assert vague == pytest.approx(sigmoid(-3.0 + 4.5 - 1.0))


def test_single_label_head_and_speakers_without_a_head():
    model = parse_model(tiny_model(), "tiny")
    assert model.predict(normalize("怎么还没到??"), "customer").probability("complaint") == pytest.approx(sigmoid(-2.0 + 3.0 + 1.0))
    assert model.predict(normalize("怎么还没到"), "nobody") is None


def test_a_gate_in_an_older_model_file_is_ignored():
    gated = parse_model(tiny_model(bias=-40.0, weights={"不知道": 6.0 * S}, threshold=0.5), "tiny")
    plain = parse_model(tiny_model(), "tiny")
    for text in ("好的呢", "这个不知道呢"):
        assert gated.predict(normalize(text), "agent").probabilities == plain.predict(normalize(text), "agent").probabilities


def test_evidence_merges_overlapping_ngrams_and_points_at_the_original_text():
    model = parse_model(tiny_model(), "tiny")
    text = "这个 不 知道呢"
    evidence = model.predict(normalize(text), "agent").evidence("banned.refusal")
    assert len(evidence) == 1
    item = evidence[0]
    assert item.feature == "不知道" and item.weight == 4.0
    assert text[item.start : item.end] == "不 知道"  # offsets into the original, spaces and all
    assert str(item) == "不知道 +4.0"
    # a flood of one phrase is evidence once, where it first occurs
    flood = "不知道" * 1000
    [first] = model.predict(normalize(flood), "agent").evidence("banned.refusal")
    assert (first.feature, first.start, first.end) == ("不知道", 0, 3)


def test_long_evidence_is_shown_cut():
    run = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸"
    weights = {run[i : i + 2]: [1.0] for i in range(len(run) - 1)}
    head = {"speaker": "agent", "labels": ["banned.refusal"], "bias": [0.0], "weights": weights}
    model = parse_model(json.dumps({"format": "scriptcheck-model/1", "name": "t", "version": "1", "features": {"ngrams": [2, 2]},
                                    "heads": {"agent": head}}, ensure_ascii=False), "t")
    [item] = model.predict(normalize(run), "agent").evidence("banned.refusal")
    assert item.feature == run[:15] + "…"
    assert (item.start, item.end) == (0, len(run))  # the span still covers all of it


def test_nearest_training_examples():
    model = parse_model(tiny_model(), "tiny")
    nearest = model.nearest("这个我不知道呢", "agent")
    assert nearest[0][:2] == ("这个不知道呢", "banned.refusal")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a model file"),
        ('{"format": "other"}', "not a scriptcheck model"),
        ('{"format": "scriptcheck-model/1", "name": "x"}', "malformed model file"),
    ],
)
def test_bad_model_files_name_the_file_and_what_to_do(text, message):
    with pytest.raises(ModelError, match=f"m.json: {message}"):
        parse_model(text, "m.json")


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="model not found"):
        read_model_text(tmp_path / "nothing")
    with pytest.raises(scriptcheck.ScriptcheckError, match="model not found"):
        scriptcheck.load(model=tmp_path / "nothing")


def test_damaged_or_odd_model_files_are_model_errors_naming_them(tmp_path, capsys):
    import gzip
    import os

    from scriptcheck.cli import main

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json.gz").write_bytes(gzip.compress(tiny_model().encode("utf-8"))[:-8])  # truncated in copying
    with pytest.raises(ModelError, match=r"m: not a model file \(a damaged gzip file: .*\); copy it again or retrain"):
        read_model_text(folder)
    (folder / "model.json.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(ModelError, match="a damaged gzip file"):
        scriptcheck.load(model=folder)
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "turns": [{"speaker": "agent", "text": "您好"}]}\n', encoding="utf-8")
    assert main(["check", str(src), "--model", str(folder)]) == 2
    assert "a damaged gzip file" in capsys.readouterr().err
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)  # nobody writes: reading it would block
    with pytest.raises(ModelError, match="not a regular file"):
        read_model_text(fifo)
    for wrong in (5, b"m", [folder]):
        with pytest.raises(ModelError, match="model must be a path to a model folder or file"):
            scriptcheck.load(model=wrong)


# --------------------------------------------------------------------------- the model rule kind


class FakePrediction:
    def __init__(self, probabilities):
        self.probabilities = probabilities

    def may_reach(self, probability):
        return max(self.probabilities.values(), default=0.0) >= probability

    def probability(self, label):
        return self.probabilities.get(label, 0.0)

    def evidence(self, label, limit=3):
        return ()


class NoHits:
    def get(self, rule_index, set_name):
        return []

    def has(self, rule_index, set_name):
        return False

    def rule_indexes(self, set_name):
        return []


def model_rule(**fields) -> Rule:
    defaults = dict(id="model.banned.refusal", kind=RuleKind.MODEL, category="banned.refusal", severity=Severity.WARNING,
                    points=10, message="m", model_label="banned.refusal", deduct_at=0.9, review_at=0.6)
    return Rule(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("probability", "review_points", "points", "review", "severity"),
    [(0.95, 0, 10, False, "warning"), (0.7, 0, 0, True, "info"), (0.95, 4, 10, False, "warning"), (0.7, 4, 4, True, "info")],
)
def test_model_findings_count_or_go_to_review_by_confidence(probability, review_points, points, review, severity):
    turn = Turn(0, "agent", "这个不清楚")
    conv = Conversation(Transcript("t", (turn,)), (normalize(turn.text),), (NoHits(),), (FakePrediction({"banned.refusal": probability}),))
    [found] = KINDS[RuleKind.MODEL].findings(conv, KindRules({0: model_rule(review_points=review_points)}))
    assert (found.points, found.review, found.severity.value, found.source, found.confidence) == (points, review, severity, "model", probability)
    assert (found.start, found.end, found.text) == (0, 5, "这个不清楚")  # no located evidence: the whole turn


def test_below_review_at_or_without_predictions_nothing_is_found():
    turn = Turn(0, "agent", "好的")
    rules = KindRules({0: model_rule()})
    low = Conversation(Transcript("t", (turn,)), (normalize(turn.text),), (NoHits(),), (FakePrediction({"banned.refusal": 0.5}),))
    assert list(KINDS[RuleKind.MODEL].findings(low, rules)) == []
    none = Conversation(Transcript("t", (turn,)), (normalize(turn.text),), (NoHits(),))
    assert list(KINDS[RuleKind.MODEL].findings(none, rules)) == []


def test_model_rules_are_read_and_validated(tmp_path):
    pack = tmp_path / "m.yaml"
    pack.write_text(
        "pack: m\nrules:\n  - id: model.banned.mine\n    kind: model\n    label: banned.refusal\n    category: banned.refusal\n"
        "    points: 3\n    message: m\n    deduct_at: 0.6\n    review_at: 0.9\n",
        encoding="utf-8",
    )
    with pytest.raises(scriptcheck.RulePackError, match=r"m.yaml:10:\d+: model.banned.mine: `review_at` \(0.9\) must not be above"):
        scriptcheck.load(pack)


# --------------------------------------------------------------------------- with the bundled model


def test_the_bundled_model_catches_an_unlisted_refusal_and_explains_it(bundled):
    report = bundled.check(polite(("agent", "出库以后的事情真的跟我们这边不相干哦")))
    [found] = [f for f in report.findings if f.category == "banned.refusal"]
    assert found.source == "model" and found.rule == "model.banned.refusal" and found.confidence >= 0.9
    assert found.evidence and found.text in "出库以后的事情真的跟我们这边不相干哦"
    assert report.to_dict()["findings"][0]["source"] == "model"
    explained = str(report.explain(bundled))
    assert "model: confidence" in explained and "like training example" in explained


def test_a_rule_finding_and_a_model_finding_on_one_turn_are_one_finding(bundled):
    text = "这不关我的事 你找快递去"  # the model reads it as a refusal too
    assert bundled.model.predict(normalize(text), "agent").probability("banned.refusal") >= 0.9
    report = bundled.check(polite(("agent", text)))
    refusals = [f for f in report.findings if f.category == "banned.refusal"]
    # two phrase rules (not my business; go elsewhere), each charged once, and no model finding beside them
    assert sorted(f.rule for f in refusals) == ["banned.refusal.go_elsewhere", "banned.refusal.not_my_business"]
    assert {f.source for f in refusals} == {"rule"}


def test_polite_agent_talk_raises_nothing_from_the_model(bundled):
    report = bundled.check(polite(("agent", "好的，这边帮您查询一下订单，请您稍等。"), ("customer", "嗯"), ("agent", "感谢您的耐心等待，您的包裹明天送达。")))
    assert [f for f in report.findings if f.source == "model"] == []


def test_an_implicit_complaint_triggers_the_apology_rule_through_the_model(bundled):
    report = bundled.check(polite(("customer", "京东物流应该不会这么低效率吧"), ("agent", "请提供一下订单号")))
    [found] = [f for f in report.findings if f.category == "missing.apology"]
    assert found.source == "model" and found.turn == 2 and found.confidence >= 0.8
    # the complaint model's findings go to review and cost the rule's review_points (5) until settled
    assert (found.review, found.points, report.score) == (True, 5, 95)
    answered = bundled.check(polite(("customer", "京东物流应该不会这么低效率吧"), ("agent", "非常抱歉给您添麻烦了，我马上帮您重新提交")))
    assert [f for f in answered.findings if f.category == "missing.apology"] == []


def test_a_complaint_the_model_only_flags_for_review_does_not_excuse_a_counted_one_after_it(bundled):
    """look_back meets a repeated complaint by an apology given before it, but only a counted one repeats:
    the agent apologised for the wait (turn 3), then the customer complained of its attitude, unanswered."""
    data = polite(
        ("customer", "京东物流应该不会这么低效率吧"),  # the model's, for review only
        ("agent", "非常抱歉让您久等了 请问订单号是多少"),
        ("customer", "你这什么态度"),  # the lexicon's: counts
        ("agent", "请说订单号"),
    )
    counted = [f for f in bundled.check(data).findings if f.category == "missing.apology" and not f.review]
    assert [(f.source, f.turn) for f in counted] == [("rule", 4)]


def test_without_the_model_only_phrase_rules_fire():
    plain = scriptcheck.load(model=False)
    assert plain.model is None
    report = plain.check(polite(("agent", "出库以后的事情真的跟我们这边不相干哦")))
    assert [f for f in report.findings if f.source == "model"] == []


def test_sessions_settle_model_findings_like_the_batch(bundled):
    data = polite(("agent", "出库以后的事情真的跟我们这边不相干哦"))
    session = bundled.session(data["id"])
    settled = []
    for turn in data["turns"]:
        settled += session.add_turn(turn["speaker"], turn["text"])
    report = session.close()
    assert report == bundled.check(data)
    assert any(f.source == "model" for f in settled)


# --------------------------------------------------------------------------- training


TRAIN = [
    *({"text": text, "speaker": "agent", "label": "banned.refusal"} for text in
      ["这个不知道呢", "不知道哦亲", "小妹也不知道", "我们也不知道的", "这个真不知道", "不知道呢"] * 5),
    *({"text": text, "speaker": "agent", "label": "clean"} for text in
      ["好的亲", "您好请问有什么可以帮您", "稍等帮您查询", "已经为您登记", "感谢您的耐心等待", "祝您生活愉快"] * 5),
]


def test_training_writes_a_model_that_loads_and_scores_as_trained(tmp_path):
    pytest.importorskip("sklearn")
    from scriptcheck.learned.train import read_training_data, train, write_model

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in TRAIN), encoding="utf-8")
    text, report = train(read_training_data([data]), name="t", version="1", heldout=0.2)
    assert report.counts["agent"] == {"banned.refusal": 30, "clean": 30}
    path = write_model(text, tmp_path / "m", report)
    assert path.name == "model.json" and (tmp_path / "m" / "MODEL_CARD.md").exists()
    checker = scriptcheck.load(model=tmp_path / "m")
    assert checker.model.name == "t"
    refusal = checker.model.predict(normalize("小妹这个不知道呢"), "agent").probability("banned.refusal")
    clean = checker.model.predict(normalize("好的亲 祝您生活愉快"), "agent").probability("banned.refusal")
    assert refusal > 0.5 > clean


def test_training_from_labelled_transcripts(tmp_path):
    from scriptcheck.learned.train import read_training_data

    corpus = tmp_path / "c.jsonl"
    record = conversation(("agent", "您好"), ("customer", "太慢了"), ("agent", "不知道"), ("customer", "好吧"))
    record["labels"] = [{"category": "banned.refusal", "turn": 2}, {"category": "missing.apology", "turn": 1}]
    corpus.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    found = {(u.speaker, u.text, tuple(sorted(u.labels))) for u in read_training_data([corpus])}
    # agent turns: labelled or clean; a customer turn only when it carries a complaint label
    assert found == {("agent", "您好", ()), ("agent", "不知道", ("banned.refusal",)), ("customer", "太慢了", ("complaint",))}


def test_a_transcripts_marked_complaints_teach_apologised_complaints_too(tmp_path):
    from scriptcheck.learned.train import read_training_data

    corpus = tmp_path / "c.jsonl"
    record = conversation(("customer", "怎么还没到"), ("agent", "非常抱歉 马上帮您催"), ("customer", "说好的今天呢"), ("customer", "在吗"))
    record["complaints"] = [0, 2]  # both complaints; the agent met them, so no label says so
    corpus.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    found = {(u.speaker, u.text, tuple(sorted(u.labels))) for u in read_training_data([corpus])}
    # marked turns are complaints; an unmarked customer turn (在吗) is still left out, not taught as clean
    assert found == {("customer", "怎么还没到", ("complaint",)), ("agent", "非常抱歉 马上帮您催", ()), ("customer", "说好的今天呢", ("complaint",))}


@pytest.mark.parametrize(("complaints", "message"), [
    ("[0, \"2\"]", "c.jsonl:1: 'complaints' must be a list of turn indexes (0-based integers), got [0, '2']"),
    ("0", "c.jsonl:1: 'complaints' must be a list of turn indexes (0-based integers), got 0"),
    ("[true]", "c.jsonl:1: 'complaints' must be a list of turn indexes (0-based integers), got [True]"),
    ("[1]", "c.jsonl:1: 'complaints' lists turn 1, which is not a customer's turn; list customer turns only"),
    ("[5]", "c.jsonl:1: 'complaints' lists turn 5, but the transcript has 2 turns (0-based)"),
])
def test_bad_marked_complaints_are_located(tmp_path, complaints, message):
    from scriptcheck.learned.train import read_training_data

    corpus = tmp_path / "c.jsonl"
    record = json.dumps(conversation(("customer", "太慢了"), ("agent", "抱歉")), ensure_ascii=False)
    corpus.write_text(record[:-1] + f', "complaints": {complaints}}}\n', encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        read_training_data([corpus])
    assert str(caught.value).endswith(message)


@pytest.mark.parametrize(("row", "message"), [
    ({"text": 5, "speaker": "agent", "label": "clean"}, "text must be the utterance (non-empty text), got 5"),
    ({"text": " ", "speaker": "agent", "label": "clean"}, "text must be the utterance (non-empty text), got ' '"),
    ({"text": "不知道", "speaker": "customer", "label": "banned.refusal"}, "a customer utterance is labelled complaint or clean, got 'banned.refusal'"),
    ({"text": "太慢了", "speaker": "agent", "label": "complaint"}, "an agent utterance is labelled clean or with a banned.* or hold.improper category, got 'complaint'"),
])
def test_training_utterances_with_a_wrong_text_or_label_are_located(tmp_path, row, message):
    from scriptcheck.learned.train import read_training_data

    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "您好", "speaker": "agent", "label": "clean"}\n' + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        read_training_data([data])
    assert str(caught.value) == f"{data}:2: {message}"


def test_model_train_warns_of_a_label_no_bundled_category_has_and_checks_its_output_first(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from scriptcheck.cli import main

    rows = [*TRAIN, *({"text": f"滚蛋{n}", "speaker": "agent", "label": "banned.contemt"} for n in range(25))]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    assert main(["model", "train", str(data), "--output", str(data)]) == 2  # a file: refused before any training
    assert f"--output {data} is a file; give a folder" in capsys.readouterr().err
    assert main(["model", "train", str(data), "--output", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "label 'banned.contemt' is not a bundled category; did you mean 'banned.contempt'?; a pack must declare it" in err


def test_bad_training_data_is_located(tmp_path):
    from scriptcheck.learned.train import read_training_data

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "speaker": "agent", "label": "clean"}\n{"oops": 1}\n', encoding="utf-8")
    with pytest.raises(ModelError, match="bad.jsonl:2: expected an utterance"):
        read_training_data([bad])


def test_cli_model_train_show_and_check_with_the_model(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from scriptcheck.cli import main

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in TRAIN), encoding="utf-8")
    assert main(["model", "train", str(data), "--output", str(tmp_path / "m"), "--name", "mine"]) == 0
    out = capsys.readouterr().out
    assert "held-out (agent)" in out and "wrote" in out
    assert main(["model", "show", str(tmp_path / "m")]) == 0
    assert "mine" in capsys.readouterr().out
    chats = tmp_path / "chats.jsonl"
    # not a bare no on its own (banned.refusal.bare_no would win the turn): only the model reads it
    chats.write_text(json.dumps(polite(("agent", "小妹这个不知道呢 您再看看页面")), ensure_ascii=False), encoding="utf-8")
    assert main(["check", str(chats), "--model", str(tmp_path / "m"), "--format", "jsonl", "-q"]) == 0
    with_model = json.loads(capsys.readouterr().out)
    assert any(f["source"] == "model" and f["category"] == "banned.refusal" for f in with_model["findings"])
    assert main(["check", str(chats), "--no-model", "--format", "jsonl", "-q"]) == 0
    assert all(f["source"] == "rule" for f in json.loads(capsys.readouterr().out)["findings"])
    assert main(["check", str(chats), "--model", str(tmp_path / "missing"), "-q"]) == 2
    assert "model not found" in capsys.readouterr().err


def test_a_pack_names_its_model_relative_to_itself(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text(tiny_model(), encoding="utf-8")
    pack = tmp_path / "p.yaml"
    pack.write_text("pack: p\nsettings: {model: m}\n", encoding="utf-8")
    assert scriptcheck.load(pack).model.name == "tiny"
    off = tmp_path / "plain.yaml"
    off.write_text("pack: plain\nsettings: {model: none}\n", encoding="utf-8")
    assert scriptcheck.load(off).model is None
    assert scriptcheck.load(off, model=True).model is not None  # the caller's choice wins


def test_a_custom_model_reaches_worker_processes(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text(tiny_model(), encoding="utf-8")
    checker = scriptcheck.load(model=tmp_path / "m")
    items = [polite(("agent", f"这个不知道呢 {i}")) for i in range(30)]
    assert list(checker.check_many(items, workers=2)) == list(checker.check_many(items))


def test_the_cheap_bound_never_rules_out_a_label_that_reaches_the_threshold():
    """`may_reach` answers as `peak >= probability` does, and the cheap bound `screen` rules turns out with
    never falls below a label's logit."""
    model = load_model_text(bundled_model_text(), "bundled")
    texts = ["好的呢", "这个不知道呢", "你自己看吧 我也没办法", "爱买不买", "亲亲 稍等下哈", "这个百分之百没问题的呢??", "您好 请问有什么可以帮您"]
    for text in texts:
        prediction = model.predict(normalize(text), "agent")
        for threshold in (0.0, 0.05, 0.3, 0.5, 0.7, 0.8, 0.95, 1.0):
            assert prediction.may_reach(threshold) == (prediction.peak >= threshold), (text, threshold)
    # both bounds are upper bounds of every label's logit: the one over the n-grams present (each once) and the
    # looser one the screen looks at first (every occurrence at its largest positive weight, no dict)
    for speaker, head in model.heads.items():
        for text in [*texts, "好的好的好的好的", "你们 你们 你们??", ""]:
            prediction = head.read(normalize(text))
            scanned = model_text(normalize(text))
            grams = [value for _end, value in head._automaton.iter(scanned)]
            present = {gram: weights for gram, weights, _bound in grams}
            scale, found = ngram_scale(scanned, head.shortest, head.longest), marks(normalize(text))
            if len(head.labels) > 1:
                assert head.logit_bound(present, scale, found) >= max(prediction.logits), (speaker, text)
            loose = max(head.bias) + scale * sum(bound for _gram, _weights, bound in grams)
            loose += sum(max(0.0, *head._weights[mark]) for mark in found if mark in head._weights)
            assert loose + 1e-9 >= max(prediction.logits), (speaker, text)


def test_screening_drops_exactly_the_utterances_no_label_can_lift_to_the_floor():
    """What the checker keeps of a turn: the full prediction when a label reaches the floor, else None."""
    model = load_model_text(bundled_model_text(), "bundled")
    said = {
        "agent": ["好的呢", "这个不知道呢", "你自己看吧 我也没办法", "爱买不买", "亲亲 稍等下哈", "这个百分之百没问题的呢??"],
        "customer": ["好的谢谢", "为什么拒绝售后???", "你们什么态度啊 我要投诉", "[订单x]", "怎么还没到!!"],
    }
    kept = dropped = 0
    for speaker, texts in said.items():
        for text in texts:
            full = model.predict(normalize(text), speaker)
            for floor in (0.0, 0.3, 0.5, 0.7, 0.8, 0.95, 1.0):
                screened = model.heads[speaker].screen(normalize(text), floor)
                if full.peak >= floor:
                    kept += 1
                    assert screened is not None and screened.probabilities == full.probabilities, (text, floor)
                else:
                    assert screened is None, (text, floor)
                    dropped += 1
    assert kept > 10 and dropped > 10  # both outcomes were exercised


def test_one_scan_serves_the_phrases_and_the_model_as_two_scans_did():
    """The checker puts each head's n-grams on its speaker's phrase automaton: the phrase hits and the
    screen's answer must be what the phrase automaton alone and the head's own scan give."""
    from scriptcheck.engine.match import scan

    checker = scriptcheck.load()
    compiled = checker.compiled
    said = {
        "agent": ["不知道", "这个不知道呢", "你自己看吧 我也没办法", "爱买不买！！", "亲亲 稍等下哈", "", "。。。", "不行不行不行 不行",
                  "您好，请问有什么可以帮您？", "^_^ 价格$100", "这么简单都不会吗??"],
        "customer": ["为什么拒绝售后???", "你们什么态度啊 我要投诉", "[订单x]", "怎么还没到!!", "好的", "", "$^$", "投诉投诉投诉"],
    }
    checked = 0
    for speaker, texts in said.items():
        head = checker.model.heads[speaker]
        merged = compiled.automaton_with(speaker, head.scanned_grams())
        for floor in (0.0, 0.7, 0.95):
            screen = head.screener(floor)
            for text in texts:
                normalized = normalize(text)
                grams: list = []
                one = scan(normalized, speaker, compiled, 0, automaton=merged, grams=grams)
                two = scan(normalized, speaker, compiled, 0)
                for index, rule in enumerate(compiled.rules):
                    for set_name in ("phrases", "unless", "unless_turn", "trigger", "response"):
                        assert one.get(index, set_name) == two.get(index, set_name), (text, rule.rule.id, set_name)
                alone, shared = screen(normalized, None), screen(normalized, grams)
                assert (alone is None) == (shared is None), (text, floor)
                if alone is not None and shared is not None:
                    assert alone.logits == shared.logits
                    checked += 1
    assert checked > 5  # some turns were lifted to the floor, so the logits were compared


def test_marks_are_read_from_the_original_text_as_the_folded_view_would_show_them():
    from scriptcheck.text.normalize import fold

    for text in ("怎么还没到??", "怎么还没到？？", "怎么还没到?？", "太慢了！!", "太慢了!!!", "好的?", "好的！", "好的? ?", "乾淨！！"):
        folded = fold(text)
        expected = [mark for mark, run in zip(("\x01??", "\x01!!"), ("??", "!!")) if run in folded]
        assert marks(normalize(text)) == expected, text


def test_a_floor_is_reached_exactly_when_the_probability_reaches_it_even_within_rounding_of_its_logit():
    """`_reaches` compares logits with the floor's logit; near it, the probability decides, as `screen` always did."""
    for floor in (0.3, 0.5, 0.7, 0.9, 0.95, 0.999):
        cut = math.log(floor / (1 - floor))
        reaches = _reaches(floor)
        for logit in (cut - 1, cut - 1e-5, cut - 1e-9, cut - 1e-15, cut, cut + 1e-15, cut + 1e-9, cut + 1e-5, cut + 1, -50.0, 50.0):
            assert reaches(logit) == (_logistic(logit) >= floor), (floor, logit)
    assert _reaches(0.0)(-1000.0) and not _reaches(1.0)(5.0)


def test_a_review_flag_does_not_use_up_its_rules_deduction(bundled):
    # A rule deducts once per transcript, its largest deduction: the counted finding after a flag for review
    # costs the rule's points and the flag nothing (it once scored 100 here, then would have scored 95).
    data = polite(("agent", "找不到的就是没有回收这个牌子的哦"), ("customer", "那能送到吗"), ("agent", "到不了的哦"))
    report = bundled.check(data)
    assert [(f.rule, f.review, f.points) for f in report.findings] == [
        ("model.banned.refusal", True, 0),
        ("model.banned.refusal", False, 25),
    ]
    assert report.score == 75
    session = bundled.session(data["id"])
    for turn in data["turns"]:
        session.add_turn(turn["speaker"], turn["text"])
    assert session.close().score == 75


def test_a_flag_for_review_alone_costs_its_rules_review_points_in_batch_and_session(bundled):
    """model.banned.refusal has review_points 5: a likely refusal the model is unsure of costs 5 until reviewed."""
    data = polite(("agent", "找不到的就是没有回收这个牌子的哦"))
    report = bundled.check(data)
    [found] = [f for f in report.findings if f.rule == "model.banned.refusal"]
    assert (found.review, found.points, found.severity.value) == (True, 5, "info")
    assert (report.score, report.passed, report.fatal) == (95, True, ())
    session = bundled.session(data["id"])
    settled = [found for turn in data["turns"] for found in session.add_turn(turn["speaker"], turn["text"])]
    # its points depend on the rest of the chat (a counted refusal later would take them): it waits for close()
    assert [f for f in settled if f.rule == "model.banned.refusal"] == []
    assert session.close() == report


def test_a_flag_for_review_in_a_fatal_category_does_not_fail_the_call():
    """Only counted findings are fatal: a contempt the model is unsure of once zeroed the score."""
    transcript = Transcript("t", (Turn(0, "agent", "您这都不懂吗"),))
    flag = Finding("model.banned.contempt", "banned.contempt", Severity.INFO, 0, 0, 6, "您这都不懂吗", 5, "m",
                   source="model", confidence=0.85, review=True)
    settings = Settings(fatal=("banned.contempt",))
    report = score(transcript, [flag], settings)
    assert (report.score, report.fatal, report.passed) == (95, (), True)
    counted = replace(flag, severity=Severity.ERROR, points=20, review=False, confidence=0.97)
    assert score(transcript, [flag, counted], settings).fatal == ("banned.contempt",)


def test_a_rule_costs_its_largest_deduction_whatever_the_order():
    transcript = Transcript("t", tuple(Turn(i, "agent", "x") for i in range(3)))
    flag = Finding("r.x", "banned.refusal", Severity.INFO, 0, 0, 1, "x", 5, "m", review=True)
    counted = Finding("r.x", "banned.refusal", Severity.WARNING, 2, 0, 1, "x", 25, "m")
    for findings in ([flag, counted], [counted, flag], [flag, replace(flag, turn=1), counted]):
        report = score(transcript, findings, Settings())
        assert report.score == 75
        assert [(f.turn, f.points) for f in report.findings] == [(f.turn, 25 if not f.review else 0) for f in report.findings]
    two_flags = score(transcript, [flag, replace(flag, turn=1)], Settings())
    assert (two_flags.score, [f.points for f in two_flags.findings]) == (95, [5, 0])


def test_a_model_finding_highlights_whole_words_and_masks(checker):
    """Evidence is character n-grams (天吧 of 明天吧): the finding's span is widened to whole words and masks."""
    from scriptcheck.kinds.base import whole_words

    tokens = checker.compiled.tokens
    assert whole_words("明天吧", 1, 3, tokens) == (0, 3)
    assert whole_words("关键是现在电脑没有网", 3, 6, tokens) == (3, 7)  # 现在电 -> 现在电脑
    assert whole_words("手机号是[电话x] 谢谢", 0, 7, None) == (0, 9)  # never ends inside [电话x]
    assert whole_words("[订单x]h 好的", 2, 5, None) == (0, 6)  # the mask with what is glued to it
    assert whole_words("明天吧", 0, 3, tokens) == (0, 3)  # already whole: unchanged
    assert whole_words("订单号12345678[数字x]好的", 13, 15, tokens) == (3, 16)  # the mask's digits, then their word
    report = checker.check(polite(("customer", "什么时候发货"), ("agent", "明天吧")))
    [found] = [f for f in report.findings if f.source == "model" and f.turn == 3]
    assert found.text == "明天吧"


def test_a_complaint_only_the_model_reads_after_an_apology_is_taken_for_the_customer_pressing_on(bundled):
    """`expect.look_back` takes a model-only trigger after an apology for a repeat (the written splits count the
    customer pressing on, 那你们尽快, as met): no finding, and explain says which complaint it repeats."""
    data = polite(
        ("customer", "太慢了"),
        ("agent", "非常抱歉让您久等了 马上帮您催"),
        ("customer", "京东物流应该不会这么低效率吧"),  # the model's reading, worded anew
        ("agent", "已经催了"),
    )
    report = bundled.check(data)
    assert [f for f in report.findings if f.category == "missing.apology"] == []
    [quiet] = [q for q in report.explain(bundled).quiet if q.turn == 4]
    assert (quiet.how, quiet.model, quiet.at, quiet.repeats) == ("answered_before", True, 3, 2)
