"""Domain errors raised by services; the API layer turns them into HTTP answers."""


class ServiceError(Exception):
    """Base of every expected failure a service reports."""


class EmailTakenError(ServiceError):
    pass


class SlugTakenError(ServiceError):
    pass


class WrongPasswordError(ServiceError):
    pass


class SameEmailError(ServiceError):
    """The vendor asked to change their email to the one they already have."""


class AccountTokenError(ServiceError):
    """A link from an account email that cannot be used; `detail` says why, for the vendor."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
