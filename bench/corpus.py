"""Bench corpora: the project's own simulator written as twarc2 JSONL, cached in bench/out/.

A corpus is named by its size (``posts-100k.jsonl``) and regenerated when missing. A
``.meta.json`` beside it records the sightings written, so a half-written file (the
generator was killed) is never taken for a finished one.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from bench.twarc import write_twarc_jsonl
from monitor.settings import Settings
from monitor.sources.simulated import simulate_campaign

OUT = Path(__file__).resolve().parent / "out"
SEED = 42
REPEAT_EVERY = 10  # every 10th page is seen again an hour later: repeat sightings


def size_label(posts: int) -> str:
    """Return a size as the bench names it: 2000 -> "2k", 1000000 -> "1m"."""
    if posts % 1_000_000 == 0:
        return f"{posts // 1_000_000}m"
    if posts % 1000 == 0:
        return f"{posts // 1000}k"
    return str(posts)


def parse_size(text: str) -> int:
    """Return the number of posts a size names ("100k", "1m", "2500"); ValueError if none."""
    t = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    number = t[:-1] if scale != 1 else t
    value = int(float(number) * scale)
    if value <= 0:
        raise ValueError(f"not a corpus size: {text!r} (e.g. 100k, 1m)")
    return value


def corpus_path(posts: int, out: Path = OUT) -> Path:
    """Return where the corpus of ``posts`` posts is cached."""
    return out / f"posts-{size_label(posts)}.jsonl"


def ensure_corpus(settings: Settings, posts: int, out: Path = OUT, say=print) -> tuple[Path, dict]:
    """Return (the corpus file, its metadata), generating it first if it is not cached.

    Metadata: posts, sightings (post items written, repeats included), pages, bytes.
    """
    path = corpus_path(posts, out)
    meta_path = path.with_suffix(".meta.json")
    if path.exists() and meta_path.exists():
        meta = orjson.loads(meta_path.read_bytes())
        if meta.get("bytes") == path.stat().st_size and meta.get("seed") == SEED:
            return path, meta
    out.mkdir(parents=True, exist_ok=True)
    say(f"generating the {size_label(posts)} corpus (cached in {out}; ~2 min for 1m) ...")
    started = time.perf_counter()
    campaign = simulate_campaign(settings, seed=SEED, posts=posts)
    tmp = path.with_suffix(".partial")
    sightings = write_twarc_jsonl(campaign, tmp, repeat_every=REPEAT_EVERY)
    pages = 0
    with tmp.open("rb") as fh:
        for _ in fh:
            pages += 1
    tmp.replace(path)
    meta = {
        "seed": SEED,
        "posts": posts,
        "sightings": sightings,
        "pages": pages,
        "bytes": path.stat().st_size,
        "seconds": round(time.perf_counter() - started, 1),
    }
    meta_path.write_bytes(orjson.dumps(meta))
    say(f"  {sightings:,} sightings in {pages:,} pages, {meta['bytes'] / 1e6:,.0f} MB")
    return path, meta
