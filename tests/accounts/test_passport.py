"""The printed passport: a real PDF whose text and QR code carry what the patient needs.

The checks go through poppler-utils (``pdftotext``, ``pdftoppm``, ``pdfinfo``, ``pdffonts``) and
zxing-cpp, the way a reader and a phone camera would see the page. No database is used.
"""

from __future__ import annotations

import datetime
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.conf import settings

if not settings.configured:  # lets the module run without the project's settings (-p no:django)
    settings.configure(USE_I18N=True)
    django.setup()

import zxingcpp
from django.utils import translation
from PIL import Image

from hds.accounts import passport
from hds.accounts.passport import CODE_LENGTH, format_activation_code, render_passport_pdf

CODE = "ABCDEFGHJKMNPQRS"
FORMATTED = "ABCD-EFGH-JKMN-PQRS"
URL = f"https://hds.example.org/activate#ac={CODE}"
EMAIL = "anna.mueller@example.org"
ISSUED = datetime.date(2026, 3, 5)
DPI = 150
POPPLER = ("pdftotext", "pdftoppm", "pdfinfo", "pdffonts")


@pytest.fixture
def poppler() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"poppler-utils not installed: {', '.join(missing)} missing; "
            "the passport PDF cannot be checked (apt-get install -y poppler-utils)"
        )


def render(
    *,
    email: str = EMAIL,
    activation_url: str = URL,
    holder_name: str | None = "Anna Müller",
    issuer: str | None = "Radiologie am Schloßpark",
) -> bytes:
    return render_passport_pdf(
        email=email,
        activation_code=CODE,
        activation_url=activation_url,
        issued_on=ISSUED,
        holder_name=holder_name,
        issuer=issuer,
    )


def run(*args: str | Path) -> str:
    return subprocess.run(
        [str(arg) for arg in args], check=True, capture_output=True, text=True
    ).stdout


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "passport.pdf"
    source.write_bytes(pdf)
    run("pdftotext", "-enc", "UTF-8", source, tmp_path / "passport.txt")
    return (tmp_path / "passport.txt").read_text(encoding="utf-8")


