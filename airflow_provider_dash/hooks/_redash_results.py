"""The Redash hook's results: a stored result as JSON, and streamed downloads (csv, json, tsv, xlsx)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from airflow_provider_dash.exceptions import DashConnectionError
from airflow_provider_dash.hooks._redash_routes import Request, download_request, query_result_request
from airflow_provider_dash.hooks._redash_transport import RedashTransport, _requests_failure
from airflow_provider_dash.models.redash import QueryResult

if TYPE_CHECKING:
    import requests

DOWNLOAD_CHUNK_SIZE = 64 * 1024


class RedashResults(RedashTransport):
    """Stored results (part of :class:`~airflow_provider_dash.hooks.redash.DashHook`)."""

    def get_query_result(self, result_id: int, query_id: int | None = None) -> QueryResult:
        """A stored result with its rows.

        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :raises DashNotFoundError: when the result does not exist.
        """
        request = query_result_request(result_id, self._result_query_id(query_id))
        return QueryResult.from_json(self._json(request))

    @contextlib.contextmanager
    def open_query_result_stream(
        self,
        result_id: int,
        *,
        file_format: str = "csv",
        query_id: int | None = None,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    ) -> Iterator[Iterator[bytes]]:
        """Open a stored result as a file (``csv``, ``json``, ``tsv`` or ``xlsx``) and yield its byte chunks.

        A context manager: the request is sent (with the usual retries) on entry, the response is
        closed on exit. Nothing is held in memory beyond one chunk::

            with hook.open_query_result_stream(result_id, file_format="csv") as chunks:
                for chunk in chunks:
                    out.write(chunk)

        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :param chunk_size: the largest chunk to yield, in bytes.
        :return: a context manager yielding an iterator of ``bytes`` chunks.
        :raises DashConfigError: for another format (the message lists the allowed ones).
        :raises DashNotFoundError: when the result does not exist.
        :raises DashConnectionError: while iterating, when the connection breaks mid-download.
        """
        request = download_request(result_id, file_format, self._result_query_id(query_id))
        self.log.info("Downloading query result %s as %s", result_id, request.path.rsplit(".", 1)[-1])
        response = self._send(request)
        try:
            yield self._chunks(request, response, chunk_size)
        finally:
            response.close()

    def _chunks(self, request: Request, response: requests.Response, chunk_size: int) -> Iterator[bytes]:
        import requests

        received = 0
        try:
            for chunk in response.iter_content(chunk_size=chunk_size):
                received += len(chunk)
                yield chunk
        except requests.exceptions.RequestException as exc:
            failure = _requests_failure(exc)
            raise DashConnectionError(
                f"The download of {request.what} from {self.config.base_url} broke after {received} bytes: "
                f"{failure.detail}",
                method=request.method,
                url=request.url(self.config.base_url),
            ) from None

    def download_query_result(
        self,
        result_id: int,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        file_format: str = "csv",
        query_id: int | None = None,
    ) -> int:
        """Stream a stored result as a file: ``csv``, ``json``, ``tsv`` or ``xlsx``.

        A path is written atomically (a temporary file in the same directory, then ``os.replace``),
        so readers never see half a file. A binary file object is written as the bytes arrive.

        :param target: a path, or a file object opened in binary mode.
        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :return: the number of bytes written.
        :raises DashConfigError: for another format (the message lists the allowed ones).
        :raises DashConnectionError: when the connection breaks during the download.
        """
        if isinstance(target, (str, os.PathLike)):
            from airflow_provider_dash.export import write_atomically

            with self.open_query_result_stream(result_id, file_format=file_format, query_id=query_id) as chunks:
                return write_atomically(os.path.abspath(os.fspath(target)), chunks)
        return self._stream_to(result_id, file_format, query_id, target)

    def _stream_to(self, result_id: int, file_format: str, query_id: int | None, out: IO[bytes]) -> int:
        written = 0
        with self.open_query_result_stream(result_id, file_format=file_format, query_id=query_id) as chunks:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        return written
