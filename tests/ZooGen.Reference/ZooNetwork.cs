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
    private readonly NetworkArchitecture _architecture;
    private readonly Activation _activation;
    private readonly double _dropout;
    private readonly Scalar _dropoutScalar, _keepScale; // held for the module's life: see PopulationOptimizer on Scalar lifetimes

    /// <summary>Builds the network of a built-in layout.</summary>
    /// <exception cref="NotSupportedException">A layout without a known forward pass.</exception>
    public ZooNetwork(WeightLayout layout, Activation activation, double dropout = 0) : base(layout.Name)
    {
        _architecture = NetworkArchitecture.For(layout);
        _layout = layout;
        _activation = activation;
        _dropout = dropout;
        _dropoutScalar = dropout.ToScalar();
        _keepScale = (dropout < 1 ? 1 / (1 - dropout) : 0).ToScalar();
        layers = new ModuleList<nn.Module<Tensor, Tensor>>();
        for (int l = 0; l < layout.Layers.Count; l++)
        {
            var spec = layout.Layers[l];
            int stride = _architecture.Ops.Single(o => o.Layer == l).Stride;
            layers.Add(spec.Kind == LayerKind.Linear
                ? nn.Linear(spec.InFeatures, spec.OutFeatures, hasBias: spec.HasBias)
                : nn.Conv2d(spec.InFeatures, spec.OutFeatures, (spec.KernelHeight, spec.KernelWidth), stride: (stride, stride), bias: spec.HasBias));
        }
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
        // The architecture's op chain, op by op (torch's ops: max_pool2d drops odd edges, flatten is channel-major).
        var x = input;
        foreach (var op in _architecture.Ops)
            x = op.Kind switch
            {
                NetworkOpKind.Conv when layers[op.Layer] is Conv2d conv => Conv2d(x, conv.weight!, conv.bias, op.Stride),
                NetworkOpKind.Linear => layers[op.Layer].call(x),
                NetworkOpKind.MaxPool => nn.functional.max_pool2d(x, op.Size),
                NetworkOpKind.Activation => Act(x),
                NetworkOpKind.Flatten => x.reshape(x.shape[0], -1),
                _ => x.mean(new long[] { 2, 3 }),
            };
        return x;
    }

    /// <summary>
    /// A convolution without padding as unfold + matmul: im2col, one matrix product, and their autograd (col2im and
    /// matmul's backward). The reference computes its convolutions this way instead of with <c>nn.functional.conv2d</c>:
    /// libtorch 2.10's CPU convolution backward (the oneDNN path) returns NaN or wrong weight gradients for a
    /// one-input-channel 5×5 convolution on AVX-512 AMD CPUs (bench <c>conv-check</c> shows it), and a test oracle
    /// must not depend on a kernel that differs between CPUs. Checked against a float64 sum in ReferenceConvolutionTests.
    /// </summary>
    /// <param name="x">Input, N × C_in × H × W.</param>
    /// <param name="weight">Kernels, C_out × C_in × kH × kW.</param>
    /// <param name="bias">Bias of C_out, or null.</param>
    /// <param name="stride">Stride in both directions.</param>
    /// <returns>N × C_out × ((H − kH) / stride + 1) × ((W − kW) / stride + 1).</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride)
    {
        long n = x.shape[0], outC = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3];
        long oh = (x.shape[2] - kh) / stride + 1, ow = (x.shape[3] - kw) / stride + 1;
        using var cols = nn.functional.unfold(x, (kh, kw), stride: (stride, stride)); // N × (C_in·kH·kW) × L
        using var w2 = weight.reshape(outC, -1);
        var y = w2.matmul(cols); // N × C_out × L
        if (bias is not null)
        {
            using var b = bias.reshape(1, outC, 1);
            y = y.add_(b);
        }
        return y.reshape(n, outC, oh, ow);
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
}
