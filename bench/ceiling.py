"""The ceiling of this stack: a bare Starlette app under uvicorn answering one fixed JSON body.

``python bench/ceiling.py PORT``. Every path and method gets the same small refund-shaped body,
so the figure is what uvicorn and Starlette cost with no validation, state or rules.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    b'{"token": "my_refund_token_01", "account_token": "my_account_token_12",'
    b' "status": "INITIATED", "method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 0.01,'
    b' "currency_code": "USD", "created_time": "2026-11-25T00:00:00Z",'
    b' "updated_time": "2026-11-25T00:00:00Z"}'
)


async def answer(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
