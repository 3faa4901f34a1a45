"""Time one chart in a fresh process, as `wasl report … --out x.png` and /report draw it.

Run inside the image (the file is not in it): `docker run --rm -i wasl:local python - <
deploy/local/chart_time.py`. Prints the seconds to import matplotlib (with its font list) and to
draw the first chart in English, then one in Arabic and one in Bengali (their fonts), and the
process's CPU time for all of it (wall times grow with the machine's load; CPU time less so).
"""

from __future__ import annotations

import time

start, start_cpu = time.perf_counter(), time.process_time()

from datetime import UTC, datetime  # noqa: E402

from bot.core.i18n import Catalogs  # noqa: E402
from bot.core.reports import Breakdown, Subject  # noqa: E402
from bot.reports.disclosure import CountTable, disclose  # noqa: E402
from bot.reports.model import Report, Section, SectionKind  # noqa: E402
from bot.reports.render import render_png  # noqa: E402


def report(locale: str) -> Report:
    table = disclose(
        CountTable(("IQ", "SY", "YE"), ("yes", "no"), ((12, 30), (8, 20), (6, 9))), k=5
    )
    section = Section(
        "threat",
        "Were you threatened?",
        SectionKind.CHOICE,
        table,
        ("Iraq", "Syria", "Yemen"),
        ("Yes", "No"),
    )
    return Report(
        subject=Subject.SURVEY,
        title="Pulse",
        locale=locale,
        period="All time",
        breakdown=Breakdown.COUNTRY,
        breakdown_label="By country",
        k=5,
        generated_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        sections=(section,),
        responses=85,
        reference="pulse",
    )


catalogs = Catalogs()
imported = time.perf_counter()
import matplotlib.font_manager  # noqa: E402, F401

fonts = time.perf_counter()
timings = []
for locale in ("en", "ar", "bn"):
    before = time.perf_counter()
    png = render_png(report(locale), catalogs.get(locale))
    assert png.startswith(b"\x89PNG"), "not a PNG"
    timings.append((locale, time.perf_counter() - before, len(png)))
print(f"python + Wasl imports: {imported - start:.2f} s")
print(f"import matplotlib (font list): {fonts - imported:.2f} s")
for locale, seconds, size in timings:
    print(f"chart {locale}: {seconds:.2f} s ({size} bytes)")
print(f"first chart from a fresh process, all in: {fonts - start + timings[0][1]:.2f} s")
cpu = time.process_time() - start_cpu
print(f"CPU time of the process (less the machine's load): {cpu:.2f} s")
