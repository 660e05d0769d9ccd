"""tcpcli.engine: moves bytes (pair.py: one peer on threads; hub.py: many on asyncio); imports no front."""
