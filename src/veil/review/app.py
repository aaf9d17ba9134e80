"""``veil review``: a local page where a person checks and corrects a run's regions.

The run's output folder holds its journal (``veil.journal``): per output its input, its
report (regions with kind, box, score, operator, detector) and hashes. The page shows each
image with its regions over the original (or over the output only, for reviewers without
the right to see originals); the reviewer removes regions, draws boxes, changes operators,
and approves or rejects the image. Approving with changes writes the output again from the
original through the policy's operators (boxes are hidden whole), records it in the journal
(so a rerun of ``veil redact`` keeps it) and appends an audit record: who, when, which
regions were removed, added or changed (kinds, boxes, operators; never a value).
Decisions are kept in ``.veil-review.jsonl`` beside the journal.
"""

from __future__ import annotations

import hmac
import io
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from veil.anonymize import Blur, Fill, OperatorSpec, Pixelate, Replace
from veil.audit import AuditLog
from veil.errors import InputError
from veil.images import encode_image, read_image, to_rgb8, write_atomic
from veil.journal import Entry, Journal, sha256_file
from veil.pipeline import hide
from veil.policy import Policy
from veil.regions import Region
from veil.report import Action
from veil.server.auth import KeyStore
from veil.server.schemas import ApiError
from veil.summary import single_picture

DECISIONS_NAME = ".veil-review.jsonl"
AUDIT_NAME = ".veil-review-audit.jsonl"
PREVIEW_SIDE = 2048
"""Pictures are sent to the page at most this many pixels on a side (boxes are scaled)."""
OPERATOR_NAMES = ("fill", "blur", "pixelate", "replace")
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass(frozen=True, slots=True)
class Reviewer:
    """Who reviews (a key's name or the local user) and whether they may see originals."""

    name: str
    originals: bool


class RegionIn(BaseModel):
    """A region as the reviewer left it: ``origin`` is the index of the report's region it
    comes from (None for a box drawn by hand)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$", max_length=64)
    box: tuple[int, int, int, int]
    operator: Literal["fill", "blur", "pixelate", "replace"]
    origin: int | None = Field(default=None, ge=0)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approved", "rejected"]
    regions: list[RegionIn] = Field(default_factory=list, max_length=10_000)


@dataclass(frozen=True, slots=True)
class Decision:
    """The last decision on an output, and the output's hash when it was taken."""

    rel: str
    decision: str
    who: str
    time: str
    output_sha256: str


