"""Names no list holds, told from words by how rare they are (``rare-name``), and chat
speakers judged the same way. The names here are from none of Veil's name lists."""

from __future__ import annotations

import pytest

from veil.text import lexicon
from veil.text.detector import TextDetector

DETECTOR = TextDetector(ner=False)


def found(text: str, entity: str = "PERSON") -> list[str]:
    return [text[s.start : s.end] for s in DETECTOR.scan(text) if s.entity == entity]


@pytest.mark.parametrize(("text", "name"), [
    ("Le rendez-vous avec Ngozi Okonkwo est confirmé pour lundi.", "Ngozi Okonkwo"),
    ("Bitte leiten Sie das an Tadeusz Wróblewski weiter.", "Tadeusz Wróblewski"),
    ("La reunión con Aigerim Nurlanovna queda confirmada.", "Aigerim Nurlanovna"),
    ("The ticket was assigned to Siosaia Taufa yesterday.", "Siosaia Taufa"),
    ("Kontakt: Sigrún Þórsdóttir, Telefon folgt.", "Sigrún Þórsdóttir"),
    ("El cliente Wouter van Aalderink indica que la aplicación se cierra.",
     "Wouter van Aalderink"),
    ("Pourriez-vous transmettre ceci à Oyelaran avant vendredi ?", "Oyelaran"),
    ("Könnten Sie das bitte an Nkechi weiterleiten?", "Nkechi"),
    ("Why is Wairimu so quiet today?", "Wairimu"),
    ("Tadeusz Wróblewski's car was towed.", "Tadeusz Wróblewski"),
    ("Please ship the parcel to SIOSAIA TAUFA by Friday.", "SIOSAIA TAUFA"),
    ("Hi, I am Siobhán Ní Bhraonáin from Galway.", "Siobhán Ní Bhraonáin"),
    # a run with a lone known first name in it is one name, not the first name alone
    ("Anwesend waren Dr. Ingeborg Roe, Piotr Wiśniewski und andere.", "Piotr Wiśniewski"),
])
def test_unknown_names_in_running_text(text: str, name: str) -> None:
    assert name in found(text)


@pytest.mark.parametrize("text", [
    "Der Restbetrag wird mit dem Dauerauftrag im Wartungsfenster verrechnet.",
    "Bitte prüfen Sie die Referenznummer und den Gesamtbetrag.",
    "We deploy with Kubernetes and store the state in PostgreSQL on GitHub.",
    "La facture du Crédit Agricole arrive demain.",
    "FORMULARIO DE SOLICITUD\nDirección: calle mayor\nFirma: pendiente",
    "KUNDENDATEN\nGeburtsort: unbekannt\nAnschrift: folgt",
    "Nous avons reçu votre Demande de Remboursement hier.",
    "Certificamos que todo está en orden.",  # first in its sentence: capitalised anyway
    "The Zhuangzi and the Daodejing are central texts.",  # after an article: no person
])
def test_words_of_the_language_are_not_names(text: str) -> None:
    assert found(text) == []


def test_a_word_next_to_a_number_is_a_street_not_a_name() -> None:
    text = "Send it to 7584 Höfðastígur, please."
    assert "Höfðastígur" not in found(text)


def test_chat_speakers_no_list_holds_are_names() -> None:
    chat = ("[10:02] oyelaran: on se retrouve à 18h ?\n"
            "[10:03] Support: bonjour, comment puis-je aider ?\n"
            "[10:04] Wairimu: je viens d'atterrir mdr")
    speakers = found(chat)
    assert "oyelaran" in speakers and "Wairimu" in speakers
    assert "Support" not in speakers


def test_form_labels_are_not_chat_speakers() -> None:
    assert found("Betreff: Kein Zugriff\nGeburtsort: Bremen\nUnterschrift: fehlt") == []


def test_places_opening_lines_are_not_chat_speakers() -> None:
    # towns the gazetteer holds are words to rare-name, however rare, as they are to the
    # gazetteer (which leaves a word before a colon alone)
    text = "Stock per warehouse\nBydgoszcz: 120 units\nTlaquepaque: 80 units\nWairimu: 5 units"
    assert found(text) == ["Wairimu"]


def test_a_country_ending_a_sentence_is_a_place() -> None:
    assert found("The ferry arrived this morning from Iceland.", "LOCATION") == ["Iceland"]


def test_a_possessive_first_name_is_a_name() -> None:
    assert found("As promised, here's Sandra's address:") == ["Sandra"]


def test_names_are_judged_only_by_the_lists_of_veils_languages() -> None:
    # a language's own list holds its people's names as words: Polish is not consulted
    assert lexicon.commonness("Kowalczyk", "de") < 3.0
    assert lexicon.commonness("Rechnung", "de") > 4.0
    assert lexicon.compound_noun("Referenznummer", "de")
    assert not lexicon.compound_noun("Referenznummer", "fr")


@pytest.mark.parametrize(("text", "value", "entity"), [
    ("Name: Łukasz Żółtowski", "Łukasz Żółtowski", "PERSON"),
    ("Frau Şener kommt morgen.", "Şener", "PERSON"),
    ("He lives at Höfðastígur 86, Reykjavík", "Höfðastígur 86, Reykjavík", "ADDRESS"),
])
def test_letters_beyond_latin_1_in_names_and_streets(text: str, value: str, entity: str) -> None:
    # capitals and small letters of Latin Extended, Greek and Cyrillic count as letters
    assert value in found(text, entity)


@pytest.mark.parametrize(("text", "name"), [
    ("KAUFMANN, JOHANNA", "KAUFMANN, JOHANNA"),  # the surname is a German word
    ("WRÓBLEWSKI, TADEUSZ", "WRÓBLEWSKI, TADEUSZ"),
])
def test_upper_case_surname_comma_given_name(text: str, name: str) -> None:
    assert found(text) == [name]


@pytest.mark.parametrize("text", ["INVOICE, TOTAL", "IMPORTANT NOTICE, PLEASE READ",
                                  "PATIENT, JOHANNA"])
def test_upper_case_words_and_labels_are_not_inverted_names(text: str) -> None:
    assert [v for v in found(text) if "," in v] == []


@pytest.mark.parametrize(("word", "compound"), [
    ("Wartungsfenster", True), ("Rücksendeetikett", True), ("Kundennummer", True),
    ("Takkelenburg", False), ("Wróblewski", False),
])
def test_german_compounds_are_made_of_common_parts(word: str, compound: bool) -> None:
    assert lexicon.compound_noun(word, "de") is compound
