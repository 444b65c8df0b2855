using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Representation;

public class ContrastiveLossTests
{
    private static Tensor T(float[,] v) => tensor(v.Cast<float>().ToArray(), new long[] { v.GetLength(0), v.GetLength(1) });

    [Fact]
    public void NtXentEqualsTheHandComputedValue()
    {
        // Views e1, e2 and again e1, e2; τ = 1. Row 0's logits (self masked): [−, 0, 1, 0] with its positive at 2, so its
        // loss is −1 + log(e⁰ + e¹ + e⁰) = log(2 + e) − 1; by symmetry every row has that loss, and the mean too.
        using var inverseTemperature = 1.0.ToScalar();
        var a = T(new float[,] { { 1, 0 }, { 0, 1 } });
        var b = T(new float[,] { { 2, 0 }, { 0, 3 } }); // lengths do not matter: cosine similarity
        double expected = Math.Log(2 + Math.E) - 1;
        Assert.Equal(expected, ContrastiveLosses.NtXent(a, b, inverseTemperature).item<float>(), 5);
    }

    [Fact]
    public void NtXentWithTemperatureAndUnequalPairsMatchesTheFormula()
    {
        // a0 = (1, 0), a1 = (0, 1), b0 = (1, 1)/√2, b1 = (1, 0); τ = 0.5. Row by row: logits = cos/τ, self excluded, positive i ± 2.
        using var inverseTemperature = 2.0.ToScalar();
        var a = T(new float[,] { { 1, 0 }, { 0, 1 } });
        var b = T(new float[,] { { 1, 1 }, { 1, 0 } });
        var z = new[] { new[] { 1.0, 0 }, new[] { 0, 1.0 }, new[] { Math.Sqrt(0.5), Math.Sqrt(0.5) }, new[] { 1.0, 0 } };
        double total = 0;
        for (int i = 0; i < 4; i++)
        {
            int positive = (i + 2) % 4;
            double denominator = 0;
            for (int k = 0; k < 4; k++) if (k != i) denominator += Math.Exp(2 * (z[i][0] * z[k][0] + z[i][1] * z[k][1]));
            double logit = 2 * (z[i][0] * z[positive][0] + z[i][1] * z[positive][1]);
            total += -logit + Math.Log(denominator);
        }
        Assert.Equal(total / 4, ContrastiveLosses.NtXent(a, b, inverseTemperature).item<float>(), 5);
    }

    [Fact]
    public void PositiveOnlyPullsIdenticalViewsToItsMinimum()
    {
        var a = T(new float[,] { { 1, 2 }, { -1, 0.5f } });
        Assert.Equal(-1f, ContrastiveLosses.PositiveOnly(a, a * 3).item<float>(), 5);
        Assert.Equal(1f, ContrastiveLosses.PositiveOnly(a, a.neg()).item<float>(), 5);
    }
}
