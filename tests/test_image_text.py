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

    def broken(_image: np.ndarray) -> list[ocr.Line]:
        raise RuntimeError("model crashed on Jonathan Whitaker")

    monkeypatch.setattr("veil.detect.image_text.read_lines", broken)
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
