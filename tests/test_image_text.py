"""Personal text inside images: real OCR (rapidocr) on pages drawn here."""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import covered, render_page
from veil import Policy, Pseudonymizer, Redactor, Vault
from veil.cli import main
from veil.detect import ocr
from veil.detect.image_text import ImageTextDetector, page_of
from veil.detect.ocr import read_lines
from veil.errors import DetectorError
from veil.images import Picture, encode_image, read_image

FORM = [
    "Application for employment",
    "Name: Jonathan Whitaker",
    "Email: jonathan.whitaker@example.com",
    "Phone: +1 (212) 555-0199",
    "DOB: 03/14/1985",
    "Position applied for: Warehouse supervisor",
]
PERSONAL = ["Jonathan", "Whitaker", "jonathan.whitaker@example.com", "(212)", "555-0199",
            "03/14/1985"]
CONTEXT = ["Application", "employment", "Position", "Warehouse", "supervisor"]


@pytest.fixture(scope="module")
def detector() -> ImageTextDetector:
    return ImageTextDetector(plates=False)


def _read(image: np.ndarray) -> str:
    return " ".join(line.text for line in read_lines(image))


def test_form_values_are_found_word_by_word(detector: ImageTextDetector) -> None:
    page, boxes = render_page(FORM)
    regions = detector.detect(page)
    kinds = {r.kind for r in regions}
    assert {"text.PERSON", "text.EMAIL_ADDRESS", "text.PHONE_NUMBER"} <= kinds
    assert kinds & {"text.DATE_OF_BIRTH", "text.DATE_TIME"}
    for word in PERSONAL:
        assert all(covered(b, regions) for b in boxes[word]), word
    for word in CONTEXT:
        assert not any(covered(b, regions) for b in boxes[word]), word
    assert all(r.source.startswith("rapidocr") for r in regions)
    assert "Whitaker" not in repr(regions)


def test_redacted_form_no_longer_reads_the_values_but_keeps_the_rest() -> None:
    page, _ = render_page(FORM)
    redactor = Redactor(Policy(kinds={"face": {"enabled": False}, "code": {"enabled": False}}))
    out, report = redactor.redact(Picture(page, "RGB", "PNG"))
    text = _read(out.pixels)
    for value in ("Whitaker", "jonathan", "555-0199", "1985"):
        assert value not in text
    for word in CONTEXT:
        assert word in text
    assert report.counts().get("text.PERSON") == 1


def test_dark_mode_chat(detector: ImageTextDetector) -> None:
    page, boxes = render_page(["Chat with support", "Maria Gonzalez: my card is",
                               "4111 1111 1111 1111 thanks"], background=30, ink=230)
    regions = detector.detect(page)
    for word in ("Maria", "Gonzalez:", "4111"):
        assert all(covered(b, regions) for b in boxes[word]), word
    assert not any(covered(b, regions) for b in boxes["support"])


def test_a_value_wrapped_over_two_lines_is_masked_on_both(detector: ImageTextDetector) -> None:
    page, boxes = render_page(["Please write to jonathan.whitaker@example.com or",
                               "call +1 212 555", "0199 after noon"])
    page_text = page_of(read_lines(page)).text
    assert "\n" in page_text
    regions = detector.detect(page)
    assert all(covered(b, regions) for b in boxes["jonathan.whitaker@example.com"])


def test_medical_header_upper_case_name_sex_and_dates(detector: ImageTextDetector) -> None:
    page, boxes = render_page(["WHITAKER JONATHAN [M] 03.09.2012", "DOB: 07.22.1943"],
                              background=0, ink=235, size=18, width=420)
    regions = detector.detect(page)
    for word in ("WHITAKER", "JONATHAN", "[M]", "03.09.2012", "07.22.1943"):
        assert all(covered(b, regions) for b in boxes[word]), word
    assert not any(covered(b, regions) for b in boxes["DOB:"])


