using ScottPlot;
using static TorchSharp.torch;

namespace WeightSpace.MLNet;

/// <summary>
/// The pictures of the protocol as PNG files (ScottPlot): predicted vs true values per featurizer, a 2-D PCA of an embedding
/// coloured by a label, and an autoencoder's learning curves.
/// </summary>
/// <example><code>
/// ProbePlots.PredictedVsTrue("acc.png", "Test accuracy", new[] { ("s(W)", truth, predicted) });
/// </code></example>
public static class ProbePlots
{
    /// <summary>One scatter series per featurizer, with the diagonal y = x.</summary>
    public static void PredictedVsTrue(string path, string target, IEnumerable<(string Name, IReadOnlyList<double> Truth, IReadOnlyList<double> Predicted)> series,
        int width = 720, int height = 560)
    {
        var plot = new Plot();
        double lo = double.MaxValue, hi = double.MinValue;
        foreach (var (name, truth, predicted) in series)
        {
            var s = plot.Add.ScatterPoints(truth.ToArray(), predicted.ToArray());
            s.LegendText = name;
            s.MarkerSize = 3;
            lo = Math.Min(lo, truth.Min()); hi = Math.Max(hi, truth.Max());
        }
        if (lo < hi)
        {
            var diagonal = plot.Add.Line(lo, lo, hi, hi);
            diagonal.LineColor = Colors.Black;
            diagonal.LinePattern = LinePattern.Dashed;
            diagonal.LegendText = "y = x";
        }
        plot.Title($"{target}: predicted vs true (test models)");
        plot.XLabel($"true {target}");
        plot.YLabel($"predicted {target}");
        plot.ShowLegend(Alignment.UpperLeft);
        Save(plot, path, width, height);
    }

    /// <summary>The first two principal components of <paramref name="embedding"/> (rows × <paramref name="dims"/>), each point coloured by <paramref name="color"/>.</summary>
    public static void EmbeddingPca(string path, ReadOnlySpan<float> embedding, int dims, IReadOnlyList<double> color, string colorName, string title,
        int width = 720, int height = 560)
    {
        int rows = color.Count;
        if (embedding.Length != (long)rows * dims) throw new ArgumentException($"{rows} colours need {rows} × {dims} embedding values, not {embedding.Length}.");
        var (pc1, pc2) = Pca2(embedding, rows, dims);
        var plot = new Plot();
        var colormap = new ScottPlot.Colormaps.Viridis();
        double min = color.Min(), max = color.Max();
        // A few series of binned colours draw fast; the title gives the colour scale.
        const int bins = 16;
        for (int b = 0; b < bins; b++)
        {
            var idx = Enumerable.Range(0, rows).Where(i => Math.Min(bins - 1, (int)((color[i] - min) / Math.Max(1e-12, max - min) * bins)) == b).ToArray();
            if (idx.Length == 0) continue;
            var s = plot.Add.ScatterPoints(idx.Select(i => pc1[i]).ToArray(), idx.Select(i => pc2[i]).ToArray());
            s.Color = colormap.GetColor((b + 0.5) / bins);
            s.MarkerSize = 2;
        }
        plot.Title($"{title}\ncoloured by {colorName}: dark purple = {min:G3} … yellow = {max:G3}");
        plot.XLabel("PC 1");
        plot.YLabel("PC 2");
        Save(plot, path, width, height);
    }

    /// <summary>Loss, validation reconstruction R² and validation probe R² per epoch.</summary>
    public static void LearningCurves(string path, IReadOnlyList<TrainingReport> history, string title = "Hyper-representation training", int width = 720, int height = 560)
    {
        var epochs = history.Where(h => h.EpochEnd).ToList();
        if (epochs.Count == 0) throw new ArgumentException("The history holds no finished epoch.");
        double[] x = epochs.Select(h => (double)h.Epoch).ToArray();
        var plot = new Plot();
        var loss = plot.Add.Scatter(x, epochs.Select(h => h.Loss).ToArray());
        loss.LegendText = "training loss (right axis)";
        loss.Axes.YAxis = plot.Axes.Right;
        if (epochs.Any(h => double.IsFinite(h.ValidationReconstructionR2)))
            plot.Add.Scatter(x, epochs.Select(h => h.ValidationReconstructionR2).ToArray()).LegendText = "validation reconstruction R²";
        foreach (var label in epochs.SelectMany(h => h.ValidationProbeR2.Keys).Distinct())
            plot.Add.Scatter(x, epochs.Select(h => h.ValidationProbeR2.TryGetValue(label, out var v) ? v : double.NaN).ToArray()).LegendText = $"validation probe R², {label}";
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("R²");
        plot.Axes.Right.Label.Text = "loss";
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path, width, height);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        var full = Path.GetFullPath(path);
        AtomicFile.Write(full, stream => stream.Write(plot.GetImageBytes(width, height, ImageFormat.Png)));
    }

    /// <summary>Projections on the two leading eigenvectors of the embedding's covariance (float64).</summary>
    internal static (double[] Pc1, double[] Pc2) Pca2(ReadOnlySpan<float> embedding, int rows, int dims)
    {
        using var scope = NewDisposeScope();
        var x = tensor(embedding.ToArray(), new long[] { rows, dims }).to_type(ScalarType.Float64);
        x = x.sub(x.mean(new long[] { 0 }, true, null));
        var (_, vectors) = linalg.eigh(x.mT.matmul(x), 'L');                // ascending eigenvalues
        var top = vectors.narrow(1, dims - 2, 2);
        var projected = x.matmul(top);
        var p = projected.data<double>().ToArray();
        return (Enumerable.Range(0, rows).Select(i => p[i * 2 + 1]).ToArray(), Enumerable.Range(0, rows).Select(i => p[i * 2]).ToArray());
    }
}
