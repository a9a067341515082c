"""The built-in OpenAI-compatible server (FastAPI + uvicorn)."""
