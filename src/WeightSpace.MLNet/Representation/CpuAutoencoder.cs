using System.Runtime.CompilerServices;

namespace WeightSpace.MLNet;

/// <summary>
/// One pre-norm block in C# (the same equations as <see cref="Block"/> without dropout): x += proj(attention(LN1(x))), then
/// x += down(relu(up(LN2(x)))), with every activation backward needs kept in its <see cref="Tape"/>.
/// </summary>
internal sealed unsafe class CpuBlock
{
    private readonly CpuLayerNorm _norm1, _norm2;
    private readonly CpuLinear _qkv, _proj, _up, _down;
    private readonly CpuAttention _attention;
    private readonly int _d, _tokens;

    public CpuBlock(FlatParameters p, string name, GradientLayout g, int d, int heads, int hidden, int tokens)
    {
        _d = d;
        _tokens = tokens;
        _norm1 = new CpuLayerNorm(p, name + ".norm1", g, d);
        _qkv = new CpuLinear(p, name + ".attention.qkv", g, d, 3 * d);
        _proj = new CpuLinear(p, name + ".attention.proj", g, d, d);
        _norm2 = new CpuLayerNorm(p, name + ".norm2", g, d);
        _up = new CpuLinear(p, name + ".feedForward.up", g, d, hidden);
        _down = new CpuLinear(p, name + ".feedForward.down", g, hidden, d);
        _attention = new CpuAttention(d, heads, tokens);
    }

    public IEnumerable<CpuLinear> Linears => new[] { _qkv, _proj, _up, _down };
    public int AttentionScratch => _attention.ScratchSize;
    public int HiddenWidth => _up.OutPadded;
    public int QkvWidth => _qkv.OutPadded;

    /// <summary>One block's activations for up to a number of sequences.</summary>
    public sealed class Tape
    {
        public Tape(CpuBlock b, int sequences)
        {
            long rows = (long)Pad.Rows(sequences) * b._tokens + PackedLinear.Tile, ds = Pad.Width(b._d);
            Input = new Pinned(rows * ds); H1 = new Pinned(rows * ds); Attention = new Pinned(rows * ds); Middle = new Pinned(rows * ds); H2 = new Pinned(rows * ds);
            Qkv = new Pinned(rows * b._qkv.OutPadded + PackedLinear.Panel);
            Hidden = new Pinned(rows * b._up.OutPadded);
            Mean1 = new Pinned(rows); Std1 = new Pinned(rows); Mean2 = new Pinned(rows); Std2 = new Pinned(rows);
            Probabilities = new Pinned((long)sequences * b._attention.ProbabilitiesPerSequence);
        }

        public Pinned Input, H1, Qkv, Attention, Middle, H2, Hidden, Mean1, Std1, Mean2, Std2, Probabilities;
    }

    /// <summary>The block on the residual stream <paramref name="x"/> (n sequences of the block's tokens, row stride <paramref name="stride"/>).</summary>
    public void Forward(float* x, int stride, int n, Tape tape, Pinned values, float* scratch)
    {
        int rows = n * _tokens;
        Ops.Copy(x, tape.Input.P, rows * stride);
        _norm1.Forward(x, tape.H1.P, rows, stride, tape.Mean1.P, tape.Std1.P, values);
        _qkv.Forward(tape.H1.P, stride, rows, tape.Qkv.P, _qkv.OutPadded, LinearOutput.Store);
        _attention.Forward(tape.Qkv.P, _qkv.OutPadded, tape.Attention.P, stride, n, tape.Probabilities.P, scratch);
        _proj.Forward(tape.Attention.P, stride, rows, x, stride, LinearOutput.Accumulate);
        Ops.Copy(x, tape.Middle.P, rows * stride);
        _norm2.Forward(x, tape.H2.P, rows, stride, tape.Mean2.P, tape.Std2.P, values);
        _up.Forward(tape.H2.P, stride, rows, tape.Hidden.P, _up.OutPadded, LinearOutput.Relu);
        _down.Forward(tape.Hidden.P, _up.OutPadded, rows, x, stride, LinearOutput.Accumulate);
    }

