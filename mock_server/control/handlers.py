"""Control API handlers: health, reset, and creating accounts for tests."""

from __future__ import annotations

from typing import Any, Protocol

from mock_server.balanced.service import BalancedService
from mock_server.fixtures import new_account
from mock_server.marqeta.service import MarqetaService
from mock_server.money import json_number

Json = dict[str, Any]


class ResettableState(Protocol):
    marqeta: MarqetaService
    balanced: BalancedService

    def reset(self, load_fixtures: bool) -> None: ...

    def seed(self, fixtures: Json) -> Json: ...


class ControlHandlers:
    def __init__(self, state: ResettableState, apis: dict[str, Json], control_path: str) -> None:
        self.state = state
        self.apis = apis
        self.control_path = control_path

    def health(self) -> tuple[Json, int]:
        return {"status": "ok", "apis": self.apis, "control": self.control_path}, 200

    def reset(self, fixtures: bool) -> tuple[Json, int]:
        self.state.reset(load_fixtures=fixtures)
        counts = {
            "marqeta_accounts": self.state.marqeta.account_count(),
            "balanced_marketplaces": self.state.balanced.marketplaces(offset=0, limit=1).total,
        }
        return counts, 200

    def seed(self, body: Json) -> tuple[Json, int]:
        return self.state.seed(body), 201

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
