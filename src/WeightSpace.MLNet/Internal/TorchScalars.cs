using TorchSharp;

namespace WeightSpace.MLNet;

/// <summary>
/// Scalars held for the life of the process. A number passed where TorchSharp wants a <see cref="Scalar"/> becomes a
/// native object with a finaliser, which a GC on another thread can run while the native op still reads it (seen in
/// this project as "Expected false to be true … Scalar::toFloat"; docs/design.md). Even <c>a + b</c> makes such a
/// temporary (alpha = 1), so the hot paths of this folder write <c>a.add(b, One)</c> and hold every other Scalar in a
/// field. Some TorchSharp methods make one inside: <c>square()</c> is <c>pow(2)</c> (seen failing as "INTERNAL ASSERT
/// FAILED … Scalar.h … equal" in a ridge probe's R²), so the library writes <c>d.mul(d)</c>; <c>ScalarRuleTests</c>
/// keeps such calls out of the library's sources.
/// </summary>
internal static class TorchScalars
{
    public static readonly Scalar One = 1.0.ToScalar();
    public static readonly Scalar MinusOne = (-1.0).ToScalar();
    public static readonly Scalar Zero = 0.0.ToScalar();
    public static readonly Scalar Tiny = 1e-6.ToScalar();
}
