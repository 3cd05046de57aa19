"""The API's OpenAPI 3.1 description, built from the function registry (GET /api/openapi.json).

Every function's arguments come from the pydantic model that validates its calls (`args=`) and
its answer from the model it declares (`returns=`), so the description cannot drift from what
the server accepts and answers. `threadline codegen typescript` and `threadline codegen docs`
(api/codegen.py) read the same description.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import TypeAdapter

import api.functions  # noqa: F401  (registers every function)
from api import __version__
from api.registry import KEY, REGISTRY, FunctionSpec
from api.settings import get_settings
from api.vocabulary import ADMIN, PEOPLE, REVIEWER, ROLES, USER, VIEWER

REF = "#/components/schemas/{model}"
JSON = "application/json"


def operation_id(path: str) -> str:
    """`threads:create` -> `threads.create` (operation ids and TypeScript keys)."""
    return path.replace(":", ".")


def args_schema_name(path: str) -> str:
    """`approvalRequests:resolve` -> `ApprovalRequestsResolveArgs`."""
    module, _, function = path.partition(":")
    return module[0].upper() + module[1:] + function[0].upper() + function[1:] + "Args"


def _rename_refs(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                name = item.rsplit("/", 1)[-1]
                out[key] = REF.format(model=renames.get(name, name))
            else:
                out[key] = _rename_refs(item, renames)
        return out
    if isinstance(value, list):
        return [_rename_refs(item, renames) for item in value]
    return value


def _allows_null(schema: dict) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or []):
        return True
    return any(_allows_null(option) for option in schema.get("anyOf", []))


def _drop_null_defaults(value: Any) -> Any:
    """Result fields that are left out when null carry `default: null` in pydantic's schema,
    which their own type refuses: a result has no defaults, so they go."""
    if isinstance(value, dict):
        out = {key: _drop_null_defaults(item) for key, item in value.items()}
        if "default" in out and out["default"] is None and not _allows_null(out):
            del out["default"]
        return out
    if isinstance(value, list):
        return [_drop_null_defaults(item) for item in value]
    return value


@cache
def function_schemas() -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """({path: args schema}, {path: result schema}, {name: shared definition}), with references
    into the definitions. Each function's argument model is named after the function."""
    inputs = []
    for path, spec in sorted(REGISTRY.items()):
        # A function without `returns=` is described as answering any JSON (and
        # tests/test_openapi.py fails until it declares one).
        returns = Any if spec.returns is None else spec.returns
        inputs.append((("args", path), "validation", TypeAdapter(spec.args_model)))
        inputs.append((("result", path), "validation", TypeAdapter(returns)))
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    definitions = dict(definitions.get("$defs", {}))
    # Argument models shared by no other function take the function's name (several modules
    # have a `CreateArgs`); a shared one (NoArgs) keeps its own.
    users: dict[str, list[str]] = {}
    for path in REGISTRY:
        ref = schemas[(("args", path), "validation")].get("$ref")
        if ref:
            users.setdefault(ref.rsplit("/", 1)[-1], []).append(path)
    renames = {
        name: args_schema_name(paths[0]) if len(paths) == 1 else re.sub(r".*__", "", name)
        for name, paths in users.items()
    }
    for name in definitions:
        if name.startswith("Page_"):  # pydantic's Page[Thread] -> ThreadPage
            parts = re.findall(r"[A-Z][A-Za-z0-9]*", name[5:])
            renames[name] = "Or".join(part for part in parts if part != "Union") + "Page"
    definitions = {
        renames.get(name, name): _drop_null_defaults(_rename_refs(schema, renames))
        for name, schema in definitions.items()
    }
    args = {
        path: _rename_refs(schemas[(("args", path), "validation")], renames) for path in REGISTRY
    }
    results = {
        path: _drop_null_defaults(_rename_refs(schemas[(("result", path), "validation")], renames))
        for path in REGISTRY
    }
    return args, results, definitions


def _security(spec: FunctionSpec) -> list[dict[str, list]]:
    schemes = []
    if KEY in spec.allow:
        schemes += [{"apiKey": []}, {"convexAdminKey": []}]
    if spec.allow & PEOPLE:
        schemes.append({"sessionToken": []})
    return schemes


