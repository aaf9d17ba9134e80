"""Deterministic, labelled document images with planted fake personal data, for OCR redaction.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/doc_data.py [--out DIR]
[--n 240] [--seed 11]``. Writes the images and ``manifest.jsonl`` (the format of
``/work/shared/corpus/README.md``, plus ``kind`` and ``lang``) to ``benchmarks/.cache/docs/``
by default; the images are never committed.

Thirteen kinds, in turn: job application, identity verification and loan application forms,
chat screenshots (light and dark), an e-mail screenshot, a passport-style ID card (photo
placeholder, TD3 machine-readable zone), a receipt, a medical image header (black, greyscale,
burned-in DICOM-style text), a bank letter, a shipping label, a slightly rotated scan (1-3
degrees) and a noisy JPEG scan. Values come from Faker (en_US, de_DE, fr_FR, es_ES; seeded
per image) and from ``text_data.Values``; card numbers pass Luhn, IBANs mod 97, MRZ lines
their check digits.

Every rendered word gets one box, the tight extent of its ink (x2/y2 exclusive; after a
rotation, the extent of the rotated ink): ``pii`` with an ``entity`` for words of a personal
value (a value over two lines has boxes on both), ``word`` for everything else (labels,
headings, products, prices, non-personal dates), except tokens without a letter or digit.
Entities: PERSON, EMAIL_ADDRESS, PHONE_NUMBER, US_SSN, DATE_OF_BIRTH, ADDRESS, CREDIT_CARD,
IBAN_CODE, ID_NUMBER (passport, national ID and patient numbers), MRZ (one box per line),
DATE_TIME (medical study dates only) and CARD_LAST_DIGITS (a receipt's masked card number).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from faker import Faker
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from text_data import LOCALES, MONTHS, Values, fold, luhn_check_digit

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / ".cache" / "docs"
DEFAULT_N = 240
DEFAULT_SEED = 11
VERSION = 1  # bump when the output changes, so that cached sets are rebuilt
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FACES = {
    "sans": "DejaVuSans.ttf", "sans_bold": "DejaVuSans-Bold.ttf",
    "sans_oblique": "DejaVuSans-Oblique.ttf", "cond": "DejaVuSansCondensed.ttf",
    "cond_bold": "DejaVuSansCondensed-Bold.ttf", "serif": "DejaVuSerif.ttf",
    "serif_bold": "DejaVuSerif-Bold.ttf", "serif_italic": "DejaVuSerif-Italic.ttf",
    "mono": "DejaVuSansMono.ttf", "mono_bold": "DejaVuSansMono-Bold.ttf",
}  # fmt: skip
LANG_WEIGHTS = {"en": 0.4, "de": 0.2, "fr": 0.2, "es": 0.2}
FORM_KINDS = ("hiring_form", "identity_form", "loan_application")
SCAN_SOURCES = (*FORM_KINDS, "bank_letter")
KINDS = (
    *FORM_KINDS, "chat_light", "chat_dark", "email", "id_card", "receipt", "medical",
    "bank_letter", "shipping_label", "rotated_scan", "noisy_scan",
)  # fmt: skip

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]
Points = npt.NDArray[np.float64]

INKS: tuple[RGB, ...] = ((15, 15, 15), (0, 0, 0), (25, 40, 95), (45, 45, 45), (60, 30, 30))
PAPERS: tuple[RGB, ...] = ((255, 255, 255), (250, 250, 245), (246, 248, 252), (255, 253, 240))
ACCENTS: tuple[RGB, ...] = ((20, 70, 140), (140, 20, 40), (10, 110, 80), (90, 40, 120),
                            (190, 80, 10))  # fmt: skip

# Form labels and headings, per language.
TEXT: dict[str, tuple[str, str, str, str]] = {
    "full_name": ("Full name", "Vollständiger Name", "Nom complet", "Nombre completo"),
    "surname": ("Surname", "Nachname", "Nom", "Apellidos"),
    "given": ("Given names", "Vornamen", "Prénoms", "Nombre"),
    "dob": ("Date of birth", "Geburtsdatum", "Date de naissance", "Fecha de nacimiento"),
    "email": ("Email", "E-Mail", "Courriel", "Correo electrónico"),
    "phone": ("Phone", "Telefon", "Téléphone", "Teléfono"),
    "address": ("Home address", "Anschrift", "Adresse", "Dirección"),
    "ssn": ("Social Security No.", "", "", ""),
    "position": ("Position applied for", "Angestrebte Position", "Poste souhaité",
                 "Puesto solicitado"),
    "start": ("Available from", "Verfügbar ab", "Disponible le", "Disponible desde"),
    "salary": ("Desired salary", "Gehaltsvorstellung", "Salaire souhaité", "Salario deseado"),
    "references": ("References", "Referenzen", "Références", "Referencias"),
    "certify": (
        "I certify that the information given in this application is true and complete.",
        "Ich versichere, dass alle Angaben in dieser Bewerbung wahr und vollständig sind.",
        "Je certifie que les informations fournies dans ce formulaire sont exactes.",
        "Certifico que la información de esta solicitud es verdadera y completa.",
    ),
    "signature": ("Signature", "Unterschrift", "Signature", "Firma"),
    "date": ("Date", "Datum", "Date", "Fecha"),
    "nationality": ("Nationality", "Staatsangehörigkeit", "Nationalité", "Nacionalidad"),
    "doc_no": ("Document number", "Ausweisnummer", "N° du document", "Número de documento"),
    "doc_type": ("Document type", "Dokumentart", "Type de document", "Tipo de documento"),
    "doc_types": ("Passport / ID card / Driver license", "Reisepass / Personalausweis",
                  "Passeport / Carte d'identité", "Pasaporte / DNI"),
    "photo": ("PHOTO", "FOTO", "PHOTO", "FOTO"),
    "sex": ("Sex", "Geschlecht", "Sexe", "Sexo"),
    "issue": ("Date of issue", "Ausstellungsdatum", "Date de délivrance", "Fecha de expedición"),
    "expiry": ("Date of expiry", "Gültig bis", "Date d'expiration", "Válido hasta"),
    "authority": ("Authority", "Behörde", "Autorité", "Autoridad"),
    "applicant": ("Applicant", "Antragsteller", "Demandeur", "Solicitante"),
    "co_applicant": ("Co-applicant", "Mitantragsteller", "Co-emprunteur", "Cotitular"),
    "amount": ("Loan amount", "Kreditbetrag", "Montant du prêt", "Importe del préstamo"),
    "term": ("Term", "Laufzeit", "Durée", "Plazo"),
    "months": ("months", "Monate", "mois", "meses"),
    "employer": ("Employer", "Arbeitgeber", "Employeur", "Empresa"),
    "income": ("Annual income", "Jahreseinkommen", "Revenu annuel", "Ingresos anuales"),
    "card": ("Card for fees", "Karte für Gebühren", "Carte pour les frais", "Tarjeta para gastos"),
    "iban": ("IBAN for payout", "IBAN für Auszahlung", "IBAN de versement", "IBAN para abono"),
    "personal": ("Personal details", "Persönliche Angaben", "Informations personnelles",
                 "Datos personales"),
    "contact": ("Contact", "Kontakt", "Coordonnées", "Contacto"),
    "loan": ("Loan details", "Kreditdaten", "Détails du prêt", "Datos del préstamo"),
    "bank": ("Bank details", "Bankverbindung", "Coordonnées bancaires", "Datos bancarios"),
    "job_title": ("Job Application Form", "Bewerbungsbogen", "Formulaire de candidature",
                  "Solicitud de empleo"),
    "id_title": ("Identity Verification", "Identitätsprüfung", "Vérification d'identité",
                 "Verificación de identidad"),
    "loan_title": ("Loan Application", "Kreditantrag", "Demande de prêt",
                   "Solicitud de préstamo"),
    "office": ("For office use only", "Nur für interne Vermerke", "Réservé à l'administration",
               "Uso interno"),
    "online": ("online", "online", "en ligne", "en línea"),
    "message": ("Message", "Nachricht", "Message", "Mensaje"),
    "from": ("From:", "Von:", "De :", "De:"),
    "to": ("To:", "An:", "À :", "Para:"),
    "subject": ("Subject:", "Betreff:", "Objet :", "Asunto:"),
    "reply": ("Reply", "Antworten", "Répondre", "Responder"),
    "forward": ("Forward", "Weiterleiten", "Transférer", "Reenviar"),
    "inbox": ("Inbox", "Posteingang", "Boîte de réception", "Bandeja de entrada"),
    "customer": ("Customer:", "Kunde:", "Client :", "Cliente:"),
    "cashier": ("Cashier:", "Kassierer:", "Caissier :", "Cajero:"),
    "total": ("TOTAL", "SUMME", "TOTAL", "TOTAL"),
    "subtotal": ("Subtotal", "Zwischensumme", "Sous-total", "Subtotal"),
    "tax": ("Tax", "MwSt.", "TVA", "IVA"),
    "thanks": ("Thank you for shopping with us!", "Vielen Dank für Ihren Einkauf!",
               "Merci de votre visite !", "¡Gracias por su compra!"),
    "member": ("Member:", "Mitglied:", "Membre :", "Socio:"),
    "ship_to": ("SHIP TO:", "EMPFÄNGER:", "DESTINATAIRE :", "DESTINATARIO:"),
    "ship_from": ("FROM:", "ABSENDER:", "EXPÉDITEUR :", "REMITENTE:"),
    "weight": ("WEIGHT", "GEWICHT", "POIDS", "PESO"),
    "tracking": ("TRACKING #", "SENDUNGSNR.", "N° DE SUIVI", "N.º SEGUIMIENTO"),
    "priority": ("PRIORITY", "EXPRESS", "PRIORITAIRE", "URGENTE"),
    "regards": ("Sincerely,", "Mit freundlichen Grüßen", "Cordialement,", "Atentamente,"),
    "advisor": ("Customer advisor", "Kundenberater", "Conseiller clientèle",
                "Asesor de clientes"),
    "letter_subject": ("Your account and your new card", "Ihr Konto und Ihre neue Karte",
                       "Votre compte et votre nouvelle carte", "Su cuenta y su nueva tarjeta"),
}  # fmt: skip
LANG_INDEX = {"en": 0, "de": 1, "fr": 2, "es": 3}

CHAT = {
    "en": [
        "Hey {FIRST}, are we still on for tomorrow?", "Sure! Send me your new address please",
        "It's {ADDRESS}", "My new number is {PHONE}",
        "Can you forward the invoice to {EMAIL} please?",
        "{FIRST} said the meeting moved to 3pm", "Thanks, see you at the office",
        "The package goes to {NAME}, {ADDRESS}", "Call {FIRST} at {PHONE} after five",
        "My date of birth is {DOB} if the form needs it",
        "SSN is {SSN}, please delete this after", "Lol yes", "On my way",
    ],
    "de": [
        "Hallo {FIRST}, bleibt es bei morgen?", "Klar! Schick mir bitte deine neue Adresse",
        "Die lautet {ADDRESS}", "Meine neue Nummer ist {PHONE}",
        "Kannst du die Rechnung an {EMAIL} schicken?",
        "{FIRST} sagt, das Meeting ist jetzt um 15 Uhr", "Danke, bis später im Büro",
        "Das Paket geht an {NAME}, {ADDRESS}", "Ruf {FIRST} unter {PHONE} an",
        "Mein Geburtsdatum ist der {DOB}", "Überweis es bitte auf {IBAN}", "Alles klar",
        "Bin unterwegs",
    ],
    "fr": [
        "Salut {FIRST}, on se voit toujours demain ?",
        "Bien sûr ! Envoie-moi ta nouvelle adresse", "C'est {ADDRESS}",
        "Mon nouveau numéro : {PHONE}", "Tu peux envoyer la facture à {EMAIL} ?",
        "{FIRST} dit que la réunion est à 15h", "Merci, à plus tard au bureau",
        "Le colis est pour {NAME}, {ADDRESS}", "Appelle {FIRST} au {PHONE}",
        "Ma date de naissance : {DOB}", "Fais le virement sur {IBAN} stp", "Ok ça marche",
        "J'arrive",
    ],
    "es": [
        "Hola {FIRST}, ¿seguimos con lo de mañana?", "¡Claro! Mándame tu nueva dirección",
        "Es {ADDRESS}", "Mi nuevo número es {PHONE}", "¿Puedes enviar la factura a {EMAIL}?",
        "{FIRST} dice que la reunión es a las 15:00", "Gracias, nos vemos en la oficina",
        "El paquete es para {NAME}, {ADDRESS}", "Llama a {FIRST} al {PHONE}",
        "Mi fecha de nacimiento es {DOB}", "Haz la transferencia a {IBAN}", "Vale, perfecto",
        "Ya voy",
    ],
}
EMAIL = {
    "en": [
        "Dear {FIRST},", "Thank you for your application. As discussed on the phone, please "
        "check the details below before {DATE} so that we can prepare your contract.",
        "Your contact person from now on is {NAME}, who can be reached at {PHONE} or {EMAIL}.",
        "We will send the signed documents to {ADDRESS} within five working days.",
        "For the payroll we have your social security number {SSN} and your date of birth "
        "{DOB} on file. Please reply if either is wrong.", "Best regards,",
    ],
    "de": [
        "Hallo {FIRST},", "vielen Dank für Ihre Bewerbung. Wie besprochen bitten wir Sie, die "
        "Angaben unten bis zum {DATE} zu prüfen, damit wir den Vertrag vorbereiten können.",
        "Ihre Ansprechpartnerin ist ab sofort {NAME}, erreichbar unter {PHONE} oder {EMAIL}.",
        "Die unterschriebenen Unterlagen senden wir innerhalb von fünf Werktagen an {ADDRESS}.",
        "Für die Gehaltsabrechnung haben wir Ihr Geburtsdatum {DOB} und das Konto {IBAN} "
        "hinterlegt. Bitte melden Sie sich, falls etwas nicht stimmt.", "Viele Grüße",
    ],
    "fr": [
        "Bonjour {FIRST},", "merci pour votre candidature. Comme convenu, merci de vérifier "
        "les informations ci-dessous avant le {DATE} afin que nous préparions le contrat.",
        "Votre interlocutrice est désormais {NAME}, joignable au {PHONE} ou à {EMAIL}.",
        "Nous enverrons les documents signés à l'adresse {ADDRESS} sous cinq jours ouvrés.",
        "Pour la paie, nous avons enregistré votre date de naissance {DOB} et le compte "
        "{IBAN}. Merci de nous signaler toute erreur.", "Bien cordialement,",
    ],
    "es": [
        "Hola {FIRST}:", "gracias por su solicitud. Como hablamos por teléfono, revise los "
        "datos de abajo antes del {DATE} para que podamos preparar el contrato.",
        "Su persona de contacto a partir de ahora es {NAME}, en el {PHONE} o en {EMAIL}.",
        "Enviaremos los documentos firmados a {ADDRESS} en cinco días hábiles.",
        "Para la nómina tenemos registrada su fecha de nacimiento {DOB} y la cuenta {IBAN}. "
        "Avísenos si algún dato es incorrecto.", "Un saludo,",
    ],
}
LETTER = {
    "en": [
        "Dear {TITLE} {LAST},", "we are writing to confirm that your current account {IBAN} "
        "has been moved to our new banking platform. Your standing orders and direct debits "
        "will continue as before.", "Your replacement debit card {CARD} will be sent to "
        "{ADDRESS} within the next ten days. Please destroy your old card once it arrives.",
        "If you have any questions, please contact your advisor {NAME} at {PHONE}.",
    ],
    "de": [
        "Sehr geehrte{TITLE} {LAST},", "hiermit bestätigen wir, dass Ihr Girokonto {IBAN} auf "
        "unsere neue Plattform umgezogen ist. Daueraufträge und Lastschriften laufen wie "
        "gewohnt weiter.", "Ihre neue Debitkarte {CARD} senden wir in den nächsten zehn Tagen "
        "an {ADDRESS}. Bitte vernichten Sie die alte Karte nach Erhalt.",
        "Bei Fragen erreichen Sie Ihren Berater {NAME} unter {PHONE}.",
    ],
    "fr": [
        "{TITLE} {LAST},", "nous vous confirmons que votre compte courant {IBAN} a été migré "
        "vers notre nouvelle plateforme. Vos virements permanents et prélèvements continuent "
        "comme avant.", "Votre nouvelle carte {CARD} sera envoyée à l'adresse {ADDRESS} dans "
        "les dix prochains jours. Merci de détruire l'ancienne carte à réception.",
        "Pour toute question, contactez votre conseiller {NAME} au {PHONE}.",
    ],
    "es": [
        "Estimad{TITLE} {LAST}:", "le confirmamos que su cuenta corriente {IBAN} se ha "
        "trasladado a nuestra nueva plataforma. Sus órdenes permanentes y domiciliaciones "
        "siguen como antes.", "Su nueva tarjeta de débito {CARD} se enviará a {ADDRESS} en "
        "los próximos diez días. Destruya la tarjeta antigua al recibirla.",
        "Si tiene alguna pregunta, llame a su asesor {NAME} al {PHONE}.",
    ],
}
PRODUCTS = {
    "en": "Whole milk 1L|Sourdough bread|Bananas 1kg|Coffee beans 500g|Cheddar cheese|"
          "Orange juice|Paper towels|Greek yogurt|Chicken breast|Olive oil 750ml|Eggs 12pk",
    "de": "Vollmilch 1L|Roggenbrot|Bananen 1kg|Kaffeebohnen 500g|Gouda Scheiben|"
          "Orangensaft|Küchenrolle|Joghurt natur|Hähnchenbrust|Olivenöl 750ml|Eier 10er",
    "fr": "Lait entier 1L|Baguette|Bananes 1kg|Café en grains|Comté 200g|Jus d'orange|"
          "Essuie-tout|Yaourt nature|Filet de poulet|Huile d'olive|Oeufs x12",
    "es": "Leche entera 1L|Pan de molde|Plátanos 1kg|Café en grano|Queso manchego|"
          "Zumo de naranja|Papel de cocina|Yogur natural|Pechuga de pollo|Aceite de oliva|"
          "Huevos x12",
}
STORES = ("FRESHMART", "GREENLEAF MARKET", "CITY GROCER", "SUPERSAVE", "MARKTPLATZ",
          "BIOLADEN", "PRIMEUR", "MERCADO CENTRAL")  # fmt: skip
HOSPITALS = ("ST. MARY HOSPITAL", "CITY MEDICAL CENTER", "UNIKLINIK NORD", "CHU RIVE GAUCHE",
             "HOSPITAL GENERAL", "LAKESIDE IMAGING")  # fmt: skip
BANKS = ("Northbridge Bank", "Sparkasse Mittelland", "Banque du Littoral", "Banco Meridional",
         "Crescent Savings", "Volksbank Elbtal")  # fmt: skip
MRZ_COUNTRY = {"en": "USA", "de": "D", "fr": "FRA", "es": "ESP"}
NATIONALITY = {"en": "USA", "de": "DEUTSCH", "fr": "FRANÇAISE", "es": "ESPAÑOLA"}
PASSPORT_TITLE = {
    "en": ("UNITED STATES OF AMERICA", "PASSPORT"),
    "de": ("BUNDESREPUBLIK DEUTSCHLAND", "REISEPASS / PASSPORT"),
    "fr": ("RÉPUBLIQUE FRANÇAISE", "PASSEPORT / PASSPORT"),
    "es": ("REINO DE ESPAÑA", "PASAPORTE / PASSPORT"),
}


def t(lang: str, key: str) -> str:
    """The form text ``key`` in ``lang``."""
    return TEXT[key][LANG_INDEX[lang]]


@functools.cache
def font(face: str, size: int) -> Font:
    """DejaVu ``face`` at ``size`` px, or Pillow's default font when DejaVu is missing."""
    path = FONT_DIR / FACES[face]
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def ascent(fnt: Font) -> int:
    """Pixels from the top of a line (anchor "la") to its baseline."""
    if isinstance(fnt, ImageFont.FreeTypeFont):
        return int(fnt.getmetrics()[0])
    return int(fnt.getbbox("Ag")[3])


