using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>A linear layer's parameters copied out of its module: Out × In weights (out-major) and Out biases (or none).</summary>
internal sealed record LinearWeights(float[] Weight, float[]? Bias, int In, int Out)
{
    public static LinearWeights Of(Linear linear) =>
        new(Values(linear.weight!), linear.bias is null ? null : Values(linear.bias), (int)linear.weight!.shape[1], (int)linear.weight.shape[0]);

    public static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    public PackedLinear Pack() => new(Weight, Bias ?? ReadOnlySpan<float>.Empty, In, Out);
}

/// <summary>One pre-norm block's parameters: LayerNorm 1, fused QKV and output projection, LayerNorm 2, the feed-forward pair.</summary>
internal sealed record BlockWeights(float[] Norm1Weight, float[] Norm1Bias, LinearWeights Qkv, LinearWeights Proj, int Heads,
    float[] Norm2Weight, float[] Norm2Bias, LinearWeights Up, LinearWeights Down);

/// <summary>The transformer encoder's parameters (<see cref="TransformerAutoencoder.ExportEncoder"/>).</summary>
internal sealed record EncoderWeights(IReadOnlyList<TokenGroup> Groups, LinearWeights[] Embed, bool Statistics, float[]? Compression, float[] Positions,
    BlockWeights[] Blocks, LinearWeights ToLatent, int ModelDim);

/// <summary>
/// The encoder of <see cref="TransformerAutoencoder"/> (eval mode: no dropout) computed in C# for inference: tokens embedded
/// per group (with their statistics when the model has them), the compression token and positions, N pre-norm blocks
/// (LayerNorm, multi-head attention, LayerNorm, ReLU feed-forward), latent = tanh(Linear(token 0 or the flattened
/// sequence)) — the same equations as the module's forward, on rows of normalised weights. Rows go in blocks of a few
/// models, so every activation of a block stays in cache, and blocks are spread over the cores; each row's latent is
/// computed the same way whatever block or thread holds it. It agrees with the module within float rounding
/// (EncoderInferenceTests) and embeds several times faster than libtorch at these sizes (docs/benchmarks.md), where small
/// matrices make libtorch's per-op dispatch, packing and thread synchronisation cost more than the arithmetic.
/// </summary>
internal sealed unsafe class EncoderInference
{
    private const float LayerNormEpsilon = 1e-5f;   // nn.LayerNorm's default
    private const float StatisticsFloor = 1e-6f;    // TorchScalars.Tiny in TokenEmbedding
    private readonly EncoderWeights _w;
    private readonly PackedLinear[] _embed;
    private readonly (PackedLinear Qkv, PackedLinear Proj, PackedLinear Up, PackedLinear Down)[] _blocks;
    private readonly PackedLinear _toLatent;
    private readonly int _d, _stride, _tokens, _sequence, _rowsPerBlock;

    private EncoderInference(EncoderWeights w)
    {
        _w = w;
        _d = w.ModelDim;
        _stride = (_d + PackedLinear.Panel - 1) / PackedLinear.Panel * PackedLinear.Panel;
        _tokens = w.Groups.Sum(g => g.Count);
        _sequence = _tokens + (w.Compression is null ? 0 : 1);
        _embed = w.Embed.Select(e => e.Pack()).ToArray();
        _blocks = w.Blocks.Select(b => (b.Qkv.Pack(), b.Proj.Pack(), b.Up.Pack(), b.Down.Pack())).ToArray();
        _toLatent = w.ToLatent.Pack();
        LatentDim = w.ToLatent.Out;
        // About a hundred token rows per block: enough rows per weight panel, little enough to stay in the core's cache.
        _rowsPerBlock = Math.Clamp(128 / _sequence, 1, 64);
    }

    /// <summary>Length of the latent.</summary>
    public int LatentDim { get; }