def _who(spec: FunctionSpec) -> str:
    names = {KEY: "API keys", ADMIN: "admins", REVIEWER: "reviewers", VIEWER: "viewers"}
    names[USER] = "end users (their own threads)"
    order = [KEY, *ROLES]
    return ", ".join(names[grant] for grant in order if grant in spec.allow)


def summary(spec: FunctionSpec) -> str:
    doc = (spec.handler.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _success(result: dict) -> dict:
    return {
        "type": "object",
        "required": ["status", "value", "logLines"],
        "properties": {
            "status": {"const": "success"},
            "value": result,
            "logLines": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }


def _answer(result: dict) -> dict:
    return {
        "description": "The function ran (`status: success`) or refused the call (`status: "
        "error`, with a message naming the field or problem; nothing it wrote is kept).",
        "content": {
            JSON: {
                "schema": {"anyOf": [_success(result), {"$ref": REF.format(model="FunctionError")}]}
            }
        },
    }


def _http_error(description: str, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(model="HttpError")}}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}


def _transport_errors() -> dict[str, dict]:
    limit = get_settings().max_body_bytes
    return {
        "400": _http_error("The body is not a JSON object (`BadJsonBody`)."),
        "401": _http_error("Missing, unknown, revoked or expired credentials."),
        "413": _http_error(f"The body is larger than {limit} bytes."),
        "503": _http_error("The database could not commit; nothing was applied.", RETRY_AFTER),
    }


FORMAT = {
    "type": "string",
    "enum": ["json", "convex_encoded_json"],
    "default": "json",
    "description": '`convex_encoded_json` decodes `{"$integer": ...}` and `{"$float": ...}`.',
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key by the same caller returns the first result and "
    "applies nothing.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _run_body(args: dict, args_required: bool) -> dict:
    schema = {
        "type": "object",
        "properties": {"args": args, "format": FORMAT},
        "additionalProperties": False,
    }
    if args_required:
        schema["required"] = ["args"]
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _args_required(args: dict, definitions: dict) -> bool:
    target = args
    if "$ref" in args:
        target = definitions[args["$ref"].rsplit("/", 1)[-1]]
    return bool(target.get("required"))


def _function_operation(spec: FunctionSpec, args: dict, result: dict, definitions: dict) -> dict:
    operation: dict[str, Any] = {
        "operationId": operation_id(spec.path),
        "tags": [spec.path.partition(":")[0]],
        "summary": f"{spec.path} ({spec.kind})",
        "description": f"{summary(spec)}\n\nMay call: {_who(spec)}.".strip(),
        "security": _security(spec),
        "requestBody": _run_body(args, _args_required(args, definitions)),
        "responses": {"200": _answer(result), **_transport_errors()},
    }
    if spec.kind == "mutation":
        operation["parameters"] = [IDEMPOTENCY_HEADER]
    return operation


def _path_operation(kind: str, args: dict, results: dict, definitions: dict) -> dict:
    specs = [spec for _, spec in sorted(REGISTRY.items()) if spec.kind == kind]
    variants = []
    for spec in specs:
        variant = {
            "type": "object",
            "properties": {
                "path": {"const": spec.path},
                "args": args[spec.path],
                "format": FORMAT,
            },
            "required": ["path", "args"]
            if _args_required(args[spec.path], definitions)
            else ["path"],
            "additionalProperties": False,
        }
        if kind == "mutation":
            variant["properties"]["idempotencyKey"] = IDEMPOTENCY_HEADER["schema"]
        variants.append(variant)
    operation: dict[str, Any] = {
        "operationId": kind,
        "tags": ["convex"],
        "summary": f"Any {kind} by `path` (Convex's HTTP form)",
        "description": f"The same {kind}s as under /api/run, named in the body: `path` is "
        "`module:function` (or `module/function`).",
        "security": [{"apiKey": []}, {"convexAdminKey": []}, {"sessionToken": []}],
        "requestBody": {"required": True, "content": {JSON: {"schema": {"anyOf": variants}}}},
        "responses": {
            "200": _answer({"anyOf": _unique(results[spec.path] for spec in specs)}),
            **_transport_errors(),
        },
    }
    if kind == "mutation":
        operation["parameters"] = [IDEMPOTENCY_HEADER]
    return operation


def _unique(schemas) -> list[dict]:
    seen, out = set(), []
    for schema in schemas:
        key = repr(schema)
        if key not in seen:
            seen.add(key)
            out.append(schema)
    return out


COMMON_SCHEMAS: dict[str, dict] = {
    "FunctionError": {
        "type": "object",
        "required": ["status", "errorMessage", "logLines"],
        "properties": {
            "status": {"const": "error"},
            "errorMessage": {"type": "string"},
            "errorData": {"type": "object"},
            "logLines": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
    "HttpError": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        "additionalProperties": False,
    },
    "SignInRequest": {
        "type": "object",
        "required": ["email", "password"],
        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    },
    "SignedIn": {
        "type": "object",
        "required": ["token", "expiresTime", "userId"],
        "properties": {
            "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`"},
            "expiresTime": {"type": "number"},
            "userId": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Health": {
        "type": "object",
        "required": ["status", "db"],
        "properties": {"status": {"enum": ["ok", "error"]}, "db": {"type": "boolean"}},
        "additionalProperties": False,
    },
}

SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tlk_...",
        "description": "A backend's API key: `Authorization: Bearer tlk_...`.",
    },
    "convexAdminKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The same API key in the form Convex admin clients send: "
        "`Authorization: Convex tlk_...`.",
    },
    "sessionToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tls_...",
        "description": "A person's session token from POST /api/auth/signin.",
    },
    "consoleCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "threadline_session",
        "description": "The console's HttpOnly session cookie (downloads only).",
    },
}


