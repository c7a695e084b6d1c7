"""Exceptions raised by the clusterc binding.

The hierarchy follows redis-py's, so code written for redis-py's cluster
client catches the same things:

    ClusterError                    base of everything below (redis-py: RedisError)
    +-- ConnectionError             no reply: could not connect, connection lost
    |   +-- TimeoutError            the command's deadline passed
    |   +-- AuthenticationError     AUTH refused
    |   +-- TLSError                TLS handshake or certificate check failed
    +-- ResponseError               an error reply from the server (WRONGTYPE ...)
    +-- InvalidOptionError          a bad option or URL (also a ValueError)
    +-- DataError                   a command argument of a type Redis cannot take
    +-- ClientClosedError           the client was closed
    +-- LibraryNotFoundError        libclusterc could not be loaded (also an OSError)

Failures (no reply) carry the library's error code in ``.code`` (one of the
``E*`` constants below, negative) and its message, which names the node and
the command, in ``str(e)``.
"""

# libclusterc's error codes (CLUSTERC_ERRNO_MAP in clusterc.h).
OK = 0
ENOMEM = -1
EINVAL = -2
ECONNECT = -3
EIO = -4
ETIMEOUT = -5
EPROTOCOL = -6
ETOPOLOGY = -7
EREDIRECTS = -8
EAUTH = -9
EUNCERTAIN = -10
ECLOSED = -11
ERETRIES = -12
ENOREPLICA = -13
EUSAGE = -14
ETLS = -15
EOVERLOAD = -16


class ClusterError(Exception):
    """Base class of this package's errors. ``code`` is libclusterc's error
    code for failures (0 when the error did not come from the library)."""

    def __init__(self, message="", code=0):
        super().__init__(message)
        self.code = code


class ConnectionError(ClusterError):
    """No reply: a node could not be reached or the connection was lost."""


class TimeoutError(ConnectionError):
    """The command's deadline (read_timeout) passed before a reply came."""


class AuthenticationError(ConnectionError):
    """The servers refused the username / password."""


class TLSError(ConnectionError):
    """The TLS handshake or the certificate check failed (unknown CA, host
    name mismatch, expired certificate, a plain-text server on a TLS port
    and the reverse); the message names the node and the reason. redis-py
    raises its ConnectionError for these: this is a ConnectionError too."""


class OverloadError(ClusterError):
    """Too many commands in flight (max_inflight), or too many queued for a
    node that is not connected (max_node_queue): the command was not sent.
    Slow down or shed load; the client itself is fine."""

    def __init__(self, message="", code=EOVERLOAD):
        super().__init__(message, code)


class ResponseError(ClusterError):
    """An error reply from the server; ``str(e)`` is its text
    ("WRONGTYPE Operation against a key holding the wrong kind of value")."""


class InvalidOptionError(ClusterError, ValueError):
    """A bad option or URL; the message names the key."""


class DataError(ClusterError, ValueError):
    """A command argument that cannot be sent (a bool, None, a dict...)."""


class ClientClosedError(ClusterError):
    """The client was closed; create a new one."""

    def __init__(self, message="client is closed", code=ECLOSED):
        super().__init__(message, code)


class LibraryNotFoundError(ClusterError, OSError):
    """libclusterc (the shared library) could not be found or loaded."""


_BY_CODE = {
    ECONNECT: ConnectionError,
    EIO: ConnectionError,
    EUNCERTAIN: ConnectionError,
    ETIMEOUT: TimeoutError,
    EAUTH: AuthenticationError,
    ETLS: TLSError,
    EOVERLOAD: OverloadError,
    EINVAL: InvalidOptionError,
    ECLOSED: ClientClosedError,
}


def error_for(code, message):
    """The exception for a libclusterc failure code and message."""
    cls = _BY_CODE.get(code, ClusterError)
    if not message:
        message = "libclusterc error %d" % code
    return cls(message, code)
