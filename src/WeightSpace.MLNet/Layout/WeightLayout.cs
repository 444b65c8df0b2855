using System.Text.Json;
using System.Text.Json.Serialization;

namespace WeightSpace.MLNet;

/// <summary>
/// How a flat weight vector maps to the layers, units (neurons / conv kernels) and neuron tokens of
/// one architecture. Order (METHOD.md §2, as in the hyper-representation code): layer after layer;
/// within a layer the weights out-major, then that layer's biases.
/// </summary>
/// <remarks>
/// The input of layer l+1 is grouped by the units of layer l: every unit of layer l owns
/// <see cref="InputBlockSize"/>(l+1) contiguous entries of each fan-in row of layer l+1. That is 1 for
/// linear→linear, kh·kw for conv→conv and H·W for conv→flatten→linear (CNN-2464: 4 channels × 9).
/// </remarks>
/// <example><code>
/// var layout = WeightLayout.Cnn2464;
/// Console.WriteLine(layout.ParameterCount);   // 2464
/// float[] token = new float[layout.Layers[1].TokenSize];
/// layout.CopyToken(weights, layer: 1, unit: 3, token);
/// </code></example>
public sealed class WeightLayout : IEquatable<WeightLayout>
{
    private readonly int[] _offsets;
    private readonly int[] _inputBlock;
    private readonly int[] _tokenStart;

