using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>
/// AdamW (decoupled weight decay; β = (0.9, 0.999), ε = 1e-8), written out as torch.optim computes it, with every
/// Scalar held until its op returns (<see cref="TorchScalars"/>): torch.optim's steps in TorchSharp make temporaries.
/// </summary>
internal sealed class AdamW : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999;
    private readonly Tensor[] _params, _m, _v;
    private readonly double _weightDecay;
    private readonly Scalar _beta1 = Beta1.ToScalar(), _oneMinusBeta1 = (1 - Beta1).ToScalar();
    private readonly Scalar _beta2 = Beta2.ToScalar(), _oneMinusBeta2 = (1 - Beta2).ToScalar();
    private readonly Scalar _eps = 1e-8.ToScalar();
    private int _step;

    public AdamW(IEnumerable<Tensor> parameters, double weightDecay)
    {
        _params = parameters.ToArray();
        _m = _params.Select(p => zeros_like(p)).ToArray();
        _v = _params.Select(p => zeros_like(p)).ToArray();
        _weightDecay = weightDecay;
    }

    public void ZeroGrad()
    {
        foreach (var p in _params) p.grad?.zero_();
    }

    public void Step(double learningRate)
    {
        _step++;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var decay = (1 - learningRate * _weightDecay).ToScalar();
        using var invSqrtBc2 = (1 / Math.Sqrt(1 - Math.Pow(Beta2, _step))).ToScalar();
        using var stepSize = (-learningRate / (1 - Math.Pow(Beta1, _step))).ToScalar();
        for (int i = 0; i < _params.Length; i++)
        {
            var g = _params[i].grad;
            if (g is null) continue;
            if (_weightDecay > 0) _params[i].mul_(decay);
            _m[i].mul_(_beta1).add_(g, _oneMinusBeta1);
            _v[i].mul_(_beta2).addcmul_(g, g, _oneMinusBeta2);
            var denom = _v[i].sqrt().mul_(invSqrtBc2).add_(_eps, TorchScalars.One);
            _params[i].addcdiv_(_m[i], denom, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
        foreach (var s in new[] { _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
