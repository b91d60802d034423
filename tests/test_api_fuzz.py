"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis): no 5xx
and no response that breaks the schema, for any input the schema admits or nearly admits."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from jobs import safe_http
from jobs.models import Job

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def api_schema(live_server, monkeypatch, settings):
    # Fuzzed imageUrls and webhooks must never leave this machine: every fetch is refused.
    def refuse(address):
        raise safe_http.BlockedURLError(f"the address {address} is not reachable from the fuzz run")

    monkeypatch.setattr(safe_http, "check_address", refuse)
    settings.RATE_LIMITS = {"submit": [(100000, 60)], "status": [(100000, 60)]}
    settings.SYNC_WAIT_MAX_SECONDS = 0  # Maskr's uploads answer at once: no worker runs here
    raw = requests.get(f"{live_server.url}/api/v1/schema", headers={"Accept": "application/json"}, timeout=30).json()
    return schemathesis.openapi.from_dict(raw)


def operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_holds_its_schema_under_fuzzing(api_schema, live_server, account, mode):
    headers = {"Authorization": f"Bearer {account.raw_key}"}
    seen = []
    for operation in operations(api_schema):
        seen.append(operation.label)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            case.call_and_validate(
                base_url=live_server.url,
                headers=headers,
                checks=CHECKS,
                excluded_checks=[c for c in schemathesis.checks.CHECKS.get_all() if c not in CHECKS],
            )

        run()
    assert len(seen) >= 12, seen
    # Fuzzed strings never decode as an image, so the JSON surfaces made no job and charged
    # nothing, but APIXO's, which accepts such a task and fails it at once, refunded (as APIXO
    # does); Maskr's multipart file fields are given real (1x1 PNG) files, whose jobs were
    # charged from the one ledger like any other.
    jobs = Job.objects.filter(account=account)
    assert set(jobs.filter(surface="apixo").values_list("status", "failure")) <= {("FAILED", "image")}
    assert not jobs.exclude(surface__in=["maskr", "apixo"]).exists()
    account.refresh_from_db()
    charged = sum(jobs.filter(surface="maskr").values_list("credit_cost", flat=True))
    assert account.balance == 100 - charged == account.ledger_sum()
