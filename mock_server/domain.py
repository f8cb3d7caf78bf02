"""The exceptions domain rules raise; ``errors.py`` turns each into the vendor's error body."""

from mock_server.error_kinds import ErrorKind


class TableError(Exception):
    """An error answered as an entry (``kind``) of the API's error table."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class DomainError(TableError):
    """A request that breaks a rule, of one of the closed sets of kinds (``error_kinds``)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(kind, message)


class DocumentedError(TableError):
    """An error a developer forced (a fault, ``Prefer: code=``): of ``kind``, an entry the
    vendor's error table has (the one its contract's example for the status shows)."""
