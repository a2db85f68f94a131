"""`ticketflow devices`: import a YAML list all or nothing, list what is registered."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from tests.api.test_devices_api import MODBUS, OPCUA
from tests.test_cli import ticketflow


def test_devices_import_registers_the_list_and_list_shows_it(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    good = tmp_path / "devices.yaml"
    good.write_text(yaml.safe_dump([MODBUS, OPCUA]))
    first = ticketflow(tmp_path, "devices", "import", str(good))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "registered pump-7@1 (local)",
        "registered oven-2@1 (local)",
    ]
    changed = copy.deepcopy(MODBUS)
    changed["model"] = "PLC 300"
    good.write_text(yaml.safe_dump([changed, OPCUA]))
    second = ticketflow(tmp_path, "devices", "import", str(good))
    assert second.stdout.splitlines() == [
        "registered pump-7@2 (local)",
        "registered oven-2@1 (local)",
    ]
    listed = ticketflow(tmp_path, "devices", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "oven-2@1\tlocal\topcua\topc.tcp://localhost:4840/freeopcua/server/\t1 points",
        "pump-7@2\tlocal\tmodbus-tcp\ttcp://127.0.0.1:502\t2 points",
    ]


def test_a_refused_import_registers_nothing_and_reports_every_problem(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    bad = copy.deepcopy(OPCUA)
    bad["endpoint"] = "opc.tcp://10.1.1.1:4840"
    file = tmp_path / "devices.yaml"
    file.write_text(yaml.safe_dump([MODBUS, bad, {**MODBUS, "unit_id": 300}]))
    result = ticketflow(tmp_path, "devices", "import", str(file))
    assert result.returncode == 1
    assert result.stdout == ""
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert [e["pointer"] for e in report["errors"]] == ["/1/endpoint", "/2/unit_id"]
    assert f"{file}: /1/endpoint: host '10.1.1.1' is not allowed for site 'local'" in result.stderr
    assert "Traceback" not in result.stderr
    assert ticketflow(tmp_path, "devices", "list").stdout == ""
