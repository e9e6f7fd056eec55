"""Answer a prompt on the best local backend, with per-token logprobs.

    python examples/app/generate.py "What is the capital of France?"
"""

import sys

from edge_sdk.runtime import SamplingParams, load_backend
from edge_sdk.runtime.compare import user_messages  # adds a short system prompt (see DEFAULT_SYSTEM_PROMPT)

prompt = sys.argv[1] if len(sys.argv) > 1 else "What is the capital of France?"
llm = load_backend("auto")
out = llm.chat(user_messages(prompt), SamplingParams(max_tokens=48, logprobs=3))
print(f"[{llm.name}] {out.text}")
print(f"{out.timings.generated_tokens} tokens, TTFT {out.timings.time_to_first_token_s * 1000:.0f} ms, "
      f"{out.timings.decode_tokens_per_s:.1f} tok/s")
for lp in out.logprobs[:5]:
    print(f"  {lp.token!r:>12} {lp.logprob:7.3f}   alternatives: {[(t.token, round(t.logprob, 2)) for t in lp.top]}")