def test_machine_readable_zone_is_hidden_whole(detector: ImageTextDetector) -> None:
    mrz = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
           "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
    page, boxes = render_page(["PASSPORT", *mrz], size=20, width=760)
    regions = detector.detect(page)
    assert [r for r in regions if r.kind == "text.MRZ"]
    for line in mrz:
        assert all(covered(b, regions) for b in boxes[line]), line


def test_a_page_with_no_text_gives_nothing(detector: ImageTextDetector) -> None:
    assert detector.detect(np.full((300, 400, 3), 200, np.uint8)) == []


def test_a_10000_px_tall_scan_is_read_in_tiles(detector: ImageTextDetector) -> None:
    page, boxes = render_page(["Contact: jonathan.whitaker@example.com"], size=22, width=700,
                              top=9400, height=10_000)
    regions = detector.detect(page)
    assert all(covered(b, regions) for b in boxes["jonathan.whitaker@example.com"])


def test_an_ocr_failure_blocks_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page, _ = render_page(FORM)
    src = tmp_path / "form.png"
    src.write_bytes(encode_image(Picture(page, "RGB", "PNG"), 95))

    def broken(*_args: object) -> tuple[int, np.ndarray, list[ocr.Line]]:
        raise RuntimeError("model crashed on Jonathan Whitaker")

    monkeypatch.setattr("veil.detect.image_text.read_upright", broken)
    dst = tmp_path / "out" / "form.png"
    with pytest.raises(DetectorError) as err:
        Redactor().redact_file(src, dst)
    assert "blocked" in str(err.value) and "Whitaker" not in str(err.value)
    assert not dst.exists()


