using System.Numerics;
using System.Runtime.CompilerServices;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Element-wise functions on whole <see cref="Vector{T}"/>s of lanes, inlined into the lane trainers' loops:
/// exp (Cephes' expf polynomial, relative error &lt; 1e-7 over the float range), and from it tanh, the logistic
/// sigmoid and GELU with its derivative (Φ from the erfc fit of Numerical Recipes, relative error &lt; 1.2e-7, so
/// it stays accurate for very negative inputs where 1 + erf(x/√2) would cancel).
/// </summary>
internal static class LaneMath
{
    private static readonly Vector<float> ExpHi = new(88.7f), ExpLo = new(-87.3f), Log2E = new(1.44269504088896341f), Half = new(0.5f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        x = Vector.Min(Vector.Max(x, ExpLo), ExpHi);
        // x = n·ln 2 + r, |r| ≤ ln 2 / 2 (ln 2 split in two for an exact reduction), e^x = 2^n · e^r.
        var n = Vector.Floor(Vector.FusedMultiplyAdd(x, Log2E, Half));
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(-0.693359375f), x);
        r = Vector.FusedMultiplyAdd(n, new Vector<float>(2.12194440e-4f), r);
        var p = new Vector<float>(1.9875691500e-4f);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.3981999507e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(8.3334519073e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(4.1665795894e-2f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.6666665459e-1f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(5.0000001201e-1f));
        p = Vector.FusedMultiplyAdd(p * r, r, r) + Vector<float>.One;
        var scale = Vector.AsVectorSingle((Vector.ConvertToInt32(n) + new Vector<int>(127)) << 23);
        return p * scale;
    }

    /// <summary>tanh x = sign(x)·(1 − e^−2|x|)/(1 + e^−2|x|); absolute error &lt; 1e-7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Tanh(Vector<float> x)
    {
        var e = Exp(Vector.Abs(x) * -2f);
        var t = (Vector<float>.One - e) / (Vector<float>.One + e);
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), -t, t);
    }

    /// <summary>1 / (1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Sigmoid(Vector<float> x) => Vector<float>.One / (Vector<float>.One + Exp(-x));

    /// <summary>Φ(x), the standard normal CDF, as ½·erfc(−x/√2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> NormalCdf(Vector<float> x)
    {
        var z = Vector.Abs(x) * 0.70710678118654752f;
        var t = Vector<float>.One / Vector.FusedMultiplyAdd(z, Half, Vector<float>.One);
        var p = new Vector<float>(0.17087277f);
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(-0.82215223f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(1.48851587f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(-1.13520398f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(0.27886807f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(-0.18628806f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(0.09678418f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(0.37409196f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(1.00002368f));
        p = Vector.FusedMultiplyAdd(p, t, new Vector<float>(-1.26551223f)) - z * z;
        var halfErfc = Half * t * Exp(p); // ½·erfc(|x|/√2)
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), halfErfc, Vector<float>.One - halfErfc);
    }

    /// <summary>GELU x·Φ(x) (exact form, as torch's default).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Gelu(Vector<float> x) => x * NormalCdf(x);

    /// <summary>d GELU / dx = Φ(x) + x·φ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> GeluDerivative(Vector<float> x) =>
        NormalCdf(x) + x * Exp(x * x * -0.5f) * 0.398942280401432678f;
}
