"""The pipes front: received bytes on stdout, raw or rendered (`-x`, `--struct`, `-t`), for one peer or many.

`render` holds the renderings (one implementation for one peer and many: a client's label is the only
difference); `sink` is the many-peer engine's Sink on pipes (stdout written on a thread, back-pressure).
Import the submodule you need: stream mode loads `render` only, never asyncio.
"""

__all__: list[str] = []
