"""Image in -> detections -> operators -> image out + report."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from veil.anonymize import OperatorSpec, Replace, Synthesize
from veil.detect import faces
from veil.detect.base import Detector
from veil.detect.codes import DEFAULT_THRESHOLD as CODE_THRESHOLD
from veil.detect.codes import CodeDetector
from veil.detect.image_text import ImageTextDetector
from veil.errors import DetectorError, InputError, VeilError
from veil.formats import handler_for_path
from veil.images import (
    ORIENTATION_TAG,
    Picture,
    colour_channels,
    picture_from_pil,
    region_to_stored,
)
from veil.policy import Policy
from veil.pseudo.canonical import canonical
from veil.pseudo.engine import Pseudonymizer
from veil.pseudo.surrogates import surrogate
from veil.regions import Box, Region
from veil.report import Action, Report
from veil.text.configure import detector_for
from veil.timing import StageTimes, stage, stages


def default_detectors(policy: Policy) -> list[Detector]:
    """The detectors the policy asks for, configured from its rules."""
    detectors: list[Detector] = []
    face = policy.rule("face")
    if face.enabled:
        detectors.append(faces.CenterFace(
            threshold=_or(face.threshold, faces.DEFAULT_THRESHOLD),
            margin=_or(face.margin, faces.DEFAULT_MARGIN),
            min_size=_or(face.min_size, faces.DEFAULT_MIN_SIZE),
            min_relative=_or(face.min_relative, faces.DEFAULT_MIN_RELATIVE),
        ))
    text = policy.enabled("text") or any(
        k.startswith("text.") and rule.enabled for k, rule in policy.kinds.items())
    if text or policy.enabled("plate"):
        detectors.append(ImageTextDetector(detector_for(policy.text), text=text,
                                           plates=policy.enabled("plate"),
                                           scripts=policy.ocr.scripts))
    code = policy.rule("code")
    if code.enabled:
        detectors.append(CodeDetector(
            threshold=CODE_THRESHOLD if code.threshold is None else code.threshold,
            text_detector=detector_for(policy.text)))
    return detectors


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


class Redactor:
    """Applies a policy to images. Build one and reuse it: models load once per process.

    ``pseudonymizer`` gives the surrogates that the ``replace`` operator writes in place of
    personal text when ``redact`` is given a session; without a session, surrogates are
    drawn per image and kept nowhere.
    """

    def __init__(self, policy: Policy | None = None,
                 detectors: Sequence[Detector] | None = None,
                 pseudonymizer: Pseudonymizer | None = None) -> None:
        self.policy = policy or Policy()
        self.detectors = list(detectors) if detectors is not None else default_detectors(
            self.policy)
        self.pseudonymizer = pseudonymizer

    def warm_up(self) -> None:
        """Load every model now, so that a missing model fails before any input."""
        blank = np.zeros((64, 64, 3), np.uint8)
        for detector in self.detectors:
            detector.detect(blank)
            if isinstance(detector, ImageTextDetector):
                detector.warm_up()

    def scan(self, picture: Picture) -> list[Region]:
        """Regions to hide, in the stored pixels of ``picture``. Raises DetectorError."""
        display = picture.display_rgb()
        found: list[Region] = []
        for detector in self.detectors:
            try:
                regions = detector.detect(display)
            except VeilError:
                raise
            except Exception as exc:  # any failure blocks the image (fail closed)
                raise DetectorError(
                    f"detector {detector.name} failed ({type(exc).__name__}); image blocked"
                ) from None
            found.extend(r for r in regions if self.wanted(r))
        if picture.orientation == 1:
            return found
        return [region_to_stored(r, picture.orientation, picture.size) for r in found]

    def redact(self, picture: Picture, session: str | None = None) -> tuple[Picture, Report]:
        """Hide every region the policy protects; metadata is dropped on encoding.

        With ``session``, text hidden by the ``replace`` operator is replaced by the
        session's pseudonym of the value, the same one its prompt text gets, and faces
        hidden by ``synthesize`` get the session's synthetic identities."""
        start = time.perf_counter()
        with stages(self.policy.limits.image_seconds) as times:
            regions = self.scan(picture)
            hidden = self.hide_regions(picture, regions, session)
        return (picture.with_pixels(hidden.pixels),
                self._report(picture, regions, start, times, hidden.substituted))

    def hide_regions(self, picture: Picture, regions: Sequence[Region],
             session: str | None = None, scope: str | None = None) -> Hidden:
        """The pixels of ``picture`` with ``regions`` (stored coordinates) hidden, each by
        its kind's operator. ``scope`` ties synthetic faces together where there is no
        session (the frames of one video)."""
        by_operator: dict[OperatorSpec, list[Region]] = defaultdict(list)
        drawn: dict[tuple[str, str], str] = {}
        seeded: dict[OperatorSpec, OperatorSpec] = {}
        for region in regions:
            operator = self.policy.operator_for(region.kind)
            if isinstance(operator, Synthesize):  # identities tied to the session
                operator = seeded.setdefault(operator, operator.for_session(
                    session if session is not None else scope))
            if isinstance(operator, Replace):
                region = replace(region, text=self._surrogate(region, session, drawn))
            by_operator[operator].append(region)
        with stage("hide"):
            return hide(picture, by_operator)

    def redact_file(self, src: Path, dst: Path, session: str | None = None) -> Report:
        """Protect the file ``src`` (an image, every page or frame of a longer one, or any
        kind in ``veil.formats``) into ``dst``, written atomically: nothing on error."""
        return handler_for_path(src).redact_file(self, src, dst, session)

    def scan_file(self, src: Path) -> Report:
        """What ``redact_file`` would hide, without writing anything."""
        return handler_for_path(src).scan_file(self, src)

    def scan_report(self, picture: Picture) -> Report:
        """What ``redact`` would hide in ``picture``, as a report."""
        start = time.perf_counter()
        with stages(self.policy.limits.image_seconds) as times:
            regions = self.scan(picture)
        return self._report(picture, regions, start, times)

    def _report(self, picture: Picture, regions: list[Region], start: float,
                times: StageTimes, substituted: Mapping[tuple[str, Box], str] | None = None
                ) -> Report:
        """The report of ``regions``, each under the operator that hid it: the policy's, or
        the one it fell back on (``substituted``)."""
        done = substituted or {}
        actions = tuple(
            Action(r.kind, r.box, r.score,
                   done.get((r.kind, r.box), self.policy.operator_for(r.kind).name), r.source)
            for r in regions
        )
        width, height = picture.size
        return Report(width, height, actions, picture.metadata,
                      (time.perf_counter() - start) * 1000, stages=dict(times))

    def _surrogate(self, region: Region, session: str | None,
                   drawn: dict[tuple[str, str], str]) -> str | None:
        """What ``replace`` writes over a region: the value's pseudonym, or nothing."""
        if region.text is None or not region.kind.startswith(("text.", "plate")):
            return None
        entity = region.kind.removeprefix("text.").upper()
        if session is not None:
            if self.pseudonymizer is None:
                self.pseudonymizer = Pseudonymizer(style="surrogate", policy=self.policy)
            return self.pseudonymizer.pseudonym_for(entity, region.text, session)
        key = (entity, canonical(entity, region.text))
        if key not in drawn:
            drawn[key] = surrogate(entity, region.text)
        return drawn[key]

    def wanted(self, region: Region) -> bool:
        """Whether the policy protects ``region``'s kind at its score."""
        rule = self.policy.rule(region.kind)
        return rule.enabled and (rule.threshold is None or region.score >= rule.threshold)


