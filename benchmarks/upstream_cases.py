"""Veil's text detector on other projects' own test cases (issue 12's first target).

Run with the project venv: ``.venv/bin/python benchmarks/upstream_cases.py [--misses]``.

Sources, fetched from PyPI only (``pip download --no-binary :all: --no-deps``, pinned) into
``benchmarks/.cache/upstream/`` and unpacked there (gitignored: nothing of them is committed
or copied into ``tests/``). presidio-analyzer's sdist ships no tests, so it is not a source.

- python-stdnum 2.2: the doctests of every module that validates an identifier Veil finds
  (a recognizer of ``identifiers.yaml`` names it as ``stdnum.<module>``, plus ``iban`` and
  ``mac``), from the module's docstring and ``tests/test_<module>.doctest``. A value is a
  positive when the doctest shows ``validate()`` returning or ``is_valid()`` true (also the
  lists checked with ``not is_valid(x)`` -> ``[]``), a negative when it shows an ``Invalid*``
  exception or ``is_valid()`` false. Doctests hold bare values, so each is written after
  the identifier's own short name from the module's docstring ("IdNr: ...", "BSN: ...").
- datafog 4.9.0: the ``pytest.mark.parametrize`` tables of ``tests/test_regex_annotator.py``
  and ``tests/test_de_pii_regex.py``, each value written into the test's own f-string
  ("Email: {email}"); ``should_match`` or a "false_positive" test name gives the polarity.
- pii-core 0.1.0: its Polish and cross-language detector tests; the module-level values are
  built with the package's own helpers (``tests/conftest.py``), then every ``detect(x)``
  call is a positive when its test name says "detects" (expected values from the test's
  ``.value`` asserts, else the whole text) and a negative when it says "rejects" or
  "does_not".

Scoring: a positive is found when, for each expected value, a finding of the mapped Veil
entity (or an accepted equivalent: DATE_TIME for a birth date, ID_NUMBER for an
identifier, the labelled-field rule's generic kind) overlaps it; a negative is left alone
when no finding of the mapped entity overlaps the text. Kinds Veil has no entity for are
counted apart and not scored.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import doctest
import re
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.regions import Span
from veil.text import PatternRecognizer, TextDetector, default_registry, validators
from veil.text.spec import builtin_specs

CACHE = Path(__file__).resolve().parent / ".cache" / "upstream"
PACKAGES = {"python-stdnum": "2.2", "datafog": "4.9.0", "pii-core": "0.1.0",
            "validators": "0.36.0"}

GENERIC_ID = "ID_NUMBER"
EQUIVALENTS = {"DATE_OF_BIRTH": {"DATE_TIME"}, "DATE_TIME": {"DATE_OF_BIRTH"},
               "DE_PLZ": {"ADDRESS", "LOCATION"}, "ES_NIF": {"ES_NIE"}}
"""A postcode inside a found address or place is hidden; a foreigner's NIF is an NIE; a
passport number found as another country's passport is hidden as a passport (the number
alone does not say which)."""
NOT_IDENTIFIERS = {"EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "URL", "DATE_TIME",
                   "DATE_OF_BIRTH", "PERSON", "LOCATION", "ADDRESS", "CRYPTO", "MAC_ADDRESS"}

DATAFOG_ENTITIES = {
    "EMAIL": "EMAIL_ADDRESS", "PHONE": "PHONE_NUMBER", "SSN": "US_SSN",
    "CREDIT_CARD": "CREDIT_CARD", "IP_ADDRESS": "IP_ADDRESS", "DOB": "DATE_OF_BIRTH",
    "DE_VAT_ID": "DE_VAT_ID", "DE_IBAN": "IBAN_CODE", "DE_TAX_ID": "DE_TAX_ID",
    "DE_SOCIAL_SECURITY_NUMBER": "DE_SOCIAL_SECURITY", "DE_POSTAL_CODE": "DE_PLZ",
    "DE_PASSPORT_NUMBER": "DE_PASSPORT",
    "ZIP": None, "DE_RESIDENCE_PERMIT_NUMBER": None,
}
PII_CORE_ENTITIES = {
    "pesel": "PL_PESEL", "nip": "PL_NIP", "regon": None, "iban": "IBAN_CODE",
    "id_card": "PL_ID_CARD", "passport": "PL_PASSPORT", "phone": "PHONE_NUMBER",
    "krs": None, "postal_code": None, "email": "EMAIL_ADDRESS",
    "credit_card": "CREDIT_CARD",
}
STDNUM_EXTRA = {"iban": "IBAN_CODE", "mac": "MAC_ADDRESS"}


@dataclass(frozen=True)
class Case:
    """One upstream test case: ``values`` are the parts a positive must have found."""

    source: str
    kind: str
    entities: frozenset[str]
    text: str
    positive: bool
    values: tuple[str, ...] = ()


def fetch(package: str, version: str) -> Path:
    """The unpacked sdist of ``package==version`` (downloaded once from PyPI)."""
    folder = CACHE / f"{package}-{version}"
    if folder.exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "-d", str(CACHE), f"{package}=={version}"],
                   check=True)
    stem = f"{package}-{version}".lower().replace("-", "_")
    archive = next(p for p in CACHE.glob("*.tar.gz")
                   if p.name.lower().replace("-", "_").startswith(stem))
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(CACHE, filter="data")
    (CACHE / top).rename(folder)
    return folder


# python-stdnum ----------------------------------------------------------------------------

def stdnum_modules() -> dict[str, frozenset[str]]:
    """stdnum module path ("de.idnr") -> the Veil entities whose recognizer checks with it."""
    out: dict[str, set[str]] = defaultdict(set)
    for spec in builtin_specs("identifiers.yaml"):
        if spec.validator and spec.validator.startswith("stdnum."):
            out[spec.validator.removeprefix("stdnum.")].add(spec.entity)
    for module, entity in STDNUM_EXTRA.items():
        out[module].add(entity)
    return {k: frozenset(v) for k, v in out.items()}


def doctest_values(text: str) -> Iterator[tuple[str, bool]]:
    """(value, valid) shown by the doctest ``text`` for ``validate``/``is_valid``."""
    pending: list[str] = []
    for example in doctest.DocTestParser().get_examples(text):
        try:
            node = ast.parse(example.source).body[0]
        except (SyntaxError, IndexError):
            continue
        want = example.want.strip()
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and (
                isinstance(node.value.value, str)):
            pending = [line.strip() for line in node.value.value.splitlines() if line.strip()]
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.ListComp):
            calls = [c for c in ast.walk(node.value) if isinstance(c, ast.Call)
                     and _func_name(c) == "is_valid"]
            if calls and want == "[]" and pending:
                negated = any(isinstance(u, ast.UnaryOp) and isinstance(u.op, ast.Not)
                              for u in ast.walk(node.value))
                yield from ((v, negated) for v in pending)
            pending = []
            continue
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        if len(call.args) != 1 or call.keywords or not isinstance(call.args[0], ast.Constant):
            continue
        value = call.args[0].value
        if not isinstance(value, str) or not value.strip():
            continue
        name = _func_name(call)
        if name == "validate":
            if want.startswith("Traceback"):
                if re.search(r"^Invalid\w*:", want, re.MULTILINE):
                    yield value, False
            else:
                yield value, True
        elif name == "is_valid" and want in ("True", "False"):
            yield value, want == "True"


def _func_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def stdnum_cases(root: Path) -> list[Case]:
    cases = []
    for module, entities in sorted(stdnum_modules().items()):
        path = root / "stdnum" / (module.replace(".", "/") + ".py")
        if not path.exists():
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        label = docstring.splitlines()[0].split(" (")[0].rstrip(".")
        texts = [docstring]
        test = root / "tests" / f"test_{module.replace('.', '_')}.doctest"
        if test.exists():
            texts.append(test.read_text(encoding="utf-8"))
        seen: set[tuple[str, bool]] = set()
        for text in texts:
            for value, valid in doctest_values(text):
                if (value, valid) in seen or "\n" in value:
                    continue
                seen.add((value, valid))
                cases.append(Case("python-stdnum", f"stdnum.{module}", entities,
                                  f"{label} {value}", valid, (value,)))
    return cases


# datafog ----------------------------------------------------------------------------------

def datafog_cases(root: Path) -> tuple[list[Case], Counter[str]]:
    cases: list[Case] = []
    unsupported: Counter[str] = Counter()
    for name in ("test_regex_annotator.py", "test_de_pii_regex.py"):
        tree = ast.parse((root / "tests" / name).read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for params, rows in _parametrize(fn):
                for row in rows:
                    case = _datafog_case(fn, dict(zip(params, row, strict=True)))
                    if case is None:
                        continue
                    if not case.entities:
                        unsupported[case.kind] += 1
                    else:
                        cases.append(case)
    return cases, unsupported


def _parametrize(fn: ast.FunctionDef, scope: dict[str, Any] | None = None
                 ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """(parameter names, rows) of each parametrize decorator; rows that are not literals
    are evaluated in ``scope`` (the test module's own constants)."""
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize":
            spec = ast.literal_eval(deco.args[0])
            names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec)]
            table = _eval(deco.args[1], scope or {})
            if isinstance(table, list):
                yield names, [r if isinstance(r, tuple) else (r,) for r in table]


