"""DeviceAlarmsWorkflow: one per device, turning the edge's alarm reports into tickets."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.device_alarm_tickets import (
        ALARM_ACTIVITY_TIMEOUT,
        ALARM_SIGNAL,
        ALARM_TICKET_REFUSED,
        DEVICE_ALARMS_WORKFLOW,
        OPEN_ALARM_TICKET_ACTIVITY,
        SIGNAL_ALARM_TICKET_ACTIVITY,
        AlarmReport,
        AlarmTicket,
        AlarmTicketInput,
        DeviceAlarmsInput,
        still_open,
        without_ticket,
    )
    from domain.device_alarms import OpenAlarm, dedupe, remember

# Filing and signalling are idempotent (keyed by the alarm): retried until they succeed,
# except a refusal no retry changes.
RETRY = RetryPolicy(non_retryable_error_types=[ALARM_TICKET_REFUSED])


@workflow.defn(name=DEVICE_ALARMS_WORKFLOW)
class DeviceAlarmsWorkflow:
    """Keeps a device's open alarms; each report opens a ticket or signals the open one.

    It ends once no alarm is open any more (the next report starts it again), and continues
    as new, carrying its open alarms and unhandled reports, when its history grows long.
    """

    def __init__(self) -> None:
        self._pending: list[AlarmReport] = []
        self._open: list[OpenAlarm] = []

    @workflow.signal(name=ALARM_SIGNAL)
    def report(self, report: AlarmReport) -> None:
        """Queue an alarm report from the edge."""
        self._pending.append(report)

    @workflow.query
    def open_alarms(self) -> list[OpenAlarm]:
        """The alarms open now, with the tickets they went to."""
        return list(self._open)

    @workflow.run
    async def run(self, start: DeviceAlarmsInput) -> None:
        """Handle reports in order until no alarm stays open for a whole dedupe window."""
        self._open = list(start.open_alarms)
        self._pending = [*start.pending, *self._pending]
        window = start.dedupe_window
        while True:
            while self._pending:
                await self._handle(self._pending.pop(0), start)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    start.model_copy(update={"open_alarms": self._open, "pending": self._pending})
                )
            self._open = still_open(self._open, workflow.now(), window)
            if not self._open:
                return
            latest = max(a.last_at for a in self._open)
            quiet = max(window - (workflow.now() - latest), window / 1000)
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=quiet)
            except TimeoutError:
                continue

    async def _handle(self, report: AlarmReport, start: DeviceAlarmsInput) -> None:
        """Signal the open ticket of the same alarm, or file one if there is none (or it closed)."""
        now, window, summary = workflow.now(), start.dedupe_window, report.summary
        decision = dedupe(self._open, summary, now, window)
        key = decision.ticket_key
        if key is not None:
            sent = await self._ticket(AlarmTicketInput(report=report, ticket_key=key))
            if not sent.delivered:
                self._open = without_ticket(self._open, key)
                key = None
        if key is None:
            key = (await self._ticket(AlarmTicketInput(report=report))).ticket_key
        if key is not None:
            self._open = remember(self._open, summary, key, now, window)

    async def _ticket(self, request: AlarmTicketInput) -> AlarmTicket:
        """Run the filing or the signal on the ticket worker; a refusal files nothing."""
        opening = request.ticket_key is None
        activity = OPEN_ALARM_TICKET_ACTIVITY if opening else SIGNAL_ALARM_TICKET_ACTIVITY
        try:
            ticket: AlarmTicket = await workflow.execute_activity(
                activity,
                request,
                result_type=AlarmTicket,
                start_to_close_timeout=ALARM_ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("alarm %s not ticketed: %s", request.report.summary.type, exc)
            return AlarmTicket(ticket_key=None, delivered=False)
        return ticket
