"""PDF pages with a text layer against the same pages rasterised (scanned, OCR'd).

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/pdf.py [--rounds 3]
[--json FILE]``.

Documents: a few letters, invoices, forms and CVs written here as HTML with fake personal
values (Faker, fixed seed) and printed to PDF by LibreOffice Writer (``soffice --headless
--convert-to pdf``, Debian's libreoffice-writer-nogui; documents a user would send; pages
that draw nothing are dropped), plus
the same kind of page written by reportlab. Each is cached in ``benchmarks/.cache/pdf/``.
For every document a rasterised twin is made: each page rendered at 200 dpi and stored as
a JPEG filling a page of the same size, no text layer (a scan of the printout).

Both versions are redacted by ``veil.pdf.redact.redact_pdf`` with the default policy in
this process (models loaded before the first timing), alternating text-layer and raster
runs ``--rounds`` times; seconds per page are medians. Leakage: every planted value is
looked for in the text-layer outputs' bytes (decoded streams too) and text layer (pdfium),
and in an OCR reading of the raster outputs rendered at 200 dpi.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from faker import Faker

from veil import Redactor
from veil.detect.ocr import read_lines
from veil.pdf.redact import redact_pdf

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "pdf"
RASTER_DPI = 200


@dataclass(frozen=True)
class Document:
    name: str
    path: Path
    values: tuple[str, ...]


def _people(seed: int) -> list[dict[str, str]]:
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    fake.seed_instance(seed)
    out = []
    for _ in range(6):
        out.append({
            "name": fake.name(), "email": fake.email(), "phone": fake.phone_number(),
            "street": fake.street_address(), "city": f"{fake.postcode()} {fake.city()}",
            "iban": fake.iban(), "birth": fake.date_of_birth().strftime("%d/%m/%Y"),
            "card": fake.credit_card_number(card_type="visa16"),
        })
    return out


_FILLER = ("The service described in this document was delivered on schedule. Please keep "
           "this page for your records; the terms and conditions printed overleaf apply to "
           "every order placed with us during the current financial year.")


def _html_documents(seed: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, html, planted values) of a letter, an invoice, a form and a CV."""
    p = _people(seed)
    e = html.escape
    letter = p[0]
    invoice = p[1]
    form = p[2]
    cv = p[3]
    docs = [
        ("letter", f"""<p>{e(letter['name'])}<br>{e(letter['street'])}<br>{e(letter['city'])}
<br>{e(letter['phone'])}</p><p>Dear {e(letter['name'])},</p><p>{_FILLER}</p>
<p>Should you have any questions, write to {e(letter['email'])}.</p><p>{_FILLER}</p>
<p>Kind regards,<br>Customer Service</p>""",
         (letter["name"], letter["email"], letter["phone"], letter["street"])),
        ("invoice", f"""<h1>Invoice 2024-0117</h1><p>Billed to: {e(invoice['name'])}<br>
{e(invoice['street'])}, {e(invoice['city'])}</p><table border=1>
<tr><th>Item</th><th>Qty</th><th>Price</th></tr><tr><td>Boiler service</td><td>1</td>
<td>120.00</td></tr><tr><td>Replacement valve</td><td>2</td><td>35.50</td></tr></table>
<p>Paid by card {e(invoice['card'])}. Refunds go to IBAN {e(invoice['iban'])}.</p>
<p>{_FILLER}</p>""", (invoice["name"], invoice["card"], invoice["iban"])),
        ("form", f"""<h2>Patient registration</h2><table>
<tr><td>Full name:</td><td>{e(form['name'])}</td></tr>
<tr><td>Date of birth:</td><td>{e(form['birth'])}</td></tr>
<tr><td>Phone:</td><td>{e(form['phone'])}</td></tr>
<tr><td>Email:</td><td>{e(form['email'])}</td></tr>
<tr><td>Address:</td><td>{e(form['street'])}, {e(form['city'])}</td></tr></table>
<p>{_FILLER}</p>""", (form["name"], form["birth"], form["email"])),
        ("cv", f"""<h1>{e(cv['name'])}</h1><p>{e(cv['email'])} | {e(cv['phone'])}</p>
<h3>Experience</h3><p>Maintenance engineer, heating systems, 2015 to 2023. {_FILLER}</p>
<h3>Education</h3><p>Technical college, mechanical engineering. {_FILLER}</p>""",
         (cv["name"], cv["email"])),
    ]
    return docs


def _libreoffice(folder: Path, seed: int) -> list[Document]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("soffice not found: LibreOffice documents left out "
              "(apt-get install libreoffice-writer-nogui)")
        return []
    out = []
    for name, body, values in _html_documents(seed):
        pdf = folder / f"lo-{name}.pdf"
        if not pdf.exists():
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / f"lo-{name}.html"
                src.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
                subprocess.run([soffice, "--headless", "--infilter=HTML (StarWriter)",
                                "--convert-to", "pdf:writer_pdf_Export", "--outdir",
                                str(folder), str(src)], check=True, capture_output=True,
                               timeout=180)
            _drop_blank_pages(pdf)
        out.append(Document(f"lo-{name}", pdf, values))
    return out


