"""GET /api/openapi.json: a valid OpenAPI 3.1 description of every registered function, built
from the same models that validate calls, and answers that conform to it."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

from api.openapi import args_schema_name, build_spec, operation_id
from api.registry import REGISTRY

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def spec() -> dict:
    return build_spec()


def test_the_description_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on any error


def test_every_registered_function_is_described_with_its_own_path(spec):
    for path, function in REGISTRY.items():
        module, _, name = path.partition(":")
        operation = spec["paths"][f"/api/run/{module}/{name}"]["post"]
        assert operation["operationId"] == operation_id(path)
        assert function.kind in operation["summary"]


def test_every_function_is_in_the_path_form_of_its_kind(spec):
    for kind in ("query", "mutation"):
        body = spec["paths"][f"/api/{kind}"]["post"]["requestBody"]["content"]["application/json"]
        described = {variant["properties"]["path"]["const"] for variant in body["schema"]["anyOf"]}
        assert described == {path for path, f in REGISTRY.items() if f.kind == kind}


def test_arguments_are_the_validating_models_own_schema(spec):
    schemas = spec["components"]["schemas"]
    create = schemas[args_schema_name("messages:create")]
    assert create["additionalProperties"] is False
    assert set(create["required"]) == {"threadId", "role", "content"}
    assert create["properties"]["role"]["enum"] == ["user", "assistant", "system", "tool"]
    # The bound the model checks (a 32-bit order column) is in the description too.
    order = create["properties"]["order"]["anyOf"][0]
    assert order == {"type": "integer", "minimum": 0, "maximum": 2**31 - 2}


def test_every_function_declares_a_typed_result(spec):
    for path, function in REGISTRY.items():
        assert function.returns is not None, f"{path}: add returns=... to its decorator"
        module, _, name = path.partition(":")
        answer = spec["paths"][f"/api/run/{module}/{name}"]["post"]["responses"]["200"]
        success = answer["content"]["application/json"]["schema"]["anyOf"][0]
        value = success["properties"]["value"]
        assert value not in ({}, {"type": "object"}), f"{path} answers an untyped value"


def test_errors_and_security_schemes_are_described(spec):
    operation = spec["paths"]["/api/run/threads/create"]["post"]
    assert {"200", "400", "401", "413"} <= set(operation["responses"])
    assert {"apiKey", "convexAdminKey", "sessionToken", "consoleCookie"} == set(
        spec["components"]["securitySchemes"]
    )
    assert {"apiKey": []} in operation["security"]
    admin_only = spec["paths"]["/api/run/apiKeys/create"]["post"]
    assert admin_only["security"] == [{"sessionToken": []}]
    signin = spec["paths"]["/api/auth/signin"]["post"]
    assert {"200", "400", "401", "413", "429"} <= set(signin["responses"])
    for path in ("/api/auth/signout", "/api/action", "/api/health", "/version"):
        assert path in spec["paths"]
    download = spec["paths"]["/api/export/threads/{threadId}.md"]["get"]
    assert {"consoleCookie": []} in download["security"]
    assert {"200", "401", "403", "404"} <= set(download["responses"])


def test_every_download_route_is_described(spec):
    from api.exports import ROUTES

    for route in ROUTES:
        described = route.path.replace("{thread_id}", "{threadId}")
        described = described.replace("{artifact_id}", "{artifactId}")
        described = described.replace("{version:int}", "{version}")
        described = described.replace("{request_id}", "{approvalRequestId}")
        assert described in spec["paths"], route.path


@sqlite_only
async def test_served_without_credentials(http):
    response = await http.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"].keys() == build_spec()["paths"].keys()


def _check_answer(spec: dict, path: str, body: dict) -> None:
    module, _, name = path.partition(":")
    operation = spec["paths"][f"/api/run/{module}/{name}"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(
        body, {**schema, "components": spec["components"]}, cls=jsonschema.Draft202012Validator
    )


@sqlite_only
async def test_real_answers_conform_to_the_description(spec, api, as_role, thread_id):
    """A quick sample here; the schemathesis run (tests/test_fuzz_api.py) covers every
    function with generated arguments."""
    artifact = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "Plan"}
    )
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "Hi"})
    await api.mutation(
        "toolCalls:record", {"threadId": thread_id, "toolName": "grep", "input": {"q": 1}}
    )
    await api.mutation("sessions:upsert", {"threadId": thread_id, "phase": "planning"})
    await api.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "Plan", "artifactId": artifact},
    )
    admin = as_role("admin")
    await admin.mutation("apiKeys:create", {"name": "made by a person"})
    page = {"paginationOpts": {"numItems": 10, "cursor": None}}
    calls = [
        (api, "threads:get", {"threadId": thread_id}),
        (api, "threads:list", page),
        (api, "messages:list", {"threadId": thread_id}),
        (api, "messages:list", {"threadId": thread_id, **page}),
        (api, "artifacts:get", {"artifactId": artifact}),
        (api, "artifacts:versions", {"artifactId": artifact}),
        (api, "toolCalls:list", {"threadId": thread_id}),
        (api, "sessions:get", {"threadId": thread_id}),
        (api, "approvalRequests:list", {}),
        (api, "inbox:pending", {}),
        (api, "timeline:list", {"threadId": thread_id, **page}),
        (api, "console:threads", page),
        (api, "dashboard:stats", {}),
        (admin, "users:me", {}),
        (admin, "users:list", page),
        (admin, "apiKeys:list", {}),
        (admin, "auditLog:list", page),
        (admin, "authSessions:mine", {}),
    ]
    for caller, path, args in calls:
        endpoint = "/api/query"
        response = await caller.raw(endpoint, path, args)
        body = response.json()
        assert body["status"] == "success", (path, body)
        _check_answer(spec, path, body)
    # A refusal conforms too.
    refused = await api.raw("/api/mutation", "threads:update", {"threadId": "nope"})
    _check_answer(spec, "threads:update", refused.json())
