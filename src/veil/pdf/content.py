"""Content streams, read and rewritten with pikepdf.

``Editor`` follows a page's graphics and text state (CTM, text matrix, font, spacing)
through its content stream and the form XObjects it draws, computes where every glyph of
every text-showing operator lands, and rewrites those operators without the glyphs whose
centre falls in a region to hide: their advance is kept as a ``TJ`` displacement, so the
text after them stays where it was and stays selectable. It also records where each image
XObject is drawn, so the image's own pixels under a region can be overwritten.

``sanitize`` drops what a page shows no one but a reader tool: content in optional-content
groups that are off (hidden layers) and the ``/ActualText``, ``/Alt`` and ``/E`` texts of
marked content, which readers extract in place of the glyphs they cover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Name, Operator

from veil.pdf.fonts import Font, PdfError, load_font

Matrix = tuple[float, float, float, float, float, float]
Instruction = (pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage
               | tuple[list[pikepdf.Object], pikepdf.Operator])
"""An instruction as parsed, or a new one (operands, operator) to unparse."""
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
MAX_DEPTH = 12
"""Form XObjects nested deeper than this are refused (a loop or a hostile file)."""


def mul(m: Matrix, n: Matrix) -> Matrix:
    """``m`` then ``n`` (PDF's row-vector convention: [x y 1] x m x n)."""
    a, b, c, d, e, f = m
    aa, bb, cc, dd, ee, ff = n
    return (a * aa + b * cc, a * bb + b * dd, c * aa + d * cc, c * bb + d * dd,
            e * aa + f * cc + ee, e * bb + f * dd + ff)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])


