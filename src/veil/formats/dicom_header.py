"""DICOM header de-identification: PS3.15 Annex E, Basic Application Level Confidentiality
Profile, with the retain options the policy chooses.

The attribute table (``dicom_profile.PROFILE``) is generated from packages that ship the
standard's Table E.1-1; this module only applies it. Choices the standard leaves open:

- X/Z, X/D, X/Z/D, Z/D (the action depends on the IOD's attribute type, which a generic
  de-identifier does not know): the least information that still keeps a Type 1 or 2
  attribute present: X/Z -> Z, the others -> D.
- D on a sequence: emptied (a dummy item cannot be built in general; the Content Sequence
  of a report holds free text that no row of the table covers).
- D values: ``ANONYMIZED`` for text, 19000101 / 000000 for dates and times, 0 for numbers,
  nothing for bytes; a UID gets the session's replacement (U).
- U: ``2.25.<n>`` where n is a UUID (version 8, RFC 9562) made of the keyed HMAC-SHA256 of
  the original UID: the same UID maps alike within a session and its files, differently in
  another session, and cannot be reversed or recomputed without the key.
- Beyond the table (the profile keeps what it does not list): every person name (VR PN)
  is emptied, and every UID that is not in the DICOM registry of well-known UIDs (SOP
  classes, transfer syntaxes, ...) is replaced like an instance UID.
- A sequence whose items hold pixel data (icons, thumbnails) is removed.
- Private attributes are removed (``keep_private_tags`` keeps them all, which the profile
  does not allow: the output then says so in Deidentification Method).
- The values the header identifies someone by (names, IDs, dates the profile takes out)
  are also looked for in the pixels' text (``HeaderValues``): scanners burn them in as
  printed, e.g. "KAUFMANN, JOHANNA" or "14-Mar-1961", which a general text rule may miss.
- The file meta group is rebuilt (no source AE titles, a fresh implementation UID) and the
  128-byte preamble zeroed, as it can carry a second file (DICOM/TIFF dual files).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.tag import BaseTag
from pydicom.uid import UID

from veil.formats.dicom_profile import PROFILE
from veil.policy import DicomPolicy
from veil.regions import Span
from veil.text.recognizer import Passage

_EXACT: dict[int, tuple[str, tuple[str, ...]]] = {
    (g << 16) | e: (action, options)
    for g, e, gm, em, action, options in PROFILE if (gm, em) == (0xFFFF, 0xFFFF)
}
_MASKED = tuple(row for row in PROFILE if row[2:4] != (0xFFFF, 0xFFFF))
_COMBINED = {"X/Z": "Z", "X/D": "D", "X/Z/D": "D", "Z/D": "D", "X/Z/U*": "U*"}
_PIXEL_DATA = 0x7FE00010
_TEXT_DUMMY = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, object] = {
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y",
    "DS": "0", "IS": "0", "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0,
    "FL": 0.0, "FD": 0.0, "AT": 0,
    "OB": b"", "OW": b"", "OD": b"", "OF": b"", "OL": b"", "OV": b"", "UN": b"",
}
_OPTION_FIELDS = {
    "device": "retain_device_identity",
    "institution": "retain_institution_identity",
    "patient": "retain_patient_characteristics",
    "dates": "retain_longitudinal_dates",
}
_OPTION_CODES = {
    "retain_device_identity": codes.DCM.RetainDeviceIdentityOption,
    "retain_institution_identity": codes.DCM.RetainInstitutionIdentityOption,
    "retain_patient_characteristics": codes.DCM.RetainPatientCharacteristicsOption,
    "retain_longitudinal_dates":
        codes.DCM.RetainLongitudinalTemporalInformationFullDatesOption,
}


@dataclass(slots=True)
class HeaderChanges:
    """How many attributes each action touched (counts only, never values)."""

    removed: int = 0
    emptied: int = 0
    replaced: int = 0
    uids: int = 0
    private: int = 0
    names: int = 0
    kept: int = 0

    def kinds(self) -> tuple[str, ...]:
        """Metadata kinds for the report: what was taken out of the header."""
        out = ["dicom-header"] if self.removed + self.emptied + self.replaced + self.uids + \
            self.names else []
        return (*out, "dicom-private-tags") if self.private else tuple(out)


def uid_key_uid(key: bytes, uid: str) -> str:
    """The replacement of ``uid`` under ``key``: 2.25.<UUID v8 from HMAC-SHA256>."""
    digest = hmac.new(key, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    n = int.from_bytes(digest[:16], "big")
    n = (n & ~(0xF << 76)) | (0x8 << 76)  # version 8 (custom)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)  # RFC variant
    return f"2.25.{n}"


def _registered(uid: str) -> bool:
    """A well-known UID of the DICOM registry (a SOP class, a transfer syntax, ...)."""
    return UID(uid).name != uid


class Deidentifier:
    """Applies the profile to one dataset in place. ``uid_key`` keys the UID replacement."""

    def __init__(self, options: DicomPolicy, uid_key: bytes, clean_pixels: bool) -> None:
        self.options = options
        self.uid_key = uid_key
        self.clean_pixels = clean_pixels
        self.kept = {name for name, attr in _OPTION_FIELDS.items() if getattr(options, attr)}

    def apply(self, ds: Dataset) -> HeaderChanges:
        changes = HeaderChanges()
        self._clean(ds, changes)
        self._mark(ds)
        return changes

    def new_uid(self, uid: str) -> str:
        return uid_key_uid(self.uid_key, uid)

    # --- the walk --------------------------------------------------------------------

    def _clean(self, ds: Dataset, changes: HeaderChanges) -> None:
        for elem in list(ds):
            tag = elem.tag
            if elem.VR == "SQ" and any(_PIXEL_DATA in item for item in elem.value):
                del ds[tag]  # a nested picture (an icon, a thumbnail): not redacted, so gone
                changes.removed += 1
                continue
            if tag.is_private:
                if not self.options.keep_private_tags:
                    del ds[tag]
                    changes.private += 1
                elif elem.VR == "SQ":
                    self._items(elem, changes)
                continue
            action = self.action_for(tag)
            if action is None:
                self._beyond_table(elem, changes)
            elif action == "K":
                changes.kept += 1
                if elem.VR == "SQ":
                    self._items(elem, changes)
            elif action == "X":
                del ds[tag]
                changes.removed += 1
            else:
                self._change(elem, action, changes)

    def action_for(self, tag: BaseTag) -> str | None:
        """The action for a public tag under the options: K, X, Z, D, U, U*, None if the
        table does not list it."""
        row = _EXACT.get(int(tag))
        if row is None:
            for g, e, gm, em, action, options in _MASKED:
                if tag.group & gm == g and tag.element & em == e:
                    row = (action, options)
                    break
        if row is None:
            return None
        action, options = row
        if self.kept.intersection(options):
            return "K"
        return _COMBINED.get(action, action)

    def _change(self, elem: DataElement, action: str, changes: HeaderChanges) -> None:
        if elem.VR == "SQ":
            if action == "U*":  # sequences of references: keep them, replace their UIDs
                self._items(elem, changes)
            else:
                elem.value = DicomSequence([])
                changes.emptied += 1
        elif elem.VR == "UI" and action in ("U", "U*", "D"):
            self._replace_uids(elem, changes)
        elif elem.VR == "UI" or action in ("Z", "U", "U*"):
            elem.value = None
            changes.emptied += 1
        elif elem.VM == 0:  # already empty: nothing to hide
            return
        else:
            elem.value = _DUMMY_BY_VR.get(elem.VR, _TEXT_DUMMY)
            changes.replaced += 1

    def _beyond_table(self, elem: DataElement, changes: HeaderChanges) -> None:
        if elem.VR == "SQ":
            self._items(elem, changes)
        elif elem.VR == "PN" and elem.VM:
            elem.value = None
            changes.names += 1
        elif elem.VR == "UI" and elem.VM:
            values = elem.value if elem.VM > 1 else [elem.value]
            if not all(_registered(str(v)) for v in values):
                self._replace_uids(elem, changes)

    def _items(self, elem: DataElement, changes: HeaderChanges) -> None:
        for item in elem.value:
            self._clean(item, changes)

    def _replace_uids(self, elem: DataElement, changes: HeaderChanges) -> None:
        if not elem.VM:
            return
        if elem.VM > 1:
            elem.value = [self._map(str(v)) for v in elem.value]
        else:
            elem.value = self._map(str(elem.value))
        changes.uids += elem.VM

    def _map(self, uid: str) -> str:
        return uid if _registered(uid) else self.new_uid(uid)

    # --- what the output says about itself ------------------------------------------------

    def _mark(self, ds: Dataset) -> None:
        chosen = [attr for attr in _OPTION_CODES if getattr(self.options, attr)]
        used = [codes.DCM.BasicApplicationConfidentialityProfile]
        if self.clean_pixels:
            used.append(codes.DCM.CleanPixelDataOption)
        used += [_OPTION_CODES[attr] for attr in chosen]
        items = []
        for code in used:
            item = Dataset()
            item.CodeValue = code.value
            item.CodingSchemeDesignator = code.scheme_designator
            item.CodeMeaning = code.meaning
            items.append(item)
        ds.PatientIdentityRemoved = "YES"
        method = "Veil PS3.15 E.1 Basic Profile" + (
            "; private tags kept" if self.options.keep_private_tags else "")
        ds.DeidentificationMethod = method
        ds.DeidentificationMethodCodeSequence = DicomSequence(items)
        ds.LongitudinalTemporalInformationModified = (
            "UNMODIFIED" if self.options.retain_longitudinal_dates else "REMOVED")


# --- the header's values, looked for in the pixels ------------------------------------------

_MIN_CHARS = 2
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")


def identifying_values(ds: Dataset, options: DicomPolicy) -> list[tuple[str, str]]:
    """(entity, value) for what the profile takes out of ``ds`` that a scanner may print on
    the image: name parts (PERSON), addresses, identifiers holding a digit (ID_NUMBER),
    dates (DATE_OF_BIRTH for birth dates, else DATE_TIME). Call before ``Deidentifier.apply``."""
    deid = Deidentifier(options, b"", clean_pixels=False)
    found: dict[tuple[str, str], None] = {}

    def walk(dataset: Dataset) -> None:
        for elem in dataset:
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
                continue
            action = None if elem.tag.is_private else deid.action_for(elem.tag)
            if action == "K" or not elem.VM or (action is None and elem.VR != "PN"):
                continue  # kept, empty, or neither listed nor a name (private creators...)
            values = elem.value if elem.VM > 1 else [elem.value]
            for value in (str(v) for v in values):
                for entity, text in _forms(elem.VR, elem.keyword or "", value):
                    found[(entity, text)] = None

    walk(ds)
    return list(found)


def _forms(vr: str, keyword: str, value: str) -> list[tuple[str, str]]:
    if vr == "PN":
        parts = re.split(r"[\^=\s,]+", value)
        return [("PERSON", p) for p in parts if len(p) >= _MIN_CHARS]
    if vr == "DA":
        entity = "DATE_OF_BIRTH" if "Birth" in keyword else "DATE_TIME"
        return [(entity, text) for text in _date_forms(value)]
    if vr in ("LO", "SH") and "Address" in keyword:
        return [("ADDRESS", value.strip())]
    if vr in ("LO", "SH", "CS") and any(c.isdigit() for c in value) and len(value.strip()) > 3:
        return [("ID_NUMBER", value.strip())]
    return []


def _date_forms(value: str) -> list[str]:
    """YYYYMMDD as scanners print it: ISO, day first and month first, named months."""
    try:
        d = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return []
    y, m, dd, mon = f"{d.year:04d}", f"{d.month:02d}", f"{d.day:02d}", _MONTHS[d.month - 1]
    forms = [y + m + dd, f"{y}-{m}-{dd}", f"{y}/{m}/{dd}", f"{y}.{m}.{dd}",
             f"{dd} {mon} {y}", f"{dd}-{mon}-{y}", f"{mon} {dd}, {y}", f"{mon} {d.day}, {y}"]
    forms += [f"{a}{sep}{b}{sep}{year}" for sep in "./-" for a, b in ((dd, m), (m, dd))
              for year in (y, y[2:])]
    return forms


class HeaderValues:
    """A text recognizer for one file: the values its header names (``identifying_values``),
    found case-insensitively as whole words in the text read from its pixels."""

    name = "dicom-header"
    languages: tuple[str, ...] = ()

    def __init__(self, values: Sequence[tuple[str, str]]) -> None:
        self.entities = tuple(sorted({entity for entity, _ in values}))
        self._patterns = [
            (entity, re.compile(r"(?<![\w])" + r"\s*".join(map(re.escape, text.split()))
                                + r"(?![\w])", re.IGNORECASE))
            for entity, text in sorted(set(values), key=lambda v: -len(v[1]))]

    def find(self, passage: Passage, prior: Sequence[Span]) -> list[Span]:
        return [Span(m.start(), m.end(), entity, 0.95, self.name)
                for entity, pattern in self._patterns for m in pattern.finditer(passage.text)]
