"""DICOM: burned-in text hidden in every frame, the header de-identified by PS3.15 Annex E,
UIDs replaced per session, the output valid DICOM. Files are built here with pydicom."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels.utils import set_pixel_data
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)

from conftest import render_page
from veil.cli import main
from veil.detect.ocr import read_lines
from veil.errors import InputError, PolicyError
from veil.formats.dicom import redact_dicom, scan_dicom
from veil.pipeline import Redactor
from veil.policy import Policy
from veil.pseudo.engine import Pseudonymizer
from veil.pseudo.vault import Vault

ROOT = "1.2.999.4711"  # planted UIDs: none may survive
HEADER = {  # keyword -> planted value (PN, DA, LO, SH, UI and others)
    "PatientName": "Kaufmann^Johanna",
    "PatientID": "48213377",
    "PatientBirthDate": "19610314",
    "PatientAddress": "Lindenweg 12 Oberhausen",
    "OtherPatientIDs": "OPX99182",
    "PatientAge": "063Y",
    "StudyDate": "20240105",
    "AcquisitionDate": "20240106",
    "ReferringPhysicianName": "Oberholzer^Lukas",
    "OperatorsName": "Brandtner^Mira",
    "InstitutionName": "Sankt Georg Klinik",
    "AccessionNumber": "ACC77123",
    "StationName": "CTSTATION7",
    "DeviceSerialNumber": "SN-558812",
    "StudyDescription": "Thorax Kaufmann follow-up",
    "StudyInstanceUID": f"{ROOT}.1",
    "SeriesInstanceUID": f"{ROOT}.2",
    "SOPInstanceUID": f"{ROOT}.3",
    "FrameOfReferenceUID": f"{ROOT}.4",
}
NESTED = {"ReferencedSOPInstanceUID": f"{ROOT}.5", "EvaluatorName": "Voss^Henrike",
          "OtherPatientIDsSeq": "OPX77001"}
PRIVATE = {"creator": "ACME 1.0", "value": "Kaufmann Johanna private", "nested": "Ruehl^Anke"}
BURNED = ["Kaufmann, Johanna", "ID 48213377"]  # burned-in pixel text
PLANTED = [*HEADER.values(), *NESTED.values(), PRIVATE["value"], PRIVATE["nested"],
           "Kaufmann", "Johanna", "Oberholzer", "Brandtner", "Sankt Georg", "ACC77123",
           "48213377", "19610314", ROOT]


def _pixels(bits: int, photometric: str, frames: int) -> tuple[np.ndarray, list[tuple]]:
    """Burned-in text on a dark image; also the text's boxes."""
    page, boxes = render_page(BURNED, size=20, width=420, background=0, ink=255, height=150)
    grey = page[:, :, 0].astype(np.float64) / 255
    arr = (grey * 3000 + 100).astype(np.uint16) if bits == 16 else (grey * 240 + 10).astype(
        np.uint8)
    if photometric == "MONOCHROME1":
        arr = (arr.max() + 10 - arr).astype(arr.dtype)
    if photometric == "RGB":
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if frames > 1:
        arr = np.stack([arr] * frames)
    return arr, [b for word in boxes.values() for b in word]


