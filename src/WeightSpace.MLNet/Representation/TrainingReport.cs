namespace WeightSpace.MLNet;

/// <summary>Progress of a hyper-representation's training: sent during an epoch and, with validation figures, at its end.</summary>
public sealed record TrainingReport
{
    /// <summary>1-based epoch.</summary>
    public int Epoch { get; init; }
    /// <summary>Epochs planned.</summary>
    public int Epochs { get; init; }
    /// <summary>Steps done in this epoch.</summary>
    public int Step { get; init; }
    /// <summary>Steps per epoch.</summary>
    public int StepsPerEpoch { get; init; }
    /// <summary>True for the report at the end of an epoch (validation figures filled in).</summary>
    public bool EpochEnd { get; init; }
    /// <summary>Mean training loss of the epoch so far.</summary>
    public double Loss { get; init; }
    /// <summary>Mean reconstruction (MSE) term, NaN when the task has none.</summary>
    public double ReconstructionLoss { get; init; } = double.NaN;
    /// <summary>Mean contrastive term, NaN when the task has none.</summary>
    public double ContrastLoss { get; init; } = double.NaN;
    /// <summary>Learning rate of the last step.</summary>
    public double LearningRate { get; init; }
    /// <summary>Reconstruction R² on the validation models (raw weight space), NaN without validation.</summary>
    public double ValidationReconstructionR2 { get; init; } = double.NaN;
    /// <summary>Ridge-probe R² per validation label.</summary>
    public IReadOnlyDictionary<string, double> ValidationProbeR2 { get; init; } = new Dictionary<string, double>();
    /// <summary>The score that picks the best state (mean probe R², else reconstruction R², else −loss).</summary>
    public double Score { get; init; } = double.NaN;
    /// <summary>True when this epoch's state is the best so far (it is kept).</summary>
    public bool IsBest { get; init; }
    /// <summary>Training samples per second (rows × 2 views).</summary>
    public double SamplesPerSecond { get; init; }
    /// <summary>Training time so far.</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>Estimated time to the end of training.</summary>
    public TimeSpan Remaining { get; init; }
    /// <summary>Share of the whole training done, 0–1 (steps of every candidate, or time against the budget if further along; 0 in files saved before it existed).</summary>
    public double Fraction { get; init; }
    /// <summary>The seed of the run that sent it (with <see cref="WeightEmbeddingOptions.Candidates"/> &gt; 1, the candidate's).</summary>
    public int Seed { get; init; }
    /// <summary>1-based number of the candidate that sent it (0 in files saved before candidates existed).</summary>
    public int Candidate { get; init; }
    /// <summary>Candidates in the race (1 = a single run; 0 in files saved before candidates existed).</summary>
    public int Candidates { get; init; }

    /// <summary>One line: epoch, loss, validation figures, speed, ETA.</summary>
    public override string ToString()
    {
        var probes = string.Join(" ", ValidationProbeR2.Select(p => $"{p.Key} {p.Value:F3}"));
        string validation = EpochEnd && !double.IsNaN(ValidationReconstructionR2) ? $"  val rec R² {ValidationReconstructionR2:F3}" + (probes.Length > 0 ? $"  probe R² {probes}" : "") : "";
        string candidate = Candidates > 1 ? $"candidate {Candidate}/{Candidates} (seed {Seed}) " : "";
        return $"{candidate}epoch {Epoch}/{Epochs} step {Step}/{StepsPerEpoch}  loss {Loss:F4}{validation}{(IsBest ? " *" : "")}  {SamplesPerSecond:F0} samples/s  " +
               $"{Elapsed:hh\\:mm\\:ss} elapsed, ETA {Remaining:hh\\:mm\\:ss}";
    }
}

/// <summary>
/// Progress lines written as they are reported, each after <paramref name="prefix"/> (a <c>Progress&lt;string&gt;</c> posts them
/// to the thread pool, where they can come out after what the program prints next).
/// </summary>
/// <example><code>
/// var comparison = new ProbeComparison(ml) { Progress = new ProgressLines(Console.Error, "   ") };
/// </code></example>
public sealed class ProgressLines(TextWriter output, string prefix = "") : IProgress<string>
{
    private readonly object _gate = new();

    /// <inheritdoc />
    public void Report(string line)
    {
        lock (_gate) output.WriteLine(prefix + line);
    }
}

/// <summary>A console progress bar for hyper-representation training: one redrawn line on a terminal, one line per epoch otherwise.</summary>
/// <example><code>
/// var embedding = ml.Transforms.WeightEmbedding("Embedding", progress: new TrainingProgressBar(Console.Error));
/// </code></example>
public sealed class TrainingProgressBar(TextWriter output) : IProgress<TrainingReport>
{
    private readonly bool _interactive = ReferenceEquals(output, Console.Error) ? !Console.IsErrorRedirected
        : ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
    private readonly object _gate = new();

    /// <inheritdoc />
    public void Report(TrainingReport r)
    {
        lock (_gate)
        {
            double fraction = r.Fraction > 0 ? r.Fraction : (r.Epoch - 1 + (double)r.Step / Math.Max(1, r.StepsPerEpoch)) / Math.Max(1, r.Epochs);
            int filled = (int)(Math.Clamp(fraction, 0, 1) * 20);
            string line = $"[{new string('#', filled)}{new string('-', 20 - filled)}] {r}";
            if (_interactive) output.Write("\r" + line + (r.EpochEnd ? "\n" : ""));
            else if (r.EpochEnd) output.WriteLine(line);
        }
    }
}
