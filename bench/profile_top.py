"""The top frames of a py-spy profile recorded with `--format raw` (collapsed stacks, one
"frame;frame;… samples" line per stack): by own time (the function on top of the stack) and by
cumulative time (the frame anywhere in the stack, counted once per sample), as % of samples.

Usage: python bench/profile_top.py PROFILE [count] [--match TEXT]
(--match keeps the cumulative list to frames whose text contains one of the comma-separated
TEXTs, e.g. the project's own modules: `--match portal/,directory/`)."""
from __future__ import annotations

import argparse
from pathlib import Path


def read(collapsed: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in Path(collapsed).read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():  # py-spy --subprocesses puts the processes first
            frames = [_function(f) for f in stack.split(";") if not f.startswith("process ")]
            if frames:
                stacks.append((frames, int(samples)))
    return stacks


def _function(frame: str) -> str:
    """`wait (psycopg/connection.py:495)` → `wait (psycopg/connection.py)`: one function's
    lines counted together."""
    head, colon, line = frame.rpartition(":")
    return f"{head})" if colon and line.rstrip(")").isdigit() else frame


def _short(frame: str) -> str:
    """`render (flask/templating.py:150)` with the site-packages prefix cut off."""
    for cut in ("site-packages/", "/lib/python3"):
        head, found, tail = frame.partition(cut)
        if found:
            name = head.split(" (")[0]
            return f"{name} ({tail.split('/', 1)[-1] if cut.startswith('/lib') else tail}"
    return frame


def top(stacks, count: int, match: str = "") -> tuple[list, list, int]:
    own: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    total = 0
    for frames, samples in stacks:
        total += samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for frame in set(frames):
            if any(text in frame for text in match.split(",")):
                cumulative[frame] = cumulative.get(frame, 0) + samples
    by_own = sorted(own.items(), key=lambda item: -item[1])[:count]
    by_cumulative = sorted(cumulative.items(), key=lambda item: -item[1])[:count]
    return by_own, by_cumulative, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("count", nargs="?", type=int, default=12)
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    by_own, by_cumulative, total = top(read(args.profile), args.count, args.match)
    print(f"{total} samples — own time:")
    for frame, samples in by_own:
        print(f"  {100 * samples / total:5.1f}%  {_short(frame)}")
    print("cumulative:")
    for frame, samples in by_cumulative:
        print(f"  {100 * samples / total:5.1f}%  {_short(frame)}")


if __name__ == "__main__":
    main()
