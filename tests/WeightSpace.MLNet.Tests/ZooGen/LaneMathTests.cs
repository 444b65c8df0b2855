using System.Numerics;
using WeightSpace.ZooGen.Training;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class LaneMathTests
{
    // Φ in double: for x ≥ −3 Marsaglia's series Φ(x) = ½ + φ(x)·Σ x^(2n+1)/(1·3·…·(2n+1)); in the negative tail
    // Laplace's continued fraction Φ(−a) = φ(a) / (a + 1/(a + 2/(a + 3/(a + …)))), with no cancellation; Φ(x) = 1 − Φ(−x) above 3.
    private static double Phi(double x)
    {
        if (x > 3) return 1 - Phi(-x);
        double density = Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
        if (x < -3)
        {
            double a = -x, f = a;
            for (int n = 300; n >= 1; n--) f = a + n / f;
            return density / f;
        }
        double sum = x, term = x;
        for (int n = 1; n < 300; n++) { term *= x * x / (2 * n + 1); sum += term; }
        return 0.5 + sum * density;
    }

    [Fact]
    public void VectorFunctionsMatchDoublePrecisionReferences()
    {
        var xs = Enumerable.Range(-800, 1601).Select(i => i / 100.0).Concat(new[] { -80.0, -30, 1e-4, -1e-4, 0, 30, 80 }).ToArray();
        int L = Vector<float>.Count;
        double expRel = 0, tanhAbs = 0, sigAbs = 0, geluAbs = 0, geluTailRel = 0, dgeluAbs = 0;
        foreach (var x in xs)
        {
            var v = new Vector<float>((float)x);
            double xf = (float)x;
            if (Math.Abs(xf) < 85) expRel = Math.Max(expRel, Math.Abs(LaneMath.Exp(v)[0] - Math.Exp(xf)) / Math.Exp(xf));
            tanhAbs = Math.Max(tanhAbs, Math.Abs(LaneMath.Tanh(v)[L - 1] - Math.Tanh(xf)));
            sigAbs = Math.Max(sigAbs, Math.Abs(LaneMath.Sigmoid(v)[0] - 1 / (1 + Math.Exp(-xf))));
            double gelu = xf * Phi(xf);
            geluAbs = Math.Max(geluAbs, Math.Abs(LaneMath.Gelu(v)[0] - gelu));
            if (xf < -3 && xf > -12) geluTailRel = Math.Max(geluTailRel, Math.Abs(LaneMath.Gelu(v)[0] - gelu) / Math.Abs(gelu));
            double dgelu = Phi(xf) + xf * Math.Exp(-xf * xf / 2) / Math.Sqrt(2 * Math.PI);
            dgeluAbs = Math.Max(dgeluAbs, Math.Abs(LaneMath.GeluDerivative(v)[0] - dgelu));
        }
        Assert.True(expRel < 3e-7, $"exp relative error {expRel}");
        Assert.True(tanhAbs < 3e-7, $"tanh absolute error {tanhAbs}");
        Assert.True(sigAbs < 3e-7, $"sigmoid absolute error {sigAbs}");
        Assert.True(geluAbs < 1e-6, $"gelu absolute error {geluAbs}");
        Assert.True(geluTailRel < 1e-5, $"gelu relative error in the negative tail {geluTailRel}"); // where 1 + erf would cancel
        Assert.True(dgeluAbs < 1e-6, $"gelu derivative absolute error {dgeluAbs}");
        Assert.InRange(LaneMath.Exp(new Vector<float>(-200f))[0], 0f, 1e-37f); // clamped, not garbage
        Assert.False(float.IsNaN(LaneMath.Tanh(new Vector<float>(float.MaxValue))[0]));
    }
}
