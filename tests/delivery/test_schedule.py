"""When a campaign is due: now, at a time, recurring in a time zone, across DST, after downtime."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.schedule import ONCE, Schedule, ScheduleError, named_days

BAGHDAD = ZoneInfo("Asia/Baghdad")  # UTC+3 all year
PARIS = ZoneInfo("Europe/Paris")  # CET/CEST: summer time from 29 March to 25 October 2026
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def fire_all(
    schedule: Schedule, start: datetime, end: datetime, step: timedelta = 10 * MIN
) -> list[str]:
    """Every occurrence key a scheduler polling every `step` from `start` to `end` fires."""
    keys: list[str] = []
    last: datetime | None = None
    now = start
    while now <= end:
        key = schedule.due(now, last, since=start)
        if key is not None:
            keys.append(key)
            last = datetime.fromisoformat(key) if key != ONCE else now
        now += step
    return keys


# -- now and at ---------------------------------------------------------------------------------


def test_now_fires_once() -> None:
    schedule = Schedule("now")
    now = datetime(2026, 2, 2, 8, tzinfo=UTC)
    assert schedule.due(now, None, since=now) == ONCE
    assert schedule.due(now + H, now, since=now) is None
    assert schedule.next_time(now) == now
    schedule.validate(now)


def test_at_fires_once_at_its_time() -> None:
    at = datetime(2026, 2, 2, 9, 30, tzinfo=BAGHDAD)
    schedule = Schedule("at", run_at=at, timezone="Asia/Baghdad")
    before = at - MIN
    assert schedule.due(before, None, since=CREATED) is None
    assert schedule.due(at, None, since=CREATED) == "2026-02-02T09:30:00+03:00"
    assert schedule.due(at + 5 * H, None, since=CREATED) == at.isoformat()  # late, still once
    assert schedule.due(at + MIN, at, since=CREATED) is None
    assert schedule.next_time(before) == at
    assert schedule.next_time(at + MIN) is None
    assert fire_all(schedule, at - 2 * H, at + 2 * H) == [at.isoformat()]


def test_at_key_is_the_same_instant_whichever_zone_wrote_it() -> None:
    at = datetime(2026, 2, 2, 9, 30, tzinfo=BAGHDAD)
    key = Schedule("at", run_at=at).due(at, None, since=CREATED)
    assert key is not None
    assert datetime.fromisoformat(key) == at.astimezone(UTC)


# -- recurring ----------------------------------------------------------------------------------


def test_weekly_in_baghdad_is_monday_nine_local_all_year() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Asia/Baghdad")
    after = datetime(2026, 1, 1, tzinfo=UTC)
    times = []
    for _ in range(60):
        fire = schedule.next_time(after)
        assert fire is not None
        times.append(fire)
        after = fire + MIN
    for fire in times:
        local = fire.astimezone(BAGHDAD)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert fire.astimezone(UTC).hour == 6  # no DST: always 06:00 UTC
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(times))


def test_weekly_in_baghdad_due_exactly_at_the_time() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Asia/Baghdad")
    monday_9 = datetime(2026, 1, 5, 9, tzinfo=BAGHDAD)
    assert schedule.due(monday_9 - MIN, None, since=CREATED) is None
    assert schedule.due(monday_9, None, since=CREATED) == "2026-01-05T09:00:00+03:00"
    assert schedule.due(monday_9 + H, monday_9, since=CREATED) is None
    next_monday = monday_9 + timedelta(days=7)
    assert schedule.due(next_monday, monday_9, since=CREATED) == next_monday.isoformat()


def test_weekly_in_paris_stays_at_nine_local_across_the_spring_change() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Europe/Paris")
    keys = fire_all(
        schedule, datetime(2026, 3, 16, tzinfo=UTC), datetime(2026, 4, 7, tzinfo=UTC), MIN * 5
    )
    assert keys == [
        "2026-03-16T09:00:00+01:00",
        "2026-03-23T09:00:00+01:00",  # 08:00 UTC
        "2026-03-30T09:00:00+02:00",  # 07:00 UTC: the clocks went forward on the 29th
        "2026-04-06T09:00:00+02:00",
    ]
    utc_hours = [datetime.fromisoformat(k).astimezone(UTC).hour for k in keys]
    assert utc_hours == [8, 8, 7, 7]


def test_weekly_in_paris_stays_at_nine_local_across_the_autumn_change() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Europe/Paris")
    keys = fire_all(
        schedule, datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), MIN * 5
    )
    assert keys == [
        "2026-10-19T09:00:00+02:00",
        "2026-10-26T09:00:00+01:00",
        "2026-11-02T09:00:00+01:00",
    ]


def test_a_time_the_clock_shows_twice_fires_once() -> None:
    """25 October 2026, Paris: 02:30 happens at 00:30 UTC and again at 01:30 UTC."""
    schedule = Schedule("cron", cron="30 2 * * sun", timezone="Europe/Paris")
    keys = fire_all(
        schedule, datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), 10 * MIN
    )
    assert keys == ["2026-10-25T02:30:00+02:00", "2026-11-01T02:30:00+01:00"]


def test_a_time_the_clock_skips_fires_once() -> None:
    """29 March 2026, Paris: the clocks jump from 02:00 to 03:00; there is no 02:30."""
    schedule = Schedule("cron", cron="30 2 * * sun", timezone="Europe/Paris")
    keys = fire_all(
        schedule, datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC), 10 * MIN
    )
    assert len(keys) == 2
    assert keys[1] == "2026-04-05T02:30:00+02:00"
    assert datetime.fromisoformat(keys[0]).date().isoformat() == "2026-03-29"


def test_daily_polling_fires_every_day_once() -> None:
    schedule = Schedule("cron", cron="15 7 * * *", timezone="Asia/Baghdad")
    keys = fire_all(
        schedule, datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 31, tzinfo=UTC), 7 * MIN
    )
    assert len(keys) == len(set(keys)) == 30


def test_missed_times_are_coalesced_into_the_latest() -> None:
    schedule = Schedule("cron", cron="0 9 * * *", timezone="UTC")
    last = datetime(2026, 2, 1, 9, tzinfo=UTC)
    now = datetime(2026, 2, 4, 10, tzinfo=UTC)  # down for three days
    assert schedule.due(now, last, since=CREATED) == "2026-02-04T09:00:00+00:00"
    assert schedule.due(now + MIN, datetime(2026, 2, 4, 9, tzinfo=UTC), since=CREATED) is None


def test_a_missed_time_past_the_grace_is_dropped_not_sent_late() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Asia/Baghdad")
    last = datetime(2026, 1, 5, 9, tzinfo=BAGHDAD)
    monday = datetime(2026, 1, 12, 9, tzinfo=BAGHDAD)
    assert schedule.due(monday + 11 * H, last, since=CREATED) == monday.isoformat()
    assert schedule.due(monday + 13 * H, last, since=CREATED) is None  # Monday's, not on Tuesday
    assert schedule.due(monday + 3 * H, last, since=CREATED, grace=2 * H) is None
    assert schedule.due(monday + H, last, since=CREATED, grace=2 * H) == monday.isoformat()
    # and the next Monday comes round as usual
    following = monday + timedelta(days=7)
    assert schedule.due(following, last, since=CREATED) == following.isoformat()


def test_a_frequent_schedule_resumes_after_a_long_outage() -> None:
    """More missed times than MAX_CATCH_UP must not stall the schedule for ever."""
    schedule = Schedule("cron", cron="* * * * *", timezone="UTC")
    now = datetime(2026, 3, 3, 12, 0, 30, tzinfo=UTC)
    last = now - timedelta(days=2)
    assert schedule.due(now, last, since=CREATED) == "2026-03-03T12:00:00+00:00"
    hourly = Schedule("cron", cron="0 * * * *", timezone="UTC")
    assert hourly.due(now, now - timedelta(days=60), since=CREATED) == "2026-03-03T12:00:00+00:00"


def test_a_new_recurring_campaign_waits_for_its_first_time() -> None:
    schedule = Schedule("cron", cron="0 9 * * mon", timezone="Asia/Baghdad")
    created = datetime(2026, 1, 5, 9, 30, tzinfo=BAGHDAD)  # just after this Monday's time
    assert schedule.due(created + H, None, since=created) is None
    next_monday = datetime(2026, 1, 12, 9, tzinfo=BAGHDAD)
    assert schedule.due(next_monday, None, since=created) == next_monday.isoformat()


@pytest.mark.parametrize(
    ("cron", "weekdays"),
    [
        ("0 9 * * 1", {0}),  # standard cron: 1 = Monday (APScheduler alone would say Tuesday)
        ("0 9 * * 0", {6}),
        ("0 9 * * 7", {6}),
        ("0 9 * * 1-5", {0, 1, 2, 3, 4}),
        ("0 9 * * 0,6", {5, 6}),
        ("0 9 * * 5-7", {4, 5, 6}),
        ("0 9 * * */2", {6, 1, 3, 5}),  # Sunday, Tuesday, Thursday, Saturday
        ("0 9 * * mon", {0}),
        ("0 9 * * MON-FRI", {0, 1, 2, 3, 4}),
        ("0 9 * * sun,3", {6, 2}),
        ("0 9 * * *", set(range(7))),
    ],
)
def test_days_of_week_mean_what_crontab_says(cron: str, weekdays: set[int]) -> None:
    schedule = Schedule("cron", cron=cron, timezone="Asia/Baghdad")
    schedule.validate(CREATED)
    seen = set()
    after = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(21):
        fire = schedule.next_time(after)
        assert fire is not None
        seen.add(fire.astimezone(BAGHDAD).weekday())
        after = fire + MIN
    assert seen == weekdays


def test_named_days_leaves_names_alone() -> None:
    assert named_days("0 9 * * mon") == "0 9 * * mon"
    assert named_days("0 9 * * *") == "0 9 * * *"
    assert named_days("0 9 * * 1,2") == "0 9 * * mon,tue"
    assert named_days("not a cron") == "not a cron"


# -- validation ---------------------------------------------------------------------------------

NOW = datetime(2026, 2, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Schedule("at", run_at=NOW - MIN), "past"),
        (Schedule("at", run_at=datetime(2027, 1, 1, 9)), "time zone"),  # naive
        (Schedule("at"), "time zone"),
        (Schedule("cron", cron="0 9 * * mon", timezone="Mars/Olympus_Mons"), "time zone"),
        (Schedule("cron", cron="0 9 * * mon", timezone=""), "time zone"),
        (Schedule("cron", cron="every monday"), "does not parse"),
        (Schedule("cron", cron="61 9 * * mon"), "does not parse"),
        (Schedule("cron", cron="0 25 * * mon"), "does not parse"),
        (Schedule("cron", cron="0 9 * *"), "does not parse"),
        (Schedule("cron", cron="0 9 * * 8"), "does not parse"),
        (Schedule("cron", cron="0 9 * * 5-2"), "does not parse"),
        (Schedule("cron", cron="0 9 * * */0"), "does not parse"),
        (Schedule("cron", cron=None), "does not parse"),
        (Schedule("sometimes"), "unknown schedule kind"),
    ],
)
def test_validate_refuses(schedule: Schedule, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        schedule.validate(NOW)


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule("now"),
        Schedule("at", run_at=NOW),
        Schedule("at", run_at=datetime(2026, 2, 2, 15, 1, tzinfo=BAGHDAD)),
        Schedule("cron", cron="0 9 * * mon", timezone="Asia/Baghdad"),
        Schedule("cron", cron="30 18 1 * *", timezone="Africa/Lagos"),
    ],
)
def test_validate_accepts(schedule: Schedule) -> None:
    schedule.validate(NOW)


def test_an_unparsable_schedule_also_fails_when_asked_if_due() -> None:
    with pytest.raises(ScheduleError):
        Schedule("cron", cron="nope").due(NOW, None, since=CREATED)
