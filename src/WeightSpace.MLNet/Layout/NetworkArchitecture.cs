namespace WeightSpace.MLNet;

/// <summary>What one step of a network's forward pass does.</summary>
public enum NetworkOpKind
{
    /// <summary>The convolution of a <see cref="LayerKind.Conv2d"/> layer (no padding, square kernel, <see cref="NetworkOp.Stride"/>).</summary>
    Conv,
    /// <summary>The affine map of a <see cref="LayerKind.Linear"/> layer.</summary>
    Linear,
    /// <summary>Max-pool over windows of <see cref="NetworkOp.Size"/> × <see cref="NetworkOp.Size"/>, stride = size, odd edges dropped (as torch).</summary>
    MaxPool,
    /// <summary>The model's hidden activation (tanh, ReLU, …; a hyperparameter of the zoo), followed by dropout when training with it.</summary>
    Activation,
    /// <summary>C × H × W → C·H·W (channel-major, as torch's flatten).</summary>
    Flatten,
    /// <summary>The mean over H × W of each channel: C × H × W → C.</summary>
    GlobalMeanPool,
}

/// <summary>One convolution block of <see cref="NetworkArchitecture.Cnn"/>: a convolution without padding, an optional max-pool, the activation.</summary>
/// <param name="Channels">Output channels (the block's units).</param>
/// <param name="Kernel">Square kernel size.</param>
/// <param name="Stride">Convolution stride.</param>
/// <param name="Pool">Max-pool window (= its stride) after the convolution; 0 for none.</param>
public sealed record ConvBlock(int Channels, int Kernel, int Stride = 1, int Pool = 0);

/// <summary>One step of a forward pass.</summary>
/// <param name="Kind">What it does.</param>
/// <param name="Layer">The layout's layer index for <see cref="NetworkOpKind.Conv"/> and <see cref="NetworkOpKind.Linear"/>; −1 otherwise.</param>
/// <param name="Stride">Convolution stride.</param>
/// <param name="Size">Pooling window.</param>
public readonly record struct NetworkOp(NetworkOpKind Kind, int Layer = -1, int Stride = 1, int Size = 2)
{
    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        NetworkOpKind.Conv => Stride == 1 ? $"conv[{Layer}]" : $"conv[{Layer}]/{Stride}",
        NetworkOpKind.Linear => $"linear[{Layer}]",
        NetworkOpKind.MaxPool => $"max-pool {Size}",
        NetworkOpKind.Activation => "act",
        NetworkOpKind.Flatten => "flatten",
        _ => "global mean",
    };
}

/// <summary>
/// The one description of a zoo architecture: its <see cref="WeightLayout"/> (the parameters) plus the op chain of its
/// forward pass (convolutions and their strides, pooling, where activations go, flatten / global mean, linear layers).
/// zoogen's lane trainer builds its networks from it, the TorchSharp reference engines in tests/ZooGen.Reference read
/// it, the data-fit check is <see cref="Shapes"/>, and <see cref="ToString"/> is what docs and <c>zoogen presets</c> show.
/// </summary>
public sealed class NetworkArchitecture
{
    /// <summary>An architecture from a layout and its forward pass.</summary>
    /// <exception cref="ArgumentException">The chain does not use every layer once, in order, with the op that matches its kind.</exception>
    public NetworkArchitecture(WeightLayout layout, IReadOnlyList<NetworkOp> ops)
    {
        Layout = layout;
        Ops = ops.ToArray();
        var used = Ops.Where(o => o.Kind is NetworkOpKind.Conv or NetworkOpKind.Linear).ToList();
        if (!used.Select(o => o.Layer).SequenceEqual(Enumerable.Range(0, layout.Layers.Count)))
            throw new ArgumentException($"The forward pass of '{layout.Name}' must use its {layout.Layers.Count} layers once each, in order; it uses [{string.Join(", ", used.Select(o => o.Layer))}].");
        foreach (var o in used)
            if ((o.Kind == NetworkOpKind.Conv) != (layout.Layers[o.Layer].Kind == LayerKind.Conv2d))
                throw new ArgumentException($"Op {o} of '{layout.Name}' does not match layer '{layout.Layers[o.Layer].Name}' ({layout.Layers[o.Layer].Kind}).");
        if (Ops.Any(o => o.Stride < 1 || o.Size < 1)) throw new ArgumentException($"Strides and pooling windows of '{layout.Name}' must be ≥ 1.");
    }

