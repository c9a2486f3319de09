"""A loopback HTTP server speaking Anthropic's Messages API, for tests and the cost benchmark.

``POST /v1/messages`` answers scripted responses in the real wire format (``content`` blocks
including ``tool_use``, ``stop_reason``, ``usage`` with ``cache_creation_input_tokens`` and
``cache_read_input_tokens``), so the real ``anthropic`` client is exercised end to end.

Usage is computed from the request, the way the API bills it:

- tokens are estimated from the serialised text (about 4 characters a token, per block);
- the prompt is read in the API's prefix order, tools -> system -> messages; every block with
  ``cache_control`` is a breakpoint closing a cacheable prefix (at most 4, messages included); a
  different ``tool_choice`` keys the message blocks' prefixes apart, as the API invalidates
  them (only them) when it changes; a breakpoint's ``ttl`` is 5 minutes or, with ``"ttl": "1h"``,
  an hour (usage splits the writes by TTL, and 1h breakpoints must come before 5m ones);
- a prefix seen before (same model, same bytes) within the TTL (5 minutes, refreshed on each
  hit) is a cache read; the part from the longest hit up to the last breakpoint is a cache
  write; the rest is plain input. Prefixes under the model's minimum cacheable length are
  never cached, as with the real API.

Anthropic's server-side web search tool (``web_search_20250305``) is answered in its real
format: a ``server_tool_use`` block (``srvtoolu_`` id, ``{"query": ...}``), a
``web_search_tool_result`` block holding ``web_search_result`` items (url, title,
``encrypted_content``, ``page_age``) or a ``web_search_tool_result_error``, then text blocks whose
``citations`` are ``web_search_result_location`` entries (url, title, ``cited_text``,
``encrypted_index``); ``usage.server_tool_use.web_search_requests`` counts the searches, and each
result adds ``WEB_RESULT_INPUT_TOKENS`` of input (the content the model read). Script
it with ``fake.web_search(query, results, cited=[(text, url)], text=...)``; a scripted search on
a request that did not offer the tool is refused, as the model could not have searched.

Scripts are queued per test: ``fake.reply(text)``, ``fake.tool_use(name, input)``,
``fake.error(529, "overloaded_error")``, ``fake.delay(seconds)`` (to make the client time out).
With an empty queue the server answers with ``responder(request_body)`` if one is set, else a
500 ``api_error`` naming the problem. Run standalone with ``python -m tools.fakes.anthropic_api``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self

from tools.fakes.loopback_http import StandinHTTPServer, serve_in_thread

CACHE_TTL_SECONDS = 300.0  # the API's ephemeral cache (5 minutes, refreshed on hit)
CACHE_TTL_1H_SECONDS = 3600.0  # cache_control {"ttl": "1h"}
CHARS_PER_TOKEN = 4
TOOL_USE_SYSTEM_TOKENS = 346  # tool-use system prompt the API adds when tools are present
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators per message
MAX_BODY_BYTES = 32 * 1024 * 1024


def min_cacheable_tokens(model: str) -> int:
    """The API's minimum cacheable prompt length (Haiku needs more than Sonnet and Opus)."""
    return 2048 if "haiku" in model else 1024


