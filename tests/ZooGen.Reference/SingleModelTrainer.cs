using TorchSharp;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Networks;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// The plain loop: one <see cref="ZooNetwork"/> with a stock torch.optim optimiser, batch after batch.
/// The reference that lane population training is checked against (tests) and the baseline it is measured
/// against (bench/).
/// </summary>
internal static class SingleModelTrainer
{
    /// <summary>Trains one model and reports its checkpoints.</summary>
    /// <param name="layout">Architecture.</param>
    /// <param name="model">The model.</param>
    /// <param name="data">Train and test tensors.</param>
    /// <param name="epochs">Epochs of training.</param>
    /// <param name="checkpoints">Epochs to report (0 = initialisation).</param>
    /// <param name="onCheckpoint">Receives each checkpoint.</param>
    /// <param name="cancel">Stops between batches.</param>
    /// <param name="onEpoch">Called after each epoch.</param>
    /// <param name="stockOptimizer">
    /// Use torch.optim's Adam/SGD/RMSprop (the reference the tests compare with) instead of the project's element-wise
    /// <see cref="PopulationOptimizer"/> with P = 1 (the same update). Zoo generation uses the latter: TorchSharp's
    /// optimisers pass temporary Scalars to native code, which the GC can finalise mid-call on long multi-threaded runs.
    /// </param>
    public static void Train(WeightLayout layout, ModelSpec model, TorchTrainingData data, int epochs, ISet<int> checkpoints,
        Action<ZooRecord> onCheckpoint, CancellationToken cancel, Action<int>? onEpoch = null, bool stockOptimizer = false)
    {
        model.Validate();
        using var net = new ZooNetwork(layout, model.Activation, model.Dropout) { DropoutGenerator = new Generator((ulong)model.Seed * 31UL + 17) };
        net.LoadVector(Initializer.Create(layout, model.Init, model.Seed));
        var parameters = net.parameters();
        using var ours = stockOptimizer ? null
            : new PopulationOptimizer(model.Optimizer, parameters.ToArray(), new[] { model.LearningRate }, new[] { model.WeightDecay });
        using optim.Optimizer? stock = !stockOptimizer ? null : model.Optimizer switch
        {
            Optimizer.Adam => optim.Adam(parameters, model.LearningRate, weight_decay: model.WeightDecay),
            Optimizer.Sgd => optim.SGD(parameters, model.LearningRate, momentum: 0.9, weight_decay: model.WeightDecay),
            Optimizer.RmsProp => optim.RMSProp(parameters, model.LearningRate, weight_decay: model.WeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model.Optimizer, "not a defined Optimizer"),
        };
        int trainCount = data.Split.Train.Count;
        var subset = TrainingData.Subset(model, trainCount);
        using var ownRows = subset.Length == trainCount ? null : tensor(subset.Select(i => (long)i).ToArray());

        void Report(int epoch)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            net.eval();
            // Train metrics on the model's own training images (its subset), as zoogen records them.
            var (trainAcc, trainLoss) = subset.Length == trainCount ? Evaluate(net, data.TrainX, data.TrainY)
                : Evaluate(net, data.TrainX.index_select(0, ownRows!), data.TrainY.index_select(0, ownRows!));
            var (testAcc, testLoss) = Evaluate(net, data.TestX, data.TestY);
            var (valAcc, valLoss) = data.ValidationX is null ? (float.NaN, float.NaN) : Evaluate(net, data.ValidationX, data.ValidationY!);
            net.train();
            onCheckpoint(model.Checkpoint(epoch, net.ToVector(), trainAcc, testAcc, trainLoss, testLoss, valAcc, valLoss));
        }

        if (checkpoints.Contains(0)) Report(0);
        net.train();
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var order = TrainingData.EpochOrder(model, subset, epoch);
            for (int start = 0; start < order.Length; start += model.BatchSize)
            {
                cancel.ThrowIfCancellationRequested();
                int bs = Math.Min(model.BatchSize, order.Length - start);
                using var scope = NewDisposeScope();
                var index = tensor(order.AsSpan(start, bs).ToArray().Select(i => (long)i).ToArray());
                var x = data.TrainX.index_select(0, index);
                var y = data.TrainY.index_select(0, index);
                if (stock is not null) stock.zero_grad(); else ours!.ZeroGrad();
                nn.functional.cross_entropy(net.call(x), y).backward();
                if (stock is not null) stock.step(); else ours!.Step();
            }
            onEpoch?.Invoke(epoch);
            if (checkpoints.Contains(epoch)) Report(epoch);
        }
    }

    private static (float Accuracy, float Loss) Evaluate(ZooNetwork net, Tensor x, Tensor y)
    {
        const int chunk = 2048;
        double correct = 0, loss = 0;
        long n = x.shape[0];
        for (long s = 0; s < n; s += chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(chunk, n - s);
            var logits = net.call(x.narrow(0, s, len));
            var yy = y.narrow(0, s, len);
            loss += nn.functional.cross_entropy(logits, yy, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(1).eq(yy).sum().item<long>();
        }
        return ((float)(correct / n), (float)(loss / n));
    }
}
