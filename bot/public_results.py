"""Public results of a closed survey, as U-Report publishes its polls: a web page anyone can
open and share (/results/<slug>), and a short image of it for messaging apps
(/results/<slug>.png, the page's og:image).

Off unless the survey's definition says `public_results: true`. The page is built by the same
report builder as /report, the CLI and the dashboard (`survey_report`), so it shows exactly
the figures those release, through the same disclosure control (the cell-key method: the
same figure for every breakdown and request); free-text answers are left out altogether,
not even counted; a members' survey is shown for the whole alliance only (split by country
it would publish where members work). Results are released once the survey has closed and
do not change after, so the page can be cached by anyone. No login, no cookie, no person,
no audit entry (there is nobody to name).
"""

from __future__ import annotations

import asyncio
import html
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.app import App
from bot.core.i18n import Translator
from bot.core.reports import Breakdown
from bot.core.surveys import Survey, SurveyMode
from bot.dashboard import chart, choices, document
from bot.reports.model import Report, SectionKind
from bot.reports.render import render_html, render_png
from bot.services.reports import (
    BREAKDOWN_LABELS,
    Limits,
    ReportError,
    check_report,
    check_survey,
    survey_breakdowns,
    survey_report,
)

PATH = "/results"
# What a reader may split the results by: the whole survey, and, for a survey of the public
# (as U-Report's), by country where declared. A members' survey shows the whole alliance
# only: its split by country would tell anyone in which countries members work.
OFFERED = (Breakdown.NONE, Breakdown.COUNTRY)


def offered(survey: Survey) -> list[Breakdown]:
    """The breakdowns the public page offers for `survey`."""
    public = survey.definition.mode is SurveyMode.PUBLIC
    return [
        b for b in survey_breakdowns(survey) if b is Breakdown.NONE or (public and b in OFFERED)
    ]


HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'",
}
MISSING = {**HEADERS, "Cache-Control": "public, max-age=60"}
IMAGE_HEADERS = {**HEADERS, "Cache-Control": "public, max-age=86400"}
IMAGE_WIDTH = 800
IMAGES = 64  # images kept drawn in memory (closed results never change)


def _path(slug: str, **params: str) -> str:
    query = urlencode(params)
    return f"{PATH}/{quote(slug)}" + (f"?{query}" if query else "")


def public(report: Report) -> Report:
    """The report as published: without its free-text questions (not even their counts)."""
    return replace(
        report, sections=tuple(s for s in report.sections if s.kind is not SectionKind.TEXT)
    )


def short(report: Report) -> Report:
    """The report cut to its first question with something to show: an image short enough
    for a messaging app's link preview."""
    shown = [s for s in report.sections if s.shown][:1]
    return replace(report, sections=tuple(shown or report.sections[:1]))


class PublicResults:
    """The endpoint: a page or its image, in one of the survey's languages."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.images: OrderedDict[tuple[int, str], bytes] = OrderedDict()

    async def __call__(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        image = name.endswith(".png")
        slug = name.removesuffix(".png")
        params = request.query_params
        found = await self.results(slug, params.get("lang"), None if image else params.get("by"))
        if isinstance(found, str):
            return HTMLResponse(found, status_code=404, headers=MISSING)
        survey, report, _ = found
        if image:
            drawn = await self.image(survey, report, _)
            return Response(drawn, media_type="image/png", headers=IMAGE_HEADERS)
        return HTMLResponse(self.page(survey, report, _), headers=HEADERS)

    async def results(
        self, slug: str, lang: str | None, by: str | None
    ) -> tuple[Survey, Report, Translator] | str:
        """The survey's public report in the language asked (its default otherwise), or the
        page saying there is none: a survey that is not public, not closed or unknown looks
        the same from outside."""
        app = self.app
        now = app.core.clock.now()
        limits = Limits.of(app.core.config)
        async with app.store.transaction() as tx:
            survey = await tx.surveys.by_slug(slug[:64])
            if survey is None or not survey.definition.public_results:
                return self.missing(slug, lang)
            languages = survey.definition.texts
            _ = app.catalogs.get(lang if lang in languages else survey.definition.default_locale)
            breakdown = next((b for b in offered(survey) if b.value == by), Breakdown.NONE)
            try:
                await check_survey(tx, _, survey, now)
                report = public(
                    await survey_report(
                        tx, survey, breakdown, limits.k, _, now, secret=limits.secret
                    )
                )
                check_report(report, _)
            except ReportError:
                return self.missing(slug, lang)
        return survey, report, _

    def missing(self, slug: str, lang: str | None) -> str:
        _ = self.app.catalogs.get(lang)
        message = _("There is no survey called {slug}.", slug=slug[:48])
        return document(_, "Wasl", f"<p>{html.escape(message)}</p>")

    async def image(self, survey: Survey, report: Report, _: Translator) -> bytes:
        """Its first question as a PNG (drawn once per language, then kept)."""
        key = (survey.id, _.locale)
        if key not in self.images:
            drawn = await asyncio.to_thread(render_png, short(report), _, width_px=IMAGE_WIDTH)
            self.images[key] = drawn
            while len(self.images) > IMAGES:
                self.images.popitem(last=False)
        return self.images[key]

    def page(self, survey: Survey, report: Report, _: Translator) -> str:
        slug = survey.slug
        base = (self.app.core.config.public_url or "").rstrip("/")
        title = report.title
        summary = (
            _.plural("{n} response.", "{n} responses.", report.responses)
            if report.responses is not None
            else _("Fewer than {k} responses.", k=report.k)
        )
        image = f"{base}{_path(slug + '.png', lang=_.locale)}"
        here = f"{base}{_path(slug, lang=_.locale)}"
        head = (
            "".join(
                f'<meta property="{html.escape(key)}" content="{html.escape(value)}">'
                for key, value in (
                    ("og:type", "website"),
                    ("og:title", title),
                    ("og:description", f"{report.period} · {summary}"),
                    ("og:url", here),
                    ("og:image", image),
                    ("og:image:width", str(IMAGE_WIDTH)),
                    ("og:locale", _.locale),
                )
            )
            + f'<link rel="canonical" href="{html.escape(here)}">'
        )
        languages = {
            code: self.app.catalogs.get(code).language_name(code)
            for code in survey.definition.texts
        }
        links = {code: _path(slug, lang=code, by=report.breakdown.value) for code in languages}
        splits = {b.value: _path(slug, lang=_.locale, by=b.value) for b in offered(survey)}
        split_labels = {b.value: _(BREAKDOWN_LABELS[b]) for b in offered(survey)}
        body = (
            f"<h1>{html.escape(title)}</h1>"
            f'<p class="note">{html.escape(report.period)} · {html.escape(summary)}</p>'
            + (choices("", links, languages, _.locale) if len(languages) > 1 else "")
            + (
                choices(_("Split by:"), splits, split_labels, report.breakdown.value)
                if len(splits) > 1
                else ""
            )
            + render_html(report, _, lambda section: chart(section, _))
        )
        return document(_, title, body, head=head)


def endpoint(app: App) -> Callable[[Request], Awaitable[Response]]:
    """The handler for `PATH`/{name} (bot/web.py's route list): a bound method, which
    Starlette calls with the request (an object it would call as an ASGI app)."""
    return PublicResults(app).__call__
