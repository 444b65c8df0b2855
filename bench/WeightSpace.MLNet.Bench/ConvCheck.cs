using System.Runtime.InteropServices;
using TorchSharp;
using WeightSpace.ZooGen.Networks;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// Diagnostic for libtorch's CPU convolution backward (NaN / wrong gradients of the CNN reference on AVX-512 AMD machines).
/// For each conv shape of the zoo CNNs, compares the weight gradient and the input gradient of (a)
/// <c>nn.functional.conv2d</c> with libtorch's defaults (the oneDNN / mkldnn path), (b) the same with mkldnn switched off
/// through <c>at::Context::setUserEnabledMkldnn(false)</c>, and (c) the reference network's unfold + matmul
/// (<see cref="ZooNetwork.Conv2d"/>), each against <see cref="Conv2dFloat64"/>. Then replays the failing training of the
/// tests (CNN-2464, full-batch Adam) with each and prints every parameter's gradient against unfold + matmul. Prints
/// figures only; the test suite holds (c) to the float64 oracle on every machine (ReferenceConvolutionTests).
/// </summary>
internal static class ConvCheck
{
    [DllImport("libtorch_cpu.so", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu.so", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.I1)] bool enabled);

    [DllImport("libtorch_cpu.so", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.I1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    public static void Run(int trials, int steps)
    {
        torch.manual_seed(0); // loads libtorch before the P/Invokes resolve it
        Console.WriteLine($"libtorch {torch.__version__}; CPU: {CpuName()}; AVX-512F: {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}");
        var shapes = new (string Name, int N, int Cin, int Cout, int K, int H)[]
        {
            ("cnn-2464 conv1", 16, 1, 8, 5, 28),
            ("cnn-2464 conv1", 256, 1, 8, 5, 28),
            ("cnn-2464 conv2", 16, 8, 6, 5, 12),
            ("cnn-2464 conv2", 256, 8, 6, 5, 12),
            ("cnn-2464 conv3", 256, 6, 4, 2, 4),
            ("cnn-4970 conv1 (stride 1 here)", 16, 1, 16, 3, 28),
        };
        var ctx = GlobalContext();
        foreach (var (name, n, cin, cout, k, h) in shapes)
        {
            var rng = new Random(17);
            double worstDefault = 0, worstNoMkldnn = 0, worstUnfold = 0, dxDefault = 0, dxNoMkldnn = 0, dxUnfold = 0;
            int nanDefault = 0, nanNoMkldnn = 0, nanUnfold = 0;
            for (int t = 0; t < trials; t++)
            {
                var x = Rand(rng, n * cin * h * h, 1.0);
                var w = Rand(rng, cout * cin * k * k, 0.3);
                int o = h - k + 1;
                var g = Rand(rng, n * cout * o * o, 1.0);
                var (exactWeights, _, exactInput) = new Conv2dFloat64(n, cin, cout, k, h, h, 1).Backward(x, w, g);
                double Err((float[] W, float[] X) got, ref int nan, ref double worstX)
                {
                    worstX = Math.Max(worstX, Worst(got.X, exactInput, ref nan));
                    return Worst(got.W, exactWeights, ref nan);
                }
                static double Worst(float[] got, double[] exact, ref int nan)
                {
                    double worst = Conv2dFloat64.RelativeError(got, exact);
                    if (double.IsPositiveInfinity(worst)) nan++;
                    return worst;
                }
                SetUserEnabledMkldnn(ctx, true);
                worstDefault = Math.Max(worstDefault, Err(TorchGradient(x, w, g, n, cin, cout, k, h, unfold: false), ref nanDefault, ref dxDefault));
                SetUserEnabledMkldnn(ctx, false);
                worstNoMkldnn = Math.Max(worstNoMkldnn, Err(TorchGradient(x, w, g, n, cin, cout, k, h, unfold: false), ref nanNoMkldnn, ref dxNoMkldnn));
                SetUserEnabledMkldnn(ctx, true);
                worstUnfold = Math.Max(worstUnfold, Err(TorchGradient(x, w, g, n, cin, cout, k, h, unfold: true), ref nanUnfold, ref dxUnfold));
            }
            Console.WriteLine($"{name}, batch {n}, {trials} trials: largest |dW - exact| / max|exact| (and the same for dX):");
            Console.WriteLine($"  conv2d (libtorch default, mkldnn {(UserEnabledMkldnn(ctx) ? "on" : "off")}) {worstDefault:E2} ({dxDefault:E2})  non-finite in {nanDefault} trials");
            Console.WriteLine($"  conv2d, mkldnn switched off           {worstNoMkldnn:E2} ({dxNoMkldnn:E2})  non-finite in {nanNoMkldnn} trials");
            Console.WriteLine($"  unfold + matmul (the reference's)     {worstUnfold:E2} ({dxUnfold:E2})  non-finite in {nanUnfold} trials");
        }
        Trajectory(steps);
    }

    /// <summary>
    /// The failing case of the tests, replayed with plain TorchSharp calls: CNN-2464 (tanh, Kaiming uniform seed 11), the
    /// 256 upscaled Tetris images of PermutationEquivalenceTests, full-batch Adam 1e-2 — once with <c>conv2d</c> (mkldnn on,
    /// then off) and once with unfold + matmul. Each step, conv1's weight gradient is compared with the float64 sum over
    /// the input and the gradient that reached conv1's output (retain_grad), which does not depend on the kernel.
    /// </summary>
    public static void Trajectory(int steps)
    {
        var ctx = GlobalContext();
        var data = ZooGen.Training.Shapes28.Generate();
        foreach (var (label, unfold, mkldnn) in new[] { ("conv2d, mkldnn on", false, true), ("conv2d, mkldnn off", false, false), ("unfold + matmul", true, true) })
        {
            SetUserEnabledMkldnn(ctx, mkldnn);
            using var net = new ZooNetwork(WeightLayout.Cnn2464, ZooGen.Training.Activation.Tanh);
            net.LoadVector(ZooGen.Training.Initializer.Create(WeightLayout.Cnn2464, ZooGen.Training.Init.KaimingUniform, seed: 11));
            var p = net.parameters().ToArray(); // conv1.w, conv1.b, conv2.w, conv2.b, conv3.w, conv3.b, fc1.w, fc1.b, fc2.w, fc2.b
            using var opt = optim.Adam(p, 1e-2);
            var x = tensor(data.Pixels, new long[] { data.Count, 1, 28, 28 });
            var y = tensor(data.Labels.Select(l => (long)l).ToArray());
            Console.WriteLine($"trajectory, {label}:");
            string[] names = { "conv1.w", "conv1.b", "conv2.w", "conv2.b", "conv3.w", "conv3.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b" };
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                (float Loss, float[][] Grads, float[] Upstream) Pass(bool viaUnfold)
                {
                    opt.zero_grad();
                    Tensor Conv(Tensor input, int i) => viaUnfold ? ZooNetwork.Conv2d(input, p[i], p[i + 1], 1) : nn.functional.conv2d(input, p[i], p[i + 1]);
                    var y1 = Conv(x, 0);
                    y1.retain_grad();
                    var h = nn.functional.max_pool2d(y1, 2).tanh();
                    h = nn.functional.max_pool2d(Conv(h, 2), 2).tanh();
                    h = Conv(h, 4).tanh().reshape(data.Count, -1);
                    h = nn.functional.linear(h, p[6], p[7]).tanh();
                    var loss = nn.functional.cross_entropy(nn.functional.linear(h, p[8], p[9]), y);
                    loss.backward();
                    return (loss.item<float>(), p.Select(t => t.grad!.data<float>().ToArray()).ToArray(), y1.grad!.data<float>().ToArray());
                }
                var reference = Pass(viaUnfold: true);
                var (lossValue, grads, upstream) = unfold ? reference : Pass(viaUnfold: false);
                var exact = new Conv2dFloat64(data.Count, 1, 8, 5, 28, 28, 1).Backward(data.Pixels, p[0].data<float>().ToArray(), upstream).Weight;
                double worst = Conv2dFloat64.RelativeError(grads[0], exact);
                var perParam = names.Select((n, k) =>
                {
                    double sc = reference.Grads[k].Max(v => Math.Abs((double)v)) + 1e-12;
                    double e = grads[k].Zip(reference.Grads[k], (a, b) => float.IsFinite(a) ? Math.Abs(a - b) / sc : double.PositiveInfinity).Max();
                    return $"{n} {e:E1}";
                });
                Console.WriteLine($"  step {step}: loss {lossValue:F4}; conv1 dW vs float64 of its own upstream {worst:E2}; each gradient vs unfold + matmul: {string.Join(", ", perParam)}");
                if (!unfold) Pass(viaUnfold: false); // the kernel under test's gradients are the ones stepped
                opt.step();
            }
        }
        SetUserEnabledMkldnn(ctx, true);
    }

    private static string CpuName()
    {
        try { return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "?"; }
        catch (IOException) { return "?"; }
    }

    private static float[] Rand(Random rng, int count, double scale) =>
        Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static (float[] W, float[] X) TorchGradient(float[] x, float[] w, float[] g, int n, int cin, int cout, int k, int h, bool unfold)
    {
        using var scope = NewDisposeScope();
        var xt = tensor(x, new long[] { n, cin, h, h }).requires_grad_(true);
        var wt = tensor(w, new long[] { cout, cin, k, k }).requires_grad_(true);
        int o = h - k + 1;
        var gt = tensor(g, new long[] { n, cout, o, o });
        var y = unfold ? ZooNetwork.Conv2d(xt, wt, null, 1) : nn.functional.conv2d(xt, wt);
        y.backward(new[] { gt });
        return (wt.grad!.data<float>().ToArray(), xt.grad!.data<float>().ToArray());
    }

    /// <summary>dL/dX[n, ci, i + ky, j + kx] += g[n, co, i, j] · W[co, ci, ky, kx], summed in float64.</summary>
    internal static double[] InputGradient64(float[] w, float[] g, int n, int cin, int cout, int k, int h)
    {
        int o = h - k + 1;
        var dx = new double[n * cin * h * h];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < cout; co++)
                for (int i = 0; i < o; i++)
                    for (int j = 0; j < o; j++)
                    {
                        double gv = g[((b * cout + co) * o + i) * o + j];
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                    dx[((b * cin + ci) * h + i + ky) * h + j + kx] += gv * w[((co * cin + ci) * k + ky) * k + kx];
                    }
        return dx;
    }
}
