using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

// The layers of the transformer autoencoder computed in C#, forward and backward (CpuAutoencoder puts them together).
// Activations are rows of a padded width (a whole number of 16-value panels) in pinned buffers whose row counts are
// rounded up to PackedLinear.Tile; gradients of parameters are summed into a per-slot arena (GradientLayout).

/// <summary>Zeroed float memory that the GC never moves, for the kernels' raw pointers.</summary>
internal sealed unsafe class Pinned
{
    private readonly float[] _array;

    /// <summary>Values past the end that the kernels may read (never use): a panel's 16 columns, a transposed tile's rows.</summary>
    private const int Slack = 64;

    public Pinned(long length)
    {
        _array = GC.AllocateArray<float>((int)(length + Slack), pinned: true);
        P = (float*)Unsafe.AsPointer(ref _array[0]);
        Length = (int)length;
    }

    public float* P { get; }
    public int Length { get; }
    public Span<float> Span => _array.AsSpan(0, Length);
    public void Clear() => _array.AsSpan().Clear();
}

/// <summary>A module's parameters in one flat, pinned array, by the module's own names and in its order.</summary>
internal sealed class FlatParameters
{
    private readonly Dictionary<string, (int Offset, int Length)> _byName = new();

    public FlatParameters(torch.nn.Module module)
    {
        var parameters = module.named_parameters().ToList();
        Names = parameters.Select(p => p.name).ToArray();
        Values = new Pinned(parameters.Sum(p => p.parameter.numel()));
        int offset = 0;
        foreach (var (name, parameter) in parameters)
        {
            int length = (int)parameter.numel();
            parameter.detach().contiguous().data<float>().CopyTo(Values.Span.Slice(offset, length));
            _byName[name] = (offset, length);
            offset += length;
        }
    }

    public IReadOnlyList<string> Names { get; }
    public Pinned Values { get; }

    public (int Offset, int Length) this[string name] => _byName.TryGetValue(name, out var e) ? e
        : throw new InvalidOperationException($"The module has no parameter '{name}' (it has: {string.Join(", ", Names)}).");

    /// <summary>Writes the values back into <paramref name="module"/>'s parameters.</summary>
    public void CopyTo(torch.nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            var (offset, length) = this[name];
            using var source = tensor(Values.Span.Slice(offset, length).ToArray(), parameter.shape);
            parameter.copy_(source);
        }
    }
}

/// <summary>
/// Where each parameter's gradient lies in a slot's arena (rows padded to whole panels, as the kernels write them) and in
/// the flat layout of <see cref="FlatParameters"/>; the sum over slots in their fixed order gives the gradient.
/// </summary>
internal sealed unsafe class GradientLayout
{
    private readonly List<(int Arena, int ArenaStride, int Flat, int Rows, int Columns)> _pieces = new();

    public int Size { get; private set; }

    /// <summary>Reserves <paramref name="arenaRows"/> × <paramref name="arenaStride"/> values for a rows × columns parameter at a flat offset.</summary>
    public int Add(int flat, int rows, int columns, int arenaRows, int arenaStride)
    {
        int at = Size;
        _pieces.Add((at, arenaStride, flat, rows, columns));
        Size += arenaRows * arenaStride;
        return at;
    }

    /// <summary>gradient[flat] = Σ over the arenas, in order, of their pieces.</summary>
    public void Reduce(IReadOnlyList<Pinned> arenas, float[] gradient, IReadOnlyList<int> used)
    {
        Array.Clear(gradient);
        foreach (int a in used)
        {
            float* arena = arenas[a].P;
            fixed (float* g = gradient)
                foreach (var (at, stride, flat, rows, columns) in _pieces)
                    for (int r = 0; r < rows; r++) Ops.Add(g + flat + r * columns, arena + at + r * stride, columns);
        }
    }
}

/// <summary>Padding rules of the kernels' buffers.</summary>
internal static class Pad
{
    /// <summary>A width rounded up to whole 16-value panels.</summary>
    public static int Width(int n) => (n + PackedLinear.Panel - 1) / PackedLinear.Panel * PackedLinear.Panel;
    /// <summary>A row count rounded up to whole register tiles.</summary>
    public static int Rows(int n) => (n + PackedLinear.Tile - 1) / PackedLinear.Tile * PackedLinear.Tile;
}