def line_height(fnt: Font) -> int:
    if isinstance(fnt, ImageFont.FreeTypeFont):
        a, d = fnt.getmetrics()
        return int(a + d)
    return int(fnt.getbbox("Ag")[3]) + 2


# --- text pieces and layout ---------------------------------------------------------------


class Piece(NamedTuple):
    """A run of text drawn as one unit: its entity (None: context) and whether it joins the
    previous piece without a space."""

    text: str
    entity: str | None
    glue: bool


SLOT = re.compile(r"(\{[A-Z0-9_]+\})")


def pieces(template: str, slots: Mapping[str, tuple[str, str | None]]) -> list[Piece]:
    """Split a template into pieces: whitespace separates words, entity changes split them."""
    chars: list[tuple[str, str | None]] = []
    for part in SLOT.split(template):
        if SLOT.fullmatch(part):
            value, entity = slots[part[1:-1]]
            chars.extend((c, entity) for c in value)
        else:
            chars.extend((c, None) for c in part)
    out: list[Piece] = []
    run, run_entity, glue = "", None, False
    for c, entity in [*chars, (" ", None)]:
        if c.isspace() or (run and entity != run_entity):
            if run:
                out.append(Piece(run, run_entity, glue))
            glue = not c.isspace()
            run, run_entity = ("", None) if c.isspace() else (c, entity)
            continue
        run, run_entity = run + c, entity
    return out


