"""A worker node installs NumPy and httpx, not the server: worker/ never imports service/."""

from __future__ import annotations

import subprocess
import sys


def test_the_worker_runtime_loads_without_the_server_or_its_dependencies():
    code = (
        "import sys\n"
        "import worker.runner, worker.pool, worker.client, worker.cache, worker.session\n"
        "import caviar.commands.worker, caviar.commands.submit, caviar.commands.status\n"
        "import caviar.commands.cancel\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('service', 'fastapi', 'sqlalchemy', 'alembic', 'uvicorn', 'psycopg'))\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
