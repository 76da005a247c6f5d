"""Schemathesis against the app's own /openapi.json: no 5xx, every answer as documented.

Thousands of generated requests (valid and deliberately invalid) go to every ``/api/v1``
operation with an admin token, half of the valid ones aimed at a real case, meeting and
mediator so the handlers run past the "unknown id" check.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.attack.attack_support import LiveApp, attack_settings, live_app

# 48 operations x (25 + 20) examples: a little over 2,000 requests.
VALID_EXAMPLES = 25
INVALID_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def seed(live: LiveApp, http: requests.Session) -> dict[str, str]:
    """A case with parties, a mediator and a booked meeting; their ids by path parameter."""

    def post(path: str, body: dict[str, Any]) -> Any:
        response = http.post(live.base_url + path, json=body, timeout=30)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    case = post(
        "/api/v1/cases",
        {
            "reference": "FUZZ-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
    )
    mediator = post("/api/v1/mediators", {"name": "Morgan", "email": "m@staff.example"})
    post(f"/api/v1/cases/{case['id']}/mediator", {"mediator_id": mediator["id"]})
    party = post(
        f"/api/v1/cases/{case['id']}/parties",
        {"role": "parent", "name": "Sam", "email": "sam@family.example"},
    )
    post(
        f"/api/v1/cases/{case['id']}/parties",
        {"role": "la_officer", "name": "Lee", "email": "lee@kent.example"},
    )
    meeting = post(
        f"/api/v1/cases/{case['id']}/meetings",
        {"start": "2026-03-10T10:00:00Z", "duration_minutes": 120, "mode": "video"},
    )
    return {
        "case_id": case["id"],
        "party_id": party["id"],
        "mediator_id": mediator["id"],
        "meeting_id": meeting["id"],
    }


class Fuzzer:
    """Send generated cases, collecting every kind of undocumented answer."""

    def __init__(self, live: LiveApp, http: requests.Session, known: dict[str, str]) -> None:
        self.live, self.http, self.known = live, http, known
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.sent = 0

    def send(self, case: Any, aim: bool) -> None:
        if aim and case.path_parameters:
            for name in case.path_parameters:
                if name in self.known:
                    case.path_parameters[name] = self.known[name]
        kwargs = case.as_transport_kwargs(base_url=self.live.base_url)
        response = self.http.request(**kwargs, timeout=30)
        self.sent += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup is an ExceptionGroup
            reasons = [str(one).splitlines()[0] for one in getattr(exc, "exceptions", [exc])]
            key = f"{case.method} {case.path} -> {response.status_code}: {'; '.join(reasons)}"
            self.failures[key] += 1
            sample = f"{kwargs.get('params')} {kwargs.get('json')!r:.300} {response.text[:300]}"
            self.examples.setdefault(key, sample)

    def run(self, operation: Any, mode: schemathesis.GenerationMode, count: int) -> None:
        aims = st.booleans() if mode is schemathesis.GenerationMode.POSITIVE else st.just(False)

        @hypothesis_settings(
            max_examples=count,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), aim=aims)
        def exercise(case: Any, aim: bool) -> None:
            self.send(case, aim)

        exercise()

    def report(self) -> str:
        return "\n".join(
            f"{n}x {key}\n    {self.examples[key]}" for key, n in self.failures.items()
        )


def test_every_operation_answers_as_documented(
    sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)  # the 404/422 storm is expected; failures are collected
    with live_app(attack_settings(tmp_path, sqlite_template)) as live, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {live.admin_token}"
        fuzzer = Fuzzer(live, http, seed(live, http))
        raw = http.get(live.base_url + "/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(raw)
        operations = [
            result.ok()
            for result in schema.get_all_operations()
            if result.ok().path.startswith("/api/v1/")
        ]
        assert len(operations) >= 40  # every area's API is in the description
        for operation in operations:
            fuzzer.run(operation, schemathesis.GenerationMode.POSITIVE, VALID_EXAMPLES)
            fuzzer.run(operation, schemathesis.GenerationMode.NEGATIVE, INVALID_EXAMPLES)

    assert not fuzzer.failures, f"{len(fuzzer.failures)} kinds of bad answers:\n{fuzzer.report()}"
    assert fuzzer.sent >= 2000
