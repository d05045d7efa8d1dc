"""Colour contrast of the main colours, computed from web/static/style.css itself (issue 13:
dark-mode buttons were 2.3:1). WCAG 2.2: text at least 4.5:1 (1.4.3), the boundaries of
controls and the focus ring at least 3:1 (1.4.11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parents[2] / "web" / "static" / "style.css").read_text()


def _variables(block: str) -> dict[str, str]:
    found = re.findall(r"--([a-z-]+):\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", block)
    return {name: "#" + (v if len(v) == 6 else "".join(c * 2 for c in v)) for name, v in found}


def _schemes() -> dict[str, dict[str, str]]:
    light = _variables(CSS[CSS.index(":root {") : CSS.index("}", CSS.index(":root {"))])
    start = CSS.index("@media (prefers-color-scheme: dark)")
    dark = light | _variables(CSS[start : CSS.index("}", CSS.index(":root {", start))])
    return {"light": light, "dark": dark}


def luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT = [
    ("ink", "bg"), ("ink", "card"), ("muted", "bg"), ("muted", "card"), ("accent", "bg"),
    ("accent", "card"), ("on-accent", "accent"), ("on-accent", "bad"), ("ok", "card"),
    ("warn", "card"), ("bad", "card"), ("bad", "bg"),
]  # fmt: skip
CONTROLS = [("control", "bg"), ("control", "card"), ("accent", "bg"), ("bad", "bg"),
            ("focus", "bg"), ("focus", "card")]  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_and_controls_are_readable(scheme: str) -> None:
    colours = _schemes()[scheme]
    low_text = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in TEXT
        if contrast(colours[fg], colours[bg]) < 4.5
    }
    low_controls = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in CONTROLS
        if contrast(colours[fg], colours[bg]) < 3
    }
    assert low_text == {} and low_controls == {}


def test_buttons_take_their_text_colour_from_the_scheme() -> None:
    """White on the dark scheme's light accent was the 2.3:1 of the issue."""
    assert "color: var(--on-accent)" in CSS
    assert contrast("#ffffff", _schemes()["dark"]["accent"]) < 3  # why it had to change


def test_focus_is_visible() -> None:
    assert re.search(r":focus-visible\s*\{\s*outline:\s*3px solid var\(--focus\)", CSS)
