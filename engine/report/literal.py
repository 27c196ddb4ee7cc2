"""Text that is not ours, made safe to print: patient- and rule-provided text shown as written.

A patient id or an alert detail may hold anything: terminal escape sequences (clear screen,
an OSC 8 hyperlink that hides its target), bidirectional overrides that reorder what is
read, or characters a markup language would take for tags. The text report prints every such
string through ``literal``: control and format characters are shown as escapes (``\\x1b``,
``\\u202e``), never sent to the terminal; markup is never interpreted (the report builds
``rich.text.Text`` objects, never markup strings).
"""

from __future__ import annotations

import unicodedata

# Line breaks and tabs inside prose (a rule's ``detail`` written as a YAML block) read as
# spaces; in an identifier they are shown escaped like any other control character.
_PROSE_SPACES = str.maketrans({"\n": " ", "\r": " ", "\t": " "})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    # Cc: C0 and C1 controls (ESC, BEL, CSI ...); Cf: format characters (bidirectional
    # overrides and isolates, zero-width joiners); Cs, Co, Cn: surrogates, private use and
    # unassigned code points, which a terminal may render as anything.
    return unicodedata.category(char)[0] == "C"


def literal(text: str, prose: bool = False) -> str:
    """``text`` with every control or format character shown as an escape."""
    if prose:
        text = text.translate(_PROSE_SPACES)
    if text.isascii() and text.isprintable():  # printable ASCII (" " to "~"): the common case
        return text
    return "".join(_escape(char) if _unsafe(char) else char for char in text)
