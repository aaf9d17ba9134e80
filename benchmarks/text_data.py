"""Deterministic, labelled text set for benchmarking personal-data detection (Presidio names).

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/text_data.py [OUT.jsonl]``.
Texts in English, German, French and Spanish are rendered from the templates below, with
values from Faker (locales en_US, de_DE, fr_FR, es_ES; seeded, so a given Faker version always
gives the same set; made with Faker 40.54.0) and from generators here for values that must be
valid (Luhn, IBAN mod 97, DEA check digit). Every span is checked with ``text[start:end] ==
value``.

Labelling rules:

* DATE_TIME is a calendar date (day and month, usually with a year), with a clock time only
  when the time is written together with the date (one span: "05.03.2024 um 14:30 Uhr").
  A clock time on its own ("opens at 10:30", chat stamps "[14:05]") is NOT labelled, nor are
  bare years, version strings or blood-pressure-like fractions ("120/80").
* DATE_OF_BIRTH is a date right after a birth keyword (DOB, born on, Geburtsdatum, geboren
  am, né(e) le, fecha de nacimiento, nacido/a el); only the date is the span.
* ADDRESS is a whole street address (street, postcode, city[, state]); a city inside it is not
  labelled again. LOCATION is a city or country on its own. Spans never nest or overlap.
* PERSON excludes honorifics ("Dr.", "Mr.", "Herr"); company names are not labelled.
* US_SSN, US_PASSPORT, US_DRIVER_LICENSE and MEDICAL_LICENSE (DEA numbers) occur in English
  texts only; IBANs use the language's country (English: GB).
* About 15 % of texts contain no personal data; hard negatives (order, invoice and tracking
  numbers, EAN codes, Luhn-invalid 16-digit references, versions, prices, bare times, years,
  company names) occur both there and beside personal data.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / ".cache" / "text_set.jsonl"
LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES"}
NO_PII_SHARE = 0.15
SINGLE_SENTENCE_SHARE = 0.45

# Gold entity -> template slots; other slots render unlabelled hard negatives.
SLOTS_OF = {
    "PERSON": "NAME NAME_F NAME_M NAME_UP FIRST FIRST_F FIRST_M FIRST_LOW LAST",
    "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD", "US_SSN": "SSN",
    "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP", "LOCATION": "CITY COUNTRY", "ADDRESS": "ADDRESS",
    "DATE_TIME": "DATE DATETIME", "DATE_OF_BIRTH": "DOB", "US_PASSPORT": "PASSPORT",
    "US_DRIVER_LICENSE": "DL", "MEDICAL_LICENSE": "DEA", "URL": "URL",
}  # fmt: skip
ENTITY_OF = {slot: entity for entity, slots in SLOTS_OF.items() for slot in slots.split()}
LABELS = frozenset(ENTITY_OF.values())

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
}
CITIES = {
    "en": "New York|Chicago|Houston|Phoenix|Seattle|Boston|Denver|Atlanta|Miami|San Diego|Dallas"
    "|Nashville|Portland|Detroit|London|Toronto",
    "de": "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dresden"
    "|Hannover|Nürnberg|Bremen|Wien|Zürich",
    "fr": "Paris|Marseille|Lyon|Toulouse|Nice|Nantes|Strasbourg|Montpellier|Bordeaux|Lille"
    "|Rennes|Grenoble|Bruxelles|Genève",
    "es": "Madrid|Barcelona|Valencia|Sevilla|Zaragoza|Málaga|Bilbao|Alicante|Córdoba|Valladolid"
    "|Granada|Palma|Buenos Aires|Ciudad de México",
}
COUNTRIES = {
    "en": "United States|Canada|Mexico|Germany|France|Spain|Italy|Japan|Brazil|Ireland|India",
    "de": "Deutschland|Österreich|Frankreich|Spanien|Italien|Polen|Dänemark|Schweden|Japan|Kanada",
    "fr": "France|Belgique|Suisse|Canada|Allemagne|Espagne|Italie|Portugal|Maroc|Japon|Brésil",
    "es": "España|México|Argentina|Colombia|Chile|Perú|Francia|Alemania|Portugal|Italia|Japón",
}
US_AREAS = (212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 206, 303, 718, 773, 919)
DE_MOBILE = ("151", "152", "160", "162", "170", "171", "172", "175", "176", "177", "179")
DE_AREAS = (("30", 8), ("40", 8), ("89", 8), ("69", 7), ("221", 7), ("211", 7), ("711", 7))
GB_BANKS = ("NWBK", "BARC", "LOYD", "HBUK", "MIDL")
EAN_PREFIX = {"en": (0, 139), "de": (400, 440), "fr": (300, 379), "es": (840, 849)}

# Per language and kind: "> " opener, "- " body (one sentence or form line; in kinds other
# than "none" each has personal data), "< " closer. A literal \n is a line break.
TEMPLATES = {
    "en": r"""
