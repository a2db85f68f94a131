"""The bundled example definitions: valid, with valid forms, parallel stages and usable forms."""

from __future__ import annotations

from ipaddress import ip_address
from itertools import combinations
from typing import Any

import pytest

from domain.definitions import ProcessDefinition, StageDefinition, structural_problems
from domain.deliverables import contract_problems
from forms.validation import data_problems, schema_problems
from services.bundled import bundled_definitions, bundled_http_hosts

EXPECTED = {
    "it-incident.yaml": ("it-incident", "IT", "service-desk"),
    "equipment-repair.yaml": ("equipment-repair", "EQ", "maintenance"),
    "after-sales-repair.yaml": ("after-sales-repair", "AS", "customer-service"),
    "device-alarm.yaml": ("device-alarm", "DA", "maintenance"),
}

# A realistic submission for the intake form and for every stage form of each definition.
SAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "it-incident.yaml": {
        "intake": {
            "title": "VPN drops every few minutes",
            "description": "Since 09:10 the VPN disconnects every 3-5 minutes for the Lyon office.",
            "severity": "high",
            "affected_service": "Corporate VPN",
            "reporter_email": "ana.martin@example.com",
            "started_at": "2024-05-02T09:10:00+02:00",
        },
        "triage": {"category": "network", "priority": "P2", "notes": "Lyon office only."},
        "diagnose": {
            "root_cause": "MTU mismatch after the firewall firmware upgrade fragments IKE packets.",
            "affected_hosts": ["fw-lyon-01.example.com"],
        },
        "fix": {
            "change": "Pin the tunnel MTU to 1400 so IKE packets are no longer fragmented.",
            "merge_request": "https://git.example.com/net/vpn-config/-/merge_requests/88",
        },
        "verify": {"service_restored": True, "verified_at": "2024-05-02T15:45:00Z"},
    },
    "equipment-repair.yaml": {
        "intake": {
            "asset_tag": "PRS-004711",
            "device_id": "plc-press-7",
            "site": "Hamburg",
            "location": "Hall 2 / Line B / Station 7",
            "fault_description": "Hydraulic press loses pressure during the stroke, alarm H-31.",
            "occurred_at": "2024-05-03T06:20:00+02:00",
            "production_impact": "line-stopped",
            "severity": "safety-critical",
        },
        "inspect": {
            "findings": "Main cylinder seal is torn; oil is leaking into the drip tray.",
            "fault_code": "H-31",
            "parts_needed": True,
        },
        "order-parts": {
            "parts_ordered": True,
            "purchase_order": "PO-2024001",
            "supplier": "Hydraulik Nord GmbH",
            "expected_delivery": "2024-05-06",
            "lines": [{"part_number": "SEAL-KIT-125", "quantity": 1}],
        },
        "supervisor-approval": {
            "approved_by": "K. Wagner, maintenance supervisor",
            "lockout_tagout": True,
            "permit_number": "PTW-5520",
            "precautions": "Depressurise the accumulator and block the ram before opening.",
        },
        "safety-check": {
            "risk_level": "medium",
            "lockout_tagout": True,
            "permit_number": "PTW-5521",
            "hazards": ["hydraulic", "hot-surface"],
        },
        "escalate-purchasing": {
            "action_taken": "Supplier missed the date; the seal kit came from the Bremen plant.",
            "parts_received": True,
        },
        "repair": {
            "work_performed": "Replaced the main cylinder seal kit and bled the hydraulic circuit.",
            "labour_hours": 5.5,
            "replaced_parts": ["SEAL-KIT-125"],
            "test_run_passed": True,
        },
        "acceptance": {"accepted": True, "accepted_by": "J. Becker, shift lead B"},
    },
    "after-sales-repair.yaml": {
        "intake": {
            "customer_name": "Marie Dubois",
            "phone": "+33 4 72 00 00 00",
            "email": "marie.dubois@example.fr",
            "serial_number": "WM8-2023-0045871",
            "product_model": "WashMaster 8",
            "purchase_date": "2023-11-18",
            "problem_description": "The drum stops turning mid-cycle and error E21 is displayed.",
            "site_address": {
                "street": "12 rue de la République",
                "postal_code": "69002",
                "city": "Lyon",
                "country": "FR",
            },
        },
        "intake-review": {"warranty_status": "in-warranty", "terms_accepted": True},
        "remote-diagnosis": {
            "fault_category": "hardware",
            "diagnosis": "Motor controller reports a hall sensor fault; replace the sensor.",
            "log_bundle": "https://support.example.com/logs/AS-311.zip",
            "parts": [{"part_number": "HS-204", "quantity": 1}],
        },
        "field-repair": {
            "technician": "Luc Moreau",
            "visited_at": "2024-05-07T10:00:00+02:00",
            "work_report": "Replaced the hall sensor, ran a full cycle without error.",
            "fixed": True,
        },
        "spare-parts": {
            "parts_shipped": True,
            "carrier": "Chronopost",
            "tracking_number": "XY123456789FR",
            "shipped_at": "2024-05-05T16:30:00+02:00",
        },
        "customer-callback": {
            "called_at": "2024-05-08T09:15:00+02:00",
            "customer_reached": True,
            "satisfaction": 5,
        },
    },
    "device-alarm.yaml": {
        "intake": {
            "device_id": "sim-pump-modbus",
            "site": "local",
            "model": "Simulated pump (Modbus TCP)",
            "alarm_type": "anomaly:vibration",
            "fault_description": "Alarm anomaly:vibration on device sim-pump-modbus: now 2.6",
            "occurred_at": "2024-05-03T06:20:00+00:00",
            "severity": "minor",
            "alarm": {"score": 0.71, "trigger": {"vibration": 2.6}},
        },
        "inspect": {
            "findings": "Pump bearing runs rough; grease dried out.",
            "fault_confirmed": True,
        },
        "review-trend": {"assessment": "wear"},
        "close-out": {"action_taken": "Bearing regreased, vibration back at 2.0 mm/s."},
    },
}

