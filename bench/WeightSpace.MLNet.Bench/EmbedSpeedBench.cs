using System.Diagnostics;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// Speed of the hyper-representation against this machine's GEMM ceiling, all measured in one run: sgemm 1024³ (the
/// baseline), training throughput (rows × 2 views per second) and embedding throughput (rows per second), each with the
/// GFLOP/s its matrix products reach and the ratio to the sgemm figure.
/// </summary>
internal static class EmbedSpeedBench
{
    public static void Run(string layoutName, int rows, int epochs, int dim, int ff, int batch, int views, bool tokenStatistics)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        double peak = SgemmGflops();
        Console.WriteLine($"sgemm 1024x1024x1024, {get_num_threads()} threads: {peak:F1} GFLOP/s (baseline)");
        // The library's default for the layout (token statistics on), with the shape asked for.
        var o = WeightEmbeddingOptions.CpuDefaultFor(layout) with { ModelDim = dim, FeedForwardDim = ff, BatchSize = batch, Epochs = epochs, ValidationFraction = 0, TokenStatistics = tokenStatistics };
        var (enc, dec) = AutoencoderFlops.Forward(layout, o);
        var rng = new Random(1);
        var w = new float[rows * layout.ParameterCount];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5);
        var data = new RepresentationData(w, rows);
        var sw = Stopwatch.StartNew();
        using var rep = HyperRepresentation.Train(layout, data, null, o);
        double seconds = sw.Elapsed.TotalSeconds;
        double samples = 2.0 * (rows / batch * batch) * epochs;
        double trainFlops = samples * 3 * (enc + dec);
        Console.WriteLine($"train  {layout.Name} d={dim} ff={ff} batch={batch}{(tokenStatistics ? " tstats" : "")}: {samples / seconds,8:N0} samples/s (rows × 2 views), " +
                          $"{trainFlops / seconds / 1e9:F1} GFLOP/s = {trainFlops / seconds / 1e9 / peak:P0} of sgemm  ({seconds:F1} s, {3 * (enc + dec) / 1e6:F2} MFLOP per sample)");
        rep.Embed(w.AsSpan(0, Math.Min(rows, 4096) * layout.ParameterCount), Math.Min(rows, 4096)); // warm-up
        sw.Restart();
        rep.Embed(w, rows);
        seconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"embed  {layout.Name}: {rows / seconds,8:N0} rows/s, {rows * enc / seconds / 1e9:F1} GFLOP/s = {rows * enc / seconds / 1e9 / peak:P0} of sgemm");
        if (views > 1)
        {
            sw.Restart();
            rep.Embed(w, rows, views);
            double many = sw.Elapsed.TotalSeconds;
            int used = HyperRepresentation.EmbeddingPermutations(layout, views, o.Seed).Count + 1;
            Console.WriteLine($"embed  {layout.Name}, {used} views per row: {rows / many,8:N0} rows/s = {many / seconds:F1}× the single view's time (ideal {used}×)");
        }
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
