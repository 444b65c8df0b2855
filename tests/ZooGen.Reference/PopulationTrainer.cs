using TorchSharp;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Networks;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// Trains a population of MLPs (layouts made only of linear layers, e.g. Tetris MLP-100) as one batched
/// tensor program: the weights of P models are stacked into [P, out, in] tensors and every step is a
/// handful of batched matmuls (bmm) over [P, batch, ·]. Models may differ in seed (initialisation and data
/// order), init, learning rate, weight decay and dropout; activation, optimiser, batch size and train
/// fraction must be shared (the generator groups models by them). The optimisers are written out
/// element-wise with per-model learning rates and match torch.optim's Adam, SGD (momentum 0.9) and RMSprop,
/// so a model trained here equals the same model trained alone (a test checks it). zoogen trains MLP zoos with
/// <see cref="LanePopulationTrainer"/>, 5× faster on CPUs; this TorchSharp version is the design that a CUDA
/// build would run, and the benchmark compares the two (docs/benchmarks.md).
/// </summary>
internal sealed class PopulationTrainer
{
    private readonly WeightLayout _layout;
    private readonly IReadOnlyList<ModelSpec> _models;
    private readonly TorchTrainingData _data;

    public PopulationTrainer(WeightLayout layout, IReadOnlyList<ModelSpec> models, TorchTrainingData data)
    {
        if (layout.Layers.Any(l => l.Kind != LayerKind.Linear))
            throw new ArgumentException($"Population training batches linear layers only; layout '{layout.Name}' has convolutions.");
        CheckPopulation(models);
        _layout = layout;
        _models = models;
        _data = data;
    }

    public static bool Supports(WeightLayout layout) => layout.IsFullyConnected;

    /// <summary>Models of one population must be valid and share what one program cannot vary per model.</summary>
    internal static void CheckPopulation(IReadOnlyList<ModelSpec> models)
    {
        if (models.Count == 0) throw new ArgumentException("An empty population.");
        var first = models[0];
        foreach (var m in models)
        {
            m.Validate();
            if (m.Activation != first.Activation || m.Optimizer != first.Optimizer || m.BatchSize != first.BatchSize || m.TrainFraction != first.TrainFraction)
                throw new ArgumentException("A population shares activation, optimizer, batch size and train fraction; group the models first.");
        }
    }

    /// <summary>Trains for <paramref name="epochs"/> epochs and reports every checkpoint epoch (0 = initialisation) for all models.</summary>
    public void Train(int epochs, ISet<int> checkpoints, Action<IReadOnlyList<ZooRecord>> onCheckpoint, CancellationToken cancel, Action<int>? onEpoch = null)
    {
        int P = _models.Count, L = _layout.Layers.Count;
        var spec0 = _models[0];
        int trainCount = _data.Split.Train.Count;
        var subsets = _models.Select(m => TrainingData.Subset(m, trainCount)).ToArray();
        int n = subsets[0].Length, batch = spec0.BatchSize;

        var trainX = _data.TrainX.reshape(trainCount, -1);
        var testX = _data.TestX.reshape(_data.Split.Test.Count, -1);

        // Stacked parameters [P, out, in] and biases [P, 1, out].
        var w = new Tensor[L];
        var b = new Tensor?[L];
        var init = _models.Select(m => Initializer.Create(_layout, m.Init, m.Seed)).ToArray();
        for (int l = 0; l < L; l++)
        {
            var s = _layout.Layers[l];
            var wl = new float[P * s.WeightCount];
            for (int p = 0; p < P; p++) Array.Copy(init[p], _layout.WeightOffset(l), wl, p * s.WeightCount, s.WeightCount);
            w[l] = tensor(wl, new long[] { P, s.OutFeatures, s.InFeatures }).requires_grad_();
            if (s.HasBias)
            {
                var bl = new float[P * s.OutFeatures];
                for (int p = 0; p < P; p++) Array.Copy(init[p], _layout.BiasOffset(l), bl, p * s.OutFeatures, s.OutFeatures);
                b[l] = tensor(bl, new long[] { P, 1, s.OutFeatures }).requires_grad_();
            }
        }
        var parameters = w.Concat(b.Where(t => t is not null).Select(t => t!)).ToArray();
        var optimizer = new PopulationOptimizer(spec0.Optimizer, parameters,
            _models.Select(m => m.LearningRate).ToArray(), _models.Select(m => m.WeightDecay).ToArray());
        var dropout = tensor(_models.Select(m => (float)m.Dropout).ToArray()).reshape(P, 1, 1);
        var keepScale = tensor(_models.Select(m => (float)(1 / (1 - m.Dropout))).ToArray()).reshape(P, 1, 1);
        bool anyDropout = _models.Any(m => m.Dropout > 0);
        using var one = 1.ToScalar(); // explicit alpha for add (see PopulationOptimizer on Scalar lifetimes)
        var generator = new Generator((ulong)(_models[0].Seed * 7919L + P));

        // Training runs in float32. Evaluation runs in float64: a float32 matmul over [P, N, ·] rounds differently
        // for different P, and a model's metrics must not depend on the population it trained in.
        Tensor Forward(Tensor x, bool train) // x: [P, B, in] or [1, N, in]
        {
            bool exact = !train;
            var h = exact ? x.to_type(ScalarType.Float64) : x;
            for (int l = 0; l < L; l++)
            {
                h = matmul(h, exact ? w[l].detach().to_type(ScalarType.Float64).transpose(1, 2) : w[l].transpose(1, 2));
                if (b[l] is not null) h = h.add(exact ? b[l]!.detach().to_type(ScalarType.Float64) : b[l]!, one);
                if (l < L - 1)
                {
                    h = ZooNetwork.Activate(h, spec0.Activation);
                    if (train && anyDropout)
                    {
                        var keep = rand(h.shape, generator: generator).ge(dropout).to_type(ScalarType.Float32);
                        h = h * keep * keepScale;
                    }
                }
            }
            return h;
        }

        void Report(int epoch)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (trainAcc, trainLoss) = Evaluate(Forward(trainX.unsqueeze(0), false), _data.TrainY);
            if (n < trainCount) // train metrics on each model's own training images (its subset), as zoogen records them
                for (int p = 0; p < P; p++)
                {
                    var rows = tensor(subsets[p].Select(i => (long)i).ToArray());
                    var (a, l) = Evaluate(Forward(trainX.index_select(0, rows).unsqueeze(0), false), _data.TrainY.index_select(0, rows));
                    trainAcc[p] = a[p]; trainLoss[p] = l[p];
                }
            var (testAcc, testLoss) = Evaluate(Forward(testX.unsqueeze(0), false), _data.TestY);
            var flat = new float[P][];
            for (int p = 0; p < P; p++) flat[p] = new float[_layout.ParameterCount];
            for (int l = 0; l < L; l++)
            {
                var s = _layout.Layers[l];
                var wl = w[l].detach().data<float>().ToArray();
                for (int p = 0; p < P; p++) Array.Copy(wl, p * s.WeightCount, flat[p], _layout.WeightOffset(l), s.WeightCount);
                if (b[l] is null) continue;
                var bl = b[l]!.detach().data<float>().ToArray();
                for (int p = 0; p < P; p++) Array.Copy(bl, p * s.OutFeatures, flat[p], _layout.BiasOffset(l), s.OutFeatures);
            }
            onCheckpoint(Enumerable.Range(0, P).Select(p => _models[p].Checkpoint(epoch, flat[p], trainAcc[p], testAcc[p], trainLoss[p], testLoss[p])).ToList());
        }

