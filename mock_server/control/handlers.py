"""Control API handlers (``openapi/mock-control.yaml``): the request's session's state, and what
the sessions share (faults, the request journal). Control operations on one vendor's resources
are that vendor's (``VendorRuntime.control_operations``).

Each handler's first argument, ``current``, is the request's session (``session`` is the
contract's parameter naming another one)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from importlib import resources

from mock_server.control import state as state_document
from mock_server.control.forced import OperationAnswers
from mock_server.control.health import Probes
from mock_server.control.journal import Journal, Query
from mock_server.domain import DomainError
from mock_server.error_kinds import Common, ControlKind
from mock_server.faults import Fault, Faults
from mock_server.json_types import Json
from mock_server.runtime import StateService, VendorApi
from mock_server.sessions import Session, Sessions
from mock_server.vendor import Handler

CONTROL_PATH = "/__mock__"
PANELS_PLACEHOLDER = "{/* panels */}"  # in dashboard.html, where the declarations go


def _body_filter(body: str | None) -> Json | None:
    """The ``body`` query parameter: a JSON object whose fields a request's body must have."""
    if body is None:
        return None
    try:
        wanted = json.loads(body)
    except ValueError:
        wanted = None
    if not isinstance(wanted, dict):
        raise DomainError(
            Common.INVALID_REQUEST,
            f'body={body!r} is not a JSON object (e.g. body={{"amount": 50}})',
        )
    return wanted