/// <summary>
/// nn.Linear in C#: y = x·Wᵀ + b from <see cref="PackedLinear"/>; backward gives dx = dy·W and sums dW += dyᵀ·x, db += Σ dy
/// into the slot's arena. <see cref="Refresh"/> repacks W after the parameters change.
/// </summary>
internal sealed unsafe class CpuLinear
{
    private readonly int _weight, _bias, _gradWeight, _gradBias;
    private readonly PackedLinear _packed;
    private readonly Pinned _rows;   // W with each row padded to InPadded (zeros past In): the matrix of dx = dy·W

    public CpuLinear(FlatParameters parameters, string name, GradientLayout gradients, int inFeatures, int outFeatures, bool bias = true)
    {
        (_weight, int length) = parameters[name + ".weight"];
        if (length != inFeatures * outFeatures) throw new InvalidOperationException($"{name}.weight holds {length} values, not {outFeatures} × {inFeatures}.");
        _bias = bias ? parameters[name + ".bias"].Offset : -1;
        In = inFeatures;
        Out = outFeatures;
        InPadded = Pad.Width(inFeatures);
        _packed = new PackedLinear(inFeatures, outFeatures);
        _rows = new Pinned((long)outFeatures * InPadded);
        _gradWeight = gradients.Add(_weight, outFeatures, inFeatures, Pad.Rows(outFeatures), InPadded);
        _gradBias = bias ? gradients.Add(_bias, 1, outFeatures, 1, Pad.Width(outFeatures)) : -1;
        Refresh(parameters.Values);
    }

    public int In { get; }
    public int Out { get; }
    public int InPadded { get; }
    public int OutPadded => _packed.PaddedOut;

    public void Refresh(Pinned values)
    {
        var all = values.Span;
        _packed.Load(all.Slice(_weight, In * Out), _bias < 0 ? ReadOnlySpan<float>.Empty : all.Slice(_bias, Out));
        for (int o = 0; o < Out; o++) all.Slice(_weight + o * In, In).CopyTo(_rows.Span.Slice(o * InPadded, In));
    }

    public void Forward(float* x, int xStride, int rows, float* y, int yStride, LinearOutput output) => _packed.Apply(x, xStride, rows, y, yStride, output);

    /// <summary>
    /// Gradients of rows of this layer given its inputs <paramref name="x"/> and the gradient of its outputs <paramref name="dy"/>:
    /// dW and db summed into <paramref name="arena"/>; dx stored or added (null: not wanted). dy's row stride must be at
    /// least <see cref="OutPadded"/>: dW's tiles read dy transposed, past Out (the rows of dW past Out are dropped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(float* x, int xStride, float* dy, int dyStride, int rows, float* dx, int dxStride, LinearOutput dxOutput, float* arena)
    {
        PackedLinear.Multiply(dy, 1, Out, x, xStride, rows, In, arena + _gradWeight, InPadded, LinearOutput.Accumulate, xStep: dyStride);
        if (_gradBias >= 0)
            for (int i = 0; i < rows; i++) Ops.Add(arena + _gradBias, dy + i * dyStride, Out);
        if (dx != null) PackedLinear.Multiply(dy, dyStride, rows, _rows.P, InPadded, Out, In, dx, dxStride, dxOutput);
    }
}

/// <summary>nn.LayerNorm in C# over the first d values of each row: (x − mean) / √(var + ε) · γ + β (ε = 1e-5, variance biased).</summary>
internal sealed unsafe class CpuLayerNorm
{
    private const float Epsilon = 1e-5f;
    private readonly int _gamma, _beta, _gradGamma, _gradBeta, _d;

    public CpuLayerNorm(FlatParameters parameters, string name, GradientLayout gradients, int d)
    {
        _gamma = parameters[name + ".weight"].Offset;
        _beta = parameters[name + ".bias"].Offset;
        _d = d;
        _gradGamma = gradients.Add(_gamma, 1, d, 1, Pad.Width(d));
        _gradBeta = gradients.Add(_beta, 1, d, 1, Pad.Width(d));
    }

