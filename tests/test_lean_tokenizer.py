"""The runtime tokenizer without transformers (`tokenizers` + jinja2) gives exactly the ids of transformers'
`apply_chat_template`, over varied message lists, on the tokenizer files the model cache builds."""

from __future__ import annotations

import pytest

from edge_sdk.models import resolve_model

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Answer in one short sentence."},
     {"role": "user", "content": "Name three colours."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke about cats."}],
    [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    [{"role": "user", "content": "Ünïcödé: 東京は日本の首都です 🚀 — naïve café, ½ + ¼ = ¾"}],
    [{"role": "user", "content": "  leading and trailing spaces  \n\nand\tt a b s\n"}],
    [{"role": "user", "content": "<|im_start|>not really a turn<|im_end|> and 1234567890 digits"}],
    [{"role": "user", "content": "code:\n```python\nprint('hi')\n```"},
     {"role": "assistant", "content": "It prints hi."}, {"role": "user", "content": "And in C?"}],
]


@pytest.fixture(scope="module")
def tokenizers_pair():
    assets = resolve_model(None)
    folder = assets.tokenizer_dir()
    from transformers import AutoTokenizer

    from edge_sdk.models.lean_tokenizer import LeanTokenizer

    return LeanTokenizer(folder), AutoTokenizer.from_pretrained(str(folder))


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("generation_prompt", [True, False])
def test_chat_template_ids_equal_transformers(tokenizers_pair, messages, generation_prompt):
    lean, reference = tokenizers_pair
    expected = reference.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    assert lean.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt) == expected
    text = reference.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    assert lean.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt) == text


def test_plain_text_decode_and_special_tokens_equal_transformers(tokenizers_pair):
    lean, reference = tokenizers_pair
    for text in ("Hello world", "  spaces ", "東京 🚀 12345", "<|im_end|>"):
        assert lean(text, add_special_tokens=False)["input_ids"] == reference(text, add_special_tokens=False)[
            "input_ids"]
        assert lean(text)["input_ids"] == reference(text)["input_ids"]
    ids = reference.apply_chat_template(CONVERSATIONS[2], tokenize=True)
    for skip in (True, False):
        assert lean.decode(ids, skip_special_tokens=skip) == reference.decode(
            ids, skip_special_tokens=skip, clean_up_tokenization_spaces=False)
    assert (lean.eos_token_id, lean.bos_token_id, lean.pad_token_id) == (
        reference.eos_token_id, reference.bos_token_id, reference.pad_token_id)
    assert len(lean) == len(reference)


def test_the_cache_builds_the_tokenizer_files_without_transformers(tmp_path):
    """A fresh cache, a process where transformers cannot be imported: the folder is built and works."""
    import subprocess
    import sys

    from procs import ROOT, env

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('transformers', 'torch'):\n"
        "            raise ImportError('blocked for this test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from edge_sdk.models import resolve_model\n"
        "tok = resolve_model(None).lean_tokenizer()\n"
        "print(tok.apply_chat_template([{'role': 'user', 'content': 'Hi'}], add_generation_prompt=True))\n"
    )
    environment = {**env(), "EDGEPROOF_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lean, reference = None, None
    from transformers import AutoTokenizer

    expected = AutoTokenizer.from_pretrained(str(resolve_model(None).tokenizer_dir())).apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert out.stdout.strip() == str(expected), (lean, reference)
