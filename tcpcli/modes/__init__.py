"""The modes: connect, listen, probe (-z), demo. Each picks an engine and a front and returns an exit code.

Only `tcpcli.cli` imports them (a test checks it); nothing here exits or prints an error line itself.
"""