    /// <summary>From the gradient of the block's output in <paramref name="dx"/> to the gradient of its input (in place); parameter gradients into the arena.</summary>
    public void Backward(float* dx, int stride, int n, Tape tape, Pinned values, float* arena, BackwardScratch s)
    {
        int rows = n * _tokens, hidden = _up.OutPadded, qkv = _qkv.OutPadded;
        // x_out = x_mid + down(relu(up(LN2(x_mid))))
        _down.Backward(tape.Hidden.P, hidden, dx, stride, rows, s.Hidden.P, hidden, LinearOutput.Store, arena);
        Ops.ZeroWhereNotPositive(s.Hidden.P, tape.Hidden.P, rows * hidden);   // relu'
        _up.Backward(tape.H2.P, stride, s.Hidden.P, hidden, rows, s.Normed.P, stride, LinearOutput.Store, arena);
        _norm2.Backward(tape.Middle.P, s.Normed.P, dx, rows, stride, tape.Mean2.P, tape.Std2.P, values, arena);
        // x_mid = x_in + proj(attention(LN1(x_in)))
        _proj.Backward(tape.Attention.P, stride, dx, stride, rows, s.Attention.P, stride, LinearOutput.Store, arena);
        _attention.Backward(tape.Qkv.P, qkv, s.Attention.P, stride, s.Qkv.P, n, tape.Probabilities.P, s.AttentionScratch.P);
        _qkv.Backward(tape.H1.P, stride, s.Qkv.P, qkv, rows, s.Normed.P, stride, LinearOutput.Store, arena);
        _norm1.Backward(tape.Input.P, s.Normed.P, dx, rows, stride, tape.Mean1.P, tape.Std1.P, values, arena);
    }
}

/// <summary>Buffers of one slot's backward pass through an encoder (and a decoder) for up to a number of rows.</summary>
internal sealed class BackwardScratch
{
    public BackwardScratch(int rows, CpuEncoder encoder, CpuDecoder? decoder, int d)
    {
        var blocks = encoder.Blocks.Concat(decoder?.Blocks ?? Array.Empty<CpuBlock>()).ToList();
        int sequence = Math.Max(encoder.Sequence, decoder?.Sequence ?? 0);
        long tokenRows = (long)Pad.Rows(rows) * sequence + PackedLinear.Tile, ds = Pad.Width(d);
        Stream = new Pinned(tokenRows * ds);
        Hidden = new Pinned(tokenRows * blocks.Max(b => b.HiddenWidth));
        Normed = new Pinned(tokenRows * ds);
        Attention = new Pinned(tokenRows * ds + PackedLinear.Panel);
        Qkv = new Pinned(tokenRows * blocks.Max(b => b.QkvWidth));
        AttentionScratch = new Pinned(blocks.Max(b => b.AttentionScratch));
        Flat = new Pinned(encoder.FlatSize(rows));
    }

    public Pinned Stream, Hidden, Normed, Attention, Qkv, AttentionScratch, Flat;
}

/// <summary>
/// The encoder of <see cref="TransformerAutoencoder"/> in C#: each token group's values (and their statistics) embedded by
/// its Linear, the compression token prepended, positions added, N blocks, latent = tanh(Linear(token 0)) — or of the
/// flattened sequence without a compression token. Forward keeps what backward needs in a <see cref="Tape"/>.
/// </summary>
internal sealed unsafe class CpuEncoder
{
    private const float StatisticsFloor = 1e-6f;   // TorchScalars.Tiny in TokenEmbedding
    private readonly IReadOnlyList<TokenGroup> _groups;
    private readonly CpuLinear[] _embed;
    private readonly CpuBlock[] _blocks;
    private readonly CpuLinear _toLatent;
    private readonly bool _statistics;
    private readonly int _compression, _positions, _gradCompression, _gradPositions, _d, _ds, _tokens, _p;

