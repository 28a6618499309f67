"""Domain errors raised by services; the API layer turns them into HTTP answers."""


class ServiceError(Exception):
    """Base of every expected failure a service reports."""


class EmailTakenError(ServiceError):
    pass


class SlugTakenError(ServiceError):
    pass


class WrongPasswordError(ServiceError):
    pass
