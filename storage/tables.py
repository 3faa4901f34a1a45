"""The tables. Schema changes go through Alembic migrations (storage/migrations), never create_all.

Survey answers (later) live in tables with no link to these: see docs/privacy.md, promise 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

metadata = SQLModel.metadata


class _Table(SQLModel):
    """Every table. Rows are read and written through SQLAlchemy Core, so pydantic builds a
    row class's validator only if one is ever validated (`defer_build`): it saves about 0.2 s
    at every start of the bot and of the command line."""

    model_config = {"defer_build": True}


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class MemberRow(_Table, table=True):
    """A person who joined. Unique per channel and platform id."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("channel", "platform_id", name="uq_member_channel_pid"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    country: str | None = Field(default=None, max_length=2, index=True)
    role: str = Field(max_length=16, index=True)
    status: str = Field(max_length=16, index=True)
    timezone: str | None = Field(default=None, max_length=64)
    consent_version: str = Field(max_length=16)
    consented_at: datetime = _when()
    joined_at: datetime = _when()
    last_seen_at: datetime = _when()
    # A random number fixed when she joins: reports add up their contributors' keys into a
    # cell key that decides the cell's noise (bot/reports/disclosure.py). Says nothing alone.
    record_key: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=sql_text("0"))
    )
    # A language she also reads: tips and surveys missing in hers are shown in it. Never a
    # breakdown of any count (docs/privacy.md); deleted with her row.
    second_locale: str | None = Field(default=None, max_length=16)


class MemberSphereRow(_Table, table=True):
    """The spheres of work a member chose (a row each, so targeting and counts stay in SQL)."""

    __tablename__ = "member_sphere"

    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    sphere: str = Field(primary_key=True, max_length=32, index=True)


