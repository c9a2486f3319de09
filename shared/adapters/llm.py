"""The LLM adapter: Anthropic's Messages API with prompt caching and a cost ledger (decisions A9, A10).

Agents build an ``LlmRequest`` (static system prompt, stable profile, per-turn guidance, the
history, the tools) and call ``Llm.complete``. The adapter

- takes model, temperature and max tokens from the request (``LlmRequest.settings``, resolved by
  the caller through ``shared.agents.llm_config``);
- marks the static prefix for caching: ``cache_control`` on the last tool definition, on the
  system block and on the stable-profile block; the per-turn block after them is not cached;
- validates every ``tool_use`` block against the tool's pydantic model; a call that does not
  validate becomes an ``InvalidToolCall`` and is never executed;
- prices the call from ``llm_prices`` (input, output, cache read, cache write) and writes one
  ``agent_actions_log`` row per call, success or error, in its own short transaction, plus one
  structured log line (``llm_call: true``, ``cost_usd``, ``model``, ``agent``) for the
  log-based cost metric;
- raises ``LlmUnavailable`` when the model cannot answer (no key, timeouts after the SDK's
  retries, rate limits, overload, 5xx, rejected requests): the caller falls back to its
  deterministic brain.

``build_llm()`` returns None when no ``ANTHROPIC_API_KEY`` is configured.

The SDK is imported when the first client is built, not with this module: every function imports
this module (through the composition root), and importing ``anthropic`` costs about 1.4 s of CPU
and tens of MB per process, which the functions that never call the model (the SMS webhooks, the
sender, the dispatcher) paid at every cold start (``tests/unit/test_llm_lazy_import.py``).
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import pydantic

from shared.adapters.llm_prices import cost_usd as price_call
from shared.adapters.repositories.actions import ActionRecord, ActionRepository
from shared.config import Settings
from shared.domain.constants import LLM_RETRY_AFTER_MAX
from shared.logs import get_logger

if TYPE_CHECKING:
    import anthropic

log = get_logger(__name__)

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
ACTION_TYPE = "llm_call"  # agents.md §17, log action types


# --- Request / response types -------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call; its arguments are validated by pydantic before anything runs."""

    name: str
    description: str
    input_model: type[pydantic.BaseModel]

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": _input_schema(self.input_model),
        }


@lru_cache(maxsize=128)
def _input_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """A model's JSON schema, built once per process: it is static, and part of the cached prefix.
    Pydantic's generated ``title`` annotations (each property's name again, capitalised) are left
    out: they tell the model nothing and cost tokens on every call."""
    schema: dict[str, Any] = _without_titles(model.model_json_schema())
    return schema


