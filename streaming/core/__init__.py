"""The core: deployment config, auth, requests, transports, stream parsers, records and the client. Imports nothing above it."""
