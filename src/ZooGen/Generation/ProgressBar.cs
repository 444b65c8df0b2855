using System.Diagnostics;

namespace WeightSpace.ZooGen.Generation;

/// <summary>A progress bar with models/s and ETA; one line per 10 % when the output is not a terminal.</summary>
public sealed class ProgressBar(TextWriter output) : IProgress<GenerationProgress>
{
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private int _lastDecile = -1;
    private GenerationProgress _last;
    private readonly object _gate = new();

    /// <inheritdoc />
    public void Report(GenerationProgress p)
    {
        lock (_gate)
        {
            _last = p;
            double fraction = p.Fraction;
            int decile = (int)(fraction * 10);
            if (_interactive ? _sinceDraw.ElapsedMilliseconds < 250 && fraction < 1 : decile == _lastDecile) return;
            _lastDecile = decile;
            _sinceDraw.Restart();
            output.Write((_interactive ? "\r" : "") + Line(p, fraction) + (_interactive ? "" : "\n"));
        }
    }

    private static string Line(GenerationProgress p, double fraction)
    {
        double seconds = p.Elapsed.TotalSeconds;
        double modelsPerSecond = seconds > 0 ? fraction * p.ModelsTotal / seconds : 0;
        var eta = fraction > 0 ? TimeSpan.FromSeconds(seconds * (1 - fraction) / fraction) : TimeSpan.Zero;
        int filled = (int)(fraction * 30);
        return $"[{new string('#', filled)}{new string('-', 30 - filled)}] {fraction,4:P0} {p.ModelsDone}/{p.ModelsTotal} models  {modelsPerSecond:F1} models/s  ETA {eta:hh\\:mm\\:ss}";
    }

    /// <summary>Ends the bar's line.</summary>
    public void Finish()
    {
        lock (_gate) if (_interactive && _last.ModelsTotal > 0) output.WriteLine();
    }
}
