using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Supervised;

/// <summary>The supervised predictor's gradients computed in C# (CpuPredictorTraining) against libtorch's autograd of the same network and loss.</summary>
public class CpuPredictorTrainingTests
{
    [Theory]
    [InlineData(1, false, 0, 64)]    // a number, no statistics, two slots
    [InlineData(3, true, 5, 21)]     // three categories next to five statistics, one slot
    public void GradientsMatchAutograd(int outputs, bool classifier, int statistics, int batch)
    {
        var layout = WeightLayout.TetrisMlp100;
        var o = WeightSpacePredictorOptions.DefaultEncoder(layout) with { ModelDim = 32, FeedForwardDim = 48, LatentDim = 24 };
        random.manual_seed(11);
        using var network = new PredictorNetwork(WeightAutoencoder.Create(layout, o), o.LatentDim, statistics, 16, outputs);
        int p = layout.ParameterCount;
        var rng = new Random(12);
        var x = Enumerable.Range(0, batch * p).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var stats = Enumerable.Range(0, batch * statistics).Select(_ => (float)rng.NextGaussian()).ToArray();
        var y = Enumerable.Range(0, batch).Select(_ => classifier ? rng.Next(outputs) : (float)rng.NextGaussian()).Select(v => (float)v).ToArray();

        var expected = new Dictionary<string, float[]>();
        double expectedLoss;
        network.train();
        using (var scope = NewDisposeScope())
        {
            var output = network.call(tensor(x, new long[] { batch, p }), statistics > 0 ? tensor(stats, new long[] { batch, statistics }) : null);
            var loss = classifier ? nn.functional.cross_entropy(output, tensor(y.Select(v => (long)v).ToArray()))
                : nn.functional.mse_loss(output.squeeze(1), tensor(y), nn.Reduction.Mean);
            loss.backward();
            expectedLoss = loss.item<float>();
            foreach (var (name, parameter) in network.named_parameters())
                expected[name] = parameter.grad is null ? new float[parameter.numel()] : parameter.grad.data<float>().ToArray();
        }

        var training = new CpuPredictorTraining(network, (TransformerAutoencoder)network.Autoencoder, statistics, outputs, classifier, 16, batch, 1e-2, threads: 2);
        double actualLoss = training.Backward(x, stats, y, batch);
        Assert.True(Math.Abs(expectedLoss - actualLoss) <= 1e-5 * expectedLoss, $"loss {actualLoss} against {expectedLoss}");
        var gradient = training.Gradient.ToArray();
        foreach (var name in training.Parameters.Names)
        {
            var (offset, length) = training.Parameters[name];
            var want = expected[name];
            var got = gradient.AsSpan(offset, length).ToArray();
            double scale = want.Max(v => Math.Abs(v)), worst = want.Zip(got, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 2e-3 * scale + 1e-7, $"{name}: largest difference {worst:G3} against a largest gradient of {scale:G3}");
        }
        Assert.Contains(training.Parameters.Names, n => n.StartsWith("head.") && expected[n].Any(v => v != 0));
    }
}

internal static class RandomExtensions
{
    public static double NextGaussian(this Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
