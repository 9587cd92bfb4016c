"""Demo content: real DICOM files that ship with pydicom, and a generated PDF finding."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from hds.accounts.models import Account
from hds.archive.models import Holding
from hds.archive.services import IngestResult, ingest_file

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
DEMO_FILES = {
    "patient": ["CT_small.dcm", "examples_ybr_color.dcm", "JPEG2000.dcm", "examples_overlay.dcm"],
    "doctor": ["MR_small.dcm", "examples_palette.dcm"],
    "radiology": ["693_J2KI.dcm", "examples_jpeg2k.dcm"],
}


def finding_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF finding."""
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(title)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(60, 780, title)
    pdf.setFont("Helvetica", 11)
    for index, line in enumerate(lines):
        pdf.drawString(60, 745 - 18 * index, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def seed_demo_images(account: Account, ams: bytes, who: str) -> list[IngestResult]:
    """Upload the demo files of ``who`` into the account (idempotent: duplicates are skipped)."""
    results = []
    for name in DEMO_FILES.get(who, []):
        path = TEST_FILES / name
        if path.exists():
            results.append(ingest_file(account, ams, name=name, data=path.read_bytes()))
    if who == "patient" and results and results[0].study_id:
        holding = Holding.objects.get(account=account, study_id=results[0].study_id)
        pdf = finding_pdf(
            "Befund / Finding",
            [
                "Demo Radiologie am Markt, Nürnberg",
                "CT: no acute findings. Demo data for trying HDS.",
                "CT: kein akuter Befund. Demodaten zum Ausprobieren von HDS.",
            ],
        )
        results.append(
            ingest_file(account, ams, name="Befund.pdf", data=pdf, attach_to=holding.study)
        )
    return results
