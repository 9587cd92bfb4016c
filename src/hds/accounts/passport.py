"""The HDS passport: the printed sheet a patient or professional receives at registration.

The passport carries the account's activation code. The code activates the account and stays the
recovery key when the password is forgotten (docs/security.md, Keys and wraps). The server never
stores it
and never e-mails it, so this module only ever holds it in memory: the PDF is built in a ``BytesIO``
and returned as bytes, and the code appears in the page content only, never in the PDF metadata.

The page (A4 portrait) shows a header, the account details (e-mail, holder, issuer, date of issue),
a QR code that encodes the activation URL exactly as given, the code in a framed box, short
instructions and a wallet-size card with the code below a cut line.

All visible text goes through ``gettext`` and so follows the caller's active language
(``translation.override(lang)``). Fonts: DejaVu Sans (embedded, covers Latin Extended, Greek and
Cyrillic, so names such as "Łukasz" or "Şahin" print correctly) when Debian's ``fonts-dejavu-core``
is installed, otherwise the built-in Helvetica/Courier, which cover Latin-1 (German umlauts and ß);
other characters then print as boxes.
"""

from __future__ import annotations

import datetime
import functools
import re
from io import BytesIO
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

import segno  # segno ships no type hints
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib.colors import HexColor, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import registerFont, stringWidth
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

__all__ = ["CODE_LENGTH", "format_activation_code", "render_passport_pdf"]

#: Length of an activation code in Crockford base32 characters (80 bits, docs/security.md, Keys and
#: wraps).
CODE_LENGTH = 16
_CODE_GROUP = 4
_CROCKFORD_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]+")

PDF_TITLE = "HDS Passport"

# Layout
_PAGE_W, _PAGE_H = A4
_MARGIN = 18 * mm
_CONTENT_W = _PAGE_W - 2 * _MARGIN
_QR_SIDE = 42 * mm  # the symbol itself, without the quiet zone
_QR_QUIET_MODULES = 4
_CARD_W, _CARD_H = 85.6 * mm, 53.98 * mm  # ISO/IEC 7810 ID-1, like a bank card

# Colours
_ACCENT = HexColor("#1F4E79")
_INK = HexColor("#1A1A1A")
_MUTED = HexColor("#5A6470")
_TINT = HexColor("#EEF3F8")

# Fonts
_DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core
_DEJAVU_FILES = {
    "HDS-Sans": "DejaVuSans.ttf",
    "HDS-Sans-Bold": "DejaVuSans-Bold.ttf",
    "HDS-Mono-Bold": "DejaVuSansMono-Bold.ttf",
}
_SYMBOLS = "ZapfDingbats"  # built in
_SCISSORS = "\u2702"  # ZapfDingbats a2


class _Fonts(NamedTuple):
    sans: str
    sans_bold: str
    mono_bold: str


_BUILTIN_FONTS = _Fonts(sans="Helvetica", sans_bold="Helvetica-Bold", mono_bold="Courier-Bold")


@functools.cache
def _fonts() -> _Fonts:
    """DejaVu (embedded subsets) if installed, else the built-in Latin-1 PDF fonts."""
    paths = {name: _DEJAVU_DIR / file for name, file in _DEJAVU_FILES.items()}
    if not all(path.is_file() for path in paths.values()):
        return _BUILTIN_FONTS
    try:
        for name, path in paths.items():
            registerFont(TTFont(name, str(path)))
    except (TTFError, OSError):
        return _BUILTIN_FONTS
    return _Fonts(sans="HDS-Sans", sans_bold="HDS-Sans-Bold", mono_bold="HDS-Mono-Bold")


