"""The actions `service` stages run, each a Temporal activity named `action_activity(name)`.

`registry.py` composes them into a deployment's `ActionRegistry`; `errors.py` holds the failure
types every action raises, so the workflow can tell what retrying can fix from what it cannot.
"""
