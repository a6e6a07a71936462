"""Project configuration: `scriptcheck.toml`, or `[tool.scriptcheck]` in `pyproject.toml`.

Found by walking up from the working directory, the way Vale finds `.vale.ini` and sqlfluff
`.sqlfluff`, so a team writes its packs, profile and output defaults once instead of on every
command. The command line always wins; `--config FILE` names a file, `--no-config` ignores them.

    # scriptcheck.toml
    packs = ["packs/acme.yaml"]          # paths are relative to this file
    profile = "chat"
    pass_mark = 85
    model = "models/acme"                # or false: no learned stage
    [aliases]                            # speaker names -> agent | customer
    "坐席" = "agent"                      # quoted: TOML bare keys are ASCII
    [columns]                            # CSV input headers (as --columns)
    id = "会话ID"
    [output]
    format = "csv"
    only = "flagged"
    fields = ["agent", "team"]
    turn_base = 1
    lang = "zh"
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._model import TURN_SPEAKERS
from .._yaml import did_you_mean
from ..formats.writers import FORMATS as WRITER_FORMATS
from ..learned.model import model_file
from ..packs.schema import PROFILE_CHOICES
from ..text.pinyin import CONFUSIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "scriptcheck.toml"
REPORT_FORMATS = ("html", "xlsx")  # `report`'s, as cli/report.py lists them
_TOP_KEYS = {"packs", "no_defaults", "profile", "model", "asr", "pass_mark", "aliases", "columns", "output", "regex_timeout"}
# [output] keys and the command-line option each one stands for
OUTPUT_KEYS = {
    "format": "format", "only": "only", "fields": "fields", "bom": "bom", "turn_base": "turn_base", "lang": "lang",
    "max_transcripts": "max_transcripts", "by": "by", "workers": "workers", "fail_under": "fail_under",
}


class ConfigError(Exception):
    """A project config file that cannot be used; names the file and the key."""


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What a project config file sets, with pack and model paths made absolute."""

    path: Path
    packs: tuple[str, ...] = ()
    no_defaults: bool = False
    profile: str | None = None
    model: str | bool | None = None
    asr: Any = None
    pass_mark: float | None = None
    regex_timeout: float | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    output: Mapping[str, Any] = field(default_factory=dict)