BUNDLED = dict(bundled_definitions())


def _definition(name: str) -> ProcessDefinition:
    return ProcessDefinition.model_validate(BUNDLED[name])


def _ancestors(definition: ProcessDefinition, key: str) -> set[str]:
    found: set[str] = set()
    pending = list(definition.stage(key).depends_on)
    while pending:
        dep = pending.pop()
        if dep not in found:
            found.add(dep)
            pending.extend(definition.stage(dep).depends_on)
    return found


def _tasks(definition: ProcessDefinition) -> list[StageDefinition]:
    """The stages people complete (automated stages have no form)."""
    return [s for s in definition.stages if s.kind == "task"]


def _stage_form(stage: StageDefinition) -> dict[str, Any]:
    assert stage.form is not None, f"stage {stage.key} has no inline form"
    return stage.form


def test_the_four_examples_are_bundled() -> None:
    assert sorted(BUNDLED) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_definition_parses_as_a_draft(name: str) -> None:
    definition = _definition(name)
    assert (definition.key, definition.key_prefix, definition.department) == EXPECTED[name]
    assert definition.version == 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_definition_has_no_structural_problems(name: str) -> None:
    assert structural_problems(_definition(name)) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forms_are_inline_valid_and_described(name: str) -> None:
    definition = _definition(name)
    assert definition.intake_form is not None
    forms = {"/intake_form": definition.intake_form}
    for i, stage in enumerate(definition.stages):
        if stage.kind == "task":
            assert stage.form_ref is None
            forms[f"/stages/{i}/form"] = _stage_form(stage)
    for at, form in forms.items():
        assert schema_problems(form, at=at) == []
        assert form.get("title"), at
        assert form.get("description"), at


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_definition_has_parallel_stages(name: str) -> None:
    definition = _definition(name)
    parallel = [
        (a.key, b.key)
        for a, b in combinations(definition.stages, 2)
        if a.key not in _ancestors(definition, b.key) and b.key not in _ancestors(definition, a.key)
    ]
    assert parallel


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_realistic_submissions_pass_every_form(name: str) -> None:
    definition = _definition(name)
    samples = SAMPLES[name]
    assert definition.intake_form is not None
    assert data_problems(definition.intake_form, samples["intake"]) == []
    assert sorted(samples) == sorted(["intake", *(s.key for s in _tasks(definition))])
    for stage in _tasks(definition):
        assert data_problems(_stage_form(stage), samples[stage.key]) == [], stage.key


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_form_requires_something(name: str) -> None:
    definition = _definition(name)
    assert definition.intake_form is not None
    assert data_problems(definition.intake_form, {})
    for stage in _tasks(definition):
        assert data_problems(_stage_form(stage), {}), stage.key


def test_the_new_stage_kinds_are_in_the_repair_examples() -> None:
    kinds = {name: {s.kind for s in _definition(name).stages} for name in EXPECTED}
    assert kinds["equipment-repair.yaml"] == {"task", "wait", "service"}
    assert kinds["after-sales-repair.yaml"] == {"task", "service", "timer"}
    inspect = _definition("equipment-repair.yaml").stage("inspect")
    assert inspect.gateway is not None
    assert inspect.gateway.type == "exclusive"


def test_the_examples_call_only_loopback_hosts() -> None:
    """`ticketflow dev` allows these hosts unasked, so they must not reach past the machine."""
    hosts = bundled_http_hosts()
    assert hosts == ["127.0.0.1:8070"]
    assert all(ip_address(h.rsplit(":", 1)[0]).is_loopback for h in hosts)


def test_the_it_incident_hands_over_a_capture_a_test_and_a_commit() -> None:
    definition = _definition("it-incident.yaml")
    contracts = {
        s.key: [(d.key, d.kind, d.required) for d in s.deliverables] for s in definition.stages
    }
    assert contracts == {
        "triage": [],
        "diagnose": [("capture", "file", True)],
        "fix": [("test_case", "code", True), ("commit", "git_commit", True)],
        "verify": [],
    }
    capture = definition.stage("diagnose").deliverables[0]
    assert capture.media_types == ["application/vnd.tcpdump.pcap", "application/x-pcapng"]
    assert capture.sensitivity == "confidential"
    assert contract_problems(definition.stages, automated=set()) == []