def _datafog_case(fn: ast.FunctionDef, row: dict[str, Any]) -> Case | None:
    """The case a datafog parametrize row tests: the text the test builds, its label."""
    template = next((c.args[0] for c in ast.walk(fn) if isinstance(c, ast.Call)
                     and _func_name(c) in ("annotate", "scan") and c.args), None)
    if template is None:
        return None
    text = _render(template, row)
    label = row.get("label") or next(
        (s.slice.value for s in ast.walk(fn) if isinstance(s, ast.Subscript)
         and isinstance(s.slice, ast.Constant) and s.slice.value in DATAFOG_ENTITIES), None)
    if text is None or label is None:
        return None
    positive = bool(row["should_match"]) if "should_match" in row else (
        "false_positive" not in fn.name)
    value = next((v for k, v in row.items() if isinstance(v, str) and k not in
                  ("label", "text") and v in text), text)
    entities = supported(DATAFOG_ENTITIES.get(label))
    return Case("datafog", label, entities, text, positive, (value,))


def _render(node: ast.expr, row: dict[str, Any]) -> str | None:
    if isinstance(node, ast.Name):
        value = row.get(node.id)
        return value if isinstance(value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
                parts.append(str(row[part.value.id]))
            else:
                return None
        return "".join(parts)
    return None


# validators (python-validators) ------------------------------------------------------------

VALIDATORS_KINDS = {
    # function tested: (Veil entity, the short name written before each value)
    "email": ("EMAIL_ADDRESS", "Email"), "card_number": ("CREDIT_CARD", "Card number"),
    "visa": ("CREDIT_CARD", "Card number"), "mastercard": ("CREDIT_CARD", "Card number"),
    "amex": ("CREDIT_CARD", "Card number"), "unionpay": ("CREDIT_CARD", "Card number"),
    "diners": ("CREDIT_CARD", "Card number"), "jcb": ("CREDIT_CARD", "Card number"),
    "discover": ("CREDIT_CARD", "Card number"), "mir": ("CREDIT_CARD", "Card number"),
    "iban": ("IBAN_CODE", "IBAN"), "ipv4": ("IP_ADDRESS", "IP"), "ipv6": ("IP_ADDRESS", "IP"),
    "mac_address": ("MAC_ADDRESS", "MAC address"), "uuid": ("UUID", "UUID"),
    "url": ("URL", "URL"), "domain": ("URL", "Domain"),
    "btc_address": ("CRYPTO", "Bitcoin address"), "eth_address": ("CRYPTO", "Ethereum address"),
    "es_nie": ("ES_NIE", "NIE"), "es_nif": ("ES_NIF", "NIF"), "fi_ssn": (
        "FI_PERSONAL_IDENTITY_CODE", "HETU"), "fr_ssn": ("FR_NIR", "NIR"),
    "ind_aadhar": ("IN_AADHAAR", "Aadhaar"), "ind_pan": ("IN_PAN", "PAN"),
}
CARD_BRANDS = {"visa", "mastercard", "amex", "unionpay", "diners", "jcb", "discover", "mir"}


def validators_cases(root: Path) -> tuple[list[Case], Counter[str]]:
    """Cases of python-validators' tests: one-parameter tables, "returns_true" positive,
    "failed"/"false" negative. A brand's negatives (a Visa number is not a Mastercard) are
    other brands' valid cards, so only the brand-free ``card_number`` negatives count;
    tests with more parameters (CIDR, private ranges, RFC switches) are left out."""
    cases: list[Case] = []
    unsupported: Counter[str] = Counter()
    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        scope: dict[str, Any] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign):
                with contextlib.suppress(Exception):
                    exec(compile(ast.Module([stmt], []), path.name, "exec"), scope)
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            positive = "returns_true" in fn.name or "returns_string" in fn.name
            if not positive and "failed" not in fn.name and "false" not in fn.name:
                continue
            called = [_func_name(c) for stmt in fn.body for c in ast.walk(stmt)
                      if isinstance(c, ast.Call)]
            func = next((f for f in called if f in VALIDATORS_KINDS), None)
            if func is None:
                func = next((f for f in called if f and f not in ("isinstance", "str")), "")
                rows = sum(len(r) for _, r in _parametrize(fn, scope))
                unsupported[func or path.stem] += rows or 1
                continue
            if not positive and func in CARD_BRANDS:
                continue
            entity, label = VALIDATORS_KINDS[func]
            for names, rows in _parametrize(fn, scope):
                if len(names) != 1:
                    continue
                for (value,) in rows:
                    if isinstance(value, str) and value.strip():
                        cases.append(Case("validators", func, supported(entity),
                                          f"{label} {value}", positive,
                                          (value,) if positive else ()))
    return cases, unsupported