def invert(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if abs(det) < 1e-12:
        raise PdfError("a degenerate transformation matrix; cannot redact this page")
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def matrix_of(operands: Iterable[object]) -> Matrix:
    values = [float(v) for v in operands]  # type: ignore[arg-type]
    if len(values) != 6:
        raise PdfError("a matrix without six numbers; cannot redact this page")
    return (values[0], values[1], values[2], values[3], values[4], values[5])


Inside = Callable[[float, float], bool]
"""Whether a point of the page's user space lies in a region to hide."""


@dataclass(slots=True)
class _TextState:
    char_space: float = 0.0
    word_space: float = 0.0
    scale: float = 1.0
    leading: float = 0.0
    font: Font | None = None
    size: float = 0.0
    rise: float = 0.0


@dataclass(frozen=True, slots=True)
class Placement:
    """An image XObject drawn on the page: ``ctm`` maps its unit square to user space."""

    image: pikepdf.Stream
    ctm: Matrix


@dataclass(slots=True)
class Edits:
    """What editing one page did."""

    removed: list[tuple[float, float]] = field(default_factory=list)
    """User-space centres of the glyphs removed."""
    placements: list[Placement] = field(default_factory=list)
    paths: int = 0
    """Paths dropped because they lie in a region (text drawn as outlines)."""


class Editor:
    """Removes glyphs whose centre lies ``inside`` a region, from a page and its forms."""

    def __init__(self, pdf: pikepdf.Pdf, inside: Inside) -> None:
        self._pdf = pdf
        self._inside = inside
        self._fonts: dict[tuple[int, int], Font] = {}
        self._copies = 0
        self.edits = Edits()

    def edit_page(self, page: pikepdf.Page) -> bytes | None:
        """The page's new content (None if nothing changed); images are only recorded."""
        resources = page.obj.get("/Resources")
        instructions = pikepdf.parse_content_stream(page)
        out, changed = self._edit(instructions, resources, IDENTITY, 0)
        return pikepdf.unparse_content_stream(out) if changed else None

    # -- the interpreter -----------------------------------------------------------------

    def _edit(self, instructions: Sequence[pikepdf.ContentStreamInstruction |
                                           pikepdf.ContentStreamInlineImage],
              resources: pikepdf.Object | None, ctm: Matrix, depth: int
              ) -> tuple[list[Instruction], bool]:
        if depth > MAX_DEPTH:
            raise PdfError("form XObjects nested too deeply; cannot redact this page")
        stack: list[tuple[Matrix, _TextState]] = []
        ts = _TextState()
        tm = tlm = IDENTITY
        out: list[Instruction] = []
        changed = False
        path: list[Instruction] = []  # a path under construction, held until it is painted
        points: list[tuple[float, float]] = []
        clipping = False
        for inst in instructions:
            if isinstance(inst, pikepdf.ContentStreamInlineImage):
                out.extend(path)
                path, points, clipping = [], [], False
                out.append(inst)
                continue
            op = str(inst.operator)
            ops = inst.operands
            if op in _PATH_BUILD or (op in ("W", "W*") and path):
                path.append(inst)
                clipping = clipping or op in ("W", "W*")
                points.extend(apply(ctm, x, y) for x, y in _path_points(op, ops))
                continue
            if op in _PATH_PAINT and path and not clipping and op != "n" and \
                    self._covered(points):
                self.edits.paths += 1
                path, points, clipping = [], [], False
                changed = True
                continue  # the outline (vector text, a drawn signature) is dropped whole
            out.extend(path)
            path, points, clipping = [], [], False
            replacement: list[Instruction] | None = None
            if op == "q":
                stack.append((ctm, _copy(ts)))
            elif op == "Q":
                if stack:
                    ctm, ts = stack.pop()
            elif op == "cm":
                ctm = mul(matrix_of(ops), ctm)
            elif op == "BT":
                tm = tlm = IDENTITY
            elif op == "Tc":
                ts.char_space = _f(ops[0])
            elif op == "Tw":
                ts.word_space = _f(ops[0])
            elif op == "Tz":
                ts.scale = _f(ops[0]) / 100
            elif op == "TL":
                ts.leading = _f(ops[0])
            elif op == "Ts":
                ts.rise = _f(ops[0])
            elif op == "Tf":
                ts.font = self._font(resources, ops[0])
                ts.size = _f(ops[1])
            elif op in ("Td", "TD"):
                if op == "TD":
                    ts.leading = -_f(ops[1])
                tlm = mul((1, 0, 0, 1, _f(ops[0]), _f(ops[1])), tlm)
                tm = tlm
            elif op == "Tm":
                tm = tlm = matrix_of(ops)
            elif op == "T*":
                tlm = mul((1, 0, 0, 1, 0, -ts.leading), tlm)
                tm = tlm
            elif op in ("Tj", "TJ", "'", '"'):
                prefix: list[Instruction] = []
                if op == '"':
                    ts.word_space, ts.char_space = _f(ops[0]), _f(ops[1])
                    prefix = [([ops[0]], Operator("Tw")), ([ops[1]], Operator("Tc"))]
                if op in ("'", '"'):
                    tlm = mul((1, 0, 0, 1, 0, -ts.leading), tlm)
                    tm = tlm
                    prefix.append(([], Operator("T*")))
                items = list(ops[0]) if op == "TJ" else [ops[-1]]
                tm, shown = self._show(items, ts, tm, ctm)
                if shown is not None:
                    replacement = [*prefix, ([pikepdf.Array(shown)], Operator("TJ"))]
            elif op == "Do":
                replacement = self._do(resources, ops[0], ctm, depth)
            if replacement is None:
                out.append(inst)
            else:
                out.extend(replacement)
                changed = True
        out.extend(path)
        return out, changed

    def _covered(self, points: Sequence[tuple[float, float]]) -> bool:
        """Whether a path's bounding box lies in a region: its centre and its corners
        (pulled in by a tenth, as a region's rows need not be one rectangle)."""
        if not points:
            return False
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
        dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
        probes = ((x1 + dx, y1 + dy), (x2 - dx, y1 + dy), (x1 + dx, y2 - dy),
                  (x2 - dx, y2 - dy), ((x1 + x2) / 2, (y1 + y2) / 2))
        return all(self._inside(x, y) for x, y in probes)

    def _font(self, resources: pikepdf.Object | None, name: object) -> Font:
        fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
        font = fonts.get(str(name)) if isinstance(fonts, pikepdf.Dictionary) else None
        if not isinstance(font, pikepdf.Dictionary):
            raise PdfError("text uses a font the page does not define; cannot redact it")
        key = font.objgen if font.is_indirect else (id(font), 0)
        if key not in self._fonts:
            self._fonts[key] = load_font(font)
        return self._fonts[key]

    def _show(self, items: Sequence[object], ts: _TextState, tm: Matrix, ctm: Matrix
              ) -> tuple[Matrix, list[pikepdf.String | float] | None]:
        """Advance the text matrix over ``items``; the TJ array without the glyphs to hide,
        or None when every glyph stays."""
        font = ts.font
        if font is None:
            raise PdfError("text shown before a font is set; cannot redact this page")
        out: list[pikepdf.String | float] = []
        kept = bytearray()
        removed_any = False
        pending = 0.0
        for item in items:
            if not isinstance(item, pikepdf.String | bytes):
                shift = _f(item)
                tm = mul((1, 0, 0, 1, -shift / 1000 * ts.size * ts.scale, 0), tm)
                pending += shift
                continue
            data = bytes(item)
            for code, n in font.split(data):
                w0 = font.width(code)
                spacing = ts.char_space + (ts.word_space if n == 1 and code == 32 else 0.0)
                advance = (w0 * ts.size + spacing) * ts.scale
                trm = mul((ts.size * ts.scale, 0, 0, ts.size, 0, ts.rise), mul(tm, ctm))
                cx, cy = apply(trm, w0 / 2,
                               (font.ascent + font.descent) / 2)
                if self._inside(cx, cy):
                    if ts.size == 0:
                        raise PdfError("text of size 0 under a region; cannot redact it")
                    removed_any = True
                    self.edits.removed.append((cx, cy))
                    if kept:
                        out.append(pikepdf.String(bytes(kept)))
                        kept = bytearray()
                    pending -= advance * 1000 / (ts.size * ts.scale or 1.0)
                else:
                    if pending:
                        if kept:
                            out.append(pikepdf.String(bytes(kept)))
                            kept = bytearray()
                        out.append(pending)
                        pending = 0.0
                    kept += _code_bytes(code, n)
                tm = mul((1, 0, 0, 1, advance, 0), tm)
        if kept:
            out.append(pikepdf.String(bytes(kept)))
        if pending:
            out.append(pending)
        return tm, out if removed_any else None

    def _do(self, resources: pikepdf.Object | None, name: object, ctm: Matrix,
            depth: int) -> list[Instruction] | None:
        xobjects = resources.get("/XObject") if isinstance(resources,
                                                           pikepdf.Dictionary) else None
        xobj = xobjects.get(str(name)) if isinstance(xobjects, pikepdf.Dictionary) else None
        if not isinstance(xobj, pikepdf.Stream):
            return None
        subtype = xobj.get("/Subtype")
        if subtype == Name.Image:
            self.edits.placements.append(Placement(xobj, ctm))
            return None
        if subtype != Name.Form:
            return None
        form_ctm = mul(matrix_of(xobj.get("/Matrix", pikepdf.Array(list(IDENTITY)))), ctm)
        form_resources = xobj.get("/Resources", resources)
        instructions = pikepdf.parse_content_stream(xobj)
        out, changed = self._edit(instructions, form_resources, form_ctm, depth + 1)
        if not changed:
            return None
        copy = pikepdf.Stream(self._pdf, pikepdf.unparse_content_stream(out))
        for key, value in xobj.items():
            if key not in ("/Length", "/Filter", "/DecodeParms"):
                copy[key] = value
        if "/Resources" not in copy and resources is not None:
            copy.Resources = resources
        self._copies += 1
        new_name = Name(f"/VeilRedacted{self._copies}")
        assert xobjects is not None
        while new_name in xobjects:
            self._copies += 1
            new_name = Name(f"/VeilRedacted{self._copies}")
        xobjects[new_name] = self._pdf.make_indirect(copy)
        return [([new_name], Operator("Do"))]


_PATH_BUILD = frozenset({"m", "l", "c", "v", "y", "re", "h"})
_PATH_PAINT = frozenset({"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n"})


def _path_points(op: str, operands: Iterable[object]) -> list[tuple[float, float]]:
    """The points (control points included) a path operator adds, in its own space."""
    if op == "h":
        return []
    values = [_f(v) for v in operands]
    if op == "re" and len(values) == 4:
        x, y, w, h = values
        return [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    return list(zip(values[::2], values[1::2], strict=False))


def _code_bytes(code: int, n: int) -> bytes:
    return code.to_bytes(n, "big")


def _copy(ts: _TextState) -> _TextState:
    return _TextState(ts.char_space, ts.word_space, ts.scale, ts.leading, ts.font, ts.size,
                      ts.rise)


def _f(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PdfError("an operator with a non-numeric operand; cannot redact it") from None


# --- sanitize: hidden layers and marked-content texts ----------------------------------

MARKED_TEXTS = ("/ActualText", "/Alt", "/E")


def hidden_groups(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    """Optional-content groups that are off in the document's default configuration."""
    props = pdf.Root.get("/OCProperties")
    if not isinstance(props, pikepdf.Dictionary):
        return set()
    config = props.get("/D")
    groups = props.get("/OCGs", pikepdf.Array())
    if not isinstance(config, pikepdf.Dictionary):
        return set()
    everything = {g.objgen for g in groups if isinstance(g, pikepdf.Dictionary)}
    if config.get("/BaseState") == Name.OFF:
        on = {g.objgen for g in config.get("/ON", []) if isinstance(g, pikepdf.Dictionary)}
        return everything - on
    return {g.objgen for g in config.get("/OFF", []) if isinstance(g, pikepdf.Dictionary)}


def is_hidden(oc: object, hidden: set[tuple[int, int]]) -> bool:
    """Whether an optional-content group or membership dictionary is off."""
    if not isinstance(oc, pikepdf.Dictionary):
        return False
    if oc.get("/Type") == Name.OCMD:
        groups = oc.get("/OCGs")
        members = [groups] if isinstance(groups, pikepdf.Dictionary) else list(groups or [])
        states = [g.objgen not in hidden for g in members if isinstance(g, pikepdf.Dictionary)]
        if not states:
            return False
        policy = str(oc.get("/P", Name.AnyOn))
        visible = {"/AllOn": all(states), "/AnyOff": not all(states),
                   "/AllOff": not any(states)}.get(policy, any(states))
        return not visible
    return oc.objgen in hidden


def sanitize(pdf: pikepdf.Pdf, stream_owner: pikepdf.Page | pikepdf.Stream,
             resources: pikepdf.Object | None, hidden: set[tuple[int, int]]
             ) -> bytes | None:
    """Content without hidden layers or marked-content texts (None if nothing changed)."""
    props = resources.get("/Properties") if isinstance(resources, pikepdf.Dictionary) else None
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    out: list[Instruction] = []
    changed = False
    skipping = 0  # marked-content depth inside a hidden layer
    for inst in pikepdf.parse_content_stream(stream_owner):
        if isinstance(inst, pikepdf.ContentStreamInlineImage):
            if not skipping:
                out.append(inst)
            else:
                changed = True
            continue
        op = str(inst.operator)
        if skipping:
            changed = True
            if op in ("BMC", "BDC"):
                skipping += 1
            elif op == "EMC":
                skipping -= 1
            continue
        if op == "BDC" and len(inst.operands) == 2:
            tag, prop = inst.operands
            if tag == Name.OC:
                group = props.get(prop) if isinstance(props, pikepdf.Dictionary) and isinstance(
                    prop, pikepdf.Name) else prop
                if is_hidden(group, hidden):
                    skipping = 1
                    changed = True
                    continue
            if isinstance(prop, pikepdf.Dictionary) and any(k in prop for k in MARKED_TEXTS):
                clean = pikepdf.Dictionary({k: v for k, v in prop.items()
                                            if k not in MARKED_TEXTS})
                out.append(([tag, clean], Operator("BDC")))
                changed = True
                continue
        if op == "Do" and isinstance(xobjects, pikepdf.Dictionary):
            xobj = xobjects.get(str(inst.operands[0]))
            if isinstance(xobj, pikepdf.Stream) and is_hidden(xobj.get("/OC"), hidden):
                changed = True
                continue
        out.append(inst)
    return pikepdf.unparse_content_stream(out) if changed else None
