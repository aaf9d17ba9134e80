from pathlib import Path

import pytest

from veil import Blur, Fill, Pixelate, Policy, PolicyError


def test_defaults_protect_every_kind_with_a_fill() -> None:
    policy = Policy()
    assert policy.enabled("face") and policy.enabled("text.EMAIL_ADDRESS")
    assert policy.operator_for("face") == Fill()
    assert policy.jpeg_quality >= 95


def test_yaml_policy_sets_operator_threshold_and_margin(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "operator: pixelate\n"
        "kinds:\n"
        "  face: {operator: {name: blur, strength: 0.8}, threshold: 0.3, margin: 0.2}\n"
        "  plate: {enabled: false}\n"
    )
    policy = Policy.load(path)
    assert policy.operator_for("face") == Blur(strength=0.8)
    assert policy.rule("face").threshold == 0.3 and policy.rule("face").margin == 0.2
    assert not policy.enabled("plate")
    assert policy.operator_for("text.PERSON") == Pixelate()


def test_kind_family_rule_applies_to_its_members() -> None:
    policy = Policy.from_dict({"kinds": {"text": {"operator": "blur"}}})
    assert policy.operator_for("text.EMAIL_ADDRESS") == Blur()
    assert policy.operator_for("face") == Fill()


def test_policy_is_frozen() -> None:
    policy = Policy()
    with pytest.raises(ValueError, match="frozen"):
        policy.jpeg_quality = 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("operator: smudge\n", "operator"),
        ("kinds: {face: {threshold: 7}}\n", "threshold"),
        ("jpeg_quality: 50\n", "jpeg_quality"),
        ("colour: red\n", "colour"),
        ("- a list\n", "mapping"),
        ("kinds: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_policy_files_give_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        Policy.load(path)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        Policy.load(tmp_path / "nope.yaml")
