"""CPython's asyncio.TaskGroup on the spawn+join scenario of benches/compare.rs.

Spawns N trivial tasks in one TaskGroup, joins them, sums their results; prints one line per
size, the median over the runs after one warm-up run:  CPYTHON spawn_join <n> <us_per_task>
Run once per round, one size at a time, by `cargo bench -p taskgroup-bench --bench compare`
when python3 is present (3.11 or newer).
"""

import argparse
import asyncio
import statistics
import sys
import time


async def trivial(i):
    return i


async def spawn_join(n):
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(trivial(i)) for i in range(n)]
    return sum(t.result() for t in tasks)


def sample(n):
    start = time.perf_counter()
    total = asyncio.run(spawn_join(n))
    elapsed = time.perf_counter() - start
    assert total == n * (n - 1) // 2
    return elapsed / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated task counts")
    parser.add_argument("--runs", type=int, default=5, help="runs per size (median reported)")
    args = parser.parse_args()
    if sys.version_info < (3, 11):
        sys.exit("asyncio.TaskGroup needs Python 3.11 or newer")
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes takes integers, e.g. --sizes 1000,100000")
    if args.runs < 1 or any(n < 1 for n in sizes):
        parser.error("--runs and every size must be positive")
    for n in sizes:
        sample(n)  # warm-up
        us = statistics.median(sample(n) for _ in range(args.runs))
        print(f"CPYTHON spawn_join {n} {us:.3f}", flush=True)


if __name__ == "__main__":
    main()
