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
    }
}
