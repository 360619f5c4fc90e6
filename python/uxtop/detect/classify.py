"""Classify each interned target/tag string once, into a bit mask the kernels index.

Suppressions are decided per distinct string (there are thousands, not millions), so the
kernels only do ``tag_bits[tag[i]] | target_bits[target[i]]``: no Python per event.

A target is a CSS-like selector optionally followed by its text in double quotes, e.g.
``button.qty-plus "+"`` or ``a#next.pager "Next ›"``; a tag is ``button``, ``a[download]``,
``input[type=email]`` ... Both are looked at, since sources fill one or the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

# bits of a target class mask
TEXT = (
    1 << 0
)  # selecting text is what clicks do here (text inputs, textarea, contenteditable, prose)
STEPPER = 1 << 1  # quantity steppers, pagers, carousels: clicking fast is normal
DOWNLOAD = 1 << 2  # a[download]: nothing visible happens
NEW_TAB = 1 << 3  # a[target=_blank]: the reaction is in another tab
INTERACTIVE = 1 << 4  # promises a visible reaction (a, button, submit, role=button ...)
FIELD = 1 << 5  # form field (input, textarea, select)
ANCHOR = 1 << 6  # <a ...> (PostHog/Datadog exclude anchors from dead clicks)
MEDIA = 1 << 7  # canvas, video, audio, embed, object
IGNORED = 1 << 8  # matches a user ignore rule (all click kinds)
NO_RAGE = 1 << 9  # matches an ignore_rage rule
NO_DEAD = 1 << 10  # matches an ignore_dead rule

CLASS_BITS: dict[str, int] = {
    "text": TEXT,
    "stepper": STEPPER,
    "download": DOWNLOAD,
    "new_tab": NEW_TAB,
    "interactive": INTERACTIVE,
    "field": FIELD,
    "anchor": ANCHOR,
    "media": MEDIA,
    "ignored": IGNORED,
    "no_rage": NO_RAGE,
    "no_dead": NO_DEAD,
}

_TEXT_INPUT_TYPES = {"", "text", "search", "email", "password", "url", "tel", "number"}
_BUTTON_INPUT_TYPES = {
    "submit",
    "button",
    "reset",
    "image",
    "checkbox",
    "radio",
    "file",
    "color",
    "range",
}
_PROSE_TAGS = {
    "p",
    "span",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "td",
    "th",
    "blockquote",
    "pre",
    "code",
    "em",
    "strong",
    "label",
    "dd",
    "dt",
}
_INTERACTIVE_ROLES = {
    "button",
    "link",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "option",
    "tab",
    "treeitem",
    "checkbox",
    "radio",
    "switch",
}
# PostHog content_ignorelist (symbols match exactly, words as substrings) + carets and arrows
_STEPPER_SYMBOLS = {
    "+",
    "-",
    "−",
    "–",
    "<",
    ">",
    "‹",
    "›",
    "«",
    "»",
    "←",
    "→",
    "<<",
    ">>",
    "^",
    "v",
}
_STEPPER_WORDS = ("next", "previous", "prev", "increase", "decrease", "increment", "decrement")
_STEPPER_CLASS = re.compile(
    r"(qty|quantity|stepper|spinner|pager|pagination|carousel|slider|increment|decrement|[-_]next\b|[-_]prev\b)",
    re.I,
)
_TAG_RE = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9-]*)")
_ATTR_RE = re.compile(r"\[([a-zA-Z_:-][\w:.-]*)(?:\s*=\s*['\"]?([^'\"\]]*)['\"]?)?\]")
_TEXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*$')


def classify_string(
    s: str,
    ignore: Iterable[str] = (),
    ignore_rage: Iterable[str] = (),
    ignore_dead: Iterable[str] = (),
) -> int:
    """Class mask of one target or tag string."""
    m = _TEXT_RE.search(s)
    text = m.group(1).strip() if m else ""
    selector = s[: m.start()] if m else s
    bits = 0
    tag_m = _TAG_RE.match(selector)
    tag = tag_m.group(1).lower() if tag_m else ""
    attrs = {k.lower(): (v or "").lower() for k, v in _ATTR_RE.findall(selector)}
    if tag == "input":
        itype = attrs.get("type", "")
        bits |= FIELD
        if itype in _TEXT_INPUT_TYPES:
            bits |= TEXT
        if itype in _BUTTON_INPUT_TYPES:
            bits |= INTERACTIVE
    elif tag in ("textarea", "select"):
        bits |= FIELD | (TEXT if tag == "textarea" else INTERACTIVE)
    elif tag in ("button", "summary", "option"):
        bits |= INTERACTIVE
    elif tag == "a":
        bits |= INTERACTIVE | ANCHOR
    elif tag in ("canvas", "video", "audio", "embed", "object"):
        bits |= MEDIA
    elif tag in _PROSE_TAGS:
        bits |= TEXT
    if "contenteditable" in attrs and attrs["contenteditable"] != "false":
        bits |= TEXT
    if attrs.get("role", "") in _INTERACTIVE_ROLES:
        bits |= INTERACTIVE
    if "download" in attrs:
        bits |= DOWNLOAD
    if attrs.get("target", "_self") not in ("_self", "_top", "_parent", ""):
        bits |= NEW_TAB
    low_text = text.lower()
    if (
        text in _STEPPER_SYMBOLS
        or any(w in low_text for w in _STEPPER_WORDS)
        or _STEPPER_CLASS.search(selector)
    ):
        bits |= STEPPER
    if _matches(selector, ignore):
        bits |= IGNORED
    if _matches(selector, ignore_rage):
        bits |= NO_RAGE
    if _matches(selector, ignore_dead):
        bits |= NO_DEAD
    return bits


def _matches(selector: str, rules: Iterable[str]) -> bool:
    """A rule ``.cls``/``#id`` matches a whole class/id token; anything else is a substring."""
    for rule in rules:
        if not rule:
            continue
        if rule[0] in ".#" and re.fullmatch(r"[.#][\w-]+", rule):
            if re.search(re.escape(rule) + r"(?![\w-])", selector):
                return True
        elif rule in selector:
            return True
    return False


def mask_of(names: Iterable[str]) -> int:
    bits = 0
    for n in names:
        try:
            bits |= CLASS_BITS[n]
        except KeyError:
            raise ValueError(
                f"unknown target class {n!r}; one of {', '.join(CLASS_BITS)}"
            ) from None
    return bits


class ClassTable:
    """Grows with an intern table: ``bits[id + 1]`` is the mask of string ``id``; slot 0 is for
    ``NONE_ID`` (-1), so kernels index ``bits[id + 1]`` without a branch."""

    def __init__(
        self, ignore: Iterable[str], ignore_rage: Iterable[str], ignore_dead: Iterable[str]
    ) -> None:
        self._rules = (tuple(ignore), tuple(ignore_rage), tuple(ignore_dead))
        self.bits: npt.NDArray[np.uint16] = np.zeros(1, dtype=np.uint16)
        self._n = 0

    def extend(self, table: list[str]) -> npt.NDArray[np.uint16]:
        if len(table) > self._n:
            new = np.fromiter(
                (classify_string(s, *self._rules) for s in table[self._n :]), dtype=np.uint16
            )
            self.bits = np.concatenate([self.bits, new])
            self._n = len(table)
        return self.bits
