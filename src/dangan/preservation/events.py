"""Writing preservation events: one call per event, inside the transaction of what it records."""

from __future__ import annotations

from typing import Any

from dangan.preservation.models import EventType, Outcome, PreservationEvent


def record_event(
    event_type: EventType,
    *,
    agent: str,
    outcome: Outcome,
    record_id: int | None = None,
    aip_id: int | None = None,
    blob_sm3: str = "",
    location: str = "",
    **detail: Any,
) -> PreservationEvent:
    return PreservationEvent.objects.create(
        event_type=event_type,
        agent=agent[:200],
        outcome=outcome,
        record_id=record_id,
        aip_id=aip_id,
        blob_sm3=blob_sm3,
        location=location[:64],
        detail=detail,
    )