def estimate_tokens(text: str) -> int:
    return max(1, -(-len(text) // CHARS_PER_TOKEN)) if text else 0


def _block_text(block: Any) -> str:
    """The billable text of one block, without its cache_control marker."""
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        if block.get("type") == "text":
            return str(block.get("text", ""))
        return json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)
    return json.dumps(block, sort_keys=True, default=str)


@dataclass
class PromptBlock:
    key: str  # canonical text of the block, for prefix hashing
    tokens: int
    breakpoint: bool
    ttl: float = CACHE_TTL_SECONDS  # the breakpoint's cache_control ttl: '5m' (default) or '1h'


def _ttl(block: Any) -> float:
    marker = block.get("cache_control") if isinstance(block, dict) else None
    if isinstance(marker, dict) and marker.get("ttl") == "1h":
        return CACHE_TTL_1H_SECONDS
    return CACHE_TTL_SECONDS


def prompt_blocks(body: dict[str, Any]) -> list[PromptBlock]:
    """The request flattened in cache-prefix order: tools, then system, then messages."""
    blocks: list[PromptBlock] = []
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        text = _block_text(tool)
        extra = TOOL_USE_SYSTEM_TOKENS if i == 0 else 0
        blocks.append(
            PromptBlock("tool:" + text, estimate_tokens(text) + extra, "cache_control" in tool, _ttl(tool))
        )
    system = body.get("system")
    if isinstance(system, str):
        blocks.append(PromptBlock("system:" + system, estimate_tokens(system), False))
    elif isinstance(system, list):
        for block in system:
            text = _block_text(block)
            blocks.append(
                PromptBlock("system:" + text, estimate_tokens(text), "cache_control" in block, _ttl(block))
            )
    # The API's cache hierarchy is tools -> system -> messages, and a change of tool_choice
    # invalidates the message blocks only: it keys the messages' prefixes, costs no tokens.
    blocks.append(PromptBlock("tool_choice:" + json.dumps(body.get("tool_choice"), sort_keys=True), 0, False))
    for message in body.get("messages") or []:
        role = str(message.get("role", ""))
        content = message.get("content")
        parts = [content] if isinstance(content, str) else list(content or [])
        for j, part in enumerate(parts):
            text = _block_text(part)
            overhead = MESSAGE_OVERHEAD_TOKENS if j == 0 else 0
            marked = isinstance(part, dict) and "cache_control" in part
            blocks.append(
                PromptBlock(f"{role}:" + text, estimate_tokens(text) + overhead, marked, _ttl(part))
            )
    return blocks


@dataclass
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cache_creation_1h_input_tokens: int = 0  # the part written with the 1-hour TTL


class PromptCache:
    """Prefix cache keyed by (model, hash of the prefix up to a breakpoint)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = CACHE_TTL_SECONDS) -> None:
        self._entries: dict[str, float] = {}  # key -> expiry
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()

    def account(self, model: str, blocks: list[PromptBlock]) -> CacheUsage:
        now = self._clock()
        total = sum(b.tokens for b in blocks)
        digest = hashlib.sha256(model.encode())
        running = 0
        # (prefix key, tokens up to and incl. the block, the breakpoint's TTL)
        breakpoints: list[tuple[str, int, float]] = []
        for block in blocks:
            digest.update(b"\x00" + block.key.encode())
            running += block.tokens
            if block.breakpoint:
                ttl = self._ttl if block.ttl == CACHE_TTL_SECONDS else block.ttl
                breakpoints.append((digest.hexdigest(), running, ttl))
        minimum = min_cacheable_tokens(model)
        with self._lock:
            read = 0
            for key, upto, _ in breakpoints:
                expiry = self._entries.get(key)
                if expiry is not None and expiry > now:
                    read = upto
            written_upto = read
            write_1h = 0
            for key, upto, ttl in breakpoints:
                if upto < minimum:
                    continue
                self._entries[key] = now + ttl  # written, or refreshed on hit
                if upto > written_upto:
                    if ttl > CACHE_TTL_SECONDS:
                        write_1h += upto - written_upto
                    written_upto = upto
        write = written_upto - read
        return CacheUsage(
            input_tokens=total - read - write,
            cache_read_input_tokens=read,
            cache_creation_input_tokens=write,
            cache_creation_1h_input_tokens=write_1h,
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --- Script items --------------------------------------------------------------------------


WEB_SEARCH_TOOL_TYPES = ("web_search_20250305",)
WEB_RESULT_INPUT_TOKENS = 500  # input tokens one search result adds (the page content the model reads)
WEB_SEARCH_ERROR_CODES = (
    "invalid_tool_input",
    "unavailable",
    "max_uses_exceeded",
    "too_many_requests",
    "query_too_long",
)


@dataclass
class FakeSearchResult:
    url: str
    title: str
    page_age: str | None = None


@dataclass
class FakeWebSearch:
    """One search the model runs with the server tool: its results, or an error code."""

    query: str
    results: list[FakeSearchResult] = field(default_factory=list)
    error_code: str | None = None  # one of WEB_SEARCH_ERROR_CODES


@dataclass
class FakeReply:
    text: str = ""
    tool_uses: list[tuple[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    output_tokens: int | None = None  # None: estimated from the content
    web_searches: list[FakeWebSearch] = field(default_factory=list)
    cited: list[tuple[str, str]] = field(default_factory=list)  # (text, url of a result it cites)


@dataclass
class FakeError:
    status: int
    error_type: str
    message: str = "scripted error"
    retry_after_ms: int | None = 5  # keeps the SDK's retries fast in tests
    retry_after: str | None = None  # the standard header (seconds, or an HTTP date), as the API sends


@dataclass
class FakeDelay:
    """Sleep before answering with the next item (or a reply); the client times out first."""

    seconds: float
    then: FakeReply | FakeError | None = None


ScriptItem = FakeReply | FakeError | FakeDelay


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: dict[str, Any]


class AnthropicFake:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        responder: Callable[[dict[str, Any]], FakeReply] | None = None,
    ) -> None:
        self._script: deque[ScriptItem] = deque()
        self._lock = threading.Lock()
        self.requests: list[ReceivedRequest] = []
        self.cache = PromptCache(clock)
        self.responder = responder
        self._server = StandinHTTPServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    # --- lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = serve_in_thread(self._server, "anthropic-fake")
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- scripting
    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self._script.extend(items)

    def reply(self, text: str, *, stop_reason: str | None = None) -> None:
        self.push(FakeReply(text=text, stop_reason=stop_reason))

    def tool_use(self, name: str, tool_input: Any, *, text: str = "") -> None:
        self.push(FakeReply(text=text, tool_uses=[(name, tool_input)]))

    def web_search(
        self,
        query: str,
        results: list[tuple[str, str]] | None = None,
        *,
        cited: list[tuple[str, str]] | None = None,
        text: str = "",
        error_code: str | None = None,
    ) -> None:
        """A reply that runs one web search: ``results`` are (url, title); ``cited`` are text
        blocks (text, url) citing one of them; ``text`` a closing uncited block."""
        search = FakeWebSearch(
            query, [FakeSearchResult(url, title) for url, title in results or []], error_code=error_code
        )
        self.push(FakeReply(text=text, web_searches=[search], cited=list(cited or [])))

    def error(self, status: int, error_type: str, message: str = "scripted error") -> None:
        self.push(FakeError(status, error_type, message))

    def delay(self, seconds: float, then: FakeReply | FakeError | None = None) -> None:
        self.push(FakeDelay(seconds, then))

    def _next(self) -> ScriptItem | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    # --- answering
    def answer(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(ReceivedRequest(headers, body))
        if not headers.get("x-api-key") and not headers.get("authorization"):
            return _error(401, "authentication_error", "x-api-key header is required")
        problem = _validate(body)
        if problem:
            return _error(400, "invalid_request_error", problem)
        item = self._next()
        if isinstance(item, FakeDelay):
            time.sleep(item.seconds)
            item = item.then
        if isinstance(item, FakeError):
            status, payload, extra = _error(item.status, item.error_type, item.message)
            if item.retry_after_ms is not None:
                extra["retry-after-ms"] = str(item.retry_after_ms)
            if item.retry_after is not None:
                extra["retry-after"] = item.retry_after
            return status, payload, extra
        if item is None:
            if self.responder is None:
                return _error(500, "api_error", "anthropic fake: no scripted response queued")
            item = self.responder(body)
        if item.web_searches and not _offers_web_search(body):
            return _error(500, "api_error", "anthropic fake: a web search was scripted but not offered")
        return 200, self._message(body, item), {}

    def _message(self, body: dict[str, Any], reply: FakeReply) -> dict[str, Any]:
        model = str(body["model"])
        content: list[dict[str, Any]] = _web_search_blocks(reply)
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for name, tool_input in reply.tool_uses:
            content.append(
                {
                    "type": "tool_use",
                    "id": "toolu_" + uuid.uuid4().hex[:24],
                    "name": name,
                    "input": tool_input,
                }
            )
        usage = self.cache.account(model, prompt_blocks(body))
        output_tokens = reply.output_tokens
        if output_tokens is None:
            output_tokens = sum(estimate_tokens(_block_text(c)) for c in content) or 1
        stop_reason = reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")
        searches = sum(1 for search in reply.web_searches if search.error_code is None)
        return {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage.input_tokens + _search_result_tokens(reply),
                "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": usage.cache_creation_input_tokens
                    - usage.cache_creation_1h_input_tokens,
                    "ephemeral_1h_input_tokens": usage.cache_creation_1h_input_tokens,
                },
                "output_tokens": output_tokens,
                "server_tool_use": {"web_search_requests": searches, "web_fetch_requests": 0},
                "service_tier": "standard",
            },
        }


def _search_result_tokens(reply: FakeReply) -> int:
    """The model reads what each search returned: billed as (uncached) input, as the API does."""
    return sum(len(s.results) for s in reply.web_searches if s.error_code is None) * WEB_RESULT_INPUT_TOKENS


def _offers_web_search(body: dict[str, Any]) -> bool:
    return any(t.get("type") in WEB_SEARCH_TOOL_TYPES for t in body.get("tools") or [] if isinstance(t, dict))


def _opaque(*parts: str) -> str:
    """Stands in for the API's encrypted_content / encrypted_index (opaque base64-like tokens)."""
    return "Eo" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _web_search_blocks(reply: FakeReply) -> list[dict[str, Any]]:
    """server_tool_use + web_search_tool_result per search, then the cited text blocks."""
    blocks: list[dict[str, Any]] = []
    by_url: dict[str, FakeSearchResult] = {}
    for search in reply.web_searches:
        use_id = "srvtoolu_" + uuid.uuid4().hex[:24]
        blocks.append({"type": "text", "text": "I'll search for that."})
        blocks.append(
            {"type": "server_tool_use", "id": use_id, "name": "web_search", "input": {"query": search.query}}
        )
        if search.error_code is not None:
            result: Any = {"type": "web_search_tool_result_error", "error_code": search.error_code}
        else:
            result = [
                {
                    "type": "web_search_result",
                    "url": r.url,
                    "title": r.title,
                    "encrypted_content": _opaque(r.url, search.query),
                    "page_age": r.page_age,
                }
                for r in search.results
            ]
            by_url.update({r.url: r for r in search.results})
        blocks.append({"type": "web_search_tool_result", "tool_use_id": use_id, "content": result})
    for text, url in reply.cited:
        source = by_url.get(url)
        citations = (
            [
                {
                    "type": "web_search_result_location",
                    "url": url,
                    "title": source.title,
                    "cited_text": text[:150],
                    "encrypted_index": _opaque(url, text),
                }
            ]
            if source is not None
            else None
        )
        blocks.append({"type": "text", "text": text, "citations": citations})
    return blocks


# --- An instant, schema-valid responder (benchmarks and the with-key end-to-end test) ----------

INSTANT_REPLY_TEXT = "Noted. Who pointed you our way?"


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:  # noqa: PLR0911
    """The smallest value a JSON schema accepts (required properties only)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return minimal_instance(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return minimal_instance(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {name: minimal_instance(props[name], defs) for name in required}
    if kind == "array":
        return [minimal_instance(schema["items"], defs) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "x" * max(schema.get("minLength", 0), 1)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


INSTANT_SEARCH_RESULTS = (
    FakeSearchResult("https://vendor-one.example/product", "Vendor One: the product", "3 weeks ago"),
    FakeSearchResult("https://vendor-two.example/", "Vendor Two", "2 months ago"),
    FakeSearchResult("https://review-site.example/best-tools", "The best tools, compared", None),
)


def instant_responder(body: dict[str, Any]) -> FakeReply:
    """Answer a forced tool with a schema-valid minimal call; a request offering web search with
    one search, three results and two cited sentences; anything else with short prose."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        tool = next(t for t in body.get("tools", []) if t["name"] == choice["name"])
        return FakeReply(tool_uses=[(tool["name"], minimal_instance(tool["input_schema"]))])
    if _offers_web_search(body):
        results = list(INSTANT_SEARCH_RESULTS)
        return FakeReply(
            web_searches=[FakeWebSearch("vendors for this need", results)],
            cited=[(f"{r.title} is one option.", r.url) for r in results[:2]],
        )
    return FakeReply(text=INSTANT_REPLY_TEXT)


def _cache_problems(body: dict[str, Any]) -> list[str]:
    """At most 4 cache breakpoints (tools, system and messages), and no 1h one after a 5m one."""
    system = body.get("system")
    messages = body.get("messages")
    marked = [
        b
        for b in [
            *(body.get("tools") or []),
            *(system if isinstance(system, list) else []),
            *(
                part
                for m in (messages if isinstance(messages, list) else [])
                if isinstance(m, dict) and isinstance(m.get("content"), list)
                for part in m["content"]
            ),
        ]
        if isinstance(b, dict) and "cache_control" in b
    ]
    problems: list[str] = []
    ttls = [_ttl(b) for b in marked]
    if any(a < b for a, b in itertools.pairwise(ttls)):
        problems.append("a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block")
    if len(marked) > 4:
        problems.append("A maximum of 4 blocks with cache_control may be provided.")
    return problems


def _validate(body: dict[str, Any]) -> str | None:
    """The first reason the real API would refuse this request with a 400, or None."""
    problems: list[str] = []
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        problems.append("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append("messages: at least one message is required")
    elif not all(isinstance(m, dict) and m.get("role") in ("user", "assistant") for m in messages):
        problems.append("messages: each message needs role 'user' or 'assistant'")
    for tool in body.get("tools") or []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind is not None and kind != "custom" and kind not in WEB_SEARCH_TOOL_TYPES:
            problems.append(f"tools: unknown server tool type {kind!r}")
        elif kind in WEB_SEARCH_TOOL_TYPES and tool.get("name") != "web_search":
            problems.append("tools: the web search tool must be named 'web_search'")
        elif kind is None and isinstance(tool, dict) and "input_schema" not in tool:
            problems.append(f"tools.{tool.get('name')}: input_schema: Field required")
    system = body.get("system")
    for block in system if isinstance(system, list) else []:
        if block.get("type") == "text" and not block.get("text"):
            problems.append("system: text content blocks must be non-empty")
    problems += _cache_problems(body)
    choice = body.get("tool_choice")
    tool_names = {t.get("name") for t in body.get("tools") or []}
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name") not in tool_names:
        problems.append(f"tool_choice: tool {choice.get('name')!r} not found in tools")
    return problems[0] if problems else None


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"type": "error", "error": {"type": error_type, "message": message}}, {}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"  # 529 Overloaded is not in the standard list


def _handler_for(fake: AnthropicFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
        # stalls every keep-alive response by ~40 ms.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_POST(self) -> None:
            if self.path.split("?")[0].rstrip("/") != "/v1/messages":
                self._send(*_error(404, "not_found_error", f"no route {self.path}"))
                return
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(*_error(413, "request_too_large", "request too large"))
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
            except ValueError as exc:
                self._send(*_error(400, "invalid_request_error", f"invalid JSON: {exc}"))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*fake.answer(headers, body))

        def _send(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status, _phrase(status))
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    return Handler


def main() -> None:  # pragma: no cover - manual use
    fake = AnthropicFake(port=8765, responder=lambda body: FakeReply(text="ok"))
    print(f"anthropic fake on {fake.base_url}; Ctrl-C to stop")
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
