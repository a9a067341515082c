"""Benchmarks: the matrix, prompts, the asyncio runner, background jobs, ``--fail-if`` gates and the CLI commands."""
