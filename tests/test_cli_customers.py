"""`ticketflow customers import`: a CSV file stored all or nothing, problems by line and column."""

from __future__ import annotations

import json
from pathlib import Path

from tests.services.test_customer_import import GOOD, HEADER
from tests.test_cli import ticketflow


def test_customers_import_stores_every_row_or_none(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    file = tmp_path / "customers.csv"
    file.write_text(GOOD + "C-3,A,,,,gold,,,\n")
    refused = ticketflow(tmp_path, "customers", "import", str(file))
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert f"{file}: /4/tier: Input should be 'vip', 'standard' or 'basic'" in refused.stderr
    report = json.loads(refused.stderr.strip().splitlines()[-1])
    assert [e["pointer"] for e in report["errors"]] == ["/4/tier"]
    file.write_text(GOOD)
    done = ticketflow(tmp_path, "customers", "import", str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "imported C-1 (vip, east)",
        "imported C-2 (standard, north)",
    ]
    file.write_text(HEADER + "C-4,B,,,,basic,,,\n" + GOOD.split("\n", 1)[1])
    again = ticketflow(tmp_path, "customers", "import", str(file))
    assert again.returncode == 1
    assert "/3/id: customer 'C-1' exists already" in again.stderr
