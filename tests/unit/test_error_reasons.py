"""One vocabulary of error reasons: `Reason` in services/common/errors.py, each documented in
proto/README.md with its status code, and code that sends only those, with those codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from services.common import errors
from services.common.errors import Reason

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "proto" / "README.md"
SOURCES = sorted(p for folder in ("services", "gateway") for p in (ROOT / folder).rglob("*.py"))
# `| `REASON` | CODE[, CODE] | when |` rows of the README's reasons table
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| ([A-Z_, ]+) \|", re.M)


def documented() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for reason, codes in ROW.findall(README.read_text(encoding="utf-8")):
        table.setdefault(reason, set()).update(c.strip() for c in codes.split(","))
    return table


def error_classes() -> dict[str, errors.Code]:
    """Every DomainError subclass the sources can name, by class name, with its code."""
    found: dict[str, errors.Code] = {}
    pending: list[type[errors.DomainError]] = [errors.DomainError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls.code
        pending.extend(cls.__subclasses__())
    return found


def test_every_reason_is_documented_and_every_documented_reason_exists() -> None:
    """proto/README.md lists exactly the members of Reason."""
    table = documented()
    assert set(table) == {r.value for r in Reason}, (
        f"undocumented: {sorted({r.value for r in Reason} - set(table))}; "
        f"documented but not in Reason: {sorted(set(table) - {r.value for r in Reason})}")
    for codes in table.values():
        assert codes <= {c.name for c in errors.Code}


def test_no_reason_is_a_bare_string() -> None:
    """Code names reasons through the enum, so a typo is an AttributeError, not a new reason."""
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "reason" and isinstance(node.value, ast.Constant):
                offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
    assert not offenders, offenders


def test_each_error_is_raised_with_a_code_its_reason_is_documented_for() -> None:
    """`InvalidArgument(..., reason=Reason.X)` only where the README documents X under INVALID_ARGUMENT
    (and likewise for every error class), and each class's default reason under its own code."""
    table, classes = documented(), error_classes()
    wrong, checked = [], 0
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in classes:
                continue
            for keyword in node.keywords:
                value = keyword.value
                if (keyword.arg == "reason" and isinstance(value, ast.Attribute)
                        and isinstance(value.value, ast.Name) and value.value.id == "Reason"):
                    checked += 1
                    if classes[name].name not in table.get(value.attr, set()):
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {name} with {value.attr}")
    assert not wrong, wrong
    assert checked > 100, "the scan found too few raise sites: has the Reason import style changed?"
    pending: list[type[errors.DomainError]] = [errors.DomainError]
    while pending:
        cls = pending.pop()
        if cls.default_reason is not None:
            assert cls.code.name in table[cls.default_reason.value], cls
        pending.extend(cls.__subclasses__())