    /// <summary>The encoder of <paramref name="model"/> as it is now, or null when it has none this class computes (the fully connected autoencoder).</summary>
    public static EncoderInference? For(WeightAutoencoder model) =>
        model is TransformerAutoencoder transformer ? new EncoderInference(transformer.ExportEncoder()) : null;

    /// <summary>
    /// Latents of <paramref name="rows"/> rows of normalised weights into <paramref name="latent"/> (rows × <see cref="LatentDim"/>),
    /// on up to <paramref name="threads"/> cores.
    /// </summary>
    public void Encode(ReadOnlySpan<float> weights, int rows, Span<float> latent, int threads)
    {
        int p = _w.Groups.Sum(g => g.Count * g.Size);
        if (weights.Length != (long)rows * p) throw new ArgumentException($"{rows} rows need {(long)rows * p} weights, not {weights.Length}.");
        if (latent.Length != (long)rows * LatentDim) throw new ArgumentException($"{rows} rows need {(long)rows * LatentDim} latent values, not {latent.Length}.");
        int blocks = (rows + _rowsPerBlock - 1) / _rowsPerBlock;
        fixed (float* x = weights, z = latent)
        {
            float* xs = x, zs = z;   // fixed locals cannot be captured
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
            Parallel.For(0, blocks, options, () => new Scratch(this), (block, _, scratch) =>
            {
                int first = block * _rowsPerBlock, n = Math.Min(_rowsPerBlock, rows - first);
                EncodeBlock(xs + (long)first * p, p, n, zs + (long)first * LatentDim, scratch);
                return scratch;
            }, _ => { });
        }
    }

    /// <summary>Per-thread activations of one block of rows; row counts rounded up to whole register tiles.</summary>
    private sealed class Scratch
    {
        public readonly float[] X, H, Qkv, Attention, Hidden, Tokens, Embedded, Scores, Keys, Mixed, Latent, Flat;

        public Scratch(EncoderInference e)
        {
            int tokenRows = Round(e._rowsPerBlock * e._sequence) + PackedLinear.Tile;
            X = new float[tokenRows * e._stride];
            H = new float[tokenRows * e._stride];
            Attention = new float[tokenRows * e._stride];
            Qkv = new float[tokenRows * e._blocks.Select(b => b.Qkv.PaddedOut).DefaultIfEmpty(0).Max()];
            Hidden = new float[tokenRows * e._blocks.Select(b => b.Up.PaddedOut).DefaultIfEmpty(0).Max()];
            int groupRows = Round(e._rowsPerBlock * e._w.Groups.Max(g => g.Count));
            Tokens = new float[groupRows * e._embed.Max(l => l.In)];
            Embedded = new float[groupRows * e._stride];
            // Attention's products run over whole tiles of queries: the last row's may reach a tile past the block's rows.
            int padded = Padded(e._sequence), queries = Round(e._sequence);
            Scores = new float[queries * padded];
            Keys = new float[e._d * padded];   // zero past the sequence, never written there
            Mixed = new float[queries * Padded(e._d)];
            Latent = new float[Round(e._rowsPerBlock) * e._toLatent.PaddedOut];
            Flat = e._w.Compression is null ? new float[Round(e._rowsPerBlock) * e._sequence * e._d] : Array.Empty<float>();
        }