        if (checkpoints.Contains(0)) Report(0);
        var idx = new long[P * batch];
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var orders = _models.Select((m, p) => TrainingData.EpochOrder(m, subsets[p], epoch)).ToArray();
            for (int start = 0; start < n; start += batch)
            {
                cancel.ThrowIfCancellationRequested();
                int bs = Math.Min(batch, n - start);
                for (int p = 0; p < P; p++)
                    for (int i = 0; i < bs; i++) idx[p * bs + i] = orders[p][start + i];
                using var scope = NewDisposeScope();
                var index = tensor(idx.AsSpan(0, P * bs).ToArray());
                var x = trainX.index_select(0, index).reshape(P, bs, -1);
                var y = _data.TrainY.index_select(0, index);
                var logits = Forward(x, true);
                // Sum over models of each model's mean loss: every model gets exactly its own gradient.
                using var inverseBatch = (1.0 / bs).ToScalar(); // held: see PopulationOptimizer on Scalar lifetimes
                var loss = nn.functional.cross_entropy(logits.reshape(P * bs, -1), y, reduction: nn.Reduction.Sum).mul(inverseBatch);
                optimizer.ZeroGrad();
                loss.backward();
                optimizer.Step();
            }
            onEpoch?.Invoke(epoch);
            if (checkpoints.Contains(epoch)) Report(epoch);
        }
        foreach (var t in parameters) t.Dispose();
        optimizer.Dispose();
    }

    /// <summary>Per-model accuracy and mean cross-entropy of logits [P, N, C] against labels [N].</summary>
    internal static (float[] Accuracy, float[] Loss) Evaluate(Tensor logits, Tensor labels)
    {
        long P = logits.shape[0], N = logits.shape[1];
        // float64, so that the reduction order (which varies with P and threads) cannot change the float32 result.
        logits = logits.to_type(ScalarType.Float64);
        var y = labels.unsqueeze(0).expand(P, N);
        var loss = nn.functional.cross_entropy(logits.reshape(P * N, -1), y.reshape(P * N), reduction: nn.Reduction.None).reshape(P, N).mean(new long[] { 1 });
        var acc = logits.argmax(2).eq(y).to_type(ScalarType.Float64).mean(new long[] { 1 });
        return (acc.data<double>().ToArray().Select(v => (float)v).ToArray(), loss.data<double>().ToArray().Select(v => (float)v).ToArray());
    }
}
