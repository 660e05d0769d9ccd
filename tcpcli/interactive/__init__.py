"""tcpcli.interactive: emptied (the terminal front is tcpcli.fronts.terminal); clock.py awaits its owner."""