        private static int Round(int rows) => (rows + PackedLinear.Tile - 1) / PackedLinear.Tile * PackedLinear.Tile;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodeBlock(float* weights, int p, int n, float* latent, Scratch s)
    {
        int t = _sequence, d = _d, ds = _stride, offset = _w.Compression is null ? 0 : 1;
        fixed (float* x = s.X, h = s.H, qkv = s.Qkv, att = s.Attention, hidden = s.Hidden, tok = s.Tokens, emb = s.Embedded, lat = s.Latent, flat = s.Flat)
        fixed (float* scores = s.Scores, keys = s.Keys, mixed = s.Mixed)
        fixed (float* positions = _w.Positions)
        {
            // Tokens: each group's values (and statistics) gathered for the block's rows, embedded, put in sequence order.
            for (int g = 0; g < _w.Groups.Count; g++)
            {
                var group = _w.Groups[g];
                int k = _embed[g].In;
                fixed (int* indices = group.Indices)
                    for (int r = 0; r < n; r++)
                    {
                        float* source = weights + (long)r * p;
                        for (int u = 0; u < group.Count; u++)
                        {
                            float* row = tok + (r * group.Count + u) * k;
                            int* index = indices + u * group.Size;
                            for (int i = 0; i < group.Size; i++) row[i] = source[index[i]];
                            if (_w.Statistics) TokenStatistics(row, group.Size);
                        }
                    }
                _embed[g].Apply(tok, k, n * group.Count, emb, ds, LinearOutput.Store);
                for (int r = 0; r < n; r++)
                    Buffer.MemoryCopy(emb + r * group.Count * ds, x + (r * t + offset) * ds, (long)group.Count * ds * sizeof(float), (long)group.Count * ds * sizeof(float));
                offset += group.Count;
            }
            for (int r = 0; r < n; r++)
            {
                if (_w.Compression is { } c) c.AsSpan().CopyTo(new Span<float>(x + r * t * ds, d));
                for (int i = 0; i < t; i++) Add(x + (r * t + i) * ds, positions + i * d, d);
            }

            int rows = n * t;
            for (int b = 0; b < _blocks.Length; b++)
            {
                var (qkvLinear, proj, up, down) = _blocks[b];
                var w = _w.Blocks[b];
                LayerNorm(x, h, rows, ds, d, w.Norm1Weight, w.Norm1Bias);
                qkvLinear.Apply(h, ds, rows, qkv, qkvLinear.PaddedOut, LinearOutput.Store);
                Attend(qkv, qkvLinear.PaddedOut, att, ds, n, t, d, w.Heads, scores, keys, mixed);
                proj.Apply(att, ds, rows, x, ds, LinearOutput.Accumulate);
                LayerNorm(x, h, rows, ds, d, w.Norm2Weight, w.Norm2Bias);
                up.Apply(h, ds, rows, hidden, up.PaddedOut, LinearOutput.Relu);
                down.Apply(hidden, up.PaddedOut, rows, x, ds, LinearOutput.Accumulate);
            }

            // latent = tanh(Linear(token 0)), or of the flattened sequence without a compression token.
            if (_w.Compression is not null) _toLatent.Apply(x, t * ds, n, lat, _toLatent.PaddedOut, LinearOutput.Store);
            else
            {
                for (int i = 0; i < rows; i++) new ReadOnlySpan<float>(x + i * ds, d).CopyTo(new Span<float>(flat + i * d, d));
                _toLatent.Apply(flat, t * d, n, lat, _toLatent.PaddedOut, LinearOutput.Store);
            }
            for (int r = 0; r < n; r++)
                TensorPrimitives.Tanh(new ReadOnlySpan<float>(lat + r * _toLatent.PaddedOut, LatentDim), new Span<float>(latent + r * LatentDim, LatentDim));
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

    /// <summary>nn.LayerNorm over the first <paramref name="d"/> values of each row: (x − mean) / √(var + ε) · γ + β, var biased.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LayerNorm(float* x, float* y, int rows, int stride, int d, float[] gamma, float[] beta)
    {
        fixed (float* g = gamma, b = beta)
            for (int i = 0; i < rows; i++)
            {
                float* row = x + i * stride, output = y + i * stride;
                float mean = Sum(row, d) / d;
                int k = 0;
                var m = Vector256.Create(mean);
                var squares = Vector256<float>.Zero;
                for (; k + 8 <= d; k += 8) { var c = Vector256.Load(row + k) - m; squares = Vector256.FusedMultiplyAdd(c, c, squares); }
                float variance = Vector256.Sum(squares);
                for (; k < d; k++) { float c = row[k] - mean; variance += c * c; }
                float inverse = 1f / MathF.Sqrt(variance / d + LayerNormEpsilon);
                var scale = Vector256.Create(inverse);
                k = 0;
                for (; k + 8 <= d; k += 8)
                    Vector256.Store(Vector256.FusedMultiplyAdd((Vector256.Load(row + k) - m) * scale, Vector256.Load(g + k), Vector256.Load(b + k)), output + k);
                for (; k < d; k++) output[k] = (row[k] - mean) * inverse * g[k] + b[k];
            }
    }

    /// <summary>
    /// Multi-head self-attention of each row's sequence: softmax(q·kᵀ/√d_h)·v per head, heads side by side in the output.
    /// Per head the keys are transposed ([d_h][T rounded up to 16], zeros past T, <paramref name="keys"/>), so the scores
    /// ([T][T rounded up], <paramref name="scores"/>) and the weighted values ([T][d_h rounded up], <paramref name="mixed"/>)
    /// are products of <see cref="PackedLinear.Multiply"/> with the values read where they lie.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Attend(float* qkv, int qkvStride, float* output, int outputStride, int n, int t, int d, int heads, float* scores, float* keys, float* mixed)
    {
        int dh = d / heads, tp = Padded(t), dp = Padded(dh);
        float scale = 1f / MathF.Sqrt(dh);
        var factor = Vector256.Create(scale);
        for (int r = 0; r < n; r++)
        {
            float* sequence = qkv + r * t * qkvStride;
            for (int head = 0; head < heads; head++)
            {
                float* q = sequence + head * dh, k = sequence + d + head * dh, v = sequence + 2 * d + head * dh;
                for (int j = 0; j < t; j++)
                    for (int c = 0; c < dh; c++) keys[c * tp + j] = k[j * qkvStride + c];
                for (int panel = 0; panel < tp; panel += PackedLinear.Panel)
                    PackedLinear.Multiply(q, qkvStride, t, keys + panel, tp, dh, scores + panel, tp);
                // softmax over each query's keys; the padding keys get weight 0
                for (int i = 0; i < t; i++)
                {
                    float* si = scores + i * tp;
                    float largest = si[0];
                    for (int j = 1; j < t; j++) largest = MathF.Max(largest, si[j]);
                    for (int j = t; j < tp; j++) si[j] = float.NegativeInfinity;
                    var shift = Vector256.Create(largest * scale);
                    var total = Vector256<float>.Zero;
                    for (int chunk = 0; chunk < tp; chunk += 8)
                    {
                        var e = Vector256.Exp(Vector256.FusedMultiplyAdd(Vector256.Load(si + chunk), factor, -shift));
                        Vector256.Store(e, si + chunk);
                        total += e;
                    }
                    var inverse = Vector256.Create(1f / Vector256.Sum(total));
                    for (int chunk = 0; chunk < tp; chunk += 8) Vector256.Store(Vector256.Load(si + chunk) * inverse, si + chunk);
                }
                // o_i = Σ_j p_ij v_j; a panel reaching past d_h reads the next head's values, whose products are dropped
                for (int panel = 0; panel < dp; panel += PackedLinear.Panel)
                    PackedLinear.Multiply(scores, tp, t, v + panel, qkvStride, t, mixed + panel, dp);
                float* o = output + r * t * outputStride + head * dh;
                for (int i = 0; i < t; i++) Buffer.MemoryCopy(mixed + i * dp, o + i * outputStride, dh * sizeof(float), dh * sizeof(float));
            }
        }
    }

    /// <summary>A length rounded up to whole 16-value panels.</summary>
    private static int Padded(int length) => (length + PackedLinear.Panel - 1) / PackedLinear.Panel * PackedLinear.Panel;

    private static float Sum(float* x, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc += Vector256.Load(x + i);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    private static float Dot(float* a, float* b, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y[i] += x[i] for i &lt; n.</summary>
    private static void Add(float* y, float* x, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(y + i) + Vector256.Load(x + i), y + i);
        for (; i < n; i++) y[i] += x[i];
    }
}