    /// <summary>y = LN(x) for <paramref name="rows"/> rows; each row's mean and 1/σ into <paramref name="mean"/>, <paramref name="inverseStd"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(float* x, float* y, int rows, int stride, float* mean, float* inverseStd, Pinned values)
    {
        int d = _d;
        float* g = values.P + _gamma, b = values.P + _beta;
        for (int i = 0; i < rows; i++)
        {
            float* row = x + i * stride, output = y + i * stride;
            float m = Ops.Sum(row, d) / d;
            var mv = Vector256.Create(m);
            var squares = Vector256<float>.Zero;
            int k = 0;
            for (; k + 8 <= d; k += 8) { var c = Vector256.Load(row + k) - mv; squares = Vector256.FusedMultiplyAdd(c, c, squares); }
            float variance = Vector256.Sum(squares);
            for (; k < d; k++) { float c = row[k] - m; variance += c * c; }
            float inverse = 1f / MathF.Sqrt(variance / d + Epsilon);
            mean[i] = m;
            inverseStd[i] = inverse;
            var scale = Vector256.Create(inverse);
            for (k = 0; k + 8 <= d; k += 8)
                Vector256.Store(Vector256.FusedMultiplyAdd((Vector256.Load(row + k) - mv) * scale, Vector256.Load(g + k), Vector256.Load(b + k)), output + k);
            for (; k < d; k++) output[k] = (row[k] - m) * inverse * g[k] + b[k];
        }
    }

    /// <summary>dx += ∂LN/∂x · dy, with dγ, dβ summed into the arena: dx = (1/σ)(ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)), ĝ = dy γ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(float* x, float* dy, float* dx, int rows, int stride, float* mean, float* inverseStd, Pinned values, float* arena)
    {
        int d = _d, vectors = d / 8 * 8;
        float* g = values.P + _gamma, gg = arena + _gradGamma, gb = arena + _gradBeta;
        for (int i = 0; i < rows; i++)
        {
            float* row = x + i * stride, dyr = dy + i * stride, dxr = dx + i * stride;
            float m = mean[i], inverse = inverseStd[i];
            var mv = Vector256.Create(m);
            var iv = Vector256.Create(inverse);
            var sumG = Vector256<float>.Zero;
            var sumGx = Vector256<float>.Zero;
            int k = 0;
            for (; k < vectors; k += 8)
            {
                var xhat = (Vector256.Load(row + k) - mv) * iv;
                var dyk = Vector256.Load(dyr + k);
                var gk = dyk * Vector256.Load(g + k);
                sumG += gk;
                sumGx = Vector256.FusedMultiplyAdd(gk, xhat, sumGx);
                Vector256.Store(Vector256.FusedMultiplyAdd(dyk, xhat, Vector256.Load(gg + k)), gg + k);
                Vector256.Store(Vector256.Load(gb + k) + dyk, gb + k);
            }
            float sg = Vector256.Sum(sumG), sgx = Vector256.Sum(sumGx);
            for (; k < d; k++)
            {
                float xhat = (row[k] - m) * inverse, gk = dyr[k] * g[k];
                sg += gk;
                sgx += gk * xhat;
                gg[k] += dyr[k] * xhat;
                gb[k] += dyr[k];
            }
            float a = sg / d, c = sgx / d;
            var av = Vector256.Create(a);
            var cv = Vector256.Create(c);
            for (k = 0; k < vectors; k += 8)
            {
                var xhat = (Vector256.Load(row + k) - mv) * iv;
                var value = Vector256.Load(dyr + k) * Vector256.Load(g + k) - av - xhat * cv;
                Vector256.Store(Vector256.FusedMultiplyAdd(iv, value, Vector256.Load(dxr + k)), dxr + k);
            }
            for (; k < d; k++)
            {
                float xhat = (row[k] - m) * inverse;
                dxr[k] += inverse * (dyr[k] * g[k] - a - xhat * c);
            }
        }
    }
}

/// <summary>
/// Multi-head self-attention over each row's sequence in C#: softmax(q·kᵀ/√d_h)·v per head, heads side by side, from a
/// fused QKV buffer ([q | k | v] per token). The probabilities are kept for backward. Keys and values are transposed into
/// small buffers so every product is a <see cref="PackedLinear.Multiply"/> (a dot product per query would wait on one
/// accumulator).
/// </summary>
internal sealed unsafe class CpuAttention
{
    private readonly int _d, _heads, _dh, _t, _tp, _dp;
    private readonly float _scale;

