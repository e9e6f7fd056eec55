"""A tokenizer for inference without transformers: the `tokenizers` library on the model's tokenizer.json, and the
chat template rendered with jinja2 exactly as transformers renders it.

Why: importing transformers costs ~2.5 s and ~400 MB on a cold start, and the llama.cpp and ONNX runtimes need only
tokenising, detokenising and the chat template. The rendering copies transformers 4.57
(`utils/chat_template_utils.py`): a sandboxed jinja2 environment with trim_blocks, lstrip_blocks and loop controls,
its `tojson` filter (no HTML escaping), `raise_exception` and `strftime_now`, and the special tokens (bos_token,
eos_token, unk_token, pad_token) passed to the template. tests/test_lean_tokenizer.py checks that the token ids
equal transformers' `apply_chat_template` over varied message lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from edge_sdk.errors import InvalidRequestError, ModelCorruptError

SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "pad_token")


def _content(value: Any) -> str | None:
    """A special token as tokenizer_config.json stores it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _compile(template: str) -> Any:
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(template)


class LeanTokenizer:
    """The parts of a transformers tokenizer the runtimes use: call, decode, eos/pad ids, the chat template."""

    def __init__(self, folder: str | Path) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        try:
            self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, Exception) as exc:  # tokenizers raises its own Exception type
            raise ModelCorruptError(f"cannot read the tokenizer in {folder} ({exc}); delete the folder to have it "
                                    "built again") from exc
        template = config.get("chat_template")
        jinja_file = folder / "chat_template.jinja"
        if template is None and jinja_file.is_file():
            template = jinja_file.read_text(encoding="utf-8")
        if isinstance(template, list):  # named templates: use the default one, as transformers does
            template = next((t["template"] for t in template if t.get("name") == "default"), None)
        self.chat_template: str | None = template
        self.special_tokens_map = {name: tok for name in SPECIAL_NAMES if (tok := _content(config.get(name)))}
        for name, token in self.special_tokens_map.items():
            setattr(self, name, token)
            setattr(self, f"{name}_id", self._tok.token_to_id(token))
        for name in SPECIAL_NAMES:
            if name not in self.special_tokens_map:
                setattr(self, name, None)
                setattr(self, f"{name}_id", None)
        if self.pad_token_id is None:
            self.pad_token_id = self.eos_token_id
        self.model_max_length = int(config.get("model_max_length") or 2048)
        self._compiled: Any = None

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self(text, add_special_tokens)["input_ids"]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = False) -> str:
        if clean_up_tokenization_spaces:
            raise InvalidRequestError("LeanTokenizer does not clean up tokenisation spaces (nor do edgeproof's "
                                      "runtimes): pass clean_up_tokenization_spaces=False")
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> Any:
        if isinstance(ids, int):
            return self._tok.id_to_token(ids)
        return [self._tok.id_to_token(i) for i in ids]

    def apply_chat_template(self, messages: Sequence[Mapping[str, str]], tokenize: bool = True,
                            add_generation_prompt: bool = False, **kwargs: Any) -> Any:
        if not self.chat_template:
            raise InvalidRequestError("this tokenizer has no chat template")
        if self._compiled is None:
            self._compiled = _compile(self.chat_template)
        rendered = self._compiled.render(messages=[dict(m) for m in messages], tools=None, documents=None,
                                         add_generation_prompt=add_generation_prompt,
                                         **{**self.special_tokens_map, **kwargs})
        return self(rendered, add_special_tokens=False)["input_ids"] if tokenize else rendered