def _without_titles(node: Any, *, names: bool = False) -> Any:
    """The schema without ``title`` annotations; ``names``: the keys of this mapping are property or
    definition names (a property called ``title`` stays)."""
    if isinstance(node, dict):
        return {
            key: _without_titles(value, names=key in ("properties", "$defs"))
            for key, value in node.items()
            if names or not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    return node


@dataclass(frozen=True)
class ResolvedCall:
    """Model, temperature and output-token limit of one call, and how its prompt is cached.

    ``cache_history``: the conversation is part of the cached prefix. The per-turn block then goes
    after the history (a trailing block of the last user turn) instead of into the system prompt,
    and the breakpoints sit on the static system prompt, the stable block, the previous user turn
    (what the member's last turn wrote) and the latest user turn, so turn N+1 reads turn N's
    prefix. Without it, the per-turn block closes the system prompt and the history is uncached.
    ``cache_ttl``: how long each written prefix lives after its last use; '1h' suits a member who
    answers minutes apart (a 5-minute entry has often lapsed and is written again at 1.25x).
    """

    model: str
    temperature: float
    max_tokens: int
    cache_history: bool = False
    cache_ttl: str = "5m"  # '5m' or '1h' (writes cost 1.25x or 2x the input price; reads 0.1x)


# Model families that refuse non-default sampling parameters with a 400; temperature is omitted.
NO_TEMPERATURE_PREFIXES = (
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-haiku-5",
    "claude-fable",
    "claude-mythos",
)


def accepts_temperature(model: str) -> bool:
    return not model.startswith(NO_TEMPERATURE_PREFIXES)


@dataclass
class LlmRequest:
    agent: str  # the agent's registry key (shared.registry)
    call_kind: str  # 'decision' | 'reply' | 'summary' | 'freshness' | ...
    system: str  # static system prompt: cached
    stable_context: str  # stable profile block: cached
    dynamic_context: str  # per-turn guidance: not cached
    messages: list[dict[str, Any]]  # Anthropic messages format, the last one from the user
    settings: ResolvedCall  # model, temperature, max tokens (shared.agents.llm_config.call_settings)
    tools: Sequence[ToolSpec] = ()  # cached (breakpoint on the last definition)
    force_tool: str | None = None  # tool_choice {"type": "tool", "name": ...}
    user_id: UUID | None = None
    context_id: UUID | None = None
    prompt_version: str | None = None
    context_type: str | None = None
    agent_instance_id: UUID | None = None  # agent_instances row of this prompt version (issue 8 §7)
    # Anthropic server tools in the API's own shape, e.g. WEB_SEARCH_TOOL (run by the API, not us)
    server_tools: Sequence[dict[str, Any]] = ()


# Anthropic's server-side web search tool (decisions A11): the API runs the searches and returns
# ``server_tool_use`` and ``web_search_tool_result`` blocks, and text blocks cite the results.
WEB_SEARCH_TOOL_TYPE = "web_search_20250305"
WEB_SEARCH_TOOL_NAME = "web_search"


def web_search_tool(max_uses: int) -> dict[str, Any]:
    return {"type": WEB_SEARCH_TOOL_TYPE, "name": WEB_SEARCH_TOOL_NAME, "max_uses": max_uses}


@dataclass(frozen=True)
class WebResult:
    """One ``web_search_result`` the API returned (its URL and title, as found)."""

    url: str
    title: str
    page_age: str | None = None
    query: str = ""  # the search that found it


@dataclass(frozen=True)
class WebCitation:
    """A ``web_search_result_location`` citation on a text block: the sentence and its source."""

    url: str
    title: str | None
    cited_text: str
    text: str  # the text block that carries the citation


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: pydantic.BaseModel
    id: str


@dataclass(frozen=True)
class InvalidToolCall:
    """A tool call the model made that failed validation (or names no tool). Never executed."""

    name: str
    raw_arguments: Any
    error: str
    id: str = ""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0  # uncached input tokens
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # all cache writes, both TTLs
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with the 1-hour TTL
    web_search_requests: int = 0  # server tool uses, billed per search

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass
class LlmResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    latency_ms: int = 0
    model: str = ""
    stop_reason: str = "end_turn"
    web_results: list[WebResult] = field(default_factory=list)
    citations: list[WebCitation] = field(default_factory=list)
    web_search_errors: list[str] = field(default_factory=list)  # web_search_tool_result_error codes

    def tool_call(self, name: str) -> ToolCall | None:
        return next((c for c in self.tool_calls if c.name == name), None)


class LlmUnavailable(Exception):
    """The model could not answer: no key, timeout after retries, rate limit, overload, 5xx."""

    def __init__(self, message: str, *, reason: str = "unavailable") -> None:
        super().__init__(message)
        self.reason = reason


class Llm(Protocol):
    def complete(self, request: LlmRequest) -> LlmResponse: ...


# --- Call log (agent_actions_log) ----------------------------------------------------------


@dataclass
class CallRecord:
    agent: str
    call_kind: str
    model: str
    user_id: UUID | None
    context_id: UUID | None
    context_type: str | None
    prompt_version: str | None
    usage: Usage
    cost_usd: Decimal
    latency_ms: int
    input_data: dict[str, Any]
    output_data: dict[str, Any] | None
    error: str | None
    action_type: str = ACTION_TYPE
    agent_instance_id: UUID | None = None


class CallLog(Protocol):
    def record(self, record: CallRecord) -> None: ...


class PostgresCallLog:
    """Writes each call in its own short transaction, so a failed turn still leaves its cost.

    Logging never fails the caller: a database error here is logged and swallowed.
    """

    def __init__(self, dsn: str | None = None) -> None:
        self._dsn = dsn

    def record(self, record: CallRecord) -> None:
        from shared.adapters.postgres import SIDE_POOL, Sql, connect, pooled_connection

        try:
            if self._dsn:
                with connect(self._dsn) as conn:
                    ActionRepository(Sql(conn)).record(_action(record))
                    conn.commit()
            else:
                # The side pool: the caller may hold a main-pool connection for its turn. Its
                # connections autocommit: the one INSERT is its own transaction.
                with pooled_connection(SIDE_POOL) as conn:
                    ActionRepository(Sql(conn)).record(_action(record))
        except Exception:
            log.exception(
                "could not write the LLM call to agent_actions_log",
                extra={"agent": record.agent, "call_kind": record.call_kind, "model": record.model},
            )


def _action(record: CallRecord) -> ActionRecord:
    return ActionRecord(
        agent_type=record.agent,
        action_type=record.action_type,
        user_id=record.user_id,
        context_id=record.context_id,
        context_type=record.context_type,
        model=record.model,
        input_tokens=record.usage.input_tokens,
        output_tokens=record.usage.output_tokens,
        cache_read_tokens=record.usage.cache_read_tokens,
        cache_write_tokens=record.usage.cache_write_tokens,
        cost_usd=record.cost_usd,
        latency_ms=record.latency_ms,
        input_data=record.input_data,
        output_data=record.output_data,
        error=record.error,
        prompt_version=record.prompt_version,
        agent_instance_id=record.agent_instance_id,
    )


# --- Request building and response parsing (shared by the real adapter and test doubles) ---


def build_params(request: LlmRequest, resolved: ResolvedCall) -> dict[str, Any]:
    """The keyword arguments for ``client.messages.create``, with the cache breakpoints set
    (at most 4 per request, the API's limit)."""
    cache = _cache_control(resolved)
    system: list[dict[str, Any]] = []
    if request.system:
        system.append({"type": "text", "text": request.system, "cache_control": dict(cache)})
    if request.stable_context:
        system.append({"type": "text", "text": request.stable_context, "cache_control": dict(cache)})
    messages = request.messages
    if resolved.cache_history:
        messages = _cached_history(request.messages, request.dynamic_context, cache)
    elif request.dynamic_context:
        system.append({"type": "text", "text": request.dynamic_context})
    params: dict[str, Any] = {
        "model": resolved.model,
        "max_tokens": resolved.max_tokens,
        "messages": messages,
    }
    if accepts_temperature(resolved.model):
        # SDK 1.x dropped sampling keywords from create(); the API still takes them in the body.
        params["extra_body"] = {"temperature": resolved.temperature}
    if system:
        params["system"] = system
    if request.tools or request.server_tools:
        tools = [tool.to_api() for tool in request.tools]
        if tools and not (resolved.cache_history and request.system):
            # With the history cached, the system prompt's breakpoint covers the tools before it
            # and the four breakpoints go where the prompt changes.
            tools[-1]["cache_control"] = dict(cache)
        params["tools"] = [*(dict(t) for t in request.server_tools), *tools]
    if request.force_tool:
        if request.force_tool not in {t.name for t in request.tools}:
            raise ValueError(f"force_tool {request.force_tool!r} is not among the request's tools")
        params["tool_choice"] = {"type": "tool", "name": request.force_tool}
    return params


def _blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of content blocks (copies: the request is never mutated)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(block) for block in content]


