#!/usr/bin/env python3
"""Offline parser benchmark: parse the sample mail many times (varied) and print msg/s and peak memory.

    python scripts/bench_parse.py [--repeat N] [DIR ...]
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

from parsers import ParseOptions, parse

DEFAULT_DIRS = [Path(__file__).resolve().parents[1] / "tests" / "messages"]


def load_samples(dirs: list[Path]) -> list[bytes]:
    samples = []
    for d in dirs:
        samples += [p.read_bytes() for p in sorted(d.rglob("*.eml"))]
    return samples


def vary(data: bytes, i: int) -> bytes:
    """A distinct message each time: a new Message-ID and subject tag, so no cache can help."""
    head, sep, body = data.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n") if not ln.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: <bench-%d@example.invalid>" % i)
    return b"\n".join(lines) + sep + body + (b"\n" * (i % 3))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dirs", nargs="*", type=Path, default=DEFAULT_DIRS)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    samples = load_samples(args.dirs)
    if not samples:
        print("no .eml files found")
        return 2
    options = ParseOptions()
    parse(samples[0], options)  # warm up imports and compiled patterns
    messages = [vary(s, i) for i in range(args.repeat) for s in samples]
    tracemalloc.start()
    start = time.perf_counter()
    for data in messages:
        parse(data, options)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # a second, untraced run: tracemalloc itself slows Python down
    start = time.perf_counter()
    for data in messages:
        parse(data, options)
    fast = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"messages {len(messages)} ({len(samples)} samples x {args.repeat})")
    print(f"throughput {len(messages) / fast:.0f} msg/s (untraced), {len(messages) / elapsed:.0f} msg/s (traced)")
    print(f"peak traced memory {peak / 1e6:.1f} MB; max RSS {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
