"""Category names people read: 缺少开场白 for `missing.opening`, in Chinese or English.

Category ids (`missing.opening`) are stable and what machines match on; QA teams talk about
缺少开场白 and 否定语. Tables, the HTML report, `to_dataframe` and `rules doc` show these names,
with the id beside them or on hover. A pack's own categories (`categories: {banned.rudeness:
粗鲁用语}`) name themselves: the text before a colon is the short name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LANGUAGES = ("zh", "en")

# (Chinese, English) short names of the bundled categories.
CATEGORY_NAMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "banned.contempt": ("蔑视语", "contempt"),
        "banned.impatience": ("烦躁语", "impatience"),
        "banned.refusal": ("否定语", "refusal"),
        "banned.provocation": ("斗气语", "provocation"),
        "banned.vague": ("不明确用语", "vague answer"),
        "banned.overpromise": ("夸大承诺", "overpromise"),
        "banned.wording": ("不建议用语", "discouraged wording"),
        "missing.opening": ("缺少开场白", "no opening"),
        "missing.closing": ("缺少结束语", "no closing"),
        "missing.apology": ("投诉后未致歉", "no apology after a complaint"),
        "hold.improper": ("等待用语不当", "improper hold"),
        "hold.no_return": ("等待后未致谢", "no thanks after a hold"),
        "hold.too_long": ("等待超时", "hold too long"),
    }
)


def category_name(category: str, lang: str = "zh", declared: Mapping[str, str] | None = None) -> str:
    """The short name of `category` in `lang` ("zh" or "en"); the id itself when it has none.

    Args:
        category: a category id such as `missing.opening`.
        lang: "zh" or "en".
        declared: a checker's category descriptions (`checker.rule_set.categories`), for
            categories a pack declared: `粗鲁用语: rude words` gives 粗鲁用语 (zh) and rude words (en).
    """
    known = CATEGORY_NAMES.get(category)
    if known is not None:
        return known[0] if lang == "zh" else known[1]
    description = (declared or {}).get(category, "")
    if not description:
        return category
    short, colon, rest = description.replace("：", ":").partition(":")
    if lang != "zh" and colon and rest.strip():
        return rest.strip()
    return short.strip() or category


def category_names(categories: Mapping[str, str] | None = None, lang: str = "zh") -> dict[str, str]:
    """{category id: short name} for the bundled categories and every declared one."""
    ids = dict.fromkeys([*CATEGORY_NAMES, *(categories or {})])
    return {category: category_name(category, lang, categories) for category in ids}
