"""The compiled rule base kept on disk, so that a process starts without validating and
compiling packs it has already compiled.

What the compilation can depend on is in the key (SHA-256): the bytes of every pack, with
its resolved path and the plugin that contributes it, in order; the bytes of every module
of ``jdm_cds`` and of every file of ``jdm_cds.rules`` (the core packs and the treatment
classes: a new version, or any edit of an editable install, is a new key); the versions of
Python, PyYAML and pydantic. Only a rule base that loaded without errors is stored; a
pack with errors is read and refused as without a cache, every time.

The file is read only when it is ours: the folder and the file belong to this user and
are writable by no one else, and the file's payload matches the SHA-256 it was written
with (a torn or altered file is ignored and written again). Any failure to read or write
the cache only costs the compilation it would have saved.

Where: ``JDM_CDS_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/jdm-cds``, else
``~/.cache/jdm-cds``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import pydantic
import yaml

from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rulebase import Source, load_rulebase

CACHE_SETTING = "JDM_CDS_CACHE_DIR"
MAGIC = b"jdm-cds compiled rule base 1\n"
KEEP = 16  # rule bases kept (the most recently written): each version or edit adds one
_DIGEST = hashlib.sha256().digest_size


def cache_dir() -> Path | None:
    """The cache folder the settings give; None: no cache."""
    chosen = os.environ.get(CACHE_SETTING)
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jdm-cds"


def _files_under(folder: str, name: str, suffix: str) -> list[tuple[str, str]]:
    """Every file under ``folder`` whose name ends with ``suffix`` (none in ``__pycache__``),
    as (``name``/relative path, path). Walked with ``os.scandir``: the same list as
    ``Path.rglob`` at a third of its cost, which a warm start pays on every run."""
    found: list[tuple[str, str]] = []
    pending = [(folder, name)]
    while pending:
        here, label = pending.pop()
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=True):
                    if entry.name != "__pycache__":
                        pending.append((entry.path, f"{label}/{entry.name}"))
                elif entry.name.endswith(suffix) and entry.is_file(follow_symlinks=True):
                    found.append((f"{label}/{entry.name}", entry.path))
    return found


def _code_files() -> list[tuple[str, str]]:
    """Every module of jdm_cds and every file of jdm_cds.rules, by a stable name."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # jdm_cds's
    rules = str(resources.files("jdm_cds.rules"))
    return sorted(_files_under(package, "jdm_cds", ".py")
                  + _files_under(rules, "jdm_cds.rules", ""))


def cache_key(sources: Iterable[Source]) -> str:
    """What the compiled rule base of ``sources`` depends on, as one digest."""
    digest = hashlib.sha256(MAGIC)

    def part(data: bytes) -> None:  # length-prefixed, so that no two inputs run together
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    for text in (sys.version, yaml.__version__, pydantic.VERSION):
        part(text.encode())
    for name, file in _code_files():
        part(name.encode())
        with open(file, "rb") as code:
            part(code.read())
    for path, plugin in sources:
        part(str(Path(path).resolve()).encode())
        part((plugin or "").encode())
        part(Path(path).read_bytes())
    return digest.hexdigest()


def _ours(path: Path, folder: bool) -> bool:
    """Owned by this user, writable by no one else (and a folder or a regular file)."""
    try:
        found = path.lstat()
    except OSError:
        return False
    kind = stat.S_ISDIR if folder else stat.S_ISREG
    return (kind(found.st_mode) and found.st_uid == os.getuid()
            and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read(path: Path) -> RuleBase | None:
    if not (_ours(path.parent, folder=True) and _ours(path, folder=False)):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, digest, payload = data[:len(MAGIC)], data[len(MAGIC):len(MAGIC) + _DIGEST], \
        data[len(MAGIC) + _DIGEST:]
    if head != MAGIC or hashlib.sha256(payload).digest() != digest:
        return None
    try:
        found = pickle.loads(payload)
    except Exception:
        return None
    return found if isinstance(found, RuleBase) else None


def _write(path: Path, rulebase: RuleBase) -> None:
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _ours(folder, folder=True):
            return
        payload = pickle.dumps(rulebase, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".rulebase-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, path)  # whole or not at all, for concurrent processes
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        kept = sorted(folder.glob("*.rulebase"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        return


def cached_rulebase(sources: Iterable[Source]) -> RuleBase:
    """``load_rulebase(sources)``, from the cache when it holds the same inputs' result.

    Raises ``RuleLoadError`` exactly as ``load_rulebase`` does (errors are never cached).
    """
    sources = list(sources)
    folder = cache_dir()
    if folder is None:
        return load_rulebase(sources)
    try:
        path = folder / f"{cache_key(sources)}.rulebase"
    except OSError:  # a pack that cannot be read: load_rulebase says so
        return load_rulebase(sources)
    found = _read(path)
    if found is not None:
        return found
    rulebase = load_rulebase(sources)
    _write(path, rulebase)
    return rulebase
