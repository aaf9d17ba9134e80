"""Policy: which kinds are protected and how. Frozen; loaded from YAML or defaults."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from veil.anonymize import Fill, OperatorSpec
from veil.errors import PolicyError
from veil.text.configure import known_languages
from veil.text.registry import default_registry
from veil.text.spec import PatternSpec, RecognizerSpec, suggest

FAMILIES = ("face", "plate", "code", "text")
"""Families of kinds a policy may name; ``text.<ENTITY>`` for any entity a text
recognizer (built in or the policy's own) or a deny list reports."""
IMAGE_TEXT_ENTITIES = frozenset({"GENDER", "MRZ", "ID_NUMBER"})
"""Text entities found in images by layout rules beside the text recognizers."""


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
    min_size: float | None = Field(default=None, ge=1.0)
    """Faces: the smallest face height (px) searched for."""
    min_relative: float | None = Field(default=None, ge=0.0, le=0.5)
    """Faces: nor smaller than this share of the picture's shorter side."""

    _shorthand = field_validator("operator", mode="before")(_operator_shorthand)


class Limits(BaseModel):
    """Bounds on input, so that a hostile file cannot exhaust the machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pixels: int = Field(default=100_000_000, gt=0)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(default=2_000_000, gt=0)
    max_frames: int = Field(default=1000, gt=0)
    """Pages of a multi-page image or frames of an animated one; all of them together may
    hold at most four times ``max_pixels``."""
    image_seconds: float = Field(default=300.0, gt=0)
    """Time budget per image: an image still being processed past it is blocked (fail
    closed, the rest of a batch goes on)."""


class VideoSettings(BaseModel):
    """How videos are protected (``veil redact clip.mp4``).

    Faces are looked for every ``detect_every`` frames; plates (and, when ``text`` or
    ``codes`` is set, personal text and codes) every ``ocr_every`` frames, as reading text
    costs far more. Between passes a tracker carries each box; a box is kept for ``hold``
    frames beyond the pass that last saw it. ``keep_audio``: copy the audio streams
    unchanged (else drop them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detect_every: int = Field(default=4, ge=1, le=60)
    ocr_every: int = Field(default=30, ge=1, le=600)
    hold: int = Field(default=8, ge=0, le=300)
    keep_audio: bool = True
    text: bool = False
    codes: bool = False


def _kind_matches(kind: str, patterns: tuple[str, ...]) -> bool:
    """``kind`` is named in ``patterns`` exactly, by its family ("text"), or by "*"."""
    return "*" in patterns or kind in patterns or kind.split(".", 1)[0] in patterns


class Role(BaseModel):
    """What the callers of one role get from ``veil serve``.

    ``protect``: the kinds hidden or pseudonymised for this role, matched like policy
    kinds (exact name, family such as ``text``, or ``*``); a role can only narrow what the
    policy protects, and a kind not named is sent to the model in clear. ``restore``: the
    kinds whose originals are put back into the model's answer (default none: the role sees
    pseudonyms). ``images``: whether the role may send images at all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    protect: tuple[str, ...] = ("*",)
    restore: tuple[str, ...] = ()
    images: bool = True

    def protects(self, kind: str) -> bool:
        return _kind_matches(kind, self.protect)

    def restores(self, kind: str) -> bool:
        return _kind_matches(kind, self.restore)


class ApiKey(BaseModel):
    """A caller of ``veil serve``: a name (logged), the SHA-256 of its key as lowercase hex
    (the key itself is never stored), its role, and an optional rate limit: a token bucket
    refilled at ``rate_per_minute`` holding ``burst`` requests (default: a minute's worth)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: str
    rate_per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ServerPolicy(BaseModel):
    """Bounds and permissions of ``veil serve``.

    ``max_body_bytes``: largest request body (413 above). ``max_images``: images per request.
    ``fetch_allow_networks``: non-public networks (CIDR) from which image URLs may be fetched,
    e.g. an internal CDN; every other loopback, private, link-local, shared, multicast or
    reserved address is refused, and cloud metadata addresses always are.
    ``fetch_timeout`` (seconds, whole fetch), ``fetch_max_bytes``, ``fetch_max_redirects``
    bound each image fetch. ``upstream_timeout``: seconds to wait for the model's next bytes.
    ``anonymous_role``: the role of requests without a key (default: such requests get 401).
    ``identifier_values``: what to do when a field that cannot take a pseudonym (``model``,
    tool and function names, ``tool_call_id`` and other ids) holds a personal value:
    ``refuse`` the request with 400 naming the field (default), or ``forward`` it as written.
    ``image_workers``: processes redacting images in parallel (default: one per core), each
    loading the image models once. ``vault``: where the pseudonym vault is (a SQLite path,
    ``memory:`` or ``postgresql://...``; ``veil serve --vault`` wins); its key comes from
    the environment, never from the policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    max_images: int = Field(default=16, ge=0)
    fetch_allow_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    fetch_timeout: float = Field(default=15.0, gt=0)
    fetch_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    fetch_max_redirects: int = Field(default=3, ge=0, le=10)
    upstream_timeout: float = Field(default=300.0, gt=0)
    anonymous_role: str | None = None
    identifier_values: Literal["refuse", "forward"] = "refuse"
    image_workers: int | None = Field(default=None, ge=1, le=256)
    vault: str | None = None


Script = Literal["cyrillic", "greek", "arabic", "korean", "japanese", "chinese"]


class OcrSettings(BaseModel):
    """How text in pictures is read. ``scripts``: besides Latin and Chinese, which the first
    OCR reads, the scripts a second reading (Tesseract) tries on the lines the first left
    unread; empty turns the second reading off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scripts: tuple[Script, ...] = ("cyrillic", "greek", "arabic")


class DicomPolicy(BaseModel):
    """DICOM headers: PS3.15 Annex E Basic Profile, plus the retain options chosen here
    (each keeps what its column of Table E.1-1 marks K; default: none). ``keep_private_tags``
    keeps every private attribute, which the profile does not allow (the output says so)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_longitudinal_dates: bool = False
    """The Full Dates option: study, series and acquisition dates and times kept as they are
    (never birth dates)."""
    keep_private_tags: bool = False


class DenyList(BaseModel):
    """Values always hidden, as ``entity`` ("Acme Widgets" as ORGANIZATION)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    values: tuple[str, ...] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _not_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v.strip() for v in values):
            raise ValueError("a deny-list value is empty")
        return values


class TextPolicy(BaseModel):
    """Text detection, beyond the built-in recognizers (docs/recognizers.md).

    ``recognizers``: the policy's own (name, entity, patterns with regex and score,
    context words, a validator by name, languages). ``deny``: values always hidden, with
    their entity. ``allow``: values never hidden (a public figure, the company's own
    name), compared case-insensitively. ``languages``: switch a language off
    (``{it: false}``): recognizers meant only for languages that are off do not run.
    ``disable``: built-in recognizers switched off by name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    recognizers: tuple[RecognizerSpec, ...] = ()
    deny: tuple[DenyList, ...] = ()
    allow: tuple[str, ...] = ()
    languages: dict[str, bool] = Field(default_factory=dict)
    disable: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_names(self) -> TextPolicy:
        builtin = default_registry().names()
        for name in self.disable:
            if name not in builtin:
                raise ValueError(f"disable: no recognizer {name!r}{suggest(name, builtin)}")
        own = [r.name for r in self.recognizers]
        for name in own:
            if name in builtin or own.count(name) > 1:
                raise ValueError(f"recognizers: the name {name!r} is taken")
        languages = known_languages()
        for lang in self.languages:
            if lang not in languages:
                raise ValueError(f"languages: unknown language {lang!r}"
                                 f"{suggest(lang, languages)}; known: {', '.join(languages)}")
        return self

    def entities(self) -> frozenset[str]:
        """Entities the policy's own recognizers and deny lists report."""
        return frozenset(r.entity for r in self.recognizers) | {d.entity for d in self.deny}


class Policy(BaseModel):
    """What to protect and how; every kind not named is protected with the defaults.

    For ``veil serve`` also: ``roles`` (name -> Role), ``keys`` (ApiKey, each naming a role)
    and ``server`` (ServerPolicy); they do not change what the other commands do.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: OperatorSpec = Field(default_factory=Fill)
    kinds: dict[str, KindRule] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    jpeg_quality: int = Field(default=95, ge=95, le=100)
    roles: dict[str, Role] = Field(default_factory=dict)
    keys: tuple[ApiKey, ...] = ()
    server: ServerPolicy = Field(default_factory=ServerPolicy)
    dicom: DicomPolicy = Field(default_factory=DicomPolicy)
    video: VideoSettings = Field(default_factory=VideoSettings)
    text: TextPolicy = Field(default_factory=TextPolicy)

    _shorthand = field_validator("operator", mode="before")(_operator_shorthand)

    @model_validator(mode="after")
    def _check_kinds(self) -> Policy:
        """Every kind named (under kinds and in roles) is one Veil knows, so a misspelt
        kind is an error that names the closest known one, not a rule that never applies."""
        known = self.known_kinds()
        named = [(f"kinds.{k}", k) for k in self.kinds]
        for role_name, role in self.roles.items():
            named += [(f"roles.{role_name}.{field}", k) for field in ("protect", "restore")
                      for k in getattr(role, field) if k != "*"]
        for where, kind in named:
            if kind not in known:
                raise ValueError(f"{where}: unknown kind {kind!r}{suggest(kind, known)}")
        return self

    def known_kinds(self) -> list[str]:
        """Families, and ``text.<ENTITY>`` for every entity the text detection reports."""
        entities = (default_registry().entities() | IMAGE_TEXT_ENTITIES
                    | self.text.entities())
        return [*FAMILIES, *sorted(f"text.{e}" for e in entities)]

    @model_validator(mode="after")
    def _check_keys(self) -> Policy:
        """Every key names a defined role; key names and hashes are unique."""
        wanted = [(f"keys.{k.name}.role", k.role) for k in self.keys]
        if self.server.anonymous_role is not None:
            wanted.append(("server.anonymous_role", self.server.anonymous_role))
        for where, role in wanted:
            if role not in self.roles:
                raise ValueError(f"{where}: role {role!r} is not defined under roles")
        if len({k.name for k in self.keys}) != len(self.keys):
            raise ValueError("keys: two keys have the same name")
        if len({k.sha256 for k in self.keys}) != len(self.keys):
            raise ValueError("keys: two keys have the same sha256")
        return self

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
            problems = "; ".join(_problem(err) for err in exc.errors())
            raise PolicyError(f"{origin}: {problems}") from None


_MODELS: tuple[type[BaseModel], ...] = (
    KindRule, Limits, OcrSettings, DicomPolicy, VideoSettings, Role, ApiKey, ServerPolicy,
    DenyList, TextPolicy, Policy, RecognizerSpec, PatternSpec)


def _problem(err: Any) -> str:
    """One validation error as text; an unknown field names the closest known one."""
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden" and err["loc"]:
        fields = sorted({f for m in _MODELS for f in m.model_fields})
        return f"{where}: unknown field{suggest(str(err['loc'][-1]), fields)}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
