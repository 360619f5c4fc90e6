"""Page templates: the page a URL is an instance of, with its id segments folded.

Shared by funnel inference (a shop's product step is one step, not a thousand rare pages) and
the engine's worst pages / elements (a broken button on every product page is one hotspot,
not a hundred rows of one or two flags each). No heavy imports: the engine and the TUI use it.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: a path segment that is an id, not a page: digits, a long hex run, a UUID
_ID_SEGMENT = re.compile(
    r"\d+|(?=[0-9a-f]*\d)[0-9a-f]{8,}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.I
)


# a stream repeats a few thousand URLs, so each is worked out once (bounded: a site with
# endless distinct URLs only recomputes)
@lru_cache(maxsize=1 << 16)
def page_template(url: str) -> str:
    """The page a path is an instance of, as a step glob: id segments become ``*``
    (``/product/1234`` → ``/product/*``). A literal ``*`` or ``?`` becomes ``?`` (globs have no
    escape; ``?`` matches it)."""
    return "/".join(
        "*" if _ID_SEGMENT.fullmatch(seg) else seg.replace("*", "?") for seg in url.split("/")
    )
