using System.Numerics;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Data;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Population training with one model per SIMD lane, for every built-in architecture: the parameters of
/// <see cref="Lanes"/> models are stored interleaved (parameter j of lane k at j·Lanes + k), so every multiply-add
/// of the forward and backward pass and every optimiser update is one vector instruction for all of them, and
/// groups of lanes train on all cores at once (<see cref="LaneMlpGroup"/> for MLPs, <see cref="LaneConvGroup"/>
/// for CNNs). Each model gathers its own mini-batch (its own seeded data order), so the arithmetic of a model is
/// the same whatever group, population or shard it trains in — bit for bit. The maths is that of torch: mean
/// cross-entropy over the batch, Adam / SGD (momentum 0.9) / RMSprop with weight decay added to the gradient,
/// inverted dropout after hidden activations; tests compare it with TorchSharp and torch.optim. The TorchSharp
/// PopulationTrainer (MLPs) and SingleModelTrainer stay as references in tests/ZooGen.Reference, not shipped in zoogen
/// (docs/benchmarks.md has how much slower they are).
/// </summary>
internal sealed class LanePopulationTrainer
{
    public static readonly int Lanes = Vector<float>.Count;
    private readonly WeightLayout _layout;
    private readonly IReadOnlyList<ModelSpec> _models;
    private readonly TrainingData _data;

    public LanePopulationTrainer(WeightLayout layout, IReadOnlyList<ModelSpec> models, TrainingData data)
    {
        if (!Supports(layout))
            throw new ArgumentException($"Lane training knows the forward pass of the built-in architectures only ({string.Join(", ", NetworkArchitecture.BuiltIn.Keys)}), not '{layout.Name}'.");
        if (models.Count == 0) throw new ArgumentException("An empty population.");
        foreach (var m in models) m.Validate();
        _layout = layout;
        _models = models;
        _data = data;
    }

    /// <summary>Whether the layout is one whose network the lane groups implement (the built-in MLP and CNNs).</summary>
    public static bool Supports(WeightLayout layout) => NetworkArchitecture.BuiltIn.TryGetValue(layout.Name, out var a) && a.Layout.Equals(layout);

    /// <summary>
    /// The lane groups of a set of models: the lanes of a group share the batch size (their steps start together);
    /// within a batch size, models are ordered by train fraction, activation and optimiser, so that a group mostly
    /// holds lanes that need one activation, one optimiser and the same number of steps (mixed groups work, at the
    /// cost of computing each activation or optimiser present for all lanes). Up to <paramref name="width"/> (at
    /// most and by default <see cref="Lanes"/>) models a group.
    /// </summary>
    public static IEnumerable<ModelSpec[]> LaneGroups(IEnumerable<ModelSpec> models, int width = 0) =>
        models.GroupBy(m => m.BatchSize)
            .SelectMany(g => g.OrderBy(m => m.TrainFraction).ThenBy(m => m.Activation.Name(), StringComparer.Ordinal).ThenBy(m => m.Optimizer.Name(), StringComparer.Ordinal)
                .Chunk(width > 0 ? Math.Min(width, Lanes) : Lanes));

    /// <summary>Cost of one training sample (forward and backward pass) in forward passes of one image, for progress.</summary>
    internal const int TrainingPassCost = 3;

    /// <summary>
    /// The work of a lane group in forward passes of one image, the measure progress follows: per epoch the longest lane's
    /// samples × <see cref="TrainingPassCost"/> (the lanes step together, so a lane with a shorter subset saves nothing), per
    /// checkpoint one pass over every train, test and validation image (its accuracies and losses). With a small train
    /// fraction the evaluations cost more than the training: counting training samples alone put the first ETA of a
    /// 1,000-model CNN-4970 zoo at 3 h 37 min when it took 35 min (docs/zoos.md).
    /// </summary>
    internal static (long PerEpoch, long PerCheckpoint) GroupWork(IReadOnlyList<ModelSpec> group, DataSplit split)
    {
        int trainCount = split.Train.Labels.Length;
        long perEpoch = (long)group.Max(m => TrainingData.SubsetSize(m, trainCount)) * TrainingPassCost;
        return (perEpoch, (long)trainCount + split.Test.Labels.Length + (split.Validation?.Labels.Length ?? 0));
    }

