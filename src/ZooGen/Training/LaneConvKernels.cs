using System.Numerics;
using System.Runtime.CompilerServices;

namespace WeightSpace.ZooGen.Training;

/// <summary>A compile-time count: the JIT specialises a generic method per struct type argument, so <c>TB.N</c> folds to a constant.</summary>
internal interface ICount { static abstract int N { get; } }
internal struct One : ICount { public static int N => 1; }
internal struct Two : ICount { public static int N => 2; }
internal struct Four : ICount { public static int N => 4; }

/// <summary>
/// The convolution kernels of <see cref="LaneConvGroup"/> on [channel × height × width × lanes] tensors (square
/// kernel k, stride s, no padding; weights [O, C, k, k]). Each works on a tile of TB output channels (4, 2 or 1) and,
/// where it reduces, two independent pixel streams, so up to eight accumulators hide the fused multiply-add latency
/// and every loaded input vector feeds TB multiply-adds.
/// </summary>
internal static class LaneConvKernels
{
    /// <summary>Convolution geometry: input c×h×w, output o×oh×ow.</summary>
    public readonly record struct Shape(int C, int H, int W, int O, int K, int Stride)
    {
        public int OH => (H - K) / Stride + 1;
        public int OW => (W - K) / Stride + 1;
        public int Fan => C * K * K;
        public int Plane => OH * OW;
    }

    /// <summary>output = conv(input, weights) + bias.</summary>
    public static void Forward(in Shape s, ReadOnlySpan<Vector<float>> input, ReadOnlySpan<Vector<float>> weights, ReadOnlySpan<Vector<float>> bias, Span<Vector<float>> output)
    {
        int oc = 0;
        for (; oc + 4 <= s.O; oc += 4) ForwardChannels<Four>(s, input, weights, bias, output, oc);
        for (; oc + 2 <= s.O; oc += 2) ForwardChannels<Two>(s, input, weights, bias, output, oc);
        for (; oc < s.O; oc++) ForwardChannels<One>(s, input, weights, bias, output, oc);
    }

    private static void ForwardChannels<TB>(in Shape s, ReadOnlySpan<Vector<float>> input, ReadOnlySpan<Vector<float>> weights, ReadOnlySpan<Vector<float>> bias, Span<Vector<float>> output, int oc)
        where TB : struct, ICount
    {
        int ow = s.OW;
        ref var in0 = ref Unsafe.AsRef(in input[0]);
        ref var wBlock = ref Unsafe.Add(ref Unsafe.AsRef(in weights[0]), oc * s.Fan);
        ref var out0 = ref output[0];
        Vector<float> b0 = default, b1 = default, b2 = default, b3 = default;
        if (!bias.IsEmpty)
        {
            b0 = bias[oc];
            if (TB.N > 1) b1 = bias[oc + 1];
            if (TB.N > 2) { b2 = bias[oc + 2]; b3 = bias[oc + 3]; }
        }
        for (int oy = 0; oy < s.OH; oy++)
        {
            int ox = 0;
            for (; ox + 2 <= ow; ox += 2) ForwardTile<TB, Two>(s, ref in0, ref wBlock, ref out0, b0, b1, b2, b3, oc, oy, ox);
            if (ox < ow) ForwardTile<TB, One>(s, ref in0, ref wBlock, ref out0, b0, b1, b2, b3, oc, oy, ox);
        }
    }

