"""Baseten's published management API spec, as the fake Baseten checks every request and answer.

`data/management.json` is Baseten's own OpenAPI document (MIT, `data/LICENSE-management.json.txt`):
the authority for every path, query parameter and 200 body. It lacks the per-model audit-log
endpoint, so that one operation, and only that one, comes from the project's consolidated
subset `data/baseten-openapi.yaml`.

The published document describes 200 answers only. Fault bodies are checked against what
Baseten documents elsewhere: a 429 is `{"error": "...", "retry_after": <seconds>}` (the
management API's rate-limits page) and every other failed answer is `{"error": "<message>"}`
(the shape Baseten documents for its failed responses).

One answer is read wider than its declared type: the published document types a chain's
environment list (GET /v1/chains/{chain_id}/environments) as EnvironmentsV1, a model's, whose
items need a `model_id` and model deployments; each chain environment Baseten answers elsewhere
(its GET, its POST) is a ChainEnvironmentV1. So that list may be either (CHAIN_ENVIRONMENTS).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

DATA = Path(__file__).parent / "data"
PUBLISHED = DATA / "management.json"
SUBSET = DATA / "baseten-openapi.yaml"
AUDIT_LOGS = "/v1/models/{model_id}/audit_logs"
CHAIN_ENVIRONMENTS = "/v1/chains/{chain_id}/environments"

# the formats a query parameter names that are checked (jsonschema checks none by itself without extras)
FORMATS = FormatChecker(formats=())
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339's date-time (JSON Schema's `date-time`): a date, a time and an offset, each valid."""
    if not isinstance(value, str):
        return True
    return bool(_DATE_TIME.fullmatch(value)) and bool(datetime.fromisoformat(value.upper().replace("Z", "+00:00")))


RATE_LIMITED = Draft202012Validator(
    {
        "type": "object",
        "required": ["error", "retry_after"],
        "properties": {"error": {"type": "string"}, "retry_after": {"type": "integer", "minimum": 0}},
    }
)
FAILED = Draft202012Validator({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}})


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    source: str
    pattern: re.Pattern[str]
    variables: int  # templated segments: a literal segment (`production`) wins over `{deployment_id}`
    query: dict[str, dict[str, Any]]  # name -> the parameter object
    ok: Draft202012Validator | None  # the 200 body's schema
    request: Draft202012Validator | None = None  # the request body's schema, when it declares one

    def check_body(self, body: Any) -> list[str]:
        """What in this request body the spec does not allow. An operation that declares no body
        takes none, or the empty object its published code samples send (`json={}`)."""
        if self.request is None:
            return [] if body in (b"", None, {}) else [f"{self.method} {self.template} takes no body, got {body!r:.80}"]
        return [f"request body: {e.message}" for e in self.request.iter_errors(body)]

    def check_query(self, query: dict[str, list[str]]) -> list[str]:
        """What in this query string the spec does not allow."""
        problems = []
        for name, values in query.items():
            param = self.query.get(name)
            if param is None:
                declared = ", ".join(sorted(self.query)) or "none"
                problems.append(f"query parameter {name!r} is not in the spec (declared: {declared})")
                continue
            schema = param.get("schema", {})
            value: Any = [_coerce(schema.get("items", {}), v) for v in values]
            if "array" not in _types(schema):
                if len(values) > 1:
                    problems.append(f"query parameter {name!r} sent {len(values)} times")
                value = _coerce(schema, values[-1])
            errors = Draft202012Validator(schema, format_checker=FORMATS).iter_errors(value)
            problems += [f"query parameter {name!r}: {e.message}" for e in errors]
        for name, param in self.query.items():
            if param.get("required") and name not in query:
                problems.append(f"required query parameter {name!r} is missing")
        return problems

    def check_answer(self, status: int, body: Any) -> list[str]:
        """What in this answer the spec (or, for faults, Baseten's documented error shape) does not allow."""
        if status == 200:
            if self.ok is None:
                return [f"{self.method} {self.template} documents no 200 body"]
            return [e.message for e in self.ok.iter_errors(body)]
        if 400 <= status < 600:
            shape = RATE_LIMITED if status == 429 else FAILED
            return [f"{status} body: {e.message}" for e in shape.iter_errors(body)]
        return [f"status {status} is not an answer Baseten gives"]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    found = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    for alt in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(alt)
    return found