def plain(text: str, entity: str | None = None) -> list[Piece]:
    """Every word of ``text`` as one piece of ``entity``."""
    return [Piece(w, entity, False) for w in text.split()]


Placed = tuple[Piece, float, int]  # piece, x offset, line number


def layout(items: Sequence[Piece], fnt: Font, width: float) -> tuple[list[Placed], float, int]:
    """Word-wrap ``items`` into ``width``; returns placements, the widest line and line count.

    Glued pieces stay on one line; a unit wider than ``width`` gets a line of its own.
    """
    units: list[list[Piece]] = []
    for p in items:
        if p.glue and units:
            units[-1].append(p)
        else:
            units.append([p])
    space = fnt.getlength(" ")
    placed: list[Placed] = []
    x, line, widest = 0.0, 0, 0.0
    for unit in units:
        w = sum(fnt.getlength(p.text) for p in unit)
        start = x + space if x > 0 else 0.0
        if x > 0 and start + w > width:
            line, start = line + 1, 0.0
        for p in unit:
            placed.append((p, start, line))
            start += fnt.getlength(p.text)
        x = start
        widest = max(widest, x)
    return placed, widest, line + 1 if placed else 0


@dataclass
class Page:
    """An RGB canvas that records a box (and its ink pixels) for every word drawn on it."""

    kind: str
    size: tuple[int, int]
    paper: RGB
    im: Image.Image = field(init=False)
    draw: ImageDraw.ImageDraw = field(init=False)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    ink: list[Points] = field(default_factory=list)
    bottom: int = 0

    def __post_init__(self) -> None:
        self.im = Image.new("RGB", self.size, self.paper)
        self.draw = ImageDraw.Draw(self.im)

    def piece(self, x: float, y: float, p: Piece, fnt: Font, fill: RGB) -> None:
        """Draw one piece with its top-left (anchor "la") at (x, y) and record its box."""
        self.draw.text((x, y), p.text, font=fnt, fill=fill)
        left, top, right, low = (int(v) for v in self.draw.textbbox((x, y), p.text, font=fnt))
        self.bottom = max(self.bottom, low)
        if not any(c.isalnum() for c in p.text):
            return
        pad = 3
        scratch = Image.new("L", (right - left + 2 * pad, low - top + 2 * pad), 0)
        ImageDraw.Draw(scratch).text((x - left + pad, y - top + pad), p.text, font=fnt, fill=255)
        ys, xs = np.nonzero(np.asarray(scratch))
        if len(xs) == 0:
            return
        pts = np.stack([xs + left - pad, ys + top - pad], axis=1).astype(np.float64)
        box: dict[str, Any] = {"label": "pii" if p.entity else "word"}
        if p.entity:
            box["entity"] = p.entity
        box["xyxy"] = [int(pts[:, 0].min()), int(pts[:, 1].min()),
                       int(pts[:, 0].max()) + 1, int(pts[:, 1].max()) + 1]  # fmt: skip
        box["text"] = p.text
        self.boxes.append(box)
        self.ink.append(pts)

    def line(self, x: float, y: float, items: Sequence[Piece], fnt: Font, fill: RGB) -> float:
        """Draw ``items`` on one line; returns the x after the last piece."""
        placed, widest, _ = layout(items, fnt, math.inf)
        for p, dx, _ in placed:
            self.piece(x + dx, y, p, fnt, fill)
        return x + widest

    def text(self, x: float, y: float, text: str, fnt: Font, fill: RGB,
             entity: str | None = None) -> float:
        """Draw the words of ``text`` on one line; returns the x after it."""
        return self.line(x, y, plain(text, entity), fnt, fill)

    def flow(self, x: float, y: float, items: Sequence[Piece], fnt: Font, fill: RGB,
             width: float, leading: float = 1.25) -> float:
        """Draw ``items`` word-wrapped into ``width``; returns the y below the last line."""
        placed, _, lines = layout(items, fnt, width)
        step = round(line_height(fnt) * leading)
        for p, dx, n in placed:
            self.piece(x + dx, y + n * step, p, fnt, fill)
        return y + lines * step

    def crop_height(self, height: int) -> None:
        """Cut the canvas to ``height`` rows (boxes below it would be dropped)."""
        self.im = self.im.crop((0, 0, self.size[0], height))
        self.size = (self.size[0], height)
        self.draw = ImageDraw.Draw(self.im)


def right_text(page: Page, x_right: float, y: float, text: str, fnt: Font, fill: RGB,
               entity: str | None = None) -> None:
    """Draw ``text`` ending at ``x_right``."""
    page.text(x_right - fnt.getlength(text), y, text, fnt, fill, entity)


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    sex: str
    dob: date
    email: str
    phone: str
    street: str
    city_line: str
    ssn: str
    iban: str
    card: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def address(self) -> str:
        return f"{self.street}, {self.city_line}"


def _clean(text: str) -> str:
    return " ".join(str(text).replace("\n", " ").split())


