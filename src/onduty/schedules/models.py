"""Tables for a team's rota (one per team), its slots and their ordered people, overrides and
time off. The arithmetic over them lives in `rotation.py`, which knows no database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onduty.db.base import Base, UTCDateTime


class Rota(Base):
    __tablename__ = "rota"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    handoff_day: Mapped[str] = mapped_column(String(3))
    handoff_time: Mapped[str] = mapped_column(String(5))
    start: Mapped[date] = mapped_column(Date)
    length_days: Mapped[int] = mapped_column(Integer, default=7)
    max_consecutive: Mapped[int | None] = mapped_column(Integer)
    slots: Mapped[list[RotaSlot]] = relationship(
        cascade="all, delete-orphan", order_by="RotaSlot.position"
    )


class RotaSlot(Base):
    __tablename__ = "rota_slot"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("rota.team_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    windows: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    people: Mapped[list[SlotMember]] = relationship(
        cascade="all, delete-orphan", order_by="SlotMember.position"
    )


class SlotMember(Base):
    __tablename__ = "slot_member"

    slot_id: Mapped[int] = mapped_column(
        ForeignKey("rota_slot.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))


class Override(Base):
    """Person covers a team's slot from start to end (UTC); nothing outside the window changes."""

    __tablename__ = "override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    slot: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)


class TimeOff(Base):
    """Person is away from start to end (UTC): every slot they hold is covered by the next."""

    __tablename__ = "time_off"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    # Who added it (a person id, `token:<id>`, `cli`); None for the policy file's (managed).
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