## email
> Hi {FIRST},
> Dear {NAME},
> Dear Mr. {LAST},
> Dear Ms. {LAST},
> Good morning,
- Please send the signed contract to {EMAIL} by {DATE}.
- You can reach me on {PHONE} any time after lunch.
- I have moved to {ADDRESS}, so please update your records.
- Our meeting with {NAME} is confirmed for {DATETIME}.
- {NAME} from the {CITY} office will join us as well.
- My new mobile number is {PHONE} and my personal email is {EMAIL}.
- The slides are on my page at {URL} if you want to take a look.
- I will be in {CITY} from {DATE} until {DATE}.
- Could you forward this to {FIRST} before Friday?
- I'm flying to {COUNTRY} on {DATE}, so I'll be offline for a while.
< Best regards,\n{NAME}
< Thanks,\n{FIRST}
< Kind regards, {NAME}
< Sent from my phone
## chat
> [{CLOCK}] {FIRST_LOW}: hey, are you around?
> {FIRST}: morning all
> [{CLOCK}] support: Hi! How can I help you today?
- {FIRST_LOW}: my number is {PHONE}, just text me
- {FIRST}: can you send it to {EMAIL} pls
- [{CLOCK}] {FIRST_LOW}: ok meet at {ADDRESS}?
- {FIRST}: {NAME} said the server at {IP} is down again
- {FIRST_LOW}: just landed in {CITY} lol
- {FIRST}: check {URL}
- {FIRST_LOW}: bday party on {DATE} at mine, bring {FIRST}
- {FIRST}: my DL is {DL} if you need it for the rental car
< {FIRST}: thx!
< {FIRST_LOW}: see ya at {TIME}
< support: Is there anything else I can help with?
## form
> PATIENT REGISTRATION FORM
> APPLICATION FORM
> CUSTOMER DETAILS
- PATIENT: {NAME_UP}
- Name: {NAME}
- NAME: {NAME_UP}   DOB: {DOB}
- DOB: {DOB}
- Date of birth: {DOB}
- Address: {ADDRESS}
- Phone: {PHONE}
- E-mail: {EMAIL}
- SSN: {SSN}
- Passport No.: {PASSPORT}
- Driver's License: {DL}
- Physician DEA No.: {DEA}
- Place of birth: {CITY}
- Country of residence: {COUNTRY}
< Signature: ____________   Date: {DATE}
< Form version {VERSION}
## ticket
> Ticket {TICKET} - login problem
> Support request {TICKET}
> Subject: Cannot access my account
- Customer {NAME} reports that the app crashes after updating to version {VERSION}.
- Login attempts came from {IP} on {DATETIME}.
- The user can be reached at {EMAIL} or {PHONE}.
- Please reset the password for the account registered to {EMAIL}.
- The error appears when {FIRST} opens {URL} in Chrome.
- Order {ORDER} was charged twice to the card {CARD}.
- Suspicious sign-in from {IP} ({CITY}, {COUNTRY}) was blocked.
- Identity was verified with US passport {PASSPORT}.
< Priority: high. Assigned to {NAME}.
< Status: open
< Reported by {NAME}
## medical
> PATIENT: {NAME_UP}
> Clinical note - {DATE}
> Referral letter
- {NAME}, born on {DOB}, presented with chest pain.
- Patient {NAME} (DOB {DOB}) was seen by Dr. {NAME} on {DATE}.
- Follow-up appointment scheduled for {DATETIME} at the {CITY} clinic.
- Prescribing physician: Dr. {NAME}, DEA {DEA}.
- Emergency contact: {NAME}, {PHONE}.
- Home address on file: {ADDRESS}.
- Insurance claim filed under SSN {SSN}.
- Lab results were emailed to {EMAIL}.
- Refill approved by the ordering provider (DEA# {DEA}) on {DATE}.
< Vitals: BP 120/80, pulse 72, temperature 37.1 °C.
< Next review in 6 weeks.
## hr
> Dear {NAME},
> To whom it may concern,
> RE: Employment confirmation
- We are pleased to offer you the position of Data Analyst starting on {DATE}.
- This letter confirms that {NAME} has been employed with us since {DATE}.
- Your annual salary of {PRICE} will be paid monthly into the account {IBAN}.
- Please return the signed copy to {EMAIL} no later than {DATE}.
- {NAME} will be your line manager at our {CITY} office.
- Our records list your home address as {ADDRESS} and your date of birth as {DOB}.
- For payroll we need your SSN {SSN} and your driver's license number {DL}.
< Sincerely,\n{NAME}\nHuman Resources
< Kind regards, HR Team
## bank
> Transfer request
> Dear Sir or Madam,
> Payment instruction
- Please transfer {PRICE} from my account to {IBAN} (beneficiary: {NAME}).
- Beneficiary IBAN: {IBAN}, reference: invoice {INVOICE}.
- Charge the remaining amount to my Visa card {CARD}.
- Account holder: {NAME_UP}, {ADDRESS}.
- If anything is unclear, call me on {PHONE}.
- The standing order should start on {DATE}.
- ID check: US passport {PASSPORT}, SSN {SSN}.
< Regards, {NAME}
< Thank you.
## shipping
> Your order {ORDER} has shipped!
> Shipping notice
> Delivery update
- It will be delivered to {NAME}, {ADDRESS}.
- Estimated delivery: {DATE}.
- Track your parcel with number {TRACKING} at {URL}.
- The courier will call {PHONE} before delivery.
- A notification was sent to {EMAIL}.
- Ship to: {NAME_UP}, {ADDRESS}.
< Thank you for shopping with us.
< Items: {QTY} x {SKU}, total {PRICE}.
## none
> Release notes
> Store update
> Weekly summary
- Version {VERSION} fixes a crash when importing large files.
- Order {ORDER} contains {QTY} items for a total of {PRICE}.
- Our store opens at {TIME} on weekdays.
- Invoice {INVOICE} has been paid in full.
- Upgrade from {VERSION} to {VERSION} before the next maintenance window.
- Product {SKU} (EAN {EAN}) is back in stock at {PRICE}.
- Reference number {REF16} belongs to the spring catalogue.
- The meeting starts at {TIME} in room 4.12.
- Parcel {TRACKING} left the warehouse this morning.
- {COMPANY} reported revenue growth of 12 % in {YEAR}.
< Thank you for your patience.
< No action is required.
""",
    "de": r"""
## email
> Hallo {FIRST},
> Sehr geehrte Frau {LAST},
> Sehr geehrter Herr {LAST},
> Liebe {FIRST_F},
> Guten Tag,
- Bitte schicken Sie den unterschriebenen Vertrag bis zum {DATE} an {EMAIL}.
- Sie erreichen mich unter {PHONE}.
- Ich bin umgezogen, meine neue Adresse lautet {ADDRESS}.
- Der Termin mit {NAME} ist für den {DATETIME} bestätigt.
- {NAME} aus dem Büro in {CITY} nimmt ebenfalls teil.
- Meine neue Handynummer ist {PHONE}, meine private E-Mail {EMAIL}.
- Die Unterlagen liegen unter {URL}.
- Vom {DATE} bis zum {DATE} bin ich in {CITY}.
- Könnten Sie das bitte an {FIRST} weiterleiten?
- Ab dem {DATE} bin ich für drei Wochen in {COUNTRY}.
< Viele Grüße\n{NAME}
< Mit freundlichen Grüßen,\n{NAME}
< Danke und bis bald, {FIRST}
< Von meinem Smartphone gesendet
## chat
> [{CLOCK}] {FIRST_LOW}: hey, bist du da?
> {FIRST}: moin zusammen
> [{CLOCK}] Support: Hallo! Wie kann ich helfen?
- {FIRST_LOW}: meine nummer ist {PHONE}, schreib mir einfach
- {FIRST}: kannst du das an {EMAIL} schicken?
- [{CLOCK}] {FIRST_LOW}: treffen wir uns bei {ADDRESS}?
- {FIRST}: {NAME} sagt, der Server {IP} ist schon wieder down
- {FIRST_LOW}: bin grad in {CITY} gelandet
- {FIRST}: schau mal {URL}
- {FIRST_LOW}: party am {DATE} bei mir, bring {FIRST} mit
< {FIRST}: danke!
< {FIRST_LOW}: bis später, so gegen {TIME}
< Support: Kann ich sonst noch etwas für Sie tun?
## form
> PATIENTENAUFNAHME
> ANTRAGSFORMULAR
> KUNDENDATEN
- PATIENT: {NAME_UP}
- Name: {NAME}
- NAME: {NAME_UP}   GEBURTSDATUM: {DOB}
- Geburtsdatum: {DOB}
- geboren am {DOB}
- Anschrift: {ADDRESS}
- Telefon: {PHONE}
- E-Mail: {EMAIL}
- IBAN: {IBAN}
- Geburtsort: {CITY}
- Wohnsitzland: {COUNTRY}
< Unterschrift: ____________   Datum: {DATE}
< Formular Version {VERSION}
## ticket
> Ticket {TICKET} - Anmeldeproblem
> Supportanfrage {TICKET}
> Betreff: Kein Zugriff auf mein Konto
- Kunde {NAME_M} meldet, dass die App nach dem Update auf Version {VERSION} abstürzt.
- Die Anmeldeversuche kamen am {DATETIME} von {IP}.
- Die Kundin ist unter {EMAIL} oder {PHONE} erreichbar.
- Bitte das Passwort für das Konto {EMAIL} zurücksetzen.
- Der Fehler tritt auf, wenn {FIRST} die Seite {URL} öffnet.
- Bestellung {ORDER} wurde doppelt von der Karte {CARD} abgebucht.
- Verdächtige Anmeldung von {IP} ({CITY}, {COUNTRY}) wurde blockiert.
< Priorität: hoch. Zugewiesen an {NAME}.
< Status: offen
< Gemeldet von {NAME}
## medical
> PATIENT: {NAME_UP}
> Arztbrief vom {DATE}
> Überweisung
- {NAME}, geboren am {DOB}, stellte sich mit Brustschmerzen vor.
- Patientin {NAME_F} (Geburtsdatum {DOB}) wurde am {DATE} von Dr. {NAME} untersucht.
- Kontrolltermin am {DATETIME} in der Praxis in {CITY}.
- Notfallkontakt: {NAME}, {PHONE}.
- Wohnanschrift laut Akte: {ADDRESS}.
- Der Befund wurde per E-Mail an {EMAIL} gesendet.
< Vitalwerte: RR 120/80, Puls 72, Temperatur 37,1 °C.
< Wiedervorstellung in 6 Wochen.
## hr
> Sehr geehrte/r {NAME},
> Arbeitsbescheinigung
> Betreff: Ihr Arbeitsvertrag
- Wir freuen uns, Ihnen die Stelle als Datenanalyst ab dem {DATE} anzubieten.
- Hiermit bestätigen wir, dass {NAME} seit dem {DATE} bei uns beschäftigt ist.
- Ihr Jahresgehalt von {PRICE} wird monatlich auf das Konto {IBAN} überwiesen.
- Bitte senden Sie die unterschriebene Kopie bis zum {DATE} an {EMAIL}.
- {NAME_F} wird Ihre Vorgesetzte am Standort {CITY}.
- Laut unseren Unterlagen wohnen Sie in {ADDRESS}, Geburtsdatum {DOB}.
< Mit freundlichen Grüßen\n{NAME}\nPersonalabteilung
< Ihre Personalabteilung
## bank
> Überweisungsauftrag
> Sehr geehrte Damen und Herren,
> Zahlungsanweisung
- Bitte überweisen Sie {PRICE} an {IBAN} (Empfänger: {NAME}).
- Empfänger-IBAN: {IBAN}, Verwendungszweck: Rechnung {INVOICE}.
- Den Restbetrag bitte von meiner Kreditkarte {CARD} abbuchen.
- Kontoinhaber: {NAME_UP}, {ADDRESS}.
- Bei Rückfragen erreichen Sie mich unter {PHONE}.
- Der Dauerauftrag soll am {DATE} beginnen.
< Mit freundlichen Grüßen, {NAME}
< Vielen Dank.
## shipping
> Ihre Bestellung {ORDER} ist unterwegs!
> Versandbestätigung
> Lieferstatus
- Die Lieferung erfolgt an {NAME}, {ADDRESS}.
- Voraussichtliche Zustellung: {DATE}.
- Sendungsnummer {TRACKING}, Verfolgung unter {URL}.
- Der Zusteller ruft vorher unter {PHONE} an.
- Eine Benachrichtigung wurde an {EMAIL} gesendet.
- Lieferadresse: {NAME_UP}, {ADDRESS}.
< Vielen Dank für Ihren Einkauf.
< Artikel: {QTY} x {SKU}, Gesamtbetrag {PRICE}.
## none
> Versionshinweise
> Neuigkeiten aus dem Shop
> Wochenbericht
- Version {VERSION} behebt einen Absturz beim Import großer Dateien.
- Bestellung {ORDER} enthält {QTY} Artikel im Wert von {PRICE}.
- Unser Laden öffnet werktags um {TIME}.
- Rechnung {INVOICE} wurde vollständig bezahlt.
- Bitte vor dem nächsten Wartungsfenster von {VERSION} auf {VERSION} aktualisieren.
- Artikel {SKU} (EAN {EAN}) ist wieder für {PRICE} lieferbar.
- Die Referenznummer {REF16} gehört zum Frühjahrskatalog.
- Das Meeting beginnt um {TIME} in Raum 4.12.
- Paket {TRACKING} hat heute Morgen das Lager verlassen.
- {COMPANY} meldete für {YEAR} ein Umsatzplus von 12 %.
< Vielen Dank für Ihre Geduld.
< Es ist nichts weiter zu tun.
""",
    "fr": r"""
## email
> Bonjour {FIRST},
> Madame {LAST},
> Monsieur {LAST},
> Cher {FIRST_M},
> Bonjour à tous,
- Merci d'envoyer le contrat signé à {EMAIL} avant le {DATE}.
- Vous pouvez me joindre au {PHONE}.
- J'ai déménagé : ma nouvelle adresse est {ADDRESS}.
- Le rendez-vous avec {NAME} est confirmé pour le {DATETIME}.
- {NAME}, du bureau de {CITY}, sera également présent.
- Mon nouveau portable est le {PHONE} et mon e-mail personnel {EMAIL}.
- Les documents sont disponibles sur {URL}.
- Je serai à {CITY} du {DATE} au {DATE}.
- Pourriez-vous transmettre ceci à {FIRST} ?
- Je serai en déplacement ({COUNTRY}) à partir du {DATE}.
< Cordialement,\n{NAME}
< Bien à vous, {NAME}
< Merci, {FIRST}
< Envoyé de mon téléphone
## chat
> [{CLOCK}] {FIRST_LOW}: salut, t'es là ?
> {FIRST}: bonjour tout le monde
> [{CLOCK}] Support : Bonjour ! Comment puis-je vous aider ?
- {FIRST_LOW}: mon num c'est {PHONE}, envoie-moi un sms
- {FIRST}: tu peux l'envoyer à {EMAIL} stp
- [{CLOCK}] {FIRST_LOW}: on se retrouve au {ADDRESS} ?
- {FIRST}: {NAME} dit que le serveur {IP} est encore tombé
- {FIRST_LOW}: je viens d'atterrir à {CITY} mdr
- {FIRST}: regarde {URL}
- {FIRST_LOW}: anniv le {DATE} chez moi, ramène {FIRST}
< {FIRST}: merci !
< {FIRST_LOW}: à plus, vers {TIME}
< Support : Puis-je faire autre chose pour vous ?
## form
> FICHE D'ADMISSION
> FORMULAIRE DE DEMANDE
> COORDONNÉES CLIENT
- PATIENT : {NAME_UP}
- Nom : {NAME}
- NOM : {NAME_UP}   NÉ(E) LE : {DOB}
- Date de naissance : {DOB}
- Adresse : {ADDRESS}
- Téléphone : {PHONE}
- Courriel : {EMAIL}
- IBAN : {IBAN}
- Lieu de naissance : {CITY}
- Pays de résidence : {COUNTRY}
< Signature : ____________   Date : {DATE}
< Formulaire version {VERSION}
## ticket
> Ticket {TICKET} - problème de connexion
> Demande d'assistance {TICKET}
> Objet : impossible d'accéder à mon compte
- Le client {NAME_M} signale que l'application plante depuis la mise à jour {VERSION}.
- Les tentatives de connexion provenaient de {IP} le {DATETIME}.
- La cliente est joignable à {EMAIL} ou au {PHONE}.
- Merci de réinitialiser le mot de passe du compte {EMAIL}.
- L'erreur apparaît quand {FIRST} ouvre {URL}.
- La commande {ORDER} a été débitée deux fois sur la carte {CARD}.
- Une connexion suspecte depuis {IP} ({CITY}, {COUNTRY}) a été bloquée.
< Priorité : haute. Assigné à {NAME}.
< Statut : ouvert
< Signalé par {NAME}
## medical
> PATIENT : {NAME_UP}
> Compte rendu du {DATE}
> Lettre d'adressage
- {NAME_M}, né le {DOB}, consulte pour une douleur thoracique.
- La patiente {NAME_F}, née le {DOB}, a été examinée par le Dr {NAME} le {DATE}.
- Rendez-vous de contrôle le {DATETIME} au cabinet de {CITY}.
- Personne à prévenir : {NAME}, {PHONE}.
- Adresse du domicile : {ADDRESS}.
- Résultats envoyés par e-mail à {EMAIL}.
< Constantes : TA 12/8, pouls 72, température 37,1 °C.
< Revoir dans 6 semaines.
## hr
> Madame, Monsieur,
> Attestation d'emploi
> Objet : votre contrat de travail
- Nous avons le plaisir de vous proposer le poste d'analyste de données à compter du {DATE}.
- Nous certifions que {NAME} est employé(e) dans notre société depuis le {DATE}.
- Votre salaire annuel de {PRICE} sera versé chaque mois sur le compte {IBAN}.
- Merci de renvoyer l'exemplaire signé à {EMAIL} au plus tard le {DATE}.
- {NAME} sera votre responsable sur le site de {CITY}.
- Selon nos dossiers, vous résidez au {ADDRESS} et vous êtes né(e) le {DOB}.
< Veuillez agréer nos salutations distinguées.\n{NAME}\nRessources humaines
< Le service RH
## bank
> Ordre de virement
> Madame, Monsieur,
> Instruction de paiement
- Veuillez virer {PRICE} sur le compte {IBAN} (bénéficiaire : {NAME}).
- IBAN du bénéficiaire : {IBAN}, référence : facture {INVOICE}.
- Merci de débiter le solde sur ma carte {CARD}.
- Titulaire du compte : {NAME_UP}, {ADDRESS}.
- Pour toute question, appelez-moi au {PHONE}.
- Le virement permanent doit commencer le {DATE}.
< Cordialement, {NAME}
< Merci d'avance.
## shipping
> Votre commande {ORDER} a été expédiée !
> Avis d'expédition
> Suivi de livraison
- Elle sera livrée à {NAME}, {ADDRESS}.
- Livraison prévue le {DATE}.
- Suivez votre colis n° {TRACKING} sur {URL}.
- Le livreur appellera le {PHONE} avant de passer.
- Une notification a été envoyée à {EMAIL}.
- Destinataire : {NAME_UP}, {ADDRESS}.
< Merci pour votre achat.
< Articles : {QTY} x {SKU}, total {PRICE}.
## none
> Notes de version
> Actualités de la boutique
> Résumé hebdomadaire
- La version {VERSION} corrige un plantage lors de l'import de gros fichiers.
- La commande {ORDER} contient {QTY} articles pour un total de {PRICE}.
- Le magasin ouvre à {TIME} en semaine.
- La facture {INVOICE} a été entièrement réglée.
- Passez de la version {VERSION} à {VERSION} avant la prochaine maintenance.
- L'article {SKU} (EAN {EAN}) est de nouveau disponible à {PRICE}.
- Le numéro de référence {REF16} correspond au catalogue de printemps.
- La réunion commence à {TIME} en salle 4.12.
- Le colis {TRACKING} a quitté l'entrepôt ce matin.
- {COMPANY} a annoncé une croissance de 12 % en {YEAR}.
< Merci de votre patience.
< Aucune action n'est requise.
""",
    "es": r"""
## email
> Hola, {FIRST}:
> Estimada Sra. {LAST}:
> Estimado Sr. {LAST}:
> Querido {FIRST_M}:
> Buenos días:
- Por favor, envíe el contrato firmado a {EMAIL} antes del {DATE}.
- Puede llamarme al {PHONE}.
- Me he mudado; mi nueva dirección es {ADDRESS}.
- La reunión con {NAME} queda confirmada para el {DATETIME}.
- {NAME}, de la oficina de {CITY}, también asistirá.
- Mi nuevo móvil es el {PHONE} y mi correo personal {EMAIL}.
- Los documentos están en {URL}.
- Estaré en {CITY} del {DATE} al {DATE}.
- ¿Podría reenviarle esto a {FIRST}?
- A partir del {DATE} estaré de viaje en {COUNTRY}.
< Un saludo,\n{NAME}
< Atentamente, {NAME}
< Gracias, {FIRST}
< Enviado desde mi móvil
## chat
> [{CLOCK}] {FIRST_LOW}: hola, ¿estás?
> {FIRST}: buenos días a todos
> [{CLOCK}] Soporte: ¡Hola! ¿En qué puedo ayudarle?
- {FIRST_LOW}: mi número es {PHONE}, escríbeme
- {FIRST}: ¿me lo mandas a {EMAIL}?
- [{CLOCK}] {FIRST_LOW}: ¿quedamos en {ADDRESS}?
- {FIRST}: {NAME} dice que el servidor {IP} se ha caído otra vez
- {FIRST_LOW}: acabo de aterrizar en {CITY} jaja
- {FIRST}: mira {URL}
- {FIRST_LOW}: fiesta el {DATE} en mi casa, tráete a {FIRST}
< {FIRST}: ¡gracias!
< {FIRST_LOW}: hasta luego, sobre las {TIME}
< Soporte: ¿Puedo ayudarle en algo más?
## form
> FICHA DE INGRESO
> FORMULARIO DE SOLICITUD
> DATOS DEL CLIENTE
- PACIENTE: {NAME_UP}
- Nombre: {NAME}
- NOMBRE: {NAME_UP}   FECHA DE NACIMIENTO: {DOB}
- Fecha de nacimiento: {DOB}
- Dirección: {ADDRESS}
- Teléfono: {PHONE}
- Correo electrónico: {EMAIL}
- IBAN: {IBAN}
- Lugar de nacimiento: {CITY}
- País de residencia: {COUNTRY}
< Firma: ____________   Fecha: {DATE}
< Formulario versión {VERSION}
## ticket
> Ticket {TICKET} - problema de acceso
> Solicitud de soporte {TICKET}
> Asunto: no puedo acceder a mi cuenta
- El cliente {NAME_M} indica que la aplicación se cierra desde la actualización {VERSION}.
- Los intentos de inicio de sesión vinieron de {IP} el {DATETIME}.
- La clienta está disponible en {EMAIL} o en el {PHONE}.
- Por favor, restablezcan la contraseña de la cuenta {EMAIL}.
- El error aparece cuando {FIRST} abre {URL}.
- El pedido {ORDER} se cobró dos veces en la tarjeta {CARD}.
- Se bloqueó un inicio de sesión sospechoso desde {IP} ({CITY}, {COUNTRY}).
< Prioridad: alta. Asignado a {NAME}.
< Estado: abierto
< Informado por {NAME}
## medical
> PACIENTE: {NAME_UP}
> Informe clínico del {DATE}
> Carta de derivación
- {NAME_M}, nacido el {DOB}, acude por dolor torácico.
- La paciente {NAME_F}, nacida el {DOB}, fue atendida por el Dr. {NAME} el {DATE}.
- Cita de control el {DATETIME} en la consulta de {CITY}.
- Contacto de emergencia: {NAME}, {PHONE}.
- Domicilio: {ADDRESS}.
- Resultados enviados por correo a {EMAIL}.
< Constantes: TA 120/80, pulso 72, temperatura 37,1 °C.
< Nueva revisión en 6 semanas.
## hr
> Estimado/a {NAME}:
> Certificado de empresa
> Asunto: su contrato de trabajo
- Nos complace ofrecerle el puesto de analista de datos a partir del {DATE}.
- Certificamos que {NAME} trabaja en nuestra empresa desde el {DATE}.
- Su salario anual de {PRICE} se abonará mensualmente en la cuenta {IBAN}.
- Envíe la copia firmada a {EMAIL} antes del {DATE}.
- {NAME} será su responsable en la sede de {CITY}.
- Según nuestros registros, su domicilio es {ADDRESS} y su fecha de nacimiento es el {DOB}.
< Atentamente,\n{NAME}\nRecursos Humanos
< Departamento de RR. HH.
## bank
> Orden de transferencia
> Muy señores míos:
> Instrucción de pago
- Por favor, transfieran {PRICE} a la cuenta {IBAN} (beneficiario: {NAME}).
- IBAN del beneficiario: {IBAN}, concepto: factura {INVOICE}.
- Carguen el importe restante en mi tarjeta {CARD}.
- Titular de la cuenta: {NAME_UP}, {ADDRESS}.
- Si tienen alguna duda, llámenme al {PHONE}.
- La transferencia periódica debe comenzar el {DATE}.
< Saludos, {NAME}
< Muchas gracias.
## shipping
> ¡Tu pedido {ORDER} está en camino!
> Aviso de envío
> Estado de la entrega
- Se entregará a {NAME}, {ADDRESS}.
- Entrega prevista: {DATE}.
- Sigue tu paquete con el número {TRACKING} en {URL}.
- El repartidor llamará al {PHONE} antes de la entrega.
- Se ha enviado una notificación a {EMAIL}.
- Destinatario: {NAME_UP}, {ADDRESS}.
< Gracias por tu compra.
< Artículos: {QTY} x {SKU}, total {PRICE}.
## none
> Notas de la versión
> Novedades de la tienda
> Resumen semanal
- La versión {VERSION} corrige un cierre inesperado al importar archivos grandes.
- El pedido {ORDER} contiene {QTY} artículos por un total de {PRICE}.
- La tienda abre a las {TIME} entre semana.
- La factura {INVOICE} se ha pagado por completo.
- Actualice de {VERSION} a {VERSION} antes del próximo mantenimiento.
- El artículo {SKU} (EAN {EAN}) vuelve a estar disponible por {PRICE}.
- El número de referencia {REF16} corresponde al catálogo de primavera.
- La reunión empieza a las {TIME} en la sala 4.12.
- El paquete {TRACKING} salió del almacén esta mañana.
- {COMPANY} registró un crecimiento del 12 % en {YEAR}.
< Gracias por su paciencia.
< No es necesario hacer nada.
""",
}

SLOT = re.compile(r"\{([A-Z0-9_]+)\}")
Kind = tuple[list[str], list[str], list[str]]  # openers, bodies, closers


def parse_templates(block: str) -> dict[str, Kind]:
    """Split one language's template block into kinds of (openers, bodies, closers)."""
    kinds: dict[str, Kind] = {}
    for line in filter(None, map(str.strip, block.splitlines())):
        if line.startswith("## "):
            current = kinds.setdefault(line[3:], ([], [], []))
        else:
            current[">-<".index(line[0])].append(line[2:].replace("\\n", "\n"))
    return kinds


PARSED = {lang: parse_templates(block) for lang, block in TEMPLATES.items()}


def luhn_check_digit(body: str) -> str:
    """Digit that makes ``body + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def iban(country: str, bban: str) -> str:
    """IBAN with ISO 13616 mod-97 check digits for ``country`` and ``bban``."""
    rearranged = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(rearranged) % 97:02d}{bban}"


def fold(text: str) -> str:
    """Lower-case ASCII form of a name for e-mail local parts and URL slugs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower())


