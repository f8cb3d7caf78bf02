"""Whether a request keeps to the contract, judged before it is forwarded: by the mock's own
request validation (Connexion with the mock's validators and error router), so that the proxy
says what the mock would say, in the same words and the vendor's error shape.

The judge is Connexion's middleware with only the layers that judge a request (routing,
security, request validation, and the exception layers that answer a refusal) around an app that
answers "valid": the mock's handlers, Swagger UI, response validation and Connexion's own
function layer are a third of a judgement's time and say nothing about the request. A request
it refuses is answered as the mock answers it, and the refusal's message is read from the
exchange (the error router notes it there, ``Exchange.refused``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connexion.exceptions import ProblemException
from connexion.middleware import ConnexionMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from mock_server.connexion_adapter import security_map, validator_map
from mock_server.contract_facts import ContractFacts
from mock_server.errors import AllowedMethods, ErrorRouter
from mock_server.exchange import ROUTING
from mock_server.json_codec import JSONIFIER
from mock_server.proxy.asking import ask
from mock_server.spec import Contract

VALID = 299  # the judge's "nothing to say": never a status a contract answers with
JUDGING = [
    ServerErrorMiddleware,
    ExceptionMiddleware,
    RoutingMiddleware,
    SecurityMiddleware,
    RequestValidationMiddleware,
]


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
        self._allowed: list[AllowedMethods] = []
        self.app = ConnexionMiddleware(
            self._valid,
            import_name=__name__,
            middlewares=JUDGING,
            strict_validation=True,
            validator_map=validator_map(),
            jsonifier=JSONIFIER,
        )
        errors = ErrorRouter()
        for base_path in sorted(base_paths, key=len, reverse=True):
            allowed = AllowedMethods(base_path, contract["paths"])
            self._allowed.append(allowed)
            errors.register(base_path, facts.error_format, allowed)
            self.app.add_api(
                contract,
                base_path=base_path,
                # Connexion resolves each operation's function even here; _valid answers all.
                resolver=Resolver(function_resolver=lambda operation_id: self._valid),
                # Any credentials do: the target judges them; a request without is refused.
                security_map=security_map(lambda user, password: {"sub": user}),
                name=base_path,
                strict_validation=facts.unknown_query_parameters == "refused",
            )
        self.app.add_error_handler(ProblemException, errors.on_problem)
        self.app.add_error_handler(HTTPException, errors.on_http_exception)

    async def _valid(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What the judge answers a request that passed every judging layer; one routed to no
        operation is refused as the mock's router refuses it (404, or 405 on a served path)."""
        if not scope.get("extensions", {}).get(ROUTING, {}).get("operation_id"):
            served = any(allowed.for_path(scope["path"]) for allowed in self._allowed)
            raise HTTPException(405 if served else 404)
        await send({"type": "http.response.start", "status": VALID, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def judge(self, scope: Scope, body: bytes) -> Judgement:
        """Judge the request ``scope`` with ``body`` (neither is changed)."""
        answer, judged = await ask(self.app, scope, body)
        if answer.status == VALID:
            return Judgement(judged.operation)
        refusal = judged.refused or f"the mock answers {answer.status}"
        return Judgement(judged.operation, refusal, answer.status, answer.headers, answer.body)
