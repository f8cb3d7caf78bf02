"""Fixtures files (``--seed FILE`` and the built-in demo data): read, validate, apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker

from mock_server.balanced import uris as balanced_uris
from mock_server.balanced.service import BalancedService, NewDebit, NewMarketplace
from mock_server.balanced.service import NewAccount as NewBalancedAccount
from mock_server.marqeta.service import MarqetaService, NewAccount, NewPaymentSource
from mock_server.money import decimal_from_json
from mock_server.spec import Contract, load_contract, schema
from mock_server.store import Store

DEMO_FIXTURES = Path(__file__).with_name("demo.yaml")
CONTROL_CONTRACT = "mock-control.yaml"


class FixturesError(ValueError):
    """A fixtures file that cannot be read or does not match the FixturesFile schema."""


def read_fixtures(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON fixtures file and check it against the control contract."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FixturesError(f"{path}: cannot read fixtures: {exc}") from exc
    if data is None:  # an empty file is more likely a mistake than a wish for no fixtures
        raise FixturesError(f"{path}: the fixtures file is empty")
    contract = load_contract(CONTROL_CONTRACT)
    validator = Draft4Validator(
        _with_components(contract, "FixturesFile"), format_checker=FormatChecker()
    )
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: e.path)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise FixturesError(f"{path}: {where}: {error.message}")
    checked: dict[str, Any] = data
    return checked


def apply_fixtures(
    store: Store, marqeta: MarqetaService, balanced: BalancedService, fixtures: dict[str, Any]
) -> dict[str, Any]:
    """Create everything in ``fixtures`` in one transaction; a summary of what was created.

    All or nothing: a duplicate id anywhere leaves the state as it was.
    """
    summary: dict[str, Any] = {"marqeta": {"accounts": []}, "balanced": {"marketplaces": []}}
    with store.transaction() as tx:
        for seed in fixtures.get("marqeta", {}).get("accounts", []):
            account, sources = marqeta.open_account_in(tx, new_account(seed))
            summary["marqeta"]["accounts"].append(
                {"token": account.token, "payment_sources": [s.token for s in sources]}
            )
        for seed in fixtures.get("balanced", {}).get("marketplaces", []):
            marketplace = balanced.open_marketplace_in(
                tx,
                NewMarketplace(
                    id=seed.get("id"),
                    name=seed["name"],
                    domain_url=seed.get("domain_url"),
                    support_email_address=seed.get("support_email_address"),
                ),
            )
            accounts = []
            for account_seed in seed.get("accounts", []):
                buyer = balanced.open_account_in(
                    tx,
                    marketplace.id,
                    NewBalancedAccount(
                        id=account_seed.get("id"),
                        name=account_seed.get("name"),
                        email_address=account_seed.get("email_address"),
                        roles=tuple(account_seed.get("roles", ("buyer",))),
                    ),
                )
                debits = [
                    balanced.debit_account_in(
                        tx,
                        marketplace.id,
                        buyer.id,
                        NewDebit(
                            id=debit_seed.get("id"),
                            amount=debit_seed["amount"],
                            fee=debit_seed.get("fee"),
                            description=debit_seed.get("description"),
                            appears_on_statement_as=debit_seed.get("appears_on_statement_as"),
                            meta=debit_seed.get("meta", {}),
                        ),
                    )
                    for debit_seed in account_seed.get("debits", [])
                ]
                accounts.append(
                    {
                        "id": buyer.id,
                        "uri": balanced_uris.account(marketplace.id, buyer.id),
                        "debits": [
                            {
                                "id": d.id,
                                "uri": balanced_uris.debit(marketplace.id, d.id),
                                "amount": d.amount,
                                "fee": d.fee,
                            }
                            for d in debits
                        ],
                    }
                )
            summary["balanced"]["marketplaces"].append(
                {
                    "id": marketplace.id,
                    "uri": balanced_uris.marketplace(marketplace.id),
                    "accounts": accounts,
                }
            )
    return summary


def new_account(seed: dict[str, Any]) -> NewAccount:
    """A NewAccount from a ``MarqetaAccountSeed`` (control API body or fixtures entry)."""
    contract = load_contract(CONTROL_CONTRACT)
    account_defaults = _defaults(contract, "MarqetaAccountSeed")
    source_defaults = _defaults(contract, "MarqetaPaymentSourceSeed")
    return NewAccount(
        token=seed.get("token") or None,
        current_balance=decimal_from_json(seed["current_balance"]),
        credit_limit=decimal_from_json(seed.get("credit_limit", account_defaults["credit_limit"])),
        currency_code=seed.get("currency_code"),
        payment_sources=tuple(
            NewPaymentSource(
                token=source.get("token") or None,
                type=source.get("type", source_defaults["type"]),
                account_suffix=source["account_suffix"],
                name=source.get("name"),
            )
            for source in seed.get("payment_sources", [])
        ),
    )


def _defaults(contract: Contract, schema_name: str) -> dict[str, Any]:
    properties = schema(contract, schema_name)["properties"]
    return {name: prop["default"] for name, prop in properties.items() if "default" in prop}


def _with_components(contract: Contract, schema_name: str) -> dict[str, Any]:
    """A standalone JSON schema for one component, its local references still resolvable."""
    return {**schema(contract, schema_name), "components": contract["components"]}