def _action_operation() -> dict:
    """Convex's /api/action, which serves @convex-dev/auth's password sign-in only."""
    anonymous_limit = get_settings().anonymous_body_bytes
    string = {"type": "string"}
    sign_in = {
        "type": "object",
        "required": ["provider", "params"],
        "properties": {
            "provider": {"const": "password"},
            "params": {
                "type": "object",
                "required": ["email", "password"],
                "properties": {"email": string, "password": string, "flow": {"const": "signIn"}},
            },
        },
    }
    refresh = {
        "type": "object",
        "required": ["refreshToken"],
        "properties": {"refreshToken": string},
    }
    variants = [
        {
            "type": "object",
            "required": ["path", "args"],
            "properties": {"path": {"const": "auth:signIn"}, "args": args},
        }
        for args in (sign_in, refresh)
    ]
    variants.append(
        {
            "type": "object",
            "required": ["path"],
            "properties": {"path": {"const": "auth:signOut"}, "args": {"type": "object"}},
        }
    )
    tokens = {
        "type": "object",
        "required": ["token", "refreshToken"],
        "properties": {"token": string, "refreshToken": string},
        "additionalProperties": False,
    }
    result = {
        "anyOf": [
            {
                "type": "object",
                "required": ["tokens"],
                "properties": {"tokens": {"anyOf": [tokens, {"type": "null"}]}},
                "additionalProperties": False,
            },
            {"type": "null"},
        ]
    }
    return {
        "operationId": "auth.action",
        "tags": ["auth"],
        "summary": "@convex-dev/auth's auth:signIn (password, or a refresh token) and auth:signOut",
        "description": "A sign-in answers `{tokens: {token, refreshToken}}` (`token` is a JWT "
        "accepted as `Authorization: Bearer`); a refresh token that is unknown or expired answers "
        "`{tokens: null}`. auth:signOut needs the session's token. Without credentials the body "
        f"may hold at most {anonymous_limit} bytes.",
        "security": [{}, {"sessionToken": []}],
        "requestBody": {"required": True, "content": {JSON: {"schema": {"anyOf": variants}}}},
        "responses": {"200": _answer(result), **_transport_errors()},
    }


