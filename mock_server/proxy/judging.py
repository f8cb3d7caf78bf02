"""Whether a request keeps to the contract, judged before it is forwarded: by the mock's own
request validation (Connexion with the mock's validators and error router), so that the proxy
says what the mock would say, in the same words and the vendor's error shape.

The judge is a Connexion app whose every operation answers "valid"; a request it refuses is
answered as the mock answers it, and the refusal's message is read from the exchange (the
error router notes it there, ``Exchange.refused``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import Scope

from mock_server.connexion_adapter import security_map, validator_map
from mock_server.contract_facts import ContractFacts
from mock_server.errors import AllowedMethods, ErrorRouter
from mock_server.json_codec import JSONIFIER
from mock_server.proxy.asking import ask
from mock_server.spec import Contract

VALID = 299  # the judge's "nothing to say": never a status a contract answers with
OPERATION_HEADER = "x-judged-operation"


@dataclass
class Judgement:
    operation: str | None  # the contract's operationId the request was routed to
    refusal: str | None = None  # why the mock would refuse it; None when it keeps to the contract
    status: int = VALID  # the mock's answer to it, when refused (in the vendor's error shape)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class RequestJudge:
    def __init__(self, contract: Contract, base_paths: list[str]) -> None:
        facts = ContractFacts.read(contract)
        self.app = AsyncApp(
            __name__,
            middlewares=[
                middleware
                for middleware in ConnexionMiddleware.default_middlewares
                if middleware is not ResponseValidationMiddleware
            ],
            strict_validation=True,
            validate_responses=False,
            validator_map=validator_map(),
            jsonifier=JSONIFIER,
            swagger_ui_options=SwaggerUIOptions(swagger_ui=False, serve_spec=False),
        )
        errors = ErrorRouter()
        for base_path in sorted(base_paths, key=len, reverse=True):
            errors.register(
                base_path, facts.error_format, AllowedMethods(base_path, contract["paths"])
            )
            self.app.add_api(
                contract,
                base_path=base_path,
                resolver=Resolver(function_resolver=_valid),
                # Any credentials do: the target judges them; a request without is refused.
                security_map=security_map(lambda user, password: {"sub": user}),
                name=base_path,
                strict_validation=facts.unknown_query_parameters == "refused",
            )
        self.app.add_error_handler(ProblemException, errors.on_problem)
        self.app.add_error_handler(HTTPException, errors.on_http_exception)

    async def judge(self, scope: Scope, body: bytes) -> Judgement:
        """Judge the request ``scope`` with ``body`` (neither is changed)."""
        answer, judged = await ask(self.app, scope, body)
        if answer.status == VALID:
            return Judgement(judged.operation)
        refusal = judged.refused or f"the mock answers {answer.status}"
        return Judgement(judged.operation, refusal, answer.status, answer.headers, answer.body)


def _valid(operation_id: str) -> Any:
    async def valid(**_params: Mapping[str, Any]) -> ConnexionResponse:
        return ConnexionResponse(status_code=VALID, headers={OPERATION_HEADER: operation_id})

    return valid
