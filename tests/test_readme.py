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


def test_readme_policies_load() -> None:
    """Every YAML block of the README is a valid policy; the faces-only one runs no OCR."""
    import yaml

    from veil import Policy
    from veil.pipeline import default_detectors

    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    policies = [Policy.from_dict(yaml.safe_load(block)) for block in blocks]
    assert len(policies) >= 3
    faces_only = [p for p in policies if not p.enabled("text")]
    assert faces_only
    assert [d.name for d in default_detectors(faces_only[0])] == ["centerface"]