# pii-core ---------------------------------------------------------------------------------

def pii_core_cases(root: Path) -> tuple[list[Case], Counter[str]]:
    """Cases of pii-core's detector tests, values built with its own test helpers."""
    sys.path[:0] = [str(root / "src"), str(root)]
    cases: list[Case] = []
    unsupported: Counter[str] = Counter()
    try:
        for name in ("test_pl_detectors.py", "test_cross_detectors.py"):
            tree = ast.parse((root / "tests" / name).read_text(encoding="utf-8"))
            scope: dict[str, Any] = {}
            module_body = [n for n in tree.body if not isinstance(n, ast.ClassDef)]
            exec(compile(ast.Module(module_body, []), name, "exec"), scope)
            for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
                    for case in _pii_core_fn(fn, scope):
                        if case.entities:
                            cases.append(case)
                        else:
                            unsupported[case.kind] += 1
    finally:
        del sys.path[:2]
    return cases, unsupported


def _pii_core_fn(fn: ast.FunctionDef, scope: dict[str, Any]) -> Iterator[Case]:
    name = fn.name
    negative = "rejects" in name or "does_not" in name
    if not (negative or "detects" in name or "multiple" in name):
        return
    fixture = next((a.arg for a in fn.args.args if a.arg.endswith("_detector")), "")
    kind = fixture.removesuffix("_detector")
    entities = supported(PII_CORE_ENTITIES.get(kind))
    rows = [dict(zip(p, r, strict=True)) for p, rs in _parametrize(fn) for r in rs] or [{}]
    for row in rows:
        local = dict(scope, **row)
        texts, values = [], []
        for stmt in fn.body:
            for call in (c for c in ast.walk(stmt) if isinstance(c, ast.Call)
                         and _func_name(c) == "detect" and c.args):
                texts.append(_eval(call.args[0], local))
            if isinstance(stmt, ast.Assign):
                with contextlib.suppress(Exception):
                    exec(compile(ast.Module([stmt], []), "<case>", "exec"), local)
            if isinstance(stmt, ast.Assert) and not negative:
                values += _asserted_values(stmt.test, local)
        for text in texts:
            if not isinstance(text, str) or not text:
                continue
            wanted = tuple(v for v in values if v in text) or (text,)
            yield Case("pii-core", kind, entities, text, not negative,
                       wanted if not negative else ())


