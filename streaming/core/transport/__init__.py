"""Transports: move bytes and stamp each read with the clock before anything parses it."""