def _fixed_paths() -> dict[str, dict]:
    limit = get_settings().anonymous_body_bytes
    return {
        "/api/action": {"post": _action_operation()},
        "/api/auth/signin": {
            "post": {
                "operationId": "auth.signin",
                "tags": ["auth"],
                "summary": "Sign a person in; answers a session token",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": REF.format(model="SignInRequest")}}},
                },
                "responses": {
                    "200": {
                        "description": "Signed in",
                        "content": {JSON: {"schema": {"$ref": REF.format(model="SignedIn")}}},
                    },
                    "400": _http_error("Not a JSON object with string email and password."),
                    "401": _http_error("Wrong email or password (one answer for both)."),
                    "413": _http_error(f"The body is larger than {limit} bytes."),
                    "429": _http_error(
                        "Too many failed sign-ins for this account or address.", RETRY_AFTER
                    ),
                    "503": _http_error("The database could not commit.", RETRY_AFTER),
                },
            }
        },
        "/api/auth/signout": {
            "post": {
                "operationId": "auth.signout",
                "tags": ["auth"],
                "summary": "End the session whose token is sent",
                "security": [{"sessionToken": []}],
                "responses": {
                    "200": {
                        "description": "The session has ended",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"const": "success"}},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "401": _http_error("No session token, or the session has already ended."),
                    "503": _http_error("The database could not commit.", RETRY_AFTER),
                },
            }
        },
        "/api/health": {
            "get": {
                "operationId": "health",
                "tags": ["server"],
                "summary": "Whether the server reaches its database",
                "security": [],
                "responses": {
                    code: {
                        "description": text,
                        "content": {JSON: {"schema": {"$ref": REF.format(model="Health")}}},
                    }
                    for code, text in (("200", "Healthy"), ("503", "The database is unreachable"))
                },
            }
        },
        "/version": {
            "get": {
                "operationId": "version",
                "tags": ["server"],
                "summary": "The server's version, as plain text",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The version",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["server"],
                "summary": "This description",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def _download_operation(operation_id: str, summary: str, media_type: str, params: list) -> dict:
    """A GET /api/export/... route (api/exports.py): a file, as an attachment."""
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["downloads"],
            "summary": summary,
            "security": [{"apiKey": []}, {"sessionToken": []}, {"consoleCookie": []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
                for name, kind in params
            ],
            "responses": {
                "200": {
                    "description": "The file (Content-Disposition: attachment)",
                    "content": {media_type: {"schema": {"type": "string"}}},
                },
                "400": _http_error("A malformed argument."),
                "401": _http_error("No valid credentials."),
                "403": _http_error("Another site started the request, or the role may not."),
                "404": _http_error("Not there, or not the caller's to read."),
                "503": _http_error("The database could not answer.", RETRY_AFTER),
            },
        }
    }


def _download_paths() -> dict[str, dict]:
    markdown = "text/markdown; charset=utf-8"
    thread = [("threadId", "string")]
    return {
        "/api/export/threads/{threadId}.json": _download_operation(
            "export.threadJson", "A thread and everything in it, as JSON", JSON, thread
        ),
        "/api/export/threads/{threadId}.md": _download_operation(
            "export.threadMarkdown", "A thread's transcript, inert Markdown", markdown, thread
        ),
        "/api/export/artifacts/{artifactId}/versions/{version}.md": _download_operation(
            "export.artifactVersion",
            "One version of an artifact, verbatim",
            markdown,
            [("artifactId", "string"), ("version", "integer")],
        ),
        "/api/export/approvalRequests/{approvalRequestId}/plan.md": _download_operation(
            "export.plan",
            "An approval request's whole plan, verbatim",
            markdown,
            [("approvalRequestId", "string")],
        ),
    }


def build_spec() -> dict[str, Any]:
    args, results, definitions = function_schemas()
    paths: dict[str, dict] = {}
    for path, spec in sorted(REGISTRY.items()):
        module, _, function = path.partition(":")
        paths[f"/api/run/{module}/{function}"] = {
            "post": _function_operation(spec, args[path], results[path], definitions)
        }
    paths["/api/query"] = {"post": _path_operation("query", args, results, definitions)}
    paths["/api/mutation"] = {"post": _path_operation("mutation", args, results, definitions)}
    paths.update(_fixed_paths())
    paths.update(_download_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Threadline",
            "version": __version__,
            "description": "Persistence and review for AI-agent runs, in Convex's HTTP wire "
            "format. A function that refuses a call answers HTTP 200 with `status: error`; "
            "see docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": {**definitions, **COMMON_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
