"""Several workers, measured: webhooks to 1, 2 and 3 Wasl workers on PostgreSQL, and the
delivery leader killed mid-stream.

People write through a webhook (bench/traffic.py: new members joining by `/start` and the
buttons the bot really sent, members' texts) to `wasl serve` workers on one fresh PostgreSQL
database, behind a round-robin front in this process, against the fake Bot API. For 1, 2 and
3 workers it prints the most updates per second answered (closed loop: `--users` people, each
writing again once she has her reply) and the p50/p99 latency from the POST to the reply
reaching the fake Bot API at a steady `--rate` for `--duration` s; with two or more workers,
`--joiners` newcomers then join at once (two ticks posted together each) for the lost-tap check.

The kill run: `--kill-workers` workers started as `wasl run` with a webhook (webhooks, and the
delivery worker and scheduler in whichever holds the leader lock, storage/leader.py), a steady
`--kill-rate` stream, and the leader killed with SIGKILL `--kill-at` s in. The front sends
what the dead worker refuses to the next one (as a proxy with health checks would); what it
had accepted but not finished is taken again once its inbox lease (`WASL_INBOX_LEASE`, here
`--lease` s) expires. It reports updates without a reply, duplicate replies, joinings the
database does not show as done, and the seconds from the kill until a standby logged that it
leads (a standby checks every 5 s).

    python bench/webhooks.py [--workers 1,2,3] [--rate 50] [--duration 20] [--closed 6]
                             [--kill-workers 3] [--kill-rate 10] [--kill-duration 20]
                             [--kill-at 8] [--lease 5] [--quick]
                             [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.traffic import (
    Database,
    ReplyClock,
    Traffic,
    Worker,
    ms,
    quick,
    run_traffic,
    serving,
    traffic_options,
)
from bench.traffic import verdict as verdict_of

LEADS = ("event=runtime_started", "event=runtime_took_over")  # what a leader logs


def leading(worker: Worker) -> bool:
    return any(line in worker.output() for line in LEADS)


async def scaling(api: ReplyClock, folder: Path, args: argparse.Namespace) -> bool:
    header = (
        f"{'workers':>8}{'max upd/s':>11}{'x one':>7}{'offered/s':>11}{'p50 ms':>8}"
        f"{'p99 ms':>9}{'lost':>6}{'dup':>5}{'wrong':>6}{'joined':>7}{'mix %':>9}{'CPU ms':>7}"
        f"{'harness':>8}"
    )
    print(header)
    print("-" * len(header))
    ok, one = True, None
    for index, count in enumerate(args.workers, start=1):
        db = Database("postgres", folder, args.postgres)
        try:
            members = await db.create(folder, args.members)
            workers = [Worker.wasl("serve", db, api, folder, n) for n in range(count)]
            closed, steady, verdict = await run_traffic(
                api,
                workers,
                members,
                db,
                index=index,
                users=args.users,
                closed=args.closed,
                rate=args.rate,
                seconds=args.duration,
                joiners=args.joiners if count > 1 else 0,
            )
        finally:
            await db.drop()
        assert steady is not None
        ok &= verdict.clean
        one = one or closed.per_second
        overloaded = (
            "" if steady.gave_up is None else f" overloaded: stopped at {steady.gave_up:.1f} s"
        )
        print(
            f"{count:>8}{closed.per_second:>11.1f}{closed.per_second / one:>7.2f}"
            f"{steady.offered:>11.0f}{ms(steady.p50):>8}{ms(steady.p99):>9}{verdict.lost:>6}"
            f"{verdict.duplicated:>5}{verdict.wrong:>6}{verdict.joined:>7}{verdict.mix:>9}"
            f"{closed.cpu_per_update * 1000:>7.1f}{closed.harness_cpu:>7.0%}{overloaded}",
            flush=True,
        )
        for line in verdict.problems:
            print(line)
    return ok


async def kill_run(api: ReplyClock, folder: Path, args: argparse.Namespace) -> bool:
    db = Database("postgres", folder, args.postgres)
    try:
        members = await db.create(folder, args.members)
        lease = {"WASL_INBOX_LEASE": f"{args.lease:g}"}
        workers = [
            Worker.wasl("run", db, api, folder, n, **lease) for n in range(args.kill_workers)
        ]
        took_over: list[float] = []
        async with serving(workers, api) as front:
            await asyncio.sleep(0.5)
            leaders = [w for w in workers if leading(w)]
            if len(leaders) != 1:
                raise SystemExit(f"expected one leader, found {len(leaders)}")
            leader = leaders[0]
            standbys = [w for w in workers if w is not leader]
            traffic = Traffic(api, members, seed=99, first_new=9_000_000, wait=args.lease + 25)

            async def kill() -> None:
                await asyncio.sleep(args.kill_at)
                leader.kill()
                killed = time.monotonic()
                while time.monotonic() - killed < 30:
                    if any(leading(w) for w in standbys):
                        took_over.append(time.monotonic() - killed)
                        return
                    await asyncio.sleep(0.05)

            killer = asyncio.create_task(kill())
            steady = await traffic.steady(
                front, args.kill_rate, args.kill_duration, warmup=0, give_up=None
            )
            await traffic.settle(quiet=args.lease + 10)
            await killer
            failovers = front.failovers
            killed = Counter(e for w in workers for e in w.warnings())
        verdict = await verdict_of(traffic, api, db)
        verdict.problems.append(f"    workers' warnings: {dict(killed.most_common(6))}")
    finally:
        await db.drop()
    lost, dup, wrong = verdict.lost, verdict.duplicated, verdict.wrong
    takeover = f"{took_over[0]:.1f} s" if took_over else "NOT within 30 s"
    longest = max(steady.latencies, default=float("nan"))
    print(
        f"\nkill run: {args.kill_workers} `wasl run` workers (webhook), {args.kill_rate:g} "
        f"updates/s for {args.kill_duration:g} s, the leader SIGKILLed at {args.kill_at:g} s, "
        f"inbox lease {args.lease:g} s"
    )
    print(
        f"  updates {steady.posted}, answered {steady.posted - lost}, lost {lost}, duplicate "
        f"replies {dup}, joined {verdict.joined}; wrong: {(wrong or 0) - verdict.astray} "
        f"joinings in the database, {verdict.astray} presses on a keyboard not of her next step "
        "(a repeated reply made her press before the real one came)"
    )
    print(
        f"  p50 {ms(steady.p50)} ms, p99 {ms(steady.p99)} ms, longest {ms(longest)} ms; "
        f"POSTs refused by the dead worker and sent to the next: {failovers}"
    )
    print(f"  a standby leads {takeover} after the kill")
    for line in verdict.problems:
        print(line)
    return verdict.clean and bool(took_over)


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    api = ReplyClock().start()
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            print(
                f"PostgreSQL, `wasl serve` workers behind a round-robin front; closed loop "
                f"{args.users} people for {args.closed:g} s; steady {args.rate:g} updates/s "
                f"for {args.duration:g} s"
            )
            ok = await scaling(api, folder, args) if args.workers else True
            if args.kill_workers >= 2:
                ok &= await kill_run(api, folder, args)
    finally:
        api.stop()
    print(
        "\n'max upd/s': replies per second in the closed loop; 'offered/s', 'p50', 'p99': the "
        "steady run (POST to the\nreply at the fake Bot API); 'lost': updates without a reply; "
        "'dup': extra replies; 'wrong': people whose\njoining the database does not show as "
        "she did it; 'mix %': /start, press, text; 'CPU ms': the workers' CPU per reply in "
        "the closed\nloop; 'harness': CPU of this process (people, fake API)."
    )
    print("nothing lost, nothing repeated" if ok else "LOST OR REPEATED UPDATES (see above)")
    print(f"total {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


def parse(argv: list[str]) -> argparse.Namespace:
    description = __doc__.split("\n\n")[0]
    parser = traffic_options(description, workers="1,2,3", rate=50.0, duration=20.0)
    parser.add_argument("--kill-workers", type=int, default=3, help="0: no kill run")
    parser.add_argument("--kill-rate", type=float, default=10.0)
    parser.add_argument("--kill-duration", type=float, default=20.0)
    parser.add_argument("--kill-at", type=float, default=8.0, help="seconds into the stream")
    parser.add_argument("--lease", type=float, default=5.0, help="WASL_INBOX_LEASE, seconds")
    parser.add_argument("--quick", action="store_true", help="1 and 2 workers, short runs")
    args = parser.parse_args(argv)
    if args.quick:
        quick(args)
        args.kill_duration, args.kill_at, args.kill_workers = 12.0, 4.0, 2
        if "--workers" not in " ".join(argv):
            args.workers = "1,2"
    args.workers = [int(n) for n in args.workers.split(",") if n]
    return args


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
