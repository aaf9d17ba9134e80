import veil


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(veil) if not name.startswith("_")}
    modules = {"anonymize", "detect", "errors", "images", "pipeline", "policy", "regions",
               "report", "batch", "cli", "pseudo", "audit", "server", "eval", "timing", "text"}
    assert public - modules == set(veil.__all__)
    assert veil.__all__ == sorted(veil.__all__)
    for name in veil.__all__:
        assert getattr(veil, name).__doc__, f"{name} has no docstring"
