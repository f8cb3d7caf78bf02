"""Control API handlers: health, reset, and creating accounts for tests."""

from __future__ import annotations

from typing import Any, Protocol

from mock_server.fixtures import new_account
from mock_server.marqeta.service import MarqetaService
from mock_server.money import json_number

Json = dict[str, Any]


class ResettableState(Protocol):
    marqeta: MarqetaService

    def reset(self, load_fixtures: bool) -> None: ...


class ControlHandlers:
    def __init__(self, state: ResettableState, apis: dict[str, Json], control_path: str) -> None:
        self.state = state
        self.apis = apis
        self.control_path = control_path

    def health(self) -> tuple[Json, int]:
        return {"status": "ok", "apis": self.apis, "control": self.control_path}, 200

    def reset(self, fixtures: bool) -> tuple[Json, int]:
        self.state.reset(load_fixtures=fixtures)
        return {"marqeta_accounts": self.state.marqeta.account_count()}, 200

    def create_account(self, body: Json) -> tuple[Json, int]:
        account, sources = self.state.marqeta.open_account(new_account(body))
        created = {
            "token": account.token,
            "current_balance": json_number(account.current_balance),
            "credit_limit": json_number(account.credit_limit),
            "currency_code": account.currency_code,
            "payment_sources": [
                {"token": s.token, "type": s.type, "account_suffix": s.account_suffix}
                | ({"name": s.name} if s.name is not None else {})
                for s in sources
            ],
        }
        return created, 201
