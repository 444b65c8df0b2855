using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Adam, SGD with momentum 0.9 and RMSprop over stacked parameters [P, ...] with one learning rate and weight
/// decay per model, written element-wise exactly as torch.optim computes them (weight decay added to the
/// gradient; Adam β = (0.9, 0.999), ε = 1e-8; RMSprop α = 0.99, ε = 1e-8).
/// </summary>
internal sealed class PopulationOptimizer : IDisposable
{
    private readonly string _kind;
    private readonly Tensor[] _params;
    private readonly Tensor[] _state1, _state2;
    private readonly Tensor[] _lr, _wd;
    private int _step;

    public PopulationOptimizer(string kind, Tensor[] parameters, double[] learningRates, double[] weightDecays)
    {
        _kind = kind;
        _params = parameters;
        _state1 = parameters.Select(p => zeros_like(p)).ToArray();
        _state2 = parameters.Select(p => zeros_like(p)).ToArray();
        long P = learningRates.Length;
        Tensor Shape(double[] v, Tensor p) => tensor(v.Select(x => (float)x).ToArray()).reshape(new[] { P }.Concat(Enumerable.Repeat(1L, (int)p.dim() - 1)).ToArray());
        _lr = parameters.Select(p => Shape(learningRates, p)).ToArray();
        _wd = parameters.Select(p => Shape(weightDecays, p)).ToArray();
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
            var g = p.grad!.add(p * _wd[i]);
            switch (_kind)
            {
                case "adam":
                {
                    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
                    _state1[i].mul_(b1).add_(g, alpha: 1 - b1);
                    _state2[i].mul_(b2).addcmul_(g, g, value: 1 - b2);
                    double bc1 = 1 - Math.Pow(b1, _step), bc2 = 1 - Math.Pow(b2, _step);
                    var denom = (_state2[i].sqrt() / Math.Sqrt(bc2)).add_(eps);
                    p.sub_(_lr[i] / bc1 * _state1[i] / denom);
                    break;
                }
                case "sgd":
                {
                    if (_step == 1) _state1[i].copy_(g); else _state1[i].mul_(0.9).add_(g);
                    p.sub_(_lr[i] * _state1[i]);
                    break;
                }
                case "rmsprop":
                {
                    const double alpha = 0.99, eps = 1e-8;
                    _state2[i].mul_(alpha).addcmul_(g, g, value: 1 - alpha);
                    p.sub_(_lr[i] * g / _state2[i].sqrt().add_(eps));
                    break;
                }
                default: throw new ArgumentException($"optimizer '{_kind}' is not one of {string.Join(", ", ModelSpec.Optimizers)}.");
            }
        }
    }

    public void Dispose()
    {
        foreach (var t in _state1.Concat(_state2).Concat(_lr).Concat(_wd)) t.Dispose();
    }
}