def make_person(lang: str, fake: Faker, values: Values, rng: random.Random) -> Person:
    """A consistent fake identity in ``lang``."""
    sex = rng.choice("MF")
    first = _clean(fake.first_name_male() if sex == "M" else fake.first_name_female())
    last = _clean(fake.last_name())
    if lang == "es" and rng.random() < 0.5:
        last = f"{last} {_clean(fake.last_name())}"
    f, la = fold(first) or "mail", fold(last) or "user"
    domain = str(fake.free_email_domain())
    email = rng.choice([f"{f}.{la}@{domain}", f"{f[0]}{la}{rng.randint(1, 99)}@{domain}",
                        f"{la}.{f}@{domain}", f"{f}{rng.randint(70, 99)}@{domain}"])  # fmt: skip
    street = _clean(fake.street_address())
    if lang == "en":
        state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
        city_line = f"{_clean(fake.city())}, {state} {fake.zipcode()}"
    else:
        city_line = f"{fake.postcode()} {_clean(fake.city())}"
    dob = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 64))
    return Person(first, last, sex, dob, email, values.phone(), street, city_line, values.ssn(),
                  values.iban(), card_number(rng))


def card_number(rng: random.Random) -> str:
    """A Luhn-valid 16-digit Visa or Mastercard number in groups of four."""
    prefix = rng.choice(["4", "4", f"5{rng.randint(1, 5)}"])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
    number = body + luhn_check_digit(body)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def fmt_date(d: date, lang: str, rng: random.Random) -> str:
    """``d`` written the way ``lang`` usually writes dates."""
    month = MONTHS[lang].split()[d.month - 1]
    opts = {
        "en": [f"{d:%m/%d/%Y}", f"{month} {d.day}, {d.year}", f"{d:%m-%d-%Y}"],
        "de": [f"{d:%d.%m.%Y}", f"{d.day}. {month} {d.year}"],
        "fr": [f"{d:%d/%m/%Y}", f"{d.day} {month} {d.year}"],
        "es": [f"{d:%d/%m/%Y}", f"{d:%d-%m-%Y}"],
    }[lang]
    return rng.choice(opts)


def doc_number(rng: random.Random, n: int = 9) -> str:
    """A passport-like document number: a letter, then letters and digits."""
    return rng.choice("CFGHJKLMNPRTVWXYZ") + "".join(
        rng.choice("CFGHJKLMNPRTVWXYZ0123456789") for _ in range(n - 1))


def ascii_upper(text: str) -> str:
    """Upper-case ASCII letters of ``text`` (ß -> SS, accents dropped)."""
    text = text.replace("ß", "SS").replace("ẞ", "SS")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def mrz_check(field_: str) -> str:
    """ICAO 9303 check digit (weights 7, 3, 1; A=10..Z=35; '<' = 0)."""
    weights = (7, 3, 1)
    total = 0
    for i, c in enumerate(field_):
        v = int(c) if c.isdigit() else ord(c) - 55 if c.isalpha() else 0
        total += v * weights[i % 3]
    return str(total % 10)


def mrz_td3(country: str, last: str, first: str, number: str, dob: date, sex: str,
            expiry: date) -> tuple[str, str]:
    """The two 44-character lines of a passport (TD3) machine-readable zone."""
    def part(s: str) -> str:
        return re.sub(r"[^A-Z]+", "<", ascii_upper(s)).strip("<")

    c = (country + "<<")[:3]
    line1 = (f"P<{c}{part(last)}<<{part(first)}" + "<" * 44)[:44]
    num = (number + "<<<<<<<<<")[:9]
    birth, end = f"{dob:%y%m%d}", f"{expiry:%y%m%d}"
    personal = "<" * 14
    line2 = (f"{num}{mrz_check(num)}{c}{birth}{mrz_check(birth)}{sex}{end}{mrz_check(end)}"
             f"{personal}<")
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return line1, line2 + mrz_check(composite)


# --- document kinds -----------------------------------------------------------------------


@dataclass
class Ctx:
    """Everything one document is made from."""

    lang: str
    rng: random.Random
    fake: Faker
    values: Values
    person: Person
    other: Person
    ink: RGB
    paper: RGB
    accent: RGB

    def t(self, key: str) -> str:
        return t(self.lang, key)

    def date(self, start: int = 2022, years: int = 4) -> str:
        d = date(start, 1, 1) + timedelta(days=self.rng.randint(0, 365 * years))
        return fmt_date(d, self.lang, self.rng)

    def slots(self) -> dict[str, tuple[str, str | None]]:
        p, o = self.person, self.other
        return {
            "FIRST": (p.first, "PERSON"), "LAST": (p.last, "PERSON"), "NAME": (o.name, "PERSON"),
            "EMAIL": (o.email if self.rng.random() < 0.5 else p.email, "EMAIL_ADDRESS"),
            "PHONE": (o.phone, "PHONE_NUMBER"), "ADDRESS": (p.address, "ADDRESS"),
            "DOB": (fmt_date(p.dob, self.lang, self.rng), "DATE_OF_BIRTH"),
            "SSN": (p.ssn, "US_SSN"), "IBAN": (p.iban, "IBAN_CODE"),
            "CARD": (p.card, "CREDIT_CARD"), "DATE": (self.date(), None),
        }  # fmt: skip


Field = tuple[str, list[Piece]]  # label, value; a label starting with "#" is a heading


def form_fields(kind: str, c: Ctx) -> tuple[str, list[Field]]:
    """Title and fields of one of the three form kinds."""
    p, o, r, lang = c.person, c.other, c.rng, c.lang
    dob = plain(fmt_date(p.dob, lang, r), "DATE_OF_BIRTH")
    name: list[Field] = (
        [(c.t("full_name"), plain(p.name, "PERSON"))] if r.random() < 0.5
        else [(c.t("surname"), plain(p.last, "PERSON")), (c.t("given"), plain(p.first, "PERSON"))]
    )
    ssn: list[Field] = [(c.t("ssn"), plain(p.ssn, "US_SSN"))] if lang == "en" else []
    contact: list[Field] = [(c.t("phone"), plain(p.phone, "PHONE_NUMBER")),
                            (c.t("email"), plain(p.email, "EMAIL_ADDRESS"))]  # fmt: skip
    address = (c.t("address"), plain(p.address, "ADDRESS"))
    if kind == "hiring_form":
        fields: list[Field] = [
            (c.t("position"), plain(_clean(c.fake.job()))), ("#" + c.t("personal"), []), *name,
            (c.t("dob"), dob), address, *contact, *ssn,
            (c.t("start"), plain(c.date(2025, 1))), (c.t("salary"), plain(c.values.price())),
            ("#" + c.t("references"), []),
            ("1.", [*plain(o.name, "PERSON"), Piece("-", None, False),
                    *plain(o.phone, "PHONE_NUMBER")]),
        ]
        if r.random() < 0.6:
            q = make_person(lang, c.fake, c.values, r)
            fields.append(("2.", [*plain(q.name, "PERSON"), Piece("-", None, False),
                                  *plain(q.email, "EMAIL_ADDRESS")]))
        return c.t("job_title"), fields
    if kind == "identity_form":
        fields = [
            ("#" + c.t("personal"), []), *name, (c.t("dob"), dob),
            (c.t("nationality"), plain(NATIONALITY[lang])),
            (c.t("doc_type"), plain(c.t("doc_types"))),
            (c.t("doc_no"), plain(doc_number(r), "ID_NUMBER")),
            ("#" + c.t("contact"), []), address, *contact, *ssn,
        ]
        return c.t("id_title"), fields
    fields = [
        ("#" + c.t("loan"), []), (c.t("amount"), plain(c.values.price())),
        (c.t("term"), plain(f"{r.choice([24, 36, 48, 60, 84])} {c.t('months')}")),
        ("#" + c.t("applicant"), []), *name, (c.t("dob"), dob), *ssn, address, *contact,
        (c.t("employer"), plain(c.values.company())), (c.t("income"), plain(c.values.price())),
        ("#" + c.t("bank"), []), (c.t("iban"), plain(p.iban, "IBAN_CODE")),
        (c.t("card"), plain(p.card, "CREDIT_CARD")),
    ]
    if r.random() < 0.5:
        fields.insert(-3, (c.t("co_applicant"), plain(o.name, "PERSON")))
    return c.t("loan_title"), fields


