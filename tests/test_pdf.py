"""PDFs redacted for real: planted values gone from the bytes (decompressed streams too),
the text layer (read by pdfium), the metadata and an OCR reading; pages, sizes and the
other text kept; bad files refused with nothing written."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from pikepdf import Name

import pdf_samples as ps
from veil.cli import main
from veil.detect.ocr import read_lines
from veil.errors import InputError
from veil.pdf.redact import redact_file, scan_file
from veil.pipeline import Redactor
from veil.policy import Policy


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def _strings(obj: object, seen: set[tuple[int, int]]) -> Iterator[bytes]:
    """Every string and decoded stream reachable in an object, recursively."""
    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        if obj.objgen in seen:
            return
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.String):
        yield bytes(obj)
    elif isinstance(obj, pikepdf.Stream):
        try:
            yield obj.read_bytes()
        except pikepdf.PdfError:
            yield obj.read_raw_bytes()
        for value in obj.stream_dict.values():
            yield from _strings(value, seen)
    elif isinstance(obj, pikepdf.Dictionary):
        for value in obj.values():
            yield from _strings(value, seen)
    elif isinstance(obj, pikepdf.Array):
        for value in obj:
            yield from _strings(value, seen)


def leaks_in_bytes(path: Path, values: tuple[str, ...]) -> list[str]:
    """Planted values in the file's bytes, its decoded streams or any string object."""
    blobs = [path.read_bytes()]
    with pikepdf.open(path) as pdf:
        seen: set[tuple[int, int]] = set()
        for obj in pdf.objects:
            blobs.extend(_strings(obj, seen))
        blobs.extend(_strings(pdf.trailer, seen))
    found = []
    for value in values:
        forms = [value.encode("latin-1"), value.encode("utf-16-be"), value.encode("utf-16-le")]
        if any(f in blob for f in forms for blob in blobs):
            found.append(value)
    return found


def text_layer(path: Path) -> list[str]:
    """Each page's text as pdfium extracts it (an extractor independent of Veil's edits)."""
    document = pdfium.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def _flat(text: str) -> str:
    return " ".join(text.split())


def leaks_in_text(path: Path, values: tuple[str, ...]) -> list[str]:
    pages = [_flat(t) for t in text_layer(path)]
    return [v for v in values if any(v in page for page in pages)]


def _sizes(path: Path) -> list[tuple[float, float]]:
    with pikepdf.open(path) as pdf:
        return [(float(p.mediabox[2]), float(p.mediabox[3])) for p in pdf.pages]


@pytest.fixture(scope="module")
def text_only(tmp_path_factory: pytest.TempPathFactory, redactor: Redactor
              ) -> tuple[Path, Path]:
    """The sample without a scanned page or photo (quick), redacted once."""
    folder = tmp_path_factory.mktemp("pdf")
    src = ps.build(folder / "in.pdf", scanned=False)
    dst = folder / "out.pdf"
    redact_file(redactor, src, dst)
    return src, dst


def test_planted_values_are_in_the_input(text_only: tuple[Path, Path]) -> None:
    src, _ = text_only  # the checks below would pass vacuously otherwise
    assert leaks_in_bytes(src, ps.PLANTED) == [v for v in ps.PLANTED
                                              if v not in (ps.SCAN_NAME, ps.SCAN_EMAIL)]
    assert leaks_in_text(src, (ps.NAME, ps.EMAIL, ps.TTF_NAME, ps.FORM_PHONE)) != []


def test_text_layer_values_removed_everywhere(text_only: tuple[Path, Path]) -> None:
    _, dst = text_only
    assert leaks_in_bytes(dst, ps.PLANTED) == []
    assert leaks_in_text(dst, ps.PLANTED) == []


def test_kept_text_still_selectable_and_pages_kept(text_only: tuple[Path, Path]) -> None:
    src, dst = text_only
    text = _flat(text_layer(dst)[0])
    for kept in ps.KEPT:
        assert kept in text
    assert "Customer name:" in text and "Technician on site:" in text
    assert _sizes(dst) == _sizes(src)


def test_document_parts_removed(text_only: tuple[Path, Path]) -> None:
    _, dst = text_only
    with pikepdf.open(dst) as pdf:
        assert "/Info" not in pdf.trailer
        for key in ("/Metadata", "/AcroForm", "/OpenAction", "/AF"):
            assert key not in pdf.Root
        names = pdf.Root.get("/Names", pikepdf.Dictionary())
        assert "/JavaScript" not in names and "/EmbeddedFiles" not in names
        assert not pdf.attachments
        assert all("/Annots" not in page.obj for page in pdf.pages)
        assert pdf.docinfo.keys() == set() or not any(
            ps.NAME in str(v) for v in pdf.docinfo.values())
        with pdf.open_metadata() as meta:
            assert ps.NAME not in str(meta)


