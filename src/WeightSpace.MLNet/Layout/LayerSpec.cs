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
/// <example><code>var conv1 = new LayerSpec("conv1", LayerKind.Conv2d, 1, 8, 5, 5);  // 208 parameters</code></example>
public sealed record LayerSpec(
    string Name,
    LayerKind Kind,
    int InFeatures,
    int OutFeatures,
    int KernelHeight = 1,
    int KernelWidth = 1,
    bool HasBias = true)
{
    /// <summary>Incoming weights per unit: InFeatures × KernelHeight × KernelWidth.</summary>
    [JsonIgnore] public int FanIn => InFeatures * KernelHeight * KernelWidth;

    /// <summary>Number of weights without biases.</summary>
    [JsonIgnore] public int WeightCount => OutFeatures * FanIn;

    /// <summary>Number of biases (0 or OutFeatures).</summary>
    [JsonIgnore] public int BiasCount => HasBias ? OutFeatures : 0;

    /// <summary>All parameters of the layer.</summary>
    [JsonIgnore] public int ParameterCount => WeightCount + BiasCount;

    /// <summary>Length of one neuron token: the unit's incoming weights plus its bias.</summary>
    [JsonIgnore] public int TokenSize => FanIn + (HasBias ? 1 : 0);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("A layer needs a name.");
        if (InFeatures <= 0 || OutFeatures <= 0 || KernelHeight <= 0 || KernelWidth <= 0)
            throw new ArgumentException($"Layer '{Name}': sizes must be positive (in {InFeatures}, out {OutFeatures}, kernel {KernelHeight}x{KernelWidth}).");
        if (Kind == LayerKind.Linear && (KernelHeight != 1 || KernelWidth != 1))
            throw new ArgumentException($"Layer '{Name}': a linear layer has a 1x1 kernel, not {KernelHeight}x{KernelWidth}.");
    }
}
