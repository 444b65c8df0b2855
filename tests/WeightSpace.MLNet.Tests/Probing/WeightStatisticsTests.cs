using Xunit;

namespace WeightSpace.MLNet.Tests.Probing;

public class WeightStatisticsTests
{
    // numpy.percentile(x, q) with the default 'linear' method, written the obvious way.
    private static double NumpyPercentile(IEnumerable<float> values, double q)
    {
        var s = values.Select(v => (double)v).OrderBy(v => v).ToArray();
        double pos = q / 100 * (s.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    }

    [Fact]
    public void PercentilesMatchNumpysLinearInterpolationOnHandMadeVectors()
    {
        // np.percentile([1, 2, 3, 4], [0, 25, 50, 75, 100]) == [1, 1.75, 2.5, 3.25, 4]
        var q = new float[5];
        Quantiles.Compute(new float[] { 4, 1, 3, 2 }, new double[] { 0, 25, 50, 75, 100 }, q);
        Assert.Equal(new[] { 1f, 1.75f, 2.5f, 3.25f, 4f }, q);
        // np.percentile([10, 0, 5], [1, 99]) == [0.1, 9.9]
        Quantiles.Compute(new float[] { 10, 0, 5 }, new double[] { 1, 99 }, q.AsSpan(0, 2));
        Assert.Equal(0.1f, q[0], 5);
        Assert.Equal(9.9f, q[1], 5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(25)]
    [InlineData(1200)]
    [InlineData(2320)]
    public void SelectionAgreesWithSortingOnRandomVectorsWithTies(int n)
    {
        var rng = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)Math.Round(rng.NextDouble() * 20 - 10, 1)).ToArray();
        var percents = new double[] { 1, 25, 50, 75, 99 };
        var q = new float[5];
        Quantiles.Compute(x, percents, q);
        for (int i = 0; i < 5; i++) Assert.Equal(NumpyPercentile(x, percents[i]), q[i], 4);
    }

    [Fact]
    public void R21FeaturesAreSevenStatisticsPerKernelInLayoutOrderAndUnterthinerAddsTheBiases()
    {
        var layout = new WeightLayout("tiny", new[] { new LayerSpec("a", LayerKind.Linear, 2, 2), new LayerSpec("b", LayerKind.Linear, 2, 1, HasBias: false) });
        // a.weight = [1, 2, 3, 4], a.bias = [10, 20], b.weight = [-1, 1]
        var w = new float[] { 1, 2, 3, 4, 10, 20, -1, 1 };
        var f = new WeightStatisticsFeaturizer(layout, StatisticsVariant.R21);
        Assert.Equal(14, f.FeatureCount); // kernels only, as the authors' LayerQuintiles(use_bias=False)
        var features = new float[14];
        f.Compute(w, features);
        Assert.Equal(new[] { 2.5f, 1.25f, 1.03f, 1.75f, 2.5f, 3.25f, 3.97f }, features[..7].Select(v => MathF.Round(v, 4)));
        Assert.Equal(0f, features[7]);
        Assert.Equal(1f, features[8]);
        Assert.Equal("a.weight.mean", f.FeatureNames[0]);
        Assert.Equal("b.weight.p99", f.FeatureNames[13]);
        var u = new WeightStatisticsFeaturizer(layout, StatisticsVariant.Unterthiner);
        Assert.Equal(21, u.FeatureCount);
        var uf = new float[21];
        u.Compute(w, uf);
        Assert.Equal(new[] { 15f, 5f, 10f, 12.5f, 15f, 17.5f, 20f }, uf[7..14].Select(v => MathF.Round(v, 4))); // a.bias: mean, std, min … max
        Assert.Equal("a.bias.mean", u.FeatureNames[7]);
    }

    [Fact]
    public void UnterthinerVariantUsesStdAndMinMax()
    {
        var layout = new WeightLayout("tiny", new[] { new LayerSpec("a", LayerKind.Linear, 4, 1, HasBias: false) });
        var f = new WeightStatisticsFeaturizer(layout, StatisticsVariant.Unterthiner);
        var features = new float[7];
        f.Compute(new float[] { 1, 2, 3, 4 }, features);
        Assert.Equal(2.5f, features[0]);
        Assert.Equal((float)Math.Sqrt(1.25), features[1], 6);
        Assert.Equal(1f, features[2]);
        Assert.Equal(4f, features[6]);
    }

    [Fact]
    public void Cnn2464HasThirtyFiveR21AndSeventyUnterthinerFeatures()
    {
        Assert.Equal(35, new WeightStatisticsFeaturizer(WeightLayout.Cnn2464).FeatureCount);
        Assert.Equal(70, new WeightStatisticsFeaturizer(WeightLayout.Cnn2464, StatisticsVariant.Unterthiner).FeatureCount);
        Assert.Equal(14, new WeightStatisticsFeaturizer(WeightLayout.TetrisMlp100).FeatureCount);
    }
}
