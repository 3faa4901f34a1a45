"""The alliance's spheres of work: what members choose, updates and tips are tagged with."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.i18n import N_


@dataclass(frozen=True, slots=True)
class Sphere:
    """One of the alliance's spheres of work: a stable code, a short label, a description."""

    code: str
    label: str  # at most 24 characters in every language (a WhatsApp list row)
    description: str


SPHERES: tuple[Sphere, ...] = (
    Sphere(
        "youth", N_("Youth deradicalisation"), N_("Deradicalisation and demobilisation of youth")
    ),
    Sphere("pluralism", N_("Peace and pluralism"), N_("Peace and pluralism in communities")),
    Sphere(
        "religion", N_("Religious texts"), N_("Challenging extremist readings of religious texts")
    ),
    Sphere("rights", N_("Women's rights"), N_("Women's rights in law, politics and services")),
    Sphere(
        "vaw",
        N_("Violence against women"),
        N_(
            "Violence against women: child marriage, honour killings, sexual violence, "
            "recruitment of women"
        ),
    ),
    Sphere(
        "narratives",
        N_("Rights narratives"),
        N_("Religious and cultural narratives of rights and coexistence"),
    ),
    Sphere("media", N_("Women in media"), N_("Women's voices in media")),
    Sphere("advocacy", N_("Advocacy"), N_("International advocacy")),
)
SPHERE_BY_CODE = {s.code: s for s in SPHERES}
