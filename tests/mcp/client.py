"""A real MCP client for tests/mcp.rs: the official Python SDK (`mcp` from
PyPI) over stdio against `opscockpit mcp`. It prints one JSON line per step
on stdout; the Rust test reads them and drives the cockpit's keys between.

Steps (argv[1] = the opscockpit binary, argv[2] = host):
  tools            the tool list with annotations
  hosts / status   list_hosts and host_status
  WAITING approve  propose_action, waits (progress notifications counted)
  WAITING reject   a second proposal, rejected by the operator
  WAITING cancel   a third one, cancelled by this client after 3 s
  withdraw         a fourth, withdrawn with cancel_action while its call waits
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def say(kind, **fields):
    print(json.dumps({"step": kind, **fields}), flush=True)


def field(obj, snake, camel):
    """The SDK's 2.x models are snake_case; 1.x was camelCase."""
    return getattr(obj, snake, None) if hasattr(obj, snake) else getattr(obj, camel, None)


def content(result):
    return {
        "is_error": bool(field(result, "is_error", "isError")),
        "text": "\n".join(getattr(c, "text", "") for c in result.content),
        "structured": field(result, "structured_content", "structuredContent"),
    }


async def propose(session, host, label, command, timeout=None):
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    call = session.call_tool(
        "propose_action",
        {"host": host, "command": command, "title": f"mcp {label}", "reason": "test"},
        progress_callback=on_progress,
    )
    say("WAITING", label=label)
    if timeout is None:
        result = await call
        say("RESULT", label=label, progress=progress, **content(result))
        return result
    try:
        async with asyncio.timeout(timeout):
            await call
        say("RESULT", label=label, progress=progress, note="not cancelled")
    except TimeoutError:
        say("CANCELLED", label=label, progress=progress)


async def main():
    binary, host = sys.argv[1], sys.argv[2]
    # The SDK passes only a few variables by default; the cockpit is found
    # through XDG_RUNTIME_DIR, so the whole environment goes along.
    params = StdioServerParameters(command=binary, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            say(
                "initialized",
                protocol=str(field(init, "protocol_version", "protocolVersion")),
                server=field(init, "server_info", "serverInfo").name,
            )
            tools = await session.list_tools()
            say(
                "tools",
                tools={
                    t.name: {
                        "read_only": bool(
                            t.annotations and field(t.annotations, "read_only_hint", "readOnlyHint")
                        ),
                        "destructive": bool(
                            t.annotations
                            and field(t.annotations, "destructive_hint", "destructiveHint")
                        ),
                    }
                    for t in tools.tools
                },
            )
            say("hosts", **content(await session.call_tool("list_hosts", {})))
            say("status", **content(await session.call_tool("host_status", {"host": host, "lines": 5})))
            say("pending", **content(await session.call_tool("list_pending", {"host": host})))
            say("missing", **content(await session.call_tool("host_status", {"host": "no-such-host"})))
            approved = await propose(session, host, "approve", "echo approved-through-mcp")
            action_id = (field(approved, "structured_content", "structuredContent") or {}).get("id", "")
            say("action", **content(await session.call_tool("action_status", {"id": action_id})))
            await propose(session, host, "reject", "echo never-runs")
            await propose(session, host, "cancel", "echo cancelled-run", timeout=3)
            # cancel_action on a pending proposal made by a call still waiting.
            waiting = asyncio.create_task(
                session.call_tool(
                    "propose_action",
                    {"host": host, "command": "echo withdrawn-run", "title": "mcp withdraw"},
                )
            )
            pending = []
            for _ in range(50):
                listed = content(await session.call_tool("list_pending", {"host": host}))
                # Only this one: the cancelled call's proposal may still be
                # on its way out of the queue.
                pending = [
                    a
                    for a in (listed["structured"] or {}).get("actions", [])
                    if a.get("title") == "mcp withdraw"
                ]
                if pending:
                    break
                await asyncio.sleep(0.1)
            withdrawn_id = pending[0]["id"] if pending else ""
            say("withdraw", **content(await session.call_tool("cancel_action", {"id": withdrawn_id})))
            say("withdrawn", **content(await waiting))
            await asyncio.sleep(1)
            say("history", **content(await session.call_tool("history", {"host": host, "limit": 10})))
    say("done")


asyncio.run(main())