    /// <summary>The parameters.</summary>
    public WeightLayout Layout { get; }

    /// <summary>The forward pass, input to logits.</summary>
    public IReadOnlyList<NetworkOp> Ops { get; }

    /// <summary>Number of outputs (classes): the last layer's units.</summary>
    public int Classes => Layout.Layers[^1].OutFeatures;

    /// <summary>
    /// The shape after every op for an input of <paramref name="channels"/> × <paramref name="height"/> × <paramref name="width"/>
    /// (element 0 is the input; element i + 1 the output of op i). This is the data-fit check: an input the network
    /// cannot take is an error that names the op, the layer and the shapes.
    /// </summary>
    /// <exception cref="ArgumentException">A layer that does not fit its input.</exception>
    public IReadOnlyList<(int Channels, int Height, int Width)> Shapes(int channels, int height, int width)
    {
        var shapes = new List<(int C, int H, int W)> { (channels, height, width) };
        foreach (var op in Ops)
        {
            var (c, h, w) = shapes[^1];
            switch (op.Kind)
            {
                case NetworkOpKind.Conv:
                {
                    var spec = Layout.Layers[op.Layer];
                    if (spec.InFeatures != c || h < spec.KernelHeight || w < spec.KernelWidth)
                        throw new ArgumentException($"Layer '{spec.Name}' of '{Layout.Name}' ({spec.InFeatures} channels, {spec.KernelHeight}x{spec.KernelWidth}) does not fit its input of {c}x{h}x{w}.");
                    shapes.Add((spec.OutFeatures, (h - spec.KernelHeight) / op.Stride + 1, (w - spec.KernelWidth) / op.Stride + 1));
                    break;
                }
                case NetworkOpKind.Linear:
                {
                    var spec = Layout.Layers[op.Layer];
                    if (h != 1 || w != 1 || spec.InFeatures != c)
                        throw new ArgumentException($"Layer '{spec.Name}' of '{Layout.Name}' takes {spec.InFeatures} inputs, but the op before it gives {c}x{h}x{w}.");
                    shapes.Add((spec.OutFeatures, 1, 1));
                    break;
                }
                case NetworkOpKind.MaxPool:
                    if (h < op.Size || w < op.Size) throw new ArgumentException($"'{Layout.Name}': a {op.Size}x{op.Size} max-pool does not fit an input of {c}x{h}x{w}.");
                    shapes.Add((c, h / op.Size, w / op.Size));
                    break;
                case NetworkOpKind.Activation:
                    shapes.Add((c, h, w));
                    break;
                case NetworkOpKind.Flatten:
                    shapes.Add((c * h * w, 1, 1));
                    break;
                default:
                    shapes.Add((c, 1, 1));
                    break;
            }
        }
        return shapes;
    }

    /// <summary>The forward pass in words, e.g. "conv[0] → max-pool 2 → act → … → linear[4]".</summary>
    public override string ToString() => string.Join(" → ", Ops);

    private static NetworkOp Conv(int layer, int stride = 1) => new(NetworkOpKind.Conv, layer, stride);
    private static NetworkOp Linear(int layer) => new(NetworkOpKind.Linear, layer);
    private static readonly NetworkOp Act = new(NetworkOpKind.Activation);
    private static readonly NetworkOp Pool = new(NetworkOpKind.MaxPool, Size: 2);
    private static readonly NetworkOp Flatten = new(NetworkOpKind.Flatten);

