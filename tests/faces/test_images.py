"""Image decoding limits: only JPEG and PNG, within bytes and pixels, never a 500."""

from __future__ import annotations

import io
import os
import zlib

import pytest
from PIL import Image

from netid.faces import ImageInvalid
from netid.faces.service import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_image
from tests.faces.photos import photo


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def huge_png(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A grey PNG of ``width`` × ``height`` that compresses to a few kB; with ``rows`` only
    that many rows of pixel data follow the header (enough for a size check)."""
    raw = (b"\x00" + b"\x80" * width) * (height if rows is None else rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def assert_invalid(data: bytes) -> ImageInvalid:
    with pytest.raises(ImageInvalid) as info:
        decode_image(data)
    assert info.value.code == "invalid_image"
    return info.value


def test_png_and_jpeg_decode_to_rgb() -> None:
    pixels = decode_image(photo("astronaut.png"))
    assert pixels.shape == (512, 512, 3)
    assert str(pixels.dtype) == "uint8"
    group = decode_image(photo("group.jpg"))  # 1280 × 886, scaled to 1024 on the long side
    assert group.shape == (709, 1024, 3)


def test_other_modes_are_converted() -> None:
    grey = Image.new("L", (64, 48), 200)
    assert decode_image(encoded(grey, "PNG")).shape == (48, 64, 3)
    rgba = Image.new("RGBA", (64, 48), (1, 2, 3, 128))
    assert decode_image(encoded(rgba, "PNG")).shape == (48, 64, 3)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (80, 40), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    assert decode_image(encoded(image, "JPEG", exif=exif)).shape == (80, 40, 3)


def test_truncated_jpeg() -> None:
    jpeg = encoded(Image.open(io.BytesIO(photo("astronaut.png"))).convert("RGB"), "JPEG")
    assert_invalid(jpeg[: len(jpeg) // 2])


def test_truncated_png() -> None:
    png = photo("tom_hanks.png")
    assert_invalid(png[: len(png) - 2000])


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats(fmt: str) -> None:
    assert_invalid(encoded(Image.new("RGB", (32, 32), (5, 5, 5)), fmt))


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", os.urandom(4096), b"\xff\xd8\xff\xe0" + os.urandom(2000)],
    ids=["empty", "text", "noise", "jpeg-magic-then-noise"],
)
def test_garbage(data: bytes) -> None:
    assert_invalid(data)


def test_too_many_pixels_refused_before_decoding() -> None:
    data = huge_png(6000, 5000)  # 30 Mpx, a few kB on the wire
    assert len(data) < MAX_IMAGE_BYTES
    assert MAX_IMAGE_PIXELS < 6000 * 5000
    error = assert_invalid(data)
    assert "pixels" in error.message


def test_decompression_bomb_is_refused() -> None:
    assert_invalid(huge_png(20_000, 10_000, rows=1))  # 200 Mpx: Pillow's own bomb check


def test_too_many_bytes() -> None:
    noise = Image.frombytes("RGB", (1100, 1100), os.urandom(1100 * 1100 * 3))
    data = encoded(noise, "PNG")
    assert len(data) > MAX_IMAGE_BYTES
    error = assert_invalid(data)
    assert "bytes" in error.message
    assert decode_image(data, max_bytes=len(data)).shape == (1024, 1024, 3)