def find_config(start: Path | None = None) -> Path | None:
    """The nearest `scriptcheck.toml`, or `pyproject.toml` with a `[tool.scriptcheck]` table, from `start` up."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _tool_table(pyproject) is not None:
            return pyproject
    return None


def _tool_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # someone else's broken pyproject is not our error
    table = data.get("tool", {}).get("scriptcheck") if isinstance(data.get("tool"), dict) else None
    return table if isinstance(table, dict) else None


def read_config(path: str | Path) -> ProjectConfig:
    """Read and check one config file.

    Raises:
        ConfigError: unreadable, not TOML, an unknown key or a value of the wrong type.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    where = str(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("scriptcheck") if isinstance(data.get("tool"), dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: no [tool.scriptcheck] table")
        data, where = table, f"{path} [tool.scriptcheck]"
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_TOP_KEYS))}")
    base = path.parent

    def expect(key: str, value: Any, kinds: tuple[type, ...], what: str) -> Any:
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds):
            raise ConfigError(f"{where}: {key} must be {what}, got {value!r}")
        return value

    packs = expect("packs", data.get("packs", []), (list,), "a list of pack paths or bundled pack names")
    if not all(isinstance(pack, str) for pack in packs):
        raise ConfigError(f"{where}: packs must be a list of strings")
    for key, (what, fine) in _SETTING_RULES.items():
        value = data.get(key)
        if value is not None and not fine(value):
            hint = did_you_mean(value, PROFILE_CHOICES) if key == "profile" else ""
            raise ConfigError(f"{where}: {key} must be {what}, got {value!r}{hint}")
    model = expect("model", data.get("model"), (str, bool), "a model folder or false")
    if isinstance(model, str) and not model.strip():
        raise ConfigError(f'{where}: model must be a model folder, "bundled" or false, got {model!r}')
    if isinstance(model, str) and model not in _MODEL_NAMES:
        model = str(base / os.path.expanduser(model))  # base / an absolute path is that path
        if not model_file(model).is_file():
            raise ConfigError(
                f"{where}: model: no model at {model}; give a folder written by `scriptcheck model train` "
                "(relative to this file), \"bundled\" or false"
            )
    output = expect("output", data.get("output", {}), (dict,), "a table ([output])")
    unknown = sorted(set(output) - set(OUTPUT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key output.{unknown[0]}; known: {', '.join(sorted(OUTPUT_KEYS))}")
    for key, value in output.items():
        problem = _output_problem(key, value)
        if problem:
            raise ConfigError(f"{where}: output.{key} must be {problem}, got {value!r}")
    aliases = expect("aliases", data.get("aliases", {}), (dict,), "a table of NAME = \"agent\" | \"customer\" | \"system\"")
    for name, speaker in aliases.items():
        if speaker not in TURN_SPEAKERS:
            raise ConfigError(f"{where}: aliases.{name} must be \"agent\", \"customer\" or \"system\", got {speaker!r}")
    columns = expect("columns", data.get("columns", {}), (dict,), "a table of field = \"CSV header\"")
    return ProjectConfig(
        path=path,
        packs=tuple(_relative(pack, base) for pack in packs),
        no_defaults=bool(expect("no_defaults", data.get("no_defaults", False), (bool,), "true or false")),
        profile=data.get("profile"),
        model=model,
        asr=data.get("asr"),
        pass_mark=data.get("pass_mark"),
        regex_timeout=data.get("regex_timeout"),
        aliases=dict(aliases),
        columns={str(key): str(value) for key, value in columns.items()},
        output=dict(output),
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _asr(value: Any) -> bool:
    """true, false, "all", "homophones", or confusion sets as a list or "zh-z,n-l" (as --asr takes them)."""
    if isinstance(value, str):  # strict: an empty name between commas is a mistake, not "none"
        value = True if value.strip() == "all" else [] if value.strip() == "homophones" else [name.strip() for name in value.split(",")]
    return isinstance(value, bool) or isinstance(value, list) and all(isinstance(name, str) and name in CONFUSIONS for name in value)


# what each top-level setting must be (the command line checks the same; checked here, the file is named)
_SETTING_RULES: dict[str, tuple[str, Any]] = {
    "profile": (f"one of {', '.join(PROFILE_CHOICES)}", lambda v: v in PROFILE_CHOICES),
    "asr": (f'true, false, "all", "homophones" or a list of confusion sets ({", ".join(CONFUSIONS)})', _asr),
    "pass_mark": ("a score from 0 to 100", lambda v: _number(v) and 0 <= v <= 100),
    "regex_timeout": ("0 (no limit) or a positive number of seconds", lambda v: _number(v) and v >= 0),
}
_MODEL_NAMES = ("bundled", "none")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# what each [output] value must be (the command line checks the same through argparse)
_WHOLE = "a whole number (0 or more)"
_OUTPUT_RULES: dict[str, tuple[str, Any]] = {
    "format": (f"one of {', '.join((*WRITER_FORMATS, *REPORT_FORMATS))}", lambda v: v in (*WRITER_FORMATS, *REPORT_FORMATS)),
    "only": ("one of failed, flagged, all", lambda v: v in ("failed", "flagged", "all")),
    "fields": ("a list of metadata field names", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v) or isinstance(v, str)),
    "by": ("a list of metadata field names", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v) or isinstance(v, str)),
    "bom": ("true or false", lambda v: isinstance(v, bool)),
    "turn_base": (_WHOLE, _whole),
    "max_transcripts": (_WHOLE, _whole),
    "workers": (_WHOLE, _whole),
    "lang": ("zh or en", lambda v: v in ("zh", "en")),
    "fail_under": ("a score from 0 to 100", lambda v: _number(v) and 0 <= v <= 100),
}


def _output_problem(key: str, value: Any) -> str | None:
    """What an [output] value should have been, or None when it is fine."""
    what, fine = _OUTPUT_RULES[key]
    return None if fine(value) else what


def _relative(value: str, base: Path) -> str:
    """A path relative to the config file, made absolute; a bundled pack name (no / or .yaml) stays as it is."""
    if "/" not in value and "\\" not in value and not value.endswith((".yaml", ".yml")) and "." not in value:
        return value  # a bundled pack name, or a model name such as "bundled"
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path))


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """--config FILE and --no-config."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--config", metavar="FILE",
        help="project config (default: the nearest scriptcheck.toml, or pyproject.toml with [tool.scriptcheck], "
        "from the working directory up)",
    )
    group.add_argument("--no-config", action="store_true", help="ignore project config files")


def project_config(args: argparse.Namespace) -> ProjectConfig | None:
    """The config this command runs with: --config, else the nearest one, else None (and None with --no-config)."""
    if getattr(args, "no_config", False):
        return None
    named = getattr(args, "config", None)
    if named:
        return read_config(named)
    found = find_config()
    return read_config(found) if found is not None else None


def apply_config(args: argparse.Namespace, config: ProjectConfig | None) -> None:
    """Fill every option the command line left unset from `config`; packs and aliases are added to.

    Config packs come first, so packs named on the command line still override them.
    """
    args.project_config = config
    if config is None:
        return
    if hasattr(args, "pack"):
        args.pack = [*config.packs, *args.pack]
    if hasattr(args, "no_defaults") and config.no_defaults:
        args.no_defaults = True
    for name in ("profile", "model", "regex_timeout"):
        if hasattr(args, name) and getattr(args, name) is None and getattr(config, name) is not None:
            if name == "model" and config.model is False:
                args.no_model = True
                continue
            setattr(args, name, config.model if name == "model" else getattr(config, name))
    if hasattr(args, "asr") and args.asr is None and config.asr not in (None, False):
        # what --asr would say: alone (True), "homophones" (an empty list: no confusion set) or "zh-z,n-l"
        args.asr = ",".join(config.asr) or "homophones" if isinstance(config.asr, list) else config.asr
    if hasattr(args, "speaker_alias"):
        args.speaker_alias = [*(f"{name}={speaker}" for name, speaker in config.aliases.items()), *args.speaker_alias]
    if hasattr(args, "columns") and config.columns:
        args.columns = [*(f"{key}={value}" for key, value in config.columns.items()), *(args.columns or [])]
    for key, dest in OUTPUT_KEYS.items():
        if key in config.output and hasattr(args, dest) and getattr(args, dest) is None:
            value = config.output[key]
            if dest == "format" and value not in getattr(args, "format_choices", ()):
                continue  # e.g. format = "csv" is for `check`, not for `eval`
            if dest in ("fields", "by") and isinstance(value, list):
                value = ",".join(map(str, value))
            setattr(args, dest, value)