    public CpuEncoder(FlatParameters p, string prefix, GradientLayout g, WeightTokenizer tokenizer, WeightEmbeddingOptions o)
    {
        _groups = tokenizer.Groups;
        _d = o.ModelDim;
        _ds = Pad.Width(_d);
        _statistics = o.TokenStatistics;
        _p = tokenizer.Layout.ParameterCount;
        Sequence = tokenizer.TokenCount + (o.CompressionToken ? 1 : 0);
        _tokens = tokenizer.TokenCount;
        _embed = _groups.Select((gr, i) => new CpuLinear(p, $"{prefix}tokens.embed.{i}", g, gr.Size + (_statistics ? TokenEmbedding.StatisticsPerToken : 0), _d)).ToArray();
        _compression = o.CompressionToken ? p[prefix + "compression"].Offset : -1;
        _gradCompression = o.CompressionToken ? g.Add(_compression, 1, _d, 1, _ds) : -1;
        _positions = p[prefix + "encoderPositions"].Offset;
        _gradPositions = g.Add(_positions, Sequence, _d, Sequence, _ds);
        _blocks = Enumerable.Range(0, o.Blocks).Select(i => new CpuBlock(p, $"{prefix}encoder.blocks.{i}", g, _d, o.Heads, o.FeedForwardDim, Sequence)).ToArray();
        _toLatent = new CpuLinear(p, prefix + "toLatent", g, o.CompressionToken ? _d : _d * Sequence, o.LatentDim);
        LatentDim = o.LatentDim;
    }

    public int Sequence { get; }
    public int LatentDim { get; }
    /// <summary>Row stride of the latents in a tape.</summary>
    public int LatentStride => _toLatent.OutPadded;
    public IEnumerable<CpuLinear> Linears => _embed.Concat(_blocks.SelectMany(b => b.Linears)).Append(_toLatent);
    public IReadOnlyList<CpuBlock> Blocks => _blocks;

    /// <summary>Values of the flattened sequences (no compression token) for a number of rows.</summary>
    public long FlatSize(int rows) => _compression < 0 ? (long)Pad.Rows(rows) * Pad.Width(_d * Sequence) : 1;

    /// <summary>An encoder pass's activations for up to a number of rows.</summary>
    public sealed class Tape
    {
        public Tape(CpuEncoder e, int rows)
        {
            Rows = rows;
            long tokenRows = (long)Pad.Rows(rows) * e.Sequence + PackedLinear.Tile;
            Tokens = e._groups.Select((g, i) => new Pinned((long)Pad.Rows(rows * g.Count) * e._embed[i].In + PackedLinear.Panel)).ToArray();
            Embedded = new Pinned((long)Pad.Rows(rows * e._groups.Max(g => g.Count)) * e._ds);
            X = new Pinned(tokenRows * e._ds);
            Blocks = e._blocks.Select(b => new CpuBlock.Tape(b, rows)).ToArray();
            Flat = new Pinned(e.FlatSize(rows));
            Latent = new Pinned((long)Pad.Rows(rows) * e._toLatent.OutPadded);
            Scratch = new Pinned(e._blocks.Max(b => b.AttentionScratch));
        }

        public int Rows { get; }
        public Pinned[] Tokens;
        public Pinned Embedded, X, Flat, Latent, Scratch;
        public CpuBlock.Tape[] Blocks;
    }

