"""Chat messages -> prompt token ids, with the model's own chat template.

Every backend builds its prompt here with the same Hugging Face tokenizer, so the prompt tokens are
identical on llama.cpp, ONNX Runtime and PyTorch (a precondition for comparing their outputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge_sdk.errors import InvalidRequestError

KNOWN_ROLES = ("system", "user", "assistant")

# The system message a chat gets when it brings none. SmolLM2-135M on llama.cpp (Q4_1) answers "What is the capital
# of France?" with "L'Etoile, la Cite..." without one (a near tie at the first token); with this one it answers Paris
# with a first-token margin of 1.2-2.9 nats on every backend, and three colours, 2 + 2, Romeo and Juliet and the
# largest planet right on llama.cpp (measured, session 5; "Answer in one short sentence." got 2 + 2 wrong). Training
# uses it for rows without a system message too, so an adapter sees the prompt it will be served with.
DEFAULT_SYSTEM_PROMPT = "Give a short, accurate answer."


def with_default_system(messages: Sequence[Mapping[str, str]], system: str | None = DEFAULT_SYSTEM_PROMPT
                        ) -> list[Mapping[str, str]]:
    """`messages` with `system` in front when they have no system message (None: unchanged)."""
    if system is None or isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        return messages  # type: ignore[return-value]  # nothing to add to: validate_messages says what is wrong
    items = list(messages)
    if isinstance(items[0], Mapping) and items[0].get("role") == "system":
        return items
    return [{"role": "system", "content": system}, *items]


def validate_messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Check the message list is something a chat template can render; return plain dicts."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidRequestError(
            "messages must be a list of {'role': ..., 'content': ...} dicts, e.g. "
            "[{'role': 'user', 'content': 'Hello'}]"
        )
    if len(messages) == 0:
        raise InvalidRequestError("messages is empty: pass at least one {'role': 'user', 'content': ...} message")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise InvalidRequestError(f"message {i} must be a dict with 'role' and 'content' keys, got {m!r}")
        role, content = m["role"], m["content"]
        if role not in KNOWN_ROLES:
            raise InvalidRequestError(
                f"message {i} has role {role!r}, which the chat template does not know; "
                f"use one of {', '.join(KNOWN_ROLES)}"
            )
        if not isinstance(content, str):
            raise InvalidRequestError(f"message {i} content must be a string, got {type(content).__name__}")
        if role == "system" and i != 0:
            raise InvalidRequestError(f"message {i}: a system message is only allowed first")
        out.append({"role": role, "content": content})
    if out[-1]["role"] == "assistant":
        raise InvalidRequestError("the last message is from the assistant: end with a user message to get a reply")
    if not any(m["role"] == "user" for m in out):
        raise InvalidRequestError("messages has no user message: add {'role': 'user', 'content': ...}")
    return out


def chat_prompt_ids(tokenizer, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """Render messages with the tokenizer's chat template (generation prompt appended) and tokenise."""
    msgs = validate_messages(messages)
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidRequestError(
            "this model has no chat template; use raw completion (generate with a string prompt) instead"
        )
    try:
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja TemplateError / raise_exception() inside templates
        raise InvalidRequestError(f"the model's chat template rejected these messages: {exc}") from exc
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def completion_prompt_ids(tokenizer, prompt: str) -> list[int]:
    if not isinstance(prompt, str) or prompt == "":
        raise InvalidRequestError("prompt must be a non-empty string")
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
