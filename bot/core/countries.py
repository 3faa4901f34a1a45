"""Finding a country by what she types: its name in any shipped language, or its code.

A practitioner writing in English may know her neighbour as "Soudan" or "السودان"; the search
looks through the CLDR names of every language Wasl ships, and answers in hers.
"""

from __future__ import annotations

from functools import cache

from bot.core.i18n import Catalogs, Translator, country_names, fold

MAX_MATCHES = 6


@cache
def _names(locales: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Country code → its folded names in every locale of `locales`, and its code."""
    names: dict[str, set[str]] = {}
    for locale in locales:
        for code, name in country_names(locale).items():
            names.setdefault(code, {code.casefold()}).add(fold(name))
    return {code: frozenset(found) for code, found in names.items()}


def find_countries(catalogs: Catalogs, mine: Translator, query: str) -> list[tuple[str, str]]:
    """Countries whose name in any shipped language, or whose code, matches `query`, best first,
    as (code, name in her language): exact names, then names that start with it, then (from
    three letters) names that contain it."""
    wanted = fold(query)
    if not wanted:
        return []
    local = mine.countries()
    exact, starts, contains = [], [], []
    for code, names in _names(tuple(catalogs.supported)).items():
        if code not in local:
            continue
        match = (code, local[code])
        if wanted in names:
            exact.append(match)
        elif any(n.startswith(wanted) for n in names):
            starts.append(match)
        elif len(wanted) >= 3 and any(wanted in n for n in names):
            contains.append(match)
    ranked = [sorted(group, key=lambda m: fold(m[1])) for group in (exact, starts, contains)]
    return (ranked[0] + ranked[1] + ranked[2])[:MAX_MATCHES]