class Values:
    """Slot values for one language; method ``x`` renders slot ``{X}``."""

    def __init__(self, lang: str, fake: Faker, rng: random.Random) -> None:
        self.lang, self.fake, self.rng = lang, fake, rng
        self.months = MONTHS[lang].split()

    def _num(self, n: int) -> str:
        return str(self.rng.randint(10 ** (n - 1), 10**n - 1))

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def _pick(self, options: str) -> str:
        return self.rng.choice(options.split("|"))

    def _person(self, gender: str = "") -> tuple[str, str]:
        first = getattr(self.fake, f"first_name{gender}")()
        last = self.fake.last_name()
        if self.lang == "es" and self.rng.random() < 0.6:
            last = f"{last} {self.fake.last_name()}"
        return first, last

    def name(self) -> str:
        return " ".join(self._person())

    def name_f(self) -> str:
        return " ".join(self._person("_female"))

    def name_m(self) -> str:
        return " ".join(self._person("_male"))

    def name_up(self) -> str:
        first, last = self._person()
        return (f"{last}, {first}" if self.rng.random() < 0.4 else f"{first} {last}").upper()

    def first(self) -> str:
        return str(self.fake.first_name())

    def first_f(self) -> str:
        return str(self.fake.first_name_female())

    def first_m(self) -> str:
        return str(self.fake.first_name_male())

    def first_low(self) -> str:
        return self.first().lower()

    def last(self) -> str:
        return str(self.fake.last_name())

    def email(self) -> str:
        first, last = (fold(p) or "info" for p in self._person())
        domain = self.fake.free_email_domain()
        return self.rng.choice(
            [
                f"{first}.{last}@{domain}",
                f"{first[0]}{last}{self.rng.randint(1, 99)}@{domain}",
                str(self.fake.free_email()),
                str(self.fake.company_email()),
            ]
        )

    def phone(self) -> str:
        r, intl = self.rng, self.rng.random() < 0.4
        if self.lang == "en":
            a, x, n = r.choice(US_AREAS), r.randint(201, 999), self._digits(4)
            x = 556 if x == 555 or x % 100 == 11 else x  # no fictional 555, no N11 codes
            opts = (
                [f"+1 {a} {x} {n}", f"+1-{a}-{x}-{n}", f"+1 ({a}) {x}-{n}"]
                if intl
                else [f"({a}) {x}-{n}", f"{a}-{x}-{n}", f"{a}.{x}.{n}"]
            )
        elif self.lang == "de":
            ac, length = (r.choice(DE_MOBILE), 8) if r.random() < 0.5 else r.choice(DE_AREAS)
            sub = self._num(length)
            opts = (
                [f"+49 {ac} {sub}", f"+49 (0){ac} {sub}", f"0049 {ac} {sub}"]
                if intl
                else [f"0{ac} {sub}", f"0{ac}/{sub}", f"0{ac}-{sub}"]
            )
        elif self.lang == "fr":
            lead, rest = r.choice("1234567"), self._digits(8)
            pairs = " ".join(rest[i : i + 2] for i in range(0, 8, 2))
            opts = (
                [f"+33 {lead} {pairs}", f"+33 (0){lead} {pairs}", f"+33{lead}{rest}"]
                if intl
                else [f"0{lead} {pairs}", f"0{lead}{rest}", f"0{lead}." + pairs.replace(" ", ".")]
            )
        else:
            n = r.choice(["6", "7" + r.choice("1234"), "91", "93", "96"])
            n += self._digits(9 - len(n))
            grouped = (
                f"{n[:3]} {n[3:6]} {n[6:]}"
                if n[0] in "67"
                else f"{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"
            )
            opts = [f"+34 {grouped}", f"+34 {n}", f"0034 {grouped}"] if intl else [grouped, n]
        return r.choice(opts)

    def card(self) -> str:
        r = self.rng
        brand = r.choice(["visa", "visa", "mc", "amex"])
        prefix = {"visa": "4", "mc": f"5{r.randint(1, 5)}", "amex": f"3{r.choice('47')}"}[brand]
        body = prefix + self._digits((14 if brand == "amex" else 15) - len(prefix))
        number, sep = body + luhn_check_digit(body), r.choice(["", " ", " ", "-"])
        cuts = (4, 10) if brand == "amex" else (4, 8, 12)
        return sep.join(number[a:b] for a, b in zip((0, *cuts), (*cuts, None), strict=True))

    def ssn(self) -> str:
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        group, serial = self.rng.randint(1, 99), self.rng.randint(1, 9999)
        sep = self.rng.choice(["-", "-", "-", " ", ""])
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

    def iban(self) -> str:
        r = self.rng
        country, bban = {
            "en": ("GB", r.choice(GB_BANKS) + self._digits(14)),
            "de": ("DE", self._digits(18)),
            "fr": ("FR", self._digits(23)),
            "es": ("ES", self._digits(20)),
        }[self.lang]
        code = iban(country, bban)
        return (
            " ".join(code[i : i + 4] for i in range(0, len(code), 4)) if r.random() < 0.5 else code
        )

    def ip(self) -> str:
        r = self.rng
        if r.random() < 0.65:
            first = r.choice([23, 31, 45, 62, 77, 81, 85, 91, 104, 141, 151, 176, 185, 203, 212])
            return f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        groups = [r.choice([0x2A02, 0x2A01, 0x2001, 0x2600, 0x2003])]
        groups += [0 if r.random() < 0.35 else r.randint(1, 0xFFFF) for _ in range(7)]
        addr = ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))
        return addr.compressed if r.random() < 0.75 else addr.exploded

    def city(self) -> str:
        return self._pick(CITIES[self.lang])

    def country(self) -> str:
        return self._pick(COUNTRIES[self.lang])

    def address(self) -> str:
        f = self.fake
        street = " ".join(f.street_address().split())
        city = f.city() if self.rng.random() < 0.6 else self.city()
        if self.lang == "en":
            state = f.state_abbr(include_territories=False, include_freely_associated_states=False)
            return f"{street}, {city}, {state} {f.zipcode()}"
        return f"{street}, {f.postcode()} {city}"

    def _day(self, start: int, years: int) -> date:
        return date(start, 1, 1) + timedelta(days=self.rng.randint(0, 365 * years))

    def _date(self, d: date) -> str:
        m, lang = self.months[d.month - 1], self.lang
        opts = {
            "en": [
                f"{d.month:02d}/{d.day:02d}/{d.year}",
                f"{m} {d.day}, {d.year}",
                f"{d.day} {m} {d.year}",
                f"{m[:3]} {d.day}, {d.year}",
                d.isoformat(),
            ],
            "de": [
                f"{d:%d.%m.%Y}",
                f"{d.day}. {m} {d.year}",
                f"{d.day}.{d.month}.{d.year}",
                d.isoformat(),
            ],
            "fr": [
                f"{d:%d/%m/%Y}",
                f"{'1er' if d.day == 1 else d.day} {m} {d.year}",
                d.isoformat(),
            ],
            "es": [f"{d:%d/%m/%Y}", f"{d.day} de {m} de {d.year}", f"{d:%d-%m-%Y}"],
        }[lang]
        return self.rng.choice(opts)

    def date(self) -> str:
        return self._date(self._day(2022, 5))

    def dob(self) -> str:
        return self._date(self._day(1935, 70))

    def clock(self) -> str:
        return f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}"

    def time(self) -> str:
        h, m = self.rng.randint(7, 20), self.rng.choice([0, 0, 15, 30, 45, 10, 50])
        return self.rng.choice(
            {
                "en": [f"{h}:{m:02d}", f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}"],
                "de": [f"{h}:{m:02d} Uhr", f"{h}:{m:02d}"],
                "fr": [f"{h}h{m:02d}", f"{h}:{m:02d}"],
                "es": [f"{h}:{m:02d}", f"{h}:{m:02d} h"],
            }[self.lang]
        )

    def datetime(self) -> str:
        joiner = {"en": "at", "de": "um", "fr": "à", "es": "a las"}[self.lang]
        return f"{self.date()} {joiner} {self.time()}"

    def passport(self) -> str:
        return self._num(9) if self.rng.random() < 0.5 else self._pick("A|C|E|X") + self._num(8)

    def dl(self) -> str:
        r, d = self.rng, self._digits
        upper = r.choice("ABCDGHKLMNPRSTW")
        fl_style = f"{upper}{d(3)}-{d(3)}-{d(2)}-{d(3)}-{d(1)}"  # e.g. Florida
        ny_style = f"{self._num(3)} {d(3)} {d(3)}"  # e.g. New York
        return r.choice([upper + d(7), self._num(9), self._num(8), ny_style, fl_style])

    def dea(self) -> str:
        d = [self.rng.randint(0, 9) for _ in range(6)]
        check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
        prefix = self.rng.choice("ABFGM") + fold(self.fake.last_name())[:1].upper()
        return prefix + "".join(map(str, d)) + str(check)

    def url(self) -> str:
        f = self.fake
        first, last = (fold(p) or "user" for p in self._person())
        return self.rng.choice(
            [
                f"https://www.linkedin.com/in/{first}-{last}",
                f"https://{f.domain_name()}/{f.uri_path()}",
                f"www.{f.domain_name()}",
                f"http://{f.domain_name()}/users/{f.user_name()}",
            ]
        )

    # Hard negatives (rendered without a label).
    def order(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"#{self._num(6)}",
                f"A-{self._num(5)}-{self._digits(2)}",
                f"ORD-{r.randint(2019, 2026)}-{self._digits(6)}",
            ]
        )

    def invoice(self) -> str:
        prefix = {"en": "INV", "de": "RE", "fr": "FAC", "es": "FAC"}[self.lang]
        return f"{prefix}-{self.rng.randint(2019, 2026)}-{self._digits(5)}"

    def ticket(self) -> str:
        return self.rng.choice([f"#{self._num(5)}", f"TCK-{self._num(5)}"])

    def version(self) -> str:
        r = self.rng
        v = f"{r.randint(1, 12)}.{r.randint(0, 20)}.{r.randint(0, 30)}"
        return "v" + v if r.random() < 0.2 else v

    def price(self) -> str:
        amount = f"{self.rng.randint(5, 90000) + self.rng.randint(0, 99) / 100:,.2f}"
        if self.lang == "en":
            return "$" + amount
        sep = " " if self.lang == "fr" else "."
        return amount.replace(",", "_").replace(".", ",").replace("_", sep) + " €"

    def qty(self) -> str:
        return str(self.rng.randint(2, 40))

    def sku(self) -> str:
        letters = "".join(self.rng.choice("ABCDEFGHKLMNPRSTXZ") for _ in range(5))
        return f"{letters[:3]}-{self._num(4)}-{letters[3:]}"

    def ean(self) -> str:
        body = f"{self.rng.randint(*EAN_PREFIX[self.lang]):03d}" + self._digits(9)
        check = -sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10
        return body + str(check)

    def ref16(self) -> str:
        body = self.rng.choice("45") + self._digits(14)
        bad = str((int(luhn_check_digit(body)) + self.rng.randint(1, 9)) % 10)
        number = body + bad
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))

    def tracking(self) -> str:
        alnum = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPRSTVWXY") for _ in range(6))
        return self.rng.choice([f"1Z{alnum}{self._digits(10)}", self._num(12)])

    def company(self) -> str:
        return f"{self.fake.last_name()} {self.fake.company_suffix()}"

    def year(self) -> str:
        return str(self.rng.randint(2015, 2025))


