using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Training;

namespace WeightSpace.ZooGen.Networks;

/// <summary>
/// One zoo network (Tetris MLP-100, CNN-2464 or CNN-4970, METHOD.md §2) as a TorchSharp module whose
/// parameters map one-to-one onto the <see cref="WeightLayout"/>'s flat vector.
/// </summary>
public sealed class ZooNetwork : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    private readonly WeightLayout _layout;
    private readonly Activation _activation;
    private readonly double _dropout;
    private readonly Scalar _dropoutScalar, _keepScale; // held for the module's life: see PopulationOptimizer on Scalar lifetimes

    /// <summary>Builds the network of a built-in layout.</summary>
    /// <exception cref="NotSupportedException">A layout without a known forward pass.</exception>
    public ZooNetwork(WeightLayout layout, Activation activation, double dropout = 0) : base(layout.Name)
    {
        if (!WeightLayout.BuiltIn.ContainsKey(layout.Name))
            throw new NotSupportedException($"No network is defined for layout '{layout.Name}'; built in: {string.Join(", ", WeightLayout.BuiltIn.Keys)}.");
        _layout = layout;
        _activation = activation;
        _dropout = dropout;
        _dropoutScalar = dropout.ToScalar();
        _keepScale = (dropout < 1 ? 1 / (1 - dropout) : 0).ToScalar();
        int stride = layout.Name == WeightLayout.Cnn4970.Name ? 2 : 1;
        layers = new ModuleList<nn.Module<Tensor, Tensor>>();
        foreach (var spec in layout.Layers)
            layers.Add(spec.Kind == LayerKind.Linear
                ? nn.Linear(spec.InFeatures, spec.OutFeatures, hasBias: spec.HasBias)
                : nn.Conv2d(spec.InFeatures, spec.OutFeatures, (spec.KernelHeight, spec.KernelWidth), stride: (stride, stride), bias: spec.HasBias));
        RegisterComponents();
    }

    /// <summary>The layout.</summary>
    public WeightLayout Layout => _layout;

    /// <summary>Applies the activation by name.</summary>
    public static Tensor Activate(Tensor x, Activation activation) => activation switch
    {
        Activation.Tanh => x.tanh(),
        Activation.Relu => nn.functional.relu(x),
        Activation.Sigmoid => x.sigmoid(),
        Activation.Gelu => nn.functional.gelu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "not a defined Activation"),
    };

    /// <summary>Generator of the dropout masks (seeded per model, so concurrent training stays deterministic).</summary>
    public Generator? DropoutGenerator { get; set; }

    private Tensor Act(Tensor x)
    {
        var a = Activate(x, _activation);
        if (_dropout <= 0 || !training) return a;
        var keep = rand(a.shape, generator: DropoutGenerator).ge(_dropoutScalar).to_type(ScalarType.Float32);
        return a.mul(keep).mul_(_keepScale);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        switch (_layout.Name)
        {
            case "tetris-mlp-100":
            {
                var x = input.reshape(input.shape[0], -1);
                return layers[1].call(Act(layers[0].call(x)));
            }
            case "cnn-2464":
            {
                var x = Act(nn.functional.max_pool2d(layers[0].call(input), 2));
                x = Act(nn.functional.max_pool2d(layers[1].call(x), 2));
                x = Act(layers[2].call(x)).flatten(1);
                x = Act(layers[3].call(x));
                return layers[4].call(x);
            }
            default: // cnn-4970
            {
                var x = Act(layers[0].call(input));
                x = Act(layers[1].call(x));
                x = Act(layers[2].call(x));
                return layers[3].call(x.mean(new long[] { 2, 3 }));
            }
        }
    }

    private IEnumerable<(Tensor Param, int Offset, long Count)> ParameterSlots()
    {
        for (int l = 0; l < _layout.Layers.Count; l++)
        {
            var spec = _layout.Layers[l];
            var (weight, bias) = layers[l] switch
            {
                Linear lin => (lin.weight!, lin.bias),
                Conv2d conv => (conv.weight!, conv.bias),
                _ => throw new InvalidOperationException(),
            };
            yield return (weight, _layout.WeightOffset(l), spec.WeightCount);
            if (spec.HasBias) yield return (bias!, _layout.BiasOffset(l), spec.BiasCount);
        }
    }

    /// <summary>Copies a flat weight vector into the parameters.</summary>
    public void LoadVector(ReadOnlySpan<float> weights)
    {
        _layout.CheckVector(weights.Length);
        using var _ = no_grad();
        foreach (var (p, offset, count) in ParameterSlots())
            p.copy_(tensor(weights.Slice(offset, (int)count).ToArray(), p.shape));
    }

    /// <summary>The parameters as a flat weight vector (layout order).</summary>
    public float[] ToVector()
    {
        var w = new float[_layout.ParameterCount];
        foreach (var (p, offset, count) in ParameterSlots())
            p.detach().cpu().data<float>().CopyTo(w, offset);
        return w;
    }

    /// <summary>The gradients as a flat vector (layout order); zeros where none.</summary>
    public float[] GradientVector()
    {
        var g = new float[_layout.ParameterCount];
        foreach (var (p, offset, count) in ParameterSlots())
            p.grad?.cpu().data<float>().CopyTo(g, offset);
        return g;
    }
}
