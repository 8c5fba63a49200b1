"""The HTTP ceiling: a bare FastAPI route under the same uvicorn settings as the gateway."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"message": "Hello World"}
