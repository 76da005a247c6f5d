"""Schemathesis against the app's own /openapi.json, with every one of its checks.

About 5,000 generated requests (valid and deliberately invalid), shared among every
``/api/v1`` operation, go with an admin token, half of the valid ones aimed at a real case, meeting and
mediator so the handlers run past the "unknown id" check. Every check runs: no 5xx, every
status, content type, header and body as documented, invalid data refused, valid data
accepted, undeclared methods answered 405, and no access without the token.
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
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok

from tests.attack.attack_support import LiveApp, attack_settings, live_app

# About 5,000 requests in all, shared among the operations (70 + 50 each when there were
# 48): as the API grows each operation gets fewer, and the run stays the same length.
VALID_REQUESTS = 3_400
INVALID_REQUESTS = 2_400
MIN_EXAMPLES = 25


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


def count_connections_or_none(count: Any) -> Any:
    """Schemathesis counts pooled connections through ``urllib3`` internals that
    ``urllib3-future`` (installed beside ``niquests``) lacks; unknown counts as none."""

    def counted(session: requests.Session) -> int:
        try:
            return int(count(session))
        except AttributeError:
            return 0

    return counted


def schema_valid_input_passes_validation(ctx: Any, response: Any, case: Any) -> None:
    """A schema-valid request may break a domain rule (a start in the past, a cancelled
    meeting: 409/422 without field errors), never the schema check (422 with field errors)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code != 422:
        return
    details = response.json()["error"]["details"]
    # Field errors name their field; a rule across fields ("from after to") names none.
    if isinstance(details, list) and any(d.get("loc") for d in details):
        raise AssertionError(f"Schema-valid input refused field by field: {details}")


class Fuzzer:
    """Send generated cases, collecting every kind of undocumented answer."""

    def __init__(self, live: LiveApp, http: requests.Session, known: dict[str, str]) -> None:
        self.live, self.http, self.known = live, http, known
        self.auth = {"Authorization": f"Bearer {live.admin_token}"}
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.sent = 0

    def send(self, case: Any, aim: bool) -> None:
        if aim and case.path_parameters:
            for name in case.path_parameters:
                if name in self.known:
                    case.path_parameters[name] = self.known[name]
        kwargs = case.as_transport_kwargs(base_url=self.live.base_url)
        self.sent += 1
        try:
            response = self.http.request(**kwargs, timeout=30)
        except requests.Timeout:
            key = f"{case.method} {case.path} -> no answer within 30 s"
            self.failures[key] += 1
            self.examples.setdefault(key, f"{kwargs.get('params')} {kwargs.get('json')!r:.300}")
            return
        try:
            # No ``checks``: every built-in check, re-sending where a check needs to.
            case.validate_response(
                response,
                additional_checks=[schema_valid_input_passes_validation],
                headers=self.auth,
                transport_kwargs={"base_url": self.live.base_url, "headers": self.auth},
            )
        except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup is an ExceptionGroup
            reasons = [str(one).splitlines()[0] for one in getattr(exc, "exceptions", [exc])]
            key = f"{case.method} {case.path} -> {response.status_code}: {'; '.join(reasons)}"
            self.failures[key] += 1
            mutated = getattr(case.meta, "components", None)
            sample = f"{mutated} {kwargs.get('params')} {kwargs.get('json')!r:.300}"
            self.examples.setdefault(key, f"{sample} {response.text[:300]}")

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

        try:
            exercise()
        except Unsatisfiable:  # nothing to make invalid: no parameters and no body
            assert mode is schemathesis.GenerationMode.NEGATIVE

    def report(self) -> str:
        return "\n".join(
            f"{n}x {key}\n    {self.examples[key]}" for key, n in self.failures.items()
        )


# A long run, not a hang: on a busy 2-core machine it can pass the suite's 600 s guard.
@pytest.mark.timeout(1500)
def test_every_operation_answers_as_documented(
    sqlite_template: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schemathesis.transport import requests as transport

    counter = transport._count_opened_connections
    monkeypatch.setattr(transport, "_count_opened_connections", count_connections_or_none(counter))
    caplog.set_level(logging.CRITICAL)  # the 404/422 storm is expected; failures are collected
    with live_app(attack_settings(tmp_path, sqlite_template)) as live, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {live.admin_token}"
        fuzzer = Fuzzer(live, http, seed(live, http))
        raw = http.get(live.base_url + "/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(raw)
        # The fuzzer sends the admin token itself; a request without it is ``ignored_auth``'s.
        schema.config.generation.update(with_security_parameters=False)
        # The API refuses U+0000 in any text (422: PostgreSQL cannot store it), which the
        # schema's strings do not spell out; the refusal is test_api_cases.py's.
        schema.config.generation.update(allow_x00=False)
        # Domain rules refuse some schema-valid requests (422 without field errors, see
        # ``schema_valid_input_passes_validation``, which fails on the schema's own 422s).
        acceptance = schema.config.checks.positive_data_acceptance
        # The one public route (a family's own referral) is limited per address: once over
        # its budget, valid requests too are answered 429, as documented.
        acceptance.expected_statuses = [*acceptance.expected_statuses, "422", "429"]
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the description has an unusable operation: {result}"
            if result.ok().path.startswith("/api/v1/"):
                operations.append(result.ok())
        assert len(operations) >= 40  # every area's API is in the description
        valid = max(MIN_EXAMPLES, VALID_REQUESTS // len(operations))
        invalid = max(MIN_EXAMPLES, INVALID_REQUESTS // len(operations))
        for operation in operations:
            fuzzer.run(operation, schemathesis.GenerationMode.POSITIVE, valid)
            fuzzer.run(operation, schemathesis.GenerationMode.NEGATIVE, invalid)

    assert not fuzzer.failures, f"{len(fuzzer.failures)} kinds of bad answers:\n{fuzzer.report()}"
    assert fuzzer.sent >= 5000
