"""In-process ``Llm`` and ``CallLog`` doubles (``shared.adapters.llm``).

Tests that need the whole LLM path (the real SDK, HTTP, retries) use the loopback Messages API
in ``tools/fakes`` instead (the ``anthropic_fake`` fixture).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from shared.adapters.llm import (
    CallLog,
    CallRecord,
    LlmRequest,
    LlmResponse,
    Usage,
    build_params,
    record_call,
    split_tool_calls,
)
from shared.adapters.llm_prices import cost_usd as price_call


class InMemoryCallLog:
    """Keeps every ``CallRecord`` in ``records``."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def record(self, record: CallRecord) -> None:
        self.records.append(record)


@dataclass
class ScriptedReply:
    """A scripted model answer; tool arguments are raw dicts validated against the request's tools."""

    text: str = ""
    tool_uses: list[tuple[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=100, output_tokens=20))
    stop_reason: str | None = None


class ScriptedLlm:
    """Returns queued answers (``ScriptedReply``, ``LlmResponse``) or raises queued exceptions,
    and records every request. Tool arguments in a ``ScriptedReply`` are validated exactly like
    the real adapter does, so malformed arguments become ``InvalidToolCall``.
    """

    def __init__(
        self, *script: ScriptedReply | LlmResponse | Exception, call_log: CallLog | None = None
    ) -> None:
        self._script: deque[ScriptedReply | LlmResponse | Exception] = deque(script)
        self.requests: list[LlmRequest] = []
        self.call_log = call_log
        self.model = "claude-sonnet-4-6"

    def push(self, *items: ScriptedReply | LlmResponse | Exception) -> None:
        self._script.extend(items)

    def decision(self, tool: str, **arguments: Any) -> None:
        """Queue a forced-tool answer."""
        self.push(ScriptedReply(tool_uses=[(tool, arguments)]))

    def reply(self, text: str) -> None:
        self.push(ScriptedReply(text=text))

    @property
    def remaining(self) -> int:
        return len(self._script)

    def complete(self, request: LlmRequest) -> LlmResponse:
        self.requests.append(request)
        resolved = request.settings
        build_params(request, resolved)  # the same request validation as the real adapter
        if not self._script:
            what = f"{request.agent}.{request.call_kind}"
            raise AssertionError(f"ScriptedLlm: no scripted answer left for {what}")
        item = self._script.popleft()
        if isinstance(item, Exception):
            record_call(self.call_log, request, resolved, response=None, error=str(item), latency_ms=0)
            raise item
        if isinstance(item, LlmResponse):
            response = item
        else:
            uses = [(name, args, f"toolu_scripted_{i}") for i, (name, args) in enumerate(item.tool_uses)]
            valid, invalid = split_tool_calls(request.tools, uses)
            response = LlmResponse(
                text=item.text,
                tool_calls=valid,
                invalid_tool_calls=invalid,
                usage=item.usage,
                cost_usd=price_call(
                    resolved.model,
                    input_tokens=item.usage.input_tokens,
                    output_tokens=item.usage.output_tokens,
                    cache_read_tokens=item.usage.cache_read_tokens,
                    cache_write_tokens=item.usage.cache_write_tokens,
                    cache_write_1h_tokens=item.usage.cache_write_1h_tokens,
                ),
                model=resolved.model,
                stop_reason=item.stop_reason or ("tool_use" if item.tool_uses else "end_turn"),
            )
        record_call(self.call_log, request, resolved, response=response, error=None, latency_ms=0)
        return response
