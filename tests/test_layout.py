"""The house rules on size: no module in bot/ over 400 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def test_modules_and_functions_stay_small() -> None:
    too_big = []
    for path in sorted(BOT.rglob("*.py")):
        source = path.read_text()
        if len(source.splitlines()) > 400:
            too_big.append(f"{path.name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_big.append(f"{path.name}: {node.name}() is {length} lines")
    assert not too_big, too_big