def test_scan_reports_without_writing(tmp_path: Path, redactor: Redactor) -> None:
    src = ps.build(tmp_path / "in.pdf", scanned=False)
    report = scan_file(redactor, src)
    assert {"text.PERSON", "text.EMAIL_ADDRESS", "text.CREDIT_CARD",
            "text.PHONE_NUMBER"} <= set(report.counts())
    assert {"pdf.info", "pdf.xmp", "pdf.annotations", "pdf.form-fields", "pdf.attachments",
            "pdf.javascript"} <= set(report.metadata_removed)
    assert "Margaret" not in str(report.to_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]


def test_rotated_page(tmp_path: Path, redactor: Redactor) -> None:
    src = ps.build(tmp_path / "in.pdf", scanned=False, extras=False)
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.Rotate = 90
        pdf.save(src)
    redact_file(redactor, src, tmp_path / "out.pdf")
    assert leaks_in_bytes(tmp_path / "out.pdf", ps.PLANTED) == []
    assert "heating system" in text_layer(tmp_path / "out.pdf")[0]


def test_composite_font(tmp_path: Path, redactor: Redactor) -> None:
    src = ps.composite_font(tmp_path / "in.pdf")
    with pikepdf.open(src) as pdf:
        fonts = pdf.pages[0].Resources.Font
        assert [f.Subtype for f in fonts.values()] == [Name.Type0]
    assert leaks_in_text(src, (ps.NAME, ps.PHONE)) == [ps.NAME, ps.PHONE]
    redact_file(redactor, src, tmp_path / "out.pdf")
    assert leaks_in_text(tmp_path / "out.pdf", (ps.NAME, ps.PHONE)) == []
    text = _flat(text_layer(tmp_path / "out.pdf")[0])
    assert "Contact person:" in text and "The heating system was serviced." in text