    public CpuAttention(int d, int heads, int tokens)
    {
        _d = d;
        _heads = heads;
        _dh = d / heads;
        _t = tokens;
        _tp = Pad.Width(tokens);
        _dp = Pad.Width(_dh);
        _scale = 1f / MathF.Sqrt(_dh);
    }

    /// <summary>Values of the saved probabilities per sequence: heads × T rounded up to tiles × T rounded up to panels.</summary>
    public int ProbabilitiesPerSequence => _heads * Pad.Rows(_t) * _tp;
    /// <summary>Values of the per-call scratch.</summary>
    public int ScratchSize => 4 * Pad.Rows(Math.Max(_t, _dh)) * Math.Max(_tp, _dp) + Pad.Rows(_t) * _dp;

    /// <summary>The attention output of <paramref name="n"/> sequences into <paramref name="output"/>; probabilities into <paramref name="probabilities"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(float* qkv, int qkvStride, float* output, int outputStride, int n, float* probabilities, float* scratch)
    {
        int t = _t, tp = _tp, dh = _dh, d = _d;
        float* keys = scratch, mixed = scratch + Pad.Rows(dh) * tp;
        new Span<float>(keys, Pad.Rows(dh) * tp).Clear();   // zero past the sequence
        var factor = Vector256.Create(_scale);
        for (int r = 0; r < n; r++)
        {
            float* sequence = qkv + r * t * qkvStride;
            for (int head = 0; head < _heads; head++)
            {
                float* q = sequence + head * dh, k = sequence + d + head * dh, v = sequence + 2 * d + head * dh;
                float* p = probabilities + (r * _heads + head) * Pad.Rows(t) * tp;
                Transpose(k, qkvStride, t, dh, keys, tp);
                PackedLinear.Multiply(q, qkvStride, t, keys, tp, dh, t, p, tp);
                for (int i = 0; i < t; i++)
                {
                    float* pi = p + i * tp;
                    float largest = pi[0];
                    for (int j = 1; j < t; j++) largest = MathF.Max(largest, pi[j]);
                    for (int j = t; j < tp; j++) pi[j] = float.NegativeInfinity;   // padding keys: weight 0
                    var shift = Vector256.Create(largest * _scale);
                    var total = Vector256<float>.Zero;
                    for (int c = 0; c < tp; c += 8)
                    {
                        var e = Vector256.Exp(Vector256.FusedMultiplyAdd(Vector256.Load(pi + c), factor, -shift));
                        Vector256.Store(e, pi + c);
                        total += e;
                    }
                    var inverse = Vector256.Create(1f / Vector256.Sum(total));
                    for (int c = 0; c < tp; c += 8) Vector256.Store(Vector256.Load(pi + c) * inverse, pi + c);
                }
                // o_i = Σ_j p_ij v_j; a panel past d_h reads the next head's values, whose products are dropped
                PackedLinear.Multiply(p, tp, t, v, qkvStride, t, dh, mixed, _dp);
                float* o = output + r * t * outputStride + head * dh;
                for (int i = 0; i < t; i++) Ops.Copy(mixed + i * _dp, o + i * outputStride, dh);
            }
        }
    }

