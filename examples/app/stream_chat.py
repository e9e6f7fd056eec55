"""Stream a multi-turn chat on a chosen backend (llamacpp, onnx, onnx-int8, torch).

    python examples/app/stream_chat.py onnx
"""

import sys

from edge_sdk.runtime import SamplingParams, load_backend

llm = load_backend(sys.argv[1] if len(sys.argv) > 1 else "auto")
history = [{"role": "system", "content": "You are a concise assistant."}]
for question in ["Name a big city in Japan.", "What is it famous for?"]:
    history.append({"role": "user", "content": question})
    print(f"you> {question}\nmodel> ", end="")
    reply = ""
    for chunk in llm.stream_chat(history, SamplingParams(max_tokens=64, temperature=0.7, top_p=0.9, seed=1)):
        reply += chunk.text
        print(chunk.text, end="", flush=True)
    print()
    history.append({"role": "assistant", "content": reply})
