"""The contracts as the mock serves them: ``{base path}/openapi.json`` and ``/openapi.yaml``.

Served as written, with their components and ``$ref``s, so that a client generated from the URL
(OpenAPI Generator, openapi-typescript) has the vendor's names (``AccountCreditBalanceRefundReq``),
not names made up from operationIds. Only two things differ from the file: references into
another contract file are inlined (a client fetching one URL cannot follow them), and the
server the document was fetched under is listed first, so Swagger UI and generated clients
call the path spelling they were pointed at.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from mock_server.spec import Contract

JSON_PATH = "/openapi.json"
YAML_PATH = "/openapi.yaml"
# libyaml's emitter when PyYAML has it (its wheels do): the pure-Python one took 40 ms a
# contract, a sixth of start-up.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def served_contract(contract: Contract, base_path: str) -> Contract:
    """``contract`` with the server at ``base_path`` first."""
    servers = contract.get("servers", [])
    here = [server for server in servers if server["url"] == base_path] or [{"url": base_path}]
    others = [server for server in servers if server["url"] != base_path]
    return {**contract, "servers": here + others}


def contract_routes(app: Any, contract: Contract, base_path: str) -> None:
    """Serve ``contract`` under ``base_path`` as JSON and as YAML (rendered once, here)."""
    document = served_contract(contract, base_path)
    as_json = json.dumps(document, ensure_ascii=False, indent=2).encode()
    as_yaml = yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=True).encode()
    for path, body, media_type in (
        (JSON_PATH, as_json, "application/json"),
        (YAML_PATH, as_yaml, "application/yaml"),
    ):

        async def endpoint(
            _request: Request, body: bytes = body, media: str = media_type
        ) -> Response:
            return Response(body, media_type=media)

        app.add_url_rule(
            base_path + path, endpoint=base_path + path, view_func=endpoint, methods=["GET"]
        )
