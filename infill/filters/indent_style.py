"""Re-indent a completion in the file's style: tabs or spaces, and the file's width; and never indent
the cursor's line twice."""

from __future__ import annotations

from collections import Counter

from infill.filters.lines import cursor_line_head
from infill.indentation import TAB_WIDTH, leading, render, width
from infill.request import CompletionRequest

MAX_STEP = 8


def normalize_indentation(text: str, request: CompletionRequest) -> str:
    head = cursor_line_head(request)
    if head and not head.strip():
        # The cursor stands after the line's indentation, where auto-indent put it: more blanks at
        # the completion's start would indent the line twice.
        text = text.lstrip(" \t")
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    unit = request.indent
    target = TAB_WIDTH if unit == "\t" else len(unit)
    base = width(leading(head + lines[0]))
    own = _step(base, [width(leading(line)) for line in lines[1:] if line.strip()]) or target
    out = [lines[0]]
    for line in lines[1:]:
        body = line.lstrip(" \t")
        if not body:
            out.append("")
            continue
        depth = base + round((width(leading(line)) - base) * target / own)
        out.append(render(max(depth, 0), unit) + body)
    return "\n".join(out)


def _step(base: int, widths: list[int]) -> int:
    """The completion's own indentation step: the commonest step into a deeper line.

    Changes wider than MAX_STEP align continuation lines under an opening bracket; they are not
    indentation.
    """
    steps: Counter[int] = Counter()
    previous = base
    for depth in widths:
        if 0 < depth - previous <= MAX_STEP:
            steps[depth - previous] += 1
        previous = depth
    return steps.most_common(1)[0][0] if steps else 0
