"""A chat service guarded by mhguard: FastAPI, sessions and server-sent events.

Run:  pip install -e '.[fastapi]' && python examples/fastapi_chat.py     (then POST to http://127.0.0.1:8000)

POST /chat         {"messages": [...]} or {"message": "..."}  ->  {"reply", "session_id", "model_called", ...}
POST /chat/stream  the same body  ->  text/event-stream: `data: {"text": ...}` events, then `event: done`

The session id comes from the ``X-Session-Id`` header, else ``session_id`` in the body, else a new one; it is
returned in the ``X-Session-Id`` header. mhguard keeps per-session state (AI disclosure times, risk history;
never message text) in the guard's session store. The client sends the conversation each time. Swap
``toy_model`` for your model's streaming call (any async generator of text pieces).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from mhguard import Decision, Guard, InputError

logger = logging.getLogger("fastapi_chat")

#: A model: OpenAI-style messages in, an async stream of text pieces out.
ReplyStream = Callable[[list[dict[str, Any]]], AsyncIterator[str]]


async def toy_model(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
    """Stands in for an LLM's streaming call."""
    for word in "That sounds like a lot to carry. I'm listening, tell me more.".split(" "):
        yield word + " "


class ChatRequest(BaseModel):
    messages: list[dict[str, Any]] | None = None
    message: str | None = None
    session_id: str | None = None
    locale: str | None = None


def summary(decisions: Sequence[Decision]) -> dict[str, Any]:
    """What the client may know about the guard's decisions (no text, no findings)."""
    first, last = decisions[0], decisions[-1]
    return {"input_action": first.action.value, "risk": first.risk.value, "model_called": len(decisions) > 1,
            "output_action": last.action.value if len(decisions) > 1 else None}


def create_app(guard: Guard | None = None, model: ReplyStream = toy_model) -> FastAPI:
    guard = guard if guard is not None else Guard.from_policy("default")
    # guard.wrap on an async generator gives a held-back stream: text leaves only after it was checked.
    chat_stream: Any = guard.wrap(model)
    app = FastAPI(title="mhguard chat example")

    def conversation(body: ChatRequest, header: str | None) -> tuple[list[dict[str, Any]], str]:
        if body.messages:
            messages = body.messages
        elif body.message:
            messages = [{"role": "user", "content": body.message}]
        else:
            raise HTTPException(status_code=422, detail="send 'messages' or 'message'")
        return messages, header or body.session_id or uuid.uuid4().hex

    async def start(body: ChatRequest, header: str | None) -> tuple[AsyncIterator[str], str | None,
                                                                    list[Decision], str]:
        """Run the input check (and the first checked piece) before any response is sent, so a bad request
        is a 422 rather than a broken stream."""
        messages, session = conversation(body, header)
        decisions: list[Decision] = []
        pieces: AsyncIterator[str] = chat_stream.detailed(messages, decisions=decisions, mhguard_session=session,
                                                          mhguard_locale=body.locale)
        try:
            first: str | None = await pieces.__anext__()
        except StopAsyncIteration:
            first = None
        except InputError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return pieces, first, decisions, session

    @app.post("/chat")
    async def chat(body: ChatRequest, x_session_id: str | None = Header(default=None)) -> JSONResponse:
        pieces, first, decisions, session = await start(body, x_session_id)
        reply = (first or "") + "".join([piece async for piece in pieces])
        return JSONResponse({"reply": reply, "session_id": session, **summary(decisions)},
                            headers={"X-Session-Id": session})

    @app.post("/chat/stream")
    async def chat_sse(body: ChatRequest, x_session_id: str | None = Header(default=None)) -> StreamingResponse:
        pieces, first, decisions, session = await start(body, x_session_id)

        async def events() -> AsyncIterator[str]:
            try:
                if first:
                    yield f"data: {json.dumps({'text': first})}\n\n"
                async for piece in pieces:
                    yield f"data: {json.dumps({'text': piece})}\n\n"
            except Exception:
                # Fail closed: the client learns the reply ended, and gets no unchecked text.
                logger.exception("guarded chat stream failed")
                yield f"event: error\ndata: {json.dumps({'error': 'the reply could not be completed'})}\n\n"
                return
            yield f"event: done\ndata: {json.dumps({'session_id': session, **summary(decisions)})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"X-Session-Id": session, "Cache-Control": "no-cache"})

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
