from types import ModuleType

import veil


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(veil) if not name.startswith("_")}
    # subpackages and modules are imported as attributes; the API is the rest
    modules = {name for name, value in vars(veil).items() if isinstance(value, ModuleType)}
    assert public - modules == set(veil.__all__)
    assert veil.__all__ == sorted(veil.__all__)
    for name in veil.__all__:
        assert getattr(veil, name).__doc__, f"{name} has no docstring"
