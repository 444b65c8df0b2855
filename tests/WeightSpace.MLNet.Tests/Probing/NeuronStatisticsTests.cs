using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace WeightSpace.MLNet.Tests.Probing;

public class NeuronStatisticsTests
{
    [Fact]
    public void EachNeuronTokenGivesItsMeanLogMeanSquareAndLogMaxAbs()
    {
        var layout = WeightLayout.Mlp(2, 2, 1);   // tokens: 2 hidden units of (2 weights + bias), 1 output of (2 + bias)
        var weights = new float[layout.ParameterCount];
        for (int i = 0; i < weights.Length; i++) weights[i] = i - 4;   // fc1.w = -4..-1, fc1.b = 0, 1; fc2.w = 2, 3; fc2.b = 4
        var f = new NeuronStatisticsFeaturizer(layout);
        Assert.Equal(9, f.FeatureCount);
        var features = new float[f.FeatureCount];
        f.Compute(weights, features);
        // Unit 0 of fc1: incoming -4, -3 and bias 0.
        Assert.Equal(-7 / 3f, features[0], 5);
        Assert.Equal(Math.Log(25 / 3.0 + 1e-6), features[1], 5);
        Assert.Equal(Math.Log(4 + 1e-6), features[2], 5);
        // The output unit: 2, 3 and bias 4.
        Assert.Equal(3f, features[6], 5);
        Assert.Equal(Math.Log(29 / 3.0 + 1e-6), features[7], 5);
        Assert.Equal("fc2.0.logMaxAbs", f.FeatureNames[8]);
        Assert.Throws<ArgumentException>(() => f.Compute(weights, new float[3]));
    }

    [Fact]
    public void TheTransformAddsTheFeaturesAndSavesAndLoads()
    {
        var ml = new MLContext(1);
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        WeightSpace.MLNet.Tests.Zoo.ZooTestData.Write(tmp.Sub("zoo"), layout, 3, 2);
        var zoo = ml.Data.LoadZoo(tmp.Sub("zoo"));
        var t = ml.Transforms.NeuronStatistics("F", ZooColumns.Weights, layout).Fit(zoo);
        var rows = t.Transform(zoo).GetColumn<float[]>("F").ToArray();
        Assert.All(rows, r => Assert.Equal(9 * 3, r.Length));
        t.Save(tmp.Sub("n.wstransformer"));
        var loaded = Assert.IsType<NeuronStatisticsTransformer>(WeightVectorTransformer.Load(ml, tmp.Sub("n.wstransformer")));
        Assert.Equal(rows, loaded.Transform(zoo).GetColumn<float[]>("F").ToArray());
    }
}
