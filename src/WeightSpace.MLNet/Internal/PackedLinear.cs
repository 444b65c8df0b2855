using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WeightSpace.MLNet;

/// <summary>What a product does with its result before it is stored.</summary>
internal enum LinearOutput
{
    /// <summary>y = result.</summary>
    Store,
    /// <summary>y = max(0, result).</summary>
    Relu,
    /// <summary>y += result (a residual connection, or a gradient summed over rows).</summary>
    Accumulate,
}

/// <summary>
/// Matrix products of the small sizes of the hyper-representation on the CPU: a 6 × 16 register tile (twelve 8-wide
/// accumulators) over rows of x and 16 columns of a matrix given row by row. <see cref="Apply"/> is a linear layer
/// y = x·Wᵀ + b with W (out-major, as PyTorch stores it) packed into panels of 16 outputs; <see cref="Multiply"/> takes the
/// matrix as it lies in memory (attention's products, the gradients of a linear layer). libtorch spends more time
/// dispatching, packing and synchronising than multiplying at these sizes (docs/benchmarks.md). Every output element is
/// one sum over k in index order, whatever rows it is computed with, so a row's result does not depend on the batch or
/// the thread that computes it. Callers' buffers hold their row count rounded up to <see cref="Tile"/> and 16 columns
/// past each panel start.
/// </summary>
internal sealed unsafe class PackedLinear
{
    /// <summary>Columns per panel.</summary>
    public const int Panel = 16;
    /// <summary>Rows per register tile.</summary>
    public const int Tile = 6;

    private readonly float[] _packed;   // panel after panel: In × 16 values (output o of the panel at column o)
    private readonly float[] _bias;     // Panels × 16, zero past Out

    /// <summary>A layer of <paramref name="outFeatures"/> × <paramref name="inFeatures"/> zero weights; <see cref="Load"/> sets them.</summary>
    public PackedLinear(int inFeatures, int outFeatures)
    {
        In = inFeatures;
        Out = outFeatures;
        Panels = (outFeatures + Panel - 1) / Panel;
        _packed = new float[Panels * inFeatures * Panel];
        _bias = new float[Panels * Panel];
    }

    /// <param name="weight">Out × In values, row o the weights of output o.</param>
    /// <param name="bias">Out values, or empty for none.</param>
    /// <param name="inFeatures">In.</param>
    /// <param name="outFeatures">Out.</param>
    public PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inFeatures, int outFeatures) : this(inFeatures, outFeatures) => Load(weight, bias);

    public int In { get; }
    public int Out { get; }
    public int Panels { get; }
    /// <summary>The row stride an output buffer needs (Out rounded up to whole panels): every tile is stored whole.</summary>
    public int PaddedOut => Panels * Panel;

    /// <summary>Packs Out × In <paramref name="weight"/> values and Out <paramref name="bias"/> values (empty: none).</summary>
    public void Load(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        if (weight.Length != In * Out) throw new ArgumentException($"A {Out} × {In} weight needs {In * Out} values, not {weight.Length}.");
        if (!bias.IsEmpty && bias.Length != Out) throw new ArgumentException($"{Out} outputs need {Out} biases, not {bias.Length}.");
        for (int o = 0; o < Out; o++)
        {
            int panel = o / Panel, column = o % Panel;
            for (int k = 0; k < In; k++) _packed[(panel * In + k) * Panel + column] = weight[o * In + k];
            _bias[o] = bias.IsEmpty ? 0 : bias[o];
        }
    }

    /// <summary>
    /// y[i] (=, relu or +=) x[i]·Wᵀ + b for rows i &lt; <paramref name="rows"/> rounded up to <see cref="Tile"/>: x has row
    /// stride <paramref name="xStride"/> (≥ In), y row stride <paramref name="yStride"/> (≥ <see cref="PaddedOut"/>).
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
                    Kernel(x + t * Tile * xStride, xStride, 1, w, Panel, In, bias + p * Panel, y + t * Tile * yStride + p * Panel, yStride, output);
            }
        }
    }

    /// <summary>
    /// y = x·M (or y += x·M) for a matrix M of <paramref name="k"/> rows given row by row (row stride
    /// <paramref name="mStride"/>), over <paramref name="columns"/> of its columns rounded up to whole panels, for rows of x
    /// rounded up to <see cref="Tile"/>; no bias. x's element (i, j) is at x[i·<paramref name="xStride"/> + j·<paramref name="xStep"/>]:
    /// a step other than 1 reads x transposed where it lies (dW = dyᵀ·x reads dy so).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* x, int xStride, int rows, float* m, int mStride, int k, int columns, float* y, int yStride,
        LinearOutput output = LinearOutput.Store, int xStep = 1)
    {
        if (output == LinearOutput.Relu && k > KBlock) throw new ArgumentException("A relu product takes its whole sum in one block.");
        int tiles = (rows + Tile - 1) / Tile;
        fixed (float* zero = NoBias)
            // Long sums (a weight gradient sums over every row of a batch) go in blocks of k whose tiles of x and M stay in
            // the core's first-level cache; each block after the first adds to y.
            for (int k0 = 0; k0 < k; k0 += KBlock)
            {
                int kn = Math.Min(KBlock, k - k0);
                var mode = k0 == 0 ? output : LinearOutput.Accumulate;
                for (int p = 0; p < columns; p += Panel)
                    for (int t = 0; t < tiles; t++)
                        Kernel(x + t * Tile * xStride + (long)k0 * xStep, xStride, xStep, m + (long)k0 * mStride + p, mStride, kn, zero, y + t * Tile * yStride + p, yStride, mode);
            }
    }

    /// <summary>Terms of a sum per block in <see cref="Multiply"/>: 256 rows of 16 values of M and of x's tile fit a 32 KB cache together.</summary>
    private const int KBlock = 256;

    private static readonly float[] NoBias = new float[Panel];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(float* x, int xs, nint xk, float* w, int ws, int k, float* bias, float* y, int ys, LinearOutput output)
    {
        var b0 = Vector256.Load(bias);
        var b1 = Vector256.Load(bias + 8);
        Vector256<float> c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1, c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
        float* x0 = x, x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs, x4 = x + 4 * xs, x5 = x + 5 * xs;
        nint at = 0;
        for (int i = 0; i < k; i++, at += xk)
        {
            var w0 = Vector256.Load(w);
            var w1 = Vector256.Load(w + 8);
            w += ws;
            var a = Vector256.Create(x0[at]);
            c00 = Vector256.FusedMultiplyAdd(a, w0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, w1, c01);
            a = Vector256.Create(x1[at]);
            c10 = Vector256.FusedMultiplyAdd(a, w0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, w1, c11);
            a = Vector256.Create(x2[at]);
            c20 = Vector256.FusedMultiplyAdd(a, w0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, w1, c21);
            a = Vector256.Create(x3[at]);
            c30 = Vector256.FusedMultiplyAdd(a, w0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, w1, c31);
            a = Vector256.Create(x4[at]);
            c40 = Vector256.FusedMultiplyAdd(a, w0, c40);
            c41 = Vector256.FusedMultiplyAdd(a, w1, c41);
            a = Vector256.Create(x5[at]);
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
