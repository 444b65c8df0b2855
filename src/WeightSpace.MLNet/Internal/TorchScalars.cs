using TorchSharp;

namespace WeightSpace.MLNet;

/// <summary>
/// Scalars held for the life of the process. A number passed where TorchSharp wants a <see cref="Scalar"/> becomes a
/// native object with a finaliser, which a GC on another thread can run while the native op still reads it (seen in
/// this project as "Expected false to be true … Scalar::toFloat"; docs/design.md). Even <c>a + b</c> makes such a
/// temporary (alpha = 1), so the hot paths of this folder write <c>a.add(b, One)</c> and hold every other Scalar in a
/// field.
/// </summary>
internal static class TorchScalars
{
    public static readonly Scalar One = 1.0.ToScalar();
    public static readonly Scalar MinusOne = (-1.0).ToScalar();
}
