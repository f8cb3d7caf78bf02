"""The one exception domain rules raise; ``errors.py`` turns it into each vendor's error body."""


class DomainError(Exception):
    """A request that breaks a rule. ``kind`` names an entry of the contract's error table."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
