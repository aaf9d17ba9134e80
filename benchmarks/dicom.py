"""DICOM: planted values left after ``veil redact``, and time per slice beside a PNG peer.

Part 1, generated studies: DICOM files built with pydicom (CT 16-bit MONOCHROME2 and
MONOCHROME1, ultrasound-like 8-bit RGB, a 3-frame series), each with another Faker person
planted in the header (PN, DA, LO, SH, UI, a sequence, a private tag) and burned into the
pixels the way scanners print it (upper-case "SURNAME, GIVEN", ID, birth date, study date,
in a corner). Counted after redaction: planted values found in the output bytes, and
those an independent OCR (Tesseract when installed, else Veil's own) reads in the output
pixels. Time per slice is set beside the same pixels redacted as a PNG (the image path),
alternating, same Redactor.

Part 2, real files pydicom ships (scanners' and toolkits' test files): each is redacted
(header only, no detectors); person names, patient IDs and instance UIDs left in the
bytes are counted, and files refused are listed with the reason.

Usage: ``python benchmarks/dicom.py [N_PER_KIND]`` (default 2). Prints Markdown.
"""

from __future__ import annotations

import io
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from faker import Faker
from PIL import Image, ImageDraw, ImageFont
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.utils import set_pixel_data
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    RLELossless,
    UltrasoundImageStorage,
    generate_uid,
)

from veil.detect.ocr import read_lines
from veil.errors import VeilError
from veil.formats.dicom import redact_dicom
from veil.images import Picture, encode_image
from veil.pipeline import Redactor

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
KINDS = [  # (name, bits, photometric, frames, size, syntax)
    ("CT 16-bit MONOCHROME2", 16, "MONOCHROME2", 1, (512, 512), ExplicitVRLittleEndian),
    ("CR 16-bit MONOCHROME1", 16, "MONOCHROME1", 1, (512, 512), ExplicitVRLittleEndian),
    ("US 8-bit RGB", 8, "RGB", 1, (640, 480), ExplicitVRLittleEndian),
    ("CT 3 frames, RLE", 16, "MONOCHROME2", 3, (512, 512), RLELossless),
]


def person(fake: Faker, rng: random.Random) -> dict[str, str]:
    birth = fake.date_of_birth(minimum_age=20, maximum_age=90)
    study = fake.date_between(start_date="-5y", end_date="today")
    return {"family": fake.last_name(), "given": fake.first_name(),
            "id": str(rng.randrange(10_000_000, 99_999_999)),
            "birth": birth.strftime("%Y%m%d"), "birth_shown": birth.strftime("%d-%b-%Y"),
            "study": study.strftime("%Y%m%d"), "study_shown": study.strftime("%Y-%m-%d"),
            "accession": f"A{rng.randrange(1_000_000, 9_999_999)}",
            "institution": f"{fake.city()} General Hospital",
            "physician": f"{fake.last_name()}^{fake.first_name()}"}


def burned(size: tuple[int, int], p: dict[str, str], rng: random.Random) -> np.ndarray:
    """Grey 0..1 picture: a soft blob (anatomy) and the annotation in the top-left corner."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    body = np.exp(-(((xx - w / 2) / (w / 3)) ** 2 + ((yy - h / 2) / (h / 2.6)) ** 2))
    page = Image.fromarray((body * 120).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONT), rng.choice([13, 15, 17])) if FONT.exists() \
        else ImageFont.load_default(15)
    lines = [f"{p['family'].upper()}, {p['given'].upper()}", f"ID: {p['id']}",
             f"DOB: {p['birth_shown']}", f"{p['study_shown']}  {p['accession']}"]
    y = 8
    for line in lines:
        draw.text((8, y), line, fill=255, font=font)
        y += font.size + 6
    return np.asarray(page, dtype=np.float64) / 255


def build(kind: tuple[str, int, str, int, tuple[int, int], pydicom.uid.UID],
          p: dict[str, str], rng: random.Random) -> bytes:
    _, bits, photometric, frames, size, syntax = kind
    grey = burned(size, p, rng)
    arr = (grey * 4000).astype(np.uint16) if bits == 16 else (grey * 255).astype(np.uint8)
    if photometric == "MONOCHROME1":
        arr = (4000 - arr).astype(np.uint16)
    if photometric == "RGB":
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if frames > 1:
        arr = np.stack([arr] * frames)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop_class = UltrasoundImageStorage if photometric == "RGB" else CTImageStorage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName = f"{p['family']}^{p['given']}"
    ds.PatientID, ds.PatientBirthDate, ds.StudyDate = p["id"], p["birth"], p["study"]
    ds.AccessionNumber, ds.InstitutionName = p["accession"], p["institution"]
    ds.ReferringPhysicianName = p["physician"]
    item = Dataset()
    item.PatientID = p["id"]
    ds.OtherPatientIDsSequence = Sequence([item])
    ds.private_block(0x0029, "VENDOR X", create=True).add_new(0x10, "LO", p["family"])
    set_pixel_data(ds, arr, photometric, 12 if bits == 16 else 8, generate_instance_uid=False)
    if bits == 16:
        ds.WindowCenter, ds.WindowWidth = 2000, 4000
    if syntax == RLELossless:
        ds.compress(RLELossless, generate_instance_uid=False)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def planted(p: dict[str, str], data: bytes) -> list[str]:
    ds = dcmread(io.BytesIO(data))
    return [p["family"], p["given"], p["id"], p["birth"], p["birth_shown"], p["study"],
            p["study_shown"], p["accession"], p["institution"], p["physician"].split("^")[0],
            str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)]


def frames_of(ds: Dataset) -> list[np.ndarray]:
    arr = ds.pixel_array
    frames = list(arr) if int(ds.get("NumberOfFrames", 1)) > 1 else [arr]
    out = []
    for f in frames:
        g = f.astype(np.float64)
        g = (g - g.min()) / max(1.0, float(np.ptp(g))) * 255
        if ds.PhotometricInterpretation == "MONOCHROME1":
            g = 255 - g
        g8 = g.astype(np.uint8)
        out.append(g8 if g8.ndim == 3 else np.repeat(g8[:, :, None], 3, axis=2))
    return out


def ocr_words(rgb: np.ndarray) -> str:
    """What an independent OCR reads (Tesseract, else Veil's own OCR)."""
    program = shutil.which("tesseract")
    if program is None:
        return " ".join(line.text for line in read_lines(rgb))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.png"
        Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2)).save(path)
        done = subprocess.run([program, str(path), "stdout", "--psm", "11"],
                              capture_output=True, text=True, check=False, timeout=120)
    return done.stdout


