using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet.Bench;

/// <summary>Write and full scan of a CNN-2464 zoo: our shard format vs ML.NET's .idv binary format.</summary>
internal static class ZooIoBench
{
    private sealed class Row
    {
        [VectorType(2464)] public float[] Weights { get; set; } = Array.Empty<float>();
        public int ModelId { get; set; }
        public float TestAccuracy { get; set; }
    }

    public static void Run(int rows)
    {
        var layout = WeightLayout.Cnn2464;
        // A fresh folder of the benchmark's own: it deletes only what it created.
        var dir = Path.Combine(Path.GetTempPath(), "wsml-bench-zoo-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        double mb = rows * (double)layout.ParameterCount * 4 / 1e6;
        var rng = new Random(1);
        var pool = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, layout.ParameterCount).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()).ToArray();
        Console.WriteLine($"zoo-io: {rows:N0} rows × {layout.ParameterCount} floats = {mb:F0} MB of weights");

        var sw = Stopwatch.StartNew();
        using (var w = ZooWriter.Create(Path.Combine(dir, "zoo"), layout, "bench", new[] { new ZooColumn("LearningRate", ZooColumnType.Single) }))
        {
            for (int i = 0; i < rows; i++)
            {
                var r = new ZooRecord { Weights = pool[i % 64], ModelId = i / 50, Epoch = i % 50, TestAccuracy = 0.5f };
                r.Numeric["LearningRate"] = 1e-3f;
                w.Write(r);
            }
        }
        double writeOurs = sw.Elapsed.TotalSeconds;

        var ml = new MLContext(1);
        var view = ml.Data.LoadZoo(Path.Combine(dir, "zoo"));
        long before = Process.GetCurrentProcess().WorkingSet64;
        sw.Restart();
        double checksum = Scan(view);
        double scanOurs = sw.Elapsed.TotalSeconds;
        long scanMemory = Process.GetCurrentProcess().PeakWorkingSet64 - before;

        // Baseline: the same rows through ML.NET's own binary format (.idv), in the same run.
        var idv = Path.Combine(dir, "zoo.idv");
        var source = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => new Row { Weights = pool[i % 64], ModelId = i / 50, TestAccuracy = 0.5f }));
        sw.Restart();
        using (var fs = File.Create(idv)) ml.Data.SaveAsBinary(source, fs, keepHidden: false);
        double writeIdv = sw.Elapsed.TotalSeconds;
        sw.Restart();
        double checksumIdv = Scan(ml.Data.LoadFromBinary(idv));
        double scanIdv = sw.Elapsed.TotalSeconds;

        long ourBytes = Directory.GetFiles(Path.Combine(dir, "zoo")).Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"  write   ours {writeOurs,6:F2} s = {mb / writeOurs,6:F0} MB/s   .idv {writeIdv,6:F2} s = {mb / writeIdv,6:F0} MB/s   ratio {writeIdv / writeOurs:F1}x");
        Console.WriteLine($"  scan    ours {scanOurs,6:F2} s = {mb / scanOurs,6:F0} MB/s   .idv {scanIdv,6:F2} s = {mb / scanIdv,6:F0} MB/s   ratio {scanIdv / scanOurs:F1}x");
        Console.WriteLine($"  on disk ours {ourBytes / 1e6:F0} MB   .idv {new FileInfo(idv).Length / 1e6:F0} MB");
        Console.WriteLine($"  working set growth during our scan: {scanMemory / 1e6:F0} MB (checksums {checksum:F1} / {checksumIdv:F1})");
        Directory.Delete(dir, true);
    }

    private static double Scan(IDataView view)
    {
        var col = view.Schema["Weights"];
        using var cursor = view.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var buffer = default(VBuffer<float>);
        double sum = 0;
        while (cursor.MoveNext()) { getter(ref buffer); sum += buffer.GetValues()[7]; }
        return sum;
    }
}
