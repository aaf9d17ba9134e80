"""The README's Python examples run as they are written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, "README.md", "exec"), namespace)
        report = namespace["report"]
        assert report.counts() == {"face": 1}  # type: ignore[attr-defined]
        assert namespace["answer"] == "Sure, I wrote to jane.roe@example.org."
        assert namespace["prompt"].text == (  # type: ignore[attr-defined]
            "Email <EMAIL_ADDRESS_1> about <PERSON_1>.")