def build(path: Path | None = None, *, bits: int = 16, photometric: str = "MONOCHROME2",
          frames: int = 1, syntax: UID = ExplicitVRLittleEndian, pixels: bool = True,
          ) -> bytes:
    """A CT image (or a header-only dataset) with planted personal values everywhere."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = HEADER["SOPInstanceUID"]
    ds.file_meta.SourceApplicationEntityTitle = "KAUFMANNPC"
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.PatientSex = "F"
    for keyword, value in HEADER.items():
        setattr(ds, keyword, value)
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = NESTED["ReferencedSOPInstanceUID"]
    ds.ReferencedImageSequence = Sequence([ref])
    code = Dataset()  # a sequence the profile keeps, holding a name it does not list
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X1", "99L", "CT chest"
    code.EvaluatorName = NESTED["EvaluatorName"]
    ds.ProcedureCodeSequence = Sequence([code])
    other = Dataset()
    other.PatientID = NESTED["OtherPatientIDsSeq"]
    ds.OtherPatientIDsSequence = Sequence([other])
    block = ds.private_block(0x0011, PRIVATE["creator"], create=True)
    block.add_new(0x01, "LO", PRIVATE["value"])
    inner = Dataset()
    inner.PatientName = PRIVATE["nested"]
    block.add_new(0x02, "SQ", Sequence([inner]))
    if pixels:
        arr, _ = _pixels(bits, photometric, frames)
        set_pixel_data(ds, arr, photometric, 12 if bits == 16 else 8,
                       generate_instance_uid=False)
        ds.WindowCenter, ds.WindowWidth = 1600, 3200
        if syntax == RLELossless:
            ds.compress(RLELossless, generate_instance_uid=False)
        elif syntax == JPEGBaseline8Bit:
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, "JPEG", quality=95)
            ds.PixelData = encapsulate([buf.getvalue()])
            ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
            ds["PixelData"].VR = "OB"
            if photometric == "RGB":
                ds.PhotometricInterpretation = "YBR_FULL_422"
        elif syntax != ExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = syntax
    elif syntax != ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.preamble = b"Kaufmann Johanna".ljust(128, b"\0")  # the preamble can hold anything
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture(scope="module")
def header_only() -> Redactor:
    """No detectors: header and transfer-syntax checks that need no pixels read."""
    return Redactor(detectors=[])


def _assert_clean(body: bytes) -> None:
    lowered = body.lower()
    for value in PLANTED:
        assert value.encode().lower() not in lowered, value
        assert value.replace("^", " ").encode().lower() not in lowered, value


def _ocr_text(ds: Dataset) -> str:
    """What an OCR reads in every frame of ``ds`` (grey frames stretched to 8 bits)."""
    arr = ds.pixel_array
    frames = arr if int(ds.get("NumberOfFrames", 1)) > 1 else arr[None]
    text = []
    for frame in frames:
        f = frame.astype(np.float64)
        grey = ((f - f.min()) / max(1.0, float(np.ptp(f))) * 255).astype(np.uint8)
        rgb = grey if grey.ndim == 3 else np.repeat(grey[:, :, None], 3, axis=2)
        text += [line.text for line in read_lines(rgb)]
    return " ".join(text)


@pytest.mark.slow  # models and three OCR passes
def test_burned_in_text_and_header_gone(redactor: Redactor, tmp_path: Path) -> None:
    src = tmp_path / "ct.dcm"
    build(src)
    original = dcmread(src)
    assert "Kaufmann" in _ocr_text(original)  # the planted text is readable before
    dst = tmp_path / "out" / "ct.dcm"
    report = redactor.redact_file(src, dst, None)
    body = dst.read_bytes()
    _assert_clean(body)
    ds = dcmread(io.BytesIO(body))
    read = _ocr_text(ds)
    assert "Kaufmann" not in read and "48213377" not in read
    assert {"text.PERSON"} <= set(report.counts())
    assert "dicom-header" in report.metadata_removed
    assert "dicom-private-tags" in report.metadata_removed
    # Valid DICOM, same transfer syntax, geometry and bit depth; outside regions unchanged.
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.preamble == b"\0" * 128
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored) == (150, 420, 16, 12)
    assert ds.PixelRepresentation == 0 and ds.PhotometricInterpretation == "MONOCHROME2"
    before, after = original.pixel_array, ds.pixel_array
    assert after.dtype == before.dtype and after.shape == before.shape
    inside = np.zeros(before.shape, bool)
    for action in report.actions:
        x1, y1, x2, y2 = action.box
        inside[y1:y2, x1:x2] = True
    assert np.array_equal(before[~inside], after[~inside])
    assert not np.array_equal(before[inside], after[inside])
    # The header says what was done.
    assert ds.PatientIdentityRemoved == "YES"
    assert {item.CodeValue for item in ds.DeidentificationMethodCodeSequence} == {
        "113100", "113101"}  # Basic Profile, Clean Pixel Data
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert ds.PatientName == "" and ds.StudyDate == ""
    assert "PatientAddress" not in ds and "OtherPatientIDsSequence" not in ds
    assert ds.ProcedureCodeSequence[0].CodeMeaning == "CT chest"  # kept: not identifying
    assert ds.ProcedureCodeSequence[0].EvaluatorName == ""  # names beyond the table too
    assert ds.ReferencedImageSequence[0].ReferencedSOPClassUID == CTImageStorage
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID.startswith("2.25.")
    assert ds.SOPClassUID == CTImageStorage and ds.Modality == "CT"
    assert not any(elem.tag.is_private for elem in ds.iterall())


@pytest.mark.slow
@pytest.mark.parametrize(("bits", "photometric", "frames", "syntax"), [
    (16, "MONOCHROME1", 1, ImplicitVRLittleEndian),
    (8, "RGB", 1, ExplicitVRLittleEndian),
    (16, "MONOCHROME2", 2, RLELossless),
])
def test_every_frame_each_photometric(redactor: Redactor, tmp_path: Path, bits: int,
                                      photometric: str, frames: int, syntax: UID) -> None:
    data = build(bits=bits, photometric=photometric, frames=frames, syntax=syntax)
    body, report = redact_dicom(redactor, data)
    _assert_clean(body)
    ds = dcmread(io.BytesIO(body))
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert (ds.BitsAllocated, ds.PhotometricInterpretation) == (bits, photometric)
    assert int(ds.get("NumberOfFrames", 1)) == frames
    assert report.pages == (frames if frames > 1 else None)
    if frames > 1:
        assert {a.page for a in report.actions} == set(range(frames))
    read = _ocr_text(ds)
    assert "Kaufmann" not in read and "48213377" not in read


@pytest.mark.parametrize(("syntax", "written"), [
    (ImplicitVRLittleEndian, ImplicitVRLittleEndian),
    (DeflatedExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian),
    (RLELossless, RLELossless),
    (ExplicitVRBigEndian, ExplicitVRLittleEndian),  # retired: written little endian
    (JPEGBaseline8Bit, ExplicitVRLittleEndian),     # cannot be re-encoded: decompressed
])
def test_transfer_syntax(header_only: Redactor, syntax: UID, written: UID) -> None:
    bits = 8 if syntax == JPEGBaseline8Bit else 16
    data = build(bits=bits, syntax=syntax)
    body, _ = redact_dicom(header_only, data)
    _assert_clean(body)
    ds, before = dcmread(io.BytesIO(body)), dcmread(io.BytesIO(data))
    assert ds.file_meta.TransferSyntaxUID == written
    assert ds.pixel_array.shape == before.pixel_array.shape
    assert ds.BitsAllocated == bits
    if syntax != JPEGBaseline8Bit:  # lossless: no region hidden, every pixel as it was
        assert np.array_equal(ds.pixel_array, before.pixel_array)


def test_undecodable_pixel_data_fails_closed(header_only: Redactor, tmp_path: Path) -> None:
    data = bytearray(build(bits=8, syntax=ExplicitVRLittleEndian))
    ds = dcmread(io.BytesIO(bytes(data)))
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xc3 not really jpeg \xff\xd9"])
    ds["PixelData"].VR = "OB"
    src = tmp_path / "lossless.dcm"
    ds.save_as(src, enforce_file_format=True)
    with pytest.raises(InputError, match="could not be decoded"):
        header_only.redact_file(src, tmp_path / "out.dcm", None)
    assert not (tmp_path / "out.dcm").exists()


def test_header_only_dataset(header_only: Redactor) -> None:
    body, report = redact_dicom(header_only, build(pixels=False))
    _assert_clean(body)
    assert report.actions == () and report.pages is None
    assert "PixelData" not in dcmread(io.BytesIO(body))


REAL = ["CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
        "SC_rgb_jpeg_gdcm.dcm", "JPEG2000.dcm", "SC_ybr_full_422_uncompressed.dcm",
        "image_dfl.dcm", "rtplan.dcm", "test-SR.dcm", "waveform_ecg.dcm"]


@pytest.mark.parametrize("name", REAL)
def test_real_files(header_only: Redactor, name: str) -> None:
    """Files from scanners and toolkits that pydicom ships: every name, patient ID and
    instance UID gone; output readable, pixels of the same shape."""
    data = Path(str(get_testdata_file(name))).read_bytes()
    body, _ = redact_dicom(header_only, data)
    before, after = dcmread(io.BytesIO(data)), dcmread(io.BytesIO(body))
    values = {str(e.value) for e in before.iterall() if e.VR == "PN" and e.value}
    values |= {str(before.get(k)) for k in ("PatientID", "StudyInstanceUID", "SOPInstanceUID",
                                             "SeriesInstanceUID") if before.get(k)}
    kept = {str(e.value) for e in after.iterall() if e.VR in ("LO", "SH", "CS") and e.value}
    # the new UIDs are random digits and may hold a short value ("2721") by chance: no
    # original UID is among them, and the values are looked for in the rest of the bytes
    uids = {str(e.value) for e in after.iterall() if e.VR == "UI" and e.value}
    assert not uids & {str(e.value) for e in before.iterall() if e.VR == "UI" and e.value
                       and "InstanceUID" in e.keyword}
    rest = body
    for uid in sorted(uids, key=len, reverse=True):
        rest = rest.replace(uid.encode(), b"")
    left = [v for v in values if len(v) >= 4 and v.encode() in rest and v not in kept]
    assert left == []
    assert after.PatientIdentityRemoved == "YES"
    if "PixelData" in before:
        assert after.pixel_array.shape == before.pixel_array.shape


def test_uids_consistent_within_a_session(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", key=Vault.generate_key())
    redactor = Redactor(detectors=[], pseudonymizer=Pseudonymizer(vault=vault))
    data = build(pixels=False)

    def uids(session: str | None) -> tuple[str, ...]:
        ds = dcmread(io.BytesIO(redact_dicom(redactor, data, session)[0]))
        return (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                ds.FrameOfReferenceUID, ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID)

    first, again, other = uids("study-a"), uids("study-a"), uids("study-b")
    assert first == again
    assert not set(first) & set(other)
    assert not set(first) & set(uids(None))  # without a session: a fresh key per file
    assert len(set(first)) == 5 and all(u.startswith("2.25.") and len(u) <= 64 for u in first)
    second = dcmread(io.BytesIO(redact_dicom(redactor, build(pixels=False), "study-a")[0]))
    assert second.StudyInstanceUID == first[0]  # another file of the study: same study UID


def test_retain_options(tmp_path: Path) -> None:
    policy = Policy.from_dict({"dicom": {
        "retain_longitudinal_dates": True, "retain_device_identity": True,
        "retain_patient_characteristics": True, "keep_private_tags": True}})
    body, _ = redact_dicom(Redactor(policy, detectors=[]), build(pixels=False))
    ds = dcmread(io.BytesIO(body))
    assert (ds.StudyDate, ds.AcquisitionDate) == ("20240105", "20240106")
    assert ds.PatientBirthDate == ""  # not a longitudinal date: never kept
    assert (ds.StationName, ds.DeviceSerialNumber) == ("CTSTATION7", "SN-558812")
    assert (ds.PatientAge, ds.PatientSex) == ("063Y", "F")
    assert ds.PatientName == "" and ds.InstitutionName == "ANONYMIZED"  # option not chosen
    assert ds.private_block(0x0011, PRIVATE["creator"])[0x01].value == PRIVATE["value"]
    codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113106", "113108", "113109"}
    assert "private tags kept" in ds.DeidentificationMethod
    assert ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    with pytest.raises(PolicyError, match="retain_everything"):
        Policy.from_dict({"dicom": {"retain_everything": True}})


@pytest.mark.parametrize("cut", [100, 132, 400, -1000])
def test_corrupt_or_truncated_file(header_only: Redactor, tmp_path: Path, cut: int) -> None:
    src = tmp_path / "bad.dcm"
    src.write_bytes(build(bits=8)[:cut])
    with pytest.raises(InputError) as caught:
        header_only.redact_file(src, tmp_path / "out" / "bad.dcm", None)
    assert "Kaufmann" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_cli_folder_with_dicom_without_suffix(header_only: Redactor, tmp_path: Path) -> None:
    """Folders take DICOM files by content (archives name them IM0001); scan writes
    nothing; a truncated file fails alone, with a clear reason and no traceback."""
    folder = tmp_path / "in"
    folder.mkdir()
    build(folder / "IM0001", pixels=False)
    (folder / "IM0002").write_bytes(build(pixels=False)[:300])
    (folder / "notes.txt").write_text("not a picture")
    policy = tmp_path / "policy.yaml"
    policy.write_text("kinds:\n  face: {enabled: false}\n  text: {enabled: false}\n"
                      "  code: {enabled: false}\n  plate: {enabled: false}\n")
    result = CliRunner().invoke(main, ["redact", str(folder), "--out", str(tmp_path / "out"),
                                       "--policy", str(policy), "--workers", "1"])
    assert result.exit_code == 1
    assert "IM0002: corrupt or truncated DICOM file" in result.output
    assert "Traceback" not in result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("."))
    assert written == ["IM0001"]  # the run's journal (.veil-journal.jsonl) aside
    _assert_clean((tmp_path / "out" / "IM0001").read_bytes())
    scanned = CliRunner().invoke(main, ["scan", str(folder / "IM0001"), "--json",
                                        "--policy", str(policy)])
    assert scanned.exit_code == 0, scanned.output
    assert '"dicom-header"' in scanned.output


def test_scan_reports_without_writing(header_only: Redactor) -> None:
    report = scan_dicom(header_only, build(bits=8))
    assert (report.width, report.height) == (420, 150)
    assert report.metadata_removed == ("dicom-header", "dicom-private-tags")
