"""Worker log lines: one per trial (claimed, finished, failed), per epoch with --verbose."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


def worker_logger(worker_id: str, stream: TextIO | None = None) -> logging.Logger:
    """A logger writing `time worker_id message` lines to stderr (or the given stream)."""
    log = logging.getLogger(f"caviar.worker.{worker_id}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s {worker_id} %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(handler)
    return log
