using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace WeightSpace.MLNet.Tests.Probing;

public class RidgeProbeTests
{
    private sealed class Row
    {
        [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
        public int ModelId { get; set; }
        public string Kind { get; set; } = "";
    }

    private static List<Row> Rows(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            var f = new[] { (float)rng.NextDouble(), (float)rng.NextDouble() * 10, (float)rng.NextDouble() };
            return new Row { Features = f, Label = 2 * f[0] - 0.3f * f[1] + 0.5f + (float)(rng.NextDouble() - 0.5) * 0.01f, ModelId = i / 5, Kind = i % 2 == 0 ? "a" : "b" };
        }).ToList();
    }

    [Fact]
    public void RecoversALinearFunctionAndGivesAStockModelThatMLNetSavesAndLoads()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Rows(400, 1));
        var trainer = ml.Regression.Trainers.WeightSpaceRidge("Label", "Features");
        var model = trainer.Fit(data);
        var w = model.Model.Weights.ToArray();
        Assert.Equal(2, w[0], 1);
        Assert.Equal(-0.3, w[1], 2);
        Assert.Equal(0.5, model.Model.Bias, 1);
        Assert.NotNull(trainer.LastChoice);
        Assert.True(trainer.LastChoice!.Value.ValidationR2 > 0.99);
        var metrics = ml.Regression.Evaluate(model.Transform(data));
        Assert.True(metrics.RSquared > 0.99);
        using var tmp = new TempDir();
        ml.Model.Save(model, data.Schema, tmp.Sub("ridge.zip")); // no library code needed to load it
        var loaded = ml.Model.Load(tmp.Sub("ridge.zip"), out _);
        Assert.Equal(model.Transform(data).GetColumn<float>("Score").ToArray(), loaded.Transform(data).GetColumn<float>("Score").ToArray());
    }

    [Fact]
    public void BothConventionsAgreeOnEasyDataAndTheClosedFormMatchesTheNormalEquations()
    {
        var rows = Rows(200, 2);
        var x = rows.SelectMany(r => r.Features).ToArray();
        var y = rows.Select(r => r.Label).ToArray();
        var r21 = RidgeRegression.Fit(x, y, 3, 1e-3, RidgeConvention.R21);
        var std = RidgeRegression.Fit(x, y, 3, 1e-3, RidgeConvention.Standardized);
        Assert.Equal(r21.Weights[0], std.Weights[0], 2);
        Assert.Equal(r21.Bias, std.Bias, 2);
        // R21: w = (XᵀX + λI)⁻¹ Xᵀy with a ones column, solved here by Gaussian elimination as a check.
        int n = y.Length, k = 4;
        var a = new double[k, k + 1];
        for (int r = 0; r < n; r++)
        {
            var row = new double[] { x[r * 3], x[r * 3 + 1], x[r * 3 + 2], 1 };
            for (int i = 0; i < k; i++) { for (int j = 0; j < k; j++) a[i, j] += row[i] * row[j]; a[i, k] += row[i] * y[r]; }
        }
        for (int i = 0; i < k; i++) a[i, i] += 1e-3;
        for (int c = 0; c < k; c++)
            for (int r = 0; r < k; r++)
                if (r != c) { double f = a[r, c] / a[c, c]; for (int j = c; j <= k; j++) a[r, j] -= f * a[c, j]; }
        for (int i = 0; i < 3; i++) Assert.Equal(a[i, k] / a[i, i], r21.Weights[i], 6);
        Assert.Equal(a[3, k] / a[3, 3], r21.Bias, 6);
    }

    [Fact]
    public void AFeatureThatVariesOnlyByFloatRoundingGetsNoWeightWhenStandardised()
    {
        // Column 3 is the constant 1000 give or take a few float32 steps (6.1e-5 each): rounding, not signal. Standardised,
        // it would be unit-variance noise that a weakly penalised probe fits to the labels' noise.
        var rows = Rows(300, 3);
        var rng = new Random(4);
        var x = rows.SelectMany(r => new[] { r.Features[0], r.Features[1], r.Features[2], 1000f + rng.Next(-3, 4) * 6.1035156e-5f }).ToArray();
        var y = rows.Select(r => r.Label).ToArray();
        Assert.True(x.Where((_, i) => i % 4 == 3).Distinct().Count() > 3);   // the column really varies
        var withNoise = RidgeRegression.Fit(x, y, 4, 1e-5);
        Assert.Equal(0, withNoise.Weights[3]);
        var without = RidgeRegression.Fit(rows.SelectMany(r => r.Features).ToArray(), y, 3, 1e-5);
        for (int j = 0; j < 3; j++) Assert.Equal(without.Weights[j], withNoise.Weights[j], 9);
        // A column of the same spread around zero is a real (small) feature and keeps its weight.
        var small = rows.SelectMany((r, i) => new[] { r.Features[0], r.Features[1], r.Features[2], (r.Label - 0.5f) * 1e-4f }).ToArray();
        Assert.NotEqual(0, RidgeRegression.Fit(small, y, 4, 1e-5).Weights[3]);
    }

    [Fact]
    public void BadLabelsAreNamed()
    {
        var ml = new MLContext(1);
        var rows = Rows(50, 3);
        foreach (var r in rows) r.Label = 4;
        var constant = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.WeightSpaceRidge("Label", "Features").Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("constant", constant.Message);
        var data = ml.Data.LoadFromEnumerable(Rows(50, 4));
        Assert.Contains("'Nope' not found", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.WeightSpaceRidge("Nope", "Features").Fit(data)).Message);
        Assert.Contains("classifier", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.WeightSpaceRidge("Kind", "Features").Fit(data)).Message);
        var empty = ml.Data.FilterRowsByColumn(data, "Label", 100, 200);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.WeightSpaceRidge("Label", "Features").Fit(empty)).Message);
    }
}

public class RidgeGridTests
{
    [Fact]
    public void TheDefaultGridReachesTheScaleOfTheData()
    {
        Assert.Equal(RidgeRegression.PaperLambdas, RidgeRegression.DataLambdas(50));
        var grid = RidgeRegression.DataLambdas(2e4);
        Assert.Equal(new[] { 1e5, 3e4, 1e4, 3e3 }, grid.Take(4));
        Assert.Equal(RidgeRegression.PaperLambdas, grid.Skip(4));
    }

    [Fact]
    public void OnPureNoiseTheDefaultGridShrinksBeyondThePapersLargestLambda()
    {
        // 60 rows of 300 noise features and a noise label: the best fit is (almost) no fit, which λ ≤ 1e3 cannot reach
        // when XᵀX's eigenvalues are in the thousands.
        var rng = new Random(5);
        float[] Noise(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int k = 300;
        var (xt, yt, xv, yv) = (Noise(60 * k), Noise(60), Noise(60 * k), Noise(60));
        var paper = RidgeRegression.Fit(xt, yt, xv, yv, k, lambdas: RidgeRegression.PaperLambdas);
        var data = RidgeRegression.Fit(xt, yt, xv, yv, k);
        Assert.Equal(1e3, paper.Lambda);
        Assert.True(data.Lambda > 1e3, $"λ {data.Lambda}");
        Assert.True(data.ValidationR2 > paper.ValidationR2, $"{data.ValidationR2} vs {paper.ValidationR2}");
    }
}
