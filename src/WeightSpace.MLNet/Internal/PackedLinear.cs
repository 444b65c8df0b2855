using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WeightSpace.MLNet;

/// <summary>What <see cref="PackedLinear.Apply"/> does with x·Wᵀ + b before it is stored.</summary>
internal enum LinearOutput
{
    /// <summary>y = x·Wᵀ + b.</summary>
    Store,
    /// <summary>y = max(0, x·Wᵀ + b).</summary>
    Relu,
    /// <summary>y += x·Wᵀ + b (a residual connection).</summary>
    Accumulate,
}

/// <summary>
/// A linear layer y = x·Wᵀ + b for small matrices on the CPU: W (out-major, as PyTorch stores it) packed once into panels
/// of 16 outputs, then a 6 × 16 register tile per step (twelve 8-wide accumulators). It serves inference of the encoder,
/// where libtorch spends more time dispatching, packing and synchronising than multiplying (docs/benchmarks.md).
/// Every output element is one sum over the inputs in index order, whatever rows it is computed with, so a row's result
/// does not depend on the batch or the thread that computes it.
/// </summary>
internal sealed unsafe class PackedLinear
{
    /// <summary>Outputs per panel.</summary>
    public const int Panel = 16;
    /// <summary>Rows per register tile: callers' buffers hold their row count rounded up to a multiple of this.</summary>
    public const int Tile = 6;

    private readonly float[] _packed;   // panel after panel: In × 16 values (output o of the panel at column o)
    private readonly float[] _bias;     // Panels × 16, zero past Out

    /// <param name="weight">Out × In values, row o the weights of output o.</param>
    /// <param name="bias">Out values, or empty for none.</param>
    /// <param name="inFeatures">In.</param>
    /// <param name="outFeatures">Out.</param>
    public PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inFeatures, int outFeatures)
    {
        if (weight.Length != inFeatures * outFeatures) throw new ArgumentException($"A {outFeatures} × {inFeatures} weight needs {inFeatures * outFeatures} values, not {weight.Length}.");
        if (!bias.IsEmpty && bias.Length != outFeatures) throw new ArgumentException($"{outFeatures} outputs need {outFeatures} biases, not {bias.Length}.");
        In = inFeatures;
        Out = outFeatures;
        Panels = (outFeatures + Panel - 1) / Panel;
        _packed = new float[Panels * inFeatures * Panel];
        _bias = new float[Panels * Panel];
        for (int o = 0; o < outFeatures; o++)
        {
            int panel = o / Panel, column = o % Panel;
            for (int k = 0; k < inFeatures; k++) _packed[(panel * inFeatures + k) * Panel + column] = weight[o * inFeatures + k];
            if (!bias.IsEmpty) _bias[o] = bias[o];
        }
    }

    public int In { get; }
    public int Out { get; }
    public int Panels { get; }
    /// <summary>The row stride an output buffer needs (Out rounded up to whole panels): every tile is stored whole.</summary>
    public int PaddedOut => Panels * Panel;

    /// <summary>
    /// y[i] (=, relu or +=) x[i]·Wᵀ + b for rows i &lt; <paramref name="rows"/> rounded up to <see cref="Tile"/>: x has row
    /// stride <paramref name="xStride"/> (≥ In), y row stride <paramref name="yStride"/> (≥ <see cref="PaddedOut"/>); both
    /// buffers must hold the rounded-up rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(float* x, int xStride, int rows, float* y, int yStride, LinearOutput output)
    {
        int tiles = (rows + Tile - 1) / Tile;
        fixed (float* packed = _packed, bias = _bias)
        {
            for (int p = 0; p < Panels; p++)
            {
                float* w = packed + p * In * Panel;
                for (int t = 0; t < tiles; t++)
                    Kernel(x + t * Tile * xStride, xStride, w, Panel, In, bias + p * Panel, y + t * Tile * yStride + p * Panel, yStride, output);
            }
        }
    }

    /// <summary>
    /// y = x·M for a matrix M given row by row (<paramref name="k"/> rows of 16 values, row stride <paramref name="mStride"/>;
    /// no bias), for rows of x rounded up to <see cref="Tile"/>: products inside attention (scores q·kᵀ with the keys
    /// transposed, weighted values with the values as they lie).
    /// </summary>
    public static void Multiply(float* x, int xStride, int rows, float* m, int mStride, int k, float* y, int yStride)
    {
        int tiles = (rows + Tile - 1) / Tile;
        fixed (float* zero = NoBias)
            for (int t = 0; t < tiles; t++)
                Kernel(x + t * Tile * xStride, xStride, m, mStride, k, zero, y + t * Tile * yStride, yStride, LinearOutput.Store);
    }

    private static readonly float[] NoBias = new float[Panel];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(float* x, int xs, float* w, int ws, int k, float* bias, float* y, int ys, LinearOutput output)
    {
        var b0 = Vector256.Load(bias);
        var b1 = Vector256.Load(bias + 8);
        Vector256<float> c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
        float* x0 = x, x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs, x4 = x + 4 * xs, x5 = x + 5 * xs;
        for (int i = 0; i < k; i++)
        {
            var w0 = Vector256.Load(w);
            var w1 = Vector256.Load(w + 8);
            w += ws;
            var a = Vector256.Create(x0[i]);
            c00 = Vector256.FusedMultiplyAdd(a, w0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, w1, c01);
            a = Vector256.Create(x1[i]);
            c10 = Vector256.FusedMultiplyAdd(a, w0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, w1, c11);
            a = Vector256.Create(x2[i]);
            c20 = Vector256.FusedMultiplyAdd(a, w0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, w1, c21);
            a = Vector256.Create(x3[i]);
            c30 = Vector256.FusedMultiplyAdd(a, w0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, w1, c31);
            a = Vector256.Create(x4[i]);
            c40 = Vector256.FusedMultiplyAdd(a, w0, c40);
            c41 = Vector256.FusedMultiplyAdd(a, w1, c41);
            a = Vector256.Create(x5[i]);
            c50 = Vector256.FusedMultiplyAdd(a, w0, c50);
            c51 = Vector256.FusedMultiplyAdd(a, w1, c51);
        }
        Store(y, c00, c01, output);
        Store(y + ys, c10, c11, output);
        Store(y + 2 * ys, c20, c21, output);
        Store(y + 3 * ys, c30, c31, output);
        Store(y + 4 * ys, c40, c41, output);
        Store(y + 5 * ys, c50, c51, output);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector256<float> v0, Vector256<float> v1, LinearOutput output)
    {
        switch (output)
        {
            case LinearOutput.Relu:
                v0 = Vector256.Max(v0, Vector256<float>.Zero);
                v1 = Vector256.Max(v1, Vector256<float>.Zero);
                break;
            case LinearOutput.Accumulate:
                v0 += Vector256.Load(y);
                v1 += Vector256.Load(y + 8);
                break;
        }
        Vector256.Store(v0, y);
        Vector256.Store(v1, y + 8);
    }
}