def _cache_control(resolved: ResolvedCall) -> dict[str, str]:
    if resolved.cache_ttl == "1h":
        return {**EPHEMERAL, "ttl": "1h"}
    return dict(EPHEMERAL)


def _cached_history(
    messages: list[dict[str, Any]], dynamic: str, cache: dict[str, str]
) -> list[dict[str, Any]]:
    """The history with breakpoints on the previous and the latest user turn, and the per-turn
    block after them, uncached. The previous user turn closed the prefix the member's last turn
    cached, so this request reads it; the latest closes the prefix the next turn will read."""
    out = [dict(m) for m in messages]
    if not out:
        return out
    user_turns = [i for i, m in enumerate(out) if m.get("role") == "user"]
    for i in user_turns[-2:]:
        blocks = _blocks(out[i]["content"])
        if blocks:
            blocks[-1]["cache_control"] = dict(cache)
        out[i]["content"] = blocks
    if dynamic:
        last = out[-1]
        if last.get("role") != "user":
            out.append({"role": "user", "content": [{"type": "text", "text": dynamic}]})
        else:
            last["content"] = [*_blocks(last["content"]), {"type": "text", "text": dynamic}]
    return out


def parse_tool_call(
    tools: Sequence[ToolSpec], name: str, raw: Any, call_id: str
) -> ToolCall | InvalidToolCall:
    spec = next((t for t in tools if t.name == name), None)
    if spec is None:
        return InvalidToolCall(name=name, raw_arguments=raw, error=f"unknown tool {name!r}", id=call_id)
    try:
        return ToolCall(name=name, arguments=spec.input_model.model_validate(raw), id=call_id)
    except pydantic.ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        return InvalidToolCall(name=name, raw_arguments=raw, error=errors, id=call_id)


