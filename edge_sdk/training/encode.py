"""Chat rows -> token ids and labels: the model's own chat template, loss on assistant tokens only.

The prompt tokens are rendered exactly as the runtime renders a chat (`edge_sdk.runtime.chat`: the tokenizer's
template, no extra special tokens), so what the model is trained on is what it is later asked. A row whose
system is null is rendered without a system turn, as the runtime renders a chat without one (the template
then inserts its own default system message, if it has one), so training and serving see the same prompt.

Each assistant turn's tokens (its content and the end-of-turn token, not the whitespace the template adds
after it) are labelled; everything else is -100 (ignored by the loss).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.training.data import ChatRow, DatasetError

IGNORE = -100


@dataclass(frozen=True)
class EncodedRow:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE where no loss is taken
    line: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def _render(tokenizer, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_row(tokenizer, row: ChatRow, max_len: int, default_system: str | None = None) -> EncodedRow:
    """Token ids and assistant-only labels of one row; DatasetError when it exceeds `max_len` tokens."""
    messages = row.messages(default_system)
    ids = _render(tokenizer, messages, generation_prompt=False)
    where = f"line {row.line}" if row.line else "a row"
    if len(ids) > max_len:
        raise DatasetError(f"{where} is {len(ids)} tokens with the chat template, over the training context of "
                           f"{max_len}: shorten it, split the conversation, or raise max_seq_len")
    labels = [IGNORE] * len(ids)
    eos = tokenizer.eos_token_id
    offset = 1 if messages[0]["role"] == "system" else 0
    for k in range(offset + 1, len(messages), 2):  # every assistant turn
        prefix = _render(tokenizer, messages[:k], generation_prompt=True)
        upto = _render(tokenizer, messages[: k + 1], generation_prompt=False)
        if ids[: len(prefix)] != prefix or ids[: len(upto)] != upto:
            raise DatasetError(f"{where}: the model's chat template does not render turns as a prefix of the "
                               "whole conversation, so assistant tokens cannot be located; use a model whose "
                               "template appends turns")
        span = range(len(prefix), len(upto))
        end = len(upto)
        if eos is not None and eos in upto[len(prefix):]:
            end = len(prefix) + upto[len(prefix):].index(eos) + 1  # through the end-of-turn token
        for i in span:
            if i < end:
                labels[i] = ids[i]
    if all(x == IGNORE for x in labels):
        raise DatasetError(f"{where}: no assistant tokens to learn from after rendering")
    return EncodedRow(tuple(ids), tuple(labels), row.line)


def encode_rows(tokenizer, rows: list[ChatRow], max_len: int, default_system: str | None = None) -> list[EncodedRow]:
    """Encode every row; all rows too long are named in one error."""
    out, problems = [], []
    for row in rows:
        try:
            out.append(encode_row(tokenizer, row, max_len, default_system))
        except DatasetError as exc:
            problems.append(str(exc))
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise DatasetError(f"{len(problems)} row(s) cannot be trained:\n  " + "\n  ".join(shown))
    return out