def form(kind: str, c: Ctx) -> Page:
    """A filled-in form in one of three layouts: label column, boxed grid, labels above."""
    r = c.rng
    title, fields = form_fields(kind, c)
    width = r.randint(800, 1000)
    page = Page(kind, (width, 2400), c.paper)
    family = r.choice(["sans", "serif", "cond"])
    bold = {"sans": "sans_bold", "serif": "serif_bold", "cond": "cond_bold"}[family]
    f_title = font(bold, r.randint(22, 28))
    f_head = font(bold, r.randint(15, 18))
    f_label = font(family, r.randint(12, 16))
    f_value = font(r.choice([family, "mono", "sans"]), r.randint(14, 22))
    value_ink = r.choice([c.ink, (20, 40, 130), (10, 10, 10)])
    margin = r.randint(40, 70)
    inner = width - 2 * margin
    y = float(margin)
    page.draw.rectangle((0, 0, width, margin // 2), fill=c.accent)
    page.text(margin, y, title, f_title, c.accent)
    right_text(page, width - margin, y + 4, c.values.company(), f_label, c.ink)
    y += line_height(f_title) + 8
    page.text(margin, y, f"Ref. {c.values.invoice()}", f_label, c.ink)
    y += line_height(f_label) + 16
    style = r.choice(["column", "grid", "above"])
    col = r.randint(180, 260)
    cell_w = inner / 2 - 10
    grid_x = 0
    row_h = 0.0
    for label, value in fields:
        if label.startswith("#"):
            if grid_x:
                y, grid_x = y + row_h, 0
            y += 10
            page.text(margin, y, label[1:], f_head, c.accent)
            y += line_height(f_head) + 2
            page.draw.line((margin, y, width - margin, y), fill=c.accent, width=2)
            y += 10
            continue
        if style == "column":
            page.text(margin, y + ascent(f_value) - ascent(f_label), label, f_label, c.ink)
            end = page.flow(margin + col, y, value, f_value, value_ink, inner - col)
            page.draw.line((margin + col, end, width - margin, end), fill=(150, 150, 150))
            y = end + r.randint(10, 18)
        elif style == "above":
            page.text(margin, y, label, f_label, (90, 90, 90))
            y += line_height(f_label) + 2
            end = page.flow(margin + 8, y, value, f_value, value_ink, inner - 16)
            page.draw.line((margin, end + 1, width - margin, end + 1), fill=(120, 120, 120))
            y = end + r.randint(12, 20)
        else:  # grid: two cells a row, long values take a whole row
            wide = sum(f_value.getlength(p.text) + 8 for p in value) > cell_w - 16
            if wide and grid_x:
                y, grid_x = y + row_h, 0
            x0 = margin + grid_x * (cell_w + 20)
            w = inner if wide else cell_w
            page.text(x0 + 6, y + 4, label, f_label, (90, 90, 90))
            end = page.flow(x0 + 8, y + 8 + line_height(f_label), value, f_value, value_ink,
                            w - 16)
            h = end - y + 6
            page.draw.rectangle((x0, y, x0 + w, y + h), outline=(110, 110, 110))
            row_h = max(row_h if grid_x else 0.0, h + 10)
            if wide or grid_x:
                y, grid_x = y + row_h, 0
            else:
                grid_x = 1
    if grid_x:
        y += row_h
    y += 14
    y = page.flow(margin, y, plain(c.t("certify")), f_label, c.ink, inner) + 24
    sig_font = font(r.choice(["serif_italic", "sans_oblique"]), r.randint(18, 26))
    page.text(margin, y, c.t("signature") + ":", f_label, c.ink)
    x = margin + f_label.getlength(c.t("signature") + ":") + 14
    page.text(x, y + ascent(f_label) - ascent(sig_font), c.person.name, sig_font,
              (20, 30, 110), "PERSON")
    page.text(width - margin - 260, y, f"{c.t('date')}: {c.date(2025, 1)}", f_label, c.ink)
    y += line_height(sig_font) + 20
    page.draw.rectangle((margin, y, width - margin, y + 60), outline=(170, 170, 170))
    page.text(margin + 8, y + 6, c.t("office"), f_label, (140, 140, 140))
    page.crop_height(int(y + 60 + margin))
    return page


def chat(kind: str, c: Ctx) -> Page:
    """A phone chat screenshot, light or dark mode."""
    r, dark = c.rng, kind == "chat_dark"
    width = r.randint(390, 480)
    bg: RGB = (0, 0, 0) if dark else (255, 255, 255)
    page = Page(kind, (width, 2000), bg)
    fg: RGB = (235, 235, 235) if dark else (20, 20, 20)
    mine_bg: RGB = r.choice([(10, 132, 255), (0, 120, 90)]) if dark else r.choice(
        [(0, 122, 255), (220, 248, 198), (52, 199, 89)])
    mine_fg: RGB = (255, 255, 255) if sum(mine_bg) < 450 else (20, 20, 20)
    theirs_bg: RGB = (38, 38, 40) if dark else (233, 233, 235)
    f_msg = font(r.choice(["sans", "cond"]), r.randint(14, 18))
    f_small = font("sans", r.randint(12, 13))
    f_head = font("sans_bold", r.randint(16, 19))
    page.text(16, 10, f"{r.randint(7, 22)}:{r.randint(0, 59):02d}", f_small, fg)
    bar: RGB = (28, 28, 30) if dark else (246, 246, 246)
    page.draw.rectangle((0, 34, width, 100), fill=bar)
    page.draw.ellipse((50, 44, 96, 90), fill=(140, 140, 150))
    contact = c.person.first if r.random() < 0.5 else c.person.name
    page.text(108, 46, contact, f_head, fg, "PERSON")
    page.text(108, 72, c.t("online"), f_small, (120, 120, 125))
    page.text(14, 58, "<", f_head, (0, 122, 255))
    y = 116.0
    messages = r.sample(CHAT[c.lang], r.randint(5, 8))
    if c.lang != "en":
        messages = [m for m in messages if "{SSN}" not in m]
    slots = c.slots()
    max_w = width * 0.72
    step = int(line_height(f_msg) * 1.2)
    for i, message in enumerate(messages):
        mine = (i % 2 == 1) != (r.random() < 0.2)
        items = pieces(message, slots)
        placed, widest, lines = layout(items, f_msg, max_w - 24)
        bw, bh = widest + 24, lines * step + 16
        x0 = width - 12 - bw if mine else 12.0
        page.draw.rounded_rectangle((x0, y, x0 + bw, y + bh), radius=14,
                                    fill=mine_bg if mine else theirs_bg)
        for p, dx, n in placed:
            page.piece(x0 + 12 + dx, y + 8 + n * step, p, f_msg, mine_fg if mine else fg)
        y += bh + 4
        if r.random() < 0.5:
            stamp = f"{r.randint(7, 22)}:{r.randint(0, 59):02d}"
            if mine:
                right_text(page, width - 16, y, stamp, f_small, (130, 130, 135))
            else:
                page.text(16, y, stamp, f_small, (130, 130, 135))
            y += line_height(f_small)
        y += r.randint(8, 16)
    page.draw.rounded_rectangle((12, y + 10, width - 12, y + 50), radius=20,
                                outline=(90, 90, 95) if dark else (200, 200, 205))
    page.text(28, y + 20, c.t("message"), f_small, (130, 130, 135))
    page.crop_height(int(y + 64))
    return page


def email_page(kind: str, c: Ctx) -> Page:
    """A webmail screenshot: folder pane, headers, body with a signature."""
    r = c.rng
    width = r.randint(900, 1150)
    page = Page(kind, (width, 2000), (255, 255, 255))
    family = r.choice(["sans", "cond", "serif"])
    f_body = font(family, r.randint(14, 18))
    f_head = font("sans", r.randint(13, 16))
    f_subj = font("sans_bold", r.randint(20, 26))
    grey: RGB = (95, 95, 100)
    pane = r.randint(170, 230)
    page.draw.rectangle((0, 0, width, 44), fill=c.accent)
    page.text(16, 12, "Mail", font("sans_bold", 18), (255, 255, 255))
    page.draw.rectangle((0, 44, pane, 2000), fill=(242, 242, 245))
    y = 64.0
    for key in ("inbox", "reply", "forward"):
        page.text(16, y, c.t(key), f_head, (40, 40, 40))
        y += line_height(f_head) + 10
    x, inner = pane + 30, width - pane - 60
    y = 64.0
    subject = f"{c.t('job_title')} - {c.values.invoice()}"
    page.text(x, y, subject, f_subj, (20, 20, 20))
    y += line_height(f_subj) + 14
    sender, p = c.other, c.person
    header = [
        (c.t("from"), [*plain(sender.name, "PERSON"), Piece("<", None, False),
                       Piece(sender.email, "EMAIL_ADDRESS", True), Piece(">", None, True)]),
        (c.t("to"), [*plain(p.name, "PERSON"), Piece("<", None, False),
                     Piece(p.email, "EMAIL_ADDRESS", True), Piece(">", None, True)]),
        (c.t("date"), plain(f"{c.date()} {c.values.clock()}")),
    ]
    label_w = max(f_head.getlength(label) for label, _ in header) + 14
    for label, items in header:
        page.text(x, y, label, f_head, grey)
        page.line(x + label_w, y, items, f_head, (30, 30, 30))
        y += line_height(f_head) + 6
    page.draw.line((x, y + 6, width - 30, y + 6), fill=(220, 220, 220))
    y += 24
    slots = c.slots()
    paragraphs = list(EMAIL[c.lang])
    if r.random() < 0.4:
        del paragraphs[r.randint(2, 4)]
    for i, paragraph in enumerate(paragraphs):
        y = page.flow(x, y, pieces(paragraph, slots), f_body, c.ink, inner)
        y += 4 if i == len(paragraphs) - 1 else line_height(f_body) * 0.6
    y = page.flow(x, y, plain(sender.name, "PERSON"), f_body, c.ink, inner)
    y = page.flow(x, y, plain(_clean(c.fake.job())), f_body, grey, inner)
    y = page.flow(x, y, plain(c.values.company()), f_body, grey, inner)
    y = page.flow(x, y, [Piece("Tel.", None, False), *plain(sender.phone, "PHONE_NUMBER")],
                  f_body, grey, inner)
    page.crop_height(int(y + 40))
    return page


def shade(colour: RGB, delta: int) -> RGB:
    """``colour`` made lighter (delta > 0) or darker."""
    r, g, b = (min(255, max(0, v + delta)) for v in colour)
    return (r, g, b)


def photo_placeholder(page: Page, box: tuple[int, int, int, int], label: str) -> None:
    """A grey photo field with a head-and-shoulders outline (not a face)."""
    x1, y1, x2, y2 = box
    page.draw.rectangle(box, fill=(200, 203, 208), outline=(120, 120, 120))
    cx, w, h = (x1 + x2) / 2, x2 - x1, y2 - y1
    page.draw.ellipse((cx - w * 0.2, y1 + h * 0.18, cx + w * 0.2, y1 + h * 0.52),
                      fill=(170, 174, 180))
    page.draw.pieslice((x1 + w * 0.12, y1 + h * 0.58, x2 - w * 0.12, y2 + h * 0.35), 180, 360,
                       fill=(170, 174, 180))
    f = font("sans", 12)
    page.text(cx - f.getlength(label) / 2, y2 - 18, label, f, (100, 100, 100))


def id_card(kind: str, c: Ctx) -> Page:
    """A passport data page: header, photo placeholder, fields, TD3 MRZ."""
    r, p, lang = c.rng, c.person, c.lang
    width, height = r.randint(900, 980), r.randint(600, 650)
    page = Page(kind, (width, height), r.choice([(90, 90, 95), (200, 195, 185), (35, 50, 70)]))
    card: RGB = r.choice([(232, 236, 240), (240, 232, 222), (226, 238, 230), (236, 228, 240)])
    m = 14
    page.draw.rounded_rectangle((m, m, width - m, height - m), radius=24, fill=card)
    for k in range(0, width, 14):  # guilloche-like background lines
        page.draw.arc((k - 300, 60, k + 300, height + 200), 200, 340,
                      fill=shade(card, -12))
    country, title = PASSPORT_TITLE[lang]
    f_top = font("sans_bold", r.randint(18, 22))
    page.text(40, 30, country, f_top, c.accent)
    right_text(page, width - 40, 30, title, f_top, c.accent)
    photo = (40, 100, 40 + 210, 100 + 270)
    photo_placeholder(page, photo, c.t("photo"))
    f_label = font("sans", r.randint(12, 13))
    f_val = font(r.choice(["sans_bold", "cond_bold", "mono_bold"]), r.randint(16, 21))
    number = doc_number(r)
    issue = date(2016, 1, 1) + timedelta(days=r.randint(0, 365 * 8))
    expiry = issue + timedelta(days=3652)
    upper = r.random() < 0.7
    rows: list[tuple[str, list[Piece]]] = [
        (c.t("surname"), plain(p.last.upper() if upper else p.last, "PERSON")),
        (c.t("given"), plain(p.first.upper() if upper else p.first, "PERSON")),
        (c.t("nationality"), plain(NATIONALITY[lang])),
        (c.t("dob"), plain(f"{p.dob:%d.%m.%Y}" if lang != "en" else f"{p.dob:%d %b %Y}".upper(),
                           "DATE_OF_BIRTH")),
        (c.t("sex"), plain(p.sex)),
        (c.t("issue"), plain(f"{issue:%d.%m.%Y}")),
        (c.t("expiry"), plain(f"{expiry:%d.%m.%Y}")),
    ]
    authority = r.choice({"en": ["U.S. DEPARTMENT OF STATE", "PASSPORT AGENCY"],
                          "de": ["STADT KÖLN", "LANDESHAUPTSTADT MÜNCHEN"],
                          "fr": ["PRÉFECTURE DU RHÔNE", "PRÉFECTURE DE POLICE"],
                          "es": ["DGP MADRID", "COMISARÍA DE SEVILLA"]}[lang])
    rows.insert(5, (c.t("doc_no"), plain(number, "ID_NUMBER")))
    rows.insert(6, (c.t("authority"), plain(authority)))
    step = line_height(f_label) + line_height(f_val) + 8
    for i, (label, value) in enumerate(rows):
        x, y = (280, 96 + i * step) if i < 5 else (600, 96 + (i - 5) * step)
        page.text(x, y, label, f_label, (80, 80, 90))
        ink: RGB = (150, 20, 30) if i == 5 else (20, 20, 25)
        page.line(x, y + line_height(f_label), value, f_val, ink)
    f_mrz = font(r.choice(["mono", "mono_bold"]), r.randint(21, 25))
    line1, line2 = mrz_td3(MRZ_COUNTRY[lang], p.last, p.first, number, p.dob, p.sex, expiry)
    mrz_w = f_mrz.getlength(line1)
    mx = (width - mrz_w) / 2
    my = height - m - 2 * line_height(f_mrz) - 26
    page.draw.rectangle((m + 6, my - 12, width - m - 6, height - m - 8),
                        fill=shade(card, 8))
    page.text(mx, my, line1, f_mrz, (10, 10, 10), "MRZ")
    page.text(mx, my + line_height(f_mrz) + 4, line2, f_mrz, (10, 10, 10), "MRZ")
    return page


def receipt(kind: str, c: Ctx) -> Page:
    """A till receipt: store, items, totals, masked card number, customer name."""
    r, lang = c.rng, c.lang
    width = r.randint(380, 480)
    page = Page(kind, (width, 2000), r.choice([(255, 255, 255), (250, 248, 240)]))
    mono = r.random() < 0.6
    f_txt = font("mono" if mono else "cond", r.randint(13, 17))
    f_big = font("mono_bold" if mono else "sans_bold", r.randint(20, 26))
    ink: RGB = r.choice([(30, 30, 30), (60, 60, 70), (10, 10, 10)])
    m = 20
    store = r.choice(STORES)
    page.text((width - f_big.getlength(store)) / 2, 24, store, f_big, ink)
    y = 24.0 + line_height(f_big) + 6
    sub = f"Store #{r.randint(100, 9999)}  Reg {r.randint(1, 12)}"
    page.text((width - f_txt.getlength(sub)) / 2, y, sub, f_txt, ink)
    y += line_height(f_txt) * 2
    page.text(m, y, f"{c.date()} {c.values.clock()}", f_txt, ink)
    y += line_height(f_txt)
    page.line(m, y, [*plain(c.t("cashier")), Piece(c.other.first, "PERSON", False)], f_txt, ink)
    y += line_height(f_txt) * 1.6
    products = PRODUCTS[lang].split("|")
    subtotal = 0.0
    cur = "$" if lang == "en" else "€"
    for item in r.sample(products, r.randint(3, 8)):
        qty, price = r.randint(1, 3), r.randint(49, 1299) / 100
        subtotal += qty * price
        page.text(m, y, f"{qty} x {item}", f_txt, ink)
        right_text(page, width - m, y, f"{qty * price:.2f}", f_txt, ink)
        y += line_height(f_txt) + 2
    y += 6
    page.draw.line((m, y, width - m, y), fill=ink)
    y += 8
    tax = subtotal * r.choice([0.07, 0.19, 0.2, 0.21])
    for label, amount in ((c.t("subtotal"), subtotal), (c.t("tax"), tax)):
        page.text(m, y, label, f_txt, ink)
        right_text(page, width - m, y, f"{amount:.2f}", f_txt, ink)
        y += line_height(f_txt) + 2
    page.text(m, y, c.t("total"), f_big, ink)
    right_text(page, width - m, y, f"{cur}{subtotal + tax:.2f}", f_big, ink)
    y += line_height(f_big) + 12
    last4 = c.person.card.replace(" ", "")[-4:]
    brand = "VISA" if c.person.card.startswith("4") else "MASTERCARD"
    masked = r.choice([f"************{last4}", f"**** **** **** {last4}", f"XXXX{last4}"])
    page.line(m, y, [*plain(brand), *plain(masked, "CARD_LAST_DIGITS")], f_txt, ink)
    y += line_height(f_txt) + 2
    page.text(m, y, f"AUTH {r.randint(100000, 999999)}", f_txt, ink)
    y += line_height(f_txt) * 1.6
    name = c.person.name.upper() if r.random() < 0.5 else c.person.name
    page.line(m, y, [*plain(c.t("customer")), *plain(name, "PERSON")], f_txt, ink)
    y += line_height(f_txt) + 2
    if r.random() < 0.5:
        page.line(m, y, [*plain(c.t("member")), Piece(c.person.email, "EMAIL_ADDRESS", False)],
                  f_txt, ink)
        y += line_height(f_txt) + 2
    y += 14
    thanks = c.t("thanks")
    y = page.flow(m, y, plain(thanks), f_txt, ink, width - 2 * m) + 30
    page.crop_height(int(y))
    return page


def medical(kind: str, c: Ctx) -> Page:
    """A black medical image with burned-in patient text in the corners (saved greyscale)."""
    r, p = c.rng, c.person
    side = r.choice([512, 640, 768, 900, 1024])
    height = side if r.random() < 0.6 else int(side * 1.25)
    page = Page(kind, (side, height), (0, 0, 0))
    # Synthetic "anatomy": nested noisy ellipses.
    rng = np.random.default_rng(r.randint(0, 2**31))
    yy, xx = np.mgrid[0:height, 0:side]
    cx, cy = side / 2 + r.randint(-20, 20), height / 2 + r.randint(-20, 20)
    body = ((xx - cx) / (side * 0.36)) ** 2 + ((yy - cy) / (height * 0.3)) ** 2
    organ = ((xx - cx + side * 0.12) / (side * 0.1)) ** 2 + ((yy - cy) / (height * 0.15)) ** 2
    img = np.where(body < 1, 95.0, 0.0) + np.where(organ < 1, 60.0, 0.0)
    img += np.where(body < 1, rng.normal(0, 18, img.shape), 0.0)
    scan = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(2))
    page.im.paste(Image.merge("RGB", (scan, scan, scan)))
    f = font(r.choice(["sans", "mono", "sans_bold"]), r.randint(12, 20))
    fg: RGB = r.choice([(255, 255, 255), (230, 230, 230), (200, 200, 200), (255, 255, 160)])
    last, first = ascii_upper(p.last), ascii_upper(p.first)
    name_style = r.choice(["caret", "space", "comma"])
    name = {"caret": [Piece(f"{last}^{first}".replace(" ", "^"), "PERSON", False)],
            "space": plain(f"{last} {first}", "PERSON"),
            "comma": [*plain(last, "PERSON"), Piece(",", None, True),
                      *plain(first, "PERSON")]}[name_style]  # fmt: skip
    dob_text = r.choice([f"{p.dob:%Y%m%d}", f"{p.dob:%m.%d.%Y}", f"{p.dob:%d.%m.%Y}",
                         f"{p.dob:%Y-%m-%d}"])  # fmt: skip
    study = date(2008, 1, 1) + timedelta(days=r.randint(0, 365 * 16))
    study_text = r.choice([f"{study:%Y%m%d}", f"{study:%m.%d.%Y}", f"{study:%d-%b-%Y}"])
    age = study.year - p.dob.year
    pid = "".join(r.choice("0123456789") for _ in range(r.choice([7, 8, 10])))
    left: list[list[Piece]] = [
        name,
        [*plain("ID:"), *plain(pid, "ID_NUMBER")],
        [*plain(r.choice(["DOB:", "Birth:", "DOB"])), *plain(dob_text, "DATE_OF_BIRTH")],
        plain(f"{age}Y {p.sex}" if r.random() < 0.5 else f"[{p.sex}]"),
    ]
    right: list[list[Piece]] = [
        plain(r.choice(HOSPITALS)),
        [*plain(r.choice(["Study:", "Date:", "Acq:"])), *plain(study_text, "DATE_TIME")],
        plain(f"{r.randint(7, 19):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"),
        plain(r.choice(["CT CHEST W/O", "MR BRAIN T2", "CR THORAX PA", "CT ABDOMEN", "US LIVER"])),
    ]
    bottom_left = [plain(f"kV {r.choice([80, 100, 120, 140])} mA {r.randint(80, 400)}"),
                   plain(f"Slice {r.choice(['1.0', '2.5', '5.0'])} mm")]  # fmt: skip
    bottom_right = [plain(f"W {r.choice([400, 1500, 350, 80])} L {r.choice([40, -600, 50, 35])}"),
                    plain(f"Im: {r.randint(1, 99)}/{r.randint(100, 300)}")]  # fmt: skip
    step = line_height(f) + 2
    mg = r.randint(8, 20)
    for i, items in enumerate(left):
        page.line(mg, mg + i * step, items, f, fg)
    for i, items in enumerate(right):
        w = layout(items, f, math.inf)[1]
        page.line(side - mg - w, mg + i * step, items, f, fg)
    for i, items in enumerate(bottom_left):
        page.line(mg, height - mg - (len(bottom_left) - i) * step, items, f, fg)
    for i, items in enumerate(bottom_right):
        w = layout(items, f, math.inf)[1]
        page.line(side - mg - w, height - mg - (len(bottom_right) - i) * step, items, f, fg)
    return page


def bank_letter(kind: str, c: Ctx) -> Page:
    """A bank letter: letterhead, address window, IBAN and card in the body, advisor."""
    r, p, lang = c.rng, c.person, c.lang
    width = r.randint(820, 1000)
    page = Page(kind, (width, 2400), c.paper)
    family = r.choice(["serif", "sans", "cond"])
    body_size = r.randint(14, 18)
    f_body = font(family, body_size)
    f_small = font(family, r.randint(12, 13))
    f_bank = font("serif_bold" if family == "serif" else "sans_bold", r.randint(24, 28))
    m = r.randint(60, 90)
    bank = r.choice(BANKS)
    page.draw.rectangle((m, 40, m + 40, 80), fill=c.accent)
    page.text(m + 54, 44, bank, f_bank, c.accent)
    right_text(page, width - m, 48, f"BIC {r.choice(['NWBKGB2L', 'SPKADE2H', 'BDLFFRPP'])}",
               f_small, c.ink)
    y = 150.0
    page.text(m, y, f"{bank} · {c.values.company()}", f_small, (110, 110, 110))
    y += line_height(f_small) + 10
    title = {"en": r.choice(["Mr", "Ms", "Mx"]), "de": r.choice(["Herr", "Frau"]),
             "fr": r.choice(["M.", "Mme"]), "es": r.choice(["Sr.", "Sra."])}[lang]
    for items in ([*plain(title), *plain(p.name, "PERSON")], plain(p.street, "ADDRESS"),
                  plain(p.city_line, "ADDRESS")):
        page.line(m, y, items, f_body, c.ink)
        y += line_height(f_body) + 2
    y += 40
    right_text(page, width - m, y, c.date(2024, 2), f_body, c.ink)
    y += line_height(f_body) * 2
    page.text(m, y, c.t("letter_subject"), font(f"{family}_bold", body_size), c.ink)
    y += line_height(f_body) * 2
    salutation = {"en": title, "de": "r Herr" if title == "Herr" else " Frau",
                  "fr": "Monsieur" if title == "M." else "Madame",
                  "es": "o Sr." if title == "Sr." else "a Sra."}[lang]  # fmt: skip
    slots = c.slots() | {"TITLE": (salutation, None), "LAST": (p.last, "PERSON")}
    inner = width - 2 * m
    for paragraph in LETTER[lang]:
        y = page.flow(m, y, pieces(paragraph, slots), f_body, c.ink, inner, 1.35)
        y += line_height(f_body) * 0.7
    y += 10
    page.text(m, y, c.t("regards"), f_body, c.ink)
    y += line_height(f_body) * 2.5
    page.text(m, y, c.other.name, font("serif_italic", r.randint(20, 26)), (20, 30, 100),
              "PERSON")
    y += 40
    page.text(m, y, c.other.name, f_body, c.ink, "PERSON")
    y += line_height(f_body)
    page.text(m, y, c.t("advisor"), f_small, c.ink)
    y += 80
    page.draw.line((m, y, width - m, y), fill=(170, 170, 170))
    page.text(m, y + 8, f"{bank} · {c.values.company()} · Reg. {r.randint(10000, 99999)}",
              f_small, (120, 120, 120))
    page.crop_height(int(y + 8 + line_height(f_small) + m))
    return page


def shipping_label(kind: str, c: Ctx) -> Page:
    """A 4x6-style parcel label: sender, recipient, phone, tracking number and bars."""
    r, lang = c.rng, c.lang
    width = r.randint(600, 800)
    height = int(width * 1.5)
    page = Page(kind, (width, height), (255, 255, 255))
    bold = r.choice(["sans_bold", "mono_bold", "cond_bold"])
    f_small = font("sans", r.randint(12, 14))
    f_from = font(r.choice(["sans", "mono", "cond"]), r.randint(13, 16))
    f_to = font(bold, r.randint(20, 28))
    f_tag = font("sans_bold", r.randint(22, 28))
    m = 16
    page.draw.rectangle((m, m, width - m, height - m), outline=(0, 0, 0), width=3)
    page.draw.rectangle((m, m, m + 120, m + 90), fill=(0, 0, 0))
    page.text(m + 14, m + 30, r.choice(["P", "E", "X"]) + str(r.randint(1, 9)),
              font("sans_bold", 28), (255, 255, 255))
    page.text(m + 140, m + 14, c.t("priority"), f_tag, (0, 0, 0))
    page.text(m + 140, m + 54, f"{c.t('weight')} {r.randint(1, 300) / 10:.1f} KG", f_small,
              (0, 0, 0))
    y = m + 110.0
    page.draw.line((m, y, width - m, y), fill=(0, 0, 0), width=2)
    y += 10
    sender, rec = c.other, c.person
    upper = r.random() < 0.5

    def up(s: str) -> str:
        return s.upper() if upper else s

    page.text(m + 12, y, c.t("ship_from"), f_small, (0, 0, 0))
    y += line_height(f_small) + 2
    for text, entity in ((up(sender.name), "PERSON"), (up(sender.street), "ADDRESS"),
                         (up(sender.city_line), "ADDRESS"), (sender.phone, "PHONE_NUMBER")):
        page.text(m + 12, y, text, f_from, (0, 0, 0), entity)
        y += line_height(f_from)
    y += 12
    page.draw.line((m, y, width - m, y), fill=(0, 0, 0), width=2)
    y += 12
    page.text(m + 12, y, c.t("ship_to"), f_small, (0, 0, 0))
    y += line_height(f_small) + 6
    inner = width - 2 * m - 40
    for text, entity in ((up(rec.name), "PERSON"), (up(rec.street), "ADDRESS"),
                         (up(rec.city_line), "ADDRESS")):
        y = page.flow(m + 30, y, plain(text, entity), f_to, (0, 0, 0), inner, 1.1)
    page.line(m + 30, y + 4, [*plain("TEL"), *plain(rec.phone, "PHONE_NUMBER")], f_from,
              (0, 0, 0))
    y += line_height(f_from) + 24
    page.draw.line((m, y, width - m, y), fill=(0, 0, 0), width=2)
    y += 16
    page.text(m + 12, y, c.t("tracking"), f_small, (0, 0, 0))
    y += line_height(f_small) + 6
    bars_h = max(80, int(height - y - 100))
    x = float(m + 30)
    while x < width - m - 34:
        w = r.choice([2, 2, 3, 4, 6])
        page.draw.rectangle((x, y, x + w - 1, y + min(bars_h, 160)), fill=(0, 0, 0))
        x += w + r.choice([2, 3, 4, 6])
    y += min(bars_h, 160) + 10
    track = c.values.tracking()
    page.text((width - f_from.getlength(track)) / 2, y, track, f_from, (0, 0, 0))
    if lang != "en" and r.random() < 0.5:
        page.text(m + 12, height - m - 30, "DHL / COLISSIMO / CORREOS", f_small, (0, 0, 0))
    return page


def rotate(page: Page, angle: float, fill: RGB) -> None:
    """Rotate the page ``angle`` degrees anticlockwise about its centre (same size) and move
    every box to the extent of its rotated ink."""
    pad = 40  # scanner bed around the sheet, so that no corner is cut off
    w, h = page.size[0] + 2 * pad, page.size[1] + 2 * pad
    bed = Image.new("RGB", (w, h), fill)
    bed.paste(page.im, (pad, pad))
    page.im = bed.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=fill)
    page.size = (w, h)
    page.draw = ImageDraw.Draw(page.im)
    a = math.radians(angle)
    cx, cy = w / 2, h / 2
    for box, pts in zip(page.boxes, page.ink, strict=True):
        dx, dy = pts[:, 0] + pad + 0.5 - cx, pts[:, 1] + pad + 0.5 - cy
        x = cx + dx * math.cos(a) + dy * math.sin(a)
        y = cy - dx * math.sin(a) + dy * math.cos(a)
        box["xyxy"] = [math.floor(x.min() - 0.5), math.floor(y.min() - 0.5),
                       math.ceil(x.max() + 0.5), math.ceil(y.max() + 0.5)]  # fmt: skip