def format_activation_code(activation_code: str) -> str:
    """Return the code as groups of four separated by hyphens (``ABCD-EFGH-JKMN-PQRS``).

    Raises ``ValueError`` (without echoing the secret) unless the code is exactly
    ``CODE_LENGTH`` Crockford base32 characters; case and surrounding blanks are ignored.
    """
    code = activation_code.strip().upper()
    if len(code) != CODE_LENGTH or not _CROCKFORD_RE.fullmatch(code):
        msg = f"activation code must be {CODE_LENGTH} Crockford base32 characters"
        raise ValueError(msg)
    return "-".join(code[i : i + _CODE_GROUP] for i in range(0, CODE_LENGTH, _CODE_GROUP))


def _qr_modules(data: str) -> list[list[bool]]:
    """Typed wrapper around segno: the QR symbol for ``data`` (error correction M, no border)."""
    qr = segno.make(data, error="m", micro=False, boost_error=False)
    return [[bool(module) for module in row] for row in qr.matrix]


def _draw_qr(canvas: Canvas, modules: list[list[bool]], x: float, y: float, side: float) -> None:
    """Draw the QR symbol as vector rectangles; (x, y) is the lower-left corner of the symbol.

    Runs of dark modules in a row are merged into one rectangle so no hairlines appear between
    modules when the page is rasterised or printed.
    """
    count = len(modules)
    size = side / count
    quiet = _QR_QUIET_MODULES * size
    canvas.saveState()
    canvas.setFillColor(white)
    canvas.rect(x - quiet, y - quiet, side + 2 * quiet, side + 2 * quiet, stroke=0, fill=1)
    canvas.setFillColor(black)
    for row_index, row in enumerate(modules):
        row_y = y + side - (row_index + 1) * size
        col = 0
        while col < count:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < count and row[col]:
                col += 1
            canvas.rect(x + start * size, row_y, (col - start) * size, size, stroke=0, fill=1)
    canvas.restoreState()


def _fit_size(text: str, font: str, size: float, *, min_size: float, width: float) -> float:
    """The largest font size from ``size`` down to ``min_size`` at which ``text`` fits ``width``."""
    while size > min_size and stringWidth(text, font, size) > width:
        size -= 0.5
    return max(size, min_size)


def _set_font_to_fit(
    canvas: Canvas, text: str, font: str, size: float, *, min_size: float, width: float
) -> None:
    """Select ``font`` at the largest size (at most ``size``) at which ``text`` fits ``width``."""
    canvas.setFont(font, _fit_size(text, font, size, min_size=min_size, width=width))


def _split_to_width(
    text: str, font: str, size: float, width: float, *, email: bool = False
) -> list[str]:
    """Break ``text`` into lines no wider than ``width``.

    A name breaks after a blank or hyphen, an e-mail address before its "@" or after a dot (never
    at a hyphen, which a reader would take for a hyphenation), provided the break point lies in
    the second half of the line; otherwise the line breaks between any two characters.
    """
    break_after, break_before = (".", "@") if email else (" -", "")
    lines: list[str] = []
    rest = text.strip()
    while rest:
        end = len(rest)
        while end > 1 and stringWidth(rest[:end], font, size) > width:
            end -= 1
        if end < len(rest):
            best = max(
                [rest.rfind(char, 0, end) + 1 for char in break_after]
                + [rest.rfind(char, 1, end) for char in break_before]
            )
            if best > end // 2:
                end = best
        lines.append(rest[:end].rstrip())
        rest = rest[end:].lstrip()
    return lines