def _with_content(src: Path, dst: Path, content: bytes, hidden: bool) -> None:
    """``src``'s first page with ``content`` appended, under an off layer if ``hidden``."""
    with pikepdf.open(src) as pdf:
        page = pdf.pages[0]
        font = pdf.make_indirect(pikepdf.Dictionary(
            Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
        page.obj.Resources.Font[Name("/FV")] = font
        if hidden:
            group = pdf.make_indirect(pikepdf.Dictionary(Type=Name.OCG,
                                                         Name=pikepdf.String("Layer")))
            pdf.Root.OCProperties = pikepdf.Dictionary(
                OCGs=[group], D=pikepdf.Dictionary(OFF=[group]))
            page.obj.Resources.Properties = pikepdf.Dictionary(oc1=group)
        page.contents_add(pdf.make_stream(content))
        pdf.save(dst)


def test_hidden_layer_content_removed(tmp_path: Path, redactor: Redactor) -> None:
    secret = "Layer note 55117 about the boiler"  # not personal: removed as hidden content
    src = ps.build(tmp_path / "base.pdf", scanned=False, extras=False)
    _with_content(src, tmp_path / "in.pdf", b"/OC /oc1 BDC BT /FV 12 Tf 72 400 Td ("
                  + secret.encode() + b") Tj ET EMC", hidden=True)
    assert leaks_in_bytes(tmp_path / "in.pdf", (secret,)) == [secret]
    report = redact_file(redactor, tmp_path / "in.pdf", tmp_path / "out.pdf")
    assert "pdf.hidden-layers" in report.metadata_removed
    assert leaks_in_bytes(tmp_path / "out.pdf", (secret,)) == []
    assert "heating system" in text_layer(tmp_path / "out.pdf")[0]


def test_actual_text_removed(tmp_path: Path, redactor: Redactor) -> None:
    src = ps.build(tmp_path / "base.pdf", scanned=False, extras=False)
    _with_content(src, tmp_path / "in.pdf", b"/Span << /ActualText (" + ps.NAME.encode()
                  + b") >> BDC BT /FV 12 Tf 72 400 Td (J. R.) Tj ET EMC", hidden=False)
    redact_file(redactor, tmp_path / "in.pdf", tmp_path / "out.pdf")
    assert leaks_in_bytes(tmp_path / "out.pdf", ps.PLANTED) == []


@pytest.mark.parametrize("damage", ["random", "truncated", "encrypted", "empty", "not-pdf"])
def test_bad_pdf_refused_and_nothing_written(tmp_path: Path, redactor: Redactor,
                                             damage: str) -> None:
    good = ps.build(tmp_path / "good.pdf", scanned=False, extras=False)
    src = tmp_path / "bad.pdf"
    if damage == "random":
        src.write_bytes(b"%PDF-1.7\n" + np.random.default_rng(0).bytes(5000))
    elif damage == "truncated":
        data = good.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    elif damage == "encrypted":
        with pikepdf.open(good) as pdf:
            pdf.save(src, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    elif damage == "empty":
        src.write_bytes(b"")
    else:
        src.write_bytes(b"Dear Margaret, this is a letter, not a PDF.")
    dst = tmp_path / "out" / "bad.pdf"
    with pytest.raises(InputError) as info:
        redact_file(redactor, src, dst)
    assert "Margaret" not in str(info.value)
    assert not dst.exists()
    assert not dst.parent.exists() or not any(dst.parent.iterdir())


def _ocr_text(pixels: np.ndarray) -> str:
    return " ".join(line.text for line in read_lines(pixels))


def _image_texts(path: Path) -> list[str]:
    """The OCR's reading of every image in the file, as stored (not as covered)."""
    out = []
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            for image in page.get_images().values():
                pil = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
                out.append(_ocr_text(np.asarray(pil)))
    return out


@pytest.mark.slow
def test_scanned_page_and_photo(tmp_path: Path, redactor: Redactor,
                                astronaut: np.ndarray) -> None:
    src = ps.build(tmp_path / "in.pdf", photo=astronaut)
    assert any(ps.SCAN_NAME in text for text in _image_texts(src))  # readable before
    dst = tmp_path / "out.pdf"
    report = redact_file(redactor, src, dst)
    assert "face" in report.counts()
    assert leaks_in_bytes(dst, ps.PLANTED) == []
    assert leaks_in_text(dst, ps.PLANTED) == []
    assert _sizes(dst) == _sizes(src)
    scanned = pdfium.PdfDocument(dst)[1].render(scale=1.5).to_numpy()[:, :, :3]
    text = _ocr_text(scanned)  # the rendered page, read by OCR
    assert "Follow-up visit" in text
    assert not [v for v in ps.PLANTED if v in text]
    for text in _image_texts(dst):  # the images themselves, not only what covers them
        assert not [v for v in ps.PLANTED if v in text]


def test_output_opens_in_both_readers(text_only: tuple[Path, Path]) -> None:
    _, dst = text_only
    with pikepdf.open(dst) as pdf:
        assert len(pdf.pages) == 1
        assert pdf.check_pdf_syntax() == []
    document = pdfium.PdfDocument(io.BytesIO(dst.read_bytes()))
    assert len(document) == 1
    assert document[0].render(scale=0.5).to_numpy().shape[2] >= 3


@pytest.mark.slow
def test_cli_redacts_pdfs_in_folders_and_refuses_broken_ones(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    ps.build(folder / "sub" / "invoice.pdf", scanned=False)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["redact", str(folder), "--out", str(out), "--workers",
                                       "1", "--report", str(tmp_path / "r.jsonl")])
    assert result.exit_code != 0  # one file failed
    assert "broken.pdf" in result.output and "damaged" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        ".veil-journal.jsonl", "sub/invoice.pdf"]
    assert leaks_in_bytes(out / "sub" / "invoice.pdf", ps.PLANTED) == []
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    done = next(line for line in lines if line.get("file", "").endswith("invoice.pdf"))
    assert done["pages"] == 1 and {r["page"] for r in done["regions"]} == {0}
    assert "Margaret" not in (tmp_path / "r.jsonl").read_text()
    scanned = CliRunner().invoke(main, ["scan", str(folder / "sub" / "invoice.pdf")])
    assert scanned.exit_code == 0 and "text.EMAIL_ADDRESS" in scanned.output


@pytest.mark.slow
def test_text_drawn_as_outlines_is_removed(tmp_path: Path) -> None:
    src = ps.outlined_text(tmp_path / "in.pdf", [f"Patient: {ps.SCAN_NAME}",
                                                 "Follow-up visit in spring."])
    assert ps.SCAN_NAME in _ocr_text(pdfium.PdfDocument(src)[0].render(scale=2).to_numpy()
                                     [:, :, :3])
    # blur draws no box over removed text: what is left on the page is what the file holds
    blur = Redactor(Policy.model_validate({"kinds": {"text": {"operator": "blur"}}}))
    redact_file(blur, src, tmp_path / "out.pdf")
    text = _ocr_text(pdfium.PdfDocument(tmp_path / "out.pdf")[0].render(scale=2).to_numpy()
                     [:, :, :3])
    assert "Follow-up visit" in text
    assert "Whitfield" not in text and "Harold" not in text