    /// <summary>The work of training these models for <paramref name="epochs"/> with these checkpoints (see <see cref="GroupWork"/>).</summary>
    internal static long Work(IEnumerable<ModelSpec> models, int epochs, ISet<int> checkpoints, DataSplit split)
    {
        int evaluations = checkpoints.Count(c => c >= 0 && c <= epochs);
        return LaneGroups(models).Sum(g =>
        {
            var (perEpoch, perCheckpoint) = GroupWork(g, split);
            return epochs * perEpoch + evaluations * perCheckpoint;
        });
    }

    /// <summary>
    /// Trains every model, lane groups (<see cref="LaneGroups"/>) on all cores at once; checkpoints are reported per
    /// lane group (calls are serialised). <paramref name="onProgress"/> receives (model-epochs, training samples, work
    /// of <see cref="GroupWork"/>) after each group's epoch and evaluation.
    /// </summary>
    public void Train(int epochs, ISet<int> checkpoints, Action<IReadOnlyList<ZooRecord>> onCheckpoint, CancellationToken cancel,
        Action<int, long, long>? onProgress = null, int workers = 0)
    {
        var groups = LaneGroups(_models).ToArray();
        var gate = new object();
        var trainX = _data.Split.Train.Pixels; var trainY = _data.Split.Train.Labels;
        var testX = _data.Split.Test.Pixels; var testY = _data.Split.Test.Labels;
        int cores = workers > 0 ? workers : Environment.ProcessorCount;
        int running = 0; // groups training now: a lone group's steps and evaluations may use the cores the others leave idle
        int Threads() => Math.Max(1, cores / Math.Max(1, Volatile.Read(ref running)));
        Parallel.ForEach(groups, new ParallelOptions { MaxDegreeOfParallelism = cores, CancellationToken = cancel }, group =>
        {
            Interlocked.Increment(ref running);
            try { TrainGroup(group); }
            finally { Interlocked.Decrement(ref running); }
        });

        void TrainGroup(ModelSpec[] group)
        {
            LaneGroup g = _layout.IsFullyConnected
                ? new LaneMlpGroup(_layout, group, trainX.Length / trainY.Length)
                : new LaneConvGroup(_layout, group, _data.Split.Train);
            var (workPerEpoch, workPerCheckpoint) = GroupWork(group, _data.Split);
            var subsets = group.Select(m => TrainingData.Subset(m, trainY.Length)).ToArray();
            // Train accuracy and loss are each model's on the images it trains on (its subset), not on the whole set.
            var ownRows = g.RowLanes(subsets, trainY.Length);
            void Report(int epoch)
            {
                int threads = Threads();
                var (trAcc, trLoss) = g.Evaluate(trainX, trainY, threads, ownRows);
                var (teAcc, teLoss) = g.Evaluate(testX, testY, threads);
                var val = _data.Split.Validation;
                var (vaAcc, vaLoss) = val is null ? (null, null) : g.Evaluate(val.Pixels, val.Labels, threads);
                var list = new List<ZooRecord>(group.Length);
                for (int k = 0; k < group.Length; k++)
                    list.Add(group[k].Checkpoint(epoch, g.Weights(k), trAcc[k], teAcc[k], trLoss[k], teLoss[k],
                        vaAcc?[k] ?? float.NaN, vaLoss?[k] ?? float.NaN));
                lock (gate)
                {
                    onCheckpoint(list);
                    onProgress?.Invoke(0, 0, workPerCheckpoint);
                }
            }
            if (checkpoints.Contains(0)) Report(0);
            long samplesPerEpoch = subsets.Sum(x => (long)x.Length); // the group's work per epoch, for progress
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                var orders = group.Select((m, k) => TrainingData.EpochOrder(m, subsets[k], epoch)).ToArray();
                int n = orders.Max(o => o.Length), bs = group[0].BatchSize; // lanes with shorter subsets sit the last steps out
                for (int start = 0; start < n; start += bs)
                {
                    cancel.ThrowIfCancellationRequested();
                    g.Step(trainX, trainY, orders, start, epoch, Threads());
                }
                if (onProgress is not null) lock (gate) onProgress(group.Length, samplesPerEpoch, workPerEpoch);
                if (checkpoints.Contains(epoch)) Report(epoch);
            }
        }
    }
}
