"""`caviar serve`: the server (REST API, dashboard, SQL storage) under uvicorn."""

from __future__ import annotations

import argparse

from caviar.errors import UsageError


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
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open and migrate the database, then serve until interrupted."""
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: must be between 1 and 65535, got {args.port}")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from service.db.session import DatabaseURLError, check_url
    from service.settings import Settings

    settings = Settings.from_env(database_url=args.database_url)
    try:
        check_url(settings.database_url)  # before the slow imports: a typo fails at once
    except DatabaseURLError as error:
        raise UsageError(f"--database-url: {error}") from None

    import uvicorn

    from service.app import create_app

    try:
        app = create_app(settings)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        raise UsageError(f"--database-url: cannot open {shown!r}: {reason}") from None
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=False)
    return 0