def pdf_info(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "passport.pdf"
    source.write_bytes(pdf)
    return run("pdfinfo", "-enc", "UTF-8", source)


def qr_codes(pdf: bytes, tmp_path: Path) -> list[zxingcpp.Barcode]:
    source = tmp_path / "passport.pdf"
    source.write_bytes(pdf)
    run("pdftoppm", "-r", str(DPI), "-png", "-f", "1", "-l", "1", "-singlefile", source,
        tmp_path / "page")  # fmt: skip
    with Image.open(tmp_path / "page.png") as image:
        return list(zxingcpp.read_barcodes(image))


@pytest.mark.usefixtures("poppler")
def test_passport_is_an_a4_pdf_with_code_and_account(tmp_path: Path) -> None:
    with translation.override("en"):
        pdf = render()

    assert pdf.startswith(b"%PDF-")
    info = pdf_info(pdf, tmp_path)
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)
    assert re.search(r"^Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info, re.MULTILINE)
    assert re.search(r"^Title:\s+HDS Passport$", info, re.MULTILINE)

    text = pdf_text(pdf, tmp_path)
    assert text.count(FORMATTED) == 2  # the framed box and the wallet card
    assert EMAIL in text
    assert "Anna Müller" in text
    assert "Radiologie am Schloßpark" in text
    assert "March 5, 2026" in text
    assert "https://hds.example.org/activate" in text
    # The URL fragment holds the code; only the QR code carries it.
    assert f"#ac={CODE}" not in text


@pytest.mark.usefixtures("poppler")
def test_code_is_not_in_the_pdf_metadata(tmp_path: Path) -> None:
    pdf = render()

    info = pdf_info(pdf, tmp_path)
    for secret in (CODE, FORMATTED, EMAIL):
        assert secret not in info
    # The page content is compressed, so the plain bytes hold neither the code nor the e-mail.
    for secret in (CODE, FORMATTED, EMAIL, "Anna"):
        assert secret.encode() not in pdf


@pytest.mark.usefixtures("poppler")
def test_qr_code_decodes_to_exactly_the_activation_url(tmp_path: Path) -> None:
    codes = qr_codes(render(), tmp_path)

    assert len(codes) == 1
    (qr,) = codes
    assert qr.format == zxingcpp.BarcodeFormat.QRCode
    assert qr.text == URL
    assert qr.ec_level == "M"
    # The symbol is at least 4 cm wide on paper.
    top_left, top_right = qr.position.top_left, qr.position.top_right
    width_px = math.hypot(top_right.x - top_left.x, top_right.y - top_left.y)
    assert width_px / DPI * 2.54 >= 4.0


@pytest.mark.usefixtures("poppler")
def test_renders_in_german(tmp_path: Path) -> None:
    with translation.override("de"):
        pdf = render()

    text = pdf_text(pdf, tmp_path)
    assert FORMATTED in text
    assert EMAIL in text
    assert "5. März 2026" in text  # Django's own German date format and month name
    assert [qr.text for qr in qr_codes(pdf, tmp_path)] == [URL]


@pytest.mark.usefixtures("poppler")
def test_optional_fields_and_long_values(tmp_path: Path) -> None:
    email = (
        "a.very.long.local-part.for-testing-the-layout@radiologie-gemeinschaftspraxis.example.de"
    )
    url = f"https://hds.example.org:8443/de/accounts/activate?next=%2F&x=1#ac={CODE}"
    with translation.override("en"):
        pdf = render(email=email, activation_url=url, holder_name=None, issuer=None)

    text = pdf_text(pdf, tmp_path)
    assert FORMATTED in text
    assert "HOLDER" not in text
    assert "ISSUED BY" not in text
    # Long addresses are shrunk or wrapped, never cut off in the details.
    assert email in text.replace("\n", "")
    assert "https://hds.example.org:8443/de/accounts/activate\n" in text
    assert "next=" not in text
    assert [qr.text for qr in qr_codes(pdf, tmp_path)] == [url]


@pytest.fixture
def builtin_fonts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Pretend fonts-dejavu-core is not installed."""
    monkeypatch.setattr(passport, "_DEJAVU_DIR", tmp_path / "no-fonts")
    passport._fonts.cache_clear()
    yield
    passport._fonts.cache_clear()


@pytest.mark.usefixtures("poppler", "builtin_fonts")
def test_without_dejavu_the_builtin_fonts_are_used(tmp_path: Path) -> None:
    pdf = render()

    source = tmp_path / "passport.pdf"
    source.write_bytes(pdf)
    fonts = run("pdffonts", source)
    assert "Helvetica-Bold" in fonts
    assert "Courier-Bold" in fonts
    text = pdf_text(pdf, tmp_path)
    assert FORMATTED in text
    assert "Anna Müller" in text
    assert [qr.text for qr in qr_codes(pdf, tmp_path)] == [URL]


@pytest.mark.usefixtures("poppler")
def test_names_beyond_latin1_print_with_dejavu(tmp_path: Path) -> None:
    if passport._fonts() == passport._BUILTIN_FONTS:
        pytest.skip("fonts-dejavu-core not installed: only Latin-1 names print")
    name = "Łukasz Şahin-Dragić"

    text = pdf_text(render(holder_name=name), tmp_path)

    assert text.count(name) == 2  # details and wallet card


@pytest.mark.usefixtures("poppler")
def test_long_translations_shrink_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(passport, "_", lambda text: f"{text} {text}")

    pdf = render()

    assert FORMATTED in pdf_text(pdf, tmp_path)
    assert [qr.text for qr in qr_codes(pdf, tmp_path)] == [URL]


def test_code_format() -> None:
    assert format_activation_code(CODE) == FORMATTED
    assert format_activation_code(f" {CODE.lower()} ") == FORMATTED
    assert len(FORMATTED.replace("-", "")) == CODE_LENGTH


@pytest.mark.parametrize(
    "code",
    [
        "",
        CODE[:-1],
        CODE + "T",
        "ABCDEFGHJKMNPQRU",  # U is not in the Crockford alphabet
        "ABCDEFGHIKMNPQRS",  # nor is I
        "ABCD-EFGH-JKMN-PQRS",  # the caller passes the bare code
    ],
)
def test_invalid_code_is_refused_without_echoing_it(code: str) -> None:
    with pytest.raises(ValueError, match="Crockford") as excinfo:
        render_passport_pdf(email=EMAIL, activation_code=code, activation_url=URL, issued_on=ISSUED)
    if code:
        assert code not in str(excinfo.value)


def test_empty_url_is_refused() -> None:
    with pytest.raises(ValueError, match="activation_url"):
        render_passport_pdf(email=EMAIL, activation_code=CODE, activation_url="", issued_on=ISSUED)
