using System.Text.Json.Serialization;

namespace WeightSpace.MLNet;

/// <summary>The kind of a parameterised layer.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LayerKind>))]
public enum LayerKind
{
    /// <summary>A fully connected layer: weight shape [out, in].</summary>
    Linear,
    /// <summary>A 2-D convolution: weight shape [out, in, kernelHeight, kernelWidth].</summary>
    Conv2d,
}

/// <summary>
/// One parameterised layer of a network as it sits in a flat weight vector: out-major weights
/// (all incoming weights of unit 0, then unit 1, ...) followed by the biases.
/// </summary>
/// <param name="Name">A short name, e.g. "conv1".</param>
/// <param name="Kind">Linear or Conv2d.</param>
/// <param name="InFeatures">Input features (linear) or input channels (conv).</param>
/// <param name="OutFeatures">Output neurons (linear) or kernels / output channels (conv): the units that permutation moves.</param>
/// <param name="KernelHeight">Kernel height (1 for linear layers).</param>
/// <param name="KernelWidth">Kernel width (1 for linear layers).</param>
/// <param name="HasBias">Whether the layer has one bias per unit.</param>
/// <param name="BatchNorm">Whether a batch norm follows the layer: its scale γ, shift β, running mean μ and running variance
/// σ² (one each per unit, in that order, after the biases) are part of the layer's parameters, of each unit's token, and move
/// with the unit under permutation; the forward pass applies γ (x − μ) / √(σ² + 1e-5) + β (PyTorch's ε).</param>
/// <example><code>var conv1 = new LayerSpec("conv1", LayerKind.Conv2d, 1, 8, 5, 5);  // 208 parameters</code></example>
public sealed record LayerSpec(
    string Name,
    LayerKind Kind,
    int InFeatures,
    int OutFeatures,
    int KernelHeight = 1,
    int KernelWidth = 1,
    bool HasBias = true,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] bool BatchNorm = false)
{
    /// <summary>Per-unit values of the batch norm after the layer: γ, β, μ, σ² (0 without one).</summary>
    public const int BatchNormValues = 4;

    /// <summary>The batch norm's ε (PyTorch's default), used by the forward pass.</summary>
    public const double BatchNormEpsilon = 1e-5;

    /// <summary>Values of the batch norm after the layer: 4 per unit, or 0.</summary>
    [JsonIgnore] public int BatchNormCount => BatchNorm ? BatchNormValues * OutFeatures : 0;

    /// <summary>Incoming weights per unit: InFeatures × KernelHeight × KernelWidth.</summary>
    [JsonIgnore] public int FanIn => InFeatures * KernelHeight * KernelWidth;

    /// <summary>Number of weights without biases.</summary>
    [JsonIgnore] public int WeightCount => OutFeatures * FanIn;

    /// <summary>Number of biases (0 or OutFeatures).</summary>
    [JsonIgnore] public int BiasCount => HasBias ? OutFeatures : 0;

    /// <summary>All parameters of the layer (its batch norm's included).</summary>
    [JsonIgnore] public int ParameterCount => WeightCount + BiasCount + BatchNormCount;

    /// <summary>Length of one neuron token: the unit's incoming weights, its bias, and its batch-norm values.</summary>
    [JsonIgnore] public int TokenSize => FanIn + (HasBias ? 1 : 0) + (BatchNorm ? BatchNormValues : 0);

    /// <summary>The same layer but for its name: kind, sizes, kernel, bias and batch norm equal (the weight vector's block is the same).</summary>
    public bool SameShapeAs(LayerSpec other) =>
        other is not null && Kind == other.Kind && InFeatures == other.InFeatures && OutFeatures == other.OutFeatures && KernelHeight == other.KernelHeight
        && KernelWidth == other.KernelWidth && HasBias == other.HasBias && BatchNorm == other.BatchNorm;

    /// <summary>Two layer lists of the same shapes, layer by layer (<see cref="SameShapeAs"/>).</summary>
    public static bool SameShapes(IReadOnlyList<LayerSpec> a, IReadOnlyList<LayerSpec> b) => a.Count == b.Count && a.Zip(b).All(p => p.First.SameShapeAs(p.Second));

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("A layer needs a name.");
        if (InFeatures <= 0 || OutFeatures <= 0 || KernelHeight <= 0 || KernelWidth <= 0)
            throw new ArgumentException($"Layer '{Name}': sizes must be positive (in {InFeatures}, out {OutFeatures}, kernel {KernelHeight}x{KernelWidth}).");
        if (Kind == LayerKind.Linear && (KernelHeight != 1 || KernelWidth != 1))
            throw new ArgumentException($"Layer '{Name}': a linear layer has a 1x1 kernel, not {KernelHeight}x{KernelWidth}.");
    }
}
