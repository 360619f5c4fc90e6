"""Messages between widgets, screens and the app (past tense: they report what happened)."""

from __future__ import annotations

from textual.message import Message

from uxtop.snapshot import SessionDetail


class SessionChosen(Message):
    """The user asked to open a session's timeline."""

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id


class DetailLoaded(Message):
    """A drill-down finished in a worker (``detail`` is None if the session was evicted)."""

    def __init__(self, session_id: int, detail: SessionDetail | None, error: str = "") -> None:
        super().__init__()
        self.session_id = session_id
        self.detail = detail
        self.error = error


class FilterSubmitted(Message):
    """The filter input closed: applied (enter) or cancelled (esc)."""

    def __init__(self, text: str, cancelled: bool = False) -> None:
        super().__init__()
        self.text = text
        self.cancelled = cancelled


class FlagSelected(Message):
    """The timeline cursor moved onto (or off, index -1) a flag line."""

    def __init__(self, flag_index: int) -> None:
        super().__init__()
        self.flag_index = flag_index
