"""The modes: connect, listen, probe (-z), demo. Each picks an engine and a front and returns an exit code.

Only `tcpcli.cli` imports them (tests/test_imports.py checks it); nothing here exits or prints an error line.
"""

__all__: list[str] = []
