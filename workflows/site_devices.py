"""SiteDevicesWorkflow: an edge worker's read of its site's registry, through Temporal."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.device_alarm_tickets import (
        SITE_DEVICES_ACTIVITY,
        SITE_DEVICES_TIMEOUT,
        SITE_DEVICES_WORKFLOW,
        SiteDevices,
        SiteDevicesInput,
    )


@workflow.defn(name=SITE_DEVICES_WORKFLOW)
class SiteDevicesWorkflow:
    """The site's registered devices, read on the ticket worker (the edge has no database)."""

    @workflow.run
    async def run(self, request: SiteDevicesInput) -> SiteDevices:
        """The latest version of each device registered at the site."""
        devices: SiteDevices = await workflow.execute_activity(
            SITE_DEVICES_ACTIVITY,
            request,
            result_type=SiteDevices,
            start_to_close_timeout=SITE_DEVICES_TIMEOUT,
        )
        return devices
