"""Explicit state machines: a status enum plus one table of allowed transitions and who may do each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from dangan.core.errors import DanganError

S = TypeVar("S", bound=StrEnum)


class InvalidTransition(DanganError):
    code = "INVALID_TRANSITION"


@dataclass(frozen=True)
class Transition(Generic[S]):
    source: S
    target: S
    permission: str | None  # the permission an actor needs; None = system-internal step


class StateMachine(Generic[S]):
    def __init__(self, name: str, transitions: list[Transition[S]]) -> None:
        self.name = name
        self._table = {(t.source, t.target): t for t in transitions}

    def transition(self, source: S, target: S) -> Transition[S]:
        t = self._table.get((source, target))
        if t is None:
            raise InvalidTransition(f"{self.name}: cannot go from {source.value} to {target.value}")
        return t

    def allowed_from(self, source: S) -> list[S]:
        return [t for (s, t) in self._table if s == source]
