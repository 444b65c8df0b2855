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
