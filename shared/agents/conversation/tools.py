"""The tool runner: validates and runs an agent's tools inside the turn's transaction.

Each tool runs in a savepoint with a timeout; a tool that fails, times out or gets invalid
arguments yields ``{error, errorType}`` for Call 2 and never raises into the turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Generic

from shared.adapters.llm import InvalidToolCall, ToolCall, parse_tool_call
from shared.agents.conversation.protocol import AgentTool, StateT, ToolResult, Turn
from shared.domain.constants import TOOL_TIMEOUT
from shared.logs import get_logger

log = get_logger(__name__)


class ToolTimeout(Exception):
    pass


class ToolRunner(Generic[StateT]):
    """Validates and runs tools, each in a savepoint with a timeout; never raises for a tool."""

    def __init__(self, turn: Turn[StateT], tools: Mapping[str, AgentTool[StateT]], timeout: float) -> None:
        self._turn = turn
        self._tools = tools
        self._timeout = timeout

    def run(self, name: str, raw_arguments: Any) -> ToolResult:
        specs = [t.spec for t in self._tools.values()]
        parsed = parse_tool_call(specs, name, raw_arguments, call_id="")
        if isinstance(parsed, InvalidToolCall):
            log.warning("tool call refused: invalid arguments", extra={"tool": name, "error": parsed.error})
            return self._done(
                ToolResult(name, False, {"error": parsed.error, "errorType": "invalid_arguments"})
            )
        return self.run_valid(parsed)

    def run_valid(self, call: ToolCall) -> ToolResult:
        tool = self._tools[call.name]
        conn = self._turn.uow.sql.conn  # savepoints and cancelling a query need the connection itself
        savepoint = conn.transaction()  # a SAVEPOINT inside the turn's transaction
        savepoint.__enter__()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tool-{call.name}")
        future = pool.submit(tool.handler, self._turn, call.arguments)
        try:
            output = dict(future.result(timeout=self._timeout))
        except FutureTimeout:
            conn.cancel_safe()  # stop the tool's query, if it is in one
            _wait_quietly(future)
            savepoint.__exit__(ToolTimeout, ToolTimeout(), None)  # roll back the savepoint
            pool.shutdown(wait=False)
            log.warning("tool timed out", extra={"tool": call.name, "timeout_s": self._timeout})
            return self._done(ToolResult(call.name, False, {"error": "timed out", "errorType": "timeout"}))
        except Exception as exc:
            savepoint.__exit__(type(exc), exc, exc.__traceback__)
            pool.shutdown(wait=False)
            log.warning("tool failed", extra={"tool": call.name, "error": repr(exc)}, exc_info=True)
            return self._done(ToolResult(call.name, False, {"error": str(exc)[:300], "errorType": "failed"}))
        savepoint.__exit__(None, None, None)
        pool.shutdown(wait=False)
        return self._done(ToolResult(call.name, True, output))

    def _done(self, result: ToolResult) -> ToolResult:
        self._turn.tool_results.append(result)
        return result


def _wait_quietly(future: Future[Any]) -> None:
    with contextlib.suppress(Exception):  # the tool already counts as failed
        future.result(timeout=TOOL_TIMEOUT.total_seconds())
