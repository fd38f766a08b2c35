"""Tables for the organisation, people, their contact methods and notification rules, teams,
members and support levels L1–L3."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base, UTCDateTime


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    ack_timeout_s: Mapped[int] = mapped_column(Integer, default=300)
    working_days: Mapped[list[str]] = mapped_column(JSON)
    working_start: Mapped[str] = mapped_column(String(5))
    working_end: Mapped[str] = mapped_column(String(5))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)


class Person(Base):
    __tablename__ = "person"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    slack: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str | None] = mapped_column(String(64))
    discipline: Mapped[str | None] = mapped_column(String(64))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)

    contact_methods: Mapped[list[ContactMethod]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="ContactMethod.id"
    )
    notification_rules: Mapped[list[NotificationRule]] = relationship(
        back_populates="person",
        cascade="all, delete-orphan",
        order_by="(NotificationRule.after_s, NotificationRule.id)",
    )


class ContactMethod(Base):
    """A way to reach a person. `name` is its id in the policy file (`email`, `sms`, or own)."""

    __tablename__ = "contact_method"
    __table_args__ = (UniqueConstraint("person_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))  # email | sms | voice | slack | webhook
    address: Mapped[str] = mapped_column(String(500))
    # Webhook bodies are signed with this (HMAC-SHA256); derived from the server secret when unset.
    secret: Mapped[str | None] = mapped_column(String(200))
    implicit: Mapped[bool] = mapped_column(Boolean, default=False)  # implied by email/phone/slack
    person: Mapped[Person] = relationship(back_populates="contact_methods")


class NotificationRule(Base):
    __tablename__ = "notification_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    after_s: Mapped[int] = mapped_column(Integer)
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_method.id", ondelete="CASCADE")
    )
    person: Mapped[Person] = relationship(back_populates="notification_rules")
    contact_method: Mapped[ContactMethod] = relationship()


class Team(Base):
    __tablename__ = "team"
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 (SQLAlchemy reads a dict)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The Slack channel (an id, C…) where the team's incidents are posted and threaded.
    # Deferred, with a server default and no eager defaults: a SELECT or an INSERT of a team
    # that does not set it leaves the column out, so a database a migration behind still takes
    # the policy file (tests/integration/test_migrations.py applies one at old revisions).
    slack_channel: Mapped[str | None] = mapped_column(
        String(32), deferred=True, server_default=text("NULL")
    )
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    members: Mapped[list[TeamMember]] = relationship(
        cascade="all, delete-orphan", order_by="TeamMember.position"
    )
    support: Mapped[list[SupportLevel]] = relationship(
        cascade="all, delete-orphan", order_by="(SupportLevel.level, SupportLevel.position)"
    )


class TeamMember(Base):
    __tablename__ = "team_member"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class SupportLevel(Base):
    """One person at one support level (L1 mentor/manager, L2 head/lead, L3 CTO) of a team."""

    __tablename__ = "support_level"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[str] = mapped_column(String(2), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Login(Base):
    """A web UI login (argon2 hash) with its role; optionally tied to a person.

    `session_epoch` is copied into every session cookie issued for the login; bumping it (sign
    out, a new password, disabling) ends all of them at once. A `disabled` login cannot sign in.
    """

    __tablename__ = "login"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
