"""`python -m tcpcli` is the same program as the `tcpcli` script."""

from tcpcli.cli import main

if __name__ == "__main__":
    main()
