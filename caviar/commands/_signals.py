"""Ctrl-C for the commands that promise it, however they were started."""

from __future__ import annotations

import signal


def interrupt_on_ctrl_c(*also: signal.Signals) -> None:
    """Make Ctrl-C (SIGINT), and the signals in `also`, raise KeyboardInterrupt.

    Set explicitly: a shell that starts a command in the background without job
    control starts it with SIGINT ignored, and Python then keeps it ignored, so the
    command could not be stopped as its help says.
    """
    for sig in (signal.SIGINT, *also):
        signal.signal(sig, signal.default_int_handler)
