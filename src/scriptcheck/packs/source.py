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
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .._errors import RulePackError
from .._model import TURN_SPEAKERS, RulePack
from ..learned.model import ModelError, bundled_model_text, read_model_text
from ..text.pinyin import CONFUSIONS, DEFAULT_CONFUSIONS
from .files import (
    bundled_pack_paths,
    bundled_rules_dir,
    pack_tree,
    profile_pack_path,
    read_pack_text,
    resolve_pack_argument,
)
from .resolve import RuleSet, resolve
from .schema import AUTO_PROFILE, PROFILE_CHOICES, parse_pack

PackText = tuple[str, str]  # (YAML text, the path shown in messages)
# The learned model a checker uses: ("bundled",), ("none",), or ("text", model file text, path shown).
ModelSpec = tuple[str, ...]
BUNDLED_MODEL: ModelSpec = ("bundled",)
NO_MODEL: ModelSpec = ("none",)


@dataclass(frozen=True, slots=True)
class PackSource:
    """Packs in load order and speaker aliases: everything a checker is built from.

    `texts` holds each pack's source, `(yaml_text, shown_path)`, or the parsed `RulePack` when
    the caller gave one. `parsed` keeps the packs already parsed in this process (not pickled).
    """

    texts: tuple[PackText | RulePack, ...]
    speaker_aliases: tuple[tuple[str, str], ...] = ()
    model: ModelSpec = BUNDLED_MODEL
    asr: tuple[str, ...] | None = None  # the caller's ASR choice: None (the packs' settings), () off, ("on", *confusions)
    # profile `auto`: where a profile pack goes (after the bundled packs); each transcript's channel picks it
    auto_at: int | None = None
    parsed: tuple[RulePack, ...] = field(default=(), compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # texts only: parsed again where it lands
        return (PackSource, (self.texts, self.speaker_aliases, self.model, self.asr, self.auto_at))

    @classmethod
    def load(
        cls,
        packs: Iterable[str | Path | RulePack] = (),
        *,
        defaults: bool = True,
        speaker_aliases: Mapping[str, str] | None = None,
        model: str | Path | bool | None = None,
        profile: str | None = None,
        asr: bool | Sequence[str] | None = None,
    ) -> PackSource:
        """The bundled packs (unless `defaults=False`), the channel profile, then `packs` (paths, bundled names
        or parsed packs).

        A pack's `extends` are loaded before it; a pack met twice (a bundled pack named again,
        or extended by two packs) is loaded once. `profile` (phone or chat; default: what the packs'
        settings say, else phone) adds its bundled pack right after the bundled packs, so your packs
        can still override what it sets (with `defaults=False`, after your packs: it adjusts their rules);
        `auto` leaves the choice to each transcript's `channel`. `model`: None for what the packs' settings say
        (the bundled model unless a pack names another or "none"), False or "none" for no model,
        True or "bundled" for the bundled one, or a path to a model folder or file. `asr`: None for
        what the packs' settings say (off unless one turns it on), False, True, or a list of
        confusion sets (zh-z, n-l…) to match by sound with.

        Raises:
            RulePackError: a pack is missing or malformed (the message has path:line:column).
            ModelError: the model cannot be read.
        """
        loaded: list[RulePack] = []
        texts: list[PackText | RulePack] = []

        def add(pack: RulePack, text: PackText | RulePack) -> None:
            # NOTE: the same pack, by name and by what it says: a bundled pack named again or extended twice loads once,
            # but a user's edited copy of rules/banned.yaml (pack: banned) is a pack of its own, never silently dropped
            if any(p.name == pack.name and _same_text(t, text) for p, t in zip(loaded, texts)):
                return
            loaded.append(pack)
            texts.append(text)

        if defaults:
            for path in bundled_pack_paths():
                shown = f"rules/{path.name}"
                source = read_pack_text(path, shown)
                add(parse_pack(source, shown), (source, shown))
        # Where a profile's pack goes: after the bundled packs, whose rules it adjusts and your packs may adjust
        # again; with no bundled packs (`defaults=False`), after yours, whose rules are then the ones it adjusts.
        bundled = len(loaded) if defaults else None
        for spec in packs:
            if isinstance(spec, RulePack):
                if not any(p.path == spec.path and p.name == spec.name for p in loaded):
                    loaded.append(spec)
                    texts.append(spec)
                continue
            for pack, text in pack_tree(resolve_pack_argument(spec)):
                add(pack, text)
        chosen = _setting(loaded, "profile") if profile is None else profile
        if chosen is not None and chosen not in PROFILE_CHOICES:
            raise RulePackError(f"unknown profile {chosen!r}; use {', '.join(PROFILE_CHOICES)}")
        at = bundled if bundled is not None else len(loaded)
        built = cls(tuple(texts), _alias_pairs(speaker_aliases), model_spec(model, loaded), asr_spec(asr), at, tuple(loaded))
        if chosen == AUTO_PROFILE:
            return built
        return built.with_profile(chosen) if chosen is not None else replace(built, auto_at=None)

    def with_profile(self, profile: str) -> PackSource:
        """The same packs with a channel profile's bundled pack where `load` left room for it: right after
        the bundled packs, so the caller's packs can still override what it sets (after the caller's
        packs when there are no bundled ones)."""
        at = self.auto_at if self.auto_at is not None else 0
        path = profile_pack_path(profile)
        shown = f"rules/profiles/{path.name}"
        text = read_pack_text(path, shown)
        parsed = self.packs()
        return PackSource(
            (*self.texts[:at], (text, shown), *self.texts[at:]),
            self.speaker_aliases,
            self.model,
            self.asr,
            None,
            (*parsed[:at], parse_pack(text, shown), *parsed[at:]),
        )

    @property
    def profile(self) -> str:
        """The channel profile these packs include (phone when none does; auto when each transcript's channel picks)."""
        if self.auto_at is not None:
            return AUTO_PROFILE
        for pack in self.packs():
            if pack.name.startswith("profile_"):
                return pack.name.removeprefix("profile_")
        return "phone"

    @classmethod
    def of(
        cls,
        packs: Sequence[RulePack],
        *,
        speaker_aliases: Mapping[str, str] | None = None,
        model: str | Path | bool | None = None,
    ) -> PackSource:
        """Packs parsed already, in load order (`diff` and `lint` compose their own lists)."""
        return cls(tuple(packs), _alias_pairs(speaker_aliases), model_spec(model, packs), None, None, tuple(packs))

    def with_model(self, model: str | Path | bool | None) -> PackSource:
        """The same packs with another model (None: what the packs say)."""
        return PackSource(self.texts, self.speaker_aliases, model_spec(model, self.packs()), self.asr, self.auto_at, self.parsed)

    def model_text(self) -> tuple[str, str] | None:
        """(model file text, path shown) of the model to load, or None for no model."""
        if self.model == NO_MODEL:
            return None
        if self.model == BUNDLED_MODEL:
            return bundled_model_text(), "bundled model"
        return self.model[1], self.model[2]

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
        rule_set = resolve(self.packs(), dict(self.speaker_aliases) or None)
        if self.asr is None:
            return rule_set
        settings = replace(rule_set.settings, asr=bool(self.asr), asr_confusions=tuple(self.asr[1:]))
        return replace(rule_set, settings=settings)

    @property
    def key(self) -> str:
        """A digest of the texts and aliases: equal sources share one compiled checker per process."""
        parts = [text if not isinstance(text, RulePack) else [text.path, text.name] for text in self.texts]
        blob = json.dumps([parts, self.speaker_aliases, self.model, self.asr, self.auto_at], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def confusion_names(value: str) -> Literal[True] | list[str]:
    """An ASR choice written as text, as --asr, `asr =` in scriptcheck.toml and `load(asr=...)` take it: "all" is
    True (every confusion set), "homophones" an empty list (none), "zh-z,n-l" those names (not checked here)."""
    if value.strip() == "all":
        return True
    if value.strip() == "homophones":
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def asr_spec(asr: bool | str | Sequence[str] | None) -> tuple[str, ...] | None:
    """The caller's ASR choice as stored: None, () for off, ("on", *confusions) for on.

    True means every confusion set; a list names them (empty: homophones only); text is read by `confusion_names`.

    Raises:
        RulePackError: an unknown confusion set.
    """
    if asr is None:
        return None
    if asr is False:
        return ()
    if isinstance(asr, str):
        if asr.strip() not in ("all", "homophones") and not confusion_names(asr):
            raise RulePackError(f"asr={asr!r} names no confusion set; use 'all', 'homophones' or names such as 'zh-z,n-l'")
        asr = confusion_names(asr)
    if not isinstance(asr, bool) and not (isinstance(asr, Sequence) and all(isinstance(name, str) for name in asr)):
        raise TypeError(f"asr must be True, False, None, text such as 'zh-z,n-l' or a list of names, not {type(asr).__name__} {asr!r}")
    confusions = DEFAULT_CONFUSIONS if asr is True else tuple(asr)
    unknown = [name for name in confusions if name not in CONFUSIONS]
    if unknown:
        raise RulePackError(f"unknown ASR confusion {unknown[0]!r}; use {', '.join(CONFUSIONS)}")
    return ("on", *confusions)


def _setting(packs: Sequence[RulePack], key: str) -> Any:
    """The value the last pack that sets `key` gives it, or None."""
    for pack in reversed(packs):
        if key in pack.settings:
            return pack.settings[key]
    return None


def model_spec(model: str | Path | bool | None, packs: Sequence[RulePack]) -> ModelSpec:
    """Which model: the caller's choice, else the last pack whose settings name one, else the bundled one.

    A model named in a pack's settings is a path relative to that pack file.
    """
    if model is None:
        for pack in reversed(packs):
            named = pack.settings.get("model")
            if named is not None:
                return _named_model(named, pack)
        return BUNDLED_MODEL
    if model is False or model == "none":
        return NO_MODEL
    if model is True or model == "bundled":
        return BUNDLED_MODEL
    if not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"model must be a path to a model folder or file, 'bundled', 'none', True or False; got {type(model).__name__} {model!r}")
    text, shown = read_model_text(model)
    return ("text", text, shown)


def _named_model(named: str, pack: RulePack) -> ModelSpec:
    if named in ("none", "bundled"):
        return NO_MODEL if named == "none" else BUNDLED_MODEL
    folder = Path(pack.path).parent if Path(pack.path).is_file() else bundled_rules_dir()
    try:
        text, shown = read_model_text(folder / named)
    except ModelError as error:
        raise ModelError(f"{pack.path}: settings.model {named!r} (relative to the pack): {error}") from None
    return ("text", text, shown)


def _same_text(one: PackText | RulePack, other: PackText | RulePack) -> bool:
    if isinstance(one, tuple) and isinstance(other, tuple):
        return one[0] == other[0]
    return one is other


def _alias_pairs(aliases: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """`speaker_aliases` as stored, checked: names to sides, never a side's own name to another side.

    Raises:
        TypeError: not a mapping of text to text.
        RulePackError: a side's own name mapped to another side ({"agent": "customer"} made every agent turn a customer's).
    """
    if aliases is None:
        return ()
    if not isinstance(aliases, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        shown = type(aliases).__name__ if not isinstance(aliases, Mapping) else "a mapping with a name or side that is not text"
        raise TypeError(f"speaker_aliases must map names to sides, such as {{'bot': 'agent'}}, not {shown}")
    for name, side in aliases.items():
        if name.strip().casefold() in TURN_SPEAKERS and name.strip().casefold() != side.strip().casefold():
            raise RulePackError(f"speaker alias {name!r} -> {side!r}: {name.strip()!r} is a side's own name; map other names to it")
    return tuple(sorted(aliases.items()))
