"""The provider's exceptions: one small hierarchy, all rooted at :class:`DashError`."""

from __future__ import annotations


class DashError(Exception):
    """Base class of every error this provider raises."""


class DashConfigError(DashError, ValueError):
    """A connection or argument is unusable (no host, no key, bad extra, bad argument value)."""


class DashParameterError(DashConfigError):
    """A query parameter value is unknown or does not fit the query's parameter definition.

    :param query_id: the query whose definitions were checked.
    :param parameter: the parameter name at fault.
    """

    def __init__(self, message: str, *, query_id: int | None = None, parameter: str | None = None) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.parameter = parameter


class DashVariableError(DashParameterError):
    """A PostHog endpoint variable is unknown, or a required one is missing.

    :param endpoint: the endpoint whose definition was checked.
    :param variable: the variable name at fault.
    :param allowed: the variable names the endpoint accepts.
    """

    def __init__(
        self, message: str, *, endpoint: str, variable: str | None = None, allowed: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, parameter=variable)
        self.endpoint = endpoint
        self.variable = variable
        self.allowed = allowed


class DashResponseError(DashError):
    """The server answered with a body this provider cannot read (not JSON, or an unexpected shape)."""


class DashApiError(DashError):
    """The server answered with an HTTP error status.

    :param status: HTTP status code (``None`` when no answer came, e.g. connection refused).
    :param method: HTTP method of the request.
    :param url: the URL of the request (never carries the API key).
    :param server_message: the message the server gave, from either of its error shapes.
    :param code: the server's machine-readable error code, where it sends one (PostHog's ``code``).
    :param field: the request field the server blamed, where it names one (PostHog's ``attr``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        server_message: str | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url
        self.server_message = server_message
        self.code = code
        self.field = field


class DashConnectionError(DashApiError):
    """No HTTP answer at all after every retry: unreachable server, TLS failure, timeouts, resets."""


class DashAuthError(DashApiError):
    """The key was rejected. Redash answers 404 "Couldn't find resource" for a wrong or foreign key."""


class DashNotFoundError(DashApiError):
    """The object (query, result, dashboard) does not exist on the server."""


class DashJobNotFoundError(DashNotFoundError):
    """The job id is unknown or has expired (Redash answers 500 for such ids)."""


class DashJobError(DashError):
    """A job ended without a result.

    :param job_id: the Redash job id.
    :param query_id: the saved query it ran, when known.
    :param error: Redash's error text.
    """

    def __init__(self, message: str, *, job_id: str, query_id: int | None = None, error: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id
        self.query_id = query_id
        self.error = error


class DashJobFailedError(DashJobError):
    """The job failed (Redash status 4 with an error other than a cancellation)."""


class DashJobCancelledError(DashJobError):
    """The job was cancelled (status 5, or status 4 with "Query cancelled by user.")."""


class DashTimeoutError(DashError):
    """A wait passed its deadline. The job, if any, is named in the message."""


class DashCheckFailedError(DashError):
    """A data-quality check on a query result failed.

    :param failures: one line per failed check (every failure, not only the first).
    :param query_id: the checked query, when known.
    :param query_result_id: the checked result.
    """

    def __init__(
        self,
        message: str,
        *,
        failures: tuple[str, ...] = (),
        query_id: int | None = None,
        query_result_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.failures = failures
        self.query_id = query_id
        self.query_result_id = query_result_id


class DashFindingsError(DashError):
    """A tool found what it looks for (the privacy scan's matches) or could not finish its work.

    :param findings: one line per finding or failure (every one, not only the first).
    """

    def __init__(self, message: str, *, findings: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.findings = findings