def _draw_fitted(
    canvas: Canvas,
    text: str,
    *,
    x: float,
    y: float,
    width: float,
    font: str,
    size: float,
    min_size: float,
    max_lines: int = 2,
    email: bool = False,
) -> float:
    """Draw ``text`` at baseline ``y``, shrinking, then wrapping it to fit ``width``.

    Returns the baseline of the last line drawn.
    """
    size = _fit_size(text, font, size, min_size=min_size, width=width)
    lines = _split_to_width(text, font, size, width, email=email)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "\u2026"
    canvas.setFont(font, size)
    for index, line in enumerate(lines):
        if index:
            y -= size * 1.2
        canvas.drawString(x, y, line)
    return y


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped, so names and translations cannot inject markup)."""
    return Paragraph(escape(text), style)


def _flow_height(paragraphs: list[Paragraph], width: float) -> float:
    """The height that ``_draw_flow`` will use for ``paragraphs``."""
    total = 0.0
    for paragraph in paragraphs:
        _width, height = paragraph.wrap(width, _PAGE_H)
        total += paragraph.style.spaceBefore + height + paragraph.style.spaceAfter
    return total


def _draw_flow(
    canvas: Canvas, paragraphs: list[Paragraph], *, x: float, top: float, width: float
) -> None:
    """Draw paragraphs top-down from ``top``."""
    y = top
    for paragraph in paragraphs:
        _width, height = paragraph.wrap(width, _PAGE_H)
        y -= paragraph.style.spaceBefore + height
        paragraph.drawOn(canvas, x, y)
        y -= paragraph.style.spaceAfter


def _styles(size: float = 9.5) -> dict[str, ParagraphStyle]:
    """Paragraph styles for body text of ``size`` points (headings scale along)."""
    fonts = _fonts()
    body = ParagraphStyle(
        "body",
        fontName=fonts.sans,
        fontSize=size,
        leading=size * 1.4,
        textColor=_INK,
        spaceAfter=size * 0.3,
    )
    return {
        "heading": ParagraphStyle(
            "heading",
            fontName=fonts.sans_bold,
            fontSize=size + 1.5,
            leading=(size + 1.5) * 1.3,
            textColor=_ACCENT,
            spaceBefore=size * 1.1,
            spaceAfter=size * 0.35,
        ),
        "body": body,
        "step": ParagraphStyle(
            "step",
            parent=body,
            leftIndent=size * 1.5,
            bulletIndent=0,
            bulletFontName=fonts.sans,
            bulletFontSize=size,
        ),
        "small": ParagraphStyle(
            "small",
            fontName=fonts.sans,
            fontSize=size - 1,
            leading=(size - 1) * 1.35,
            textColor=_MUTED,
        ),
    }


def _draw_header(canvas: Canvas, top: float) -> float:
    """Logo mark, title and subtitle; returns the y of the rule below them."""
    fonts = _fonts()
    mark_w, mark_h = 18 * mm, 13 * mm
    canvas.setFillColor(_ACCENT)
    canvas.roundRect(_MARGIN, top - mark_h, mark_w, mark_h, 2 * mm, stroke=0, fill=1)
    canvas.setFillColor(white)
    canvas.setFont(fonts.sans_bold, 15)
    canvas.drawCentredString(_MARGIN + mark_w / 2, top - mark_h + 4.6 * mm, "HDS")

    text_x = _MARGIN + mark_w + 5 * mm
    canvas.setFillColor(_INK)
    title = _("Passport")
    _set_font_to_fit(canvas, title, fonts.sans_bold, 22, min_size=14, width=_CONTENT_W - mark_w)
    canvas.drawString(text_x, top - 7.2 * mm, title)
    canvas.setFillColor(_MUTED)
    subtitle = _("Your personal key to your encrypted medical images.")
    _set_font_to_fit(canvas, subtitle, fonts.sans, 10, min_size=7, width=_CONTENT_W - mark_w)
    canvas.drawString(text_x, top - mark_h + 0.4 * mm, subtitle)

    rule_y = top - mark_h - 5 * mm
    canvas.setStrokeColor(_ACCENT)
    canvas.setLineWidth(1.2)
    canvas.line(_MARGIN, rule_y, _PAGE_W - _MARGIN, rule_y)
    return rule_y


def _draw_details(
    canvas: Canvas, rows: list[tuple[str, str, bool]], *, x: float, top: float, width: float
) -> float:
    """Label/value pairs, one under the other; a row is (label, value, value is an e-mail).

    Returns the y below the last row.
    """
    fonts = _fonts()
    y = top
    for label, value, email in rows:
        y -= 8
        canvas.setFillColor(_MUTED)
        label_text = label.upper()
        _set_font_to_fit(canvas, label_text, fonts.sans, 8, min_size=6, width=width)
        canvas.drawString(x, y, label_text)
        y -= 15
        canvas.setFillColor(_INK)
        y = _draw_fitted(
            canvas,
            value,
            x=x,
            y=y,
            width=width,
            font=fonts.sans_bold,
            size=12.5,
            min_size=8.5,
            email=email,
        )
        y -= 11
    return y


def _draw_code_box(canvas: Canvas, code: str, *, top: float) -> float:
    """The framed activation code; returns the y of the box's bottom edge."""
    fonts = _fonts()
    height = 34 * mm
    bottom = top - height
    canvas.saveState()
    canvas.setFillColor(_TINT)
    canvas.setStrokeColor(_ACCENT)
    canvas.setLineWidth(2)
    canvas.roundRect(_MARGIN, bottom, _CONTENT_W, height, 3 * mm, stroke=1, fill=1)

    centre = _PAGE_W / 2
    canvas.setFillColor(_ACCENT)
    label = _("Your activation code")
    _set_font_to_fit(canvas, label, fonts.sans_bold, 11, min_size=7, width=_CONTENT_W - 10 * mm)
    canvas.drawCentredString(centre, top - 8 * mm, label)

    canvas.setFillColor(_INK)
    _set_font_to_fit(canvas, code, fonts.mono_bold, 34, min_size=18, width=_CONTENT_W - 10 * mm)
    canvas.drawCentredString(centre, top - 21 * mm, code)

    canvas.setFillColor(_MUTED)
    hint = _("The code never contains the letters I, L, O or U.")
    _set_font_to_fit(canvas, hint, fonts.sans, 8.5, min_size=6, width=_CONTENT_W - 10 * mm)
    canvas.drawCentredString(centre, bottom + 4.5 * mm, hint)
    canvas.restoreState()
    return bottom


