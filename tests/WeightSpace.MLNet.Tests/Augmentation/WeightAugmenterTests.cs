using Xunit;

namespace WeightSpace.MLNet.Tests.Augmentation;

public class WeightAugmenterTests
{
    private static float[] Ones(WeightLayout layout) => Enumerable.Repeat(1f, layout.ParameterCount).ToArray();

    [Fact]
    public void ErasingZeroesOneContiguousBlockOfTheConfiguredLength()
    {
        var layout = WeightLayout.Cnn2464;
        var aug = new WeightAugmenter(layout, new AugmentationOptions { Permutation = PermutationMode.None, NoiseSigma = 0, EraseProbability = 1, Seed = 3 });
        var dst = new float[layout.ParameterCount];
        for (int row = 0; row < 50; row++)
        {
            aug.Augment(Ones(layout), dst, row);
            int first = Array.IndexOf(dst, 0f), last = Array.LastIndexOf(dst, 0f);
            int zeros = dst.Count(v => v == 0f);
            Assert.Equal(last - first + 1, zeros); // contiguous
            Assert.InRange(zeros, (int)(0.02 * 2464) - 1, (int)(0.33 * 2464) + 1);
        }
    }

    [Fact]
    public void EraseProbabilityIsRespected()
    {
        var layout = WeightLayout.TetrisMlp100;
        var aug = new WeightAugmenter(layout, new AugmentationOptions { Permutation = PermutationMode.None, NoiseSigma = 0, EraseProbability = 0.5, Seed = 9 });
        var dst = new float[100];
        int erased = 0;
        for (int row = 0; row < 2000; row++) { aug.Augment(Ones(layout), dst, row); if (dst.Contains(0f)) erased++; }
        Assert.InRange(erased, 900, 1100);
    }

    [Fact]
    public void AdditiveAndMultiplicativeNoiseHaveTheConfiguredSigma()
    {
        var layout = WeightLayout.Cnn4970;
        var src = Enumerable.Repeat(2f, layout.ParameterCount).ToArray();
        var dst = new float[layout.ParameterCount];
        new WeightAugmenter(layout, new AugmentationOptions { Permutation = PermutationMode.None, EraseProbability = 0, NoiseSigma = 0.1 }).Augment(src, dst, 0);
        var d = dst.Select(v => v - 2.0).ToArray();
        Assert.InRange(d.Average(), -0.01, 0.01);
        Assert.InRange(Math.Sqrt(d.Select(x => x * x).Average()), 0.09, 0.11);
        new WeightAugmenter(layout, new AugmentationOptions { Permutation = PermutationMode.None, EraseProbability = 0, NoiseSigma = 0.1, Noise = NoiseKind.Multiplicative }).Augment(src, dst, 0);
        var m = dst.Select(v => v / 2.0 - 1).ToArray();
        Assert.InRange(Math.Sqrt(m.Select(x => x * x).Average()), 0.09, 0.11);
    }

    [Fact]
    public void SameSeedRowAndViewGiveTheSameAugmentationAndOthersDiffer()
    {
        var layout = WeightLayout.TetrisMlp100;
        var src = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        var a = new WeightAugmenter(layout, new AugmentationOptions { Seed = 4 });
        float[] Run(WeightAugmenter aug, long row, int view) { var d = new float[100]; aug.Augment(src, d, row, view); return d; }
        Assert.Equal(Run(a, 5, 0), Run(new WeightAugmenter(layout, new AugmentationOptions { Seed = 4 }), 5, 0));
        Assert.NotEqual(Run(a, 5, 0), Run(a, 5, 1));
        Assert.NotEqual(Run(a, 5, 0), Run(a, 6, 0));
        Assert.NotEqual(Run(a, 5, 0), Run(new WeightAugmenter(layout, new AugmentationOptions { Seed = 5 }), 5, 0));
    }

    [Fact]
    public void TwoViewsAreIndependentAugmentationsOfEachRow()
    {
        var layout = WeightLayout.TetrisMlp100;
        var batch = Enumerable.Range(0, 300).Select(i => (float)Math.Sin(i)).ToArray();
        var aug = new WeightAugmenter(layout, new AugmentationOptions { NoiseSigma = 0, EraseProbability = 0, Permutation = PermutationMode.Random });
        var (a, b) = aug.TwoViews(batch, rows: 3, firstRowKey: 0);
        Assert.Equal(300, a.Length);
        Assert.NotEqual(a, b);
        for (int r = 0; r < 3; r++) // without noise/erasing each view is a permutation: same multiset of values
            Assert.Equal(batch.AsSpan(r * 100, 100).ToArray().OrderBy(v => v), a.AsSpan(r * 100, 100).ToArray().OrderBy(v => v));
        Assert.Throws<ArgumentException>(() => aug.TwoViews(batch, rows: 4, firstRowKey: 0));
    }

    [Fact]
    public void MultiplyGivesKDistinctCopiesPerRow()
    {
        var layout = WeightLayout.TetrisMlp100;
        var rows = Enumerable.Range(0, 3).Select(r => Enumerable.Range(0, 100).Select(i => (float)(i * (r + 1))).ToArray()).ToList();
        var copies = new WeightAugmenter(layout).Multiply(rows, 4).ToList();
        Assert.Equal(12, copies.Count);
        Assert.Equal(12, copies.Select(c => string.Join(",", c)).Distinct().Count());
    }

    [Fact]
    public void PoolDrawsOnlyPooledPermutations()
    {
        var layout = WeightLayout.TetrisMlp100;
        var src = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        var aug = new WeightAugmenter(layout, new AugmentationOptions { Permutation = PermutationMode.Pool, PermutationPoolSize = 3, NoiseSigma = 0, EraseProbability = 0 });
        var distinct = Enumerable.Range(0, 200).Select(r => { var d = new float[100]; aug.Augment(src, d, r); return string.Join(",", d); }).Distinct().Count();
        Assert.InRange(distinct, 1, 3);
    }

    [Fact]
    public void InvalidOptionsAreRefusedWithTheirName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAugmenter(WeightLayout.TetrisMlp100, new AugmentationOptions { EraseProbability = 1.5 }));
        Assert.Contains("EraseProbability", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAugmenter(WeightLayout.TetrisMlp100, new AugmentationOptions { NoiseSigma = -1 }));
    }
}