def _eval(node: ast.expr, scope: dict[str, Any]) -> object:
    try:
        return eval(compile(ast.Expression(node), "<case>", "eval"), scope)
    except Exception:
        return None


def _asserted_values(test: ast.expr, scope: dict[str, Any]) -> list[str]:
    """Values a test asserts were found: ``m.value == X`` or ``[..] == [X, Y]``."""
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return []
    left = ast.unparse(test.left)
    if ".value" not in left:
        return []
    right = _eval(test.comparators[0], scope)
    if isinstance(right, str):
        return [right]
    if isinstance(right, list):
        return [v for v in right if isinstance(v, str)]
    return []


# scoring ----------------------------------------------------------------------------------

def supported(entity: str | None) -> frozenset[str]:
    """``{entity}`` when some Veil recognizer finds it, else empty (not scored)."""
    return frozenset({entity} if entity in default_registry().entities() else ())


def accepted(entities: frozenset[str]) -> set[str]:
    out = set(entities)
    for e in entities:
        out |= EQUIVALENTS.get(e, set())
        if e not in NOT_IDENTIFIERS:
            out.add(GENERIC_ID)
        if e.endswith("_PASSPORT"):
            out |= {x for x in default_registry().entities() if x.endswith("_PASSPORT")}
    return out


def fails_own_check(case: Case) -> bool:
    """A positive whose value fails the check its identifier's specification defines (the
    validator of every Veil recognizer of its entity rejects it): a placeholder such as
    "12345678901" for a Steuer-ID, which identifies nobody."""
    own = [r for r in default_registry()
           if isinstance(r, PatternRecognizer) and r.entity in case.entities]
    if not own or any(r.validator is None for r in own):
        return False  # some recognizer of the kind takes values unchecked
    checks = [validators.get(r.validator) for r in own if r.validator]
    return not any(_passes(c, v) for c in checks for v in case.values)


