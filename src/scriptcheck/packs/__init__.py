"""Rule packs: YAML -> validated `RulePack`s -> one resolved `RuleSet`, and where each field came from.

    schema.py      one pack's text -> RulePack (keys, types, categories, examples; kinds read their own keys)
    files.py       bundled packs, pack arguments, reading files, `extends`
    resolve.py     packs in order -> RuleSet (overrides, disables, settings)
    source.py      PackSource: THE builder every caller uses (load, pool, Spark, diff, lint)
    provenance.py  `rules show`: the file:line:column of every field of a resolved rule
"""

from .files import bundled_pack_paths, bundled_rules_dir, load_pack, load_pack_tree, resolve_pack_argument
from .resolve import RuleSet, resolve
from .schema import BUILTIN_CATEGORIES, parse_pack
from .source import PackSource

__all__ = [
    "BUILTIN_CATEGORIES",
    "PackSource",
    "RuleSet",
    "bundled_pack_paths",
    "bundled_rules_dir",
    "load_pack",
    "load_pack_tree",
    "parse_pack",
    "resolve",
    "resolve_pack_argument",
]
