"""Architecture and training schedule of each demo model, and their classic-spelling config.json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    rotary_pct: float
    context: int  # training window and max_position_embeddings
    bos_id: int
    eos_id: int
    weights_file: str  # pytorch_model.bin (torch zip) or model.safetensors
    # pre-training on the corpus
    steps: int
    batch: int
    lr: float
    warmup: int
    # instruction tuning (0 steps: none)
    sft_steps: int = 0
    sft_batch: int = 0
    sft_lr: float = 0.0

    @property
    def intermediate_size(self) -> int:
        return 4 * self.hidden_size

    def classic_config(self) -> dict:
        """config.json as cyberagent/open-calm-* and rinna/japanese-gpt-neox-* spell it (transformers 4.2x):
        rotary_pct / rotary_emb_base rather than transformers 5's rope_parameters."""
        return {
            "architectures": ["GPTNeoXForCausalLM"],
            "bos_token_id": self.bos_id,
            "eos_token_id": self.eos_id,
            "hidden_act": "gelu",
            "hidden_size": self.hidden_size,
            "initializer_range": 0.02,
            "intermediate_size": self.intermediate_size,
            "layer_norm_eps": 1e-05,
            "max_position_embeddings": self.context,
            "model_type": "gpt_neox",
            "num_attention_heads": self.num_heads,
            "num_hidden_layers": self.num_layers,
            "rotary_emb_base": 10000,
            "rotary_pct": self.rotary_pct,
            "tie_word_embeddings": False,
            "torch_dtype": "float16",
            "use_cache": True,
            "use_parallel_residual": False,
            "vocab_size": self.vocab_size,
        }


SPECS: dict[str, ModelSpec] = {
    # open-calm: byte-level BPE, full rotary, pytorch_model.bin, eos = bos = <|endoftext|> = 0.
    "calm": ModelSpec(
        name="demo-calm", vocab_size=6400, hidden_size=256, num_layers=4, num_heads=4, rotary_pct=1.0,
        context=256, bos_id=0, eos_id=0, weights_file="pytorch_model.bin",
        steps=800, batch=8, lr=2e-3, warmup=60,
    ),
    # rinna: SentencePiece unigram, <s>=2 </s>=3, model.safetensors; rotary on a quarter of each head
    # (GPT-NeoX's default, unlike rinna's 1.0) so that both rotary layouts are covered.
    "rinna": ModelSpec(
        name="demo-rinna-sft", vocab_size=6400, hidden_size=256, num_layers=4, num_heads=8, rotary_pct=0.25,
        context=256, bos_id=2, eos_id=3, weights_file="model.safetensors",
        steps=700, batch=8, lr=2e-3, warmup=60,
        sft_steps=250, sft_batch=8, sft_lr=5e-4,
    ),
}
