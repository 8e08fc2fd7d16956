"""Write Tests/Fixtures/demo/greedy_reference.json: what transformers computes for the demo models.

For each model and each of the three tasks' prompts (base prompt for demo-calm, chat-formatted
instruction for demo-rinna-sft): the prompt, its input ids, the 32-token greedy continuation
(do_sample=False, no repetition penalty; generation stops early only at the model's eos), the decoded
text, the top-10 logits at the prompt's last position, and for each greedy step the gap between the
best and second-best logit (a Swift port may legitimately flip a step whose gap is ~1e-5).

All arithmetic is float32 on the CPU, from the fp16 weights as stored. Tokenization: demo-calm through
AutoTokenizer (tokenizers' tokenizer.json); demo-rinna-sft through sentencepiece, which is what rinna's
`use_fast=False` meant (see common.RinnaTokenizer).

  python make_reference.py            # rewrite the fixture
"""

from __future__ import annotations

import json
import platform
import re

import torch

from common import CALM_DIR, REFERENCE_JSON, REPO_ROOT, RINNA_DIR, TASKS, RinnaTokenizer, rinna_chat_prompt
from specs import SPECS

GREEDY_TOKENS = 32
TOP_K = 10


def _model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@torch.no_grad()
def _case(m, task: str, prompt: str, input_ids: list[int], eos_id: int, decode) -> dict:
    x = torch.tensor([input_ids])
    last = m(input_ids=x).logits[0, -1].float()
    top = torch.topk(last, TOP_K)
    out = m.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=GREEDY_TOKENS,
                     repetition_penalty=1.0, output_scores=True, return_dict_in_generate=True,
                     pad_token_id=eos_id, eos_token_id=eos_id)
    new_ids = out.sequences[0, x.shape[1]:].tolist()
    margins = []
    for scores in out.scores:
        best2 = torch.topk(scores[0].float(), 2).values
        margins.append(round(float(best2[0] - best2[1]), 6))
    return {
        "task": task,
        "prompt": prompt,
        "input_ids": input_ids,
        "greedy_ids": new_ids,
        "stopped_at_eos": bool(new_ids) and new_ids[-1] == eos_id,
        "greedy_text": decode(new_ids),
        "step_margins": margins,
        "last_logits_top10": {"ids": top.indices.tolist(), "values": [float(v) for v in top.values]},
    }


def build_reference() -> dict:
    import transformers
    from transformers import AutoTokenizer

    models = []
    calm_tok = AutoTokenizer.from_pretrained(CALM_DIR)
    m = _model(CALM_DIR)
    models.append({
        "name": "demo-calm", "path": "Models/demo-calm",
        "tokenization": "tokenizer.json via AutoTokenizer (GPTNeoXTokenizer), add_special_tokens=False",
        "decoding": "tokenizer.decode(greedy_ids, skip_special_tokens=True)",
        "eos_token_id": SPECS["calm"].eos_id,
        "cases": [_case(m, task, p["base"], calm_tok.encode(p["base"], add_special_tokens=False),
                        SPECS["calm"].eos_id, lambda ids: calm_tok.decode(ids, skip_special_tokens=True))
                  for task, p in TASKS.items()],
    })
    rinna_tok = RinnaTokenizer(RINNA_DIR)
    m = _model(RINNA_DIR)
    models.append({
        "name": "demo-rinna-sft", "path": "Models/demo-rinna-sft",
        "tokenization": "spiece.model via sentencepiece encode (= slow T5Tokenizer, add_special_tokens=False)",
        "decoding": "sentencepiece decode of the ids before a final </s>, then '</s>' appended if it was generated",
        "eos_token_id": SPECS["rinna"].eos_id,
        "cases": [_case(m, task, prompt, rinna_tok.encode(prompt), SPECS["rinna"].eos_id, rinna_tok.decode)
                  for task, p in TASKS.items()
                  for prompt in [rinna_chat_prompt([("ユーザー", p["instruction"])])]],
    })
    return {
        "generated_by": "tools/demo_models/make_reference.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0],
                     "python": platform.python_version()},
        "arithmetic": "float32 on CPU from the stored fp16 weights",
        "greedy": {"max_new_tokens": GREEDY_TOKENS, "do_sample": False, "repetition_penalty": 1.0},
        "models": models,
    }


def dump(reference: dict) -> str:
    """Indented JSON with every list of numbers on one line, so the fixture stays readable and diffable."""
    text = json.dumps(reference, ensure_ascii=False, indent=1)
    return re.sub(r"\[\s*([-+\d.eE,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]",
                  text) + "\n"


if __name__ == "__main__":
    torch.set_num_threads(2)
    REFERENCE_JSON.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE_JSON.write_text(dump(build_reference()), encoding="utf-8")
    print("wrote", REFERENCE_JSON.relative_to(REPO_ROOT))
