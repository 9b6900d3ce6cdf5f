"""An approval flow: the job waits on a token that a web endpoint completes.

The handler creates a token, asks for approval (a step, so the request is
sent once), and waits. ``POST /approve/<token id>`` with a JSON body such as
``{"approved": true}`` completes the token from the web process; the job
runs again at once and finishes with the decision. Unanswered for 48 hours,
the token expires (the supervisor expires tokens) and the job escalates.

Run it: ``python examples/approval.py [sqlite:///approval.db]``. It starts the
endpoint, runs the job until it waits, plays the approver with one HTTP
request, and runs the job again. In production a ``dataqueue worker`` runs
the job and wakes up as soon as the token is completed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dataqueue as dq

requests: list[str] = []


async def ask_for_approval(token_id: str, item: str) -> str:
    requests.append(f"please approve {item}: POST /approve/{token_id}")
    return token_id


async def approval(payload: dict[str, Any], ctx: dq.JobContext) -> str:
    token = await ctx.create_token(timeout="48h", tags=["approval"])
    await ctx.run("ask", lambda: ask_for_approval(token.id, payload["item"]))
    result = await ctx.wait_for_token(token.id)
    if not result.ok:
        return await ctx.run("escalate", lambda: "escalated: no answer in 48h")
    decision = "approved" if result.output.get("approved") else "rejected"
    return await ctx.run("decide", lambda: f"{payload['item']} {decision}")


handlers = {"approval": approval}


def approval_endpoint(queue: dq.SyncJobQueue) -> ThreadingHTTPServer:
    """``POST /approve/<token id>``: complete the token with the JSON body."""

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            token_id = self.path.removeprefix("/approve/")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                queue.complete_token(token_id, json.loads(body or b"null"))
                status, answer = 200, {"ok": True}
            except dq.TokenError as error:
                status, answer = 409, {"ok": False, "error": str(error)}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)


def post(url: str, body: Any) -> tuple[int, Any]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"only the local endpoint, not {url!r}")
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def main(url: str) -> None:
    web_queue = dq.connect_sync(url)  # the web process's own queue
    web_queue.migrate()
    server = approval_endpoint(web_queue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        async with dq.connect(url) as queue:
            job_id = await queue.add_job("approval", {"item": "invoice 42"})
            worker = queue.create_processor(handlers)
            await worker.start()  # asks for approval, then waits
            job = await queue.get_job(job_id)
            assert job is not None
            assert job.wait_token_id is not None
            print(requests[-1], f"(job {job.status.value})")
            approve = f"{base}/approve/{job.wait_token_id}"
            answer = await asyncio.to_thread(post, approve, {"approved": True})
            print("approver got", answer)
            await worker.start()  # the token is completed: the job runs on
            job = await queue.get_job(job_id)
            assert job is not None
            print("job output:", job.output)
            again = await asyncio.to_thread(post, approve, {"approved": False})
            print("a second answer gets", again)
    finally:
        server.shutdown()
        web_queue.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///approval.db"))
