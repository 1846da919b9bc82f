"""Opening what the server listens on, with a sentence for each way it can fail.

``trioquart run`` binds its sockets and loads its certificate before it serves (and before
it starts any worker process), so that an address already in use, an address that is not
this machine's, or a certificate that cannot be loaded is reported in one line saying what
to change, with no traceback. Hypercorn's ``Config.create_sockets`` raises a bare
``OSError`` for all binds at once (which of them failed, it does not say); here each bind is
opened on its own, with Hypercorn's code, so the message can name it.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import TYPE_CHECKING

from hypercorn.config import Sockets
from hypercorn.utils import repr_socket_addr

if TYPE_CHECKING:
    from hypercorn.config import Config

__all__ = ["ServerSetupError", "check_tls", "open_sockets", "socket_urls"]

#: How to write an address, for the messages.
ADDRESS_FORMS = "HOST:PORT, [IPv6]:PORT, unix:PATH or fd://FD"


class ServerSetupError(Exception):
    """The server cannot start as configured. The message says what is wrong and how to
    fix it; :attr:`exit_code` is 2 when what was given is wrong (a path, an address), 1
    when the system refused what was asked (the port is taken, binding needs privileges)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def check_tls(config: Config) -> None:
    """Load the certificate and key now, as the server will, and explain what fails.

    Without this check a ``certfile`` without a ``keyfile`` silently serves plain HTTP,
    and a missing or mismatched file is found only when the first listener is made.
    """
    certfile, keyfile = config.certfile, config.keyfile
    if certfile is None and keyfile is None:
        return
    if certfile is None:
        raise ServerSetupError("--keyfile needs --certfile: give the certificate (a PEM file) too.")
    if keyfile is None:
        raise ServerSetupError("--certfile needs --keyfile: give the certificate's key too.")
    _check_readable(certfile, "certificate", "--certfile")
    _check_readable(keyfile, "key", "--keyfile")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(certfile)
    except ssl.SSLError:
        raise ServerSetupError(
            f"the certificate file {certfile!r} holds no PEM certificate: give --certfile a"
            " file with a '-----BEGIN CERTIFICATE-----' block."
        ) from None
    try:
        config.create_ssl_context()
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise ServerSetupError(
                f"the key {keyfile!r} does not belong to the certificate {certfile!r}: give"
                " --keyfile the private key the certificate was issued for."
            ) from None
        raise ServerSetupError(
            f"cannot load the key {keyfile!r} ({error.reason or error.strerror}): give --keyfile"
            " an unencrypted PEM private key (or set keyfile_password in the --config file)."
        ) from None
    except OSError as error:  # ca_certs, from a config file
        raise ServerSetupError(f"cannot load the TLS settings: {error}") from None


def _check_readable(path: str, what: str, option: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise ServerSetupError(
            f"the {what} file {path!r} does not exist: give {option} the path of a PEM file."
        ) from None
    except IsADirectoryError:
        raise ServerSetupError(
            f"{path!r} is a directory: give {option} the path of a PEM file."
        ) from None
    except OSError as error:
        raise ServerSetupError(
            f"cannot read the {what} file {path!r} ({error.strerror}): make it readable by"
            " the user the server runs as."
        ) from None


def open_sockets(config: Config) -> Sockets:
    """Bind and listen on every address ``config`` names, as Hypercorn would: the binds are
    TLS sockets when there is a certificate (plus the ``insecure_bind`` ones), else plain.

    On failure the sockets already open are closed and :class:`ServerSetupError` says which
    address failed and why.
    """
    if config.quic_bind:
        raise ServerSetupError(
            "trioquart's server does not serve HTTP/3: remove quic_bind from the --config file."
        )
    if config.ssl_enabled:
        secure_binds, insecure_binds = list(config.bind), list(config.insecure_bind)
    else:
        secure_binds, insecure_binds = [], list(config.bind)
    opened: list[socket.socket] = []
    try:
        secure = [_open(config, bind, opened) for bind in secure_binds]
        insecure = [_open(config, bind, opened) for bind in insecure_binds]
    except BaseException:
        for sock in opened:
            sock.close()
        raise
    return Sockets(secure, insecure, [])


def _open(config: Config, bind: str, opened: list[socket.socket]) -> socket.socket:
    if not bind.startswith(("unix:", "fd://")):
        # Hypercorn takes "host:abc" for a host named "host:abc" on port 8000.
        _, colon, port = bind.replace("[", "").replace("]", "").rpartition(":")
        if colon and not port.isdigit():
            raise ServerSetupError(
                f"{bind!r} is not an address to listen on: the port {port!r} is not a number;"
                f" give {ADDRESS_FORMS}."
            )
    try:
        sock = _create_socket(config, bind)
    except socket.gaierror:
        raise ServerSetupError(
            f"cannot listen on {bind!r}: {_host(bind)!r} is not a known host name or address;"
            " give an address of this machine (127.0.0.1, 0.0.0.0 for all, or a name that"
            f" resolves) in the form {ADDRESS_FORMS}."
        ) from None
    except (ValueError, OverflowError):  # fd://x, a port beyond 65535
        raise ServerSetupError(
            f"{bind!r} is not an address to listen on: give {ADDRESS_FORMS}."
        ) from None
    except OSError as error:
        raise _bind_error(bind, error) from None
    opened.append(sock)
    sock.listen(config.backlog)
    return sock


def _create_socket(config: Config, bind: str) -> socket.socket:
    """Hypercorn's socket for ``bind``. When binding (or resolving) fails, Hypercorn leaves
    the socket it had made open, to be closed by the garbage collector with a
    ``ResourceWarning``; it is found in the failing frame and closed here instead."""
    try:
        [sock] = config._create_sockets([bind])
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None:
            abandoned = tb.tb_frame.f_locals.get("sock")
            if isinstance(abandoned, socket.socket):
                abandoned.close()
            tb = tb.tb_next
        raise
    return sock


def _bind_error(bind: str, error: OSError) -> ServerSetupError:
    where = f"cannot listen on {bind}"
    if error.errno == errno.EADDRINUSE:
        return ServerSetupError(
            f"{where}: the address is already in use (is another server running there?);"
            " stop it, or choose another port with --port or --bind.",
            exit_code=1,
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return ServerSetupError(
            f"{where}: {_host(bind)!r} is not an address of this machine; give one of its"
            " addresses, or 0.0.0.0 (or ::) for all of them."
        )
    if error.errno == errno.EACCES:
        return ServerSetupError(
            f"{where}: permission denied (ports below 1024 need privileges); choose a port"
            " from 1024 up, or run with the privilege to bind it.",
            exit_code=1,
        )
    return ServerSetupError(f"{where}: {error.strerror or error}.", exit_code=1)


def _host(bind: str) -> str:
    """The host part of a ``HOST:PORT`` bind, as Hypercorn splits it."""
    host, _, port = bind.replace("[", "").replace("]", "").rpartition(":")
    return host if host and port.isdigit() else bind


def socket_urls(sockets: Sockets) -> list[str]:
    """The URL of each listening socket (``https://127.0.0.1:5000``), for the messages."""
    return [
        f"{scheme}://{repr_socket_addr(sock.family, sock.getsockname())}"
        for scheme, group in (("https", sockets.secure_sockets), ("http", sockets.insecure_sockets))
        for sock in group
    ]
