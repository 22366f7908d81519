"""Motion photos and Live Photo halves built the way phones write them, for the motion tests.

Clips are real H.264 files made with PyAV (tiny: 160×120, one second), generated once per
session and cached in memory; the stills are real JPEGs/HEICs from Pillow.
"""

from __future__ import annotations

import functools
import io
import struct
import tempfile
from pathlib import Path

from PIL import Image

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


@functools.cache
def clip(container: str = "mp4", content_id: str | None = None, shade: int = 0) -> bytes:
    """A one-second 160×120 H.264 clip; a MOV may carry Apple's content identifier."""
    import av

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip.{container}"
        options = {"movflags": "use_metadata_tags"} if content_id else {}
        out = av.open(str(path), "w", format=container, options=options)
        if content_id:
            out.metadata["com.apple.quicktime.content.identifier"] = content_id
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), (i * 20, shade, 200 - i * 10)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        out.close()
        return path.read_bytes()


def still_jpeg(colour: tuple[int, int, int] = (30, 120, 200), *, exif: bytes | None = None,
               size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, colour)
    # A mark so the thumb and hashes differ between stills of different colours.
    image.paste((255, 255, 255), (10, 10, 60, 40))
    image.save(buf, "JPEG", quality=85, **({"exif": exif} if exif else {}))
    return buf.getvalue()


def with_xmp(jpeg: bytes, xmp: str) -> bytes:
    """``jpeg`` with an XMP APP1 segment right after SOI."""
    body = XMP_HEADER + xmp.encode()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def microvideo_xmp(length: int) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
        f'GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1" GCamera:MicroVideoOffset="{length}" '
        'GCamera:MicroVideoPresentationTimestampUs="500000"/></rdf:RDF></x:xmpmeta>'
    )


def container_xmp(length: int, *, trailing: int = 0) -> str:
    """The Container directory form; ``trailing`` adds another item after the clip."""
    extra = (
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="GainMap" '
        f'Item:Length="{trailing}"/></rdf:li>' if trailing else ""
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
        'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
        'xmlns:Item="http://ns.google.com/photos/1.0/container/item/" '
        'GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1" GCamera:MotionPhotoPresentationTimestampUs="0">'
        '<Container:Directory><rdf:Seq>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary" '
        'Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto" '
        f'Item:Length="{length}" Item:Padding="0"/></rdf:li>{extra}'
        '</rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>'
    )


def google_motion_photo(form: str = "container", colour: tuple[int, int, int] = (30, 120, 200)) -> tuple[bytes, bytes]:
    """(file, the MP4 inside it) for a Google motion photo in the ``container`` or
    ``microvideo`` XMP form."""
    mp4 = clip("mp4", shade=colour[0] % 200)
    xmp = container_xmp(len(mp4)) if form == "container" else microvideo_xmp(len(mp4))
    return with_xmp(still_jpeg(colour), xmp) + mp4, mp4


def samsung_motion_photo(colour: tuple[int, int, int] = (200, 90, 40), *, sef: bool = True) -> tuple[bytes, bytes]:
    """(file, the MP4 inside it): the JPEG, `MotionPhoto_Data`, the MP4, then (as Samsung
    writes it) a small SEF directory that is not part of the clip."""
    mp4 = clip("mp4", shade=colour[1] % 200)
    trailer = b"MotionPhoto_Data" + mp4
    if sef:
        trailer += b"SEFH" + struct.pack("<II", 106, 1) + b"\x00" * 12 + b"SEFT"
    return still_jpeg(colour) + trailer, mp4


def apple_makernote(content_id: str, order: bytes = b"MM") -> bytes:
    """An Apple MakerNote ("Apple iOS\\0", version 1, byte order, IFD) with tag 0x0011."""
    fmt = ">" if order == b"MM" else "<"
    value = content_id.encode() + b"\x00"
    entries = [(0x0001, 9, 1, struct.pack(fmt + "I", 14)), (0x0011, 2, len(value), None)]
    ifd_size = 2 + 12 * len(entries) + 4
    value_offset = 14 + ifd_size  # offsets count from the start of the MakerNote
    ifd = struct.pack(fmt + "H", len(entries))
    for tag, kind, count, inline in entries:
        ifd += struct.pack(fmt + "HHI", tag, kind, count) + (inline if inline is not None else struct.pack(fmt + "I", value_offset))
    ifd += b"\x00\x00\x00\x00"
    return b"Apple iOS\x00" + b"\x00\x01" + order + ifd + value


def apple_exif(content_id: str, order: bytes = b"MM") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif.get_ifd(0x8769)[0x927C] = apple_makernote(content_id, order)
    return exif.tobytes()


def live_photo_pair(content_id: str, colour: tuple[int, int, int] = (60, 160, 90), *,
                    still: str = "jpeg") -> tuple[bytes, bytes]:
    """(still, MOV) of an Apple Live Photo sharing ``content_id``."""
    exif = apple_exif(content_id)
    if still == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        buf = io.BytesIO()
        Image.new("RGB", (320, 240), colour).save(buf, "HEIF", exif=exif, quality=60)
        picture = buf.getvalue()
    else:
        picture = still_jpeg(colour, exif=exif)
    return picture, clip("mov", content_id=content_id, shade=colour[2] % 200)
