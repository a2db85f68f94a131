"""Alarms that open tickets: what the edge sends upstream, and how the central side files it.

The edge worker judges each device's samples in the plant and sends an `AlarmReport` (the
alarm's summary and a sealed snapshot of the latest readings, no curves) to the device's
`DeviceAlarmsWorkflow` with signal-with-start. That workflow keeps the device's open alarms:
`dedupe` decides whether a report opens a ticket (on the definition mapped to the device's
model) or goes to the open one as an `external_event` named `device_alarm`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.device_alarms import AlarmSummary, OpenAlarm
from domain.devices import Device, Snapshot

DEVICE_ALARMS_WORKFLOW = "DeviceAlarmsWorkflow"
SITE_DEVICES_WORKFLOW = "SiteDevicesWorkflow"
ALARM_SIGNAL = "alarm"
OPEN_ALARM_TICKET_ACTIVITY = "open_alarm_ticket"
SIGNAL_ALARM_TICKET_ACTIVITY = "signal_alarm_ticket"
SITE_DEVICES_ACTIVITY = "list_site_devices"
# The external event every alarm becomes on its ticket (domain.messages.EXTERNAL_SIGNAL_NAMES).
ALARM_EVENT = "device_alarm"
# Who files and signals alarm tickets: the requester of every ticket an alarm opens.
ALARM_REQUESTER = "device-alarms"
# An alarm of the same device and type within this long of the last one goes to its ticket.
DEDUPE_WINDOW = timedelta(minutes=30)
# While an alarm lasts, the edge sends it again at most this often (well inside the dedupe
# window, so a lasting alarm keeps its one ticket and the ticket hears it is still there).
ALARM_REPEAT = timedelta(minutes=5)
# Each filing or signal is a few small writes; Temporal retries them until they succeed.
ALARM_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# A refusal no retry changes: no published definition for the model, an intake it refuses.
ALARM_TICKET_REFUSED = "AlarmTicketRefused"
# Reading a site's registry: one small query.
SITE_DEVICES_TIMEOUT = timedelta(seconds=10)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlarmReport(_Strict):
    """What leaves the plant for one alarm: its summary and the latest readings, sealed."""

    summary: AlarmSummary
    snapshot: Snapshot


class DeviceAlarmsInput(_Strict):
    """A device's alarm workflow: its open alarms and reports not yet handled (carried over)."""

    device_id: str
    open_alarms: list[OpenAlarm] = Field(default_factory=list)
    pending: list[AlarmReport] = Field(default_factory=list)
    dedupe_window: timedelta = DEDUPE_WINDOW


class AlarmTicketInput(_Strict):
    """Open a ticket for a report (`ticket_key` None), or signal the open one."""

    report: AlarmReport
    ticket_key: str | None = None


class AlarmTicket(_Strict):
    """The ticket an alarm went to; `delivered` False when the open one had closed."""

    ticket_key: str | None
    delivered: bool = True


class SiteDevicesInput(_Strict):
    """Which site's registered devices an edge worker watches."""

    site: str


class SiteDevices(_Strict):
    """The latest version of every device registered at the site."""

    devices: list[Device]


def alarms_workflow_id(device_id: str) -> str:
    """The id of a device's alarm workflow: one per device."""
    return f"device-alarms:{device_id}"


def site_devices_workflow_id(site: str) -> str:
    """The id of a site's registry read (concurrent reads of one site share a run)."""
    return f"site-devices:{site}"


def alarm_id(summary: AlarmSummary) -> str:
    """One alarm's id (device, type, when it fired): a retried filing or signal reuses it."""
    return f"{summary.device_id}:{summary.type}:{summary.last_at.isoformat()}"


def still_open(open_alarms: list[OpenAlarm], now: datetime, window: timedelta) -> list[OpenAlarm]:
    """The open alarms an alarm within `window` of `now` still goes to."""
    return [a for a in open_alarms if now - a.last_at <= window]


def without_ticket(open_alarms: list[OpenAlarm], ticket_key: str) -> list[OpenAlarm]:
    """The open alarms but those of a ticket that closed."""
    return [a for a in open_alarms if a.ticket_key != ticket_key]


def _severity(summary: AlarmSummary) -> str:
    """A crossed threshold is major; an anomaly before any threshold is minor."""
    return "minor" if summary.type.startswith("anomaly:") else "major"


def fault_text(summary: AlarmSummary) -> str:
    """The alarm in one sentence, for the intake's fault description."""
    kind, _, point = summary.type.partition(":")
    stats = summary.window[point]
    minutes = (summary.last_at - summary.first_at).total_seconds() / 60
    what = {
        "anomaly": "anomaly detected",
        "threshold_high": f"above its limit {summary.limit:g}" if summary.limit is not None else "",
        "threshold_low": f"below its limit {summary.limit:g}" if summary.limit is not None else "",
    }[kind]
    return (
        f"Alarm {summary.type} on device {summary.device_id}: {point} {what}, "
        f"now {stats.last:.3g} (mean {stats.mean:.3g}, {stats.slope_per_minute:+.3g} a minute "
        f"over {minutes:.3g} min, score {summary.score:.3g})"
    )


def alarm_intake(summary: AlarmSummary) -> dict[str, Any]:
    """The intake of the ticket an alarm opens (the bundled `device-alarm` form's fields)."""
    return {
        "device_id": summary.device_id,
        "site": summary.site,
        "model": summary.model,
        "alarm_type": summary.type,
        "fault_description": fault_text(summary),
        "occurred_at": summary.last_at.isoformat(),
        "severity": _severity(summary),
        "alarm": summary.model_dump(mode="json"),
    }


def alarm_event_payload(report: AlarmReport) -> dict[str, Any]:
    """The `device_alarm` event's payload: the summary and the snapshot, as JSON."""
    return {
        "alarm": report.summary.model_dump(mode="json"),
        "snapshot": report.snapshot.model_dump(mode="json"),
    }


def due_alarms(
    alarms: list[AlarmSummary], last_sent: dict[str, datetime], now: datetime, repeat: timedelta
) -> list[AlarmSummary]:
    """The alarms to send now: a type not sent before, or last sent at least `repeat` ago."""
    return [a for a in alarms if a.type not in last_sent or now - last_sent[a.type] >= repeat]
