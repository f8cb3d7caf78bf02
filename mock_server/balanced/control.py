"""What the mock's control side asks of Balanced: fixtures, its own control operations
(``setDebitStatus``, ``setMarketplaceEscrow``), the dashboard's overview and the start-up
banner."""

from __future__ import annotations

from mock_server.balanced import uris
from mock_server.balanced.handlers import BalancedShapes
from mock_server.balanced.service import BalancedService, NewAccount, NewDebit, NewMarketplace
from mock_server.balanced.vendor import BALANCED
from mock_server.json_types import Json
from mock_server.sessions import Session
from mock_server.spec import defaults
from mock_server.store import Store, Transaction
from mock_server.vendor import Handler


def seed(service: BalancedService, tx: Transaction, section: Json) -> Json:
    """The ``balanced`` section of a fixtures file, created inside ``tx``."""
    debit_defaults = defaults(BALANCED.control_part, "BalancedDebitSeed")
    marketplaces = []
    for seed in section.get("marketplaces", []):
        marketplace = service.open_marketplace_in(
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
            account = service.open_account_in(
                tx,
                marketplace.id,
                NewAccount(
                    id=account_seed.get("id"),
                    name=account_seed.get("name"),
                    email_address=account_seed.get("email_address"),
                    roles=tuple(account_seed.get("roles", ("buyer",))),
                ),
            )
            debits = [
                service.debit_account_in(
                    tx,
                    marketplace.id,
                    account.id,
                    NewDebit(
                        id=debit_seed.get("id"),
                        amount=debit_seed["amount"],
                        fee=debit_seed.get("fee"),
                        description=debit_seed.get("description"),
                        appears_on_statement_as=debit_seed.get("appears_on_statement_as"),
                        meta=debit_seed.get("meta", {}),
                        status=debit_seed.get("status", debit_defaults["status"]),
                    ),
                )
                for debit_seed in account_seed.get("debits", [])
            ]
            accounts.append(
                {
                    "id": account.id,
                    "uri": uris.account(marketplace.id, account.id),
                    "debits": [
                        {
                            "id": d.id,
                            "uri": uris.debit(marketplace.id, d.id),
                            "amount": d.amount,
                            "fee": d.fee,
                            "status": d.status,
                        }
                        for d in debits
                    ],
                }
            )
        # The escrow given, or what its succeeded debits brought in.
        marketplace = (
            service.set_escrow_in(tx, marketplace.id, seed["in_escrow"])
            if "in_escrow" in seed
            else service.marketplace_in(tx, marketplace.id)
        )
        marketplaces.append(
            {
                "id": marketplace.id,
                "uri": uris.marketplace(marketplace.id),
                "in_escrow": marketplace.in_escrow,
                "accounts": accounts,
            }
        )
    return {"marketplaces": marketplaces}


def overview(service: BalancedService, store: Store, limit: int) -> Json:
    """The first ``limit`` marketplaces, each with its ``limit`` newest debits and their
    refunds."""
    marketplaces = service.marketplaces(store, offset=0, limit=limit)
    shown = []
    for marketplace in marketplaces.items:
        total = service.debits(store, marketplace.id, offset=0, limit=0).total
        newest = service.debits(store, marketplace.id, offset=max(0, total - limit), limit=limit)
        debits = []
        for debit in reversed(newest.items):
            refunds = service.refund_records(
                store, marketplace.id, 0, limit, debit_id=debit.id
            ).decoded()
            debits.append(
                {
                    "id": debit.id,
                    "amount": debit.amount,
                    "status": debit.status,
                    "refunds_total": refunds.total,
                    "refunds": [
                        {"id": detail.refund.id, "amount": detail.refund.amount}
                        for detail in refunds.items
                    ],
                }
            )
        shown.append(
            {
                "id": marketplace.id,
                "name": marketplace.name,
                "in_escrow": marketplace.in_escrow,
                "debits_total": total,
                "debits": debits,
            }
        )
    return {"marketplaces_total": marketplaces.total, "marketplaces": shown}


class BalancedControl:
    """Control API operations on Balanced resources: what happens to a debit or a
    marketplace's escrow outside the API (a card network's answer, a payout)."""

    def __init__(self, service: BalancedService, shapes: BalancedShapes) -> None:
        self.service = service
        self.shapes = shapes

    def operations(self) -> dict[str, Handler]:
        """The handler of each control API operation of Balanced's (checked at start-up)."""
        return {
            "setDebitStatus": self.set_debit_status,
            "setMarketplaceEscrow": self.set_marketplace_escrow,
        }

    def set_debit_status(
        self, session: Session, marketplace_id: str, debit_id: str, body: Json
    ) -> tuple[Json, int]:
        debit = self.service.set_debit_status(
            session.store, marketplace_id, debit_id, body["status"]
        )
        return self.shapes.debit.write(debit), 200

    def set_marketplace_escrow(
        self, session: Session, marketplace_id: str, body: Json
    ) -> tuple[Json, int]:
        marketplace = self.service.set_escrow(session.store, marketplace_id, body["in_escrow"])
        return self.shapes.marketplace.write(marketplace), 200


def banner(service: BalancedService, store: Store) -> list[str]:
    lines = []
    for marketplace in service.marketplaces(store, offset=0, limit=100).items:
        lines.append(f"marketplace {marketplace.id}  in escrow {marketplace.in_escrow}")
        for account in service.accounts(store, marketplace.id, offset=0, limit=100).items:
            debits = service.debits(store, marketplace.id, 0, 100, account_id=account.id).items
            summary = ", ".join(
                f"{d.id} ({d.amount})"
                if d.status == service.policy.refundable_status  # the usual: said only otherwise
                else f"{d.id} ({d.amount}, {d.status})"
                for d in debits
            )
            lines.append(f"  account {account.id}  debits {summary or 'none'}")
    return lines