    /// <summary>
    /// Latents of <paramref name="n"/> rows of normalised weights (row stride = the layout's parameters) into the tape's
    /// <see cref="Tape.Latent"/> (row stride <see cref="LatentStride"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(float* weights, int n, Tape tape, Pinned values)
    {
        int t = Sequence, d = _d, ds = _ds, offset = _compression < 0 ? 0 : 1;
        float* x = tape.X.P, emb = tape.Embedded.P;
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            int k = _embed[g].In;
            float* tok = tape.Tokens[g].P;
            fixed (int* indices = group.Indices)
                for (int r = 0; r < n; r++)
                {
                    float* source = weights + (long)r * _p;
                    for (int u = 0; u < group.Count; u++)
                    {
                        float* row = tok + (r * group.Count + u) * k;
                        int* index = indices + u * group.Size;
                        for (int i = 0; i < group.Size; i++) row[i] = source[index[i]];
                        if (_statistics) TokenStatistics(row, group.Size);
                    }
                }
            _embed[g].Forward(tok, k, n * group.Count, emb, ds, LinearOutput.Store);
            for (int r = 0; r < n; r++) Ops.Copy(emb + r * group.Count * ds, x + (r * t + offset) * ds, group.Count * ds);
            offset += group.Count;
        }
        float* positions = values.P + _positions;
        for (int r = 0; r < n; r++)
        {
            if (_compression >= 0) Ops.Copy(values.P + _compression, x + r * t * ds, d);
            for (int i = 0; i < t; i++) Ops.Add(x + (r * t + i) * ds, positions + i * d, d);
        }
        for (int b = 0; b < _blocks.Length; b++) _blocks[b].Forward(x, ds, n, tape.Blocks[b], values, tape.Scratch.P);
        float* latent = tape.Latent.P;
        int ls = _toLatent.OutPadded;
        if (_compression >= 0) _toLatent.Forward(x, t * ds, n, latent, ls, LinearOutput.Store);
        else
        {
            int fs = Pad.Width(d * t);
            for (int r = 0; r < n; r++)
                for (int i = 0; i < t; i++) Ops.Copy(x + (r * t + i) * ds, tape.Flat.P + r * fs + i * d, d);
            _toLatent.Forward(tape.Flat.P, fs, n, latent, ls, LinearOutput.Store);
        }
        for (int r = 0; r < n; r++)
        {
            var row = new Span<float>(latent + r * ls, LatentDim);
            System.Numerics.Tensors.TensorPrimitives.Tanh(row, row);
        }
    }

    /// <summary>Parameter gradients of the pass in <paramref name="tape"/> given the gradient of its latents (row stride <see cref="LatentStride"/>; overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(float* dLatent, int n, Tape tape, Pinned values, float* arena, BackwardScratch s)
    {
        int t = Sequence, d = _d, ds = _ds, ls = _toLatent.OutPadded;
        float* z = tape.Latent.P, x = tape.X.P;
        for (int r = 0; r < n; r++)
            for (int l = 0; l < LatentDim; l++) { float zl = z[r * ls + l]; dLatent[r * ls + l] *= 1 - zl * zl; }
        float* dx = s.Stream.P;   // the gradient of the residual stream, from the last block's output back to the tokens
        new Span<float>(dx, (Pad.Rows(n) * t + PackedLinear.Tile) * ds).Clear();
        if (_compression >= 0) _toLatent.Backward(x, t * ds, dLatent, ls, n, dx, t * ds, LinearOutput.Store, arena);
        else
        {
            int fs = Pad.Width(d * t);
            _toLatent.Backward(tape.Flat.P, fs, dLatent, ls, n, s.Flat.P, fs, LinearOutput.Store, arena);
            for (int r = 0; r < n; r++)
                for (int i = 0; i < t; i++) Ops.Copy(s.Flat.P + r * fs + i * d, dx + (r * t + i) * ds, d);
        }
        for (int b = _blocks.Length - 1; b >= 0; b--) _blocks[b].Backward(dx, ds, n, tape.Blocks[b], values, arena, s);
        for (int r = 0; r < n; r++)
        {
            if (_compression >= 0) Ops.Add(arena + _gradCompression, dx + r * t * ds, d);
            for (int i = 0; i < t; i++) Ops.Add(arena + _gradPositions + i * ds, dx + (r * t + i) * ds, d);
        }
        int offset = _compression < 0 ? 0 : 1;
        float* demb = tape.Embedded.P;
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            for (int r = 0; r < n; r++) Ops.Copy(dx + (r * t + offset) * ds, demb + r * group.Count * ds, group.Count * ds);
            _embed[g].Backward(tape.Tokens[g].P, _embed[g].In, demb, ds, n * group.Count, null, 0, LinearOutput.Store, arena);
            offset += group.Count;
        }
    }

    /// <summary>The three values TokenEmbedding appends to a token of <paramref name="size"/> values: mean, log mean square, log max |w|.</summary>
    private static void TokenStatistics(float* token, int size)
    {
        float sum = 0, squares = 0, largest = 0;
        for (int i = 0; i < size; i++)
        {
            float v = token[i];
            sum += v;
            squares += v * v;
            largest = MathF.Max(largest, MathF.Abs(v));
        }
        token[size] = sum / size;
        token[size + 1] = MathF.Log(squares / size + StatisticsFloor);
        token[size + 2] = MathF.Log(largest + StatisticsFloor);
    }
}

