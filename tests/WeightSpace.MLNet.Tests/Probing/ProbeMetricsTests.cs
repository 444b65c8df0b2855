using Xunit;

namespace WeightSpace.MLNet.Tests.Probing;

public class ProbeMetricsTests
{
    [Fact]
    public void KendallTauMatchesHandComputedValues()
    {
        // x = 1..5, y = 3 1 2 5 4: of the 10 pairs, (1,2) (1,3) (4,5) are discordant, 7 concordant: τ = (7 − 3) / 10.
        Assert.Equal(0.4, ProbeMetrics.KendallTau(new double[] { 1, 2, 3, 4, 5 }, new double[] { 3, 1, 2, 5, 4 }), 12);
        // Ties: x = 1 1 2 3, y = 1 2 2 3. Pairs: (1,2) tied in x; (2,3) tied in y; the other 4 concordant.
        // n0 = 6, n1 = 1, n2 = 1: τ-b = 4 / √(5·5) = 0.8.
        Assert.Equal(0.8, ProbeMetrics.KendallTau(new double[] { 1, 1, 2, 3 }, new double[] { 1, 2, 2, 3 }), 12);
        Assert.Equal(-1, ProbeMetrics.KendallTau(new double[] { 1, 2, 3 }, new double[] { 3, 2, 1 }), 12);
        Assert.True(double.IsNaN(ProbeMetrics.KendallTau(new double[] { 1, 1, 1 }, new double[] { 1, 2, 3 })));
    }

    [Fact]
    public void KendallTauEqualsTheQuadraticDefinitionOnRandomDataWithTies()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 20; trial++)
        {
            int n = rng.Next(2, 60);
            var x = Enumerable.Range(0, n).Select(_ => (double)rng.Next(6)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (double)rng.Next(6)).ToArray();
            long c = 0, d = 0, tx = 0, ty = 0;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double s = Math.Sign(x[i] - x[j]) * Math.Sign(y[i] - y[j]);
                    if (s > 0) c++; else if (s < 0) d++;
                    if (x[i] == x[j]) tx++;
                    if (y[i] == y[j]) ty++;
                }
            long n0 = (long)n * (n - 1) / 2;
            double expected = (n0 - tx) * (double)(n0 - ty) > 0 ? (c - d) / Math.Sqrt((double)(n0 - tx) * (n0 - ty)) : double.NaN;
            Assert.Equal(expected, ProbeMetrics.KendallTau(x, y), 10);
        }
    }

    [Fact]
    public void RSquaredAndAccuracy()
    {
        Assert.Equal(1, ProbeMetrics.RSquared(new double[] { 1, 2, 3 }, new double[] { 1, 2, 3 }), 12);
        Assert.Equal(0, ProbeMetrics.RSquared(new double[] { 1, 2, 3 }, new double[] { 2, 2, 2 }), 12);
        Assert.Equal(0.5, ProbeMetrics.Accuracy(new[] { "a", "b", "a", "c" }, new[] { "a", "a", "a", "b" }), 12);
        Assert.Throws<ArgumentException>(() => ProbeMetrics.RSquared(new double[] { 1, 2 }, new double[] { 1 }));
    }
}
