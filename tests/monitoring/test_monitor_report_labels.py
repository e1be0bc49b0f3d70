"""Report windows are named by the day their traffic falls on, with the full range on hover."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from monitoring_helpers import HOUR, Traffic

from keel.monitoring import MonitoringClient, Window, report_data

END = int(dt.datetime(2026, 11, 26, 14, 42, tzinfo=dt.UTC).timestamp() * 1000)


def test_todays_traffic_is_labelled_with_todays_date(
    mon: MonitoringClient, send: Callable[..., Traffic]
) -> None:
    mon.configure("churn", reference="model:churn/1", window="1d")
    send(300, start=END - HOUR, span=HOUR)  # "today" (11-26), before 14:42
    data = report_data(mon.store, mon.project_id, "churn", Window(END - 2 * 86_400_000, END))
    first, last = data["windows"]
    assert (first["label"], last["label"]) == ("11-25", "11-26")
    assert (first["rows"], last["rows"]) == (0, 300)
    assert last["range"] == "2026-11-25 14:42 → 2026-11-26 14:42 UTC"


def test_hour_windows_are_labelled_by_their_end(mon: MonitoringClient) -> None:
    mon.configure("churn", reference="model:churn/1", window="1h")
    span = Window(END - 2 * HOUR, END)
    data = report_data(mon.store, mon.project_id, "churn", span, every="1h")
    assert [w["label"] for w in data["windows"]] == ["11-26 13:42", "11-26 14:42"]