def _drop_blank_pages(path: Path) -> None:
    """Remove pages that draw nothing (LibreOffice may start an HTML document with one):
    both versions of a page are then the same page."""
    document = pdfium.PdfDocument(path)
    blank = [i for i, page in enumerate(document) if not list(page.get_objects())]
    document.close()
    if blank:
        with pikepdf.open(path, allow_overwriting_input=True) as pdf:
            for i in reversed(blank):
                del pdf.pages[i]
            pdf.save(path)


def _reportlab(folder: Path, seed: int) -> list[Document]:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    person = _people(seed + 1)[4]
    pdf = folder / "rl-statement.pdf"
    c = canvas.Canvas(str(pdf), pagesize=A4)
    y = 780
    for line in ("Account statement", f"Account holder: {person['name']}",
                 f"{person['street']}, {person['city']}", f"IBAN: {person['iban']}",
                 f"Phone: {person['phone']}", _FILLER[:90], _FILLER[90:]):
        c.drawString(72, y, line)
        y -= 20
    c.save()
    return [Document("rl-statement", pdf, (person["name"], person["iban"]))]


def rasterised(src: Path, dst: Path) -> None:
    """``src`` with every page replaced by a 200 dpi JPEG of it, same page size."""
    document = pdfium.PdfDocument(src)
    out = pikepdf.new()
    for page in document:
        width, height = page.get_size()
        pil = page.render(scale=RASTER_DPI / 72).to_pil().convert("RGB")
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=85)
        image = pikepdf.Stream(out, buf.getvalue())
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height = pil.width, pil.height
        image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
        image.Filter = pikepdf.Name.DCTDecode
        new = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, width, height],
                                 Resources=pikepdf.Dictionary(
                                     XObject=pikepdf.Dictionary(Im0=image)))
        new.Contents = out.make_stream(f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode())
        out.pages.append(pikepdf.Page(new))
    out.save(dst)
    document.close()


def _leaks_text_layer(data: bytes, values: tuple[str, ...]) -> list[str]:
    blobs = [data]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        blobs += [o.read_bytes() for o in pdf.objects if isinstance(o, pikepdf.Stream)]
    document = pdfium.PdfDocument(data)
    texts = [" ".join(p.get_textpage().get_text_range().split()) for p in document]
    document.close()
    return [v for v in values if any(v.encode("latin-1", "ignore") in b for b in blobs)
            or any(v in t for t in texts)]


def _leaks_ocr(data: bytes, values: tuple[str, ...]) -> list[str]:
    document = pdfium.PdfDocument(data)
    read = " ".join(line.text for page in document for line in
                    read_lines(page.render(scale=RASTER_DPI / 72).to_numpy()[:, :, :3].copy()))
    document.close()
    flat = " ".join(read.split())
    return [v for v in values if v in flat]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    documents = _reportlab(CACHE, args.seed) + _libreoffice(CACHE, args.seed)
    redactor = Redactor()
    redactor.warm_up()
    rows = []
    for doc in documents:
        raster = CACHE / f"{doc.name}-raster.pdf"
        if not raster.exists():
            rasterised(doc.path, raster)
        text_data, raster_data = doc.path.read_bytes(), raster.read_bytes()
        pages = len(pdfium.PdfDocument(text_data))
        text_s: list[float] = []
        raster_s: list[float] = []
        for _ in range(args.rounds):
            for data, times in ((text_data, text_s), (raster_data, raster_s)):
                start = time.perf_counter()
                out, _ = redact_pdf(redactor, data)
                times.append((time.perf_counter() - start) / pages)
                if data is text_data:
                    text_out = out
                else:
                    raster_out = out
        row = {"document": doc.name, "pages": pages,
               "text_layer_s": statistics.median(text_s),
               "raster_s": statistics.median(raster_s),
               "values": len(doc.values),
               "left_text_layer": len(_leaks_text_layer(text_out, doc.values)),
               "left_raster_ocr": len(_leaks_ocr(raster_out, doc.values)),
               "readable_before": len(_leaks_ocr(raster_data, doc.values))}
        row["ratio"] = row["text_layer_s"] / row["raster_s"]
        rows.append(row)
        print(json.dumps(row))
    print("\n| document | pages | text layer s/page | rasterised s/page | ratio | values "
          "| left (text layer) | read by OCR before | left (raster, OCR) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['document']} | {r['pages']} | {r['text_layer_s']:.2f} | "
              f"{r['raster_s']:.2f} | {r['ratio']:.3f} | {r['values']} | "
              f"{r['left_text_layer']} | {r['readable_before']} | {r['left_raster_ocr']} |")
    total_text = sum(r["text_layer_s"] * r["pages"] for r in rows)
    total_raster = sum(r["raster_s"] * r["pages"] for r in rows)
    print(f"\nall pages: text layer {total_text:.2f} s, rasterised {total_raster:.2f} s, "
          f"ratio {total_text / total_raster:.3f} (target <= 0.2)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
