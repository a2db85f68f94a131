"""The ApplicationError types an action fails with, so the workflow can tell them apart.

Only `UNAVAILABLE` is retried (per the stage's retry policy); the other two are raised
non-retryable, so a stage that meets them goes to a person at once.
"""

from __future__ import annotations

# The action will not run with these parameters or this deployment's configuration (a host not
# on the allow-list, a bad field name): a person has to change the definition or the settings.
REFUSED = "ActionRefused"
# The other side answered, and asking again would get the same answer (a 4xx, a response that
# is not JSON or lacks a selected field, a body over the size bound).
FAILED = "ActionFailed"
# Transient (cannot connect, timed out, 5xx, 408, 429): Temporal retries per the stage's policy.
UNAVAILABLE = "ActionUnavailable"
