"""Who does something: a member (with her role), the operator at the command line, or Wasl
itself (the scheduler). Services take an `Actor`, check the role an operation needs with
`require`, and write the audit log with `audit` — once, in the service, for every caller
(the bot, the CLI, the dashboard, the scheduler)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.models import Member, Role
from bot.core.ports import Transaction


class NotAllowed(Exception):
    """The actor's role does not allow the operation. The router answers it as a refusal
    (a short line, audited); the CLI prints it."""

    def __init__(self, needed: Role, action: str) -> None:
        super().__init__(f"{action} needs the {needed.value} role")
        self.needed = needed
        self.action = action


@dataclass(frozen=True, slots=True)
class Actor:
    """A member, or a named non-member actor: "cli" (the operator, who may do anything the
    command line offers) or "system" (scheduled work)."""

    member: Member | None = None
    name: str = "system"

    @classmethod
    def of(cls, member: Member) -> Actor:
        return cls(member=member, name=f"member:{member.id}")

    @property
    def label(self) -> str:
        """How the audit log names the actor: "member:12", "cli" or "system" (never a name
        or a platform id)."""
        return self.name

    @property
    def member_id(self) -> int | None:
        return self.member.id if self.member is not None else None

    @property
    def role(self) -> Role:
        """A member's role; the operator and the system act as admins."""
        return self.member.role if self.member is not None else Role.ADMIN

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)


CLI = Actor(name="cli")
SYSTEM = Actor(name="system")


def require(actor: Actor, needed: Role, action: str) -> None:
    """Raise NotAllowed unless the actor's current role includes `needed`."""
    if not actor.allows(needed):
        raise NotAllowed(needed, action)


async def audit(
    tx: Transaction,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    subject: int | None = None,
    **details: Any,
) -> None:
    """One audit entry: who (by member id or "cli"/"system"), what, about whom (a member id),
    and details that are never her words."""
    await tx.audit_log.append(
        actor=actor.label,
        action=action,
        now=now,
        actor_member_id=actor.member_id,
        subject_member_id=subject,
        details=details or None,
    )
