using TorchSharp;
using WeightSpace.ZooGen.Networks;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.ZooGen;

/// <summary>
/// The TorchSharp reference network's convolutions, held to a float64 sum written out as loops: the output, the weight
/// and bias gradients and the input gradient of every conv layer of the zoo CNNs, at the input size each layer gets in
/// its network. libtorch's own <c>conv2d</c> backward (oneDNN) gives wrong or NaN input gradients on AVX-512 AMD CPUs
/// (bench <c>conv-check</c>), which turned the lane-vs-torch tests red there; the reference therefore convolves with
/// unfold + matmul, and this test fails if that path ever differs from the oracle on any CPU.
/// </summary>
public class ReferenceConvolutionTests
{
    public static TheoryData<string, int, int> Layers()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var name in new[] { "cnn-2464", "cnn-4970" })
        {
            var layout = WeightLayout.BuiltIn[name];
            for (int l = 0; l < layout.Layers.Count; l++)
                if (layout.Layers[l].Kind == LayerKind.Conv2d)
                {
                    data.Add(name, l, 16);
                    if (l == 0) data.Add(name, l, 256); // the full-batch case of PermutationEquivalenceTests
                }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void TheReferenceConvolutionAndItsGradientsMatchAFloat64Sum(string layoutName, int layer, int batch)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        var architecture = NetworkArchitecture.For(layout);
        int opIndex = architecture.Ops.ToList().FindIndex(o => o.Kind == NetworkOpKind.Conv && o.Layer == layer);
        var (cin, h, w) = architecture.Shapes(1, 28, 28)[opIndex]; // the input this layer sees in its network
        var spec = layout.Layers[layer];
        int stride = architecture.Ops[opIndex].Stride;
        var oracle = new Conv2dFloat64(batch, cin, spec.OutFeatures, spec.KernelHeight, h, w, stride);

        var rng = new Random(layer * 1000 + batch);
        float[] Rand(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        var x = Rand(batch * cin * h * w, 1);
        var kernels = Rand(spec.WeightCount, 0.3);
        var bias = Rand(spec.BiasCount, 0.3);
        var upstream = Rand(batch * spec.OutFeatures * oracle.OutHeight * oracle.OutWidth, 1);

        using var scope = NewDisposeScope();
        var xt = tensor(x, new long[] { batch, cin, h, w }).requires_grad_(true);
        var wt = tensor(kernels, new long[] { spec.OutFeatures, cin, spec.KernelHeight, spec.KernelWidth }).requires_grad_(true);
        var bt = tensor(bias).requires_grad_(true);
        var y = ZooNetwork.Conv2d(xt, wt, bt, stride);
        Assert.Equal(new long[] { batch, spec.OutFeatures, oracle.OutHeight, oracle.OutWidth }, y.shape);
        y.backward(new[] { tensor(upstream, y.shape) });

        var exactY = oracle.Forward(x, kernels, bias);
        var (exactW, exactB, exactX) = oracle.Backward(x, kernels, upstream);
        string where = $"{layoutName} {spec.Name} (batch {batch}, {cin}x{h}x{w}, stride {stride})";
        AssertClose(y.data<float>().ToArray(), exactY, $"{where}: output");
        AssertClose(wt.grad!.data<float>().ToArray(), exactW, $"{where}: weight gradient");
        AssertClose(bt.grad!.data<float>().ToArray(), exactB, $"{where}: bias gradient");
        AssertClose(xt.grad!.data<float>().ToArray(), exactX, $"{where}: input gradient");
    }

    [Fact]
    public void TheOracleCatchesAWrongGradient()
    {
        // The check itself can fail: one entry off by 1 % of the largest, or one NaN, is far outside the tolerance.
        var exact = new[] { 1.0, -2.0, 0.5 };
        Assert.True(Conv2dFloat64.RelativeError(new[] { 1f, -2f, 0.5f }, exact) < 1e-7);
        Assert.True(Conv2dFloat64.RelativeError(new[] { 1f, -2f, 0.52f }, exact) > Tolerance);
        Assert.Equal(double.PositiveInfinity, Conv2dFloat64.RelativeError(new[] { 1f, float.NaN, 0.5f }, exact));
        // and the oracle's own sums: a 1-channel 2x2 kernel on a 3x3 input, stride 1, worked by hand
        var conv = new Conv2dFloat64(1, 1, 1, 2, 3, 3, 1);
        var y = conv.Forward(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, new float[] { 1, 0, 0, -1 }, new float[] { 0.5f });
        Assert.Equal(new[] { -3.5, -3.5, -3.5, -3.5 }, y);
        var (dw, db, dx) = conv.Backward(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, new float[] { 1, 0, 0, -1 }, new float[] { 1, 0, 0, 0 });
        Assert.Equal(new double[] { 1, 2, 4, 5 }, dw);
        Assert.Equal(new double[] { 1 }, db);
        Assert.Equal(new double[] { 1, 0, 0, 0, -1, 0, 0, 0, 0 }, dx);
    }

    private const double Tolerance = 1e-4;

    private static void AssertClose(float[] got, double[] exact, string what)
    {
        double error = Conv2dFloat64.RelativeError(got, exact);
        Assert.True(error <= Tolerance, $"{what}: largest difference {error:E2} of the largest exact value (tolerance {Tolerance:E0})");
    }
}