def scan_noise(page: Page, rng: random.Random) -> None:
    """Make the page look scanned: paper tint, blur, sensor noise (JPEG is applied on save)."""
    arr = np.asarray(page.im).astype(np.float64)
    tint = np.array(rng.choice([(248, 244, 232), (240, 240, 240), (236, 238, 232)]), np.float64)
    arr = arr * (tint / 255.0)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(5, 11), arr.shape)
    arr = np.clip(arr + noise[..., :1], 0, 255)
    page.im = Image.fromarray(arr.astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.4, 0.8)))
    page.draw = ImageDraw.Draw(page.im)


RENDER: dict[str, Callable[[str, Ctx], Page]] = {
    "hiring_form": form, "identity_form": form, "loan_application": form,
    "chat_light": chat, "chat_dark": chat, "email": email_page, "id_card": id_card,
    "receipt": receipt, "medical": medical, "bank_letter": bank_letter,
    "shipping_label": shipping_label,
}  # fmt: skip


def render_document(index: int, kind: str, seed: int) -> tuple[Page, dict[str, Any]]:
    """Render document ``index`` of ``kind``; returns the page and its extra manifest keys."""
    r = random.Random(f"{seed}:{index}")
    lang = r.choices(list(LANG_WEIGHTS), weights=list(LANG_WEIGHTS.values()))[0]
    fake = Faker(LOCALES[lang])
    fake.seed_instance(f"{seed}:{index}")
    values = Values(lang, fake, r)
    ctx = Ctx(lang, r, fake, values, make_person(lang, fake, values, r),
              make_person(lang, fake, values, r), r.choice(INKS), r.choice(PAPERS),
              r.choice(ACCENTS))  # fmt: skip
    extra: dict[str, Any] = {"lang": lang}
    if kind in ("rotated_scan", "noisy_scan"):
        source = r.choice(SCAN_SOURCES)
        extra["source_kind"] = source
        page = RENDER[source](source, ctx)
        page.kind = kind
        if kind == "rotated_scan":
            angle = round(r.choice([-1, 1]) * r.uniform(1.0, 3.0), 2)
            extra["angle"] = angle
            rotate(page, angle, ctx.paper)
        else:
            scan_noise(page, r)
    else:
        page = RENDER[kind](kind, ctx)
    return page, extra