    /// <summary>TB output channels × TP (1 or 2) output pixels from (oy, ox): accumulators a{channel}{pixel}.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardTile<TB, TP>(in Shape s, ref Vector<float> in0, ref Vector<float> wBlock, ref Vector<float> out0,
        Vector<float> b0, Vector<float> b1, Vector<float> b2, Vector<float> b3, int oc, int oy, int ox)
        where TB : struct, ICount where TP : struct, ICount
    {
        int k = s.K, kk = k * k, fan = s.Fan, plane = s.Plane, stride = s.Stride;
        Vector<float> a00 = b0, a01 = b0, a10 = b1, a11 = b1, a20 = b2, a21 = b2, a30 = b3, a31 = b3;
        for (int ci = 0; ci < s.C; ci++)
            for (int ky = 0; ky < k; ky++)
            {
                ref var xr = ref Unsafe.Add(ref in0, (ci * s.H + oy * stride + ky) * s.W + ox * stride);
                ref var wr = ref Unsafe.Add(ref wBlock, ci * kk + ky * k);
                for (int kx = 0; kx < k; kx++)
                {
                    var x0 = Unsafe.Add(ref xr, kx);
                    var x1 = TP.N > 1 ? Unsafe.Add(ref xr, stride + kx) : default;
                    var wv = Unsafe.Add(ref wr, kx);
                    a00 = Vector.FusedMultiplyAdd(wv, x0, a00); if (TP.N > 1) a01 = Vector.FusedMultiplyAdd(wv, x1, a01);
                    if (TB.N > 1) { wv = Unsafe.Add(ref wr, fan + kx); a10 = Vector.FusedMultiplyAdd(wv, x0, a10); if (TP.N > 1) a11 = Vector.FusedMultiplyAdd(wv, x1, a11); }
                    if (TB.N > 2)
                    {
                        wv = Unsafe.Add(ref wr, 2 * fan + kx); a20 = Vector.FusedMultiplyAdd(wv, x0, a20); if (TP.N > 1) a21 = Vector.FusedMultiplyAdd(wv, x1, a21);
                        wv = Unsafe.Add(ref wr, 3 * fan + kx); a30 = Vector.FusedMultiplyAdd(wv, x0, a30); if (TP.N > 1) a31 = Vector.FusedMultiplyAdd(wv, x1, a31);
                    }
                }
            }
        int at = oc * plane + oy * s.OW + ox;
        Unsafe.Add(ref out0, at) = a00;
        if (TP.N > 1) Unsafe.Add(ref out0, at + 1) = a01;
        if (TB.N > 1) { Unsafe.Add(ref out0, at + plane) = a10; if (TP.N > 1) Unsafe.Add(ref out0, at + plane + 1) = a11; }
        if (TB.N > 2)
        {
            Unsafe.Add(ref out0, at + 2 * plane) = a20; Unsafe.Add(ref out0, at + 3 * plane) = a30;
            if (TP.N > 1) { Unsafe.Add(ref out0, at + 2 * plane + 1) = a21; Unsafe.Add(ref out0, at + 3 * plane + 1) = a31; }
        }
    }

    /// <summary>gradW[o, c, ky, kx] += Σ over output pixels of dOut[o, pixel] · input[c, pixel·stride + (ky, kx)].</summary>
    public static void WeightGradient(in Shape s, ReadOnlySpan<Vector<float>> input, ReadOnlySpan<Vector<float>> dOut, Span<Vector<float>> gradW)
    {
        int oc = 0;
        for (; oc + 4 <= s.O; oc += 4) WeightGradientChannels<Four>(s, input, dOut, gradW, oc);
        for (; oc + 2 <= s.O; oc += 2) WeightGradientChannels<Two>(s, input, dOut, gradW, oc);
        for (; oc < s.O; oc++) WeightGradientChannels<One>(s, input, dOut, gradW, oc);
    }

    private static void WeightGradientChannels<TB>(in Shape s, ReadOnlySpan<Vector<float>> input, ReadOnlySpan<Vector<float>> dOut, Span<Vector<float>> gradW, int oc)
        where TB : struct, ICount
    {
        int k = s.K, kk = k * k, fan = s.Fan, plane = s.Plane, ow = s.OW, stride = s.Stride, w = s.W;
        ref var in0 = ref Unsafe.AsRef(in input[0]);
        ref var d0 = ref Unsafe.Add(ref Unsafe.AsRef(in dOut[0]), oc * plane);
        ref var g0 = ref Unsafe.Add(ref gradW[0], oc * fan);
        for (int ci = 0; ci < s.C; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    // Even and odd columns in separate accumulators: two independent chains per channel.
                    Vector<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
                    for (int oy = 0; oy < s.OH; oy++)
                    {
                        ref var xr = ref Unsafe.Add(ref in0, (ci * s.H + oy * stride + ky) * w + kx);
                        ref var dr = ref Unsafe.Add(ref d0, oy * ow);
                        int ox = 0;
                        for (; ox + 2 <= ow; ox += 2)
                        {
                            var x0 = Unsafe.Add(ref xr, ox * stride);
                            var x1 = Unsafe.Add(ref xr, (ox + 1) * stride);
                            a00 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, ox), x0, a00);
                            a01 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, ox + 1), x1, a01);
                            if (TB.N > 1)
                            {
                                a10 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, plane + ox), x0, a10);
                                a11 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, plane + ox + 1), x1, a11);
                            }
                            if (TB.N > 2)
                            {
                                a20 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 2 * plane + ox), x0, a20);
                                a21 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 2 * plane + ox + 1), x1, a21);
                                a30 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 3 * plane + ox), x0, a30);
                                a31 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 3 * plane + ox + 1), x1, a31);
                            }
                        }
                        if (ox < ow)
                        {
                            var x0 = Unsafe.Add(ref xr, ox * stride);
                            a00 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, ox), x0, a00);
                            if (TB.N > 1) a10 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, plane + ox), x0, a10);
                            if (TB.N > 2)
                            {
                                a20 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 2 * plane + ox), x0, a20);
                                a30 = Vector.FusedMultiplyAdd(Unsafe.Add(ref dr, 3 * plane + ox), x0, a30);
                            }
                        }
                    }
                    int at = ci * kk + ky * k + kx;
                    Unsafe.Add(ref g0, at) += a00 + a01;
                    if (TB.N > 1) Unsafe.Add(ref g0, fan + at) += a10 + a11;
                    if (TB.N > 2) { Unsafe.Add(ref g0, 2 * fan + at) += a20 + a21; Unsafe.Add(ref g0, 3 * fan + at) += a30 + a31; }
                }
    }

    /// <summary>dIn = Σ over channels and kernel offsets of weights · dOut, scattered back to the input positions (dIn is overwritten).</summary>
    public static void InputGradient(in Shape s, ReadOnlySpan<Vector<float>> weights, ReadOnlySpan<Vector<float>> dOut, Span<Vector<float>> dIn)
    {
        dIn.Clear();
        int oc = 0;
        for (; oc + 4 <= s.O; oc += 4) InputGradientChannels<Four>(s, weights, dOut, dIn, oc);
        for (; oc + 2 <= s.O; oc += 2) InputGradientChannels<Two>(s, weights, dOut, dIn, oc);
        for (; oc < s.O; oc++) InputGradientChannels<One>(s, weights, dOut, dIn, oc);
    }

    private static void InputGradientChannels<TB>(in Shape s, ReadOnlySpan<Vector<float>> weights, ReadOnlySpan<Vector<float>> dOut, Span<Vector<float>> dIn, int oc)
        where TB : struct, ICount
    {
        int k = s.K, kk = k * k, fan = s.Fan, plane = s.Plane, ow = s.OW, stride = s.Stride, w = s.W;
        ref var w0 = ref Unsafe.Add(ref Unsafe.AsRef(in weights[0]), oc * fan);
        ref var d0 = ref Unsafe.Add(ref Unsafe.AsRef(in dOut[0]), oc * plane);
        ref var di0 = ref dIn[0];
        for (int ci = 0; ci < s.C; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    int at = ci * kk + ky * k + kx;
                    var w0v = Unsafe.Add(ref w0, at);
                    var w1v = TB.N > 1 ? Unsafe.Add(ref w0, fan + at) : default;
                    var w2v = TB.N > 2 ? Unsafe.Add(ref w0, 2 * fan + at) : default;
                    var w3v = TB.N > 2 ? Unsafe.Add(ref w0, 3 * fan + at) : default;
                    for (int oy = 0; oy < s.OH; oy++)
                    {
                        ref var xr = ref Unsafe.Add(ref di0, (ci * s.H + oy * stride + ky) * w + kx);
                        ref var dr = ref Unsafe.Add(ref d0, oy * ow);
                        for (int ox = 0; ox < ow; ox++)
                        {
                            ref var target = ref Unsafe.Add(ref xr, ox * stride);
                            var t = Vector.FusedMultiplyAdd(w0v, Unsafe.Add(ref dr, ox), target);
                            if (TB.N > 1) t = Vector.FusedMultiplyAdd(w1v, Unsafe.Add(ref dr, plane + ox), t);
                            if (TB.N > 2)
                            {
                                t = Vector.FusedMultiplyAdd(w2v, Unsafe.Add(ref dr, 2 * plane + ox), t);
                                t = Vector.FusedMultiplyAdd(w3v, Unsafe.Add(ref dr, 3 * plane + ox), t);
                            }
                            target = t;
                        }
                    }
                }
    }
}
