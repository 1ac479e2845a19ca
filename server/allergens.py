"""Which allergens a piece of text names: the 14 the UK and EU require a kitchen to declare, in
the spellings a till or a customer writes them, and a venue's own words. Pure: no I/O.

Text is folded first (server/text.py: case, accents, full-width forms, zero-width characters),
then split into words, and an allergen is named only by a whole word or a run of whole words:
"nuts" and "Nut free" name nuts, "nutmeg", "coconut" and "doughnut" do not. A line of a ticket
stands out exactly when its own text names one, never because a neighbour does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from server.text import folded

# Words that announce an allergy without naming the allergen ("allergic to kiwi"): a cook must
# see those too. What the marker in a ticket's header calls them.
ALLERGY: Final = "ALLERGY"


@dataclass(frozen=True, slots=True)
class Allergen:
    label: str  # what the ticket's header marker says
    words: tuple[str, ...]  # each a word or a few, as `folded` leaves them; plurals are added

    @classmethod
    def of(cls, label: str, listed: str) -> Allergen:
        """From a comma-separated list of words and phrases."""
        return cls(label, tuple(word.strip() for word in listed.split(",")))


# The 14 allergens of UK/EU food law (Regulation 1169/2011, Annex II), each with the words that
# name it on a ticket: its own name and spellings, and the foods the law lists under it (the
# cereals that contain gluten, the tree nuts, crustaceans and molluscs by their kitchen names).
ALLERGENS: Final[tuple[Allergen, ...]] = (
    Allergen.of("CELERY", "celery, celeriac"),
    Allergen.of(
        "GLUTEN",
        "gluten, glutenfree, coeliac, celiac, wheat, wholewheat, rye, barley, oat, spelt, kamut, "
        "khorasan, durum, semolina, triticale, farro, bulgur",
    ),
    Allergen.of(
        "CRUSTACEANS",
        "crustacean, shellfish, prawn, shrimp, crab, lobster, crayfish, langoustine, scampi",
    ),
    Allergen.of("EGGS", "egg"),
    Allergen.of("FISH", "fish"),
    Allergen.of("LUPIN", "lupin, lupine, lupini"),
    Allergen.of("MILK", "milk, dairy, lactose, buttermilk, casein, whey"),
    Allergen.of(
        "MOLLUSCS",
        "mollusc, mollusk, mussel, oyster, clam, scallop, squid, calamari, octopus, cockle, whelk, "
        "snail, escargot, cuttlefish",
    ),
    Allergen.of("MUSTARD", "mustard"),
    Allergen.of(
        "NUTS",
        "nut, nutfree, tree nut, almond, hazelnut, walnut, cashew, pecan, brazil nut, pistachio, "
        "macadamia, praline, marzipan, frangipane",
    ),
    Allergen.of("PEANUTS", "peanut, groundnut, monkey nut, arachis"),
    Allergen.of("SESAME", "sesame, tahini, tahina"),
    Allergen.of("SOYA", "soy, soya, soja, soybean, tofu, edamame"),
    Allergen.of("SULPHITES", "sulphite, sulfite, sulphur dioxide, sulfur dioxide"),
    Allergen.of(
        ALLERGY,
        "allergy, allergic, allergen, intolerance, intolerant, anaphylaxis, anaphylactic, epipen",
    ),
)

KNOWN_TEXTS: Final = 10_000  # remembered before starting afresh: a menu, its modifiers, the day's notes
_WORD: Final = re.compile(r"[^\W_]+")  # letters and digits: "peanut-free" is two words


def words(text: str) -> tuple[str, ...]:
    """The words of `text` as the matcher reads them: folded, split at anything not a letter or digit."""
    return tuple(_WORD.findall(folded(text)))


def forms(word: str) -> set[str]:
    """A word and its plurals, as a menu or a note may write them (nuts, radishes, anchovies)."""
    found = {word, word + "s", word + "es"}
    if word.endswith("y"):
        found.add(word[:-1] + "ies")
    return found


class Matcher:
    """Names the allergens in a text: the list above, plus a venue's own words (each its own
    marker: "kiwi" is KIWI), folded and pluralised alike."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        table: dict[tuple[str, ...], set[str]] = {}
        venue = [Allergen(" ".join(words(w)).upper(), (" ".join(words(w)),)) for w in extra if words(w)]
        for allergen in (*ALLERGENS, *venue):
            for phrase in allergen.words:
                *head, last = words(phrase)
                for form in forms(last):
                    table.setdefault((*head, form), set()).add(allergen.label)
        self._table = {phrase: frozenset(labels) for phrase, labels in table.items()}
        self._longest = max(len(phrase) for phrase in self._table)
        # Texts already read: a menu's few hundred names and modifiers come back on every ticket
        # a screen fetches (folding and splitting them was a tenth of a ticket's own work).
        self._known: dict[str, frozenset[str]] = {}

    def named(self, text: str | None) -> frozenset[str]:
        """The labels of every allergen `text` names, as whole words; empty if none (or no text)."""
        if not text:
            return frozenset()
        known = self._known.get(text)
        if known is None:
            if len(self._known) >= KNOWN_TEXTS:
                self._known.clear()
            known = self._known[text] = self._named(text)
        return known

    def _named(self, text: str) -> frozenset[str]:
        found: set[str] = set()
        said = words(text)
        for start in range(len(said)):
            for size in range(1, min(self._longest, len(said) - start) + 1):
                found |= self._table.get(said[start : start + size], frozenset())
        return frozenset(found)

    def phrases(self) -> frozenset[tuple[str, ...]]:
        """Every run of words the matcher knows (for tests: each must be found)."""
        return frozenset(self._table)


def ordered(labels: Iterable[str]) -> tuple[str, ...]:
    """Labels as a marker lists them: an allergy first (it may be anything), then by name."""
    return tuple(sorted(set(labels), key=lambda label: (label != ALLERGY, label)))
