using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Representation;

/// <summary>The encoder computed in C# (AutoencoderInference) against the TorchSharp module it copies.</summary>
public class AutoencoderInferenceTests
{
    public static TheoryData<string, TokenEncoding, bool, bool, int, int, int, int> Architectures() => new()
    {
        // layout, tokens, compression token, token statistics, d, heads, d_ff, latent
        { "tetris-mlp-100", TokenEncoding.Neuron, true, true, 64, 4, 128, 512 },
        { "tetris-mlp-100", TokenEncoding.Neuron, false, false, 64, 4, 128, 48 },
        { "tetris-mlp-100", TokenEncoding.Weight, true, false, 32, 2, 64, 40 },
        { "tetris-mlp-100", TokenEncoding.Neuron, true, true, 24, 4, 40, 20 },   // d, d_ff, latent not whole panels; d_h = 6
        { "cnn-2464", TokenEncoding.Neuron, true, true, 48, 4, 96, 128 },          // five token sizes
        { "mlp-7-5-3", TokenEncoding.Neuron, false, true, 16, 1, 16, 12 },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ItGivesTheModulesLatentsForEveryArchitecture(string layoutName, TokenEncoding encoding, bool compression, bool statistics, int d, int heads, int ff, int latent)
    {
        var layout = WeightLayout.Parse(layoutName);
        var options = WeightEmbeddingOptions.CpuDefault with
        {
            Encoding = encoding, CompressionToken = compression, TokenStatistics = statistics, ModelDim = d, Heads = heads, FeedForwardDim = ff, LatentDim = latent,
        };
        random.manual_seed(3);
        using var model = WeightAutoencoder.Create(layout, options);
        model.eval();
        int rows = 37, p = layout.ParameterCount;   // not a whole number of blocks or register tiles
        var rng = new Random(4);
        var weights = new float[rows * p];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 7 == 0 ? 3f : 0.5f);
        float[] expected, expectedReconstruction;
        using (no_grad())
        using (var input = tensor(weights, new long[] { rows, p }))
        using (var z = model.Encode(input))
        using (var decoded = model.Decode(z))
        {
            expected = z.data<float>().ToArray();
            expectedReconstruction = decoded.data<float>().ToArray();
        }

        var encoder = AutoencoderInference.For(model)!;
        var actual = new float[rows * latent];
        encoder.Encode(weights, rows, actual, threads: 2);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst < 2e-5, $"largest difference from the module: {worst:G3}");
        Assert.Contains(actual, v => Math.Abs(v) > 0.05f);   // not a trivially small latent
        // The reconstruction too (its values are larger: held to their scale).
        var reconstruction = new float[rows * p];
        var again = new float[rows * latent];
        encoder.EncodeAndDecode(weights, rows, again, reconstruction, threads: 2);
        Assert.Equal(actual, again);
        double scale = expectedReconstruction.Max(v => Math.Abs(v)), off = expectedReconstruction.Zip(reconstruction, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(off < 2e-5 * Math.Max(1, scale), $"largest difference of the reconstruction: {off:G3} (largest value {scale:G3})");

        // A row's latent does not depend on the rows encoded with it or on the number of threads (the same code path).
        var alone = new float[3 * latent];
        encoder.Encode(weights.AsSpan(10 * p, 3 * p), 3, alone, threads: 1);
        Assert.Equal(actual.AsSpan(10 * latent, 3 * latent).ToArray(), alone);
    }

    [Fact]
    public void TheFullyConnectedAutoencoderHasNoCSharpEncoderAndWrongSizesAreNamed()
    {
        using var fc = WeightAutoencoder.Create(WeightLayout.TetrisMlp100, WeightEmbeddingOptions.CpuDefault with { Kind = AutoencoderKind.FullyConnected });
        Assert.Null(AutoencoderInference.For(fc));
        using var model = WeightAutoencoder.Create(WeightLayout.TetrisMlp100, WeightEmbeddingOptions.CpuDefault);
        var encoder = AutoencoderInference.For(model)!;
        Assert.Contains("need 200 weights", Assert.Throws<ArgumentException>(() => encoder.Encode(new float[199], 2, new float[2 * encoder.LatentDim], 1)).Message);
        Assert.Contains("latent values", Assert.Throws<ArgumentException>(() => encoder.Encode(new float[200], 2, new float[7], 1)).Message);
    }
}
