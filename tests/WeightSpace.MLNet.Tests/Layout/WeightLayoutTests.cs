using Xunit;

namespace WeightSpace.MLNet.Tests.Layout;

public class WeightLayoutTests
{
    [Fact]
    public void BuiltInLayoutsHaveThePapersParameterCounts()
    {
        Assert.Equal(100, WeightLayout.TetrisMlp100.ParameterCount);
        Assert.Equal(2464, WeightLayout.Cnn2464.ParameterCount);
        Assert.Equal(4970, WeightLayout.Cnn4970.ParameterCount);
        Assert.Equal(new[] { 208, 1206, 100, 740, 210 }, WeightLayout.Cnn2464.Layers.Select(l => l.ParameterCount));
        Assert.Equal(new[] { 160, 2320, 2320, 170 }, WeightLayout.Cnn4970.Layers.Select(l => l.ParameterCount));
        Assert.Equal(new[] { 80, 20 }, WeightLayout.TetrisMlp100.Layers.Select(l => l.ParameterCount));
    }

    [Fact]
    public void NeuronTokensHaveThePapersSizes()
    {
        var cnn = WeightLayout.Cnn2464;
        Assert.Equal(48, cnn.TokenCount);
        Assert.Equal(new[] { 26, 201, 25, 37, 21 }, cnn.Layers.Select(l => l.TokenSize));
        Assert.Equal(9, WeightLayout.TetrisMlp100.TokenCount);
        Assert.Equal(new[] { 16, 5 }, WeightLayout.TetrisMlp100.Layers.Select(l => l.TokenSize));
    }

    [Fact]
    public void ConvToFlattenToLinearGivesEachChannelABlockOfNine()
    {
        Assert.Equal(9, WeightLayout.Cnn2464.InputBlockSize(3));
        Assert.Equal(25, WeightLayout.Cnn2464.InputBlockSize(1));
        Assert.Equal(1, WeightLayout.Cnn2464.InputBlockSize(4));
        Assert.Equal(1, WeightLayout.Cnn4970.InputBlockSize(3)); // global average pooling: one input per channel
    }

    [Fact]
    public void TokensFollowOutMajorWeightsThenBiases()
    {
        var layout = WeightLayout.Cnn2464;
        var w = Enumerable.Range(0, layout.ParameterCount).Select(i => (float)i).ToArray();
        var token = new float[26];
        layout.CopyToken(w, layer: 0, unit: 2, token);
        Assert.Equal(50f, token[0]);      // unit 2 starts at 2*25
        Assert.Equal(74f, token[24]);
        Assert.Equal(202f, token[25]);    // biases of conv1 start at 200
        var copy = new float[layout.ParameterCount];
        for (int t = 0; t < layout.TokenCount; t++)
        {
            var (l, u) = layout.TokenOwner(t);
            var tok = new float[layout.Layers[l].TokenSize];
            layout.CopyToken(w, l, u, tok);
            layout.WriteToken(copy, l, u, tok);
        }
        Assert.Equal(w, copy);
    }

    [Fact]
    public void JsonRoundTripGivesAnEqualLayout()
    {
        var json = WeightLayout.Cnn2464.ToJson();
        var back = WeightLayout.FromJson(json);
        Assert.Equal(WeightLayout.Cnn2464, back);
        Assert.Equal(2464, back.ParameterCount);
        Assert.Contains("\"conv2d\"", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void LayersThatDoNotChainAreRefusedWithTheirNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new WeightLayout("bad", new[]
        {
            new LayerSpec("a", LayerKind.Linear, 4, 3),
            new LayerSpec("b", LayerKind.Linear, 5, 2),
        }));
        Assert.Contains("'b'", e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void WrongVectorLengthNamesBothSizes()
    {
        var e = Assert.Throws<ArgumentException>(() => WeightLayout.TetrisMlp100.CopyToken(new float[99], 0, 0, new float[16]));
        Assert.Contains("99", e.Message);
        Assert.Contains("100", e.Message);
    }
}
