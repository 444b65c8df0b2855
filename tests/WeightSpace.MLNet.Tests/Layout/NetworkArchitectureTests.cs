using Xunit;

namespace WeightSpace.MLNet.Tests.Layout;

public class NetworkArchitectureTests
{
    [Fact]
    public void ShapesFollowTheOpChain()
    {
        var cnn = NetworkArchitecture.Cnn2464.Shapes(1, 28, 28);
        Assert.Equal((1, 28, 28), cnn[0]);
        Assert.Equal((8, 24, 24), cnn[1]);   // conv 5×5
        Assert.Equal((8, 12, 12), cnn[2]);   // max-pool 2
        Assert.Equal((36, 1, 1), cnn[9]);    // flatten of 4×3×3, what fc1 takes
        Assert.Equal((10, 1, 1), cnn[^1]);
        var small = NetworkArchitecture.Cnn4970.Shapes(1, 15, 15);
        Assert.Equal((16, 7, 7), small[1]);  // stride 2
        Assert.Equal((16, 1, 1), small[^2]); // global mean
        Assert.Equal((4, 1, 1), NetworkArchitecture.TetrisMlp100.Shapes(1, 4, 4)[^1]);
    }

    [Fact]
    public void AnInputTheNetworkCannotTakeIsAnErrorNamingTheLayer()
    {
        Assert.Contains("fc1", Assert.Throws<ArgumentException>(() => NetworkArchitecture.Cnn2464.Shapes(1, 32, 32)).Message);  // 64 inputs, not 36
        Assert.Contains("conv3", Assert.Throws<ArgumentException>(() => NetworkArchitecture.Cnn4970.Shapes(1, 13, 13)).Message);
        Assert.Contains("conv1", Assert.Throws<ArgumentException>(() => NetworkArchitecture.Cnn2464.Shapes(3, 28, 28)).Message); // channels
        Assert.Contains("fc1", Assert.Throws<ArgumentException>(() => NetworkArchitecture.TetrisMlp100.Shapes(1, 5, 5)).Message);
    }

    [Fact]
    public void AChainMustUseEveryLayerOnceInOrderWithItsKind()
    {
        var layout = WeightLayout.TetrisMlp100;
        Assert.Contains("once each", Assert.Throws<ArgumentException>(() => new NetworkArchitecture(layout, new[] { new NetworkOp(NetworkOpKind.Linear, 0) })).Message);
        Assert.Contains("once each", Assert.Throws<ArgumentException>(() => new NetworkArchitecture(layout,
            new[] { new NetworkOp(NetworkOpKind.Linear, 1), new NetworkOp(NetworkOpKind.Linear, 0) })).Message);
        Assert.Contains("does not match", Assert.Throws<ArgumentException>(() => new NetworkArchitecture(layout,
            new[] { new NetworkOp(NetworkOpKind.Conv, 0), new NetworkOp(NetworkOpKind.Linear, 1) })).Message);
        // Any MLP has a forward pass (activations between layers); a convolutional layout needs its strides and pooling.
        Assert.Equal("flatten → linear[0] → act → linear[1]", NetworkArchitecture.For(new WeightLayout("mine", layout.Layers.ToArray())).ToString());
        Assert.Contains("No forward pass", Assert.Throws<ArgumentException>(() => NetworkArchitecture.For(new WeightLayout("mine", WeightLayout.Cnn4970.Layers.ToArray()))).Message);
    }

    [Fact]
    public void TheZooDocsShowTheArchitecturesAsTheCodeDescribesThem()
    {
        var doc = File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "zoos.md"));
        foreach (var (name, architecture) in NetworkArchitecture.BuiltIn)
            Assert.Contains($"| `{name}` | `{architecture}` |", doc);
    }
}

public class CnnBuilderTests
{
    [Fact]
    public void TheBuilderDescribesTheBuiltInCnnsInOneLine()
    {
        static bool SameShapes(WeightLayout a, WeightLayout b) => a.Layers.Count == b.Layers.Count && a.Layers.Zip(b.Layers).All(p =>
            p.First.Kind == p.Second.Kind && p.First.InFeatures == p.Second.InFeatures && p.First.OutFeatures == p.Second.OutFeatures && p.First.FanIn == p.Second.FanIn);
        var c2464 = NetworkArchitecture.Cnn(1, new ConvBlock[] { new(8, 5, Pool: 2), new(6, 5, Pool: 2), new(4, 2) }, new[] { 20 }, 10, inputSize: 28);
        Assert.True(SameShapes(WeightLayout.Cnn2464, c2464.Layout));
        Assert.Equal(NetworkArchitecture.Cnn2464.Ops, c2464.Ops);
        Assert.Equal("cnn-c8k5p2-c6k5p2-c4k2-f20-10", c2464.Layout.Name);
        var c4970 = NetworkArchitecture.Cnn(1, new ConvBlock[] { new(16, 3, 2), new(16, 3, 2), new(16, 3, 2) }, Array.Empty<int>(), 10, globalPool: true);
        Assert.True(SameShapes(WeightLayout.Cnn4970, c4970.Layout));
        Assert.Equal(NetworkArchitecture.Cnn4970.Ops, c4970.Ops);
        // the same weights give the same outputs through the built-in and the built architecture
        var rng = new Random(2);
        var w = Enumerable.Range(0, 2464).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble()).ToArray();
        Assert.Equal(NetworkArchitecture.Cnn2464.Forward(w, x, 1, 28, 28, "tanh"), c2464.Forward(w, x, 1, 28, 28, "tanh"));
        Assert.Contains("does not fit", Assert.Throws<ArgumentException>(() => NetworkArchitecture.Cnn(1, new ConvBlock[] { new(4, 5, Pool: 2), new(4, 5, Pool: 2) }, Array.Empty<int>(), 10, inputSize: 12)).Message);
    }
}
