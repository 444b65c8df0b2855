namespace WeightSpace.ZooGen.Networks;

/// <summary>
/// A convolution without padding (N × C_in × H × W input, C_out × C_in × kH × kW kernels, one stride) and its gradients
/// written out as plain loops summed in float64: the independent oracle that <see cref="ZooNetwork.Conv2d"/> (and so
/// every lane-vs-torch test of the CNNs) is checked against, and that bench <c>conv-check</c> holds libtorch's kernels to.
/// </summary>
internal sealed class Conv2dFloat64
{
    public Conv2dFloat64(int batch, int inChannels, int outChannels, int kernel, int height, int width, int stride)
    {
        (N, Cin, Cout, K, H, W, Stride) = (batch, inChannels, outChannels, kernel, height, width, stride);
        OutHeight = (height - kernel) / stride + 1;
        OutWidth = (width - kernel) / stride + 1;
    }

    public int N { get; }
    public int Cin { get; }
    public int Cout { get; }
    public int K { get; }
    public int H { get; }
    public int W { get; }
    public int Stride { get; }
    public int OutHeight { get; }
    public int OutWidth { get; }

    private int X(int b, int c, int y, int x) => ((b * Cin + c) * H + y) * W + x;
    private int Y(int b, int c, int y, int x) => ((b * Cout + c) * OutHeight + y) * OutWidth + x;
    private int Kernel(int co, int ci, int ky, int kx) => ((co * Cin + ci) * K + ky) * K + kx;

    /// <summary>Visits every (output position, kernel tap) pair: out index, input index, kernel index.</summary>
    private void ForEachTap(Action<int, int, int> tap)
    {
        for (int b = 0; b < N; b++)
            for (int co = 0; co < Cout; co++)
                for (int i = 0; i < OutHeight; i++)
                    for (int j = 0; j < OutWidth; j++)
                        for (int ci = 0; ci < Cin; ci++)
                            for (int ky = 0; ky < K; ky++)
                                for (int kx = 0; kx < K; kx++)
                                    tap(Y(b, co, i, j), X(b, ci, i * Stride + ky, j * Stride + kx), Kernel(co, ci, ky, kx));
    }

    /// <summary>y = conv(x, w) + bias.</summary>
    public double[] Forward(float[] x, float[] w, float[] bias)
    {
        var y = new double[N * Cout * OutHeight * OutWidth];
        ForEachTap((yi, xi, wi) => y[yi] += (double)x[xi] * w[wi]);
        for (int i = 0; i < y.Length; i++) y[i] += bias[i / (OutHeight * OutWidth) % Cout];
        return y;
    }

    /// <summary>dL/dW, dL/dbias and dL/dx for the gradient <paramref name="g"/> that reached y.</summary>
    public (double[] Weight, double[] Bias, double[] Input) Backward(float[] x, float[] w, float[] g)
    {
        var dw = new double[Cout * Cin * K * K];
        var dx = new double[N * Cin * H * W];
        var db = new double[Cout];
        ForEachTap((yi, xi, wi) =>
        {
            dw[wi] += (double)g[yi] * x[xi];
            dx[xi] += (double)g[yi] * w[wi];
        });
        for (int i = 0; i < g.Length; i++) db[i / (OutHeight * OutWidth) % Cout] += g[i];
        return (dw, db, dx);
    }

    /// <summary>The largest |got − exact| relative to max |exact|; +∞ if anything got is not finite.</summary>
    public static double RelativeError(ReadOnlySpan<float> got, double[] exact)
    {
        if (got.Length != exact.Length) throw new ArgumentException($"{got.Length} values against {exact.Length}.");
        double scale = 1e-30, worst = 0;
        foreach (var e in exact) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < got.Length; i++)
        {
            if (!float.IsFinite(got[i])) return double.PositiveInfinity;
            worst = Math.Max(worst, Math.Abs(got[i] - exact[i]) / scale);
        }
        return worst;
    }
}
