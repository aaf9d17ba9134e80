"""PDFs the tests build themselves (reportlab writes the pages, pikepdf adds the parts
reportlab does not write), with personal values planted in every place a PDF can hold
them: the text layer, a scanned page, a photo, metadata, XMP, annotations, form fields,
an attachment and JavaScript."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pikepdf
import reportlab
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

NAME = "Margaret Thornton"
EMAIL = "margaret.thornton@example.org"
CARD = "4111 1111 1111 1111"
PHONE = "+1 415 555 0132"
SCAN_NAME = "Harold Whitfield"
SCAN_EMAIL = "h.whitfield@example.com"
TTF_NAME = "Beatrice Kowalski"
FORM_PHONE = "+44 20 7946 0958"
PLANTED = (NAME, EMAIL, CARD, PHONE, SCAN_NAME, SCAN_EMAIL, TTF_NAME, FORM_PHONE)
KEPT = ("quarterly maintenance report", "heating system", "Invoice summary")
_VERA = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"


def _scan_picture(lines: list[str], size: tuple[int, int]) -> Image.Image:
    """A page of text as a scanner would give it: grey paper, black text, 200 dpi."""
    im = Image.new("L", size, 245)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(_VERA), 40)
    for i, line in enumerate(lines):
        draw.text((120, 160 + i * 90), line, fill=15, font=font)
    return im


def text_page(c: canvas.Canvas, photo: np.ndarray | None) -> None:
    height = c._pagesize[1]
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, height - 72, "Invoice summary")
    c.setFont("Helvetica", 11)
    rows = [
        "This quarterly maintenance report covers the heating system of the building.",
        f"Customer name: {NAME}",
        f"Email: {EMAIL}",
        f"Card number: {CARD}",
        f"Phone: {PHONE}",
        "All parts were replaced under warranty and the heating system passed its test.",
    ]
    for i, row in enumerate(rows):
        c.drawString(72, height - 110 - i * 18, row)
    pdfmetrics.registerFont(TTFont("Vera", str(_VERA)))
    c.setFont("Vera", 11)
    c.drawString(72, height - 250, f"Technician on site: {TTF_NAME}, see the heating system.")
    c.beginForm("footer")  # a form XObject: text drawn through "Do"
    c.setFont("Helvetica", 9)
    c.drawString(72, 60, f"Questions? Call {FORM_PHONE} or read the heating system notes.")
    c.endForm()
    c.doForm("footer")
    if photo is not None:
        c.drawImage(ImageReader(Image.fromarray(photo)), 72, 120, width=200, height=200)


def scanned_page(c: canvas.Canvas) -> None:
    width, height = c._pagesize
    picture = _scan_picture([f"Patient: {SCAN_NAME}", f"Contact: {SCAN_EMAIL}",
                             "Follow-up visit in spring."],
                            (round(width / 72 * 200), round(height / 72 * 200)))
    c.drawImage(ImageReader(picture), 0, 0, width=width, height=height)


def build(path: Path, photo: np.ndarray | None = None, scanned: bool = True,
          extras: bool = True) -> Path:
    """The sample PDF: a text-layer page (with ``photo`` if given), a scanned page, and
    (``extras``) metadata, XMP, annotations, a form field, an attachment, JavaScript."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setAuthor(NAME)
    c.setTitle(f"Invoice for {NAME}")
    c.setSubject(EMAIL)
    text_page(c, photo)
    if extras:
        c.acroForm.textfield(name="customer", value=NAME, x=300, y=600, width=200,
                             height=20)
        c.linkURL(f"mailto:{EMAIL}", (72, 700, 300, 720))
    c.showPage()
    if scanned:
        c.setPageSize(letter)
        scanned_page(c)
        c.showPage()
    c.save()
    with pikepdf.open(io.BytesIO(buf.getvalue())) as pdf:
        if extras:
            with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:creator"] = [NAME]
                meta["dc:description"] = f"Statement for {EMAIL}"
            pdf.attachments["contact.txt"] = pikepdf.AttachedFileSpec(
                pdf, f"{NAME}, {PHONE}".encode(), description=NAME)
            script = pdf.make_stream(f"app.alert('Hello {NAME}, {CARD}');".encode())
            action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=script)
            pdf.Root.Names.JavaScript = pikepdf.Dictionary(
                Names=pikepdf.Array([pikepdf.String("greet"), pdf.make_indirect(action)]))
            pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(
                S=pikepdf.Name.JavaScript, JS=pikepdf.String(f"app.alert('{PHONE}');")))
            note = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text,
                                      Rect=[400, 700, 420, 720],
                                      Contents=pikepdf.String(f"Call {NAME} at {PHONE}"))
            pdf.pages[0].obj.Annots.append(pdf.make_indirect(note))
        pdf.save(path)
    return path


def composite_font(path: Path) -> Path:
    """A page whose text uses a composite font (Type0, Identity-H, two bytes a glyph),
    written by pdfium's page editor."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    data = _VERA.read_bytes()
    document = pdfium.PdfDocument.new()
    page = document.new_page(595, 842)
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    font = pdfium_c.FPDFText_LoadFont(document.raw, buf, len(data),
                                      pdfium_c.FPDF_FONT_TRUETYPE, 1)
    rows = [f"Contact person: {NAME}, phone {PHONE}.", "The heating system was serviced."]
    for i, text in enumerate(rows):
        obj = pdfium_c.FPDFPageObj_CreateTextObj(document.raw, font, 12.0)
        wide = ctypes.create_string_buffer((text + "\0").encode("utf-16-le"))
        pdfium_c.FPDFText_SetText(obj, ctypes.cast(wide, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
        pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 72, 700 - 20 * i)
        pdfium_c.FPDFPage_InsertObject(page.raw, obj)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    document.save(path)
    document.close()
    return path


def outlined_text(path: Path, lines: list[str]) -> Path:
    """A page whose text is drawn as vector outlines (filled paths traced from rendered
    glyphs), with no text layer: what "convert text to outlines" gives."""
    import cv2

    scale = 4  # pixels per point of the traced rendering
    width, height = 595, 842
    im = Image.new("L", (width * scale, 300 * scale), 0)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(_VERA), 14 * scale)
    for i, line in enumerate(lines):
        draw.text((72 * scale, (40 + 30 * i) * scale), line, fill=255, font=font)
    contours, _ = cv2.findContours(np.asarray(im), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    ops = []
    for contour in contours:
        pts = [(x / scale, height - y / scale) for x, y in contour[:, 0, :]]
        ops.append(f"{pts[0][0]:.2f} {pts[0][1]:.2f} m " + " ".join(
            f"{x:.2f} {y:.2f} l" for x, y in pts[1:]) + " h f*")
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(width, height))
    page.obj.Contents = pdf.make_stream(("0 g\n" + "\n".join(ops)).encode())
    pdf.save(path)
    return path