@dataclass(frozen=True, slots=True)
class Hidden:
    """Pixels with regions hidden, and the regions another operator hid than the one
    asked for (a face ``synthesize`` could not draw on, filled), by kind and box."""

    pixels: np.ndarray
    substituted: dict[tuple[str, Box], str]


def hide(picture: Picture, by_operator: Mapping[OperatorSpec, Sequence[Region]]) -> Hidden:
    """The picture's pixels with each operator applied to its regions (alpha kept)."""
    pixels = picture.pixels
    channels = colour_channels(picture.mode)
    substituted: dict[tuple[str, Box], str] = {}
    for operator, group in by_operator.items():
        if channels is None:
            pixels, names = operator.apply_noting(pixels, group)
        else:
            pixels = pixels.copy()
            pixels[..., :channels], names = operator.apply_noting(pixels[..., :channels], group)
        substituted |= {(r.kind, r.box): name for r, name in zip(group, names, strict=True)
                        if name != operator.name}
    return Hidden(pixels, substituted)


ImageT = TypeVar("ImageT", Image.Image, np.ndarray)

_ARRAY_MODES = {(2, np.dtype(np.uint8)): "L", (2, np.dtype(np.uint16)): "I;16",
                (3, np.dtype(np.uint8)): "RGB", (4, np.dtype(np.uint8)): "RGBA"}


def redact_image(image: ImageT, policy: Policy | None = None,
                 redactor: Redactor | None = None) -> tuple[ImageT, Report]:
    """Hide what the policy protects in a PIL image or numpy array; same type back.

    Arrays are channels-last: HxW (uint8 or uint16), HxWx3 RGB or HxWx4 RGBA (uint8).
    A PIL image's EXIF orientation is honoured for detection and kept on the result.
    """
    redactor = redactor or Redactor(policy)
    limits = redactor.policy.limits
    if isinstance(image, np.ndarray):
        key = (image.ndim if image.ndim == 2 else image.shape[2] if image.ndim == 3 else -1,
               image.dtype)
        mode = _ARRAY_MODES.get(key)
        if mode is None:
            raise InputError(f"unsupported array: shape {image.shape}, dtype {image.dtype}")
        if image.shape[0] * image.shape[1] > limits.max_pixels:
            raise InputError("image is above the pixel limit (decompression bomb?)")
        out, report = redactor.redact(Picture(np.ascontiguousarray(image), mode, "PNG"))
        return out.pixels, report
    if isinstance(image, Image.Image):
        out, report = redactor.redact(picture_from_pil(image, limits))
        result = out.to_pil()
        if out.orientation != 1:
            exif = Image.Exif()
            exif[ORIENTATION_TAG] = out.orientation
            result.info["exif"] = exif.tobytes()
        return result, report
    raise InputError(f"expected a PIL image or numpy array, got {type(image).__name__}")
