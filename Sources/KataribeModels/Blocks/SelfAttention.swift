import KataribeTensor

/// The projections of a Llama-style attention layer (separate q, k, v, o; optional per-head
/// q/k RMSNorm), as the Llama and Gemma families store them.
struct SelfAttentionWeights: Sendable {
    let query: LinearLayer      // [heads·d, H]
    let key: LinearLayer        // [kvHeads·d, H]
    let value: LinearLayer      // [kvHeads·d, H]
    let output: LinearLayer     // [H, heads·d]
    let queryNorm: RMSNorm?
    let keyNorm: RMSNorm?
}

/// `down(act(gate(x)) ⊙ up(x))`, the gated MLP of the Llama and Gemma families.
struct GatedMLPWeights: Sendable {
    let gate: LinearLayer       // [I, H]
    let up: LinearLayer         // [I, H]
    let down: LinearLayer       // [H, I]
}

extension WeightTaker {
    /// `PREFIXself_attn.{q,k,v,o}_proj`, plus `q_norm`/`k_norm` (per-head RMSNorm) when `headNorm`
    /// gives their epsilon and whether they store w as an offset from one (Gemma).
    mutating func selfAttention(_ prefix: String, hidden h: Int, heads: Int, kvHeads: Int, headDim d: Int,
                                qkvBias: Bool, outputBias: Bool, headNorm: (epsilon: Float, unitOffset: Bool)?)
        throws(ModelError) -> SelfAttentionWeights {
        let p = prefix + "self_attn."
        var queryNorm: RMSNorm?, keyNorm: RMSNorm?
        if let headNorm {
            queryNorm = RMSNorm(weight: try vector(p + "q_norm.weight", d), epsilon: headNorm.epsilon, unitOffset: headNorm.unitOffset)
            keyNorm = RMSNorm(weight: try vector(p + "k_norm.weight", d), epsilon: headNorm.epsilon, unitOffset: headNorm.unitOffset)
        }
        return SelfAttentionWeights(
            query: try linear(p + "q_proj", out: heads * d, in: h, bias: qkvBias),
            key: try linear(p + "k_proj", out: kvHeads * d, in: h, bias: qkvBias),
            value: try linear(p + "v_proj", out: kvHeads * d, in: h, bias: qkvBias),
            output: try linear(p + "o_proj", out: h, in: heads * d, bias: outputBias),
            queryNorm: queryNorm, keyNorm: keyNorm)
    }

    /// `PREFIXmlp.{gate,up,down}_proj`.
    mutating func gatedMLP(_ prefix: String, hidden h: Int, intermediate i: Int, bias: Bool) throws(ModelError) -> GatedMLPWeights {
        let p = prefix + "mlp."
        return GatedMLPWeights(gate: try linear(p + "gate_proj", out: i, in: h, bias: bias),
                               up: try linear(p + "up_proj", out: i, in: h, bias: bias),
                               down: try linear(p + "down_proj", out: h, in: i, bias: bias))
    }
}

/// Scratch rows the self-attention and gated-MLP blocks work in.
struct DecoderBlockScratch {
    let query, key, value, attention, gate, up: FloatRows

    init(arena: ScratchArena, heads: Int, kvHeads: Int, headDim: Int, intermediate: Int) {
        query = arena.rows(width: heads * headDim)
        key = arena.rows(width: kvHeads * headDim)
        value = arena.rows(width: kvHeads * headDim)
        attention = arena.rows(width: heads * headDim)
        gate = arena.rows(width: intermediate)
        up = arena.rows(width: intermediate)
    }
}

extension CPUBackend {
    /// One attention layer on `normed` rows ([n, H]) into `output` ([n, H]):
    ///   q, k, v = normed·W_qᵀ, normed·W_kᵀ, normed·W_vᵀ (+ biases)
    ///   q, k ← per-head RMSNorm (when present), then rotary with this step's tables
    ///   k, v → each row's cache at its position;  o = attention(q, cache);  output = o·W_oᵀ (+ b)
    func selfAttention(_ weights: SelfAttentionWeights, _ attention: Attention, rotary: RotaryEmbedding, cos: FloatRows,
                       sin: FloatRows, normed: FloatRows, step: ForwardStep, layer: Int,
                       scratch s: DecoderBlockScratch, into output: FloatRows) {
        let heads = attention.queryHeads, kvHeads = attention.kvHeads, d = attention.headDim, n = step.count
        linear(weights.query, normed, rows: n, into: s.query)                           // [n, heads·d]
        linear(weights.key, normed, rows: n, into: s.key)                               // [n, kv·d]
        linear(weights.value, normed, rows: n, into: s.value)                           // [n, kv·d]
        if let queryNorm = weights.queryNorm, let keyNorm = weights.keyNorm {
            queryNorm(s.query.base, rows: n * heads, width: d, into: s.query.base)
            keyNorm(s.key.base, rows: n * kvHeads, width: d, into: s.key.base)
        }
        for i in 0..<n {
            let cosRow = cos.row(i), sinRow = sin.row(i)
            for head in 0..<heads { rotary.rotate(s.query.row(i) + head * d, cos: cosRow, sin: sinRow) }
            for head in 0..<kvHeads {
                let k = s.key.row(i) + head * d
                rotary.rotate(k, cos: cosRow, sin: sinRow)
                step.caches[i].store(layer: layer, kvHead: head, position: step.positions[i], key: k, value: s.value.row(i) + head * d)
            }
        }
        let queries = Attention.Queries(base: s.query.base, rowStride: heads * d, headStride: d)
        attend(attention, queries, step: step, layer: layer, into: s.attention)
        linear(weights.output, s.attention, rows: n, into: output)                      // [n, H]
    }

    /// output = down(act(gate(normed)) ⊙ up(normed)).
    func gatedMLP(_ weights: GatedMLPWeights, activation: Activation, normed: FloatRows, rows n: Int,
                  scratch s: DecoderBlockScratch, into output: FloatRows) {
        linear(weights.gate, normed, rows: n, into: s.gate)                             // [n, I]
        linear(weights.up, normed, rows: n, into: s.up)                                 // [n, I]
        activate(activation, s.gate, rows: n)
        let gate = s.gate, up = s.up
        parallelism.forEachChunk(of: n * gate.width, minimumChunk: 32_768) { range in
            for i in range { gate.base[i] = gate.base[i] * up.base[i] }
        }
        linear(weights.down, s.gate, rows: n, into: output)                             // [n, H]
    }
}
