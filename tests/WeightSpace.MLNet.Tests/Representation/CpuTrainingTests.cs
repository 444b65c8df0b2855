using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Representation;

/// <summary>The autoencoder's gradients computed in C# (CpuAutoencoderTraining) against libtorch's autograd of the same module and loss.</summary>
public class CpuTrainingTests
{
    public static TheoryData<string, RepresentationTask, bool, bool, int, int, int, int> Cases() => new()
    {
        // layout, task, compression token, token statistics, d, heads, d_ff, latent
        { "tetris-mlp-100", RepresentationTask.ReconstructionAndContrast, true, true, 64, 4, 128, 96 },
        { "tetris-mlp-100", RepresentationTask.Reconstruction, false, false, 24, 4, 40, 20 },          // d_h = 6, no compression token
        { "tetris-mlp-100", RepresentationTask.Contrast, true, true, 32, 2, 48, 40 },
        { "tetris-mlp-100", RepresentationTask.ReconstructionAndPositiveContrast, true, false, 16, 1, 16, 24 },
        { "cnn-2464", RepresentationTask.ReconstructionAndContrast, true, true, 32, 4, 64, 64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchAutograd(string layoutName, RepresentationTask task, bool compression, bool statistics, int d, int heads, int ff, int latent)
    {
        var layout = WeightLayout.Parse(layoutName);
        var o = WeightEmbeddingOptions.CpuDefault with
        {
            Task = task, CompressionToken = compression, TokenStatistics = statistics, ModelDim = d, Heads = heads, FeedForwardDim = ff, LatentDim = latent,
        };
        random.manual_seed(7);
        using var model = (TransformerAutoencoder)WeightAutoencoder.Create(layout, o);
        using var head = new ProjectionHead(o.LatentDim, o.ProjectionHead);
        model.train();
        head.train();
        int batch = 13, p = layout.ParameterCount;
        var rng = new Random(8);
        float[] View() => Enumerable.Range(0, batch * p).Select(i => (float)(rng.NextDouble() * 2 - 1) * (i % 5 == 0 ? 2f : 0.3f)).ToArray();
        var (a, b) = (View(), View());
        using var inverseTemperature = (1.0 / o.Temperature).ToScalar();
        Tensor Contrast(Tensor latentRows)
        {
            var projected = head.call(latentRows);
            var (pa, pb) = (projected.narrow(0, 0, batch), projected.narrow(0, batch, batch));
            return task == RepresentationTask.ReconstructionAndPositiveContrast ? ContrastiveLosses.PositiveOnly(pa, pb) : ContrastiveLosses.NtXent(pa, pb, inverseTemperature);
        }
        double gamma = o.UsesContrast && o.UsesReconstruction ? o.Gamma : 1;

        // libtorch's autograd: the loss of RepresentationTrainer
        var expected = new Dictionary<string, float[]>();
        double expectedMse = double.NaN, expectedContrast = double.NaN;
        using (var scope = NewDisposeScope())
        {
            var input = cat(new[] { tensor(a, new long[] { batch, p }), tensor(b, new long[] { batch, p }) }, 0);
            var z = model.Encode(input);
            Tensor? mse = o.UsesReconstruction ? nn.functional.mse_loss(model.Decode(z), input, nn.Reduction.Mean) : null;
            Tensor? contrast = o.UsesContrast ? Contrast(z) : null;
            var loss = (mse, contrast) switch
            {
                ({ } m, { } c) => c.mul(o.Gamma).add(m, 1 - o.Gamma),
                ({ } m, null) => m,
                (null, { } c) => c,
                _ => throw new InvalidOperationException(),
            };
            loss.backward();
            if (mse is not null) expectedMse = mse.item<float>();
            if (contrast is not null) expectedContrast = contrast.item<float>();
            foreach (var (name, parameter) in model.named_parameters())
                expected[name] = parameter.grad is null ? new float[parameter.numel()] : parameter.grad.data<float>().ToArray();
        }

        var headGradients = head.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.data<float>().ToArray() ?? Array.Empty<float>());
        foreach (var parameter in head.parameters()) parameter.grad?.zero_();
        var training = new CpuAutoencoderTraining(model, o, head, 2 * batch, threads: 2);
        var (actualMse, actualContrast) = training.Backward(a, b, batch, o.UsesContrast ? z => Contrast(z) : null);
        if (o.UsesReconstruction) Assert.True(Math.Abs(expectedMse - actualMse) <= 1e-5 * expectedMse, $"MSE {actualMse} against {expectedMse}");
        if (o.UsesContrast) Assert.True(Math.Abs(expectedContrast - actualContrast) <= 1e-5 * Math.Abs(expectedContrast), $"contrast {actualContrast} against {expectedContrast}");
        // The projection head: in C# for NT-Xent, libtorch's own for the positive-only term.
        Assert.Equal(task is RepresentationTask.Contrast or RepresentationTask.ReconstructionAndContrast, training.Contrast is not null);
        // (A bias before a batch norm has no gradient but rounding noise: each parameter is held to the head's largest gradient.)
        if (training.Contrast is { } cpuHead)
        {
            double headScale = headGradients.Values.SelectMany(v => v).Max(v => Math.Abs(v));
            foreach (var name in cpuHead.Parameters.Names)
            {
                var (offset, length) = cpuHead.Parameters[name];
                var want = headGradients[name];
                double worst = want.Zip(cpuHead.Gradient.Slice(offset, length).ToArray(), (x, y) => Math.Abs(x - y)).Max();
                Assert.True(worst <= 2e-3 * headScale, $"head {name}: largest difference {worst:G3} against the head's largest gradient {headScale:G3}");
            }
        }
        var gradient = training.Gradient.ToArray();
        int checkedNonZero = 0;
        foreach (var name in training.Parameters.Names)
        {
            var (offset, length) = training.Parameters[name];
            var want = expected[name];
            var got = gradient.AsSpan(offset, length).ToArray();
            double scale = want.Max(v => Math.Abs(v)), worst = want.Zip(got, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 2e-3 * scale + 1e-7, $"{name}: largest difference {worst:G3} against a largest gradient of {scale:G3}");
            if (scale > 0) checkedNonZero++;
        }
        Assert.True(checkedNonZero > training.Parameters.Names.Count / 2);
    }
}