class ControlHandlers:
    def __init__(
        self,
        apis: Mapping[str, VendorApi],
        states: StateService,
        sessions: Sessions[Session],
        faults: Faults,
        journal: Journal,
        probes: Probes,
    ) -> None:
        self.apis = apis
        self.states = states
        self.sessions = sessions
        self.faults = faults
        self.journal = journal
        self.probes = probes

    def operations(self) -> dict[str, Handler]:
        """The handler of each of the control API's own operations (checked at start-up)."""
        return {
            "health": self.health,
            "liveness": self.liveness,
            "readiness": self.readiness,
            "dashboard": self.dashboard,
            "reset": self.reset,
            "seed": self.seed,
            "getState": self.get_state,
            "putState": self.put_state,
            "listSessions": self.list_sessions,
            "deleteSession": self.delete_session,
            "listFaults": self.list_faults,
            "setFault": self.set_fault,
            "clearFault": self.clear_fault,
            "clearFaults": self.clear_faults,
            "listRequests": self.list_requests,
            "clearRequests": self.clear_requests,
            "overview": self.overview,
            "proxyReport": self.proxy_report,
        }

    def health(self, current: Session) -> tuple[Json, int]:
        apis = {
            api.name: {
                "base_paths": api.base_paths,
                "contract": f"{api.base_paths[0]}/openapi.json",
            }
            for api in self.apis.values()
        }
        return {"status": "ok", "apis": apis, "control": CONTROL_PATH}, 200

    def liveness(self, current: Session) -> tuple[Json, int]:
        return self.probes.live()

    def readiness(self, current: Session) -> tuple[Json, int]:
        return self.probes.ready()

    def dashboard(self, current: Session) -> tuple[str, int, dict[str, str]]:
        """The dashboard page, with each vendor's panel declaration (``Vendor.panel``) for its
        script to draw the overview with."""
        page = resources.files("mock_server.control").joinpath("dashboard.html").read_text()
        panels = {api.name: dataclasses.asdict(api.vendor.panel) for api in self.apis.values()}
        # Inside <script>, "</" would end it: JSON allows the escaped slash.
        declared = json.dumps(panels).replace("</", "<\\/")
        page = page.replace(PANELS_PLACEHOLDER, declared)
        return page, 200, {"Content-Type": "text/html"}  # the page declares its charset

    # State --------------------------------------------------------------------------------

    def reset(self, current: Session, fixtures: bool) -> tuple[Json, int]:
        self.states.reset(current.store, load_fixtures=fixtures)
        if current.name is None:
            self.sessions.delete_all()  # a reset of the whole mock; a session's reset is its own
            self.journal.forget()
        return self.states.counts(current.store), 200

    def seed(self, current: Session, body: Json) -> tuple[Json, int]:
        return self.states.seed(current.store, body), 201

    def get_state(self, current: Session) -> tuple[Json, int]:
        return state_document.export_state(current.store), 200

    def put_state(self, current: Session, body: Json) -> tuple[Json, int]:
        state_document.import_state(current.store, body)
        return self.states.counts(current.store), 200

    def list_sessions(self, current: Session) -> tuple[Json, int]:
        return {
            "sessions": self.sessions.names(),
            "expire_after_s": self.sessions.expire_seconds,
        }, 200

    def delete_session(self, current: Session, session: str) -> tuple[None, int]:
        self.sessions.delete(session)
        self.journal.forget(session)
        return None, 204

    # Faults -------------------------------------------------------------------------------

    def list_faults(self, current: Session) -> tuple[Json, int]:
        return {"faults": self.faults.listing()}, 200

    def set_fault(
        self, current: Session, api: str, operation_id: str, body: Json
    ) -> tuple[Json, int]:
        answers = self._answers(api, operation_id)
        # The contract's Fault schema has Fault's fields (and no others): the body is a Fault.
        fault = Fault(**body | {"next": tuple(body.get("next", ()))})
        errors = self.apis[api].error_format
        for status in sorted(fault.statuses()):
            if not answers.documents(status) or errors.kind_for(status) is None:
                raise DomainError(
                    Common.INVALID_REQUEST,
                    f"{operation_id} cannot answer {status}: a fault may only force an error the"
                    f" contract documents for it and the vendor's error table has"
                    f" (documented: {answers.statuses()})",
                )
        self.faults.set(api, operation_id, fault, current.name)
        return self.faults.described(api, operation_id, current.name), 200

    def clear_fault(self, current: Session, api: str, operation_id: str) -> tuple[None, int]:
        self._answers(api, operation_id)
        self.faults.clear(api, operation_id, current.name)
        return None, 204

    def clear_faults(self, current: Session) -> tuple[None, int]:
        self.faults.clear(session=current.name)
        return None, 204

    def _answers(self, api: str, operation_id: str) -> OperationAnswers:
        served = self.apis.get(api)
        answers = served.answers.get(operation_id) if served is not None else None
        if answers is None:
            raise DomainError(
                ControlKind.OPERATION_NOT_FOUND,
                f"No operation {operation_id!r} in the {api!r} contract",
            )
        return answers

    # Request journal ----------------------------------------------------------------------

    def list_requests(
        self,
        current: Session,
        limit: int,
        path: str | None = None,
        status: int | None = None,
        session: str | None = None,
        operation: str | None = None,
        refused: bool | None = None,
        body: str | None = None,
        since: int = 0,
    ) -> tuple[Json, int]:
        wanted = Query(path, status, session, operation, refused, _body_filter(body), since)
        entries, matched = self.journal.search(wanted, limit)
        return {"requests": entries, "matched": matched}, 200

    def overview(self, current: Session, limit: int) -> tuple[Json, int]:
        """What the dashboard shows, in a size that does not grow with the state (it once
        fetched the whole state every second: 12 MB and two seconds of the event loop a poll
        at 15,000 refunds)."""
        views = {
            name: api.runtime.overview(current.store, limit) for name, api in self.apis.items()
        }
        return views, 200

    def proxy_report(self, current: Session, format: str = "json") -> tuple[Json, int]:
        raise DomainError(
            ControlKind.NO_PROXY_HERE,
            "No proxy runs in this process: refund-mock proxy serves its report",
        )

    def clear_requests(self, current: Session) -> tuple[None, int]:
        self.journal.clear()
        return None, 204