    /// <summary>The gradient of the fused QKV buffer from the gradient of the output, for <paramref name="n"/> sequences.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Backward(float* qkv, int qkvStride, float* dOutput, int dOutputStride, float* dQkv, int n, float* probabilities, float* scratch)
    {
        int t = _t, tp = _tp, dh = _dh, d = _d, tr = Pad.Rows(Math.Max(t, dh)), width = Math.Max(tp, _dp);
        float* dp = scratch + tr * width, ds = scratch + 2 * tr * width, vt = scratch + 3 * tr * width, temp = scratch + 4 * tr * width;
        new Span<float>(scratch, 4 * tr * width).Clear();
        for (int r = 0; r < n; r++)
        {
            float* sequence = qkv + r * t * qkvStride, dSequence = dQkv + r * t * qkvStride;
            for (int head = 0; head < _heads; head++)
            {
                float* q = sequence + head * dh, k = sequence + d + head * dh, v = sequence + 2 * d + head * dh;
                float* dO = dOutput + r * t * dOutputStride + head * dh;
                float* p = probabilities + (r * _heads + head) * Pad.Rows(t) * tp;
                // dV = Pᵀ·dO (P read transposed where it lies)
                PackedLinear.Multiply(p, 1, t, dO, dOutputStride, t, dh, temp, _dp, xStep: tp);
                for (int j = 0; j < t; j++) Ops.Copy(temp + j * _dp, dSequence + j * qkvStride + 2 * d + head * dh, dh);
                // dP = dO·Vᵀ, then dS = P ⊙ (dP − Σ_j dP P)
                Transpose(v, qkvStride, t, dh, vt, tp);
                PackedLinear.Multiply(dO, dOutputStride, t, vt, tp, dh, t, dp, tp);
                for (int i = 0; i < t; i++)
                {
                    float* pi = p + i * tp, dpi = dp + i * tp, dsi = ds + i * tp;
                    float dot = 0;
                    for (int j = 0; j < t; j++) dot += dpi[j] * pi[j];
                    for (int j = 0; j < t; j++) dsi[j] = pi[j] * (dpi[j] - dot) * _scale;
                }
                // dQ = dS·K / √d_h, dK = dSᵀ·Q / √d_h (the scale is in dS)
                PackedLinear.Multiply(ds, tp, t, k, qkvStride, t, dh, temp, _dp);
                for (int i = 0; i < t; i++) Ops.Copy(temp + i * _dp, dSequence + i * qkvStride + head * dh, dh);
                PackedLinear.Multiply(ds, 1, t, q, qkvStride, t, dh, temp, _dp, xStep: tp);
                for (int j = 0; j < t; j++) Ops.Copy(temp + j * _dp, dSequence + j * qkvStride + d + head * dh, dh);
            }
        }
    }

    /// <summary>target[c][j] = source[j][c] for j &lt; rows, c &lt; columns.</summary>
    private static void Transpose(float* source, int sourceStride, int rows, int columns, float* target, int targetStride)
    {
        for (int j = 0; j < rows; j++)
            for (int c = 0; c < columns; c++) target[c * targetStride + j] = source[j * sourceStride + c];
    }
}

/// <summary>Small vector loops of the C# layers.</summary>
internal static unsafe class Ops
{
    public static float Sum(float* x, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc += Vector256.Load(x + i);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>g[i] = 0 where h[i] ≤ 0 (the gradient through a ReLU whose outputs are h).</summary>
    public static void ZeroWhereNotPositive(float* g, float* h, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8)
            Vector256.Store(Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Load(h + i), Vector256<float>.Zero), Vector256.Load(g + i), Vector256<float>.Zero), g + i);
        for (; i < n; i++) if (h[i] <= 0) g[i] = 0;
    }

    /// <summary>d[i] = scale·(a[i] − b[i]); returns Σ (a[i] − b[i])² (summed in float per 8 lanes, in double across).</summary>
    public static double ScaledDifference(float* a, float* b, float* d, float scale, int n)
    {
        double total = 0;
        var s = Vector256.Create(scale);
        int i = 0;
        while (i + 8 <= n)
        {
            var acc = Vector256<float>.Zero;
            for (int end = Math.Min(n - 7, i + 1024); i < end; i += 8)
            {
                var e = Vector256.Load(a + i) - Vector256.Load(b + i);
                acc = Vector256.FusedMultiplyAdd(e, e, acc);
                Vector256.Store(e * s, d + i);
            }
            total += Vector256.Sum(acc);
        }
        for (; i < n; i++) { float e = a[i] - b[i]; total += (double)e * e; d[i] = scale * e; }
        return total;
    }

    /// <summary>y[i] += x[i].</summary>
    public static void Add(float* y, float* x, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(y + i) + Vector256.Load(x + i), y + i);
        for (; i < n; i++) y[i] += x[i];
    }

    public static void Copy(float* source, float* target, int n) => Buffer.MemoryCopy(source, target, (long)n * sizeof(float), (long)n * sizeof(float));
}