    /// <summary>Tetris MLP-100 on 4×4 images: flatten → linear(16→5) → act → linear(5→4).</summary>
    public static NetworkArchitecture TetrisMlp100 { get; } = new(WeightLayout.TetrisMlp100, new[] { Flatten, Linear(0), Act, Linear(1) });

    /// <summary>CNN-2464 on 28×28: conv 5×5 → max-pool 2 → act, conv 5×5 → max-pool 2 → act, conv 2×2 → act, flatten, linear → act, linear.</summary>
    public static NetworkArchitecture Cnn2464 { get; } = new(WeightLayout.Cnn2464, new[]
    {
        Conv(0), Pool, Act, Conv(1), Pool, Act, Conv(2), Act, Flatten, Linear(3), Act, Linear(4),
    });

    /// <summary>CNN-4970 (Unterthiner et al.): three 3×3 convs of stride 2, each → act, global average pool, linear.</summary>
    public static NetworkArchitecture Cnn4970 { get; } = new(WeightLayout.Cnn4970, new[]
    {
        Conv(0, 2), Act, Conv(1, 2), Act, Conv(2, 2), Act, new NetworkOp(NetworkOpKind.GlobalMeanPool), Linear(3),
    });

    /// <summary>The built-in architectures by layout name.</summary>
    public static IReadOnlyDictionary<string, NetworkArchitecture> BuiltIn { get; } = new Dictionary<string, NetworkArchitecture>
    {
        [TetrisMlp100.Layout.Name] = TetrisMlp100,
        [Cnn2464.Layout.Name] = Cnn2464,
        [Cnn4970.Layout.Name] = Cnn4970,
    };

    /// <summary>
    /// A CNN described in one line: convolution blocks (each a convolution without padding, then an optional max-pool, then
    /// the activation), then a global mean over H × W (<paramref name="globalPool"/>) or a flatten, then dense layers with the
    /// activation between them, then the output layer. <paramref name="inputSize"/> (H = W) sizes the first dense layer after
    /// a flatten. Layers are named conv1, conv2, …, fc1, fc2, …; the layout's name spells the blocks, e.g.
    /// "cnn-c8k5p2-c6k5p2-c4k2-f20-10".
    /// </summary>
    /// <example><code>
    /// // CNN-2464's shape: 1 → 8 (5×5, pool 2) → 6 (5×5, pool 2) → 4 (2×2), flatten, 36 → 20 → 10
    /// var net = NetworkArchitecture.Cnn(1, new ConvBlock[] { new(8, 5, Pool: 2), new(6, 5, Pool: 2), new(4, 2) }, new[] { 20 }, 10, inputSize: 28);
    /// </code></example>
    /// <exception cref="ArgumentException">A size below 1, or blocks that do not fit the input (named by layer and shapes).</exception>
    public static NetworkArchitecture Cnn(int inputChannels, IReadOnlyList<ConvBlock> convs, IReadOnlyList<int> dense, int classes, bool globalPool = false, int inputSize = 28)
    {
        ArgumentNullException.ThrowIfNull(convs);
        ArgumentNullException.ThrowIfNull(dense);
        if (inputChannels < 1 || classes < 1 || inputSize < 1 || convs.Count == 0 || convs.Any(c => c.Channels < 1 || c.Kernel < 1 || c.Stride < 1 || c.Pool < 0) || dense.Any(d => d < 1))
            throw new ArgumentException("A CNN needs at least one convolution block, and every channel count, kernel, stride, width and the input size at least 1 (pool 0 = none).");
        var layers = new List<LayerSpec>();
        var ops = new List<NetworkOp>();
        int channels = inputChannels, size = inputSize;
        foreach (var c in convs)
        {
            if (size < c.Kernel) throw new ArgumentException($"conv{layers.Count + 1} ({c.Kernel}×{c.Kernel}) does not fit its {size}×{size} input.");
            layers.Add(new LayerSpec($"conv{layers.Count + 1}", LayerKind.Conv2d, channels, c.Channels, c.Kernel, c.Kernel));
            ops.Add(Conv(layers.Count - 1, c.Stride));
            size = (size - c.Kernel) / c.Stride + 1;
            if (c.Pool > 0)
            {
                if (size < c.Pool) throw new ArgumentException($"the max-pool of {c.Pool} after conv{layers.Count} does not fit its {size}×{size} input.");
                ops.Add(new NetworkOp(NetworkOpKind.MaxPool, Size: c.Pool));
                size /= c.Pool;
            }
            ops.Add(Act);
            channels = c.Channels;
        }
        ops.Add(globalPool ? new NetworkOp(NetworkOpKind.GlobalMeanPool) : Flatten);
        int inputs = globalPool ? channels : channels * size * size;
        var widths = dense.Append(classes).ToList();
        for (int d = 0; d < widths.Count; d++)
        {
            if (d > 0) ops.Add(Act);
            layers.Add(new LayerSpec($"fc{d + 1}", LayerKind.Linear, inputs, widths[d]));
            ops.Add(Linear(layers.Count - 1));
            inputs = widths[d];
        }
        string name = "cnn-" + string.Join("-", convs.Select(c => $"c{c.Channels}k{c.Kernel}" + (c.Stride > 1 ? $"s{c.Stride}" : "") + (c.Pool > 0 ? $"p{c.Pool}" : "")))
                      + (globalPool ? "-g" : "-f") + string.Concat(dense.Select(d => $"{d}-")) + classes;
        var architecture = new NetworkArchitecture(new WeightLayout(name, layers), ops);
        architecture.Shapes(inputChannels, inputSize, inputSize); // the data-fit check, with the shapes named on failure
        return architecture;
    }

