"""The one way packs become rules: `PackSource`, built by `scriptcheck.load`, the worker pool,
Spark, `diff` and `lint` alike.

A `PackSource` is the list of packs in load order (bundled packs first unless told otherwise,
then each of the caller's packs after the packs it `extends`) plus the speaker aliases. It
keeps each pack's YAML text, so it pickles as plain strings: a worker process or a Spark
executor rebuilds exactly the rules the caller loaded, without the files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._model import RulePack
from .files import bundled_pack_paths, pack_tree, read_pack_text, resolve_pack_argument
from .resolve import RuleSet, resolve
from .schema import parse_pack

PackText = tuple[str, str]  # (YAML text, the path shown in messages)


@dataclass(frozen=True, slots=True)
class PackSource:
    """Packs in load order and speaker aliases: everything a checker is built from.

    `texts` holds each pack's source, `(yaml_text, shown_path)`, or the parsed `RulePack` when
    the caller gave one. `parsed` keeps the packs already parsed in this process (not pickled).
    """

    texts: tuple[PackText | RulePack, ...]
    speaker_aliases: tuple[tuple[str, str], ...] = ()
    parsed: tuple[RulePack, ...] = field(default=(), compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackSource, (self.texts, self.speaker_aliases))  # texts only: parsed again where it lands

    @classmethod
    def load(
        cls,
        packs: Iterable[str | Path | RulePack] = (),
        *,
        defaults: bool = True,
        speaker_aliases: Mapping[str, str] | None = None,
    ) -> PackSource:
        """The bundled packs (unless `defaults=False`), then `packs` (paths, bundled names or parsed packs).

        A pack's `extends` are loaded before it; a pack met twice (a bundled pack named again,
        or extended by two packs) is loaded once.

        Raises:
            RulePackError: a pack is missing or malformed (the message has path:line:column).
        """
        loaded: list[RulePack] = []
        texts: list[PackText | RulePack] = []

        def add(pack: RulePack, text: PackText | RulePack) -> None:
            if any(Path(p.path).name == Path(pack.path).name and p.name == pack.name for p in loaded):
                return  # already loaded (a bundled pack named again, or extended twice)
            loaded.append(pack)
            texts.append(text)

        if defaults:
            for path in bundled_pack_paths():
                shown = f"rules/{path.name}"
                source = read_pack_text(path, shown)
                add(parse_pack(source, shown), (source, shown))
        for spec in packs:
            if isinstance(spec, RulePack):
                if not any(p.path == spec.path and p.name == spec.name for p in loaded):
                    loaded.append(spec)
                    texts.append(spec)
                continue
            for pack, text in pack_tree(resolve_pack_argument(spec)):
                add(pack, text)
        return cls(tuple(texts), _alias_pairs(speaker_aliases), tuple(loaded))

    @classmethod
    def of(cls, packs: Sequence[RulePack], *, speaker_aliases: Mapping[str, str] | None = None) -> PackSource:
        """Packs parsed already, in load order (`diff` and `lint` compose their own lists)."""
        return cls(tuple(packs), _alias_pairs(speaker_aliases), tuple(packs))

    def packs(self) -> list[RulePack]:
        """The parsed packs, in load order."""
        if self.parsed:
            return list(self.parsed)
        return [text if isinstance(text, RulePack) else parse_pack(*text) for text in self.texts]

    def rule_set(self) -> RuleSet:
        """The resolved rules (overrides and disables applied, settings merged).

        Raises:
            RulePackError: duplicate ids, overrides or disables naming nothing, bad aliases.
        """
        return resolve(self.packs(), dict(self.speaker_aliases) or None)

    @property
    def key(self) -> str:
        """A digest of the texts and aliases: equal sources share one compiled checker per process."""
        parts = [text if not isinstance(text, RulePack) else [text.path, text.name] for text in self.texts]
        blob = json.dumps([parts, self.speaker_aliases], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _alias_pairs(aliases: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((aliases or {}).items()))