class Review:
    """A run's output folder under review: its journal (held), decisions and audit log."""

    def __init__(self, out_dir: Path, policy: Policy, audit_path: Path | None = None) -> None:
        self.out_dir = out_dir
        self.policy = policy
        self.journal = Journal(out_dir)
        self.audit = AuditLog(audit_path or out_dir / AUDIT_NAME, fsync=True)
        self.decisions_path = out_dir / DECISIONS_NAME
        self.decisions = self._load_decisions()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.audit.close()
        self.journal.close()

    def _load_decisions(self) -> dict[str, Decision]:
        found: dict[str, Decision] = {}
        if self.decisions_path.exists():
            for line in self.decisions_path.read_text(encoding="utf-8").splitlines():
                try:
                    data = json.loads(line)
                    found[data["rel"]] = Decision(**data)
                except (ValueError, TypeError, KeyError):
                    continue  # a torn line: that image shows as not reviewed
        return found

    def entries(self) -> list[Entry]:
        """The run's still pictures, by output path (documents, videos and multi-frame
        images are not reviewed here)."""
        return [entry for rel, entry in sorted(self.journal.entries.items())
                if single_picture(Path(rel), entry.report)]

    def entry(self, rel: str) -> Entry:
        entry = self.journal.entries.get(rel)
        if entry is None or not single_picture(Path(rel), entry.report):
            raise HTTPException(404, "no such image in this run")
        return entry

    def status(self, entry: Entry) -> str:
        decision = self.decisions.get(entry.rel)
        if decision is None or decision.output_sha256 != entry.output_sha256:
            return "pending"  # never reviewed, or redone by veil redact since
        return decision.decision

    def preview(self, rel: str, which: Literal["original", "output"]) -> bytes:
        """A JPEG of the stored pixels (as the report's boxes are), at most PREVIEW_SIDE."""
        entry = self.entry(rel)
        path = Path(entry.src) if which == "original" else self.out_dir / rel
        try:
            picture = read_image(path, self.policy.limits)
        except InputError as exc:
            raise HTTPException(409, f"cannot read the {which}: {exc}") from None
        image = Image.fromarray(to_rgb8(picture.pixels, picture.mode))
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        return buffer.getvalue()

    def decide(self, rel: str, body: DecisionIn, who: Reviewer) -> Decision:
        """Approve (writing the output again when regions changed) or reject an image."""
        with self._lock:
            entry = self.entry(rel)
            changes = _changes(entry.report.actions, body.regions)
            if body.decision == "approved" and any(changes.values()):
                entry = self._rewrite(entry, body.regions, who)
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            record = {"event": f"review.{body.decision}", "who": who.name, "time": now,
                      "file": rel, "output_sha256": entry.output_sha256,
                      "regions": len(entry.report.actions), **changes}
            self.audit.append(record)
            decision = Decision(rel, body.decision, who.name, now, entry.output_sha256)
            with self.decisions_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(_as_dict(decision), sort_keys=True) + "\n")
            self.decisions[rel] = decision
            return decision

    def _rewrite(self, entry: Entry, regions: list[RegionIn], who: Reviewer) -> Entry:
        """The output written again from the original with ``regions`` hidden."""
        src = Path(entry.src)
        try:
            if sha256_file(src) != entry.input_sha256:
                raise HTTPException(409, "the original changed since the run; run veil "
                                         "redact again before reviewing this image")
            picture = read_image(src, self.policy.limits)
        except OSError:
            raise HTTPException(409, "the original cannot be read any more") from None
        except InputError as exc:
            raise HTTPException(409, f"cannot read the original: {exc}") from None
        width, height = picture.size
        by_operator: dict[OperatorSpec, list[Region]] = defaultdict(list)
        actions: list[Action] = []
        for item in regions:
            x1, y1, x2, y2 = item.box
            box = (max(0, x1), max(0, y1), min(width, x2), min(height, y2))
            if box[2] <= box[0] or box[3] <= box[1]:
                raise HTTPException(422, f"region {item.box} lies outside the image")
            old = entry.report.actions[item.origin] if item.origin is not None else None
            score, source = (old.score, old.source) if old else (1.0, f"review:{who.name}")
            operator = self._operator(item.kind, item.operator)
            by_operator[operator].append(Region(box, item.kind, score, source))
            actions.append(Action(item.kind, box, score, item.operator, source))
        hidden = hide(picture, by_operator)
        actions = [replace(a, operator=hidden.substituted.get((a.kind, a.box), a.operator))
                   for a in actions]
        data = encode_image(picture.with_pixels(hidden.pixels), self.policy.jpeg_quality)
        dst = self.out_dir / entry.rel
        write_atomic(dst, data)
        report = replace(entry.report, actions=tuple(actions))
        updated = replace(entry, output_sha256=sha256_file(dst), report=report)
        self.journal.record(updated)
        return updated

    def _operator(self, kind: str, name: str) -> OperatorSpec:
        """The policy's operator for ``kind`` if it is the one chosen (its settings kept),
        else that operator with its defaults."""
        configured = self.policy.operator_for(kind)
        if configured.name == name:
            return configured
        defaults: dict[str, OperatorSpec] = {"fill": Fill(), "blur": Blur(),
                                             "pixelate": Pixelate(), "replace": Replace()}
        return defaults[name]


def _as_dict(decision: Decision) -> dict[str, str]:
    return {"rel": decision.rel, "decision": decision.decision, "who": decision.who,
            "time": decision.time, "output_sha256": decision.output_sha256}


