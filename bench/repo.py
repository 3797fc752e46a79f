"""A temporary Triton model repository for a benchmark run: the chosen models of `models/`
as shipped (symlinked), plus `<name>_nobatch` variants whose config is the shipped one minus
its `dynamic_batching` block, sharing the same `1/` (symlinked), for the batching comparison.
"""

from __future__ import annotations

import re
from pathlib import Path

NOBATCH_SUFFIX = "_nobatch"


def _skip_block(text: str, start: int) -> int:
    """Index just past the `{...}` block that opens at or after `start` (braces inside
    strings and `#` comments are ignored)."""
    i = text.index("{", start)
    depth = 0
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            i = text.find("\n", i)
            if i < 0:
                break
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces in config.pbtxt")


def strip_dynamic_batching(config: str) -> str:
    """The config text with every top-level `dynamic_batching { ... }` block removed."""
    pattern = re.compile(r"^[ \t]*dynamic_batching\s*:?\s*\{", re.MULTILINE)
    while (match := pattern.search(config)) is not None:
        end = _skip_block(config, match.start())
        config = config[:match.start()] + config[end:].lstrip(" \t")
    return config


def has_dynamic_batching(config: str) -> bool:
    return re.search(r"^[ \t]*dynamic_batching\s*:?\s*\{", config, re.MULTILINE) is not None


def rename(config: str, name: str) -> str:
    """Triton requires `name:` to match the model's directory."""
    renamed, count = re.subn(r'^(\s*name\s*:\s*)"[^"]*"', rf'\g<1>"{name}"', config, count=1, flags=re.MULTILINE)
    return renamed if count else f'name: "{name}"\n' + config


def build(source: Path, target: Path, models: list[str], nobatch: list[str]) -> list[str]:
    """Fills `target` with `models` (symlinks to `source/<model>`) and a `_nobatch` variant of
    each model in `nobatch`; returns every model name the repository holds."""
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for model in models:
        (target / model).symlink_to((source / model).resolve(), target_is_directory=True)
        names.append(model)
    for model in nobatch:
        shipped = (source / model / "config.pbtxt").read_text()
        variant = model + NOBATCH_SUFFIX
        directory = target / variant
        directory.mkdir()
        (directory / "config.pbtxt").write_text(rename(strip_dynamic_batching(shipped), variant))
        for version in (source / model).iterdir():
            if version.is_dir() and version.name.isdigit():
                (directory / version.name).symlink_to(version.resolve(), target_is_directory=True)
        names.append(variant)
    return names
