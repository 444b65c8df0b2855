using TorchSharp;
using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Networks;
using WeightSpace.ZooGen.Training;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Augmentation;

/// <summary>The poster's claim, checked on trained networks: permuting hidden units changes neither outputs nor gradients.</summary>
public class PermutationEquivalenceTests
{
    private static ImageDataset Images(WeightLayout layout) =>
        layout == WeightLayout.TetrisMlp100 ? TetrisDataset.Generate(256, seed: 5) : Shapes28.Generate(256); // 28×28: the real-format input of CNN-2464

    private static (ZooNetwork Net, Tensor X, Tensor Y) Trained(WeightLayout layout)
    {
        torch.manual_seed(1);
        var data = Images(layout);
        var x = tensor(data.Pixels, new long[] { data.Count, data.Channels, data.Height, data.Width });
        var y = tensor(data.Labels.Select(l => (long)l).ToArray());
        var net = new ZooNetwork(layout, Activation.Tanh);
        net.LoadVector(Initializer.Create(layout, Init.KaimingUniform, seed: 11));
        var opt = optim.Adam(net.parameters(), 1e-2);
        for (int step = 0; step < 20; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            nn.functional.cross_entropy(net.call(x), y).backward();
            opt.step();
        }
        return (net, x, y);
    }

    [Theory]
    [InlineData("tetris-mlp-100")]
    [InlineData("cnn-2464")]
    [InlineData("cnn-4970")]
    public void PermutedTrainedNetworkGivesTheSameOutputs(string layoutName)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        var (net, x, _) = Trained(layout);
        var original = net.ToVector();
        var perm = Permutation.Random(layout, seed: 99);
        var permuted = perm.Apply(original);
        Assert.NotEqual(original, permuted); // the vector really changed

        using var _ = no_grad();
        net.eval();
        var before = net.call(x).data<float>().ToArray();
        net.LoadVector(permuted);
        var after = net.call(x).data<float>().ToArray();
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-5 * Math.Max(1, Math.Abs(before[i])), $"output {i}: {before[i]} vs {after[i]}");
    }

    [Theory]
    [InlineData("tetris-mlp-100")]
    [InlineData("cnn-2464")]
    public void OneSgdStepOnThePermutedNetworkMappedBackEqualsTheStepOnTheOriginal(string layoutName)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        var (net, x, y) = Trained(layout);
        var original = net.ToVector();
        var perm = Permutation.Random(layout, seed: 7);

        float[] Step(float[] start)
        {
            net.LoadVector(start);
            var sgd = optim.SGD(net.parameters(), 0.1);
            sgd.zero_grad();
            nn.functional.cross_entropy(net.call(x), y).backward();
            sgd.step();
            return net.ToVector();
        }

        var stepped = Step(original);
        var steppedPermuted = Step(perm.Apply(original));
        var mappedBack = perm.Inverse().Apply(steppedPermuted);
        Assert.NotEqual(original, stepped);
        for (int i = 0; i < stepped.Length; i++) Assert.True(Math.Abs(stepped[i] - mappedBack[i]) <= 1e-5, $"weight {i}: {stepped[i]} vs {mappedBack[i]}");
    }

    [Fact]
    public void PermutingTheOutputLayerIsRefused()
    {
        var layout = WeightLayout.TetrisMlp100;
        var e = Assert.Throws<ArgumentException>(() => new Permutation(layout, new[] { new[] { 0, 1, 2, 3, 4 }, new[] { 1, 0, 2, 3 } }));
        Assert.Contains("output layer", e.Message);
        Assert.Throws<ArgumentException>(() => new Permutation(layout, new[] { new[] { 0, 0, 1, 2, 3 } }));
    }

    [Fact]
    public void InverseUndoesAndCanonicalFormIsPermutationInvariant()
    {
        var layout = WeightLayout.Cnn2464;
        var w = Initializer.Create(layout, Init.KaimingNormal, 3);
        var p = Permutation.Random(layout, 5);
        Assert.Equal(w, p.Inverse().Apply(p.Apply(w)));
        var canonical = Permutation.Canonical(layout, w).Apply(w);
        var permuted = p.Apply(w);
        Assert.Equal(canonical, Permutation.Canonical(layout, permuted).Apply(permuted));
    }

    [Fact]
    public void ConvToLinearPermutationMovesWholeChannelBlocks()
    {
        var layout = WeightLayout.Cnn2464;
        var w = Enumerable.Range(0, layout.ParameterCount).Select(i => (float)i).ToArray();
        var perms = new[]
        {
            Enumerable.Range(0, 8).ToArray(), Enumerable.Range(0, 6).ToArray(), new[] { 3, 0, 1, 2 }, Enumerable.Range(0, 20).ToArray(),
        };
        var permuted = new Permutation(layout, perms).Apply(w);
        int fc1 = layout.WeightOffset(3);
        // new channel 0 = old channel 3: fc1 row 0's first 9 inputs are old inputs 27..35
        Assert.Equal(Enumerable.Range(fc1 + 27, 9).Select(i => (float)i), permuted.AsSpan(fc1, 9).ToArray());
        // conv3's kernel 0 is old kernel 3 with its bias
        Assert.Equal(w[layout.WeightOffset(2) + 3 * 24], permuted[layout.WeightOffset(2)]);
        Assert.Equal(w[layout.BiasOffset(2) + 3], permuted[layout.BiasOffset(2)]);
    }
}
