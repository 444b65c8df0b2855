using System.Diagnostics;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// Speed of the hyper-representation against this machine's GEMM ceiling and against libtorch, all measured in one run:
/// sgemm 1024³ (the ceiling), then for the library's C# kernels and for libtorch's modules (the baseline) the training
/// throughput (rows × 2 views per second, one epoch of E_cD) and the embedding throughput (rows per second, one view and
/// several), each with the GFLOP/s its matrix products reach, the share of the sgemm figure and the ratio C# / libtorch.
/// </summary>
internal static class EmbedSpeedBench
{
    public static void Run(string layoutName, int rows, int epochs, int dim, int ff, int batch, int views, bool tokenStatistics)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        // This machine's sgemm varies from run to run (shared cores): measured before and after, the higher is the ceiling.
        double before = SgemmGflops();
        Console.WriteLine($"sgemm 1024x1024x1024, {get_num_threads()} threads: {before:F1} GFLOP/s (before)");
        var lines = new List<Func<double, string>>();
        // The library's default for the layout (token statistics on), with the shape asked for.
        var o = WeightEmbeddingOptions.CpuDefaultFor(layout) with { ModelDim = dim, FeedForwardDim = ff, BatchSize = batch, Epochs = epochs, ValidationFraction = 0, TokenStatistics = tokenStatistics };
        var (enc, dec) = AutoencoderFlops.Forward(layout, o);
        var rng = new Random(1);
        var w = new float[rows * layout.ParameterCount];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5);
        var data = new RepresentationData(w, rows);
        Console.WriteLine($"{layout.Name}, d = {dim}, d_ff = {ff}, batch {batch}{(tokenStatistics ? ", token statistics" : "")}: {3 * (enc + dec) / 1e6:F2} MFLOP per training sample, {enc / 1e6:F2} per embedding");
        var figures = new Dictionary<bool, (double Train, double Embed, double Views)>();
        foreach (bool kernels in new[] { true, false })
        {
            CpuKernels.Enabled = kernels;
            string name = kernels ? "C# kernels" : "libtorch  ";
            try
            {
                var sw = Stopwatch.StartNew();
                using var rep = HyperRepresentation.Train(layout, data, null, o);
                double seconds = sw.Elapsed.TotalSeconds;
                double samples = 2.0 * (rows / batch * batch) * epochs, trainFlops = samples * 3 * (enc + dec);
                lines.Add(peak => $"  {name} train: {samples / seconds,8:N0} samples/s, {trainFlops / seconds / 1e9,5:F1} GFLOP/s = {trainFlops / seconds / 1e9 / peak,4:P0} of sgemm ({seconds:F1} s)");
                rep.Embed(w.AsSpan(0, Math.Min(rows, 4096) * layout.ParameterCount), Math.Min(rows, 4096)); // warm-up
                sw.Restart();
                rep.Embed(w, rows);
                double embed = sw.Elapsed.TotalSeconds;
                lines.Add(peak => $"  {name} embed: {rows / embed,8:N0} rows/s,    {rows * enc / embed / 1e9,5:F1} GFLOP/s = {rows * enc / embed / 1e9 / peak,4:P0} of sgemm");
                sw.Restart();
                rep.Embed(w, rows, views);
                double many = sw.Elapsed.TotalSeconds;
                int used = HyperRepresentation.EmbeddingPermutations(layout, views, o.Seed).Count + 1;
                lines.Add(_ => $"  {name} embed, {used} views a row: {rows / many,8:N0} rows/s = {many / embed:F1}× the single view's time (ideal {used}×)");
                figures[kernels] = (samples / seconds, rows / embed, rows / many);
            }
            finally { CpuKernels.Enabled = true; }
        }
        double after = SgemmGflops(), ceiling = Math.Max(before, after);
        Console.WriteLine($"sgemm 1024x1024x1024, {get_num_threads()} threads: {after:F1} GFLOP/s (after); ceiling {ceiling:F1}");
        foreach (var line in lines) Console.WriteLine(line(ceiling));
        var (c, t) = (figures[true], figures[false]);
        Console.WriteLine($"C# kernels / libtorch: training {c.Train / t.Train:F2}×, embedding {c.Embed / t.Embed:F2}×, {views} views {c.Views / t.Views:F2}×");
    }

    private static double SgemmGflops()
    {
        using var scope = NewDisposeScope();
        var a = randn(1024, 1024);
        var b = randn(1024, 1024);
        a.matmul(b);
        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalSeconds < 2) { a.matmul(b).Dispose(); n++; }
        return n * 2.0 * 1024 * 1024 * 1024 / sw.Elapsed.TotalSeconds / 1e9;
    }
}
