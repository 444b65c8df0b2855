using Onnx;

namespace WeightSpace.MLNet;

/// <summary>
/// An ONNX model (what <c>torch.onnx.export</c> writes and ML.NET users hold) as a layout, its forward pass and its weight
/// vector: the graph's nodes, in order, give the architecture — Conv (no padding, equal strides, no groups or
/// dilation), MaxPool (window = stride), Relu / Tanh / Sigmoid, Flatten (or Reshape), GlobalAveragePool or ReduceMean over
/// H × W, Gemm (with <c>transB</c> or not), MatMul + Add and BatchNormalization right after its layer — and the
/// initializers give the weights. Parsed with OnnxSharp
/// (the ONNX schema compiled for Google.Protobuf). Anything else is refused by its op type.
/// </summary>
public static class OnnxImport
{
    /// <summary>What an ONNX model holds, in this library's terms.</summary>
    /// <param name="Architecture">The layout and its forward pass (a built-in one when both match, else named "imported-…").</param>
    /// <param name="Weights">The weight vector in the layout's order.</param>
    /// <param name="Activation">The hidden activation ("relu", "tanh", "sigmoid"; "identity" for a single layer).</param>
    public sealed record Result(NetworkArchitecture Architecture, float[] Weights, string Activation);

    /// <summary>True when <paramref name="path"/> is an ONNX file (by extension, or a protobuf that parses as a model with a graph).</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads an ONNX model.</summary>
    /// <exception cref="InvalidDataException">Not an ONNX model, or a node or attribute the method cannot express (named), or
    /// weights that are not float32 or finite.</exception>
    public static Result Read(string path)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException)
        {
            throw new InvalidDataException($"{path}: not a readable ONNX model ({e.Message}).", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0) throw new InvalidDataException($"{path}: an ONNX file without a graph.");
        var init = model.Graph.Initializer.ToDictionary(t => t.Name);
        var ops = new List<NetworkOp>();
        var specs = new List<LayerSpec>();
        var tensors = new List<(float[] Weight, float[]? Bias, float[]? BatchNorm)>();
        var activations = new HashSet<string>();
        string? pendingMatMul = null; // a MatMul waiting for the Add of its bias

        float[] Floats(string name, string node)
        {
            if (!init.TryGetValue(name, out var t)) throw new InvalidDataException($"{path}: node {node} takes '{name}', which is not a stored weight (a computed weight is not supported).");
            if (t.DataType != (int)TensorProto.Types.DataType.Float) throw new InvalidDataException($"{path}: weight '{name}' has ONNX data type {t.DataType}; float32 weights are supported.");
            var values = t.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray();
            long count = t.Dims.Aggregate(1L, (a, b) => a * b);
            if (values.Length != count) throw new InvalidDataException($"{path}: weight '{name}' has {values.Length} values for dims [{string.Join(", ", t.Dims)}].");
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0) throw new InvalidDataException($"{path}: weight '{name}' holds {values[bad]} at position {bad}.");
            return values;
        }
        long[] Dims(string name) => init.TryGetValue(name, out var t) ? t.Dims.ToArray() : Array.Empty<long>();
        AttributeProto? Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);
        long[] Ints(NodeProto n, string name) => Attr(n, name)?.Ints.ToArray() ?? Array.Empty<long>();
        InvalidDataException Refuse(NodeProto n, string why) => new($"{path}: node '{n.Name}' ({n.OpType}) {why}");

        foreach (var n in model.Graph.Node)
        {
            if (pendingMatMul is not null && n.OpType != "Add") throw Refuse(n, "follows a MatMul without the Add of its bias; only MatMul + Add (a linear layer) is supported.");
            switch (n.OpType)
            {
                case "Conv":
                {
                    if (Ints(n, "pads").Any(p => p != 0)) throw Refuse(n, $"pads its input ({string.Join(", ", Ints(n, "pads"))}); convolutions without padding are supported.");
                    if (Ints(n, "dilations").Any(d => d != 1)) throw Refuse(n, "is dilated; not supported.");
                    if ((Attr(n, "group")?.I ?? 1) != 1) throw Refuse(n, "is a grouped convolution; not supported.");
                    var strides = Ints(n, "strides");
                    if (strides.Length > 0 && strides.Distinct().Count() != 1) throw Refuse(n, $"has unequal strides ({string.Join(", ", strides)}).");
                    var w = Dims(n.Input[1]);
                    if (w.Length != 4) throw Refuse(n, "has a weight that is not 4-D; 2-D convolutions are supported.");
                    specs.Add(new LayerSpec(n.Input[1].Replace(".weight", ""), LayerKind.Conv2d, (int)w[1], (int)w[0], (int)w[2], (int)w[3], n.Input.Count > 2));
                    tensors.Add((Floats(n.Input[1], n.Name), n.Input.Count > 2 ? Floats(n.Input[2], n.Name) : null, null));
                    ops.Add(new NetworkOp(NetworkOpKind.Conv, specs.Count - 1, strides.Length > 0 ? (int)strides[0] : 1));
                    break;
                }
                case "Gemm":
                {
                    if ((Attr(n, "alpha")?.F ?? 1f) != 1f || (Attr(n, "beta")?.F ?? 1f) != 1f || (Attr(n, "transA")?.I ?? 0) != 0)
                        throw Refuse(n, "scales or transposes its input (alpha, beta, transA); a plain linear layer is supported.");
                    bool transB = (Attr(n, "transB")?.I ?? 0) == 1;
                    var b = Dims(n.Input[1]);
                    if (b.Length != 2) throw Refuse(n, "has a weight that is not 2-D.");
                    var values = Floats(n.Input[1], n.Name);
                    int outUnits = (int)(transB ? b[0] : b[1]), inUnits = (int)(transB ? b[1] : b[0]);
                    specs.Add(new LayerSpec(n.Input[1].Replace(".weight", ""), LayerKind.Linear, inUnits, outUnits, HasBias: n.Input.Count > 2));
                    tensors.Add((transB ? values : Transpose(values, inUnits, outUnits), n.Input.Count > 2 ? Floats(n.Input[2], n.Name) : null, null));
                    ops.Add(new NetworkOp(NetworkOpKind.Linear, specs.Count - 1));
                    break;
                }
                case "MatMul":
                {
                    var b = Dims(n.Input[1]);
                    if (b.Length != 2) throw Refuse(n, "multiplies by something that is not a stored 2-D weight.");
                    specs.Add(new LayerSpec(n.Input[1], LayerKind.Linear, (int)b[0], (int)b[1], HasBias: false));
                    tensors.Add((Transpose(Floats(n.Input[1], n.Name), (int)b[0], (int)b[1]), null, null));
                    ops.Add(new NetworkOp(NetworkOpKind.Linear, specs.Count - 1));
                    pendingMatMul = n.Output[0];
                    break;
                }
                case "Add" when pendingMatMul is not null:
                {
                    var biasName = n.Input.FirstOrDefault(i => i != pendingMatMul && init.ContainsKey(i)) ?? throw Refuse(n, "adds something other than a stored bias to a MatMul.");
                    var bias = Floats(biasName, n.Name);
                    if (bias.Length != specs[^1].OutFeatures) throw Refuse(n, $"adds a bias of {bias.Length} values to a layer of {specs[^1].OutFeatures} units.");
                    specs[^1] = specs[^1] with { HasBias = true };
                    tensors[^1] = (tensors[^1].Weight, bias, null);
                    pendingMatMul = null;
                    break;
                }
                case "Relu" or "Tanh" or "Sigmoid":
                    activations.Add(n.OpType.ToLowerInvariant());
                    ops.Add(new NetworkOp(NetworkOpKind.Activation));
                    break;
                case "MaxPool":
                {
                    var k = Ints(n, "kernel_shape");
                    var s = Ints(n, "strides");
                    if (k.Length != 2 || k[0] != k[1] || (s.Length > 0 && s.Any(v => v != k[0])) || Ints(n, "pads").Any(p => p != 0) || (Attr(n, "ceil_mode")?.I ?? 0) != 0)
                        throw Refuse(n, "is not a square max-pool whose stride is its window, without padding; only that is supported.");
                    ops.Add(new NetworkOp(NetworkOpKind.MaxPool, Size: (int)k[0]));
                    break;
                }
                case "Flatten" or "Reshape":
                    ops.Add(new NetworkOp(NetworkOpKind.Flatten));
                    break;
                case "GlobalAveragePool":
                    ops.Add(new NetworkOp(NetworkOpKind.GlobalMeanPool));
                    break;
                case "ReduceMean":
                {
                    var axes = Ints(n, "axes");
                    if (!(axes.Length == 2 && axes.Order().SequenceEqual(new long[] { 2, 3 }))) throw Refuse(n, $"averages over axes [{string.Join(", ", axes)}]; only the mean over H × W (2, 3) is supported.");
                    ops.Add(new NetworkOp(NetworkOpKind.GlobalMeanPool));
                    break;
                }
                case "Identity" when init.TryGetValue(n.Input[0], out var aliased):
                    init[n.Output[0]] = aliased; // the exporter shares equal weights (a fresh batch norm's σ² = γ = 1) through Identity
                    break;
                case "Identity" or "Dropout" or "Constant" or "Shape" or "Gather" or "Unsqueeze" or "Concat":
                    break; // no-ops at inference, or the shape arithmetic of a Reshape
                case "BatchNormalization":
                {
                    // The batch norm of the layer just before it: γ, β, μ, σ² per unit, with PyTorch's ε.
                    if (ops.Count == 0 || ops[^1].Kind is not (NetworkOpKind.Conv or NetworkOpKind.Linear) || specs[^1].BatchNorm)
                        throw Refuse(n, "does not directly follow a Conv or Gemm; a batch norm is supported right after its layer.");
                    float epsilon = Attr(n, "epsilon")?.F ?? 1e-5f;
                    if (Math.Abs(epsilon - LayerSpec.BatchNormEpsilon) > 1e-9) throw Refuse(n, $"has ε = {epsilon}; ε = 1e-5 (PyTorch's default) is supported.");
                    var values = n.Input.Skip(1).Take(4).Select(i => Floats(i, n.Name)).ToArray();
                    if (values.Length != 4 || values.Any(v => v.Length != specs[^1].OutFeatures))
                        throw Refuse(n, $"does not have scale, bias, mean and variance of {specs[^1].OutFeatures} values each.");
                    specs[^1] = specs[^1] with { BatchNorm = true };
                    tensors[^1] = (tensors[^1].Weight, tensors[^1].Bias, values.SelectMany(v => v).ToArray());
                    break;
                }
                default:
                    throw Refuse(n, "is an operation the method cannot express; supported: Conv, Gemm, MatMul + Add, Relu, Tanh, Sigmoid, MaxPool, Flatten, Reshape, GlobalAveragePool, ReduceMean.");
            }
        }
        if (specs.Count == 0) throw new InvalidDataException($"{path}: the graph has no Conv, Gemm or MatMul layer.");
        if (activations.Count > 1) throw new InvalidDataException($"{path}: the graph mixes activations ({string.Join(", ", activations)}); one hidden activation is supported.");
        // Leading Flatten of an MLP: the built-in MLP chains start with one; an export of Linear on a flat input has none.
        if (ops[0].Kind == NetworkOpKind.Linear) ops.Insert(0, new NetworkOp(NetworkOpKind.Flatten));
        NetworkArchitecture architecture;
        try
        {
            var shaped = new WeightLayout("imported-" + string.Join("-", specs.Select(l => l.OutFeatures)), specs);
            var builtIn = NetworkArchitecture.BuiltIn.Values.FirstOrDefault(a => LayerSpec.SameShapes(a.Layout.Layers, shaped.Layers) && a.Ops.SequenceEqual(ops));
            var mlp = specs.All(l => l.Kind == LayerKind.Linear && !l.BatchNorm) && specs.All(l => l.HasBias == specs[0].HasBias)
                ? WeightLayout.Mlp(specs.Select(l => l.InFeatures).Append(specs[^1].OutFeatures).ToArray(), specs[0].HasBias) : null;
            architecture = builtIn ?? (mlp is not null && NetworkArchitecture.For(mlp).Ops.SequenceEqual(ops) ? NetworkArchitecture.For(mlp) : new NetworkArchitecture(shaped, ops));
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the graph's layers do not make a network the method can express ({e.Message}).", e);
        }
        var layout = architecture.Layout;
        var vector = new float[layout.ParameterCount];
        for (int l = 0; l < tensors.Count; l++)
        {
            tensors[l].Weight.CopyTo(vector, layout.WeightOffset(l));
            tensors[l].Bias?.CopyTo(vector, layout.BiasOffset(l));
            tensors[l].BatchNorm?.CopyTo(vector, layout.BatchNormOffset(l));
        }
        return new Result(architecture, vector, activations.SingleOrDefault() ?? "identity");
    }

    private static float[] Transpose(float[] inByOut, int inUnits, int outUnits)
    {
        var t = new float[inByOut.Length];
        for (int i = 0; i < inUnits; i++)
            for (int o = 0; o < outUnits; o++)
                t[o * inUnits + i] = inByOut[i * outUnits + o];
        return t;
    }
}
