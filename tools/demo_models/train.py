"""Train a demo GPT-NeoX model (transformers GPTNeoXForCausalLM) and export it into Models/.

Stages:
  pretrain  causal LM on the training split of the corpus (corpus.py), one paragraph per document,
            each followed by the model's eos token, packed into fixed windows sampled at random.
  sft       (rinna only) continue from the pre-trained weights on chat-formatted Q&A (sft_data.py),
            loss on the answer tokens and the closing </s> only.
  export    write config.json (classic spelling), generation_config.json and fp16 weights.

Everything that is random is seeded from common.SEED and the step number, so a run that is killed and
resumed (--resume, from the checkpoint in --work) follows the same trajectory. Uses CUDA when present.

  python train.py --model calm --stage pretrain --work /work/demo-train/calm --resume
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

import corpus
from common import CALM_DIR, RINNA_DIR, SEED, RinnaTokenizer, calm_tokenizer
from specs import SPECS, ModelSpec

MODEL_DIRS = {"calm": CALM_DIR, "rinna": RINNA_DIR}


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def encoder_for(model: str):
    if model == "calm":
        tok = calm_tokenizer(CALM_DIR)
        return lambda text: tok.encode(text).ids
    return RinnaTokenizer(RINNA_DIR).encode


def build_model(spec: ModelSpec):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    config = GPTNeoXConfig(**spec.classic_config())
    torch.manual_seed(SEED)
    model = GPTNeoXForCausalLM(config)
    return model


def token_stream(spec: ModelSpec, encode, lines: list[corpus.Line]) -> torch.Tensor:
    ids: list[int] = []
    for line in lines:
        ids.extend(encode(line.text))
        ids.append(spec.eos_id)
    return torch.tensor(ids, dtype=torch.long)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def causal_lm_loss(model, input_ids: torch.Tensor, loss_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean next-token cross entropy; loss_mask[b, t] says whether token t is a target."""
    logits = model(input_ids=input_ids).logits[:, :-1].float()
    targets = input_ids[:, 1:]
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    if loss_mask is None:
        return losses.mean()
    mask = loss_mask[:, 1:].reshape(-1).float()
    return (losses * mask).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def heldout_loss(model, stream: torch.Tensor, context: int, device, max_windows: int = 24) -> float:
    model.eval()
    total, count = 0.0, 0
    for w in range(min(max_windows, (len(stream) - 1) // context)):
        x = stream[w * context: (w + 1) * context + 1].unsqueeze(0).to(device)
        total += causal_lm_loss(model, x).item()
        count += 1
    model.train()
    return total / max(1, count)


def save_checkpoint(path: Path, model, optimizer, step: int, elapsed: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed_s": elapsed}, tmp)
    os.replace(tmp, path)


def train_loop(args, spec: ModelSpec, model, stage: str, total_steps: int, peak_lr: float, warmup: int,
               batch_fn, heldout: torch.Tensor, device) -> None:
    work: Path = args.work
    ckpt = work / f"{stage}.ckpt"
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=peak_lr, betas=(0.9, 0.95), eps=1e-8)
    step, elapsed = 0, 0.0
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed_s"]
        log(f"{stage}: resumed at step {step} ({elapsed:.0f}s so far)")
    model.train()
    t0, tokens, run_loss = time.time(), 0, 0.0
    while step < total_steps:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total_steps, peak_lr, warmup)
        input_ids, loss_mask = batch_fn(step)
        input_ids = input_ids.to(device)
        loss_mask = None if loss_mask is None else loss_mask.to(device)
        loss = causal_lm_loss(model, input_ids, loss_mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens += input_ids.numel()
        run_loss += loss.item()
        if step % args.log_every == 0:
            now = time.time()
            log(f"{stage} step {step}/{total_steps} loss {run_loss / args.log_every:.4f} "
                f"lr {optimizer.param_groups[0]['lr']:.2e} {tokens / (now - t0):.0f} tok/s")
            run_loss = 0.0
        if step % args.eval_every == 0 or step == total_steps:
            log(f"{stage} step {step} held-out loss {heldout_loss(model, heldout, spec.context, device):.4f}")
        if step % args.ckpt_every == 0 or step == total_steps:
            now = time.time()
            elapsed += now - t0
            t0, tokens = now, 0
            save_checkpoint(ckpt, model, optimizer, step, elapsed)
    log(f"{stage}: done, {total_steps} steps, {elapsed:.0f}s of training")
    (work / f"{stage}.time.json").write_text(json.dumps({"steps": total_steps, "elapsed_s": round(elapsed)}))


def pretrain(args, spec: ModelSpec, device) -> None:
    split = corpus.load_split(args.corpus)
    encode = encoder_for(args.model)
    train_ids = token_stream(spec, encode, split.train)
    heldout = token_stream(spec, encode, split.heldout)
    log(f"pretrain: {len(train_ids)} training tokens, {len(heldout)} held-out tokens; "
        f"{spec.steps} steps x {spec.batch} x {spec.context} = "
        f"{spec.steps * spec.batch * spec.context / len(train_ids):.1f} epochs")
    model = build_model(spec).to(device)
    log(f"parameters: {sum(p.numel() for p in model.parameters())}")

    def batch_fn(step: int):
        g = torch.Generator().manual_seed(SEED * 1000 + step)
        starts = torch.randint(0, len(train_ids) - spec.context - 1, (spec.batch,), generator=g)
        return torch.stack([train_ids[s: s + spec.context + 1] for s in starts.tolist()]), None

    train_loop(args, spec, model, "pretrain", spec.steps, spec.lr, spec.warmup, batch_fn, heldout, device)


def sft(args, spec: ModelSpec, device) -> None:
    import sft_data

    split = corpus.load_split(args.corpus)
    tok = RinnaTokenizer(RINNA_DIR)
    samples = sft_data.build_samples(split, corpus.load_faq(args.corpus))
    encoded = [sft_data.encode_sample(tok, s, spec.context) for s in samples]
    heldout = token_stream(spec, tok.encode, split.heldout)
    log(f"sft: {len(encoded)} samples ({sft_data.summary(samples)}), "
        f"{sum(len(i) for i, _ in encoded)} tokens")
    model = build_model(spec).to(device)
    pre = torch.load(args.work / "pretrain.ckpt", map_location=device)
    model.load_state_dict(pre["model"])

    def batch_fn(step: int):
        g = torch.Generator().manual_seed(SEED * 1000 + 500_000 + step)
        picks = torch.randint(0, len(encoded), (spec.sft_batch,), generator=g).tolist()
        width = max(len(encoded[i][0]) for i in picks)
        ids = torch.full((len(picks), width), tok.pad_id, dtype=torch.long)
        mask = torch.zeros((len(picks), width), dtype=torch.bool)
        for row, i in enumerate(picks):
            sample_ids, sample_mask = encoded[i]
            ids[row, : len(sample_ids)] = torch.tensor(sample_ids)
            mask[row, : len(sample_mask)] = torch.tensor(sample_mask)
        return ids, mask

    train_loop(args, spec, model, "sft", spec.sft_steps, spec.sft_lr, 50, batch_fn, heldout, device)


def export(args, spec: ModelSpec) -> None:
    """Write the last stage's weights as fp16 in the real checkpoints' format, plus the configs."""
    stage = "sft" if spec.sft_steps else "pretrain"
    state = torch.load(args.work / f"{stage}.ckpt", map_location="cpu")["model"]
    model = build_model(spec)
    model.load_state_dict(state)
    # An OrderedDict, like the state_dict pickles in the real open-calm checkpoints.
    weights = OrderedDict((k, v.detach().to(torch.float16).contiguous()) for k, v in model.state_dict().items())
    out = MODEL_DIRS[args.model]
    if spec.weights_file == "pytorch_model.bin":
        torch.save(weights, out / "pytorch_model.bin")  # torch's zip format, as open-calm ships
    else:
        from safetensors.torch import save_file

        save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "model.safetensors").chmod(0o644)
    (out / "config.json").write_text(json.dumps(spec.classic_config(), indent=2) + "\n", encoding="utf-8")
    (out / "generation_config.json").write_text(json.dumps({
        "_from_model_config": True, "bos_token_id": spec.bos_id, "eos_token_id": spec.eos_id,
    }, indent=2) + "\n", encoding="utf-8")
    log(f"exported {out} ({sum(v.numel() for v in weights.values())} parameters)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SPECS), required=True)
    ap.add_argument("--stage", choices=["pretrain", "sft", "export", "all"], default="all")
    ap.add_argument("--work", type=Path, required=True, help="checkpoints and logs (outside the repository)")
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS_DIR)
    ap.add_argument("--resume", action="store_true", help="continue from the stage's checkpoint in --work")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, help="override the spec's pre-training steps (smoke tests)")
    ap.add_argument("--sft-steps", type=int, help="override the spec's SFT steps (smoke tests)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--ckpt-every", type=int, default=100)
    args = ap.parse_args()

    spec = SPECS[args.model]
    if args.steps:
        spec = replace(spec, steps=args.steps)
    if args.sft_steps and spec.sft_steps:
        spec = replace(spec, sft_steps=args.sft_steps)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.work.mkdir(parents=True, exist_ok=True)
    log(f"{spec.name} on {device}, torch {torch.__version__}, {args.threads} threads; argv: {' '.join(sys.argv)}")
    stages = ["pretrain", "sft", "export"] if args.stage == "all" else [args.stage]
    for stage in stages:
        if stage == "pretrain":
            pretrain(args, spec, device)
        elif stage == "sft" and spec.sft_steps:
            sft(args, spec, device)
        elif stage == "export":
            export(args, spec)


if __name__ == "__main__":
    main()
