"""tcpcli: a netcat-style TCP tool with honest exit codes and safe rendering."""

__version__ = "0.1.0"