def _clip_boxes(page: Page) -> list[dict[str, Any]]:
    w, h = page.size
    out = []
    for box in page.boxes:
        x1, y1, x2, y2 = box["xyxy"]
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            out.append(box | {"xyxy": [x1, y1, x2, y2]})
    return out


def save(page: Page, path: Path, kind: str, rng: random.Random) -> None:
    """Write the page: medical images and some scans greyscale, scans and cards as JPEG."""
    im = page.im
    if (kind == "medical" and rng.random() < 0.7) or (kind == "noisy_scan" and rng.random() < 0.4):
        im = im.convert("L")
    if path.suffix == ".jpg":
        quality = rng.randint(55, 75) if kind == "noisy_scan" else rng.randint(85, 95)
        im.save(path, quality=quality)
    else:
        im.save(path, optimize=False, compress_level=6)


def generate(out: Path = DEFAULT_OUT, n: int = DEFAULT_N, seed: int = DEFAULT_SEED
             ) -> list[dict[str, Any]]:
    """Render ``n`` documents (kinds in turn) into ``out``; returns the manifest records."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("doc_*"):
        old.unlink()
    records = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        page, extra = render_document(i, kind, seed)
        ext = ".jpg" if kind in ("noisy_scan", "id_card") else ".png"
        name = f"doc_{i:04d}_{kind}{ext}"
        save(page, out / name, kind, random.Random(f"{seed}:{i}:save"))
        w, h = page.size
        records.append({"file": name, "width": w, "height": h, "kind": kind, **extra,
                        "source": {"generator": "benchmarks/doc_data.py", "seed": seed,
                                   "index": i, "version": VERSION},
                        "license": "generated (fake data)", "boxes": _clip_boxes(page)})
    with (out / "manifest.jsonl").open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    (out / "meta.json").write_text(json.dumps({"n": n, "seed": seed, "version": VERSION}))
    return records


def ensure(out: Path = DEFAULT_OUT, n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> Path:
    """Generate the set into ``out`` unless a set of the same n, seed and version is there."""
    meta = out / "meta.json"
    want = {"n": n, "seed": seed, "version": VERSION}
    if not (meta.is_file() and json.loads(meta.read_text()) == want
            and (out / "manifest.jsonl").is_file()):
        generate(out, n, seed)
    return out


def counts(records: Iterable[dict[str, Any]]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Documents per kind, pii boxes per entity and boxes per label."""
    kinds: Counter[str] = Counter()
    entities: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for rec in records:
        kinds[rec["kind"]] += 1
        for b in rec["boxes"]:
            labels[b["label"]] += 1
            if b["label"] == "pii":
                entities[b["entity"]] += 1
    return kinds, entities, labels


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n", type=int, default=DEFAULT_N)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    records = generate(args.out, args.n, args.seed)
    kinds, entities, labels = counts(records)
    langs = Counter(str(r["lang"]) for r in records)
    print(f"{len(records)} documents in {args.out}")
    print("kinds:    " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    print("langs:    " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())))
    print("pii:      " + ", ".join(f"{k} {v}" for k, v in entities.most_common()))
    print("boxes:    " + ", ".join(f"{k} {v}" for k, v in labels.most_common()))


if __name__ == "__main__":
    main()
