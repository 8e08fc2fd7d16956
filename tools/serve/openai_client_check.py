#!/usr/bin/env python3
"""Drives a running `kataribe serve` with the official `openai` Python client.

Not part of `swift test`: start a server first, e.g.

    KATARIBE_KEY=secret kataribe serve --model demo-rinna-sft --port 8080 --api-key-env KATARIBE_KEY
    /work/venv/bin/python tools/serve/openai_client_check.py --base-url http://127.0.0.1:8080/v1 --api-key secret

Checks: models list, completion, chat completion, streaming (chunks add up to the non-streamed text
for the same seed), n > 1, stop, logprobs, and the client's error types for 400 and 401. Exits 1 on
the first failure. Pass --plain for a model without a chat format (chat checks are skipped).
"""
import argparse
import sys

import openai


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", default="unused")
    parser.add_argument("--plain", action="store_true", help="the model has no chat format")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)

    models = client.models.list()
    model = models.data[0].id
    check(len(models.data) == 1, f"models.list -> {model}")

    completion = client.completions.create(model=model, prompt="吾輩は猫である。", max_tokens=16, temperature=0.8, seed=1)
    text = completion.choices[0].text
    check(isinstance(text, str) and completion.usage.completion_tokens > 0, f"completions.create -> {text!r}")

    stream = client.completions.create(model=model, prompt="吾輩は猫である。", max_tokens=16, temperature=0.8, seed=1,
                                       stream=True)
    streamed = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    check(streamed == text, "streamed completion equals the non-streamed one")

    several = client.completions.create(model=model, prompt="今日は", max_tokens=8, temperature=1.0, n=3, seed=2)
    check(sorted(c.index for c in several.choices) == [0, 1, 2], "n=3 gives three choices")

    scored = client.completions.create(model=model, prompt="今日は", max_tokens=4, temperature=0, logprobs=2)
    lp = scored.choices[0].logprobs
    check(lp is not None and len(lp.token_logprobs) == scored.usage.completion_tokens, "completion logprobs")

    if len(text) >= 4:
        stop = text[2:4]
        cut = client.completions.create(model=model, prompt="吾輩は猫である。", max_tokens=16, temperature=0.8, seed=1,
                                        stop=[stop])
        check(cut.choices[0].text == text[:text.index(stop)], f"stop={stop!r} cuts the text before it")

    if not args.plain:
        messages = [{"role": "system", "content": "丁寧に答えてください。"}, {"role": "user", "content": "日本の首都はどこですか？"}]
        chat = client.chat.completions.create(model=model, messages=messages, max_tokens=32, temperature=0.7, seed=3)
        reply = chat.choices[0].message.content
        check(chat.choices[0].message.role == "assistant", f"chat.completions.create -> {reply!r}")
        chunks = client.chat.completions.create(model=model, messages=messages, max_tokens=32, temperature=0.7, seed=3,
                                                stream=True)
        streamed_reply = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        check(streamed_reply == reply, "streamed chat equals the non-streamed reply")
        with_logprobs = client.chat.completions.create(model=model, messages=messages, max_tokens=4, temperature=0,
                                                       logprobs=True, top_logprobs=2)
        check(len(with_logprobs.choices[0].logprobs.content) == with_logprobs.usage.completion_tokens, "chat logprobs")

    try:
        client.completions.create(model=model, prompt="a", max_tokens=0)
        check(False, "max_tokens=0 is refused")
    except openai.BadRequestError as error:
        check(error.status_code == 400, f"max_tokens=0 -> BadRequestError: {error.message}")

    if args.api_key != "unused":
        wrong = openai.OpenAI(base_url=args.base_url, api_key="wrong-key", max_retries=0)
        try:
            wrong.models.list()
            check(False, "a wrong API key is refused")
        except openai.AuthenticationError as error:
            check(error.status_code == 401, "wrong API key -> AuthenticationError")

    print(f"all checks passed (openai {openai.__version__})")


if __name__ == "__main__":
    main()
