"""Identifier recognizers (data/identifiers.yaml): one positive and one negative case each
at least, in the language of the identifier. The numbers are made up for these tests; the
ones with a checksum were completed so that python-stdnum accepts them, and the negative
cases are the same shape with the checksum broken or without the context word."""

import pytest

from veil.text import TextDetector
from veil.text.spec import builtin_specs

DETECTOR = TextDetector(ner=False)

FOUND = [
    # (text, value, entity)
    ("Meine Steuer-ID lautet 27351829468.", "27351829468", "DE_TAX_ID"),
    ("Steuernummer 181/815/08155 beim Finanzamt", "181/815/08155", "DE_TAX_NUMBER"),
    ("USt-IdNr.: DE123456788", "DE123456788", "DE_VAT_ID"),
    ("Personalausweisnummer L01X00T47", "L01X00T47", "DE_ID_CARD"),
    ("Handelsregister: Amtsgericht Köln HRB 12345", "HRB 12345", "DE_HANDELSREGISTER"),
    ("Rentenversicherungsnummer 12 150385 M 127", "12 150385 M 127", "DE_SOCIAL_SECURITY"),
    ("Postleitzahl 80331", "80331", "DE_PLZ"),
    ("Versand nach DE-80331 München", "DE-80331", "DE_PLZ"),
    ("Versichertennummer A123456789 der Krankenkasse", "A123456789", "DE_HEALTH_INSURANCE"),
    ("Mi DNI es 58213647A", "58213647A", "ES_NIF"),
    ("NIE: X4821930A", "X4821930A", "ES_NIE"),
    ("numéro de sécurité sociale 2 84 06 75 123 456 88", "2 84 06 75 123 456 88", "FR_NIR"),
    ("Il codice fiscale è BNCMRA85T10A940A", "BNCMRA85T10A940A", "IT_FISCAL_CODE"),
    ("Partita IVA 01234560017", "01234560017", "IT_VAT_CODE"),
    ("Mijn BSN is 158236713", "158236713", "NL_BSN"),
    ("O meu NIF é 265834910", "265834910", "PT_NIF"),
    ("Numer PESEL 85072112349", "85072112349", "PL_PESEL"),
    ("henkilötunnus 120485-301L", "120485-301L", "FI_PERSONAL_IDENTITY_CODE"),
    ("personnummer 850412-1230", "850412-1230", "SE_PERSONNUMMER"),
    ("T.C. kimlik no 10528637428", "10528637428", "TR_NATIONAL_ID"),
    ("ITIN 912-70-1830 on the form", "912-70-1830", "US_ITIN"),
    ("ABA routing number 385173623", "385173623", "ABA_ROUTING_NUMBER"),
    ("provider NPI 1845612039", "1845612039", "US_NPI"),
    ("Medicare MBI 1EG4-TE5-MK73", "1EG4-TE5-MK73", "US_MBI"),
    ("bank account number 000123456789", "000123456789", "US_BANK_NUMBER"),
    ("NHS number 485 777 3457", "485 777 3457", "UK_NHS"),
    ("National Insurance number AB 12 34 56 C", "AB 12 34 56 C", "UK_NINO"),
    ("Post to 10 Downing Street, London SW1A 2AA.", "SW1A 2AA", "UK_POSTCODE"),
    ("SIN 146-129-176", "146-129-176", "CA_SIN"),
    ("ABN 51 824 753 556", "51 824 753 556", "AU_ABN"),
    ("TFN 512 736 483", "512 736 483", "AU_TFN"),
    ("Medicare card 3157 28462 1", "3157 28462 1", "AU_MEDICARE"),
    ("Aadhaar 3146 2978 1436", "3146 2978 1436", "IN_AADHAAR"),
    ("PAN card BNZPK1234A", "BNZPK1234A", "IN_PAN"),
    ("GSTIN 27AAPFB1234C1ZU", "27AAPFB1234C1ZU", "IN_GSTIN"),
    ("NRIC S8512345I", "S8512345I", "SG_NRIC_FIN"),
    ("주민등록번호 850412-1234561", "850412-1234561", "KR_RRN"),
    ("Thai ID 1-1017-00245-60-8", "1-1017-00245-60-8", "TH_TNIN"),
    ("South African ID number 8504125126089", "8504125126089", "ZA_ID_NUMBER"),
    ("wallet 0x52908400098527886E0F7030069857D2E4169EE7",
     "0x52908400098527886E0F7030069857D2E4169EE7", "CRYPTO"),
    ("MAC 00:1A:2B:3C:4D:5E on eth0", "00:1A:2B:3C:4D:5E", "MAC_ADDRESS"),
    ("session 123e4567-e89b-12d3-a456-426614174000 expired", "123e4567-e89b-12d3-a456-426614174000",
     "UUID"),
    ("prior authorization PA-20231145 approved", "PA-20231145", "US_PRIOR_AUTHORIZATION_NUMBER"),
    ("practice EIN 12-3456780", "12-3456780", "US_PROVIDER_TAX_ID"),
    ("driving licence MORGA753116SM9IJ", "MORGA753116SM9IJ", "UK_DRIVING_LICENCE"),
    ("car registration AB51 ABC", "AB51 ABC", "UK_VEHICLE_REGISTRATION"),
    ("Reisepass C01X00T47", "C01X00T47", "DE_PASSPORT"),
    ("Führerschein B072RRE2I55", "B072RRE2I55", "DE_FUEHRERSCHEIN"),
    ("Kennzeichen K-AB 1234", "K-AB 1234", "DE_KFZ"),
    ("Número de pasaporte PAA123456", "PAA123456", "ES_PASSPORT"),
    ("carta d'identità CA12345AB", "CA12345AB", "IT_IDENTITY_CARD"),
    ("passaporto YA1234567", "YA1234567", "IT_PASSPORT"),
    ("patente di guida MI1234567X", "MI1234567X", "IT_DRIVER_LICENSE"),
    ("Cartão de Cidadão 15384727 2 ZZ3", "15384727 2 ZZ3", "PT_CC"),
    ("NIP 526-104-08-28", "526-104-08-28", "PL_NIP"),
    ("organisationsnummer 556036-0793", "556036-0793", "SE_ORGANISATIONSNUMMER"),
    ("araç plaka 34 ABC 123", "34 ABC 123", "TR_LICENSE_PLATE"),
    ("postal code K1A 0B1", "K1A 0B1", "CA_POSTAL_CODE"),
    ("ACN 361 528 743", "361 528 743", "AU_ACN"),
    ("voter ID XYZ1234566", "XYZ1234566", "IN_VOTER"),
    ("Indian passport J8369854", "J8369854", "IN_PASSPORT"),
    ("vehicle registration MH 12 AB 1234", "MH 12 AB 1234", "IN_VEHICLE_REGISTRATION"),
    ("UEN 53012345B", "53012345B", "SG_UEN"),
    ("외국인등록번호 850412-5634569", "850412-5634569", "KR_FRN"),
    ("사업자등록번호 123-45-67890", "123-45-67890", "KR_BRN"),
    ("passport M123A4567", "M123A4567", "KR_PASSPORT"),
    ("운전면허 11-12-345678-90", "11-12-345678-90", "KR_DRIVER_LICENSE"),
    ("TIN 123-456-789-000", "123-456-789-000", "PH_TIN"),
    ("UMID 1234-5678901-2", "1234-5678901-2", "PH_UMID"),
    ("DFA passport P1234567A", "P1234567A", "PH_PASSPORT"),
    ("vehicle registration ABC-123DE", "ABC-123DE", "NG_VEHICLE_REGISTRATION"),
    ("SARS income tax reference 0123456782", "0123456782", "ZA_INCOME_TAX_NUMBER"),
    ("VAT number 4123456789", "4123456789", "ZA_VAT_NUMBER"),
    ("company registration 2015/123456/07", "2015/123456/07", "ZA_COMPANY_REGISTRATION"),
    ("number plate BC 45 DF GP", "BC 45 DF GP", "ZA_LICENSE_PLATE"),
    # values glued to text written without spaces
    ("我的身份证号是主民등록850412-1234561谢谢", "850412-1234561", "KR_RRN"),
]

