using TorchSharp;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Adam, SGD with momentum 0.9 and RMSprop over stacked parameters [P, ...] with one learning rate and weight
/// decay per model, written element-wise exactly as torch.optim computes them (weight decay added to the
/// gradient; Adam β = (0.9, 0.999), ε = 1e-8; RMSprop α = 0.99, ε = 1e-8). With P = 1 it serves a single
/// network too (the per-model factors broadcast over any parameter shape).
/// </summary>
internal sealed class PopulationOptimizer : IDisposable
{
    private readonly Optimizer _kind;
    private readonly Tensor[] _params;
    private readonly Tensor[] _state1, _state2;
    private readonly Tensor[] _lr, _wd;
    private int _step;
    private readonly Scalar? _singleLr, _singleNegLr, _singleWd; // P = 1: plain Scalars, fewer native calls per step

    // Scalars are native objects: an implicit double → Scalar temporary can be finalised by the GC while the
    // native op still reads it (seen as "Expected false to be true" from Scalar::toFloat). Every Scalar used
    // in a step is therefore held in a field or a using variable until the op has returned.
    private readonly Scalar _b1 = 0.9.ToScalar(), _oneMinusB1 = (1 - 0.9).ToScalar();
    private readonly Scalar _b2 = 0.999.ToScalar(), _oneMinusB2 = (1 - 0.999).ToScalar();
    private readonly Scalar _eps = 1e-8.ToScalar(), _momentum = 0.9.ToScalar();
    private readonly Scalar _alpha = 0.99.ToScalar(), _oneMinusAlpha = (1 - 0.99).ToScalar();
    private readonly Scalar _one = 1.ToScalar(), _minusOne = (-1).ToScalar(); // explicit alphas: add_(x)/sub_(x) alone make a temporary Scalar

    public PopulationOptimizer(Optimizer kind, Tensor[] parameters, double[] learningRates, double[] weightDecays)
    {
        _kind = kind;
        _params = parameters;
        _state1 = parameters.Select(p => zeros_like(p)).ToArray();
        _state2 = parameters.Select(p => zeros_like(p)).ToArray();
        long P = learningRates.Length;
        Tensor Shape(double[] v, Tensor p) => tensor(v.Select(x => (float)x).ToArray()).reshape(new[] { P }.Concat(Enumerable.Repeat(1L, (int)p.dim() - 1)).ToArray());
        _lr = parameters.Select(p => Shape(learningRates, p)).ToArray();
        _wd = parameters.Select(p => Shape(weightDecays, p)).ToArray();
        if (P == 1)
        {
            _singleLr = learningRates[0].ToScalar();
            _singleNegLr = (-learningRates[0]).ToScalar();
            _singleWd = weightDecays[0] > 0 ? weightDecays[0].ToScalar() : null;
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in _params) p.grad?.zero_();
    }

    public void Step()
    {
        _step++;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            if (_singleLr is not null) { StepSingle(p); continue; }
            var g = p.grad!.add(p * _wd[i], _one);
            switch (_kind)
            {
                case Optimizer.Adam:
                {
                    _state1[i].mul_(_b1).add_(g, alpha: _oneMinusB1);
                    _state2[i].mul_(_b2).addcmul_(g, g, value: _oneMinusB2);
                    using var invSqrtBc2 = (1 / Math.Sqrt(1 - Math.Pow(0.999, _step))).ToScalar();
                    using var invBc1 = (1 / (1 - Math.Pow(0.9, _step))).ToScalar();
                    var denom = _state2[i].sqrt().mul_(invSqrtBc2).add_(_eps, _one);
                    p.add_(_lr[i].mul(invBc1) * _state1[i] / denom, _minusOne);
                    break;
                }
                case Optimizer.Sgd:
                {
                    if (_step == 1) _state1[i].copy_(g); else _state1[i].mul_(_momentum).add_(g, _one);
                    p.add_(_lr[i] * _state1[i], _minusOne);
                    break;
                }
                case Optimizer.RmsProp:
                {
                    _state2[i].mul_(_alpha).addcmul_(g, g, value: _oneMinusAlpha);
                    p.add_(_lr[i] * g / _state2[i].sqrt().add_(_eps, _one), _minusOne);
                    break;
                }
                default: throw new ArgumentOutOfRangeException(nameof(_kind), _kind, "not a defined Optimizer");
            }
        }
    }

    // The same updates for one model, with Scalars for lr and wd and fused addcdiv_: about half the native calls.
    private void StepSingle(Tensor p)
    {
        int i = Array.IndexOf(_params, p);
        var g = _singleWd is null ? p.grad! : p.grad!.add(p, _singleWd);
        switch (_kind)
        {
            case Optimizer.Adam:
            {
                _state1[i].mul_(_b1).add_(g, _oneMinusB1);
                _state2[i].mul_(_b2).addcmul_(g, g, _oneMinusB2);
                using var invSqrtBc2 = (1 / Math.Sqrt(1 - Math.Pow(0.999, _step))).ToScalar();
                using var negStep = (-_singleLr!.ToDouble() / (1 - Math.Pow(0.9, _step))).ToScalar();
                var denom = _state2[i].sqrt().mul_(invSqrtBc2).add_(_eps, _one);
                p.addcdiv_(_state1[i], denom, negStep);
                break;
            }
            case Optimizer.Sgd:
                if (_step == 1) _state1[i].copy_(g); else _state1[i].mul_(_momentum).add_(g, _one);
                p.add_(_state1[i], _singleNegLr!);
                break;
            case Optimizer.RmsProp:
                _state2[i].mul_(_alpha).addcmul_(g, g, _oneMinusAlpha);
                p.addcdiv_(g, _state2[i].sqrt().add_(_eps, _one), _singleNegLr!);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(_kind), _kind, "not a defined Optimizer");
        }
    }

    public void Dispose()
    {
        _singleLr?.Dispose(); _singleNegLr?.Dispose(); _singleWd?.Dispose();
        foreach (var t in _state1.Concat(_state2).Concat(_lr).Concat(_wd)) t.Dispose();
        foreach (var s in new[] { _b1, _oneMinusB1, _b2, _oneMinusB2, _eps, _momentum, _alpha, _oneMinusAlpha, _one, _minusOne }) s.Dispose();
    }
}
