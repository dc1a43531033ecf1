"""The indentation style of code: its unit ("\\t" or N spaces) and widths of leading whitespace."""

from __future__ import annotations

import re
from collections import Counter

TAB_WIDTH = 4
# The leading whitespace of each line that has code on it.
_CODE_LINE_INDENT = re.compile(r"^[ \t]*(?=[^ \t\r\n])", re.MULTILINE)


def leading(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def width(whitespace: str, tab_width: int = TAB_WIDTH) -> int:
    return len(whitespace.expandtabs(tab_width))


def detect_unit(text: str, default: str) -> str:
    """The unit most lines of `text` indent by; `default` when no line is indented.

    Steps into a deeper line count, not absolute depths, so a file indented by four whose lines
    mostly sit eight deep still reads as four; and not steps out, since one dedent can close
    several blocks.
    """
    tabbed = spaced = 0
    steps: Counter[int] = Counter()
    previous = 0
    for lead in _CODE_LINE_INDENT.findall(text):
        if lead.startswith("\t"):
            tabbed += 1
            continue
        if lead:
            spaced += 1
        step = len(lead) - previous
        if 0 < step <= 8:
            steps[step] += 1
        previous = len(lead)
    if tabbed > spaced:
        return "\t"
    if not steps:
        return default
    return " " * steps.most_common(1)[0][0]


def render(depth: int, unit: str) -> str:
    """Leading whitespace `depth` columns wide in the style of `unit`."""
    if unit == "\t":
        return "\t" * (depth // TAB_WIDTH) + " " * (depth % TAB_WIDTH)
    return " " * depth
