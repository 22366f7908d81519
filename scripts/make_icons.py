"""Regenerate the installable app's PNG icons (webroot/icons/) from webroot/favicon.svg.

Pillow cannot read SVG, so this draws the favicon's own shapes (its <path> and <circle>
elements: fills, round-capped strokes, the M/C/S/Z path commands it uses) at 4× and scales down.

    uv run python scripts/make_icons.py

- icon-192.png, icon-512.png: `any` (transparent around the octopus, as Android shows it);
- maskable-192.png, maskable-512.png: full-bleed background, octopus inside the 80 % safe circle
  (Android crops them to its own shape);
- apple-touch-icon.png (180): opaque, since iOS paints transparency black.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1] / "webroot"
BACKGROUND = "#f6f4fb"  # style.css --bg (light), also the manifest's background_color
SVG = "{http://www.w3.org/2000/svg}"
SUPER = 4  # supersampling factor
Point = tuple[float, float]


def _cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        out.append((u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                    u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]))
    return out


def parse_path(d: str) -> list[list[Point]]:
    """The subpaths of an SVG path as polylines (M, C, S, Z, absolute and relative)."""
    tokens = re.findall(r"[MmCcSsZz]|-?\d*\.?\d+", d)
    subpaths: list[list[Point]] = []
    cur: Point = (0.0, 0.0)
    start: Point = cur
    last_ctrl: Point | None = None
    i, cmd = 0, ""
    nums = lambda n: [float(t) for t in tokens[i:i + n]]  # noqa: E731
    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "Zz":
                subpaths[-1].append(start)
                cur, last_ctrl = start, None
                continue
        rel = cmd.islower()
        ox, oy = cur if rel else (0.0, 0.0)
        if cmd in "Mm":
            x, y = nums(2)
            i += 2
            cur = start = (ox + x, oy + y)
            subpaths.append([cur])
            cmd = "l" if rel else "L"  # further pairs would be line-tos; the favicon has none
            last_ctrl = None
        elif cmd in "Cc":
            x1, y1, x2, y2, x, y = nums(6)
            i += 6
            c1, c2, end = (ox + x1, oy + y1), (ox + x2, oy + y2), (ox + x, oy + y)
            subpaths[-1].extend(_cubic(cur, c1, c2, end))
            cur, last_ctrl = end, c2
        elif cmd in "Ss":
            x2, y2, x, y = nums(4)
            i += 4
            c1 = (2 * cur[0] - last_ctrl[0], 2 * cur[1] - last_ctrl[1]) if last_ctrl else cur
            c2, end = (ox + x2, oy + y2), (ox + x, oy + y)
            subpaths[-1].extend(_cubic(cur, c1, c2, end))
            cur, last_ctrl = end, c2
        else:
            raise ValueError(f"path command {cmd!r} is not supported by this script")
    return subpaths


def draw_favicon(size: int, scale: float, offset: Point) -> Image.Image:
    """The favicon on a transparent canvas of `size` px (already supersampled by the caller):
    one SVG unit = `scale` px, the viewBox origin at `offset`."""
    tree = ET.parse(ROOT / "favicon.svg")
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(img)
    at = lambda p: (offset[0] + p[0] * scale, offset[1] + p[1] * scale)  # noqa: E731

    def visit(node: ET.Element, inherited: dict[str, str]) -> None:
        style = {**inherited, **{k: v for k, v in node.attrib.items()
                                 if k in ("fill", "stroke", "stroke-width")}}
        tag = node.tag.removeprefix(SVG)
        if tag == "path":
            polys = [[at(p) for p in sub] for sub in parse_path(node.attrib["d"])]
            fill, stroke = style.get("fill", "#000"), style.get("stroke", "none")
            for poly in polys:
                if fill != "none":
                    pen.polygon(poly, fill=fill)
                if stroke != "none":
                    width = float(style.get("stroke-width", "1")) * scale
                    pen.line(poly, fill=stroke, width=round(width))
                    # A disc at every vertex: round caps (stroke-linecap="round") and seamless
                    # joints (Pillow's own joints leave hairline gaps on tight curves).
                    r = width / 2
                    for x, y in poly:
                        pen.ellipse((x - r, y - r, x + r, y + r), fill=stroke)
        elif tag == "circle":
            cx, cy = at((float(node.attrib["cx"]), float(node.attrib["cy"])))
            r = float(node.attrib["r"]) * scale
            pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=style.get("fill", "#000"))
        for child in node:
            visit(child, style)

    visit(tree.getroot(), {})
    return img


def icon(px: int, *, content: float, background: str | None) -> Image.Image:
    """A `px` square icon whose 64-unit viewBox spans `content` of its width, centred."""
    big = px * SUPER
    scale = big * content / 64
    margin = (big - 64 * scale) / 2
    art = draw_favicon(big, scale, (margin, margin))
    base = Image.new("RGBA", (big, big), background or (0, 0, 0, 0))
    base.alpha_composite(art)
    out = base.resize((px, px), Image.LANCZOS)
    return out.convert("RGB") if background else out


def main() -> None:
    out = ROOT / "icons"
    out.mkdir(exist_ok=True)
    for px in (192, 512):
        icon(px, content=0.92, background=None).save(out / f"icon-{px}.png", optimize=True)
        # Maskable: everything inside the central 80 % circle; the 64-unit box at 62 % fits it.
        icon(px, content=0.62, background=BACKGROUND).save(out / f"maskable-{px}.png", optimize=True)
    icon(180, content=0.78, background=BACKGROUND).save(out / "apple-touch-icon.png", optimize=True)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} to {out}")


if __name__ == "__main__":
    main()