/// <summary>
/// The decoder of <see cref="TransformerAutoencoder"/> in C#: Linear(latent → d·T), its own positions, N blocks, each group's
/// Linear(d → k) back to the token values, every value to its place in the layout.
/// </summary>
internal sealed unsafe class CpuDecoder
{
    private readonly IReadOnlyList<TokenGroup> _groups;
    private readonly CpuLinear _fromLatent;
    private readonly CpuBlock[] _blocks;
    private readonly CpuLinear[] _readout;
    private readonly int _positions, _gradPositions, _d, _ds, _t, _p;

    public CpuDecoder(FlatParameters p, GradientLayout g, WeightTokenizer tokenizer, WeightEmbeddingOptions o)
    {
        _groups = tokenizer.Groups;
        _d = o.ModelDim;
        _ds = Pad.Width(_d);
        _t = tokenizer.TokenCount;
        _p = tokenizer.Layout.ParameterCount;
        _fromLatent = new CpuLinear(p, "fromLatent", g, o.LatentDim, _d * _t);
        _positions = p["decoderPositions"].Offset;
        _gradPositions = g.Add(_positions, _t, _d, _t, _ds);
        _blocks = Enumerable.Range(0, o.Blocks).Select(i => new CpuBlock(p, $"decoder.blocks.{i}", g, _d, o.Heads, o.FeedForwardDim, _t)).ToArray();
        _readout = _groups.Select((gr, i) => new CpuLinear(p, $"readout.readout.{i}", g, _d, gr.Size)).ToArray();
    }

    public IEnumerable<CpuLinear> Linears => _blocks.SelectMany(b => b.Linears).Append(_fromLatent).Concat(_readout);
    public IReadOnlyList<CpuBlock> Blocks => _blocks;
    public int Sequence => _t;


    /// <summary>A decoder pass's activations for up to a number of rows.</summary>
    public sealed class Tape
    {
        public Tape(CpuDecoder e, int rows)
        {
            long tokenRows = (long)Pad.Rows(rows) * e._t + PackedLinear.Tile;
            First = new Pinned((long)Pad.Rows(rows) * e._fromLatent.OutPadded);
            X = new Pinned(tokenRows * e._ds);
            Blocks = e._blocks.Select(b => new CpuBlock.Tape(b, rows)).ToArray();
            Gathered = e._groups.Select(g => new Pinned((long)Pad.Rows(rows * g.Count) * e._ds)).ToArray();
            Output = new Pinned((long)Pad.Rows(rows * e._groups.Max(g => g.Count)) * e._readout.Max(r => r.OutPadded));
            Reconstruction = new Pinned((long)rows * e._p);
            Scratch = new Pinned(e._blocks.Max(b => b.AttentionScratch));
        }

