"""`ticketflow calendars validate|publish`, and the bundled cn-2026 calendar."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from domain.calendars import add_business
from services.sla_publishing import check_calendar
from tests.test_cli import ticketflow

CN_2026 = Path(__file__).parents[1] / "ticketflow" / "examples" / "calendars" / "cn-2026.yaml"


def test_the_bundled_china_calendar_is_valid_and_skips_national_day() -> None:
    calendar = check_calendar(document=yaml.safe_load(CN_2026.read_text()))
    assert date(2026, 10, 10) in calendar.makeup_days
    shanghai = ZoneInfo("Asia/Shanghai")
    before = datetime(2026, 9, 30, 17, 30, tzinfo=shanghai)
    # An hour from half an hour before the National Day break ends on the first day back.
    due = add_business(calendar, before, timedelta(hours=1))
    assert due == datetime(2026, 10, 8, 9, 30, tzinfo=shanghai)


def test_calendars_validate_and_publish(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    checked = ticketflow(tmp_path, "calendars", "validate", str(CN_2026))
    assert checked.returncode == 0, checked.stderr
    assert "valid (cn-2026, Asia/Shanghai)" in checked.stdout
    for version in (1, 2):
        published = ticketflow(tmp_path, "calendars", "publish", str(CN_2026))
        assert published.stdout.strip() == f"published cn-2026@{version}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"key": "bad", "timezone": "Nowhere/Land", "hours": {}}))
    refused = ticketflow(tmp_path, "calendars", "publish", str(bad))
    assert refused.returncode == 1
    errors = json.loads(refused.stderr.strip().splitlines()[-1])["errors"]
    assert {e["pointer"] for e in errors} == {"/timezone", "/hours"}