def _instruction_columns(
    styles: dict[str, ParagraphStyle], activate_at: str
) -> tuple[list[Paragraph], list[Paragraph]]:
    """How to activate and recover (left), how to keep the passport (right)."""
    heading, body, step, small = styles["heading"], styles["body"], styles["step"], styles["small"]
    steps = [
        _("Open the link in your activation e-mail, or scan the QR code with your phone."),
        _("Enter the activation code from this passport."),
        _("Choose your personal password."),
    ]
    left = [
        _paragraph(_("Activate your account"), heading),
        *(
            Paragraph(escape(text), step, bulletText=f"{number}.")
            for number, text in enumerate(steps, start=1)
        ),
        _paragraph(_("Activation page: %(url)s") % {"url": activate_at}, small),
        _paragraph(_("Forgot your password?"), heading),
        _paragraph(
            _(
                "Use this activation code to set a new password. "
                "Your medical data is kept. You also need access to your e-mail account."
            ),
            body,
        ),
    ]
    right = [
        _paragraph(_("Keep this passport safe"), heading),
        _paragraph(
            _("Store this passport in a safe place, for example with your important documents."),
            body,
        ),
        _paragraph(
            _(
                "Anyone who has access to your e-mail account and this passport "
                "can take over your account. Never share the code or a photo of this page."
            ),
            body,
        ),
        _paragraph(
            _(
                "We do not store your activation code and never send it by e-mail. "
                "We cannot send it to you again."
            ),
            body,
        ),
        _paragraph(
            _(
                "If you lose both your password and this passport, your account can only be "
                "reset. All data in it is then lost."
            ),
            body,
        ),
    ]
    return left, right


