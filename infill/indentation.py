"""The indentation style of code: its unit ("\\t" or N spaces) and widths of leading whitespace."""

from __future__ import annotations

from collections import Counter

TAB_WIDTH = 4


def leading(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def width(whitespace: str, tab_width: int = TAB_WIDTH) -> int:
    return len(whitespace.expandtabs(tab_width))


def detect_unit(text: str, default: str) -> str:
    """The unit most lines of `text` indent by; `default` when no line is indented.

    Steps between consecutive code lines count, not absolute depths, so a file indented by four
    whose lines mostly sit eight deep still reads as four.
    """
    tabbed = spaced = 0
    steps: Counter[int] = Counter()
    previous = 0
    for line in text.splitlines():
        lead = leading(line)
        if len(lead) == len(line):
            continue
        if lead.startswith("\t"):
            tabbed += 1
            continue
        if lead:
            spaced += 1
        step = abs(len(lead) - previous)
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