def _changes(actions: tuple[Action, ...], regions: list[RegionIn]
             ) -> dict[str, list[dict[str, object]]]:
    """What the reviewer changed: regions removed, added, and moved or given another
    operator; kinds, boxes and operators only."""
    kept = {r.origin for r in regions if r.origin is not None}
    if any(origin >= len(actions) for origin in kept):
        raise HTTPException(422, "a region refers to a region the report does not have")
    removed: list[dict[str, object]] = [
        {"kind": a.kind, "box": list(a.box)} for i, a in enumerate(actions) if i not in kept]
    added: list[dict[str, object]] = [
        {"kind": r.kind, "box": list(r.box), "operator": r.operator}
        for r in regions if r.origin is None]
    changed: list[dict[str, object]] = []
    for r in regions:
        if r.origin is None:
            continue
        old = actions[r.origin]
        if tuple(r.box) != old.box or r.operator != old.operator or r.kind != old.kind:
            changed.append({"kind": r.kind, "box": list(r.box), "was_box": list(old.box),
                            "operator": r.operator, "was_operator": old.operator})
    return {"removed": removed, "added": added, "changed": changed}


# --- the web app ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Access:
    """How callers are known: ``token`` (a generated one) or the policy's API keys when
    ``keys`` is set; neither on loopback, where the caller is ``local``."""

    local: Reviewer
    token: str | None = None
    keys: KeyStore | None = None


def _reviewer(request: Request) -> Reviewer:
    """The caller, from the token on the URL (or header) unless on loopback."""
    access: Access = request.app.state.access
    secret = request.query_params.get("token") or request.headers.get("x-veil-token")
    if access.keys is not None:
        try:
            caller = access.keys.caller(f"Bearer {secret}" if secret else None)
        except ApiError:
            raise HTTPException(401, _NO_TOKEN) from None
        return Reviewer(caller.name, caller.role.restores("*"))
    if access.token is not None:
        if not secret or not hmac.compare_digest(secret, access.token):
            raise HTTPException(401, _NO_TOKEN)
        return access.local
    host = (request.headers.get("host") or "").rsplit(":", 1)[0]
    if host not in _LOOPBACK_HOSTS:  # a page elsewhere reaching us by DNS rebinding
        raise HTTPException(403, "veil review answers only on localhost")
    return access.local


def _same_page(request: Request) -> None:
    """Writes need a header that a page from another site cannot send without asking."""
    if request.headers.get("x-veil-review") != "1":
        raise HTTPException(403, "missing X-Veil-Review header")


_NO_TOKEN = "missing or wrong token: open the URL veil review printed, with its ?token="
Who = Annotated[Reviewer, Depends(_reviewer)]


def create_app(review: Review, access: Access) -> FastAPI:
    """The review page and its JSON API."""
    app = FastAPI(title="veil review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.access = access

    @app.get("/", response_class=HTMLResponse)
    def page(who: Who) -> str:
        return resources.files("veil.review").joinpath("page.html").read_text("utf-8")

    @app.get("/api/images")
    def images(who: Who) -> dict[str, object]:
        return {"reviewer": who.name, "originals": who.originals, "operators": OPERATOR_NAMES,
                "images": [{"rel": e.rel, "status": review.status(e),
                            "width": e.report.width, "height": e.report.height,
                            "regions": [a.to_dict() for a in e.report.actions]}
                           for e in review.entries()]}

    @app.get("/api/picture/{which}/{rel:path}")
    def picture(which: Literal["original", "output"], rel: str, who: Who) -> Response:
        if which == "original" and not who.originals:
            raise HTTPException(403, "your role may not see originals")
        return Response(review.preview(rel, which), media_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})

    @app.post("/api/decision/{rel:path}", dependencies=[Depends(_same_page)])
    def decide(rel: str, body: DecisionIn, who: Who) -> dict[str, str]:
        decision = review.decide(rel, body, who)
        return {"rel": rel, "status": decision.decision}

    return app
