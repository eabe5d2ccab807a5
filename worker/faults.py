"""Test hook: `crash_point(name)` kills this process with SIGKILL when HELPDESK_CRASH_AT names it.

Only the crash tests and scripts/soak.py set HELPDESK_CRASH_AT; in production it is unset and
each call is one dictionary lookup. Names: after_fetch, after_commit, before_move, during_send,
after_send, during_outbox_update. HELPDESK_CRASH_AFTER=N lets the first N passes through go by.
"""
from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

_passes: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL ourselves here if the test hook asks for it (see the module docstring)."""
    if os.environ.get("HELPDESK_CRASH_AT") != name:
        return
    seen = _passes.get(name, 0)
    _passes[name] = seen + 1
    if seen < int(os.environ.get("HELPDESK_CRASH_AFTER", "0") or 0):
        return
    log.warning("test hook: killing the worker at %s", name)
    os.kill(os.getpid(), signal.SIGKILL)