    /// <summary>Creates and validates a layout.</summary>
    /// <exception cref="ArgumentException">A layer is malformed or consecutive layers do not chain.</exception>
    [JsonConstructor]
    public WeightLayout(string name, IReadOnlyList<LayerSpec> layers)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A layout needs a name.", nameof(name));
        if (layers is null || layers.Count == 0) throw new ArgumentException($"Layout '{name}' has no layers.", nameof(layers));
        Name = name;
        Layers = layers.ToArray();
        _offsets = new int[Layers.Count + 1];
        _inputBlock = new int[Layers.Count];
        _tokenStart = new int[Layers.Count + 1];
        for (int l = 0; l < Layers.Count; l++)
        {
            var layer = Layers[l];
            layer.Validate();
            _offsets[l + 1] = checked(_offsets[l] + layer.ParameterCount);
            _tokenStart[l + 1] = _tokenStart[l] + layer.OutFeatures;
            if (l == 0) { _inputBlock[l] = 1; continue; }
            var prev = Layers[l - 1];
            if (layer.Kind == LayerKind.Conv2d)
            {
                if (prev.Kind != LayerKind.Conv2d || layer.InFeatures != prev.OutFeatures)
                    throw new ArgumentException($"Layout '{name}': conv layer '{layer.Name}' takes {layer.InFeatures} channels but '{prev.Name}' gives {prev.OutFeatures}.");
                _inputBlock[l] = layer.KernelHeight * layer.KernelWidth;
            }
            else
            {
                if (layer.InFeatures % prev.OutFeatures != 0)
                    throw new ArgumentException($"Layout '{name}': linear layer '{layer.Name}' takes {layer.InFeatures} inputs, not a multiple of the {prev.OutFeatures} units of '{prev.Name}'.");
                if (prev.Kind == LayerKind.Linear && layer.InFeatures != prev.OutFeatures)
                    throw new ArgumentException($"Layout '{name}': linear layer '{layer.Name}' takes {layer.InFeatures} inputs but '{prev.Name}' gives {prev.OutFeatures}.");
                _inputBlock[l] = layer.InFeatures / prev.OutFeatures;
            }
        }
    }

    /// <summary>Architecture name, e.g. "cnn-2464".</summary>
    public string Name { get; }

    /// <summary>The parameterised layers in order.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>Length of the flat weight vector.</summary>
    [JsonIgnore] public int ParameterCount => _offsets[^1];

    /// <summary>Whether every layer is linear (an MLP such as Tetris MLP-100), not a CNN.</summary>
    [JsonIgnore] public bool IsFullyConnected => Layers.All(l => l.Kind == LayerKind.Linear);

    /// <summary>Number of neuron tokens (one per unit of every layer).</summary>
    [JsonIgnore] public int TokenCount => _tokenStart[^1];

    /// <summary>Offset of layer <paramref name="layer"/>'s first weight in the flat vector.</summary>
    public int WeightOffset(int layer) => _offsets[layer];

    /// <summary>Offset of layer <paramref name="layer"/>'s first bias (equals the end of its weights).</summary>
    public int BiasOffset(int layer) => _offsets[layer] + Layers[layer].WeightCount;

    /// <summary>Offset of layer <paramref name="layer"/>'s batch-norm block (γ, β, μ, σ², each one value per unit; after its biases).</summary>
    public int BatchNormOffset(int layer) => BiasOffset(layer) + Layers[layer].BiasCount;

    /// <summary>Offset one past the last parameter of the layer.</summary>
    public int LayerEnd(int layer) => _offsets[layer + 1];

    /// <summary>Entries of each fan-in row of <paramref name="layer"/> owned by one unit of the layer before it.</summary>
    public int InputBlockSize(int layer) => _inputBlock[layer];

    /// <summary>Index of the first token of a layer in the token sequence.</summary>
    public int TokenStart(int layer) => _tokenStart[layer];

    /// <summary>The layer and unit of token <paramref name="token"/>.</summary>
    public (int Layer, int Unit) TokenOwner(int token)
    {
        if ((uint)token >= (uint)TokenCount) throw new ArgumentOutOfRangeException(nameof(token));
        int l = 0;
        while (_tokenStart[l + 1] <= token) l++;
        return (l, token - _tokenStart[l]);
    }

    /// <summary>The weights of one layer, [out × fanIn] out-major.</summary>
    public ReadOnlySpan<float> LayerWeights(ReadOnlySpan<float> weights, int layer) =>
        weights.Slice(WeightOffset(layer), Layers[layer].WeightCount);

    /// <summary>The biases of one layer (empty when it has none).</summary>
    public ReadOnlySpan<float> LayerBiases(ReadOnlySpan<float> weights, int layer) =>
        weights.Slice(BiasOffset(layer), Layers[layer].BiasCount);

    /// <summary>Copies the neuron token of one unit (incoming weights, then bias) into <paramref name="token"/>.</summary>
    public void CopyToken(ReadOnlySpan<float> weights, int layer, int unit, Span<float> token)
    {
        CheckVector(weights.Length);
        var spec = Layers[layer];
        if ((uint)unit >= (uint)spec.OutFeatures) throw new ArgumentOutOfRangeException(nameof(unit), $"Layer '{spec.Name}' has {spec.OutFeatures} units.");
        if (token.Length < spec.TokenSize) throw new ArgumentException($"A token of layer '{spec.Name}' needs {spec.TokenSize} values.", nameof(token));
        weights.Slice(WeightOffset(layer) + unit * spec.FanIn, spec.FanIn).CopyTo(token);
        if (spec.HasBias) token[spec.FanIn] = weights[BiasOffset(layer) + unit];
        int at = spec.FanIn + (spec.HasBias ? 1 : 0);
        if (spec.BatchNorm)
            for (int k = 0; k < LayerSpec.BatchNormValues; k++) token[at + k] = weights[BatchNormOffset(layer) + k * spec.OutFeatures + unit];
    }

    /// <summary>Writes a neuron token back into its place in the flat vector.</summary>
    public void WriteToken(Span<float> weights, int layer, int unit, ReadOnlySpan<float> token)
    {
        CheckVector(weights.Length);
        var spec = Layers[layer];
        if ((uint)unit >= (uint)spec.OutFeatures) throw new ArgumentOutOfRangeException(nameof(unit), $"Layer '{spec.Name}' has {spec.OutFeatures} units.");
        token.Slice(0, spec.FanIn).CopyTo(weights.Slice(WeightOffset(layer) + unit * spec.FanIn, spec.FanIn));
        if (spec.HasBias) weights[BiasOffset(layer) + unit] = token[spec.FanIn];
        int at = spec.FanIn + (spec.HasBias ? 1 : 0);
        if (spec.BatchNorm)
            for (int k = 0; k < LayerSpec.BatchNormValues; k++) weights[BatchNormOffset(layer) + k * spec.OutFeatures + unit] = token[at + k];
    }

    /// <summary>Throws a clear error when a vector does not have this layout's length.</summary>
    public void CheckVector(int length, string what = "weight vector")
    {
        if (length != ParameterCount)
            throw new ArgumentException($"The {what} has {length} values, but layout '{Name}' has {ParameterCount} parameters.");
    }

    /// <summary>Tetris MLP-100: Linear(16→5, no bias) → act → Linear(5→4, no bias).</summary>
    public static WeightLayout TetrisMlp100 { get; } = new("tetris-mlp-100", new[]
    {
        new LayerSpec("fc1", LayerKind.Linear, 16, 5, HasBias: false),
        new LayerSpec("fc2", LayerKind.Linear, 5, 4, HasBias: false),
    });

    /// <summary>CNN-2464 (MNIST / F-MNIST zoos): three convs, two linear layers (208/1206/100/740/210).</summary>
    public static WeightLayout Cnn2464 { get; } = new("cnn-2464", new[]
    {
        new LayerSpec("conv1", LayerKind.Conv2d, 1, 8, 5, 5),
        new LayerSpec("conv2", LayerKind.Conv2d, 8, 6, 5, 5),
        new LayerSpec("conv3", LayerKind.Conv2d, 6, 4, 2, 2),
        new LayerSpec("fc1", LayerKind.Linear, 36, 20),
        new LayerSpec("fc2", LayerKind.Linear, 20, 10),
    });

    /// <summary>CNN-4970 (Unterthiner et al.): three 3×3 convs of 16 filters, global average pooling, Dense(16→10).</summary>
    public static WeightLayout Cnn4970 { get; } = new("cnn-4970", new[]
    {
        new LayerSpec("conv1", LayerKind.Conv2d, 1, 16, 3, 3),
        new LayerSpec("conv2", LayerKind.Conv2d, 16, 16, 3, 3),
        new LayerSpec("conv3", LayerKind.Conv2d, 16, 16, 3, 3),
        new LayerSpec("dense", LayerKind.Linear, 16, 10),
    });

    /// <summary>
    /// The layout of a multilayer perceptron in one line: <paramref name="sizes"/> are the input width, then each layer's
    /// units (at least two numbers); every layer is linear, named fc1, fc2, …, with a bias unless <paramref name="bias"/> is
    /// false. The name, e.g. "mlp-64-16-10", says the shape (a "-nobias" suffix without biases), so equal shapes give equal layouts.
    /// </summary>
    /// <example><code>var layout = WeightLayout.Mlp(64, 16, 10);   // 64·16 + 16 + 16·10 + 10 = 1,210 parameters</code></example>
    /// <exception cref="ArgumentException">Fewer than two sizes, or a size below 1.</exception>
    public static WeightLayout Mlp(IReadOnlyList<int> sizes, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Count < 2) throw new ArgumentException($"An MLP needs its input width and at least one layer's units ({sizes.Count} sizes given).", nameof(sizes));
        if (sizes.Any(n => n < 1)) throw new ArgumentException($"Every size of an MLP is at least 1 (got {string.Join(", ", sizes)}).", nameof(sizes));
        var layers = Enumerable.Range(0, sizes.Count - 1).Select(l => new LayerSpec($"fc{l + 1}", LayerKind.Linear, sizes[l], sizes[l + 1], HasBias: bias)).ToArray();
        return new WeightLayout($"mlp-{string.Join("-", sizes)}{(bias ? "" : "-nobias")}", layers);
    }

    /// <inheritdoc cref="Mlp(IReadOnlyList{int}, bool)"/>
    public static WeightLayout Mlp(params int[] sizes) => Mlp(sizes, bias: true);

    /// <summary>
    /// A layout by name: a built-in one ("tetris-mlp-100", "cnn-2464", "cnn-4970") or an MLP written as
    /// <see cref="Mlp(IReadOnlyList{int}, bool)"/> names it ("mlp-64-16-10", "mlp-16-5-4-nobias").
    /// </summary>
    /// <exception cref="ArgumentException">Neither; the message lists what is understood.</exception>
    public static WeightLayout Parse(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (BuiltIn.TryGetValue(name, out var builtIn)) return builtIn;
        var parts = name.Split('-');
        bool noBias = parts.Length > 0 && parts[^1] == "nobias";
        var numbers = parts.Skip(1).Take(parts.Length - 1 - (noBias ? 1 : 0)).ToArray();
        if (parts[0] == "mlp" && numbers.Length >= 2 && numbers.All(n => int.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 1))
            return Mlp(numbers.Select(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), bias: !noBias);
        throw new ArgumentException($"'{name}' is not a layout: give one of {string.Join(", ", BuiltIn.Keys)}, or an MLP as mlp-IN-H1-...-OUT (e.g. mlp-64-16-10; add -nobias for layers without biases).", nameof(name));
    }

    /// <summary>The built-in layouts by name.</summary>
    public static IReadOnlyDictionary<string, WeightLayout> BuiltIn { get; } = new Dictionary<string, WeightLayout>
    {
        [TetrisMlp100.Name] = TetrisMlp100,
        [Cnn2464.Name] = Cnn2464,
        [Cnn4970.Name] = Cnn4970,
    };

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Serialises the layout to JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a layout from JSON (validated as in the constructor).</summary>
    public static WeightLayout FromJson(string json) =>
        JsonSerializer.Deserialize<WeightLayout>(json, JsonOptions) ?? throw new FormatException("The layout JSON is empty.");

    /// <inheritdoc />
    public bool Equals(WeightLayout? other) =>
        other is not null && Name == other.Name && Layers.SequenceEqual(other.Layers);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as WeightLayout);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Layers.Count, ParameterCount);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} ({ParameterCount} parameters: {string.Join(" / ", Layers.Select(l => l.ParameterCount))})";
}