def _draw_instructions(canvas: Canvas, *, top: float, bottom: float, activate_at: str) -> None:
    """Two columns of instructions between ``top`` and ``bottom``.

    The text shrinks (down to 7 pt) when a translation is too long for the space.
    """
    gap = 9 * mm
    column_w = (_CONTENT_W - gap) / 2
    size = 9.5
    while True:
        left, right = _instruction_columns(_styles(size), activate_at)
        height = max(_flow_height(left, column_w), _flow_height(right, column_w))
        if height <= top - bottom or size <= 7:
            break
        size -= 0.25
    _draw_flow(canvas, left, x=_MARGIN, top=top, width=column_w)
    _draw_flow(canvas, right, x=_MARGIN + column_w + gap, top=top, width=column_w)


def _draw_cut_line(canvas: Canvas, y: float) -> None:
    canvas.saveState()
    canvas.setStrokeColor(_MUTED)
    canvas.setLineWidth(0.6)
    canvas.setDash(4, 3)
    canvas.line(_MARGIN + 6 * mm, y, _PAGE_W - _MARGIN, y)
    canvas.restoreState()
    canvas.setFillColor(_MUTED)
    canvas.setFont(_SYMBOLS, 12)
    canvas.drawString(_MARGIN, y - 4, _SCISSORS)


def _draw_wallet_card(
    canvas: Canvas,
    *,
    x: float,
    y: float,
    code: str,
    email: str,
    holder_name: str | None,
    issued: str,
) -> None:
    """A bank-card-sized copy of the code, outlined with a dashed cut line."""
    fonts = _fonts()
    radius = 3 * mm
    pad = 4 * mm
    stripe_h = 10 * mm
    top = y + _CARD_H

    canvas.saveState()
    outline = canvas.beginPath()
    outline.roundRect(x, y, _CARD_W, _CARD_H, radius)
    canvas.clipPath(outline, stroke=0, fill=0)
    canvas.setFillColor(_ACCENT)
    canvas.rect(x, top - stripe_h, _CARD_W, stripe_h, stroke=0, fill=1)
    canvas.setFillColor(_TINT)
    canvas.rect(x, y, _CARD_W, _CARD_H - stripe_h, stroke=0, fill=1)
    canvas.restoreState()

    canvas.saveState()
    canvas.setStrokeColor(_MUTED)
    canvas.setLineWidth(0.6)
    canvas.setDash(4, 3)
    canvas.roundRect(x, y, _CARD_W, _CARD_H, radius, stroke=1, fill=0)
    canvas.restoreState()

    inner_w = _CARD_W - 2 * pad
    canvas.setFillColor(white)
    canvas.setFont(fonts.sans_bold, 11)
    canvas.drawString(x + pad, top - stripe_h + 3.3 * mm, "HDS")
    card_title = _("Activation code")
    _set_font_to_fit(canvas, card_title, fonts.sans, 9, min_size=6, width=inner_w - 14 * mm)
    canvas.drawRightString(x + _CARD_W - pad, top - stripe_h + 3.4 * mm, card_title)

    canvas.setFillColor(_INK)
    _set_font_to_fit(canvas, code, fonts.mono_bold, 17, min_size=10, width=inner_w)
    canvas.drawCentredString(x + _CARD_W / 2, top - stripe_h - 11 * mm, code)

    line_y = top - stripe_h - 20 * mm
    canvas.setFillColor(_MUTED)
    label = _("Account (e-mail)").upper()
    _set_font_to_fit(canvas, label, fonts.sans, 6.5, min_size=5, width=inner_w)
    canvas.drawString(x + pad, line_y, label)
    canvas.setFillColor(_INK)
    line_y = _draw_fitted(
        canvas,
        email,
        x=x + pad,
        y=line_y - 9,
        width=inner_w,
        font=fonts.sans_bold,
        size=9,
        min_size=6,
        email=True,
    )
    if holder_name:
        line_y = _draw_fitted(
            canvas,
            holder_name,
            x=x + pad,
            y=line_y - 11,
            width=inner_w,
            font=fonts.sans,
            size=8.5,
            min_size=6,
            max_lines=1,
        )
    canvas.setFillColor(_MUTED)
    issued_line = _("Issued on %(date)s") % {"date": issued}
    _set_font_to_fit(canvas, issued_line, fonts.sans, 7, min_size=5, width=inner_w)
    canvas.drawString(x + pad, y + 3.5 * mm, issued_line)


