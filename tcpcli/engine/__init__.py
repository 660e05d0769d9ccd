"""tcpcli.engine: moves bytes (the many-peer hub on asyncio); never imports a front, rich, prompt_toolkit."""
