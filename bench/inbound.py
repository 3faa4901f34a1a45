"""Inbound benchmark: Wasl's webhook path against a bare python-telegram-bot floor, same run.

People write through a webhook (bench/traffic.py: 25% `/start` from someone new, 50% button
presses mid-way through joining, taken from the keyboards the bot really sent, 25% text from
members already in) to:

- the floor: a bare PTB Application replying once per update behind a minimal uvicorn/Starlette
  webhook (1 and 2 processes);
- Wasl: `wasl serve` processes (uvicorn + Starlette from bot/web.py, the inbox, the core) on
  SQLite and on PostgreSQL (a fresh database per run), 1 and 2 workers on one database.

Two or more workers sit behind a round-robin front in this process; with two, `--joiners`
newcomers also join at once at the end (each one's two sphere ticks posted together, one to
each worker), for the lost-tap check. For each it prints the
most updates per second it answers (a closed loop: `--users` people, each writing again as
soon as she has her reply), and for one worker the p50/p99 latency from the POST to the reply
reaching the fake Bot API at a steady `--rate` for `--duration` s (an open loop). Then the
goals of the inbound issue beside the figures: throughput ≥ 0.5× the floor, p99 < 50 ms at
100/s on one worker, 2 workers ≥ 1.7× one, and no lost taps (every update answered once, and
everyone who finished joining is a member with the country and both spheres she ticked, the
two ticks sent at once, to two workers when there are two).

    python bench/inbound.py [--rate 100] [--duration 30] [--closed 6] [--users 32]
                            [--databases sqlite,postgres] [--workers 1,2] [--joiners 30]
                            [--quick]
                            [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.traffic import (
    Database,
    ReplyClock,
    Tally,
    Verdict,
    Worker,
    ms,
    quick,
    run_traffic,
    traffic_options,
)

GOAL_RATIO = 0.5  # of the floor's throughput
GOAL_P99 = 0.050  # seconds, at 100 updates/s on one worker
GOAL_SCALING = 1.7  # two workers over one


@dataclass
class Row:
    target: str  # "floor" or "wasl"
    database: str
    workers: int
    closed: Tally
    steady: Tally | None
    verdict: Verdict


async def measure(
    api: ReplyClock,
    workers: list[Worker],
    args: argparse.Namespace,
    members: list[int],
    index: int,
    db: Database | None,
) -> Row:
    several = len(workers) > 1
    steady = not several or args.steady_all
    closed, steady_tally, verdict = await run_traffic(
        api,
        workers,
        members,
        db,
        index=index,
        users=args.users,
        closed=args.closed,
        rate=args.rate if steady else None,
        seconds=args.duration,
        joiners=args.joiners if several and db is not None else 0,
    )
    target, database = ("floor", "-") if db is None else ("wasl", db.kind)
    return Row(target, database, len(workers), closed, steady_tally, verdict)


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    api = ReplyClock().start()
    rows: list[Row] = []
    index = 0
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            members = [700_000_000 + i for i in range(args.members)]
            for count in args.workers:
                index += 1
                floors = [Worker.floor(api, folder, n) for n in range(count)]
                rows.append(await measure(api, floors, args, members, index, None))
                print(_line(rows[-1], args.rate), flush=True)
            for kind in args.databases:
                for count in args.workers:
                    index += 1
                    db = Database(kind, folder, args.postgres)
                    try:
                        members = await db.create(folder, args.members)
                        workers = [Worker.wasl("serve", db, api, folder, n) for n in range(count)]
                        rows.append(await measure(api, workers, args, members, index, db))
                    finally:
                        await db.drop()
                    print(_line(rows[-1], args.rate), flush=True)
    finally:
        api.stop()
    ok = report(rows, args)
    print(f"total {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


HEADER = (
    f"{'':<6}{'database':<10}{'workers':>8}{'max upd/s':>11}{'offered/s':>11}{'p50 ms':>8}"
    f"{'p99 ms':>8}{'lost':>6}{'dup':>5}{'wrong':>6}{'joined':>7}{'mix %':>9}{'CPU ms':>7}"
    f"{'harness':>8}"
)


def _line(row: Row, rate: float) -> str:
    steady = row.steady
    offered = f"{steady.offered:.0f}" if steady else "-"
    p50 = ms(steady.p50) if steady else "-"
    p99 = ms(steady.p99) if steady else "-"
    v = row.verdict
    wrong = "-" if v.wrong is None else str(v.wrong)
    return (
        f"{row.target:<6}{row.database:<10}{row.workers:>8}{row.closed.per_second:>11.1f}"
        f"{offered:>11}{p50:>8}{p99:>8}{v.lost:>6}{v.duplicated:>5}{wrong:>6}"
        f"{v.joined:>7}{v.mix:>9}{row.closed.cpu_per_update * 1000:>7.1f}"
        f"{row.closed.harness_cpu:>7.0%} "
        + (
            f" overloaded: stopped offering at {steady.gave_up:.1f} s"
            if steady and steady.gave_up is not None
            else ""
        )
    )


def _find(rows: list[Row], target: str, database: str, workers: int) -> Row | None:
    for row in rows:
        if (row.target, row.database, row.workers) == (target, database, workers):
            return row
    return None


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(rows: list[Row], args: argparse.Namespace) -> bool:
    print()
    print(
        f"mix: 25% /start, 50% presses mid-joining, 25% member text; closed loop {args.users} "
        f"people for {args.closed:g} s; steady {args.rate:g} updates/s for {args.duration:g} s"
    )
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print(_line(row, args.rate))
        for line in row.verdict.problems:
            print(line)
    print(
        "'max upd/s': replies per second in the closed loop; 'offered/s', 'p50', 'p99': the "
        "steady run\n(POST to the reply at the fake Bot API); 'lost': updates without a reply "
        "(or refused); 'dup': extra replies;\n'wrong': people whose joining the database (or "
        "the bot's next keyboard) does not show as she did it;\n'joined': people who "
        "finished joining (each ticked two spheres at once); 'mix %': /start, "
        "press, text among the updates;\n'CPU ms': the workers' CPU per "
        "reply in the closed loop (what a busy machine changes least); 'harness': CPU of this\n"
        "process (people, fake Bot API) in the closed loop, in cores."
    )
    print("\ngoals (the inbound issue):")
    ok = True
    for kind in args.databases:
        for count in args.workers:
            wasl, base = _find(rows, "wasl", kind, count), _find(rows, "floor", "-", count)
            if wasl is None or base is None:
                continue
            ratio = wasl.closed.per_second / base.closed.per_second
            by_cpu = base.closed.cpu_per_update / wasl.closed.cpu_per_update
            ok &= ratio >= GOAL_RATIO
            print(
                f"  {kind:<9}{count} worker(s): throughput {ratio:.2f}x the floor "
                f"(goal >= {GOAL_RATIO}x): {_verdict(ratio >= GOAL_RATIO)}; "
                f"by CPU per update {by_cpu:.2f}x"
            )
        one = _find(rows, "wasl", kind, 1)
        if one is not None and one.steady is not None:
            p99 = one.steady.p99
            met = p99 < GOAL_P99 and not math.isnan(p99) and one.steady.gave_up is None
            ok &= met
            print(
                f"  {kind:<9}p99 {ms(p99)} ms at {args.rate:g}/s on one worker "
                f"(goal < {GOAL_P99 * 1000:.0f} ms at 100/s): {_verdict(met)}"
            )
        two = _find(rows, "wasl", kind, 2)
        if one is not None and two is not None:
            scale = two.closed.per_second / one.closed.per_second
            ok &= scale >= GOAL_SCALING
            print(
                f"  {kind:<9}2 workers {scale:.2f}x one (goal >= {GOAL_SCALING}x): "
                f"{_verdict(scale >= GOAL_SCALING)}"
            )
    wasl = [r.verdict for r in rows if r.target == "wasl"]
    lost = sum(v.lost + v.duplicated + (v.wrong or 0) for v in wasl)
    ok &= lost == 0
    joined = sum(v.joined for v in wasl)
    print(
        f"  lost taps, duplicates and wrong joinings: {lost} of {joined} joinings, each with two "
        f"ticks at once (goal 0): {_verdict(lost == 0)}"
    )
    print("all goals met" if ok else "GOALS MISSED")
    return ok


def parse(argv: list[str]) -> argparse.Namespace:
    description = __doc__.split("\n\n")[0]
    parser = traffic_options(description, workers="1,2", rate=100.0, duration=30.0)
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument(
        "--steady-all", action="store_true", help="the steady run for 2 workers too"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run: 5 s steady, 3 s closed, SQLite"
    )
    args = parser.parse_args(argv)
    if args.quick:
        quick(args)
        if "--databases" not in " ".join(argv):
            args.databases = "sqlite"
    args.databases = [d for d in args.databases.split(",") if d]
    args.workers = [int(n) for n in args.workers.split(",") if n]
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
