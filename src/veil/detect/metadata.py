"""Which kinds of metadata an image carries. Veil drops them all when it writes;
this module only names them for the report (never their values)."""

from __future__ import annotations

from PIL import Image

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
_CAMERA_TAGS = {0x010F, 0x0110, 0xA431, 0xA432, 0xA433, 0xA434, 0xA435, 0xC614}  # make .. serials
_DATETIME_TAGS = {0x0132, 0x9003, 0x9004, 0x9010, 0x9011, 0x9012}
_MAKER_NOTE = 0x927C
_INFO_KINDS = {
    "xmp": "xmp", "XML:com.adobe.xmp": "xmp", "photoshop": "iptc", "iptc": "iptc",
    "comment": "comment", "exif": "exif",
}


def metadata_kinds(im: Image.Image) -> tuple[str, ...]:
    """Names of the metadata kinds present: exif.gps, exif.camera, xmp, png.text, ..."""
    found: set[str] = set()
    for key in im.info:
        if key in _INFO_KINDS:
            found.add(_INFO_KINDS[key])
    if im.format == "PNG" and any(k not in ("dpi", "gamma", "transparency", "icc_profile",
                                            "exif", "aspect", "srgb", "chromaticity")
                                  for k in im.info):
        found.add("png.text")
    if im.format == "TIFF" and 0x02BC in getattr(im, "tag_v2", {}):
        found.add("xmp")
    try:
        exif = im.getexif()
        if len(exif):
            found.add("exif")
        tags = set(exif) | set(exif.get_ifd(EXIF_IFD))
        if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
            found.add("exif.gps")
        if tags & _CAMERA_TAGS:
            found.add("exif.camera")
        if tags & _DATETIME_TAGS:
            found.add("exif.datetime")
        if _MAKER_NOTE in tags:
            found.add("exif.makernote")
    except Exception:  # malformed EXIF is still EXIF: it is dropped all the same
        found.add("exif")
    return tuple(sorted(found))