def split_tool_calls(
    tools: Sequence[ToolSpec], uses: Sequence[tuple[str, Any, str]]
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for name, raw, call_id in uses:
        parsed = parse_tool_call(tools, name, raw, call_id)
        if isinstance(parsed, ToolCall):
            valid.append(parsed)
        else:
            invalid.append(parsed)
    return valid, invalid


def _input_data(request: LlmRequest, resolved: ResolvedCall) -> dict[str, Any]:
    """What the ledger keeps of the input: everything but the big static prompt, which is hashed."""
    return {
        "call_kind": request.call_kind,
        "model": resolved.model,
        "temperature": resolved.temperature,
        "max_tokens": resolved.max_tokens,
        "system_sha256": hashlib.sha256(request.system.encode()).hexdigest()[:16],
        "system_chars": len(request.system),
        "stable_context": request.stable_context,
        "dynamic_context": request.dynamic_context,
        "messages": request.messages,
        "tools": [t.name for t in request.tools] + [str(t.get("name")) for t in request.server_tools],
        "force_tool": request.force_tool,
    }


def _output_data(response: LlmResponse) -> dict[str, Any]:
    return {
        "text": response.text,
        "tool_calls": [
            {"name": c.name, "id": c.id, "arguments": c.arguments.model_dump(mode="json")}
            for c in response.tool_calls
        ],
        "invalid_tool_calls": [
            {"name": c.name, "raw_arguments": c.raw_arguments, "error": c.error}
            for c in response.invalid_tool_calls
        ],
        "stop_reason": response.stop_reason,
        **(
            {
                "web_results": [r.url for r in response.web_results],
                "web_search_errors": response.web_search_errors,
            }
            if response.web_results or response.web_search_errors
            else {}
        ),
    }


def record_call(
    call_log: CallLog | None,
    request: LlmRequest,
    resolved: ResolvedCall,
    *,
    response: LlmResponse | None,
    error: str | None,
    latency_ms: int,
) -> None:
    """One ledger row and one structured log line per call (the log-based cost metric reads it)."""
    usage = response.usage if response else Usage()
    cost = response.cost_usd if response else Decimal(0)
    model = response.model if response and response.model else resolved.model
    fields = {
        "llm_call": True,
        "agent": request.agent,
        "call_kind": request.call_kind,
        "model": model,
        "cost_usd": float(cost),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "web_search_requests": usage.web_search_requests,
        "latency_ms": latency_ms,
        "user_id": str(request.user_id) if request.user_id else None,
        "error": error,
    }
    if error:
        log.warning("llm call failed", extra=fields)
    else:
        log.info("llm call", extra=fields)
    if call_log is None:
        return
    call_log.record(
        CallRecord(
            agent=request.agent,
            call_kind=request.call_kind,
            model=model,
            user_id=request.user_id,
            context_id=request.context_id,
            context_type=request.context_type,
            prompt_version=request.prompt_version,
            usage=usage,
            cost_usd=cost,
            latency_ms=latency_ms,
            input_data=_input_data(request, resolved),
            output_data=_output_data(response) if response else None,
            error=error,
            agent_instance_id=request.agent_instance_id,
        )
    )


# --- The real adapter ------------------------------------------------------------------------


def _unavailable_reason(exc: anthropic.APIError) -> str:
    import anthropic  # loaded already: the client that raised ``exc`` imported it

    reasons: tuple[tuple[type[anthropic.APIError], str], ...] = (
        (anthropic.APITimeoutError, "timeout"),
        (anthropic.APIConnectionError, "connection"),
        (anthropic.RateLimitError, "rate_limited"),
        (anthropic.AuthenticationError, "auth"),
        (anthropic.PermissionDeniedError, "auth"),
    )
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 529:
            return "overloaded"
        return "server_error" if exc.status_code >= 500 else "rejected"
    return "error"


class AnthropicLlm:
    """``Llm`` on the official SDK. Retries are the SDK's (``max_retries``), with its backoff."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        call_log: CallLog | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._call_log = call_log
        self._clock = clock

    def complete(self, request: LlmRequest) -> LlmResponse:
        import anthropic  # loaded already: building ``self._client`` imported it

        resolved = request.settings
        params = build_params(request, resolved)
        started = self._clock()
        try:
            message = self._client.messages.create(**params)
        except anthropic.APIError as exc:
            latency_ms = int((self._clock() - started) * 1000)
            reason = _unavailable_reason(exc)
            error = f"{type(exc).__name__} ({reason}): {exc}"
            record_call(self._call_log, request, resolved, response=None, error=error, latency_ms=latency_ms)
            raise LlmUnavailable(error, reason=reason) from exc
        latency_ms = int((self._clock() - started) * 1000)
        response = self._to_response(request, message, latency_ms)
        record_call(self._call_log, request, resolved, response=response, error=None, latency_ms=latency_ms)
        return response

    @staticmethod
    def _to_response(request: LlmRequest, message: Any, latency_ms: int) -> LlmResponse:
        texts: list[str] = []
        uses: list[tuple[str, Any, str]] = []
        web = _WebBlocks()
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
                web.cite(block)
            elif block.type == "tool_use":
                uses.append((block.name, block.input, block.id))
            elif block.type == "server_tool_use":
                web.searched(block)
            elif block.type == "web_search_tool_result":
                web.results(block)
        valid, invalid = split_tool_calls(request.tools, uses)
        u = message.usage
        split = getattr(u, "cache_creation", None)
        server = getattr(u, "server_tool_use", None)
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_read_tokens=u.cache_read_input_tokens or 0,
            cache_write_tokens=u.cache_creation_input_tokens or 0,
            cache_write_1h_tokens=(getattr(split, "ephemeral_1h_input_tokens", 0) or 0) if split else 0,
            web_search_requests=(server.web_search_requests or 0) if server is not None else 0,
        )
        model = str(message.model)
        return LlmResponse(
            text="".join(texts).strip(),
            tool_calls=valid,
            invalid_tool_calls=invalid,
            usage=usage,
            cost_usd=price_call(
                model,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cache_write_1h_tokens=usage.cache_write_1h_tokens,
                web_search_requests=usage.web_search_requests,
            ),
            latency_ms=latency_ms,
            model=model,
            stop_reason=str(message.stop_reason or ""),
            web_results=web.found,
            citations=web.citations,
            web_search_errors=web.errors,
        )


class _WebBlocks:
    """Collects the web search server tool's blocks of one response, in the SDK's types."""

    def __init__(self) -> None:
        self.queries: dict[str, str] = {}  # server_tool_use id -> query
        self.found: list[WebResult] = []
        self.citations: list[WebCitation] = []
        self.errors: list[str] = []

    def searched(self, block: Any) -> None:
        query = block.input.get("query") if isinstance(block.input, dict) else None
        self.queries[block.id] = str(query or "")

    def results(self, block: Any) -> None:
        content = block.content
        if not isinstance(content, list):  # WebSearchToolResultErrorObject
            self.errors.append(str(getattr(content, "error_code", "unknown")))
            return
        query = self.queries.get(block.tool_use_id, "")
        for item in content:
            if getattr(item, "type", "") == "web_search_result":
                self.found.append(
                    WebResult(url=item.url, title=item.title, page_age=item.page_age, query=query)
                )

    def cite(self, block: Any) -> None:
        for citation in getattr(block, "citations", None) or ():
            if getattr(citation, "type", "") == "web_search_result_location":
                self.citations.append(
                    WebCitation(
                        url=citation.url,
                        title=citation.title,
                        cited_text=citation.cited_text,
                        text=block.text,
                    )
                )


# --- Construction -------------------------------------------------------------------------

_clients: dict[tuple[str, str | None, float, int], anthropic.Anthropic] = {}
_clients_lock = threading.Lock()


def cap_retry_after(response: Any) -> None:
    """An HTTP response hook: cut the API's ``retry-after-ms`` / ``retry-after`` (seconds or an
    HTTP date) to ``LLM_RETRY_AFTER_MAX``. The SDK waits out either as given, with no bound of its
    own; a 429 asking for minutes would hold the turn until its function's timeout. A header that
    cannot be read is left to the SDK (it then falls back to its own backoff)."""
    cap = LLM_RETRY_AFTER_MAX.total_seconds()
    for header, per_second in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is None:
            continue
        seconds = _header_seconds(value, per_second)
        if seconds is not None and seconds > cap:
            response.headers[header] = f"{cap * per_second:g}"


def _header_seconds(value: str, per_second: float) -> float | None:
    try:
        return float(value) / per_second
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return (when - datetime.now(UTC)).total_seconds()


def build_client(api_key: str, base_url: str | None, timeout: float, max_retries: int) -> anthropic.Anthropic:
    """One SDK client per configuration, reused across invocations (its HTTP pool is warm)."""
    key = (api_key, base_url, timeout, max_retries)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import anthropic  # here, not at module import: see the module docstring

            client = anthropic.Anthropic(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                # the SDK's own HTTP client and defaults, with the API's retry-after capped
                http_client=anthropic.DefaultHttpxClient(event_hooks={"response": [cap_retry_after]}),
            )
            _clients[key] = client
        return client


def build_llm(settings: Settings, call_log: CallLog) -> Llm | None:
    """The LLM these settings describe, or None when no ANTHROPIC_API_KEY is set (callers use
    their fallback brain). Built by the composition root (``shared.bootstrap``)."""
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    if not key:
        return None
    client = build_client(
        key, settings.anthropic_base_url, settings.anthropic_timeout_seconds, settings.anthropic_max_retries
    )
    return AnthropicLlm(client, call_log)
