"""Every phrase the seeds ban is caught, and every script they prescribe passes.

Sources: seed 000 篇六 (服务禁语 1-10, 不规范服务用语 1-17, 忙碌时 禁忌用语, prescribed scripts),
seed 004 篇九 (服务忌语 1-3, 文明用语), seed 001 篇11 (no exaggerated promises). The phrases are
copied from the seeds as written (Traditional where the seed is Traditional).
"""

import pytest

from conftest import conversation

SEED_BANNED = [
    # seed 000 篇六 服务禁语
    ("000 禁语1", "你去投诉啊，随便投诉哪都行。"),
    ("000 禁语2", "您找领导去。"),
    ("000 禁语3", "要投诉你去投诉吧，我还怕你？"),
    ("000 禁语4", "我就这态度，你又能怎样？"),
    ("000 禁语5", "你问我，我问谁？"),
    ("000 禁语6", "我又不是***我怎么知道。"),
    ("000 禁语7", "不会用就别用。"),
    ("000 禁语8", "这么简单都不知道。"),
    ("000 禁语9", "公司是绝对不会出错的。"),
    ("000 禁语10", "不知道，不清楚、不关我的事。"),
    # seed 000 篇六 不规范服务用语
    ("000 不规范1", "喂、喂、喂、喂，怎么不说话呢？喂，再不说话我就不理你了。"),
    ("000 不规范2", "你快点讲。"),
    ("000 不规范3", "你不要打字，看我发的信息。"),
    ("000 不规范4", "不是我受理的，我不清楚。"),
    ("000 不规范5", "你找别人吧！我帮不了你。"),
    ("000 不规范6", "这不是我的错，我帮不了。"),
    ("000 不规范7", "我也没有办法啊！"),
    ("000 不规范8", "不行就是不行。"),
    ("000 不规范9", "不知道、不行、不可以、不能。"),
    ("000 不规范10", "刚才不是跟你说了，怎么还不清楚？"),
    ("000 不规范11", "我讲了那么半天，你怎么还不明白？"),
    ("000 不规范12", "你到底明不明白我在说什么？"),
    ("000 不规范13", "要我说多少遍你才明白啊？"),
    ("000 不规范14", "你有没搞懂我的意思？"),
    ("000 不规范15", "难道你还不清楚？"),
    ("000 不规范16", "我刚才已经讲过了，你没有听明白吗？"),
    ("000 不规范17a", "也许是吧"),
    ("000 不规范17b", "应该是吧"),
    ("000 不规范17c", "有可能是。"),
    # seed 000 篇六 忙碌时 禁忌用语
    ("000 忙碌时1", "你等下，我帮你问下。"),
    ("000 忙碌时2", "你等下，我帮你问下老师。"),
    ("000 忙碌时3", "你等下，我帮你问下师兄。"),
    ("000 忙碌时4", "请您稍等下，我帮你问下专家。"),
    # seed 004 篇九 服務忌語 (Traditional in the seed)
    ("004 忌語1a", "老頭"),
    ("004 忌語1b", "老太婆"),
    ("004 忌語1c", "神經病"),
    ("004 忌語2", "喂，干什麼。"),
    ("004 忌語3", "叫什麼，等一會兒。"),
    # seed 001 篇11 不得对用户做出夸大其辞的承诺
    ("001 篇11", "我保证百分之百没问题，一定给您修好"),
]

SEED_PRESCRIBED = [
    "您好！请问是X先生/女士吗？我是新颖装饰的客服专员。想针对我们公司装修质量和服务的满意程度做个简单的回访。可能会占用您几分钟时间，请问您现在是否方便。",
    "春节好！请问是X先生/女士吗？我是新颖装饰的客服专员。",
    "您好，请问有什么可以帮您？",
    "麻烦您记录一下，谢谢",
    "对不起，我的工号是****号。",
    "谢谢您提出的宝贵建议，我们将及时反馈给公司相关人员，再次感谢您对我们工作的关心和支持。",
    "对不起，请您原谅。",
    "没关系，请您别介意。",
    "很抱歉，我无法帮助您！",
    "很抱歉，这超出我们的服务范围，恐怕我不能帮助您。",
    "请不必客气，这是我们应该做的，感谢您对我们工作的支持，随时欢迎您再来电。",
    "对不起，您方便留下您的联系方式吗？我们核实后在三个工作日内尽快与您联系",
    "您的问题我需要核实一下，请您稍等。",
    "很抱歉，我正在与您核实相关问题，请您耐心等待，谢谢！",
    "非常感谢您的等待，关于您咨询的问题",
    "对不起，感谢您的耐心等待！请问有什么可以帮您？",
    "对不起，某先生/小姐，请您慢慢说好吗？请问您要反映哪方面的问题，我一定会帮您解决的。",
    "对不起，由于我们服务不周给您添麻烦了，请您原谅，您能重述一下您的问题吗",
    "您的问题是属于我的职责范围内的，请您放心，我会按公司的规定处理，尽我的能力为您解决，请您放心交给我为您处理好吗？",
    "您的问题我已记录好，会提交给相关人员处理，并在三个工作日内回复您。",
    "谢谢您的配合，也非常感谢您对新颖的支持。我们会继续努力，不断改善，为您提供更优质的服务，希望您继续关注聚新颖，祝您生活愉快！",
    # seed 004 篇九 文明用語
    "請稍等。", "我理解您的心情。", "有不懂的地方您儘管問。", "很愧疚，讓您久等了。", "請走好，再見。",
]


def _framed(text: str, speaker: str = "agent") -> dict:
    return conversation(("agent", "您好，请问有什么可以帮您？"), ("customer", "嗯"), (speaker, text), ("customer", "好"), ("agent", "非常感谢您的等待。谢谢您的配合，再见！"))


@pytest.mark.parametrize(("source", "text"), SEED_BANNED, ids=[s for s, _ in SEED_BANNED])
def test_every_seed_banned_phrase_is_caught(checker, source, text):
    report = checker.check(_framed(text))
    categories = {f.category for f in report.findings if f.turn == 2}
    assert any(c.startswith(("banned.", "hold.improper")) for c in categories), (source, text, categories)


@pytest.mark.parametrize("text", SEED_PRESCRIBED)
def test_every_seed_prescribed_script_passes_the_banned_rules(checker, text):
    report = checker.check(_framed(text))
    assert [f for f in report.findings if f.turn == 2 and f.category.startswith(("banned.", "hold.improper"))] == []


@pytest.mark.parametrize(
    "opening", ["您好！请问是X先生/女士吗？我是新颖装饰的客服专员。", "春节好！请问是王先生吗？", "您好，请问有什么可以帮您？"]
)
def test_prescribed_openings_satisfy_the_opening_rule(checker, opening):
    report = checker.check(conversation(("agent", opening), ("customer", "嗯"), ("agent", "祝您生活愉快！")))
    assert "missing.opening" not in {f.category for f in report.findings}


@pytest.mark.parametrize(
    "closing",
    ["谢谢您的配合，也非常感谢您对新颖的支持。祝您生活愉快！", "祝您节日愉快！", "随时欢迎您再来电。", "您慢走。", "請走好，再見。", "感谢您的反馈，祝您一切顺利"],
)
def test_prescribed_closings_satisfy_the_closing_rule(checker, closing):
    report = checker.check(conversation(("agent", "您好"), ("customer", "嗯"), ("agent", closing)))
    assert "missing.closing" not in {f.category for f in report.findings}
