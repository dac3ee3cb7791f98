"""The QR slip: a printable PNG with the dossier's deep link as a QR code, and under it the
dossier code and one line telling the citizen what to do with it; where the bot is on Zalo
too, a second line and the code to send there (Zalo links carry no payload)."""

from __future__ import annotations

import io
import unicodedata
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.image.pil import PilImage

WIDTH = 720  # about 6 cm at 300 dpi: prints sharp on an appointment slip
MARGIN = 40
QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
CODE_SIZE = 44
INSTRUCTION_SIZE = 30
MIN_SIZE = 14
PROBE = "ạờữđĐặễỹ"
# Fonts with Vietnamese diacritics, tried in order (Pillow's own font has none).
REGULAR = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
BOLD = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)

# Without FreeType, Pillow falls back to its small bitmap font.
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def slip_png(link: str, code: str, instruction: str,
             also: tuple[str, str] | None = None) -> bytes:
    """A PNG, WIDTH pixels wide: the QR code of `link`, the code, the instruction, and
    `also` = (another instruction, a code to type) when given."""
    qr = _qr_image(link, WIDTH - 2 * MARGIN)
    lines = [_fitted(code, BOLD, CODE_SIZE), _fitted(instruction, REGULAR, INSTRUCTION_SIZE)]
    if also is not None:
        lines += [_fitted(also[0], REGULAR, INSTRUCTION_SIZE),
                  _fitted(also[1], BOLD, INSTRUCTION_SIZE)]
    heights = [_height(font, text) for font, text in lines]
    gap = 16
    height = MARGIN // 2 + qr.height + sum(heights) + gap * (len(lines) - 1) + MARGIN
    slip = Image.new("L", (WIDTH, height), 255)
    slip.paste(qr, ((WIDTH - qr.width) // 2, MARGIN // 2))
    draw = ImageDraw.Draw(slip)
    y = MARGIN // 2 + qr.height
    for (font, text), line_height in zip(lines, heights, strict=True):
        _centered(draw, text, font, y)
        y += line_height + gap
    buffer = io.BytesIO()
    slip.save(buffer, format="PNG", optimize=True, dpi=(300, 300))
    return buffer.getvalue()


def _qr_image(link: str, target: int) -> Image.Image:
    """The largest whole-pixel modules that fit `target`, quiet zone included."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=QUIET_ZONE)
    code.add_data(link)
    code.make(fit=True)
    code.box_size = max(1, target // (code.modules_count + 2 * QUIET_ZONE))
    image: Image.Image = code.make_image(image_factory=PilImage).get_image()
    return image.convert("L")


def _fitted(text: str, candidates: tuple[str, ...], size: int) -> tuple[Font, str]:
    """The text and a font to draw it in, shrunk until it fits the width."""
    text = " ".join(text.split())
    while True:
        font, shown = _font(candidates, size), text
        if not covers(font, text):
            # Better a readable line without accents than a row of empty boxes.
            shown = strip_diacritics(text)
        if draw_width(font, shown) <= WIDTH - 2 * MARGIN or size <= MIN_SIZE:
            return font, shown
        size -= 2


@cache
def _font(candidates: tuple[str, ...], size: int) -> Font:
    for path in candidates:
        if Path(path).is_file():
            try:
                font = ImageFont.truetype(path, size)
            except OSError:
                continue
            if covers(font, PROBE):
                return font
    return ImageFont.load_default(size=size)


def covers(font: Font, text: str) -> bool:
    """True when the font has a glyph for every character (a missing one renders like a
    character no font has)."""
    missing = _glyph(font, "\U0010fffd")
    return all(_glyph(font, c) != missing for c in set(text) if not c.isspace())


def _glyph(font: Font, char: str) -> bytes:
    box = font.getbbox(char)
    size = (max(1, int(box[2] - box[0])), max(1, int(box[3] - box[1])))
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).text((-box[0], -box[1]), char, font=font, fill=255)
    return image.tobytes() + bytes(f"{image.size}", "ascii")


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def draw_width(font: Font, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])


def _height(font: Font, text: str) -> int:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return int(ascent + descent)
    box = font.getbbox(text)
    return int(box[3])


def _centered(draw: ImageDraw.ImageDraw, text: str, font: Font, y: int) -> None:
    draw.text(((WIDTH - draw_width(font, text)) // 2, y), text, font=font, fill=0)