def _passes(check: validators.Validator, value: str) -> bool:
    try:
        return check(value)
    except Exception:
        return False


def judge(case: Case, spans: list[Span]) -> bool:
    """True when Veil did what the case expects."""
    if not case.positive:
        return not any(s.entity in case.entities for s in spans)
    ok = accepted(case.entities)
    for value in case.values:
        start = case.text.find(value)
        end = start + len(value)
        if not any(s.entity in ok and s.start < end and s.end > start for s in spans):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--misses", action="store_true", help="list every miss")
    args = parser.parse_args()
    roots = {p: fetch(p, v) for p, v in PACKAGES.items()}
    cases = stdnum_cases(roots["python-stdnum"])
    unsupported: Counter[str] = Counter()
    for more, skipped in (datafog_cases(roots["datafog"]), pii_core_cases(roots["pii-core"]),
                          validators_cases(roots["validators"])):
        cases += more
        unsupported += skipped
    detector = TextDetector()
    found = detector.scan_many([c.text for c in cases])
    tally: dict[tuple[str, str, bool], list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    outside = Counter[str]()
    for case, spans in zip(cases, found, strict=True):
        ok = judge(case, spans)
        if case.positive and fails_own_check(case):
            outside[f"{case.source} {case.kind}"] += 1
            if not ok:
                misses.append((case, spans))
            continue
        for key in ((case.source, case.kind, case.positive), ("all", "all", case.positive),
                    (case.source, "all", case.positive)):
            tally[key][0] += ok
            tally[key][1] += 1
        if not ok:
            misses.append((case, spans))
    print(f"{len(cases)} cases from {', '.join(f'{p} {v}' for p, v in PACKAGES.items())}")
    print(f"{'source':14} {'kind':28} {'positives found':>16} {'negatives left':>16}")
    for source, kind in sorted({(s, k) for s, k, _ in tally}, key=lambda x: (x[0] == "all",
                                                                         x[0], x[1] != "all",
                                                                         x[1])):
        cells = []
        for positive in (True, False):
            hit, n = tally.get((source, kind, positive), [0, 0])
            cells.append(f"{hit}/{n} {hit / n:.3f}" if n else "-")
        print(f"{source:14} {kind:28} {cells[0]:>16} {cells[1]:>16}")
    flagged = Counter(s.source for case, spans in misses if not case.positive
                      for s in spans if s.entity in case.entities)
    if flagged:
        print("negatives flagged, by the recognizer that fired: "
              + ", ".join(f"{k} {n}" for k, n in flagged.most_common()))
    if outside:
        print("positives failing their identifier's own check digit or format, not scored: "
              + ", ".join(f"{k} {n}" for k, n in sorted(outside.items())))
    if unsupported:
        print("not scored (no Veil entity): "
              + ", ".join(f"{k} {n}" for k, n in sorted(unsupported.items())))
    if args.misses:
        print("\nmisses:")
        for case, spans in misses:
            got = ", ".join(f"{s.entity}({s.source}):{_short(case.text[s.start:s.end])!r}"
                            for s in spans) or "-"
            print(f"  {'POS' if case.positive else 'NEG'} {case.source} {case.kind}: "
                  f"{_short(case.text)!r} -> {got}")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


if __name__ == "__main__":
    main()