def _coerce(schema: dict[str, Any], raw: str) -> Any:
    """A query-string value as the type its schema names, when it reads as one."""
    kinds = _types(schema)
    if "integer" in kinds and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "number" in kinds:
        try:
            return float(raw)
        except ValueError:
            pass
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    return raw


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _with_components(doc: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    """A parameter whose schema carries the document's components, so a `$ref` in it resolves
    (the logs endpoints' `direction` and `min_level` name SortOrderV1 and LogLevelV1)."""
    return {**param, "schema": {**param.get("schema", {}), "components": doc.get("components", {})}}


def _operations(doc: dict[str, Any], source: str, templates: list[str]) -> list[Operation]:
    out = []
    for template in templates:
        item = doc["paths"][template]
        shared = [_resolve(doc, p) for p in item.get("parameters", [])]
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            params = shared + [_resolve(doc, p) for p in op.get("parameters", [])]
            ok = _resolve(doc, op.get("responses", {}).get("200", {}))
            schema = ok.get("content", {}).get("application/json", {}).get("schema")
            asked = _resolve(doc, op.get("requestBody", {})).get("content", {}).get("application/json", {})
            regex = "".join(
                "/[^/]+" if seg.startswith("{") else "/" + re.escape(seg) for seg in template.strip("/").split("/")
            )
            out.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    source=source,
                    pattern=re.compile(regex),
                    variables=template.count("{"),
                    query={p["name"]: _with_components(doc, p) for p in params if p.get("in") == "query"},
                    ok=Draft202012Validator({**schema, "components": doc["components"]}) if schema else None,
                    request=_strict(doc, asked["schema"]) if asked.get("schema") else None,
                )
            )
    return out


def _strict(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A request body's schema, closed: a field the spec does not name is a mistake in the bot."""
    resolved = _resolve(doc, schema)
    if resolved.get("type") == "object" and "additionalProperties" not in resolved:
        resolved = {**resolved, "additionalProperties": False}
    return Draft202012Validator({**resolved, "components": doc["components"]})


def _chain_environments(doc: dict[str, Any], op: Operation) -> Operation:
    """The chain environment list as declared (EnvironmentsV1), or as a list of ChainEnvironmentV1."""
    declared = doc["paths"][CHAIN_ENVIRONMENTS]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert declared == {"$ref": "#/components/schemas/EnvironmentsV1"}, "the spec types it anew: drop this"
    chain_list = {
        "type": "object",
        "required": ["environments"],
        "properties": {"environments": {"type": "array", "items": {"$ref": "#/components/schemas/ChainEnvironmentV1"}}},
    }
    return replace(op, ok=Draft202012Validator({"anyOf": [declared, chain_list], "components": doc["components"]}))


class Spec:
    def __init__(self) -> None:
        published = json.loads(PUBLISHED.read_text())
        subset = yaml.safe_load(SUBSET.read_text())
        assert AUDIT_LOGS not in published["paths"], "the published spec has the audit log now: drop the subset"
        ops = _operations(published, PUBLISHED.name, list(published["paths"]))
        ops += _operations(subset, SUBSET.name, [AUDIT_LOGS])
        ops = [
            _chain_environments(published, o) if (o.method, o.template) == ("GET", CHAIN_ENVIRONMENTS) else o
            for o in ops
        ]
        self.operations = sorted(ops, key=lambda o: o.variables)
        self.schemas: dict[str, Any] = published["components"]["schemas"]

    def operation(self, method: str, path: str) -> Operation | None:
        return next((o for o in self.operations if o.method == method and o.pattern.fullmatch(path)), None)

    def required(self, schema: str) -> list[str]:
        return list(self.schemas[schema].get("required", []))


SPEC = Spec()