def generated(n: int) -> None:
    rng = random.Random(13)
    fake = Faker(["en_US", "de_DE", "fr_FR"])
    fake.seed_instance(13)
    redactor = Redactor()
    redactor.warm_up()
    print("| kind | files | slices | planted values | left in bytes | read back by OCR in "
          "pixels (of read before) | s/slice DICOM | s/slice PNG peer | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for kind in KINDS:
        values = left = read_after = read_before = slices = 0
        dicom_s: list[float] = []
        png_s: list[float] = []
        for _ in range(n):
            p = person(fake, rng)
            data = build(kind, p, rng)
            wanted = planted(p, data)
            start = time.perf_counter()
            body, _ = redact_dicom(redactor, data)
            dicom_s.append((time.perf_counter() - start) / kind[3])
            lowered = body.lower()
            values += len(wanted)
            left += sum(v.lower().encode() in lowered for v in wanted)
            before = " ".join(ocr_words(f) for f in frames_of(dcmread(io.BytesIO(data))))
            after = " ".join(ocr_words(f) for f in frames_of(dcmread(io.BytesIO(body))))
            shown = [p["family"], p["given"], p["id"], p["birth_shown"], p["study_shown"],
                     p["accession"]]
            read_before += sum(v.lower() in before.lower() for v in shown)
            read_after += sum(v.lower() in after.lower() for v in shown)
            slices += kind[3]
            frame = frames_of(dcmread(io.BytesIO(data)))[0]  # the peer: one slice as PNG
            png = Picture(frame, "RGB", "PNG")
            start = time.perf_counter()
            encode_image(redactor.redact(png)[0])
            png_s.append(time.perf_counter() - start)
        d, q = statistics.median(dicom_s), statistics.median(png_s)
        print(f"| {kind[0]} | {n} | {slices} | {values} | {left} | {read_after} of "
              f"{read_before} | {d:.2f} | {q:.2f} | {d / q:.2f} |")
        for i, v in enumerate((values, left, read_after, read_before)):
            totals[i] += v
    print(f"\nAll: {totals[1]} of {totals[0]} planted values left in bytes; OCR reads "
          f"{totals[2]} of the {totals[3]} burned-in values it read before.\n")


def real() -> None:
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    redactor = Redactor(detectors=[])
    done = refused = left_total = 0
    reasons: dict[str, int] = {}
    for path in sorted(folder.glob("*.dcm")):
        data = path.read_bytes()
        try:
            body, _ = redact_dicom(redactor, data)
        except VeilError as exc:
            refused += 1
            reason = str(exc).split(" (")[0].split(";")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        done += 1
        src = dcmread(io.BytesIO(data))
        values = {str(e.value) for e in src.iterall() if e.VR == "PN" and e.value}
        values |= {str(src.get(k)) for k in ("PatientID", "StudyInstanceUID",
                                             "SOPInstanceUID", "SeriesInstanceUID")
                   if src.get(k)}
        kept = {str(e.value) for e in dcmread(io.BytesIO(body)).iterall()
                if e.VR in ("LO", "SH", "CS") and e.value}  # e.g. a maker named like a PN
        left_total += sum(len(v) >= 4 and v.encode() in body and v not in kept
                          for v in values)
    print(f"Real files (pydicom {pydicom.__version__} test files): {done} redacted, "
          f"{left_total} names/IDs/instance UIDs left in their bytes; {refused} refused:")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"- {count} x {reason}")


if __name__ == "__main__":
    generated(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    real()
