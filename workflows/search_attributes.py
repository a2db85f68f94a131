"""Search attributes the TicketWorkflow keeps current; no personal data goes into them."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TICKET_STATE = SearchAttributeKey.for_keyword("TicketflowState")
TICKET_DEFINITION = SearchAttributeKey.for_keyword("TicketflowDefinition")
TICKET_DEPARTMENTS = SearchAttributeKey.for_keyword_list("TicketflowDepartments")

ALL = (TICKET_STATE, TICKET_DEFINITION, TICKET_DEPARTMENTS)
