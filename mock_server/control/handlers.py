"""Control API handlers (``openapi/mock-control.yaml``): one session's state, and what the
sessions share (faults, the request journal). Control operations on one vendor's resources are
that vendor's (``VendorState.control``)."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from mock_server.control import state as state_document
from mock_server.control.faults import Fault
from mock_server.control.forced import OperationAnswers
from mock_server.domain import DomainError

if TYPE_CHECKING:
    from mock_server.app import MockState, Shared

Json = dict[str, Any]
CONTROL_PATH = "/__mock__"
PANELS_PLACEHOLDER = "{/* panels */}"  # in dashboard.html, where the declarations go


class ControlHandlers:
    def __init__(self, state: MockState, shared: Shared) -> None:
        self.state = state
        self.shared = shared

    def health(self) -> tuple[Json, int]:
        apis = {
            api.name: {
                "base_paths": api.base_paths,
                "contract": f"{api.base_paths[0]}/openapi.json",
            }
            for api in self.shared.apis.values()
        }
        return {"status": "ok", "apis": apis, "control": CONTROL_PATH}, 200

    def dashboard(self) -> tuple[str, int, dict[str, str]]:
        """The dashboard page, with each vendor's panel declaration (``Vendor.panel``) for its
        script to draw the overview with."""
        page = resources.files("mock_server.control").joinpath("dashboard.html").read_text()
        panels = {
            api.name: dataclasses.asdict(api.vendor.panel) for api in self.shared.apis.values()
        }
        # Inside <script>, "</" would end it: JSON allows the escaped slash.
        declared = json.dumps(panels).replace("</", "<\\/")
        page = page.replace(PANELS_PLACEHOLDER, declared)
        return page, 200, {"Content-Type": "text/html"}  # the page declares its charset

    # State --------------------------------------------------------------------------------

    def reset(self, fixtures: bool) -> tuple[Json, int]:
        self.state.reset(load_fixtures=fixtures)
        sessions = self.shared.sessions
        if sessions is not None and self.state is sessions.default:
            sessions.delete_all()  # a reset of the whole mock; a session's reset is its own
            self.shared.journal.forget()
        return self._counts(), 200

    def seed(self, body: Json) -> tuple[Json, int]:
        return self.state.seed(body), 201

    def get_state(self) -> tuple[Json, int]:
        return state_document.export_state(self.state.store), 200

    def put_state(self, body: Json) -> tuple[Json, int]:
        state_document.import_state(self.state.store, body)
        return self._counts(), 200

    def _counts(self) -> Json:
        counts: Json = {}
        for vendor in self.state.vendors.values():
            counts |= vendor.counts()
        return counts

    def list_sessions(self) -> tuple[Json, int]:
        return {"sessions": self.shared.all_sessions.names()}, 200

    def delete_session(self, session: str) -> tuple[None, int]:
        self.shared.all_sessions.delete(session)
        self.shared.journal.forget(session)
        return None, 204

    # Faults -------------------------------------------------------------------------------

    def list_faults(self) -> tuple[Json, int]:
        return {"faults": self.shared.faults.listing()}, 200

    def set_fault(self, api: str, operation_id: str, body: Json) -> tuple[Json, int]:
        answers = self._answers(api, operation_id)
        # The contract's Fault schema has Fault's fields (and no others): the body is a Fault.
        fault = Fault(**body | {"next": tuple(body.get("next", ()))})
        errors = self.shared.apis[api].error_format
        for status in sorted(fault.statuses()):
            if not answers.documents(status) or errors.kind_for(status) is None:
                raise DomainError(
                    "invalid_request",
                    f"{operation_id} cannot answer {status}: a fault may only force an error the"
                    f" contract documents for it and the vendor's error table has"
                    f" (documented: {answers.statuses()})",
                )
        self.shared.faults.set(api, operation_id, fault, self.state.name)
        return self.shared.faults.described(api, operation_id, self.state.name), 200

    def clear_fault(self, api: str, operation_id: str) -> tuple[None, int]:
        self._answers(api, operation_id)
        self.shared.faults.clear(api, operation_id, self.state.name)
        return None, 204

    def clear_faults(self) -> tuple[None, int]:
        self.shared.faults.clear(session=self.state.name)
        return None, 204

    def _answers(self, api: str, operation_id: str) -> OperationAnswers:
        served = self.shared.apis.get(api)
        answers = served.answers.get(operation_id) if served is not None else None
        if answers is None:
            raise DomainError(
                "operation_not_found", f"No operation {operation_id!r} in the {api!r} contract"
            )
        return answers

    # Request journal ----------------------------------------------------------------------

    def list_requests(
        self,
        limit: int,
        path: str | None = None,
        status: int | None = None,
        session: str | None = None,
        since: int = 0,
    ) -> tuple[Json, int]:
        entries = self.shared.journal.entries(path, status, session, limit, since)
        return {"requests": entries}, 200

    def overview(self, limit: int) -> tuple[Json, int]:
        """What the dashboard shows, in a size that does not grow with the state (it once
        fetched the whole state every second: 12 MB and two seconds of the event loop a poll
        at 15,000 refunds)."""
        views = {name: vendor.overview(limit) for name, vendor in self.state.vendors.items()}
        return views, 200

    def clear_requests(self) -> tuple[None, int]:
        self.shared.journal.clear()
        return None, 204
