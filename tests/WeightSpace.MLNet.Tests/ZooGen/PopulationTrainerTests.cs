using WeightSpace.MLNet.Layout;
using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Training;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class PopulationTrainerTests
{
    [Theory]
    [InlineData("adam")]
    [InlineData("sgd")]
    [InlineData("rmsprop")]
    public void AModelTrainedInAPopulationMatchesTheSameModelTrainedAlone(string optimizer)
    {
        var layout = WeightLayout.TetrisMlp100;
        using var data = new TrainingData(TetrisDataset.Split(train: 256, test: 128, seed: 3));
        var models = new[]
        {
            new ModelSpec { ModelId = 0, Seed = 1, Optimizer = optimizer, LearningRate = 1e-2, BatchSize = 32, Init = "kaiming_uniform" },
            new ModelSpec { ModelId = 1, Seed = 2, Optimizer = optimizer, LearningRate = 3e-3, WeightDecay = 1e-3, BatchSize = 32, Init = "xavier_normal" },
            new ModelSpec { ModelId = 2, Seed = 3, Optimizer = optimizer, LearningRate = 1e-3, BatchSize = 32, Init = "kaiming_normal" },
        };
        var checkpoints = new HashSet<int> { 0, 2, 4 };
        var population = new List<Checkpoint>();
        new PopulationTrainer(layout, models, data).Train(4, checkpoints, population.AddRange, CancellationToken.None);
        Assert.Equal(9, population.Count);

        foreach (var model in models)
        {
            var alone = new List<Checkpoint>();
            SingleModelTrainer.Train(layout, model, data, 4, checkpoints, alone.Add, CancellationToken.None, stockOptimizer: true);
            foreach (var single in alone)
            {
                var batched = population.Single(c => c.Model.ModelId == model.ModelId && c.Epoch == single.Epoch);
                for (int i = 0; i < single.Weights.Length; i++)
                    Assert.True(Math.Abs(single.Weights[i] - batched.Weights[i]) < 1e-4, $"model {model.ModelId} epoch {single.Epoch} weight {i}: {single.Weights[i]} vs {batched.Weights[i]}");
                Assert.Equal(single.TestAccuracy, batched.TestAccuracy, 3);
                Assert.Equal(single.TrainLoss, batched.TrainLoss, 3);
            }
            Assert.NotEqual(alone[0].Weights, alone[^1].Weights); // it trained
        }
    }

    [Theory]
    [InlineData("adam", "tanh")]
    [InlineData("sgd", "relu")]
    [InlineData("rmsprop", "sigmoid")]
    [InlineData("adam", "gelu")]
    public void AModelTrainedInASimdLaneMatchesTheSameModelTrainedAloneWithTorch(string optimizer, string activation)
    {
        var layout = WeightLayout.TetrisMlp100;
        using var data = new TrainingData(TetrisDataset.Split(train: 256, test: 128, seed: 3));
        var models = Enumerable.Range(0, 3).Select(i => new ModelSpec
        {
            ModelId = i, Seed = i + 1, Optimizer = optimizer, Activation = activation, LearningRate = new[] { 1e-2, 3e-3, 1e-3 }[i],
            WeightDecay = i == 1 ? 1e-3 : 0, BatchSize = 32, Init = new[] { "kaiming_uniform", "xavier_normal", "kaiming_normal" }[i],
        }).ToArray();
        var checkpoints = new HashSet<int> { 0, 4 };
        var lanes = new List<Checkpoint>();
        new LanePopulationTrainer(layout, models, data).Train(4, checkpoints, lanes.AddRange, CancellationToken.None);
        Assert.Equal(6, lanes.Count);
        foreach (var model in models)
        {
            var alone = new List<Checkpoint>();
            SingleModelTrainer.Train(layout, model, data, 4, checkpoints, alone.Add, CancellationToken.None, stockOptimizer: true);
            foreach (var single in alone)
            {
                var lane = lanes.Single(c => c.Model.ModelId == model.ModelId && c.Epoch == single.Epoch);
                for (int i = 0; i < single.Weights.Length; i++)
                    Assert.True(Math.Abs(single.Weights[i] - lane.Weights[i]) < 2e-4, $"model {model.ModelId} epoch {single.Epoch} weight {i}: {single.Weights[i]} vs {lane.Weights[i]}");
                Assert.Equal(single.TestLoss, lane.TestLoss, 3);
                Assert.Equal(single.TrainAccuracy, lane.TrainAccuracy, 2);
            }
            Assert.NotEqual(alone[0].Weights, alone[^1].Weights);
        }
    }

    [Fact]
    public void LaneResultsDoNotDependOnTheGroupAModelTrainsIn()
    {
        using var data = new TrainingData(TetrisDataset.Split(train: 128, test: 64, seed: 4));
        var models = Enumerable.Range(0, 11).Select(i => new ModelSpec { ModelId = i, Seed = i + 1, Dropout = 0.3, LearningRate = 1e-2, BatchSize = 16 }).ToArray();
        var all = new List<Checkpoint>();
        new LanePopulationTrainer(WeightLayout.TetrisMlp100, models, data).Train(2, new HashSet<int> { 2 }, all.AddRange, CancellationToken.None);
        var few = new List<Checkpoint>();
        new LanePopulationTrainer(WeightLayout.TetrisMlp100, models[7..9], data).Train(2, new HashSet<int> { 2 }, few.AddRange, CancellationToken.None);
        foreach (var c in few)
        {
            var same = all.Single(a => a.Model.ModelId == c.Model.ModelId);
            Assert.Equal(same.Weights, c.Weights);   // bit for bit, dropout included
            Assert.Equal(same.TestLoss, c.TestLoss);
        }
    }

    [Theory]
    [InlineData("tetris-mlp-100", "adam", 0.0)]
    [InlineData("tetris-mlp-100", "sgd", 1e-3)]
    [InlineData("tetris-mlp-100", "rmsprop", 0.0)]
    [InlineData("cnn-2464", "adam", 1e-4)]
    public void TheProjectsSingleModelOptimizerMatchesTorchOptim(string layoutName, string optimizer, double weightDecay)
    {
        var layout = WeightLayout.BuiltIn[layoutName];
        var tetris = TetrisDataset.Split(train: 96, test: 32, seed: 2);
        var split = layout == WeightLayout.TetrisMlp100 ? tetris : new DataSplit(Upscale(tetris.Train), Upscale(tetris.Test));
        using var data = new TrainingData(split);
        var model = new ModelSpec { ModelId = 0, Seed = 5, Optimizer = optimizer, LearningRate = 3e-3, WeightDecay = weightDecay, BatchSize = 16 };
        var stock = new List<Checkpoint>();
        var ours = new List<Checkpoint>();
        var cps = new HashSet<int> { 2 };
        SingleModelTrainer.Train(layout, model, data, 2, cps, stock.Add, CancellationToken.None, stockOptimizer: true);
        SingleModelTrainer.Train(layout, model, data, 2, cps, ours.Add, CancellationToken.None, stockOptimizer: false);
        for (int i = 0; i < stock[0].Weights.Length; i++)
            Assert.True(Math.Abs(stock[0].Weights[i] - ours[0].Weights[i]) < 1e-4, $"weight {i}: {stock[0].Weights[i]} vs {ours[0].Weights[i]}");
    }

    private static ImageDataset Upscale(ImageDataset d)
    {
        var px = new float[d.Count * 784];
        for (int i = 0; i < d.Count; i++)
            for (int p = 0; p < 784; p++) px[i * 784 + p] = d.Pixels[i * 16 + p / 28 / 7 * 4 + p % 28 / 7];
        return new ImageDataset(d.Name, px, d.Labels, 1, 28, 28, 10);
    }

    [Fact]
    public void TrainingImprovesTetrisAccuracyAboveChance()
    {
        using var data = new TrainingData(TetrisDataset.Split(train: 1000, test: 500, seed: 1));
        var models = Enumerable.Range(0, 4).Select(i => new ModelSpec { ModelId = i, Seed = i, LearningRate = 1e-2, BatchSize = 32 }).ToArray();
        var cps = new List<Checkpoint>();
        new PopulationTrainer(WeightLayout.TetrisMlp100, models, data).Train(20, new HashSet<int> { 0, 20 }, cps.AddRange, CancellationToken.None);
        foreach (var last in cps.Where(c => c.Epoch == 20))
        {
            var first = cps.Single(c => c.Epoch == 0 && c.Model.ModelId == last.Model.ModelId);
            Assert.True(last.TestAccuracy > 0.5, $"model {last.Model.ModelId}: test accuracy {last.TestAccuracy} (chance 0.25)");
            Assert.True(last.TestLoss < first.TestLoss - 0.2, $"model {last.Model.ModelId}: test loss {first.TestLoss} -> {last.TestLoss}");
        }
    }
}