def render(template: str, values: Values) -> tuple[str, list[dict[str, Any]]]:
    """Fill ``template``'s slots; return the text and its verified gold spans."""
    parts: list[str] = []
    spans: list[dict[str, Any]] = []
    checks: list[str] = []
    pos = last = 0
    for m in SLOT.finditer(template):
        literal = template[last : m.start()]
        parts.append(literal)
        pos += len(literal)
        slot = m.group(1)
        value = getattr(values, slot.lower())()
        assert value == value.strip() and value, (slot, value)
        if slot in ENTITY_OF:
            spans.append({"start": pos, "end": pos + len(value), "entity": ENTITY_OF[slot]})
            checks.append(value)
        parts.append(value)
        pos += len(value)
        last = m.end()
    parts.append(template[last:])
    text = "".join(parts)
    for span, value in zip(spans, checks, strict=True):
        assert text[span["start"] : span["end"]] == value
    return text, spans


def check_templates() -> None:
    """Every body outside ``none`` has a labelled slot, ``none`` has none, all slots exist."""
    for lang, kinds in PARSED.items():
        for kind, (openers, bodies, closers) in kinds.items():
            for t in openers + bodies + closers:
                for slot in SLOT.findall(t):
                    assert hasattr(Values, slot.lower()), (lang, slot)
                labelled = any(s in ENTITY_OF for s in SLOT.findall(t))
                if kind == "none":
                    assert not labelled, (lang, t)
                elif t in bodies:
                    assert labelled, (lang, t)


