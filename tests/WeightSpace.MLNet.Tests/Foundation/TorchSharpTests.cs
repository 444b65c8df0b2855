using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Foundation;

public class TorchSharpTests
{
    [Fact]
    public void ForwardAndBackwardOfASmallNetworkGiveKnownValues()
    {
        var x = tensor(new float[] { 1f, 2f }, new long[] { 1, 2 });
        var w = tensor(new float[] { 0.5f, -1f, 2f, 0.25f }, new long[] { 2, 2 }, requires_grad: true);
        var y = nn.functional.relu(x.matmul(w.t())).sum();
        y.backward();
        Assert.Equal(2.5f, y.item<float>(), 5);
        // relu(x·w₀) = relu(−1.5) = 0 passes no gradient; relu(x·w₁) = 2.5 passes x.
        Assert.Equal(new[] { 0f, 0f, 1f, 2f }, w.grad!.data<float>().ToArray());
    }

    [Fact]
    public void AnOptimizerStepOnALinearModuleMovesItsWeightsDownTheGradient()
    {
        using var linear = nn.Linear(2, 1, hasBias: false);
        using (no_grad()) linear.weight!.copy_(tensor(new float[] { 1f, -1f }, new long[] { 1, 2 }));
        var sgd = optim.SGD(linear.parameters(), 0.5);
        var x = tensor(new float[] { 2f, 3f }, new long[] { 1, 2 });
        var loss = linear.call(x).pow(2).sum(); // (2 − 3)² = 1, d/dw = 2·(−1)·x = [−4, −6]
        Assert.Equal(1f, loss.item<float>(), 5);
        loss.backward();
        sgd.step();
        Assert.Equal(new[] { 3f, 2f }, linear.weight!.data<float>().ToArray()); // w − 0.5·[−4, −6]
    }
}
