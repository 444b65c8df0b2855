using Xunit;

namespace WeightSpace.MLNet.Tests.Representation;

public class WeightTokenizerTests
{
    public static IEnumerable<object[]> Layouts => new[]
    {
        new object[] { "tetris-mlp-100", 9, new[] { 16, 5 } },
        new object[] { "cnn-2464", 48, new[] { 26, 201, 25, 37, 21 } },
        new object[] { "cnn-4970", 58, new[] { 10, 145, 145, 17 } }, // 3 × 16 kernels + 10 neurons
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void NeuronTokensHaveThePapersCountsAndSizesAndScatterBackExactly(string name, int tokens, int[] sizes)
    {
        var layout = WeightLayout.BuiltIn[name];
        var tok = new WeightTokenizer(layout, TokenEncoding.Neuron);
        Assert.Equal(tokens, tok.TokenCount);
        Assert.Equal(sizes, tok.Groups.Select(g => g.Size));
        var rng = new Random(3);
        var w = Enumerable.Range(0, layout.ParameterCount).Select(_ => (float)rng.NextDouble()).ToArray();
        var split = tok.Split(w);
        Assert.Equal(layout.ParameterCount, split.Length);
        Assert.Equal(w, tok.Scatter(split));
        // Every token equals the layout's own view of that unit (incoming weights, then bias).
        int offset = 0;
        for (int l = 0; l < layout.Layers.Count; l++)
            for (int u = 0; u < layout.Layers[l].OutFeatures; u++)
            {
                var expected = new float[layout.Layers[l].TokenSize];
                layout.CopyToken(w, l, u, expected);
                Assert.Equal(expected, split.AsSpan(offset, expected.Length).ToArray());
                offset += expected.Length;
            }
    }

    [Fact]
    public void WeightTokensAreOneScalarEachInLayoutOrder()
    {
        var tok = new WeightTokenizer(WeightLayout.Cnn2464, TokenEncoding.Weight);
        Assert.Equal(2464, tok.TokenCount);
        var w = Enumerable.Range(0, 2464).Select(i => (float)i).ToArray();
        Assert.Equal(w, tok.Split(w));
        Assert.Equal(w, tok.Scatter(w));
    }

    [Fact]
    public void AWrongVectorSizeIsNamed()
    {
        var tok = new WeightTokenizer(WeightLayout.TetrisMlp100, TokenEncoding.Neuron);
        var e = Assert.Throws<ArgumentException>(() => tok.Split(new float[99]));
        Assert.Contains("99", e.Message);
        Assert.Contains("100", e.Message);
        Assert.Throws<ArgumentException>(() => tok.Scatter(new float[101]));
    }
}