def generate(n: int = 2400, seed: int = 7) -> list[dict[str, Any]]:
    """Return ``n`` labelled records, languages in turn, deterministic for ``seed``."""
    check_templates()
    rng = random.Random(seed)
    values = {}
    for lang, locale in LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        values[lang] = Values(lang, fake, rng)
    langs = list(LOCALES)
    records = []
    for i in range(n):
        lang = langs[i % len(langs)]
        kinds = PARSED[lang]
        kind = "none" if rng.random() < NO_PII_SHARE else rng.choice(sorted(set(kinds) - {"none"}))
        openers, bodies, closers = kinds[kind]
        if rng.random() < SINGLE_SENTENCE_SHARE:
            template = rng.choice(bodies)
        else:  # 2-6 sentences: opener, 1-4 bodies, optional closer
            sep = "\n" if kind in ("chat", "form") else " "
            body = sep.join(rng.sample(bodies, rng.randint(1, min(4, len(bodies)))))
            tail = [rng.choice(closers)] if rng.random() < 0.7 else []
            template = "\n".join([rng.choice(openers), body, *tail])
        text, spans = render(template, values[lang])
        records.append({"id": f"{lang}-{i:05d}", "lang": lang, "text": text, "spans": spans})
    return records


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write one JSON object per line (UTF-8, non-ASCII kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file written by :func:`write_jsonl`."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def print_counts(records: list[dict[str, Any]], out: Callable[[str], None] = print) -> None:
    """Print records, no-PII records and characters per language, and spans per entity."""
    langs = list(LOCALES)
    per: dict[str, Counter[str]] = {lang: Counter() for lang in langs}
    for r in records:
        per[r["lang"]].update(s["entity"] for s in r["spans"])
    out(f"{'':<18}" + "".join(f"{x:>7}" for x in [*langs, "all"]))
    rows = {
        "records": Counter(r["lang"] for r in records),
        "no personal data": Counter(r["lang"] for r in records if not r["spans"]),
        "characters": Counter({lang: 0 for lang in langs}),
    }
    for r in records:
        rows["characters"][r["lang"]] += len(r["text"])
    rows |= {e: Counter({lang: per[lang][e] for lang in langs}) for e in sorted(LABELS)}
    for label, c in rows.items():
        out(f"{label:<18}" + "".join(f"{c[lang]:>7}" for lang in langs) + f"{c.total():>7}")


def main() -> None:
    """Generate the set, write it as JSONL and print its counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records = generate(args.n, args.seed)
    write_jsonl(records, args.out)
    print(f"wrote {len(records)} records to {args.out}")
    print_counts(records)


if __name__ == "__main__":
    main()
