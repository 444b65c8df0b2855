using Microsoft.ML;
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeightSpace.MLNet.Bench;

internal static class OpProfile
{
    static double Time(Func<Tensor> forward, int reps = 10)
    {
        double total = 0;
        for (int i = 0; i < reps + 2; i++)
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            var y = forward();
            y.sum().backward();
            if (i >= 2) total += sw.Elapsed.TotalMilliseconds;
        }
        return total / reps;
    }

    public static void Run(int d, int b, int t)
    {
        int h = 4;
        var x = randn(b, t, d).requires_grad_(true);
        var qkvL = Linear(d, 3 * d); var proj = Linear(d, d); var up = Linear(d, 2 * d); var down = Linear(2 * d, d); var ln = LayerNorm(d);
        var q = randn(b, h, t, d / h).requires_grad_(true); var k = randn(b, h, t, d / h).requires_grad_(true); var v = randn(b, h, t, d / h).requires_grad_(true);
        Console.WriteLine($"d={d} B={b} T={t} (fwd+bwd ms)");
        Console.WriteLine($"  qkv linear   {Time(() => qkvL.call(x)),7:F1}");
        Console.WriteLine($"  proj linear  {Time(() => proj.call(x)),7:F1}");
        Console.WriteLine($"  ff up+relu+down {Time(() => down.call(functional.relu(up.call(x)))),7:F1}");
        Console.WriteLine($"  layernorm    {Time(() => ln.call(x)),7:F1}");
        Console.WriteLine($"  sdpa         {Time(() => functional.scaled_dot_product_attention(q, k, v, null, 0, false)),7:F1}");
        Console.WriteLine($"  manual attn  {Time(() => matmul(softmax(matmul(q, k.transpose(-2, -1)).mul(1.0 / Math.Sqrt(d / h)), -1), v)),7:F1}");
        Console.WriteLine($"  qkv permute  {Time(() => qkvL.call(x).view(b, t, 3, h, d / h).permute(2, 0, 3, 1, 4).contiguous()),7:F1}");
        Console.WriteLine($"  residual add {Time(() => x.add(x)),7:F1}");
    }
}

internal static class TreeProfile
{
    private sealed class Row { [Microsoft.ML.Data.VectorType(512)] public float[] Features = new float[512]; public float Label; }
    public static void Run(int threads)
    {
        var ml = new Microsoft.ML.MLContext(1);
        var rng = new Random(1);
        var rows = Enumerable.Range(0, 51800).Select(_ => { var r = new Row(); for (int j = 0; j < 512; j++) r.Features[j] = (float)rng.NextDouble(); r.Label = r.Features[0] + r.Features[1] * r.Features[2]; return r; }).ToList();
        var data = ml.Data.Cache(ml.Data.LoadFromEnumerable(rows));
        var sw = Stopwatch.StartNew();
        ml.Regression.Trainers.FastTree(new Microsoft.ML.Trainers.FastTree.FastTreeRegressionTrainer.Options { NumberOfLeaves = 16, NumberOfTrees = 200, NumberOfThreads = threads == 0 ? null : threads }).Fit(data);
        Console.WriteLine($"FastTree threads={threads}: {sw.Elapsed.TotalSeconds:F1} s");
        sw.Restart();
        ml.Regression.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmRegressionTrainer.Options { NumberOfLeaves = 16, NumberOfIterations = 200, NumberOfThreads = threads == 0 ? null : threads }).Fit(data);
        Console.WriteLine($"LightGbm threads={threads}: {sw.Elapsed.TotalSeconds:F1} s");
    }
}

internal static class RidgeProfile
{
    public static void Run(int k)
    {
        var rng = new Random(1);
        int n = 51800, nv = 11100;
        var x = new float[n * k]; var y = new float[n]; var xv = new float[nv * k]; var yv = new float[nv];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int i = 0; i < xv.Length; i++) xv[i] = (float)rng.NextDouble();
        for (int i = 0; i < n; i++) y[i] = x[i * k] + (float)rng.NextDouble();
        for (int i = 0; i < nv; i++) yv[i] = xv[i * k] + (float)rng.NextDouble();
        var sw = Stopwatch.StartNew();
        RidgeRegression.Fit(x, y, xv, yv, k);
        Console.WriteLine($"ridge grid fit {n}x{k}: {sw.Elapsed.TotalSeconds:F2} s");
        sw.Restart();
        RidgeRegression.Fit(x, y, k, 1.0);
        Console.WriteLine($"ridge single fit: {sw.Elapsed.TotalSeconds:F2} s");
    }
}

internal static class RidgePieces
{
    public static void Run(int k)
    {
        int n = 51800;
        var sw = Stopwatch.StartNew();
        var xf = rand(n, k);
        var x = xf.to_type(ScalarType.Float64);
        Console.WriteLine($"to double {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
        var mean = x.mean(new long[] { 0 }, false, null); var std = x.std(0, false, false, null);
        Console.WriteLine($"mean/std {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
        var xs = x.sub(mean).div(std);
        Console.WriteLine($"standardise {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
        var gram = xs.mT.matmul(xs);
        Console.WriteLine($"gram f64 {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
        var gram32 = xf.mT.matmul(xf);
        Console.WriteLine($"gram f32 {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
        var (e, q) = linalg.eigh(gram, 'L');
        Console.WriteLine($"eigh {sw.Elapsed.TotalSeconds:F2}"); sw.Restart();
    }
}

internal static class InferProfile
{
    public static void Run(int dim, int batch)
    {
        var layout = WeightLayout.TetrisMlp100;
        var o = WeightEmbeddingOptions.CpuDefaultFor(layout) with { ModelDim = dim, FeedForwardDim = 2 * dim };
        using var model = WeightAutoencoder.Create(layout, o);
        model.eval();
        int rows = 40960;
        var x = randn(rows, layout.ParameterCount);
        void Stream(int start, int count)
        {
            using var ng = no_grad();
            for (int s = start; s < start + count; s += batch)
            {
                using var scope = NewDisposeScope();
                model.Encode(x.narrow(0, s, Math.Min(batch, start + count - s))).data<float>().ToArray();
            }
        }
        foreach (int threads in new[] { 2, 1 })
        {
            set_num_threads(threads);
            Stream(0, 4096);
            var sw = Stopwatch.StartNew();
            Stream(0, rows);
            Console.WriteLine($"d={dim} batch={batch} threads={threads}: {rows / sw.Elapsed.TotalSeconds:N0} rows/s");
        }
        set_num_threads(1);
        var sw2 = Stopwatch.StartNew();
        var t1 = Task.Run(() => Stream(0, rows / 2));
        var t2 = Task.Run(() => Stream(rows / 2, rows / 2));
        Task.WaitAll(t1, t2);
        Console.WriteLine($"d={dim} batch={batch} two streams × 1 thread: {rows / sw2.Elapsed.TotalSeconds:N0} rows/s");
        set_num_threads(2);
    }
}