    /// <summary>
    /// The architecture of <paramref name="layout"/>: a built-in one, or for any fully connected layout (an MLP) flatten →
    /// linear → act → … → linear (an activation between layers, none after the last).
    /// </summary>
    /// <exception cref="ArgumentException">A layout with convolutions that is not (exactly) a built-in one: its strides and
    /// pooling are not in the layout, so give them with the constructor.</exception>
    public static NetworkArchitecture For(WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (BuiltIn.TryGetValue(layout.Name, out var a) && a.Layout.Equals(layout)) return a;
        if (layout.IsFullyConnected)
        {
            var ops = new List<NetworkOp> { Flatten };
            for (int l = 0; l < layout.Layers.Count; l++)
            {
                if (l > 0) ops.Add(Act);
                ops.Add(Linear(l));
            }
            return new NetworkArchitecture(layout, ops);
        }
        throw new ArgumentException($"No forward pass is known for layout '{layout.Name}' (its convolutions' strides and pooling are not in the layout); " +
            $"the built-in architectures are {string.Join(", ", BuiltIn.Keys)}, and any MLP; describe others with new NetworkArchitecture(layout, ops).");
    }

    /// <summary>
    /// Runs the network on one input (C × H × W values, channel-major) with the given weights, in float64: what a checkpoint
    /// computes, for checking that imported weights landed in their places (its outputs against the framework's) or for
    /// scoring a few inputs. <paramref name="activation"/>: "relu", "tanh", "sigmoid", "gelu" or "identity".
    /// </summary>
    /// <exception cref="ArgumentException">A weight vector or input of the wrong size, or an unknown activation.</exception>
    public double[] Forward(ReadOnlySpan<float> weights, ReadOnlySpan<float> input, int channels, int height, int width, string activation)
    {
        Layout.CheckVector(weights.Length);
        if (input.Length != channels * height * width)
            throw new ArgumentException($"The input has {input.Length} values, not {channels}×{height}×{width}.");
        Func<double, double> act = activation.ToLowerInvariant() switch
        {
            "relu" => v => Math.Max(0, v),
            "tanh" => Math.Tanh,
            "sigmoid" => v => 1 / (1 + Math.Exp(-v)),
            "gelu" => v => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
            "identity" or "linear" or "none" => v => v,
            _ => throw new ArgumentException($"Activation '{activation}' is not one of relu, tanh, sigmoid, gelu, identity.", nameof(activation)),
        };
        var shapes = Shapes(channels, height, width);
        var x = new double[input.Length];
        for (int i = 0; i < x.Length; i++) x[i] = input[i];
        for (int k = 0; k < Ops.Count; k++)
        {
            var op = Ops[k];
            var (c, h, w) = shapes[k];
            var (oc, oh, ow) = shapes[k + 1];
            var y = new double[oc * oh * ow];
            switch (op.Kind)
            {
                case NetworkOpKind.Conv:
                case NetworkOpKind.Linear:
                {
                    var spec = Layout.Layers[op.Layer];
                    var wts = Layout.LayerWeights(weights, op.Layer);
                    var bias = Layout.LayerBiases(weights, op.Layer);
                    int kh = spec.KernelHeight, kw = spec.KernelWidth, inC = spec.InFeatures;
                    if (op.Kind == NetworkOpKind.Linear) { kh = kw = 1; inC = c * h * w; h = w = 1; }
                    for (int o = 0; o < oc; o++)
                        for (int i = 0; i < oh; i++)
                            for (int j = 0; j < ow; j++)
                            {
                                double s = spec.HasBias ? bias[o] : 0;
                                for (int ci = 0; ci < inC; ci++)
                                    for (int u = 0; u < kh; u++)
                                        for (int v = 0; v < kw; v++)
                                            s += wts[((o * inC + ci) * kh + u) * kw + v] * x[(ci * h + i * op.Stride + u) * w + j * op.Stride + v];
                                y[(o * oh + i) * ow + j] = s;
                            }
                    if (spec.BatchNorm) // γ (x − μ) / √(σ² + ε) + β, per unit
                    {
                        int at = Layout.BatchNormOffset(op.Layer);
                        for (int o = 0; o < oc; o++)
                        {
                            double gamma = weights[at + o], beta = weights[at + oc + o], mean = weights[at + 2 * oc + o], variance = weights[at + 3 * oc + o];
                            double scale = gamma / Math.Sqrt(variance + LayerSpec.BatchNormEpsilon);
                            for (int i = 0; i < oh * ow; i++) y[o * oh * ow + i] = (y[o * oh * ow + i] - mean) * scale + beta;
                        }
                    }
                    break;
                }
                case NetworkOpKind.MaxPool:
                    for (int ch = 0; ch < oc; ch++)
                        for (int i = 0; i < oh; i++)
                            for (int j = 0; j < ow; j++)
                            {
                                double m = double.NegativeInfinity;
                                for (int u = 0; u < op.Size; u++)
                                    for (int v = 0; v < op.Size; v++)
                                        m = Math.Max(m, x[(ch * h + i * op.Size + u) * w + j * op.Size + v]);
                                y[(ch * oh + i) * ow + j] = m;
                            }
                    break;
                case NetworkOpKind.Activation:
                    for (int i = 0; i < y.Length; i++) y[i] = act(x[i]);
                    break;
                case NetworkOpKind.Flatten:
                    Array.Copy(x, y, y.Length);
                    break;
                default:
                    for (int ch = 0; ch < c; ch++)
                    {
                        double s = 0;
                        for (int i = 0; i < h * w; i++) s += x[ch * h * w + i];
                        y[ch] = s / (h * w);
                    }
                    break;
            }
            x = y;
        }
        return x;
    }

    /// <summary>erf by Abramowitz–Stegun 7.1.26 refined: |error| below 1.5e-7, ample for checking a float32 network.</summary>
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }
}
