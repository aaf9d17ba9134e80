"""Partial mentions of a person named in full get that person's pseudonym, and restore
accepts the forms models write tokens in."""

from pathlib import Path

import pytest

from veil.pseudo.engine import Pseudonymizer
from veil.pseudo.restore import Restorer
from veil.pseudo.vault import Vault


@pytest.fixture
def pseudo(tmp_path: Path) -> Pseudonymizer:
    return Pseudonymizer(Vault(tmp_path / "vault.db"))


def test_surname_reversed_name_and_initial_after_a_full_name(pseudo: Pseudonymizer) -> None:
    assert pseudo.pseudonymize("Jane Roe asked for a refund.", "s").text == (
        "<PERSON_1> asked for a refund.")
    out = pseudo.pseudonymize("Roe, Jane wants a refund. J. Roe called; Roe is upset.", "s")
    assert out.text == "<PERSON_1> wants a refund. <PERSON_1> called; <PERSON_1> is upset."
    assert pseudo.pseudonymize("Send it to Roe today.", "s").text == (
        "Send it to <PERSON_1> today.")
    assert pseudo.restore("Dear <PERSON_1>", "s") == "Dear Jane Roe"


def test_a_surname_before_the_full_name_in_one_text(pseudo: Pseudonymizer) -> None:
    out = pseudo.pseudonymize("Roe wrote first, then Jane Roe signed.", "s")
    assert out.text == "<PERSON_1> wrote first, then <PERSON_1> signed."


def test_a_surname_shared_by_two_people_is_hidden_on_its_own(pseudo: Pseudonymizer) -> None:
    out = pseudo.pseudonymize("Jane Roe and Jim Roe came; Roe paid.", "s")
    assert out.text == "<PERSON_1> and <PERSON_2> came; <PERSON_3> paid."


def test_other_sessions_do_not_know_the_name(pseudo: Pseudonymizer) -> None:
    pseudo.pseudonymize("Jane Roe asked.", "a")
    assert pseudo.pseudonymize("Send it to Roe today.", "b").text == "Send it to Roe today."


@pytest.mark.parametrize("answer", ["Dear Person 1,", "Dear PERSON-1,", "Dear person_1,",
                                    "Dear <Person 1>,", "Dear [PERSON 1],"])
def test_restore_accepts_token_variants(answer: str) -> None:
    assert Restorer({"<PERSON_1>": "Jane Roe"}).restore(answer) == "Dear Jane Roe,"


def test_restore_leaves_other_numbered_words_alone() -> None:
    restorer = Restorer({"<PERSON_1>": "Jane Roe", "<EMAIL_ADDRESS_1>": "j@example.org"})
    assert restorer.restore("In 2021, Person 2 and Email Address 1 met in Room 1.") == (
        "In 2021, Person 2 and j@example.org met in Room 1.")
