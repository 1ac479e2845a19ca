"""The allergen matcher: every word on its list is found however it is written, and a text that
names none is never flagged. Property tests (Hypothesis) over disguised spellings and real
kitchen words, then the two cases a busy kitchen reported."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from server.allergens import ALLERGENS, ALLERGY, Matcher, forms, words
from server.kds.tickets import ticket
from server.orders.model import VoidedItem
from server.settings import Settings
from server.text import folded
from tests.factories import an_order, make_draft, modifier

MATCHER = Matcher()
LONDON = ZoneInfo("Europe/London")
LISTED = [(allergen.label, phrase) for allergen in ALLERGENS for phrase in allergen.words]
# Real words from menus and notes that name no allergen, several of them close to one.
HARMLESS = (
    "extra hot", "no onions", "well done", "medium rare", "no ice", "on the side", "large",
    "nutmeg", "coconut", "doughnut", "donut", "butternut", "chestnut", "eggplant", "buckwheat",
    "oatmeal biscuit tin", "pineapple", "fishcake", "ketchup", "salt", "pepper", "lemon", "vinegar",
    "rice", "chips", "fries", "burger", "pizza", "vegan", "halal", "sausage", "mustardy",
    "celebrate", "shrimpton road", "cheesecake", "gnocchi", "hot sauce", "no basil", "sweet potato",
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", "  ", "-", ", ", " / ", "\u00a0", ": ", "\n"])
INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u2060"])


@st.composite
def disguised(draw: st.DrawFn, text: str) -> str:
    """`text` as a till, a phone keyboard or a copy-paste might write it: any case, accents,
    full-width letters, invisible characters between letters, other spaces between words."""
    out = []
    for n, ch in enumerate(text):
        if ch == " ":
            out.append(draw(SEPARATORS))
            continue
        ch = ch.upper() if draw(st.booleans()) else ch
        if ch.isascii() and ch.isalpha() and draw(st.integers(0, 4)) == 0:
            ch = chr(ord(ch) + 0xFEE0)  # full-width
        out.append(ch)
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(["\u0301", "\u0308", "\u0327"])))  # an accent
        if n + 1 < len(text) and text[n + 1] != " " and draw(st.integers(0, 4)) == 0:
            out.append(draw(INVISIBLE))
    return "".join(out)


@st.composite
def among(draw: st.DrawFn, phrase: str) -> str:
    """A line that says `phrase` somewhere among harmless words."""
    before = draw(st.lists(st.sampled_from(HARMLESS), max_size=3))
    after = draw(st.lists(st.sampled_from(HARMLESS), max_size=3))
    parts = [*before, phrase, *after]
    return draw(SEPARATORS).join(draw(disguised(part)) for part in parts)


@given(st.sampled_from(LISTED).flatmap(lambda pair: st.tuples(st.just(pair), st.data())))
def test_every_listed_word_is_found_however_it_is_written(case):
    (label, phrase), data = case
    *head, last = phrase.split(" ")
    written = " ".join([*head, data.draw(st.sampled_from(sorted(forms(last))))])
    line = data.draw(among(written))
    assert label in MATCHER.named(line), (phrase, line)


@given(st.lists(st.sampled_from(HARMLESS), min_size=1, max_size=6).flatmap(
    lambda chosen: st.tuples(st.just(chosen), SEPARATORS, st.data())
))  # fmt: skip
def test_a_line_of_harmless_words_is_never_flagged_however_it_is_written(case):
    chosen, separator, data = case
    line = separator.join(data.draw(disguised(word)) for word in chosen)
    assert MATCHER.named(line) == frozenset(), line


@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12), min_size=1, max_size=6))
def test_only_whole_words_name_an_allergen(made_up):
    """Random words off the list never match, however much of a listed word they contain
    ("xnuts", "milky", "peanutty"): a listed word is found only as a word of its own."""
    known = {form for phrase in MATCHER.phrases() if len(phrase) == 1 for form in phrase}
    assume(not known & set(made_up))
    assume(not any(tuple(made_up[n : n + 2]) in MATCHER.phrases() for n in range(len(made_up))))
    assume(not any(tuple(made_up[n : n + 3]) in MATCHER.phrases() for n in range(len(made_up))))
    assert MATCHER.named(" ".join(made_up)) == frozenset()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Nut free", {"NUTS"}),
        ("NUT ALLERGY", {"NUTS", ALLERGY}),
        ("gluten free please", {"GLUTEN"}),
        ("allergy: gluten", {"GLUTEN", ALLERGY}),
        ("Oat Milk", {"GLUTEN", "MILK"}),
        ("no peanuts, no sesame", {"PEANUTS", "SESAME"}),
        ("Allergic to kiwi", {ALLERGY}),
        ("Brazil nuts", {"NUTS"}),
        ("sulphur dioxide", {"SULPHITES"}),
        ("EXTRA HOT", set()),
        ("no onions", set()),
        ("Nutmeg on top", set()),
        (None, set()),
        ("", set()),
    ],
)
def test_what_a_kitchen_writes(text, named):
    assert MATCHER.named(text) == named


@pytest.mark.parametrize(
    "text",
    ["\uff2e\uff35\uff34\uff33 please", "n\u200buts", "n\u00aduts", "glu\u200dten free", "NÜTS", "Allérgie: eggs",
     "\ufeffsesame"],
)  # fmt: skip
def test_allergens_cannot_hide_behind_width_accents_or_invisible_characters(text):
    assert MATCHER.named(text)


def test_folding_is_only_for_matching():
    assert folded("\uff2eÜ\u200bTS") == "nuts"
    assert words("Peanut-free, NO sésame!") == ("peanut", "free", "no", "sesame")


def test_a_venue_adds_its_own_words_each_its_own_marker():
    venue = Matcher(["kiwi", " Chilli Oil ", ""])
    assert venue.named("two kiwis") == {"KIWI"}
    assert venue.named("CHILLI\u00a0OIL on the side") == {"CHILLI OIL"}
    assert venue.named("chilli") == frozenset()  # a phrase is found whole
    assert venue.named("nut free") == {"NUTS"}  # the fourteen stay
    assert MATCHER.named("kiwi") == frozenset()


def test_the_venue_words_are_a_setting():
    assert Settings.from_env({}).kds_allergen_words == ()
    found = Settings.from_env({"ORDERPASS_KDS_ALLERGEN_WORDS": "kiwi, chilli oil ,"})
    assert found.kds_allergen_words == ("kiwi", "chilli oil")


def flat_white(note: str, *extras: str) -> dict[str, object]:
    drink = {
        "name": "Flat White",
        "plu": "HOT-01",
        "quantity": 1,
        "amountPerItem": {"value": 340, "currencyCode": "GBP"},
    }
    return {**drink, "note": note, "modifiers": [modifier(name) for name in extras]}


def test_a_note_beside_an_allergen_modifier_stays_a_plain_note_and_the_header_warns():
    content = make_draft(items=[flat_white("EXTRA HOT", "Oat Milk", "Extra Shot")], note=None).content()
    made = ticket(dataclasses.replace(an_order(), content=content), timezone=LONDON)
    (line,) = made.lines
    assert line.note is not None
    assert not line.note.allergy
    assert [(m.text, m.allergens) for m in line.modifiers] == [
        ("Oat Milk", ("GLUTEN", "MILK")),
        ("Extra Shot", ()),
    ]
    assert not line.name.allergy
    assert made.allergens == ("GLUTEN", "MILK")


def test_an_allergy_given_as_a_modifier_stands_out_and_reaches_the_header():
    content = make_draft(items=[flat_white("", "Nut free")], note=None).content()
    made = ticket(dataclasses.replace(an_order(), content=content), timezone=LONDON)
    assert made.lines[0].modifiers[0].allergens == ("NUTS",)
    assert made.allergens == ("NUTS",)


def test_a_voided_line_does_not_raise_the_header_marker():
    order = an_order()
    nutty = make_draft(items=[flat_white("", "Nut free")]).content().items[0]
    gone = VoidedItem(3, nutty, None, order.created_at, None)
    content = order.content.model_copy(update={"note": None})
    made = ticket(dataclasses.replace(order, content=content, voided=(gone,)), timezone=LONDON)
    assert "NUTS" not in made.allergens
    assert made.lines[-1].voided
