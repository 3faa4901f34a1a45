"""When a campaign is due: pure code, so tests can move time freely."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

ONCE = "once"
MAX_CATCH_UP = 1000
MISFIRE_GRACE = timedelta(hours=12)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # standard cron: 0 and 7 = Sunday
_NUMBERED_DAYS = re.compile(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?")


class ScheduleError(ValueError):
    """A schedule that cannot work: unparsable cron, unknown time zone, time in the past."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """now | at a time | recurring (cron: "0 9 * * mon" = Mondays 09:00 in `timezone`)."""

    kind: str
    run_at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def validate(self, now: datetime) -> None:
        if self.kind == "now":
            return
        if self.kind == "at":
            if self.run_at is None or self.run_at.tzinfo is None:
                raise ScheduleError("a time with a time zone is needed")
            if self.run_at < now:
                raise ScheduleError("that time is in the past")
            return
        if self.kind == "cron":
            self.trigger()
            return
        raise ScheduleError(f"unknown schedule kind {self.kind!r}")

    def trigger(self) -> CronTrigger:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ScheduleError(f"unknown time zone {self.timezone!r}") from error
        try:
            return CronTrigger.from_crontab(named_days(self.cron or ""), timezone=zone)
        except ValueError as error:
            raise ScheduleError(f"cron expression does not parse: {self.cron!r}") from error

    def due(
        self,
        now: datetime,
        last_fired: datetime | None,
        since: datetime,
        grace: timedelta = MISFIRE_GRACE,
    ) -> str | None:
        """The occurrence key due at `now`, or None.

        Missed recurring times (the bot was down) are coalesced into the latest one, and dropped
        when older than `grace` (Monday's message is not sent on Thursday). The key is the
        scheduled time, so firing the same occurrence twice is impossible.
        """
        if self.kind == "now":
            return ONCE if last_fired is None else None
        if self.kind == "at":
            assert self.run_at is not None
            return self.run_at.isoformat() if last_fired is None and now >= self.run_at else None
        trigger = self.trigger()
        zone = ZoneInfo(self.timezone)
        previous = last_fired or since
        # Times older than `grace` are dropped anyway: start there, so a long outage cannot use
        # up MAX_CATCH_UP before reaching the times still due (the schedule would stall forever).
        cursor = max(previous, now - grace)
        latest: datetime | None = None
        for _ in range(MAX_CATCH_UP):
            # APScheduler 3 returns the first fire time after `cursor` (or at/after `now`).
            fire = trigger.get_next_fire_time(cursor, now)
            if fire is None or fire > now or fire <= cursor:
                break
            cursor = fire
            if _wall(fire, zone) == _wall(previous, zone):
                continue  # the clock was set back (end of DST) and showed this time again: once
            latest = previous = fire
        if latest is None or latest < now - grace:
            return None
        return latest.isoformat()

    def next_time(self, after: datetime) -> datetime | None:
        """The next time this schedule fires after `after` (for previews)."""
        if self.kind == "now":
            return after
        if self.kind == "at":
            return self.run_at if self.run_at and self.run_at >= after else None
        fire: datetime | None = self.trigger().get_next_fire_time(None, after)
        return fire


def named_days(cron: str) -> str:
    """Numbered days as names: standard cron counts 0-7 from Sunday, APScheduler 3 counts from
    Monday ("0 9 * * 1" would fire on Tuesdays). Named days mean the same in both."""
    fields = cron.split()
    if len(fields) != 5 or fields[4] == "*":
        return cron
    days: list[str] = []
    for part in fields[4].split(","):
        match = _NUMBERED_DAYS.fullmatch(part)
        if match is None:
            days.append(part)  # "mon", "mon-fri": left to APScheduler
            continue
        start, end, step = match.groups()
        low = 0 if start == "*" else int(start)
        high = int(end) if end else (6 if start == "*" or step else low)
        if high > 7 or low > high:
            raise ValueError(f"day of week out of range: {part!r}")
        days.extend(_CRON_DAYS[day % 7] for day in range(low, high + 1, int(step or 1)))
    fields[4] = ",".join(dict.fromkeys(days))
    return " ".join(fields)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """What a wall clock in `zone` showed at `moment`."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)
