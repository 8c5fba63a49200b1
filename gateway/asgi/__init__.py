"""The plain ASGI layers every request passes before (or instead of) FastAPI."""
