"""Document parts that carry personal data outside the page's drawing, removed whole.

Each part removed is named in the report (``pdf.info``, ``pdf.xmp``, ...). The pages keep
their drawing; what goes is what a reader tool shows or runs beside it: metadata,
annotations (comments, links, form widgets), form fields and their values, attachments,
JavaScript and other automatic actions, bookmarks, the structure tree (its alternate
texts), page thumbnails (pictures of the unredacted page), alternate images, and the
content of hidden layers. Saving writes a fresh file from what is still referenced, so
earlier revisions and orphaned objects do not survive either.
"""

from __future__ import annotations

from collections.abc import Callable

import pikepdf
from pikepdf import Name

from veil.pdf.content import MARKED_TEXTS, hidden_groups, is_hidden, sanitize

_ROOT_PARTS = {
    "/Metadata": "pdf.xmp",
    "/AcroForm": "pdf.form-fields",
    "/OpenAction": "pdf.actions",
    "/AA": "pdf.actions",
    "/Outlines": "pdf.bookmarks",
    "/StructTreeRoot": "pdf.structure",
    "/OCProperties": "pdf.hidden-layers",
    "/PieceInfo": "pdf.private-data",
    "/SpiderInfo": "pdf.private-data",
    "/Threads": "pdf.private-data",
    "/Collection": "pdf.attachments",
    "/Perms": "pdf.private-data",
    "/URI": "pdf.private-data",
    "/AF": "pdf.attachments",
}
_NAME_PARTS = {
    "/EmbeddedFiles": "pdf.attachments",
    "/JavaScript": "pdf.javascript",
}
_PAGE_PARTS = {
    "/Annots": "pdf.annotations",
    "/AA": "pdf.actions",
    "/Metadata": "pdf.xmp",
    "/PieceInfo": "pdf.private-data",
    "/Thumb": "pdf.thumbnails",
    "/B": "pdf.private-data",
    "/AF": "pdf.attachments",
}
_XOBJECT_PARTS = {
    "/Metadata": "pdf.xmp",
    "/PieceInfo": "pdf.private-data",
    "/OPI": "pdf.private-data",
    "/Alternates": "pdf.alternate-images",
    "/Thumb": "pdf.thumbnails",
    "/OC": "pdf.hidden-layers",
    "/AF": "pdf.attachments",
}


def clean(pdf: pikepdf.Pdf) -> list[str]:
    """Remove every part listed above, in place; the names of those found, in order."""
    found: list[str] = []

    def note(part: str) -> None:
        if part not in found:
            found.append(part)

    hidden = hidden_groups(pdf)
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
        note("pdf.info")
    root = pdf.Root
    for key, part in _ROOT_PARTS.items():
        if key in root:
            del root[key]
            note(part)
    if "/MarkInfo" in root:
        del root["/MarkInfo"]
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key in list(names.keys()):
            if key != "/Dests":
                del names[key]
                note(_NAME_PARTS.get(key, "pdf.private-data"))
    for page in pdf.pages:
        if any(key in page.obj for key in _PAGE_PARTS):
            for key, part in _PAGE_PARTS.items():
                if key in page.obj:
                    if key == "/Annots" and not len(page.obj[key]):
                        del page.obj[key]
                        continue
                    del page.obj[key]
                    note(part)
        if "/StructParents" in page.obj:
            del page.obj["/StructParents"]
        page.externalize_inline_images(min_size=0, shallow=False)
        new = sanitize(pdf, page, page.obj.get("/Resources"), hidden)
        if new is not None:
            page.obj.Contents = pdf.make_stream(new)
            note("pdf.hidden-layers" if hidden else "pdf.marked-content-text")
        _clean_resources(pdf, page.obj.get("/Resources"), hidden, note, set())
    return found


def _clean_resources(pdf: pikepdf.Pdf, resources: object, hidden: set[tuple[int, int]],
                     note: Callable[[str], None], seen: set[tuple[int, int]]) -> None:
    """Strip XObjects of metadata and alternates, named marked-content properties of their
    texts, and sanitize forms' content, recursively."""
    if not isinstance(resources, pikepdf.Dictionary):
        return
    properties = resources.get("/Properties")
    if isinstance(properties, pikepdf.Dictionary):
        for prop in properties.values():
            if isinstance(prop, pikepdf.Dictionary):
                for key in MARKED_TEXTS:
                    if key in prop:
                        del prop[key]
                        note("pdf.marked-content-text")
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    for name in list(xobjects.keys()):
        xobj = xobjects[name]
        if not isinstance(xobj, pikepdf.Stream):
            continue
        if xobj.is_indirect:
            if xobj.objgen in seen:
                continue
            seen.add(xobj.objgen)
        if is_hidden(xobj.get("/OC"), hidden):
            del xobjects[name]
            note("pdf.hidden-layers")
            continue
        for key, part in _XOBJECT_PARTS.items():
            if key in xobj:
                del xobj[key]
                note(part)
        if xobj.get("/Subtype") == Name.Form:
            form_resources = xobj.get("/Resources", resources)
            new = sanitize(pdf, xobj, form_resources, hidden)
            if new is not None:
                xobj.write(new)
                note("pdf.hidden-layers" if hidden else "pdf.marked-content-text")
            _clean_resources(pdf, form_resources, hidden, note, seen)
        elif "/SMask" in xobj and isinstance(xobj.SMask, pikepdf.Stream):
            for key in ("/Metadata", "/PieceInfo"):
                if key in xobj.SMask:
                    del xobj.SMask[key]