def test_replace_writes_the_sessions_surrogate_in_place(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", key=Vault.generate_key())
    pseudo = Pseudonymizer(vault, style="surrogate")
    prompt = pseudo.pseudonymize("Is Jonathan Whitaker a good fit?", "s1").text
    fake = prompt.removeprefix("Is ").removesuffix(" a good fit?")
    assert fake != "Jonathan Whitaker"

    page, _ = render_page(["Application for employment", "Name: Jonathan Whitaker"])
    policy = Policy(kinds={"face": {"enabled": False}, "code": {"enabled": False},
                             "text": {"operator": "replace"}})
    redactor = Redactor(policy, pseudonymizer=pseudo)
    out, report = redactor.redact(Picture(page, "RGB", "PNG"), session="s1")
    text = _read(out.pixels)
    assert "Whitaker" not in text
    drawn = text.partition("Name:")[2].strip()
    # the prompt's surrogate is drawn in place (OCR may misread an accented letter)
    assert SequenceMatcher(None, drawn.casefold(), fake.casefold()).ratio() > 0.75, drawn
    assert "employment" in text
    assert {a.operator for a in report.actions} == {"replace"}
    answer = f"{fake} has warehouse experience."
    assert pseudo.restore(answer, "s1") == "Jonathan Whitaker has warehouse experience."


def test_cli_redact_with_a_session_writes_the_prompts_surrogate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_VAULT_PATH", str(tmp_path / "vault.db"))
    runner = CliRunner()
    said = runner.invoke(main, ["pseudonymize", "--session", "job-7", "--style", "surrogate"],
                         input="Hire Jonathan Whitaker?")
    assert said.exit_code == 0, said.output
    fake = said.stdout.strip().removeprefix("Hire ").removesuffix("?")
    page, _ = render_page(["Application for employment", "Name: Jonathan Whitaker"])
    src = tmp_path / "in" / "form.png"
    src.parent.mkdir()
    src.write_bytes(encode_image(Picture(page, "RGB", "PNG"), 95))
    policy = tmp_path / "policy.yaml"
    policy.write_text("kinds:\n  text: {operator: replace}\n")
    done = runner.invoke(main, ["redact", str(src), "--out", str(tmp_path / "out"),
                                "--policy", str(policy), "--session", "job-7"])
    assert done.exit_code == 0, done.output
    out = read_image(tmp_path / "out" / "form.png", Policy().limits)
    drawn = _read(out.pixels).partition("Name:")[2].strip()
    assert "Whitaker" not in drawn
    assert SequenceMatcher(None, drawn.casefold(), fake.casefold()).ratio() > 0.75, drawn


# --- rules on OCR lines given directly (no OCR run) ----------------------------------------


def _line(y: int, *parts: tuple[int, str], h: int = 16) -> ocr.Line:
    """One OCR line at height ``y``: (x, text) per word, 9 px per character."""
    words = tuple(ocr.Word(text, (x, y, x + 9 * len(text), y + h), 0.9) for x, text in parts)
    return ocr.Line(words, (words[0].box[0], y, words[-1].box[2], y + h), 0.9)


def _found(detector: ImageTextDetector, lines: list[ocr.Line]) -> dict[str, str]:
    image = np.zeros((400, 900, 3), np.uint8)
    return {r.text or "": r.kind for r in detector.text_regions(image, lines)}


def test_field_values_right_of_or_below_their_labels(detector: ImageTextDetector) -> None:
    found = _found(detector, [
        _line(10, (20, "Passport"), (110, "No.:"), (160, "X1234567")),
        _line(40, (20, "Nachname"), (300, "Dokumentnummer")),
        _line(58, (22, "Säuberlich"), (302, "C9W8453M5")),
        _line(100, (20, "Nationality"), (300, "Sex")),
        _line(118, (22, "FRENCH"), (302, "F")),
    ])
    assert found.get("X1234567") == "text.ID_NUMBER"
    assert found.get("C9W8453M5") == "text.ID_NUMBER"
    assert found.get("Säuberlich") == "text.PERSON"
    assert "FRENCH" not in found and "Nachname" not in found


def test_a_lone_heading_under_a_name_label_is_not_a_name(detector: ImageTextDetector) -> None:
    found = _found(detector, [_line(10, (20, "NAME"), (70, "OF"), (100, "GUEST")),
                              _line(30, (20, "AGE"))])
    assert found == {}


def test_masked_card_numbers(detector: ImageTextDetector) -> None:
    found = _found(detector, [_line(10, (20, "VISA"), (70, "****"), (115, "****"),
                                    (160, "****"), (205, "7714")),
                              _line(40, (20, "MASTERCARD"), (120, "XXXX0789")),
                              _line(70, (20, "TOTAL"), (80, "12.50"))])
    assert found == {"**** **** **** 7714": "text.CREDIT_CARD",
                     "XXXX0789": "text.CREDIT_CARD"}


def test_phones_on_their_own_row_and_capital_addresses(detector: ImageTextDetector) -> None:
    found = _found(detector, [
        _line(10, (20, "Telefon")),
        _line(30, (20, "+34"), (60, "606"), (95, "860"), (130, "596")),
        _line(60, (20, "13285"), (75, "LAURIE"), (135, "HARB0R"), (200, "APT."), (240, "594")),
        _line(80, (20, "PETERSSTAD,"), (125, "SC"), (150, "61194")),
    ])
    assert found.get("+34 606 860 596") == "text.PHONE_NUMBER"
    assert found.get("13285 LAURIE HARB0R APT. 594") == "text.ADDRESS"
    assert found.get("PETERSSTAD, SC 61194") == "text.ADDRESS"


def test_medical_header_caret_name_and_study_date(detector: ImageTextDetector) -> None:
    found = _found(detector, [
        _line(10, (10, "CALDWELL^GLENDA"), (600, "UNIKLINIK"), (700, "NORD")),
        _line(30, (10, "ID:"), (40, "85369501"), (600, "Study:"), (660, "20091222")),
        _line(50, (10, "D0B"), (50, "19750416"), (600, "14:15:57")),
    ])
    assert found.get("CALDWELL^GLENDA") == "text.PERSON"
    assert found.get("85369501") == "text.ID_NUMBER"
    assert found.get("19750416") == "text.DATE_OF_BIRTH"
    assert found.get("20091222") == "text.DATE_TIME"
    assert "UNIKLINIK NORD" not in found