def render_passport_pdf(
    *,
    email: str,
    activation_code: str,
    activation_url: str,
    issued_on: datetime.date,
    holder_name: str | None = None,
    issuer: str | None = None,
) -> bytes:
    """Render the one-page A4 passport and return the PDF bytes.

    ``activation_code`` must be ``CODE_LENGTH`` Crockford base32 characters; it is printed as
    groups of four. ``activation_url`` is encoded unchanged in the QR code (the caller puts the
    code in its fragment, e.g. ``https://host/activate#ac=...``); the printed text shows the URL
    without query and fragment. Text is translated into the active language.

    Raises ``ValueError`` for a malformed code (the message never contains it) or an empty URL.
    """
    fonts = _fonts()
    code = format_activation_code(activation_code)
    if not activation_url:
        msg = "activation_url must not be empty"
        raise ValueError(msg)
    # Printed for those who type it in: without the query and fragment, which may carry the code.
    activate_at = urlunsplit(urlsplit(activation_url)._replace(query="", fragment=""))
    issued = date_format(issued_on, "DATE_FORMAT")

    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(PDF_TITLE)
    canvas.setCreator("HDS")
    canvas.setAuthor("HDS")

    rule_y = _draw_header(canvas, _PAGE_H - _MARGIN)

    # Account details (left) and the QR code (right).
    modules = _qr_modules(activation_url)
    quiet = _QR_QUIET_MODULES * _QR_SIDE / len(modules)
    qr_x = _PAGE_W - _MARGIN - _QR_SIDE
    qr_top = rule_y - 7 * mm
    _draw_qr(canvas, modules, qr_x, qr_top - _QR_SIDE, _QR_SIDE)
    canvas.setFillColor(_MUTED)
    scan = _("Scan to activate")
    _set_font_to_fit(canvas, scan, fonts.sans, 8.5, min_size=6, width=_QR_SIDE + 2 * quiet)
    canvas.drawCentredString(qr_x + _QR_SIDE / 2, qr_top - _QR_SIDE - 5 * mm, scan)

    rows = [(_("Account (e-mail)"), email, True)]
    if holder_name:
        rows.append((_("Holder"), holder_name, False))
    if issuer:
        rows.append((_("Issued by"), issuer, False))
    rows.append((_("Date of issue"), issued, False))
    details_w = qr_x - _MARGIN - 2 * quiet - 6 * mm
    details_bottom = _draw_details(canvas, rows, x=_MARGIN, top=rule_y - 2 * mm, width=details_w)

    box_top = min(qr_top - _QR_SIDE - 13 * mm, details_bottom - 3 * mm)
    box_bottom = _draw_code_box(canvas, code, top=box_top)

    # Wallet card below a cut line at the bottom of the page.
    card_y = _MARGIN
    cut_y = card_y + _CARD_H + 8 * mm
    _draw_instructions(
        canvas, top=box_bottom - 3 * mm, bottom=cut_y + 5 * mm, activate_at=activate_at
    )
    _draw_cut_line(canvas, cut_y)
    _draw_wallet_card(
        canvas,
        x=_MARGIN,
        y=card_y,
        code=code,
        email=email,
        holder_name=holder_name,
        issued=issued,
    )
    note_x = _MARGIN + _CARD_W + 9 * mm
    styles = _styles()
    _draw_flow(
        canvas,
        [
            _paragraph(_("Wallet card"), styles["heading"]),
            _paragraph(
                _("Cut along the dashed lines. The card carries the same activation code."),
                styles["body"],
            ),
            _paragraph(_("Keep it as safe as your bank card."), styles["body"]),
        ],
        x=note_x,
        top=card_y + _CARD_H + 3 * mm,
        width=_PAGE_W - _MARGIN - note_x,
    )

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
