"""Errors a user can cause, each carrying a French message for the adapter to show."""


class PreauError(Exception):
    """Base of the errors we turn into a form error, a 4xx page, an SMTP reply or a CLI line."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(PreauError):
    pass


class InvalidInput(PreauError):
    pass
