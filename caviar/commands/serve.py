"""`caviar serve`: the server (REST API, dashboard, SQL storage) under uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import socket
import sys
from typing import TYPE_CHECKING

from caviar.errors import UsageError

if TYPE_CHECKING:
    import uvicorn


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` parser."""
    parser = subparsers.add_parser(
        "serve", help="run the server (REST API, dashboard, SQL storage)",
        description="Run the Caviar server. The database schema is brought to the latest "
        "revision at start. Settings not given here come from CAVIAR_* environment variables "
        "(see service/settings.py).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--database-url", default=None,
        help="SQLAlchemy URL: sqlite:///caviar.db (default, or CAVIAR_DATABASE_URL) or "
        "postgresql+psycopg://user@host/db",
    )
    parser.add_argument(
        "--workers", type=int, default=None,
        help="server processes sharing the port (default 1, or CAVIAR_WORKERS); each "
        "counts its own /metrics",
    )
    parser.add_argument(
        "--insecure", action="store_true",
        help="serve a non-loopback address without tokens (anyone who reaches the port may "
        "do anything); without it such a server refuses to start")
    parser.add_argument("--ssl-certfile", default=None, help="TLS certificate (PEM) to serve "
                        "HTTPS with (or terminate TLS at a reverse proxy: docs/deploy.md)")
    parser.add_argument("--ssl-keyfile", default=None, help="the certificate's private key "
                        "(PEM)")
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open and migrate the database, then serve until interrupted.

    With several workers, each process builds its own app from the environment
    (the database URL is passed on through CAVIAR_DATABASE_URL); claims stay
    exact across processes because every write locks its search row in the
    database, and each process's lease sweep does the same.
    """
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: must be between 1 and 65535, got {args.port}")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UsageError(f"--workers: must be between 1 and 64, got {args.workers}")
    tls = _tls_options(args.ssl_certfile, args.ssl_keyfile)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from service.db.migrate import MigrationError
    from service.db.session import DatabaseURLError, check_url
    from service.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(database_url=args.database_url, workers=args.workers)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    try:
        check_url(settings.database_url)  # before the slow imports: a typo fails at once
    except DatabaseURLError as error:
        raise UsageError(f"--database-url: {error}") from None

    import uvicorn

    from service.app import create_app

    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        app = create_app(settings)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise UsageError(f"--database-url: cannot open {shown!r}: {reason}") from None
    except MigrationError as error:
        raise UsageError(f"--database-url: cannot use {shown!r}: {error}") from None
    _check_exposure(args.host, app.state.guard.required, args.insecure)
    from domain.protocol import SERVER_KEEP_ALIVE_SECONDS

    options = {"host": args.host, "port": args.port, "log_level": args.log_level,
               "access_log": False, "timeout_keep_alive": SERVER_KEEP_ALIVE_SECONDS, **tls}
    if settings.workers == 1:
        uvicorn.run(app, **options)
        return 0
    app.state.db.dispose()  # the database is checked and migrated; the workers open their own
    os.environ["CAVIAR_DATABASE_URL"] = settings.database_url
    _serve_in_processes(uvicorn.Config("service.app:create_app", factory=True,
                                       workers=settings.workers, **options))
    return 0


def is_loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_exposure(host: str, tokens_required: bool, insecure: bool) -> None:
    """Refuse to serve a non-loopback address without tokens, unless --insecure; say on
    stderr when the API is open."""
    if tokens_required:
        print(f"caviar serve: tokens required on {host} (Authorization: Bearer)",
              file=sys.stderr)
        return
    if is_loopback(host):
        print(f"caviar serve: no tokens: the API is open to anyone on this machine ({host}); "
              "`caviar token create --role admin ...` on this database turns tokens on",
              file=sys.stderr)
        return
    if not insecure:
        raise UsageError(
            f"--host {host}: not a loopback address, and this server requires no token (the "
            "database holds none, or CAVIAR_AUTH=off): anyone who reaches the port could do "
            "anything. Make an admin token first (`caviar token create --role admin --name "
            "NAME --database-url URL`), or pass --insecure")
    print(f"caviar serve: --insecure: the API on {host} is open to anyone who reaches it",
          file=sys.stderr)


def _tls_options(certfile: str | None, keyfile: str | None) -> dict[str, str]:
    """uvicorn's TLS options, after checking the files can be read."""
    if (certfile is None) != (keyfile is None):
        raise UsageError("--ssl-certfile and --ssl-keyfile: give both, or neither")
    if certfile is None or keyfile is None:
        return {}
    for flag, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if not os.access(path, os.R_OK) or not os.path.isfile(path):
            raise UsageError(f"{flag}: cannot read {path!r}")
    return {"ssl_certfile": certfile, "ssl_keyfile": keyfile}


def _serve_in_processes(config: uvicorn.Config) -> None:
    """Run config.workers server processes on one listening socket until interrupted.

    The processes rebuild the listening socket without its protocol number, so
    asyncio does not set TCP_NODELAY on their connections and each answer's body
    would wait ~40 ms for the client's delayed ACK; the option is set on the
    listening socket instead, whose connections inherit it.
    """
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()
