"""Request validation with the real API's status codes and (close to) its messages.

Each check mirrors a 400/404 the real Messages API gives; see
reference/anthropic-api.md sections 2, 3, 4, 7 and 8 and docs/sim.md ("Validation").
"""

from __future__ import annotations

from escalate.sim.catalogue import EFFORT_LEVELS, SimCatalogue, SimModel
from escalate.sim.errors import ApiError, invalid
from escalate.sim.signature import SIGNATURE_PREFIX, sign

MAX_MESSAGES = 100_000
THINKING_DOCS = (
    "Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)


def _require(body: dict, *fields: str) -> None:
    for name in fields:
        if name not in body or body[name] is None:
            raise invalid(f"{name}: Field required")


def resolve_model(body: dict, catalogue: SimCatalogue) -> SimModel:
    model_id = body.get("model")
    if not isinstance(model_id, str):
        raise invalid("model: Input should be a valid string")
    model = catalogue.get(model_id)
    if model is None or model.lifecycle == "retired":
        raise ApiError(404, f"model: {model_id}")
    return model


def _check_messages(body: dict, model: SimModel) -> None:
    messages = body["messages"]
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    if len(messages) > MAX_MESSAGES:
        raise invalid(f"messages: a maximum of {MAX_MESSAGES} messages is allowed, got {len(messages)}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{i}: Input should be a valid dictionary")
        if message.get("role") not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        if content is None:
            raise invalid(f"messages.{i}.content: Field required")
        if isinstance(content, str):
            if not content and not (i == len(messages) - 1 and message["role"] == "assistant"):
                raise invalid(f"messages.{i}: text content blocks must be non-empty")
            continue
        if not isinstance(content, list):
            raise invalid(f"messages.{i}.content: Input should be a valid string or list")
        for j, block in enumerate(content):
            if not isinstance(block, dict) or "type" not in block:
                raise invalid(f"messages.{i}.content.{j}.type: Field required")
            if block["type"] == "text" and not block.get("text"):
                raise invalid(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
            if block["type"] == "tool_use" and message["role"] != "assistant":
                raise invalid(
                    f"messages.{i}.content.{j}: `tool_use` blocks may only appear in assistant messages"
                )
            if block["type"] == "tool_result" and message["role"] != "user":
                raise invalid(
                    f"messages.{i}.content.{j}: `tool_result` blocks may only appear in user messages"
                )
            _check_block_shape(block, f"messages.{i}.content.{j}")
    _check_tool_pairs(messages)
    if messages[-1]["role"] == "assistant" and not model.prefill:
        raise invalid(
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )
    _check_thinking_unchanged(messages)


def _check_block_shape(block: dict, where: str) -> None:
    kind = block["type"]
    if kind == "text" and not isinstance(block.get("text"), str):
        raise invalid(f"{where}.text: Input should be a valid string")
    if kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise invalid(f"{where}.tool_use: `id` and `name` are required strings")
        if not isinstance(block.get("input"), dict):
            raise invalid(f"{where}.tool_use.input: Input should be a valid dictionary")
    if kind == "tool_result":
        content = block.get("content", "")
        if not isinstance(content, str | list):
            raise invalid(f"{where}.tool_result.content: Input should be a valid string or list")
        for k, inner in enumerate(content if isinstance(content, list) else []):
            if not isinstance(inner, dict) or inner.get("type") not in (
                "text",
                "image",
                "document",
                "search_result",
            ):
                raise invalid(
                    f"{where}.tool_result.content.{k}: Input should be a text, image or document block"
                )
            if inner.get("type") == "text" and not inner.get("text"):
                raise invalid(f"{where}.tool_result.content.{k}.text: text content blocks must be non-empty")


def _check_system(body: dict) -> None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{i}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise invalid(f"system.{i}.text: Field required")


def _blocks(message: dict) -> list[dict]:
    content = message.get("content")
    return [] if isinstance(content, str) else content


def _check_tool_pairs(messages: list[dict]) -> None:
    for i, message in enumerate(messages):
        uses = [b.get("id") for b in _blocks(message) if b.get("type") == "tool_use"]
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        leading: list[str] = []
        if nxt is not None and nxt["role"] == "user":
            for block in _blocks(nxt):
                if block.get("type") != "tool_result":
                    break
                leading.append(block.get("tool_use_id"))
        if uses:  # a trailing assistant tool_use is unanswered too
            missing = [u for u in uses if u not in leading]
            if missing:
                raise invalid(
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                    "immediately after: "
                    f"{', '.join(map(str, missing))}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
        if message["role"] == "user":
            prev = messages[i - 1] if i > 0 else None
            prev_uses = {b.get("id") for b in _blocks(prev) if b.get("type") == "tool_use"} if prev else set()
            for j, block in enumerate(_blocks(message)):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in prev_uses:
                    raise invalid(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )


def _check_thinking_unchanged(messages: list[dict]) -> None:
    """Our own signatures cover the returned thinking text; an edited block is the real API's 400."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] != "assistant":
            continue
        for block in _blocks(messages[i]):
            sig = block.get("signature")
            ours = isinstance(sig, str) and sig.startswith(SIGNATURE_PREFIX)
            if block.get("type") == "thinking" and ours and sig != sign(str(block.get("thinking", ""))):
                raise invalid(
                    f"messages.{i}: `thinking` or `redacted_thinking` blocks in the latest assistant "
                    "message cannot be modified. These blocks must remain as they were in the original "
                    "response."
                )
        return


def _check_thinking(body: dict, model: SimModel) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive", "disabled", "between_tools"):
        raise invalid("thinking.type: Input should be 'enabled', 'adaptive', 'disabled' or 'between_tools'")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int):
            raise invalid("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if "enabled" not in model.thinking:
            raise invalid(
                '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
                '"output_config.effort" to control thinking behavior.'
            )
        if budget >= body["max_tokens"]:
            raise invalid(f"`max_tokens` must be greater than `thinking.budget_tokens`. {THINKING_DOCS}")
        if body["max_tokens"] == 0:
            raise invalid("max_tokens: must be at least 1 when thinking is enabled")
    elif kind == "adaptive" and "adaptive" not in model.thinking:
        raise invalid("adaptive thinking is not supported on this model")
    elif kind == "disabled" and "disabled" not in model.thinking:
        raise invalid(
            '"thinking.type.disabled" is not supported for this model. Thinking is always on for this model; '
            'use "output_config.effort" to control how much it thinks.'
        )
    elif kind == "between_tools" and "between_tools" not in model.thinking:
        raise invalid('"thinking.type.between_tools" is not supported for this model.')
    display = thinking.get("display")
    if display is not None and display not in ("summarized", "omitted"):
        raise invalid("thinking.display: Input should be 'summarized' or 'omitted'")


def _check_effort(body: dict, model: SimModel) -> None:
    config = body.get("output_config")
    if not isinstance(config, dict) or config.get("effort") is None:
        return
    effort = config["effort"]
    if effort not in EFFORT_LEVELS:
        raise invalid("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
    if not model.effort:
        raise invalid("This model does not support the effort parameter.")
    if effort not in model.effort:
        raise invalid(
            f"output_config.effort: effort level '{effort}' is not supported by this model. "
            f"Supported levels: {', '.join(model.effort)}."
        )
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "disabled" and model.disabled_max_effort:
        if EFFORT_LEVELS.index(effort) > EFFORT_LEVELS.index(model.disabled_max_effort):
            raise invalid(
                f'"thinking.type.disabled" is only supported with "output_config.effort" up to '
                f"'{model.disabled_max_effort}' on this model."
            )


def _check_tools(body: dict, model: SimModel) -> None:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("name"):
            raise invalid(f"tools.{i}.name: Field required")
        if tool.get("type") in (None, "custom") and "input_schema" not in tool:
            raise invalid(f"tools.{i}.custom.input_schema: Field required")
        names.append(tool["name"])
    if len(set(names)) != len(names):
        raise invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind == "tool" and choice.get("name") not in names:
        raise invalid(f"tool_choice.name: tool '{choice.get('name')}' is not among the request's tools")
    if kind in ("any", "tool"):
        if not model.forced_tool_choice:
            raise invalid(
                "tool_choice: forced tool use (type 'any' or 'tool') is not supported for this model. "
                "Use tool_choice type 'auto'."
            )
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _check_sampling(body: dict, model: SimModel) -> None:
    if "temperature" in body and "top_p" in body:
        raise invalid(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        )
    if not model.sampling:
        for name, default in (("temperature", 1.0), ("top_p", 1.0), ("top_k", None)):
            if name in body and body[name] != default:
                raise invalid(
                    f"{name}: this model does not support setting `{name}`; remove it from the request"
                )


def validate_message_request(body: dict, catalogue: SimCatalogue, *, batch: bool = False) -> SimModel:
    """The model for a valid Messages request; otherwise the real API's ApiError."""
    _require(body, "model", "max_tokens", "messages")
    model = resolve_model(body, catalogue)
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if batch:
        if body.get("stream"):
            raise invalid("stream: streaming is not supported in the Message Batches API")
        if max_tokens < 1:
            raise invalid("max_tokens: Input should be greater than or equal to 1")
        if not model.batch:
            raise invalid(f"model: {model.id} does not support the Message Batches API")
    if max_tokens > model.max_output:
        raise invalid(
            f"max_tokens: {max_tokens} > {model.max_output}, which is the maximum allowed number of output "
            f"tokens for {model.id}"
        )
    _check_system(body)
    _check_messages(body, model)
    _check_thinking(body, model)
    _check_effort(body, model)
    _check_tools(body, model)
    _check_sampling(body, model)
    return model


def validate_count_request(body: dict, catalogue: SimCatalogue) -> SimModel:
    _require(body, "model", "messages")
    if "max_tokens" in body:
        raise invalid("max_tokens: Extra inputs are not permitted")
    model = resolve_model(body, catalogue)
    probe = dict(body, max_tokens=model.max_output)  # count_tokens has no max_tokens; checks still apply
    _check_system(probe)
    _check_messages(probe, model)
    _check_thinking(probe, model)
    _check_effort(probe, model)
    _check_tools(probe, model)
    return model
