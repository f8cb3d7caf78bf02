"""The floor of our framework: Connexion serving one of our contracts as the mock does, no work.

``python bench/connexion_floor.py PORT CONTRACT BASE_PATH``. Same request validation, validators
and credential check as the mock, handlers on the event loop; every operation answers a fixed
body at once, with no state, rules, CORS or response validation. What the mock loses to this is
what its own work costs; what this loses to the bare-Starlette ceiling is Connexion's cost.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from connexion import AsyncApp
from connexion.resolver import Resolver

from mock_server.balanced.vendor import DEMO_BALANCED_CREDENTIALS
from mock_server.connexion_adapter import security_map, validator_map
from mock_server.marqeta.vendor import DEMO_CREDENTIALS
from mock_server.spec import load_contract

BODY = {"token": "my_refund_token_01", "status": "INITIATED", "amount": 0.01}
CREDENTIALS = {
    "marqeta-credit.yaml": DEMO_CREDENTIALS,
    "balanced-v1.yaml": DEMO_BALANCED_CREDENTIALS,
}


async def answer(*_args: Any, **kwargs: Any) -> tuple[dict[str, Any], int]:
    return BODY, 201 if "body" in kwargs else 200


def floor_app(contract_file: str, base_path: str) -> AsyncApp:
    app = AsyncApp(__name__, strict_validation=True, validator_map=validator_map())
    app.add_api(
        load_contract(contract_file),
        base_path=base_path,
        resolver=Resolver(function_resolver=lambda _operation_id: answer),
        security_map=security_map(CREDENTIALS[contract_file].check),
    )
    return app


if __name__ == "__main__":
    port, contract_file, base_path = sys.argv[1:4]
    uvicorn.run(
        floor_app(contract_file, base_path), host="127.0.0.1", port=int(port), log_level="warning"
    )