LEFT = [
    "Steuer-ID 27351829467 (Prüfziffer falsch)",        # checksum broken
    "Artikel 27351829468 ist wieder lieferbar",          # no context, plain digits
    "Mi DNI es 58213647B",                               # wrong control letter
    "Numer PESEL 85072112348",                           # checksum broken
    "NHS number 485 777 3458",                           # checksum broken
    "Mijn BSN is 158236714",                             # eleven-proof fails
    "EAN 3217530362103 im Lager",                        # an EAN is not a Thai ID
    "Version 1.2.3 released on build 4455",
    "Order ABC1234567 shipped",
    "ITIN 912-40-1830 on the form",                      # group 40 is not an ITIN's
]


@pytest.mark.parametrize(("text", "value", "entity"), FOUND)
def test_identifier_found(text: str, value: str, entity: str) -> None:
    found = {text[s.start:s.end]: s.entity for s in DETECTOR.scan(text)}
    assert found.get(value) == entity, found


@pytest.mark.parametrize("text", LEFT)
def test_look_alikes_left_alone(text: str) -> None:
    ids = {s.entity for s in builtin_specs("identifiers.yaml")}
    assert [text[s.start:s.end] for s in DETECTOR.scan(text) if s.entity in ids] == []


def test_every_listed_identifier_has_a_positive_case() -> None:
    entities = {e for _, _, e in FOUND}
    weak = {s.entity for s in builtin_specs("identifiers.yaml")
            if max(p.score for p in s.patterns) < 0.1}  # context-only shapes
    missing = {s.entity for s in builtin_specs("identifiers.yaml")} - entities - weak
    assert not missing, sorted(missing)
