"""tcpcli.fronts: how received data is shown (pipes, a terminal); fronts know only engine/seam.py."""
