"""Policy: which kinds are protected and how. Frozen; loaded from YAML or defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from veil.anonymize import Fill, OperatorSpec
from veil.errors import PolicyError


def _operator_shorthand(value: Any) -> Any:
    """Let a policy say ``operator: blur`` for ``operator: {name: blur}``."""
    return {"name": value} if isinstance(value, str) else value


class KindRule(BaseModel):
    """How one kind is handled. ``None`` means: the detector's or policy's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    operator: OperatorSpec | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    margin: float | None = Field(default=None, ge=0.0, le=2.0)

    _shorthand = field_validator("operator", mode="before")(_operator_shorthand)


class Limits(BaseModel):
    """Bounds on input, so that a hostile file cannot exhaust the machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pixels: int = Field(default=100_000_000, gt=0)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(default=2_000_000, gt=0)


class Policy(BaseModel):
    """What to protect and how; every kind not named is protected with the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: OperatorSpec = Field(default_factory=Fill)
    kinds: dict[str, KindRule] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    jpeg_quality: int = Field(default=95, ge=95, le=100)

    _shorthand = field_validator("operator", mode="before")(_operator_shorthand)

    def rule(self, kind: str) -> KindRule:
        """The rule for ``kind``: exact name, else its family ("text" for "text.EMAIL")."""
        for key in (kind, kind.split(".", 1)[0]):
            if key in self.kinds:
                return self.kinds[key]
        return KindRule()

    def enabled(self, kind: str) -> bool:
        return self.rule(kind).enabled

    def operator_for(self, kind: str) -> OperatorSpec:
        return self.rule(kind).operator or self.operator

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a YAML policy file; any problem becomes a PolicyError naming the file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise PolicyError(f"policy {path} is not valid YAML: {exc}") from None
        return cls.from_dict(data or {}, origin=str(path))

    @classmethod
    def from_dict(cls, data: Any, origin: str = "policy") -> Policy:
        if not isinstance(data, dict):
            raise PolicyError(f"{origin}: expected a mapping at the top level")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise PolicyError(f"{origin}: {problems}") from None
