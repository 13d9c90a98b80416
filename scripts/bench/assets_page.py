#!/usr/bin/env python3
"""Writes a page of N assets (PNG images from about 1 to 40 KiB, the same on every run) into
DIR: DIR/assets.html and DIR/assets/NNN.png. The page waits for its load event, then writes
into its title a JSON summary that `chromium --dump-dom` prints: the resources fetched, how
many came over each protocol (their nextHopProtocol), the page's own protocol, and its load
time in milliseconds from the start of the navigation.

Used by scripts/browser-check-tls.sh (every asset must come over h2) and by
scripts/bench/pageload.sh (HTTP/2 against HTTP/1.1, a browser's page load).

    scripts/bench/assets_page.py DIR [N]
"""

import random
import struct
import sys
import zlib
from pathlib import Path

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>loading</title>
<style>img {{ width: 32px; height: 32px; }}</style>
{images}
<script>
addEventListener("load", () => {{
  const nav = performance.getEntriesByType("navigation")[0];
  const protocols = {{}};
  const resources = performance.getEntriesByType("resource");
  for (const r of resources) protocols[r.nextHopProtocol] = (protocols[r.nextHopProtocol] || 0) + 1;
  document.title = JSON.stringify({{
    resources: resources.length,
    protocols,
    page: nav.nextHopProtocol,
    load_ms: Math.round(nav.loadEventStart - nav.startTime),
  }});
}});
</script>
"""


def png(width: int, height: int, rng: random.Random) -> bytes:
    """An RGB PNG of noise: it does not compress, so its size is about width * height * 3."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 100
    rng = random.Random(2026)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(count):
        side = rng.randint(16, 115)  # 16x16 to 115x115 noise: about 1 to 40 KiB
        (out / "assets" / f"{i:03}.png").write_bytes(png(side, side, rng))
        images.append(f'<img src="assets/{i:03}.png" alt="">')
    (out / "assets.html").write_text(PAGE.format(images="\n".join(images)))


if __name__ == "__main__":
    main()