class InviteRow(_Table, table=True):
    """An invitation code (the deep-link payload)."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    country: str | None = Field(default=None, max_length=2)
    uses_left: int
    expires_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    created_by: str = Field(max_length=64)
    revoked_at: datetime | None = _when(nullable=True)


class ConversationStateRow(_Table, table=True):
    """Where a chat is in a conversation; survives restarts and is shared by workers."""

    __tablename__ = "conversation_state"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    flow: str | None = Field(default=None, max_length=32)
    step: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _when(index=True)
    # Her finished survey answers waiting to be counted with others' (survey id → answers and
    # the groups not counted yet): erased once counted, with her state on /forget.
    survey_pending: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    # Moved on by every save of her flow state: a save from an older version is refused, so
    # two workers (or the survey closing) never overwrite each other's changes unseen.
    version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=sql_text("0"))
    )


class ProcessedUpdateRow(_Table, table=True):
    """Platform update ids already handled, so a redelivery is handled once."""

    __tablename__ = "processed_update"

    channel: str = Field(primary_key=True, max_length=16)
    update_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime = _when(index=True)


class InboxRow(_Table, table=True):
    """A platform update accepted by a webhook, kept until it has been processed.

    Written and committed before the webhook answers 200, so a crash after the answer loses
    nothing; deleted once processed (processed_update keeps the dedupe). status: pending or
    claimed (by a worker until `claimed_until`: a worker that died lets its lease expire).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id", name="uq_inbox_channel_pid"),
        Index("ix_inbox_chat", "channel", "chat_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=160)
    chat_key: str = Field(max_length=160)  # updates of one chat are processed in order
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the update, as JSON text
    received_at: datetime = _when(index=True)
    status: str = Field(max_length=16)
    claimed_until: datetime | None = _when(nullable=True)
    attempts: int = 0


class AuditLogRow(_Table, table=True):
    """Who did what: coordinator, secretariat and admin actions, role changes, invites."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str = Field(max_length=64)
    actor_member_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    subject_member_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    action: str = Field(max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ChatMessageRow(_Table, table=True):
    """Recent message ids in a member's chat, so /wipe can delete them (kept under 48 hours)."""

    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_chat", "channel", "chat_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    at: datetime = _when()


class DashboardLinkRow(_Table, table=True):
    """A short-lived link to the web dashboard that /dashboard gave one secretariat member.

    Only a hash of the token is kept: a copy of the database does not open the dashboard.
    """

    __tablename__ = "dashboard_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime = _when()
    expires_at: datetime = _when(index=True)


class CampaignRow(_Table, table=True):
    """Something sent to many: an alert, a campaign, a survey push, a reminder, a digest.

    Texts are per language; the audience and schedule are data, so a restart loses nothing.
    """

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    status: str = Field(max_length=24, index=True)
    title: str = Field(max_length=120)
    default_locale: str = Field(max_length=16)
    texts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    schedule: str = Field(max_length=8)  # now | at | cron
    run_at: datetime | None = _when(nullable=True)
    cron: str | None = Field(default=None, max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    priority: int = Field(default=10)
    created_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    approved_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = _when()
    approved_at: datetime | None = _when(nullable=True)
    cancelled_at: datetime | None = _when(nullable=True)
    template_name: str | None = Field(default=None, max_length=128)
    template_language: str | None = Field(default=None, max_length=16)
    # The field update whose words this campaign carries (an urgent notice): its texts are
    # blanked when the update goes, by /forget or by retention (storage/erasure.py).
    source_update_id: int | None = Field(default=None, index=True)


class OccurrenceRow(_Table, table=True):
    """One firing of a campaign; unique per (campaign, key) so a time fires once."""

    __tablename__ = "campaign_occurrence"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_occurrence_key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(max_length=64)
    fired_at: datetime = _when()
    recipients: int = 0
    progress_chat: str | None = Field(default=None, max_length=64)
    progress_channel: str | None = Field(default=None, max_length=16)
    progress_message_id: str | None = Field(default=None, max_length=64)
    progress_locale: str | None = Field(default=None, max_length=16)
    finished_at: datetime | None = _when(nullable=True)


class OutboxRow(_Table, table=True):
    """One message to one member, sent by the delivery worker under the platform's limits.

    status: pending → claimed → sending → sent | failed | unreachable | cancelled | needs_template.
    "sending" is written just before the API call, so after a crash the in-flight rows are known.
    The statement that makes a row final also empties its text and buttons: what stays is what
    the reports count (status, channel, campaign, times, error).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=96)
    campaign_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    occurrence_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("campaign_occurrence.id", ondelete="CASCADE"),
            nullable=True,
            index=True,
        ),
    )
    # None for a reply to someone who has not joined (or has just erased herself)
    member_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    channel: str = Field(max_length=16)
    priority: int
    text: str
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Replies only: where to (broadcasts read the member's), the message edited in place, and
    # the rest of the Outbound (columns, typed, an attachment)
    chat_id: str | None = Field(default=None, max_length=64)
    edit_message_id: str | None = Field(default=None, max_length=64)
    layout: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    claimed_at: datetime | None = _when(nullable=True)
    # a send that timed out when it may already have reached her
    attempted_at: datetime | None = _when(nullable=True)
    sent_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, max_length=200)
    platform_message_id: str | None = Field(default=None, max_length=128, index=True)
    delivery_status: str | None = Field(default=None, max_length=16)  # delivered, read…
    created_at: datetime = _when()


# The Core-level tables, for SQLAlchemy Core statements on hot paths.
member_t = MemberRow.__table__  # type: ignore[attr-defined]
sphere_t = MemberSphereRow.__table__  # type: ignore[attr-defined]
invite_t = InviteRow.__table__  # type: ignore[attr-defined]
state_t = ConversationStateRow.__table__  # type: ignore[attr-defined]
update_t = ProcessedUpdateRow.__table__  # type: ignore[attr-defined]
inbox_t = InboxRow.__table__  # type: ignore[attr-defined]
audit_t = AuditLogRow.__table__  # type: ignore[attr-defined]
message_t = ChatMessageRow.__table__  # type: ignore[attr-defined]
dashboard_link_t = DashboardLinkRow.__table__  # type: ignore[attr-defined]
campaign_t = CampaignRow.__table__  # type: ignore[attr-defined]
occurrence_t = OccurrenceRow.__table__  # type: ignore[attr-defined]
outbox_t = OutboxRow.__table__  # type: ignore[attr-defined]


class IdCounterRow(_Table, table=True):
    """The highest id ever given, per table, so an erased member's id is never given again
    (SQLite reuses the highest rowid once its row is deleted; PostgreSQL's sequences never do).
    """

    __tablename__ = "id_counter"

    name: str = Field(primary_key=True, max_length=32)
    last: int = 0


id_counter_t = IdCounterRow.__table__  # type: ignore[attr-defined]


class FieldUpdateRow(_Table, table=True):
    """A short update from the ground. Its text expires after the retention period."""

    __tablename__ = "field_update"
    __table_args__ = (Index("ix_field_update_queue", "status", "country", "urgent", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    country: str = Field(max_length=2)
    locale: str = Field(max_length=16)
    urgent: bool = False
    text: str | None = None
    media_kind: str | None = Field(default=None, max_length=16)
    media_ref: str | None = Field(default=None, max_length=256)  # platform file id, not the file
    keep_if_shared: bool = False  # she agreed the text may outlive retention once approved
    # She agreed its words may be quoted, without her name, in country briefs (once approved).
    quotable: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=sql_text("false"))
    )
    status: str = Field(max_length=16)  # new | approved | internal | rejected | tip
    created_at: datetime = _when(index=True)
    moderated_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    moderated_at: datetime | None = _when(nullable=True)
    shared_at: datetime | None = _when(nullable=True)  # put in a weekly digest


class FieldUpdateSphereRow(_Table, table=True):
    """The spheres an update concerns."""

    __tablename__ = "field_update_sphere"

    update_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("field_update.id", ondelete="CASCADE"), primary_key=True
        )
    )
    sphere: str = Field(primary_key=True, max_length=32, index=True)


class UpdateTallyRow(_Table, table=True):
    """Anonymous counts of updates (country, sphere, week, urgency): kept after the text goes."""

    __tablename__ = "update_tally"

    country: str = Field(primary_key=True, max_length=2)
    sphere: str = Field(primary_key=True, max_length=32)
    week: str = Field(primary_key=True, max_length=10)  # the Monday, ISO date
    urgent: bool = Field(primary_key=True)
    count: int = 0
    # The sum of the counted updates' random record keys (cell-key method): the updates are
    # deleted in time, their keys live on only as this sum.
    key_sum: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=sql_text("0"))
    )


class TipRow(_Table, table=True):
    """A good practice, with translations; loaded from content files or drafted from updates."""

    __tablename__ = "tip"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    default_locale: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=300)
    published: bool = Field(default=False, index=True)
    from_update_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("field_update.id", ondelete="SET NULL"), nullable=True
        ),
    )
    created_at: datetime = _when()
    updated_at: datetime = _when()


class TipSphereRow(_Table, table=True):
    __tablename__ = "tip_sphere"

    tip_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    )
    sphere: str = Field(primary_key=True, max_length=32, index=True)


class TipTextRow(_Table, table=True):
    """A tip's title and body in one language."""

    __tablename__ = "tip_text"

    tip_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    )
    locale: str = Field(primary_key=True, max_length=16)
    title: str = Field(max_length=120)
    body: str


class TipRatingRow(_Table, table=True):
    """Helpful or not, one vote per member and tip (deleted with her on /forget)."""

    __tablename__ = "tip_rating"

    tip_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tip.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    helpful: bool
    at: datetime = _when()


update_row_t = FieldUpdateRow.__table__  # type: ignore[attr-defined]
update_sphere_t = FieldUpdateSphereRow.__table__  # type: ignore[attr-defined]
tally_t = UpdateTallyRow.__table__  # type: ignore[attr-defined]


class OutboxSourceRow(_Table, table=True):
    """Which field updates an outbox row quotes (a digest quotes several): when an update goes,
    by /forget or by retention, the rows still waiting to be sent with its words go too."""

    __tablename__ = "outbox_source"

    outbox_id: int = Field(
        sa_column=Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    )
    update_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("field_update.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )


outbox_source_t = OutboxSourceRow.__table__  # type: ignore[attr-defined]
tip_t = TipRow.__table__  # type: ignore[attr-defined]
tip_sphere_t = TipSphereRow.__table__  # type: ignore[attr-defined]
tip_text_t = TipTextRow.__table__  # type: ignore[attr-defined]
tip_rating_t = TipRatingRow.__table__  # type: ignore[attr-defined]


class SurveyRow(_Table, table=True):
    """A survey: its validated definition (questions, texts, audience) and its window."""

    __tablename__ = "survey"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=48, unique=True)
    mode: str = Field(max_length=16)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    opens_at: datetime = _when()
    closes_at: datetime = _when(index=True)
    closed_at: datetime | None = _when(nullable=True)
    pushed_at: datetime | None = _when(nullable=True)  # the invitation went to the audience
    created_at: datetime = _when()
    results_sent_at: datetime | None = _when(nullable=True)  # to participants who asked
    # Public surveys: with WASL_SECRET_KEY, keys the respondents' hashes; made at the first
    # answer, destroyed at close, so nothing can be recomputed afterwards, key or not.
    respondent_salt: str | None = Field(default=None, max_length=64)


class SurveyParticipationRow(_Table, table=True):
    """That a member started or completed a survey — never what she answered."""

    __tablename__ = "survey_participation"

    survey_id: int = Field(
        sa_column=Column(Integer, ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    )
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    status: str = Field(max_length=16)  # started | completed | declined
    reminders_sent: int = 0
    results_opt_in: bool = False


class SurveyPublicSeenRow(_Table, table=True):
    """A keyed hash of a public respondent's platform id, to stop double answers; deleted at
    close. Its key derives from WASL_SECRET_KEY, which is never in the database, and from the
    survey's respondent_salt: a copy of the database cannot test a candidate id."""

    __tablename__ = "survey_public_seen"

    survey_id: int = Field(
        sa_column=Column(Integer, ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    )
    digest: str = Field(primary_key=True, max_length=64)


class SurveyCountRow(_Table, table=True):
    """How many answers gave `answer` to `question` among the respondents in one group: the
    only form survey answers are stored in (no row belongs to one respondent).

    `dimension` is "none" (everyone, `value` "") or a breakdown the survey declares (country,
    sphere, language…, `value` its code), or a declared crosstab "x:q1:q2" (`value` an answer
    to q1, and only q2's answers counted). `answer` is an option, "yes"/"no", a scale point, a
    number's range ("#2"), or "" for free text given. `question` "" counts respondents (the
    headcount of the group). A group's counters are only ever added to in a batch in which at
    least k respondents share its value (storage.surveys.SurveyRepository.fold).
    """

    __tablename__ = "survey_count"
    __table_args__ = ({"sqlite_with_rowid": False},)

    survey_id: int = Field(
        sa_column=Column(Integer, ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    )
    question: str = Field(primary_key=True, max_length=16)
    answer: str = Field(primary_key=True, max_length=16)
    dimension: str = Field(primary_key=True, max_length=40)  # "x:q1:q2" for a crosstab
    value: str = Field(primary_key=True, max_length=32)
    count: int = 0


class SurveyTextRow(_Table, table=True):
    """A free-text answer, apart from every attribute of whoever wrote it: no group, no time.

    Under a random id, WITHOUT ROWID on SQLite, so neither the key nor the physical order
    follows arrival. Released only once the survey has at least k respondents.
    """

    __tablename__ = "survey_text"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: str = Field(primary_key=True, max_length=32)
    survey_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("survey.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    question: str = Field(max_length=16)
    text: str = Field(max_length=280)


survey_t = SurveyRow.__table__  # type: ignore[attr-defined]
participation_t = SurveyParticipationRow.__table__  # type: ignore[attr-defined]
public_seen_t = SurveyPublicSeenRow.__table__  # type: ignore[attr-defined]
count_t = SurveyCountRow.__table__  # type: ignore[attr-defined]
text_t = SurveyTextRow.__table__  # type: ignore[attr-defined]


class PeerProfileRow(_Table, table=True):
    """Her entry in who-does-what-where, only once she wrote a line (opt-in): whether peers
    may ask to be introduced to her. Deleted with her last line and by /forget."""

    __tablename__ = "peer_profile"

    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    open: bool = Field(default=False)
    updated_at: datetime = _when()


class PeerLineRow(_Table, table=True):
    """Her one line about her work in one sphere (at most 120 characters)."""

    __tablename__ = "peer_line"

    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("peer_profile.member_id", ondelete="CASCADE"), primary_key=True
        )
    )
    sphere: str = Field(primary_key=True, max_length=32, index=True)
    line: str = Field(max_length=120)


class IntroductionRow(_Table, table=True):
    """A request (or a coordinator's suggestion) to introduce two members in a sphere. The
    handles each typed are blanked once the introduction went out; /forget on either side
    deletes the row."""

    __tablename__ = "introduction"

    id: int | None = Field(default=None, primary_key=True)
    sphere: str = Field(max_length=32)
    requester_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    peer_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    status: str = Field(max_length=16)
    requester_ok: bool = Field(default=False)
    peer_ok: bool = Field(default=False)
    suggested: bool = Field(default=False)
    requester_handle: str | None = Field(default=None, max_length=80)
    peer_handle: str | None = Field(default=None, max_length=80)
    created_at: datetime = _when()
    expires_at: datetime = _when()
    answered_at: datetime | None = _when(nullable=True)


class IntroductionNoticeRow(_Table, table=True):
    """The messages sent about an introduction (a campaign row each): they go with it."""

    __tablename__ = "introduction_notice"

    introduction_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("introduction.id", ondelete="CASCADE"), primary_key=True
        )
    )
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    )


peer_profile_t = PeerProfileRow.__table__  # type: ignore[attr-defined]
peer_line_t = PeerLineRow.__table__  # type: ignore[attr-defined]
introduction_t = IntroductionRow.__table__  # type: ignore[attr-defined]
introduction_notice_t = IntroductionNoticeRow.__table__  # type: ignore[attr-defined]
