"""Pack files: the bundled packs, pack arguments (paths or bundled names), reading a file, `extends`."""

from __future__ import annotations

import functools
import os
import stat
import tempfile
from importlib import resources
from pathlib import Path

from .._errors import RulePackError
from .._model import RulePack, SourceLocation
from .._yaml import MAX_PACK_BYTES
from .schema import PACK_NAME, parse_pack


def bundled_rules_dir() -> Path:
    """The folder holding the bundled packs (inside the wheel, or `rules/` in a checkout)."""
    packaged = resources.files("scriptcheck") / "rules"
    if packaged.is_dir():
        on_disk = Path(str(packaged))
        return on_disk if on_disk.is_dir() else _extracted(str(packaged))
    return Path(__file__).resolve().parents[3] / "rules"


@functools.lru_cache(maxsize=1)
def _extracted(key: str) -> Path:
    """Copy the bundled packs out of a zip import (a wheel on Spark's --py-files) once per process."""
    folder = Path(tempfile.mkdtemp(prefix="scriptcheck-rules-"))
    packaged = resources.files("scriptcheck") / "rules"
    for entry in packaged.iterdir():
        if entry.name.endswith(".yaml"):
            (folder / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    profiles = packaged / "profiles"
    if profiles.is_dir():
        (folder / "profiles").mkdir()
        for entry in profiles.iterdir():
            if entry.name.endswith(".yaml"):
                (folder / "profiles" / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def bundled_pack_paths() -> list[Path]:
    """Paths of all bundled packs, in a fixed order (profiles are not among them)."""
    return sorted(bundled_rules_dir().glob("*.yaml"))


def profile_pack_path(profile: str) -> Path:
    """The bundled pack of a channel profile (rules/profiles/<profile>.yaml)."""
    return bundled_rules_dir() / "profiles" / f"{profile}.yaml"


def resolve_pack_argument(spec: str | Path) -> Path:
    """Turn a pack argument (a path, or the name of a bundled pack) into a path."""
    if not isinstance(spec, (str, os.PathLike)):
        raise RulePackError(
            f"a pack is a path to a YAML file, a bundled pack name or a RulePack, not {type(spec).__name__} {spec!r}"
        )
    path = Path(spec)
    if path.exists():
        return path
    bundled = bundled_rules_dir() / f"{spec}.yaml"
    if isinstance(spec, str) and PACK_NAME.match(spec) and bundled.exists():
        return bundled
    names = ", ".join(p.stem for p in bundled_pack_paths())
    raise RulePackError(f"pack {str(spec)!r} not found: give a path to a YAML file or a bundled pack name ({names})")


def read_pack_text(path: str | Path, shown: str) -> str:
    """The text of a pack file, which must be a regular file of at most MAX_PACK_BYTES.

    The size is checked in bytes before anything is read, and no more than the limit is ever
    read: a FIFO or a character device (which never ends) is refused without reading from it.

    Raises:
        RulePackError: missing, not a regular file, too large, unreadable or not UTF-8.
    """
    try:
        # NOTE: opened without blocking, so a FIFO nobody writes to cannot hang us here.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise RulePackError(f"pack file not found: {shown}") from None
    except IsADirectoryError:
        raise RulePackError(f"pack {shown} is a directory; give a YAML file (a pack is one file)") from None
    except OSError as error:
        raise RulePackError(f"cannot read pack {shown}: {error.strerror}") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):  # Linux opens a directory read-only without complaint; reading it fails
        os.close(fd)
        raise RulePackError(f"pack {shown} is a directory; give a YAML file (a pack is one file)")
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(info.st_mode):
            raise RulePackError(f"pack {shown} is not a regular file (a pipe, a device…); give a YAML file")
        if info.st_size > MAX_PACK_BYTES:
            raise RulePackError(
                f"pack is over {MAX_PACK_BYTES:,} bytes ({info.st_size:,}); split it into several packs", SourceLocation(shown, 1)
            )
        try:
            data = stream.read(MAX_PACK_BYTES + 1)
        except OSError as error:
            raise RulePackError(f"cannot read pack {shown}: {error.strerror}") from None
    if len(data) > MAX_PACK_BYTES:  # it grew while we looked
        raise RulePackError(f"pack is over {MAX_PACK_BYTES:,} bytes; split it into several packs", SourceLocation(shown, 1))
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as error:
        raise RulePackError(f"pack is not UTF-8 (byte {error.start}): save it as UTF-8", SourceLocation(shown, 1)) from None


def load_pack(path: str | Path, *, display_path: str | None = None) -> RulePack:
    """Read and validate one pack file.

    Raises:
        RulePackError: with the file:line:column of the first problem found.
    """
    shown = display_path or str(path)
    return parse_pack(read_pack_text(path, shown), shown)


def load_pack_tree(path: str | Path, *, display_path: str | None = None) -> list[RulePack]:
    """Load a pack after the packs it `extends`, depth first, each exactly once.

    `extends` entries are bundled pack names or paths relative to the extending file.

    Raises:
        RulePackError: a missing target or a cycle, located at the `extends` entry.
    """
    return [pack for pack, _text in pack_tree(path, display_path=display_path)]


def pack_tree(
    path: str | Path, *, display_path: str | None = None, _stack: tuple[Path, ...] = ()
) -> list[tuple[RulePack, tuple[str, str]]]:
    """`load_pack_tree`, each pack with its source `(yaml_text, shown_path)`."""
    path = Path(path)
    here = path.resolve()
    shown = display_path or str(path)
    text = read_pack_text(path, shown)
    pack = parse_pack(text, shown)
    result: list[tuple[RulePack, tuple[str, str]]] = []
    for spec, location in pack.extends:
        relative = path.parent / spec
        if relative.exists():
            target = relative
        else:
            try:
                target = resolve_pack_argument(spec)
            except RulePackError as error:
                raise RulePackError(f"extends {spec!r}: not found next to this pack; {error.message}", location) from None
        if target.resolve() in (*_stack, here):
            chain = " -> ".join(p.name for p in (*_stack, here, target.resolve()))
            raise RulePackError(f"extends cycle: {chain}", location)
        target_shown = f"rules/{target.name}" if target.resolve() in {p.resolve() for p in bundled_pack_paths()} else str(target)
        try:
            tree = pack_tree(target, display_path=target_shown, _stack=(*_stack, here))
        except RulePackError as error:
            if error.location is not None:
                raise
            # the target cannot be read (a directory, a pipe…): say so at the `extends` entry
            raise RulePackError(f"extends {spec!r}: {error.message}", location) from None
        for loaded in tree:
            if not any(existing.path == loaded[0].path for existing, _ in result):
                result.append(loaded)
    result.append((pack, (text, shown)))
    return result