        public Pinned First, X, Output, Reconstruction, Scratch;
        public Pinned[] Gathered;
        public CpuBlock.Tape[] Blocks;
    }

    /// <summary>The reconstruction (normalised weights, n × parameters) of <paramref name="n"/> latents (row stride <paramref name="latentStride"/>) into the tape's <see cref="Tape.Reconstruction"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(float* latent, int latentStride, int n, Tape tape, Pinned values)
    {
        int t = _t, d = _d, ds = _ds, fs = _fromLatent.OutPadded;
        float* x = tape.X.P, first = tape.First.P, positions = values.P + _positions;
        _fromLatent.Forward(latent, latentStride, n, first, fs, LinearOutput.Store);
        for (int r = 0; r < n; r++)
            for (int i = 0; i < t; i++)
            {
                Ops.Copy(first + r * fs + i * d, x + (r * t + i) * ds, d);
                Ops.Add(x + (r * t + i) * ds, positions + i * d, d);
            }
        for (int b = 0; b < _blocks.Length; b++) _blocks[b].Forward(x, ds, n, tape.Blocks[b], values, tape.Scratch.P);
        int offset = 0;
        float* output = tape.Output.P, reconstruction = tape.Reconstruction.P;
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            float* gathered = tape.Gathered[g].P;
            for (int r = 0; r < n; r++) Ops.Copy(x + (r * t + offset) * ds, gathered + r * group.Count * ds, group.Count * ds);
            int os = _readout[g].OutPadded;
            _readout[g].Forward(gathered, ds, n * group.Count, output, os, LinearOutput.Store);
            fixed (int* indices = group.Indices)
                for (int r = 0; r < n; r++)
                    for (int u = 0; u < group.Count; u++)
                        for (int i = 0; i < group.Size; i++)
                            reconstruction[(long)r * _p + indices[u * group.Size + i]] = output[(r * group.Count + u) * os + i];
            offset += group.Count;
        }
    }

    /// <summary>Parameter gradients of the pass in <paramref name="tape"/> given the gradient of its reconstruction (n × parameters); the latents' gradient into <paramref name="dLatent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(float* dReconstruction, float* latent, int latentStride, int n, Tape tape, Pinned values, float* arena, BackwardScratch s, float* dLatent)
    {
        int t = _t, d = _d, ds = _ds, fs = _fromLatent.OutPadded;
        float* dx = s.Stream.P;
        new Span<float>(dx, (Pad.Rows(n) * t + PackedLinear.Tile) * ds).Clear();
        int offset = 0;
        float* dOutput = tape.Output.P;
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            int os = _readout[g].OutPadded;
            fixed (int* indices = group.Indices)
                for (int r = 0; r < n; r++)
                    for (int u = 0; u < group.Count; u++)
                        for (int i = 0; i < group.Size; i++)
                            dOutput[(r * group.Count + u) * os + i] = dReconstruction[(long)r * _p + indices[u * group.Size + i]];
            _readout[g].Backward(tape.Gathered[g].P, ds, dOutput, os, n * group.Count, s.Normed.P, ds, LinearOutput.Store, arena);
            for (int r = 0; r < n; r++) Ops.Copy(s.Normed.P + r * group.Count * ds, dx + (r * t + offset) * ds, group.Count * ds);
            offset += group.Count;
        }
        for (int b = _blocks.Length - 1; b >= 0; b--) _blocks[b].Backward(dx, ds, n, tape.Blocks[b], values, arena, s);
        float* dFirst = tape.First.P;
        for (int r = 0; r < n; r++)
            for (int i = 0; i < t; i++)
            {
                Ops.Add(arena + _gradPositions + i * ds, dx + (r * t + i) * ds, d);
                Ops.Copy(dx + (r * t + i) * ds, dFirst + r * fs + i * d, d);
            }
        _fromLatent.Backward(latent, latentStride, dFirst, fs, n, dLatent, latentStride, LinearOutput.Store, arena);
    }
}
